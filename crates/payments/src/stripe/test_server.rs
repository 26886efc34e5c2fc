//! A local HTTP server that speaks Stripe's wire format for exactly the
//! endpoints [`StripeGateway`](super::StripeGateway) uses, for tests with no
//! network (feature `testkit`).
//!
//! `POST /v1/checkout/sessions` checks the bearer key, the `Stripe-Version`
//! header, Stripe's idempotency rules (same key and same parameters: the
//! same session; same key, other parameters: 400 `idempotency_error`) and
//! the form fields a Proofsheet sale must send, and answers with Stripe's
//! own example `checkout.session` object (from Stripe's OpenAPI fixtures,
//! MIT licensed, `fixtures.json` beside this file) with the fields of this
//! session filled in. `POST /v1/checkout/sessions/{id}/expire` expires an
//! open session (400 for one that is not open, as Stripe does) and
//! `GET /v1/checkout/sessions/{id}` reads one back; [`StripeTestServer::pay`]
//! plays the buyer paying on Stripe's page. [`StripeTestServer::event`] then builds the webhook
//! events Stripe would send about a session, from Stripe's example `event`
//! and `charge` objects.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use poem::{
    EndpointExt, Request, Response, Route, get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Path},
};
use serde_json::{Value, json};

const FIXTURES: &str = include_str!("fixtures.json");

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The request path.
    pub path: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The decoded form fields (`line_items[0][quantity]` and so on).
    pub form: BTreeMap<String, String>,
    /// The status the server answered.
    pub status: u16,
}

/// What happened to a session, for [`StripeTestServer::event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeEventKind {
    /// `checkout.session.completed` with `payment_status: paid`.
    Completed,
    /// `checkout.session.completed` with `payment_status: unpaid` (a
    /// delayed payment method; nothing is paid yet).
    CompletedUnpaid,
    /// `checkout.session.async_payment_succeeded`.
    AsyncSucceeded,
    /// `checkout.session.async_payment_failed` (the delayed payment did
    /// not go through).
    AsyncFailed,
    /// `checkout.session.expired`.
    Expired,
    /// `charge.refunded`, fully refunded.
    Refunded,
    /// `charge.refunded`, partly refunded.
    PartlyRefunded,
}

#[derive(Default)]
struct State {
    secret_key: String,
    base_url: String,
    fixtures: Value,
    sessions: HashMap<String, Value>,
    intents: HashMap<String, String>,
    idempotency: HashMap<String, (Vec<u8>, u16, Value)>,
    requests: Vec<RecordedRequest>,
    fail_next: u32,
}

