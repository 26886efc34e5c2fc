//! The web app's stylesheet and scripts, inside the binary: served under
//! content-hashed names (`/assets/app.<hash>.css`, `/assets/gallery.<hash>.js`)
//! with a year-long immutable cache lifetime, gzip-compressed once at start
//! for clients that take it. No Node.js builds them: they are ours, written
//! by hand.
//!
//! Scripts come by page part, with no bundler: every page loads
//! `common.js` (times, confirmations, copy buttons, and `window.Proofsheet`
//! for the rest), and each part of a page that does more carries its own
//! `<script defer>` beside its markup ([`script`]), so the gallery does not
//! load the studio's uploader. Deferred scripts run in document order, so
//! `common.js` (in the head) always runs first.

use std::sync::LazyLock;

use poem::{
    Request, Response, handler,
    http::{StatusCode, header},
    web::Path,
};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");

/// The page parts' scripts, by name (`assets/js/<name>.js`).
const SCRIPTS: [(&str, &str); 7] = [
    ("common", include_str!("../../assets/js/common.js")),
    ("studio", include_str!("../../assets/js/studio.js")),
    ("gallery", include_str!("../../assets/js/gallery.js")),
    ("cart", include_str!("../../assets/js/cart.js")),
    ("order", include_str!("../../assets/js/order.js")),
    ("album-form", include_str!("../../assets/js/album-form.js")),
    ("logo", include_str!("../../assets/js/logo.js")),
];

struct Asset {
    path: String,
    content_type: &'static str,
    raw: Vec<u8>,
    gzip: Vec<u8>,
}

fn asset(name: &str, ext: &str, content_type: &'static str, raw: String) -> Asset {
    let hash: String = Sha256::digest(raw.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    let gzip = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(raw.as_bytes()).expect("writing to memory");
        enc.finish().expect("writing to memory")
    };
    Asset { path: format!("/assets/{name}.{hash}.{ext}"), content_type, raw: raw.into_bytes(), gzip }
}

/// The stylesheet first, then [`SCRIPTS`] in their order.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let mut all = vec![asset("app", "css", "text/css; charset=utf-8", css())];
    all.extend(SCRIPTS.iter().map(|(name, js)| asset(name, "js", "text/javascript; charset=utf-8", (*js).into())));
    all
});

/// The stylesheet: ours, then one rule per gallery aspect-ratio class
/// (`.ar-150{--ar:1.5}`, 0.25 to 4 in hundredths; see
/// `web::albums::gallery::aspect_class`), since the policy allows no `style`
/// attribute to carry a photo's ratio.
fn css() -> String {
    let mut out = String::from(CSS);
    out.push_str("\n/* Aspect ratios of gallery tiles (generated). */\n");
    for r in 25..=400u32 {
        out.push_str(&format!(".ar-{r}{{--ar:{}.{:02}}}", r / 100, r % 100));
    }
    out.push('\n');
    out
}

/// The stylesheet's hashed path.
pub fn css_path() -> &'static str {
    &ASSETS[0].path
}

/// A script's hashed path, by its name (`gallery` for `assets/js/gallery.js`).
///
/// # Panics
/// On a name that is not there: a programming error every page's test
/// would meet.
pub fn js_path(name: &str) -> &'static str {
    let i = SCRIPTS.iter().position(|(n, _)| *n == name).unwrap_or_else(|| panic!("no script {name:?}"));
    &ASSETS[1 + i].path
}

/// The `<script defer>` of a page part, to put beside the part's markup.
pub fn script(name: &str) -> maud::Markup {
    maud::html! { script src=(js_path(name)) defer {} }
}

/// `GET /assets/{name}`.
#[handler]
pub fn serve(Path(name): Path<String>, req: &Request) -> Response {
    let path = format!("/assets/{name}");
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return Response::builder().status(StatusCode::NOT_FOUND).body("no such asset");
    };
    let gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let builder = Response::builder()
        .content_type(a.content_type)
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::VARY, "Accept-Encoding");
    if gzip {
        builder.header(header::CONTENT_ENCODING, "gzip").body(a.gzip.clone())
    } else {
        builder.body(a.raw.clone())
    }
}

/// `GET /accent/{rrggbb}.css`: a studio's accent colour as a stylesheet
/// (the Content-Security-Policy allows no inline style), immutable, as its
/// name is its content.
#[poem::handler]
pub fn accent(poem::web::Path(file): poem::web::Path<String>) -> poem::Response {
    let hex = file.strip_suffix(".css").unwrap_or("");
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return poem::Response::builder().status(poem::http::StatusCode::NOT_FOUND).finish();
    }
    let hex = hex.to_ascii_lowercase();
    poem::Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("Cache-Control", "public, max-age=31536000, immutable")
        .body(format!(":root{{--accent:#{hex};}}\n"))
}
