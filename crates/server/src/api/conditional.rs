//! Conditional and pre-serialized JSON replies: an `ETag` a client sends
//! back in `If-None-Match` gets `304 Not Modified`, and a page serialized
//! once is sent as bytes to every reader of the same revision.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response, http::header};
use poem_openapi::{
    payload::{Json, Payload},
    registry::{MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};

/// JSON already serialized from a `T`: documented with `T`'s schema, sent
/// as it is.
pub struct JsonBytes<T> {
    body: Bytes,
    of: PhantomData<fn() -> T>,
}

impl<T: ToJSON> JsonBytes<T> {
    /// Serializes `value` (the same text `Json<T>` sends).
    pub fn encode(value: &T) -> Self {
        let text = value.to_json_string();
        Self { body: Bytes::from(text), of: PhantomData }
    }
}

impl<T> JsonBytes<T> {
    /// Already serialized text.
    pub fn from_bytes(body: Bytes) -> Self {
        Self { body, of: PhantomData }
    }

    /// The text, to cache (cheap to clone).
    pub fn bytes(&self) -> Bytes {
        self.body.clone()
    }
}

impl<T: Type + Send> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        <Json<T> as Payload>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as Payload>::register(registry)
    }
}

impl<T: Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> Response {
        Response::builder().header(header::CONTENT_TYPE, "application/json; charset=utf-8").body(self.body)
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110
/// 13.1.2: `W/` prefixes are ignored; `*` matches any).
pub fn none_match_hits(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(list) = if_none_match else { return false };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let want = bare(etag);
    list.split(',').any(|t| t.trim() == "*" || bare(t) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_lists() {
        let etag = "\"7-abc\"";
        assert!(none_match_hits(Some("\"7-abc\""), etag));
        assert!(none_match_hits(Some("W/\"7-abc\""), etag));
        assert!(none_match_hits(Some("\"1-x\", \"7-abc\""), etag));
        assert!(none_match_hits(Some("*"), etag));
        assert!(!none_match_hits(Some("\"8-abc\""), etag));
        assert!(!none_match_hits(Some("7-abc"), etag), "an unquoted tag is not the same tag");
        assert!(!none_match_hits(None, etag));
    }
}