/// The running server. Dropping it stops it.
pub struct StripeTestServer {
    /// `http://127.0.0.1:<port>/`: the `api_base` to configure.
    pub base_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StripeTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StripeTestServer {
    /// Starts on a free loopback port, accepting `secret_key` only.
    pub async fn start(secret_key: &str) -> std::io::Result<Self> {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().expect("a TCP address");
        let base_url = format!("http://{addr}/");
        let state = Arc::new(Mutex::new(State {
            secret_key: secret_key.to_owned(),
            base_url: base_url.clone(),
            fixtures: serde_json::from_str(FIXTURES).expect("the fixtures are JSON"),
            ..State::default()
        }));
        let app = Route::new()
            .at("/v1/checkout/sessions", post(create_session))
            .at("/v1/checkout/sessions/:id", get(retrieve_session))
            .at("/v1/checkout/sessions/:id/expire", post(expire_session))
            .data(state.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Ok(StripeTestServer { base_url, state, task })
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Answer the next `n` requests with a 500, as Stripe does when it fails.
    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().fail_next = n;
    }

    /// The session object as created.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().sessions.get(id).cloned()
    }

    /// The buyer pays on Stripe's page: an open session becomes `complete`
    /// (`paid`, or `unpaid` with a delayed payment method still running)
    /// and gets its PaymentIntent. No webhook is sent: use [`Self::event`].
    pub fn pay(&self, session_id: &str, paid: bool) {
        let mut st = self.state.lock().unwrap();
        let intent = st.intents.entry(session_id.to_owned()).or_insert_with(|| format!("pi_{}", random_id())).clone();
        let session = st.sessions.get_mut(session_id).unwrap_or_else(|| panic!("no session {session_id}"));
        assert_eq!(session["status"], "open", "only an open session can be paid");
        session["status"] = json!("complete");
        session["payment_status"] = json!(if paid { "paid" } else { "unpaid" });
        session["payment_intent"] = json!(intent);
    }

    /// The number of sessions created.
    pub fn session_count(&self) -> usize {
        self.state.lock().unwrap().sessions.len()
    }

    /// The body of the webhook event Stripe would send when `kind` happens
    /// to session `session_id` (panics for an unknown session). Each call
    /// makes a new event id; deliver the same body again for a replay.
    pub fn event(&self, session_id: &str, kind: StripeEventKind) -> Vec<u8> {
        let mut st = self.state.lock().unwrap();
        let fixtures = st.fixtures.clone();
        let session = st.sessions.get(session_id).unwrap_or_else(|| panic!("no session {session_id}")).clone();
        let intent = st.intents.entry(session_id.to_owned()).or_insert_with(|| format!("pi_{}", random_id())).clone();
        let (kind_name, object) = match kind {
            StripeEventKind::Completed
            | StripeEventKind::CompletedUnpaid
            | StripeEventKind::AsyncSucceeded
            | StripeEventKind::AsyncFailed => {
                let mut s = session.clone();
                s["status"] = json!("complete");
                s["payment_intent"] = json!(intent);
                let paid = matches!(kind, StripeEventKind::Completed | StripeEventKind::AsyncSucceeded);
                s["payment_status"] = json!(if paid { "paid" } else { "unpaid" });
                let name = match kind {
                    StripeEventKind::AsyncSucceeded => "checkout.session.async_payment_succeeded",
                    StripeEventKind::AsyncFailed => "checkout.session.async_payment_failed",
                    _ => "checkout.session.completed",
                };
                (name, s)
            }
            StripeEventKind::Expired => {
                let mut s = session.clone();
                s["status"] = json!("expired");
                ("checkout.session.expired", s)
            }
            StripeEventKind::Refunded | StripeEventKind::PartlyRefunded => {
                let mut c = fixtures["charge"].clone();
                let amount = session["amount_total"].as_i64().unwrap_or(0);
                let full = kind == StripeEventKind::Refunded;
                c["id"] = json!(format!("ch_{}", random_id()));
                c["amount"] = json!(amount);
                c["amount_captured"] = json!(amount);
                c["amount_refunded"] = json!(if full { amount } else { amount / 2 });
                c["refunded"] = json!(full);
                c["captured"] = json!(true);
                c["paid"] = json!(true);
                c["status"] = json!("succeeded");
                c["currency"] = session["currency"].clone();
                c["payment_intent"] = json!(intent);
                // Stripe copies the PaymentIntent's metadata to its charges.
                c["metadata"] = session["__payment_intent_metadata"].clone();
                ("charge.refunded", c)
            }
        };
        let object = public(&object);
        let mut event = fixtures["event"].clone();
        event["id"] = json!(format!("evt_{}", random_id()));
        event["type"] = json!(kind_name);
        event["created"] = json!(chrono::Utc::now().timestamp());
        event["api_version"] = json!("2025-11-17.clover");
        event["data"] = json!({ "object": object });
        serde_json::to_vec(&event).expect("serialisable")
    }
}

fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn stripe_error(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> (u16, Value) {
    let mut error = json!({ "type": kind, "message": message });
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    if let Some(param) = param {
        error["param"] = json!(param);
    }
    (status.as_u16(), json!({ "error": error }))
}

fn missing(param: &str) -> (u16, Value) {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_missing"),
        Some(param),
        &format!("Missing required param: {param}."),
    )
}

fn invalid(param: &str, message: &str) -> (u16, Value) {
    stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("parameter_invalid"), Some(param), message)
}

