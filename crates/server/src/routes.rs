//! HTTP routing and middleware: the API, its docs, the pages, security
//! headers, body and rate limits, request logs and metrics.

use std::sync::Arc;

use poem::{EndpointExt, Route, get, middleware::SetHeader, post};
use poem_openapi::OpenApiService;

use crate::{
    api::{
        albums::AlbumsApi,
        error::any_error_to_json,
        ops::{HealthApi, OpsApi},
        orders::OrdersApi,
        tus::TusApi,
        users::UsersApi,
    },
    pages,
    state::AppState,
};

/// The HTTP application: the API, its docs, the gateway pages.
pub fn routes(state: Arc<AppState>) -> poem::Route {
    let api = OpenApiService::new(
        (
            UsersApi { state: state.clone() },
            AlbumsApi { state: state.clone() },
            TusApi { state: state.clone() },
            OrdersApi { state: state.clone() },
            crate::api::selling::SellingApi { state: state.clone() },
            OpsApi { state: state.clone() },
            crate::api::webhooks::WebhooksApi { state: state.clone() },
            HealthApi { state: state.clone() },
        ),
        "Proofsheet",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Sell photos: albums, watermarked previews, checkout and expiring downloads.")
    .server(state.public_url.clone());
    // Swagger UI's page carries its script and stylesheet inline: the
    // policy allows exactly those blocks, by hash, and nothing else inline.
    let docs_html = api.swagger_ui_html();
    let docs_csp = docs_policy(&docs_html);
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone())).with(
        SetHeader::new()
            .overriding("Content-Security-Policy", docs_csp)
            .overriding("X-Frame-Options", "DENY")
            .overriding("Referrer-Policy", "no-referrer"),
    );
    let hooks = &state.config.webhooks;
    let webhook_url = (!hooks.allow_private_networks).then(|| crate::webhooks::url_pattern(hooks.allow_http));
    let spec_json = crate::api::spec::patch(&api.spec(), &state.engine.watermark_plugins(), webhook_url);
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(spec_json.clone())
    });
    let html = |route: Route| {
        route.with(
            SetHeader::new()
                .overriding("Content-Security-Policy", crate::web::CSP)
                .overriding("X-Frame-Options", "DENY")
                .overriding("Referrer-Policy", "no-referrer"),
        )
    };
    // The API keeps its full paths (`/api/v1/...`, `/healthz`, ...); the
    // web app has the rest of the tree.
    // The cookie's session becomes the bearer first (each operation's
    // guards, `api::guards`, then run before it reads its body).
    let api = Arc::new(api.with(crate::web::CookieAuth));
    let route = crate::web::routes(Route::new())
        .nest("/api/v1/openapi.json", spec)
        .nest("/docs", docs)
        .nest_no_strip("/api", api.clone())
        .at("/healthz", api.clone())
        .at("/readyz", api.clone())
        .at("/metrics", api);
    // The test gateway's payment pages exist only where it is configured.
    if state.test_gateway.is_some() {
        let checkout = Route::new()
            .at("/test/:session", get(pages::checkout_page))
            .at("/test/:session/pay", post(pages::pay))
            .at("/test/:session/decline", post(pages::decline));
        route.nest("/checkout", html(checkout))
    } else {
        route
    }
}

/// What a process without the `api` role serves: health, readiness, metrics.
pub fn health_routes(state: Arc<AppState>) -> poem::Route {
    let api = OpenApiService::new(HealthApi { state }, "Proofsheet (worker)", env!("CARGO_PKG_VERSION"));
    Route::new().nest("/", api)
}

/// Shared middleware: state, headers, request logs, JSON errors.
pub(crate) fn with_middleware(route: poem::Route, state: Arc<AppState>) -> impl poem::Endpoint {
    let limits = state.limits.clone();
    let bodies = crate::limits::BodyLimit {
        default: state.config.limits.body_bytes,
        webhook: state.config.limits.webhook_body_bytes,
        upload: state.config.uploads.max_bytes.saturating_add(1024 * 1024),
    };
    // Behind https, browsers keep to https for a year (HSTS).
    let mut hsts = SetHeader::new().overriding("X-Content-Type-Options", "nosniff");
    if state.public_url.starts_with("https://") {
        hsts = hsts.overriding("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    }
    route
        .with(crate::bodies::MultipartGuard)
        .with(bodies)
        .data(limits)
        .data(state)
        .with(hsts)
        .catch_all_error(any_error_to_json)
        .around(observe)
}

/// Request log, request id, metrics and the `Allow` header of a 405,
/// around everything.
///
/// The request id is the caller's `X-Request-Id` when it is 1 to 64 of
/// `[A-Za-z0-9._-]`, else a new one; it is echoed in the response, set on
/// the request's log span, and stored with every job the request enqueues
/// (the job's log span carries it too).
async fn observe<E: poem::Endpoint<Output = poem::Response>>(
    ep: Arc<E>,
    req: poem::Request,
) -> poem::Result<poem::Response> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let given =
        req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| {
            (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    let request_id = given.map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let route = crate::api::spec::template_of(&path).unwrap_or_else(|| "other".into());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let call = proofsheet_core::context::with_request_id(request_id.clone(), poem::Endpoint::call(&*ep, req));
    let mut resp = call.instrument(span).await?;
    if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = crate::api::spec::allowed_methods(&path)
        && let Ok(value) = poem::http::HeaderValue::from_str(&allow)
    {
        // RFC 9110: a 405 lists the methods the resource does take.
        resp.headers_mut().insert(poem::http::header::ALLOW, value);
    }
    if let Ok(value) = poem::http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", value);
    }
    if route.starts_with("/api/v1/albums/{album_id}/uploads") {
        // tus: every answer names the protocol version, errors included.
        resp.headers_mut().insert("tus-resumable", poem::http::HeaderValue::from_static(crate::api::tus::TUS_VERSION));
    }
    let took = started.elapsed();
    // The route template, never the raw path: download tokens and checkout
    // sessions live in paths and must not reach the logs.
    tracing::info!(
        request_id = %request_id, method = %method, route = %route, status = resp.status().as_u16(),
        ms = took.as_secs_f64() * 1e3, "request"
    );
    proofsheet_core::metrics::http(&method, &route, resp.status().as_u16(), took);
    Ok(resp)
}

/// The Content-Security-Policy of the API docs page: its inline `<script>`
/// and `<style>` blocks by their SHA-256, never `unsafe-inline`.
fn docs_policy(html: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hashes = |tag: &str| -> String {
        let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
        let mut out = String::new();
        let mut rest = html;
        while let Some(start) = rest.find(&open) {
            let Some(body_at) = rest[start..].find('>').map(|i| start + i + 1) else { break };
            let Some(end) = rest[body_at..].find(&close).map(|i| body_at + i) else { break };
            let digest = sha2::Sha256::digest(&rest.as_bytes()[body_at..end]);
            out.push_str(&format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)));
            rest = &rest[end + close.len()..];
        }
        out
    };
    format!(
        "default-src 'self'; script-src 'self'{}; style-src 'self'{}; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        hashes("script"),
        hashes("style")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_docs_policy_names_each_inline_block_by_hash() {
        let html = "<html><head><style charset=\"x\">a{}</style><script>one()</script></head><body><script>two()</script></body></html>";
        let csp = super::docs_policy(html);
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 3, "{csp}");
        // SHA-256 of "one()", base64.
        assert!(csp.contains("'sha256-HR7iaask9daLMRRskMI++QeJtjWDOjyPA6lGzYGzKW4='"), "{csp}");
    }
}
