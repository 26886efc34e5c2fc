//! What each fuzz target checks, shared with the regression tests that run
//! in CI (`crates/server/tests/fuzz_regressions.rs` includes this file), so
//! every input found here stays a test. Each function panics only on a bug:
//! every rejection must be a clean `Err` with the documented code.

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use proofsheet_core::{LinkId, LinkSigner, PaymentGateway, PreviewRenderer, Probe};
use proofsheet_imaging::{ImagePipeline, PipelineConfig};

fn pipeline() -> &'static ImagePipeline {
    static P: OnceLock<ImagePipeline> = OnceLock::new();
    // Small outputs and a small pixel budget keep each run fast; the code
    // paths (probe, decode, orient, resize, watermark, encode) are the same.
    P.get_or_init(|| {
        let config = PipelineConfig {
            preview_edge: 256,
            thumbnail_edge: 64,
            max_pixels: 4_000_000,
            ..PipelineConfig::default()
        };
        ImagePipeline::new(config).expect("valid config")
    })
}

/// Untrusted bytes through the whole preview pipeline: an image or a clean
/// `image_rejected` / `unsupported_media_type` / `too_many_pixels`.
pub fn image_pipeline(data: &[u8]) {
    match pipeline().render_sync(data) {
        Ok(r) => {
            assert!(r.preview.starts_with(&[0xFF, 0xD8]), "previews are JPEGs");
            assert!(r.width > 0 && r.height > 0);
        }
        Err(e) => assert!(
            matches!(e.code(), "image_rejected" | "unsupported_media_type" | "too_many_pixels"),
            "unexpected error {e:?}"
        ),
    }
}

/// The upload path's header probe, fed the way a streamed upload arrives
/// (growing prefixes, then the whole body): it never panics, never changes
/// its mind about a decided prefix, and a decided image size is the size
/// the full probe sees.
pub fn upload_probe(data: &[u8]) {
    let max = 100_000_000;
    let mut decided = None;
    for end in [1, 2, 4, 16, 64, 256, 1024, 4096, 65536].into_iter().filter(|&e| e < data.len()) {
        match proofsheet_imaging::probe::probe(&data[..end], false, max) {
            Ok(Probe::NeedMore) => {}
            Ok(Probe::Image(info)) => {
                decided.get_or_insert((info.width, info.height));
            }
            Err(e) => {
                assert!(matches!(e.code(), "unsupported_media_type" | "too_many_pixels" | "image_rejected"), "{e:?}");
                return;
            }
        }
    }
    match proofsheet_imaging::probe::probe(data, true, max) {
        Ok(Probe::Image(info)) => {
            if let Some(size) = decided {
                assert_eq!(size, (info.width, info.height), "the probe changed its mind");
            }
        }
        Ok(Probe::NeedMore) => panic!("a complete body needs no more bytes"),
        Err(e) => assert!(matches!(e.code(), "unsupported_media_type" | "too_many_pixels" | "image_rejected"), "{e:?}"),
    }
}

const STRIPE_KEY: &str = "sk_test_fuzz";
const WHSEC: &[u8] = b"whsec_fuzz";

fn stripe() -> &'static proofsheet_payments::StripeGateway {
    static G: OnceLock<proofsheet_payments::StripeGateway> = OnceLock::new();
    G.get_or_init(|| {
        let mut c = proofsheet_payments::StripeConfig::new(STRIPE_KEY, std::str::from_utf8(WHSEC).unwrap());
        c.api_base = Some("http://127.0.0.1:9/".into());
        proofsheet_payments::StripeGateway::new(c).expect("valid config")
    })
}