/// Validates the form and builds the session, or the error Stripe would give.
fn build_session(st: &mut State, form: &BTreeMap<String, String>) -> (u16, Value) {
    let get = |k: &str| form.get(k).map(String::as_str);
    for required in ["mode", "success_url", "cancel_url", "client_reference_id", "expires_at"] {
        if get(required).is_none() {
            return missing(required);
        }
    }
    if get("mode") != Some("payment") {
        return invalid("mode", "Proofsheet sells one-off payments: mode must be payment.");
    }
    let order = get("client_reference_id").unwrap_or_default().to_owned();
    if get("metadata[order_id]") != Some(order.as_str()) {
        return invalid("metadata[order_id]", "metadata[order_id] must repeat client_reference_id.");
    }
    if get("payment_intent_data[metadata][order_id]") != Some(order.as_str()) {
        return invalid("payment_intent_data[metadata][order_id]", "the PaymentIntent must carry the order id.");
    }
    let Ok(expires_at) = get("expires_at").unwrap_or_default().parse::<i64>() else {
        return invalid("expires_at", "Invalid integer: expires_at.");
    };
    let mut total = 0i64;
    let mut currency: Option<String> = None;
    let mut i = 0;
    while form.keys().any(|k| k.starts_with(&format!("line_items[{i}]"))) {
        let p = |field: &str| format!("line_items[{i}]{field}");
        for field in
            ["[price_data][currency]", "[price_data][unit_amount]", "[price_data][product_data][name]", "[quantity]"]
        {
            if get(&p(field)).is_none() {
                return missing(&p(field));
            }
        }
        let c = get(&p("[price_data][currency]")).unwrap_or_default();
        if c.len() != 3 || c.chars().any(|ch| !ch.is_ascii_lowercase()) {
            return invalid(&p("[price_data][currency]"), "Invalid currency: use a lowercase ISO code.");
        }
        if currency.as_deref().is_some_and(|cur| cur != c) {
            return invalid(&p("[price_data][currency]"), "All line items must share one currency.");
        }
        currency = Some(c.to_owned());
        let Ok(amount) = get(&p("[price_data][unit_amount]")).unwrap_or_default().parse::<i64>() else {
            return invalid(&p("[price_data][unit_amount]"), "Invalid integer.");
        };
        let Ok(quantity) = get(&p("[quantity]")).unwrap_or_default().parse::<i64>() else {
            return invalid(&p("[quantity]"), "Invalid integer.");
        };
        if amount < 0 || quantity < 1 {
            return invalid(&p("[price_data][unit_amount]"), "Amounts and quantities must be positive.");
        }
        total += amount * quantity;
        i += 1;
    }
    if i == 0 {
        return missing("line_items");
    }
    let id = format!("cs_test_{}", random_id());
    let mut s = st.fixtures["checkout.session"].clone();
    s["id"] = json!(id);
    s["url"] = json!(format!("{}c/pay/{id}", st.base_url));
    s["client_reference_id"] = json!(order);
    s["metadata"] = json!({ "order_id": order });
    s["amount_total"] = json!(total);
    s["amount_subtotal"] = json!(total);
    s["currency"] = json!(currency);
    s["status"] = json!("open");
    s["payment_status"] = json!("unpaid");
    s["payment_intent"] = Value::Null;
    s["expires_at"] = json!(expires_at);
    s["created"] = json!(chrono::Utc::now().timestamp());
    s["success_url"] = json!(get("success_url"));
    s["cancel_url"] = json!(get("cancel_url"));
    s["customer_email"] = json!(get("customer_email"));
    s["livemode"] = json!(false);
    let mut stored = s.clone();
    stored["__payment_intent_metadata"] = json!({ "order_id": order });
    st.sessions.insert(id, stored);
    (200, s)
}

/// The checks every request passes first: the key, the version header and
/// a failure asked for with [`StripeTestServer::fail_next`].
fn refused(req: &Request, st: &mut State) -> Option<(u16, Value)> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("authorization").as_deref() != Some(&format!("Bearer {}", st.secret_key)) {
        Some(stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", None, None, "Invalid API Key provided."))
    } else if header("stripe-version").is_none() {
        Some(stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", None, None, "Stripe-Version is required."))
    } else if st.fail_next > 0 {
        st.fail_next -= 1;
        Some(stripe_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            None,
            None,
            "Something went wrong on Stripe's end.",
        ))
    } else {
        None
    }
}

