//! The bounds of a `multipart/form-data` body, checked as it streams by
//! ([`Scanner`]), for servers that parse such bodies with a parser that
//! buffers what it has not yet matched: its first boundary must come
//! within [`MAX_PREAMBLE`] bytes, each part's headers must end within
//! [`MAX_PART_HEADERS`] bytes of its boundary, and at most
//! [`MAX_EPILOGUE`] bytes may follow the closing boundary. Parts
//! themselves are not bounded here. The scanner holds a few bytes between
//! chunks ([`Scanner::held`]: at most the delimiter's length plus 4).
//! The reference server wraps every multipart request body in it.

use memchr::memmem;

/// Bytes a multipart body may send before its first boundary (browsers and
/// HTTP libraries send none).
pub const MAX_PREAMBLE: usize = 4 * 1024;
/// Bytes of one part's headers (`Content-Disposition`, `Content-Type`).
pub const MAX_PART_HEADERS: usize = 8 * 1024;
/// Bytes after the closing boundary.
pub const MAX_EPILOGUE: usize = 4 * 1024;

/// Where the scan is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the first boundary.
    Preamble,
    /// Just after a boundary: `--` ends the body, anything else starts a part.
    AfterBoundary,
    /// A part's headers, up to the empty line.
    Headers,
    /// A part's content, up to the next boundary.
    Content,
    /// After the closing boundary.
    Epilogue,
}

/// Follows a multipart body's structure with a few bytes of memory (the
/// tail that may hold half a delimiter), to bound what the parser buffers.
#[derive(Debug)]
pub struct Scanner {
    /// `--boundary`.
    delimiter: Vec<u8>,
    /// `\r\n--boundary`.
    part_end: Vec<u8>,
    phase: Phase,
    /// Bytes seen in this phase so far (those before `tail`).
    seen: usize,
    /// Bytes kept from the last chunk: a delimiter may straddle two.
    tail: Vec<u8>,
}

impl Scanner {
    /// A scanner for `boundary` (the `boundary` parameter of the
    /// `Content-Type`, without the leading dashes).
    pub fn new(boundary: &str) -> Scanner {
        let delimiter = [b"--".as_slice(), boundary.as_bytes()].concat();
        let part_end = [b"\r\n".as_slice(), &delimiter].concat();
        Scanner { delimiter, part_end, phase: Phase::Preamble, seen: 0, tail: Vec::new() }
    }

    /// Bytes kept between chunks (a delimiter may straddle two): never
    /// more than the delimiter's length plus 4.
    pub fn held(&self) -> usize {
        self.tail.len()
    }

    /// Whether the closing boundary has been seen.
    pub fn finished(&self) -> bool {
        self.phase == Phase::Epilogue
    }

    /// Takes the next chunk; an error names the bound it broke.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), &'static str> {
        let mut data = std::mem::take(&mut self.tail);
        data.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            let (pattern, bound, what): (&[u8], usize, &'static str) = match self.phase {
                Phase::Preamble => (&self.delimiter, MAX_PREAMBLE, "no multipart boundary where the body starts"),
                Phase::Headers => (b"\r\n\r\n", MAX_PART_HEADERS, "a multipart part's headers are too long"),
                Phase::Content => (&self.part_end, usize::MAX, ""),
                Phase::Epilogue => {
                    self.seen += rest.len();
                    return if self.seen > MAX_EPILOGUE { Err("too much after the closing boundary") } else { Ok(()) };
                }
                Phase::AfterBoundary => {
                    if rest.len() < 2 {
                        self.tail = rest.to_vec();
                        return Ok(());
                    }
                    self.phase = if rest.starts_with(b"--") { Phase::Epilogue } else { Phase::Headers };
                    self.seen = 0;
                    continue;
                }
            };
            match memmem::find(rest, pattern) {
                Some(i) => {
                    if self.seen + i > bound {
                        return Err(what);
                    }
                    pos += i + pattern.len();
                    self.seen = 0;
                    self.phase = match self.phase {
                        Phase::Headers => Phase::Content,
                        _ => Phase::AfterBoundary,
                    };
                }
                None => {
                    // Keep what could be the start of the pattern.
                    let keep = rest.len().min(pattern.len() - 1);
                    self.seen += rest.len() - keep;
                    if self.seen > bound {
                        return Err(what);
                    }
                    self.tail = rest[rest.len() - keep..].to_vec();
                    return Ok(());
                }
            }
        }
    }
}

/// The `boundary` parameter of a `multipart/*` content type: `None` for
/// another type, `Some(Err)` for a missing or malformed boundary.
pub fn multipart_boundary(content_type: &str) -> Option<Result<String, &'static str>> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    let boundary = params.filter_map(|p| p.split_once('=')).find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"));
    let Some((_, value)) = boundary else { return Some(Err("a multipart body needs a boundary")) };
    let value = value.trim();
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    // RFC 2046: 1 to 70 characters.
    if value.is_empty() || value.len() > 70 || value.bytes().any(|b| b.is_ascii_control()) {
        return Some(Err("a multipart boundary has 1 to 70 characters"));
    }
    Some(Ok(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            out.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn well_formed_bodies_pass_in_chunks_of_any_size() {
        let big = vec![b'-'; 100_000];
        let body = body(&[("file", b"abc"), ("file", &big), ("selfie", b"--XyZ nearly\r\n--Xy")]);
        for size in [1, 2, 3, 7, 64, 4096, body.len()] {
            let mut s = Scanner::new("XyZ");
            for chunk in body.chunks(size) {
                s.feed(chunk).unwrap_or_else(|e| panic!("chunks of {size}: {e}"));
            }
            assert_eq!(s.phase, Phase::Epilogue, "chunks of {size}");
        }
    }

    #[test]
    fn a_body_without_its_boundary_is_stopped_early() {
        let mut s = Scanner::new("XyZ");
        let mut sent = 0;
        let err = loop {
            match s.feed(&[b'a'; 100]) {
                Ok(()) => sent += 100,
                Err(e) => break e,
            }
            assert!(sent < 10_000, "still reading after {sent} bytes");
        };
        assert!(sent <= MAX_PREAMBLE + 100, "{sent}");
        assert!(err.contains("boundary"));
    }

    #[test]
    fn endless_part_headers_are_stopped() {
        let mut s = Scanner::new("XyZ");
        s.feed(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: ").unwrap();
        let err = (0..200).find_map(|_| s.feed(&[b'x'; 100]).err()).expect("stopped");
        assert!(err.contains("headers"));
        let mut after = Scanner::new("XyZ");
        after.feed(b"--XyZ--\r\n").unwrap();
        assert!((0..100).find_map(|_| after.feed(&[b'x'; 100]).err()).is_some(), "an endless epilogue");
    }

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(multipart_boundary("multipart/form-data; boundary=abc"), Some(Ok("abc".into())));
        assert_eq!(multipart_boundary("Multipart/Form-Data; charset=x; BOUNDARY=\"a b\""), Some(Ok("a b".into())));
        assert!(matches!(multipart_boundary("multipart/form-data"), Some(Err(_))));
        assert!(matches!(
            multipart_boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            Some(Err(_))
        ));
        assert_eq!(multipart_boundary("image/jpeg"), None);
        assert_eq!(multipart_boundary("application/x-www-form-urlencoded"), None);
    }
}
