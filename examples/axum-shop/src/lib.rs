//! A photo shop on [axum](https://docs.rs/axum) over the Proofsheet crates
//! alone: `proofsheet-core` for the rules, `proofsheet-storage` for SQLite
//! and the blob folder, `proofsheet-imaging` for previews and
//! `proofsheet-payments` for the offline test gateway. No part of the
//! reference server is used: this is what an integrator's own backend
//! looks like (see `docs/sdk.md`).
//!
//! The HTTP surface is the integrator's to design; this one is small:
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /register` | anyone | `{email, password, name, role}` -> 201 `{id}` |
//! | `POST /verify` | the address's owner | `{token, password?}` from the mailed verification link: proves the address (only a proven address signs in) |
//! | `POST /login` | anyone | `{email, password}` -> `{token}` (send it as `Authorization: Bearer`) |
//! | `POST /albums` | photographer | `{name, price, currency}` (price in minor units) -> 201 `{id}`, a public album |
//! | `PUT /albums/{album}/photos/{filename}` | owner | the image as the body -> 201 `{id, status}` |
//! | `GET /albums/{album}/photos` | anyone | `[{id, filename, status}]` |
//! | `GET /photos/{photo}/preview` | anyone who may see the album | the watermarked JPEG |
//! | `POST /orders` | client | `{album, photos: [...]}` -> 201 `{id, total, currency}` |
//! | `POST /payments/test/webhook` | the payment gateway | a signed notification: verified by the gateway, then applied |
//! | `GET /orders/{order}` | buyer | `{status, download}`: the download token once fulfilled |
//! | `GET /downloads/{token}` | holder of the link | the zip of the bought originals |
//!
//! Errors answer `{code, message}` with the status [`status_of`] picks
//! for each [`Error`] kind. Jobs (previews, zips) and the periodic tasks
//! run in the background of the same process ([`Shop::start`]).

use std::{path::Path, sync::Arc};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path as UrlPath, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use futures::StreamExt;
use proofsheet_core::{
    AlbumId, Backends, Error, Money, NewAlbum, NewUser, PageRequest, PhotoId, PhotoVariant, Policy, Proofsheet, Role,
    Scheduler, Settings, SystemClock, User, Visibility, Worker,
};
use proofsheet_imaging::{ImagePipeline, PipelineConfig};
use proofsheet_payments::TestGateway;
use proofsheet_storage::{OpendalBlobStore, SqliteStore, ZipPackager};
use serde::Deserialize;
use serde_json::{Value, json};

/// The shop's secrets: in production they come from the integrator's own
/// secret store (tests make their own).
#[derive(Clone)]
pub struct Secrets {
    /// Signs download links and sign-in links.
    pub links: Vec<u8>,
    /// Shared with the payment gateway: its notifications are signed with it.
    pub gateway: Vec<u8>,
}

/// The shop: the engine and the background loops that run its jobs.
pub struct Shop {
    /// The engine every handler calls.
    pub engine: Proofsheet,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Shop {
    /// Opens (or creates) a shop under `dir` (a SQLite file and a folder of
    /// blobs) and starts two job workers and the scheduler on this Tokio
    /// runtime.
    pub async fn start(dir: &Path, secrets: Secrets) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = Arc::new(SqliteStore::connect(&format!("sqlite://{}", dir.join("shop.db").display())).await?);
        let backends = Backends {
            metadata: store.clone(),
            queue: store,
            blobs: Arc::new(OpendalBlobStore::fs(&dir.join("blobs"))?),
            renderer: Arc::new(ImagePipeline::new(PipelineConfig::default())?),
            packager: Arc::new(ZipPackager),
            gateways: vec![Arc::new(TestGateway::new(secrets.gateway, "http://localhost"))],
            clock: Arc::new(SystemClock),
            notifier: Arc::new(proofsheet_core::LogNotifier),
            webhooks: Arc::new(proofsheet_core::NoWebhooks),
            faces: None,
        };
        let engine = Proofsheet::new(backends, Settings::default(), secrets.links)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Worker::spawn(&engine, 2, std::time::Duration::from_millis(50), &stopped);
        let scheduler = Scheduler::with_defaults(engine.clone(), Policy::default())?;
        tasks.push(tokio::spawn(scheduler.run_loop(std::time::Duration::from_secs(10), stopped)));
        Ok(Shop { engine, stop, tasks })
    }

    /// The HTTP routes (see the crate docs).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/register", post(register))
            .route("/verify", post(verify))
            .route("/login", post(login))
            .route("/albums", post(create_album))
            .route("/albums/{album}/photos/{filename}", put(upload))
            .route("/albums/{album}/photos", get(photos))
            .route("/photos/{photo}/preview", get(preview))
            .route("/orders", post(create_order))
            .route("/payments/{gateway}/webhook", post(webhook))
            .route("/orders/{order}", get(order))
            .route("/downloads/{token}", get(download))
            .with_state(self.engine.clone())
    }

    /// Stops the job loops (jobs in flight go back to the queue).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The HTTP status for each kind of [`Error`]: the rules live in core, the
/// wire is the integrator's.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Gone { .. } => StatusCode::GONE,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Invalid { .. } | Error::Image { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::UnsupportedMedia { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Gateway { .. } => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An [`Error`] as an HTTP answer: `{code, message}`.
pub struct ShopError(Error);

impl From<Error> for ShopError {
    fn from(e: Error) -> Self {
        ShopError(e)
    }
}

impl IntoResponse for ShopError {
    fn into_response(self) -> Response {
        (status_of(&self.0), Json(json!({"code": self.0.code(), "message": self.0.to_string()}))).into_response()
    }
}

type Answer<T = Json<Value>> = Result<T, ShopError>;

/// The caller, from `Authorization: Bearer <token>` (a session of the
/// users service); `None` without the header.
async fn caller(engine: &Proofsheet, headers: &HeaderMap) -> Result<Option<User>, ShopError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or(Error::Unauthenticated)?;
    Ok(Some(engine.users().authenticate(token.trim()).await?.ok_or(Error::Unauthenticated)?))
}

async fn signed_in(engine: &Proofsheet, headers: &HeaderMap) -> Result<User, ShopError> {
    caller(engine, headers).await?.ok_or(ShopError(Error::Unauthenticated))
}

fn parse<T: std::str::FromStr<Err = Error>>(s: &str) -> Result<T, ShopError> {
    Ok(s.parse()?)
}

#[derive(Deserialize)]
struct Register {
    email: String,
    password: String,
    name: String,
    role: String,
}

async fn register(State(engine): State<Proofsheet>, Json(b): Json<Register>) -> Answer<(StatusCode, Json<Value>)> {
    let role = match b.role.as_str() {
        "photographer" => Role::Photographer,
        "client" => Role::Client,
        _ => return Err(Error::invalid("invalid_role", "role is photographer or client").into()),
    };
    let new = NewUser { email: &b.email, password: &b.password, name: &b.name, surname: "-", role };
    // `sign_up` queues the verification mail for the notifier (the token
    // it carries is `engine.email_verification().token(&user)`); the
    // account signs in once that token comes back through `POST /verify`.
    let user = engine.users().sign_up(new, None).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": user.id}))))
}

#[derive(Deserialize)]
struct Verify {
    token: String,
    password: Option<String>,
}

async fn verify(State(engine): State<Proofsheet>, Json(b): Json<Verify>) -> Answer {
    // The first proof of an address keeps the password only when the
    // person confirming types it (a stranger may have registered it).
    let user = engine.email_verification().confirm(&b.token, b.password.as_deref()).await?;
    Ok(Json(json!({"id": user.id, "email_verified": user.email_verified})))
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

async fn login(State(engine): State<Proofsheet>, Json(b): Json<Login>) -> Answer {
    let session = engine.users().sign_in(&b.email, &b.password, chrono::Duration::hours(12)).await?;
    let session = session.ok_or(Error::Unauthenticated)?;
    Ok(Json(json!({"token": session.token, "expires_at": session.expires_at})))
}

#[derive(Deserialize)]
struct NewAlbumBody {
    name: String,
    price: i64,
    currency: String,
}

async fn create_album(
    State(engine): State<Proofsheet>,
    headers: HeaderMap,
    Json(b): Json<NewAlbumBody>,
) -> Answer<(StatusCode, Json<Value>)> {
    let user = signed_in(&engine, &headers).await?;
    let new = NewAlbum {
        name: b.name,
        visibility: Visibility::Public,
        client_email: None,
        price_per_photo: Money::new(b.price, parse(&b.currency)?)?,
        expires_at: None,
        watermark: None,
        find_me: false,
        draft: false,
        client_name: None,
    };
    let album = engine.albums().create(&user, new).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": album.id}))))
}

async fn upload(
    State(engine): State<Proofsheet>,
    UrlPath((album, filename)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Answer<(StatusCode, Json<Value>)> {
    let user = signed_in(&engine, &headers).await?;
    let album: AlbumId = parse(&album)?;
    // Streamed: core probes the header from the first bytes and enforces
    // the size limit as the body arrives.
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| Error::invalid("body_read_failed", format!("reading the upload: {e}"))));
    let photo = engine.albums().upload(&user, album, Some(&filename), Box::pin(stream)).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": photo.id, "status": photo.status.as_str()}))))
}

async fn photos(State(engine): State<Proofsheet>, UrlPath(album): UrlPath<String>, headers: HeaderMap) -> Answer {
    let viewer = caller(&engine, &headers).await?;
    let page = engine.albums().photos(viewer.as_ref(), parse(&album)?, PageRequest::new(Some(200), None)?).await?;
    let items: Vec<Value> =
        page.items.iter().map(|p| json!({"id": p.id, "filename": p.filename, "status": p.status.as_str()})).collect();
    Ok(Json(Value::Array(items)))
}

async fn preview(
    State(engine): State<Proofsheet>,
    UrlPath(photo): UrlPath<String>,
    headers: HeaderMap,
) -> Answer<Response> {
    let viewer = caller(&engine, &headers).await?;
    let photo: PhotoId = parse(&photo)?;
    let albums = engine.albums();
    let (_, key) = albums.image_key(viewer.as_ref(), photo, PhotoVariant::Preview).await?;
    let stream = albums.image_stream(&key).await?.map(|c| c.map_err(std::io::Error::other));
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], Body::from_stream(stream)).into_response())
}

#[derive(Deserialize)]
struct NewOrder {
    album: String,
    photos: Vec<String>,
}

async fn create_order(
    State(engine): State<Proofsheet>,
    headers: HeaderMap,
    Json(b): Json<NewOrder>,
) -> Answer<(StatusCode, Json<Value>)> {
    let user = signed_in(&engine, &headers).await?;
    let photos = b.photos.iter().map(|p| parse::<PhotoId>(p)).collect::<Result<Vec<_>, _>>()?;
    let order = engine.checkout().create_order(&user, parse(&b.album)?, &photos).await?;
    let body = json!({"id": order.id, "total": order.total.amount, "currency": order.total.currency.to_string()});
    Ok((StatusCode::CREATED, Json(body)))
}

/// The payment gateway's webhook: the gateway named in the path checks
/// the signature and reads the event, and core applies it (once, however
/// often the provider sends it). Anything unsigned or forged changes
/// nothing.
async fn webhook(
    State(engine): State<Proofsheet>,
    UrlPath(gateway): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let headers: Vec<(String, String)> =
        headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let applied = engine.checkout().notification(&gateway, &headers, &body).await?;
    Ok(Json(json!({"received": true, "changed": matches!(applied, proofsheet_core::Applied::Changed(_))})))
}

async fn order(State(engine): State<Proofsheet>, UrlPath(order): UrlPath<String>, headers: HeaderMap) -> Answer {
    let user = signed_in(&engine, &headers).await?;
    let order = engine.checkout().order(&user, parse(&order)?).await?;
    let link = engine.downloads().link(&order).await?;
    Ok(Json(json!({
        "status": order.status.as_str(),
        "download": link.map(|l| json!({"token": l.token, "expires_at": l.expires_at})),
    })))
}

async fn download(State(engine): State<Proofsheet>, UrlPath(token): UrlPath<String>) -> Answer<Response> {
    let opened = engine.downloads().open(&token, None).await?;
    let body = Body::from_stream(opened.body.map(|c| c.map_err(std::io::Error::other)));
    let headers =
        [(header::CONTENT_TYPE, "application/zip".to_owned()), (header::CONTENT_LENGTH, opened.total_size.to_string())];
    Ok((headers, body).into_response())
}