/// Webhook bodies, unsigned (must be refused) and correctly signed (so the
/// event parser behind the signature is reached): never a panic, only
/// `invalid_signature` / `invalid_notification` or an event. The first
/// line, if any, is also tried as a raw `Stripe-Signature` header.
pub fn webhook(data: &[u8]) {
    let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let gw = stripe();
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]).into_owned(), &data[i + 1..]),
        None => (String::new(), data),
    };
    let forged = vec![("Stripe-Signature".to_owned(), header)];
    if let Err(e) = gw.verify_notification(&forged, body, now) {
        assert!(matches!(e.code(), "invalid_signature" | "invalid_notification"), "{e:?}");
    }
    let signed = vec![("Stripe-Signature".to_owned(), proofsheet_payments::signature::sign(WHSEC, body, now))];
    match gw.verify_notification(&signed, body, now) {
        Ok(Some(event)) => {
            // The event is read from the signed bytes alone: reading them
            // again gives the same event, and its id is the body's `id`.
            let again = gw.verify_notification(&signed, body, now).expect("the same signed body verifies again");
            let json: serde_json::Value = serde_json::from_slice(body).expect("an event came from JSON");
            assert_eq!(json["id"].as_str(), Some(event.id.as_str()), "{event:?}");
            assert_eq!(again, Some(event));
        }
        Ok(None) => {}
        Err(e) => assert_eq!(e.code(), "invalid_notification", "a signed body fails only as unreadable: {e:?}"),
    }
    let test_gw = proofsheet_payments::TestGateway::new(WHSEC.to_vec(), "http://127.0.0.1:9");
    let signed = vec![(proofsheet_payments::SIGNATURE_HEADER.to_owned(), test_gw.sign(body, now))];
    if let Err(e) = test_gw.verify_notification(&signed, body, now) {
        assert_eq!(e.code(), "invalid_notification", "{e:?}");
    }
    // Signed with another secret: always refused, as a bad signature.
    let stranger = proofsheet_payments::TestGateway::new(b"not the shop's secret".to_vec(), "http://127.0.0.1:9");
    let forged = vec![(proofsheet_payments::SIGNATURE_HEADER.to_owned(), stranger.sign(body, now))];
    let e = test_gw.verify_notification(&forged, body, now).expect_err("a stranger's signature is refused");
    assert_eq!(e.code(), "invalid_signature", "{e:?}");
    let forged = vec![("Stripe-Signature".to_owned(), proofsheet_payments::signature::sign(b"whsec_other", body, now))];
    let e = gw.verify_notification(&forged, body, now).expect_err("a stranger's Stripe signature is refused");
    assert_eq!(e.code(), "invalid_signature", "{e:?}");
}

/// Download tokens from the URL: the shape check never panics, accepts
/// only the 43-character base64url form, and every real token passes it;
/// a real token changed anywhere hashes differently.
pub fn download_token(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    // The shape check is exact: 43 base64url characters, nothing else.
    let shaped = s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    assert_eq!(LinkSigner::looks_like_token(&s), shaped, "{s:?}");
    if shaped {
        // What the store keeps for it is the same every time, and another
        // token's differs.
        assert_eq!(LinkSigner::hash(&s), LinkSigner::hash(&s.clone()));
        let other = if s.starts_with('A') { s.replacen('A', "B", 1) } else { format!("A{}", &s[1..]) };
        assert_ne!(LinkSigner::hash(&s), LinkSigner::hash(&other));
    }
    let mut id = [0u8; 16];
    for (i, b) in data.iter().take(16).enumerate() {
        id[i] = *b;
    }
    let signer = LinkSigner::new(b"fuzzing secret, 32 bytes or more.".to_vec());
    let token = signer.token(LinkId::from_uuid(uuid_from(id)));
    assert!(LinkSigner::looks_like_token(&token));
    if let Some(&b) = data.get(16) {
        let mut changed = token.clone().into_bytes();
        let at = b as usize % changed.len();
        changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
        assert_ne!(LinkSigner::hash(std::str::from_utf8(&changed).unwrap()), LinkSigner::hash(&token));
    }
}

fn uuid_from(bytes: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(bytes)
}