/// A stored session as Stripe shows it.
fn public(session: &Value) -> Value {
    let mut s = session.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("__payment_intent_metadata");
    }
    s
}

fn no_such_session(id: &str) -> (u16, Value) {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        Some("session"),
        &format!("No such checkout.session: '{id}'"),
    )
}

fn reply(
    req: &Request,
    st: &mut State,
    (status, value): (u16, Value),
    key: Option<String>,
    form: BTreeMap<String, String>,
) -> Response {
    st.requests.push(RecordedRequest { path: req.uri().path().to_owned(), idempotency_key: key, form, status });
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json");
    if status == 500 {
        resp = resp.header("stripe-should-retry", "true");
    }
    resp.body(value.to_string())
}

#[handler]
async fn retrieve_session(req: &Request, Path(id): Path<String>, Data(state): Data<&Arc<Mutex<State>>>) -> Response {
    let mut st = state.lock().unwrap();
    let (status, value) = match refused(req, &mut st) {
        Some(refusal) => refusal,
        None => st.sessions.get(&id).map(|s| (200, public(s))).unwrap_or_else(|| no_such_session(&id)),
    };
    reply(req, &mut st, (status, value), None, BTreeMap::new())
}

#[handler]
async fn expire_session(req: &Request, Path(id): Path<String>, Data(state): Data<&Arc<Mutex<State>>>) -> Response {
    let mut st = state.lock().unwrap();
    let (status, value) = match refused(req, &mut st) {
        Some(refusal) => refusal,
        None => match st.sessions.get_mut(&id) {
            None => no_such_session(&id),
            Some(s) if s["status"] == "open" => {
                s["status"] = json!("expired");
                (200, public(s))
            }
            Some(s) => stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                None,
                &format!(
                    "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                    s["status"].as_str().unwrap_or_default()
                ),
            ),
        },
    };
    let key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    reply(req, &mut st, (status, value), key, BTreeMap::new())
}

#[handler]
async fn create_session(req: &Request, body: poem::Body, Data(state): Data<&Arc<Mutex<State>>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let key = header("idempotency-key");
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let mut st = state.lock().unwrap();
    let (status, value) = if let Some(refusal) = refused(req, &mut st) {
        refusal
    } else if let Some((first_body, status, value)) = key.as_ref().and_then(|k| st.idempotency.get(k)).cloned() {
        if first_body == body {
            (status, value)
        } else {
            stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            )
        }
    } else {
        let (status, value) = build_session(&mut st, &form);
        if let Some(k) = &key {
            st.idempotency.insert(k.clone(), (body.clone(), status, value.clone()));
        }
        (status, value)
    };
    reply(req, &mut st, (status, value), key, form)
}

const STRIPE_SIG_PY: &str = include_str!("stripe_sig.py");

/// Runs Stripe's official Python library (PyPI `stripe`) as an oracle:
/// `mode` is `sign` (`[{payload, secret, t}]` to headers) or `verify`
/// (`[{payload, header, secret, tolerance}]` to booleans). The interpreter
/// is `$PROOFSHEET_TEST_PYTHON`; without it this returns `None`, unless
/// `$PROOFSHEET_REQUIRE_SERVICES` is set, when it panics (CI must not skip).
pub fn stripe_python(mode: &str, cases: &Value) -> Option<Vec<Value>> {
    use std::io::Write;
    let Ok(python) = std::env::var("PROOFSHEET_TEST_PYTHON") else {
        assert!(
            std::env::var_os("PROOFSHEET_REQUIRE_SERVICES").is_none(),
            "PROOFSHEET_TEST_PYTHON is not set; run scripts/services.sh"
        );
        return None;
    };
    let mut child = std::process::Command::new(python)
        .args(["-c", STRIPE_SIG_PY, mode])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting python");
    child.stdin.take().unwrap().write_all(cases.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().expect("python ran");
    assert!(out.status.success(), "stripe_sig.py {mode} failed");
    Some(serde_json::from_slice(&out.stdout).expect("python printed JSON"))
}