/// The multipart bounds (`proofsheet_core::multipart`). The first byte
/// picks a chunk size (1 to 256), the rest is a body. Fed in those chunks,
/// the scanner never panics and never holds more than the delimiter plus
/// 4 bytes between chunks; a well-formed body whose part is the input (its
/// delimiters taken out) passes to its closing boundary at any chunking;
/// and the boundary reader is total, answering 1 to 70 characters or an
/// error.
pub fn multipart(data: &[u8]) {
    use proofsheet_core::multipart::{Scanner, multipart_boundary};
    let Some((&first, body)) = data.split_first() else { return };
    let size = usize::from(first) + 1;
    let boundary = "fuzz-Boundary_1";
    let held_at_most = boundary.len() + 2 + 4;
    let mut scanner = Scanner::new(boundary);
    for chunk in body.chunks(size) {
        if scanner.feed(chunk).is_err() {
            break;
        }
        assert!(scanner.held() <= held_at_most, "held {} bytes", scanner.held());
    }
    // The input as one part's content, with anything delimiter-like taken
    // out, in a body with a short header block.
    let mut content = body.to_vec();
    while let Some(at) = content.windows(2 + boundary.len()).position(|w| w == format!("--{boundary}").as_bytes()) {
        content.drain(at..at + 2);
    }
    let mut well_formed = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n").into_bytes();
    well_formed.extend_from_slice(&content);
    well_formed.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut scanner = Scanner::new(boundary);
    for chunk in well_formed.chunks(size) {
        scanner.feed(chunk).unwrap_or_else(|e| panic!("a well-formed body was refused: {e}"));
        assert!(scanner.held() <= held_at_most, "held {} bytes", scanner.held());
    }
    assert!(scanner.finished(), "the closing boundary was missed");
    if let Ok(text) = std::str::from_utf8(body)
        && let Some(Ok(b)) = multipart_boundary(text)
    {
        assert!((1..=70).contains(&b.len()), "boundary {b:?}");
    }
}

/// tus `Upload-Checksum` values (`proofsheet_core::Checksum::parse`): total,
/// refusing with `checksum_unsupported` only; an accepted value has a
/// digest of its algorithm's length, and formatting it back parses the
/// same.
pub fn tus_checksum(data: &[u8]) {
    use proofsheet_core::Checksum;
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Checksum::parse(text) {
        Ok(Checksum::Sha1(d)) => {
            assert_eq!(d.len(), 20);
            assert_eq!(Checksum::parse(&format!("sha1 {}", b64(&d))).unwrap(), Checksum::Sha1(d));
        }
        Ok(Checksum::Sha256(d)) => {
            assert_eq!(d.len(), 32);
            assert_eq!(Checksum::parse(&format!("sha256 {}", b64(&d))).unwrap(), Checksum::Sha256(d));
        }
        Err(e) => assert_eq!(e.code(), "checksum_unsupported", "{e:?}"),
    }
}

/// Standard base64 with padding (what tus clients send), written here so
/// the checks need no extra dependency.
fn b64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A photographer's logo upload (`PreviewRenderer::check_logo`): total;
/// refused only as `invalid_logo`; an accepted logo is a PNG (its
/// signature) of at most 4 megapixels, whose size the header probe agrees
/// with.
pub fn logo(data: &[u8]) {
    match pipeline().check_logo(data) {
        Ok((w, h)) => {
            assert!(data.starts_with(b"\x89PNG\r\n\x1a\n"), "an accepted logo is a PNG");
            assert!(w > 0 && h > 0 && u64::from(w) * u64::from(h) <= 4_000_000, "{w}x{h}");
            match proofsheet_imaging::probe::probe(data, true, 4_000_000) {
                Ok(Probe::Image(info)) => assert_eq!((info.width, info.height), (w, h)),
                other => panic!("the probe disagrees with an accepted logo: {other:?}"),
            }
        }
        Err(e) => assert_eq!(e.code(), "invalid_logo", "{e:?}"),
    }
}

/// A "Find me" selfie's decoding (`PreviewRenderer::decode_fitted`, what
/// the search runs before looking for a face): total; an image comes out
/// upright within the edge asked for, with three bytes a pixel; anything
/// else is a clean refusal.
pub fn selfie(data: &[u8]) {
    let edge = 256;
    match pipeline().decode_fitted(data, edge) {
        Ok(rgb) => {
            assert!(rgb.width > 0 && rgb.height > 0);
            assert!(rgb.width.max(rgb.height) <= edge, "{}x{} past {edge}", rgb.width, rgb.height);
            assert_eq!(rgb.pixels.len(), rgb.width as usize * rgb.height as usize * 3);
        }
        Err(e) => assert!(
            matches!(e.code(), "image_rejected" | "unsupported_media_type" | "too_many_pixels"),
            "unexpected error {e:?}"
        ),
    }
}
