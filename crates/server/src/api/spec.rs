//! The OpenAPI document as served: poem-openapi's, with what it cannot say
//! by itself added, so that the document is the whole contract (checked by
//! schemathesis in CI):
//!
//! - every object is closed (`additionalProperties: false`): request bodies
//!   refuse unknown fields, responses carry no undocumented ones;
//! - every optional property is `nullable` (responses write `null`, requests
//!   may send it);
//! - the value rules the server enforces with 422 (e-mail addresses, name
//!   and password lengths, currency codes, non-negative amounts, prices of
//!   at most 100,000,000 minor units, photo id
//!   lists) are stated as schema constraints, never looser than the server;
//! - `limit` is 1 to 200 and `cursor` a UUID on every list; report periods
//!   are dates or RFC 3339 times; job statuses an enum;
//! - `GET /reports/sales` answers JSON or CSV on 200;
//! - an album's `Watermark` is a `oneOf` of its shapes (text, logo, and
//!   plugin when one is installed).
//!
//! It also knows which methods each path takes, for the `Allow` header of
//! a 405.

use std::sync::OnceLock;

use proofsheet_core::WatermarkChoice;
use serde_json::{Value, json};

/// Exactly what `proofsheet_core::Email` accepts (ASCII, so characters and bytes agree).
const EMAIL: &str = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$";
/// At least one visible character, no control characters.
const TEXT: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

static METHODS: OnceLock<Vec<(Vec<String>, Vec<String>)>> = OnceLock::new();

/// Patches poem-openapi's document (see the module docs); `plugins` are
/// the installed watermark plugins' names; `webhook_url` the pattern of the
/// webhook URLs this deployment takes (`None`: any URL, when private
/// networks are allowed).
pub fn patch(spec: &str, plugins: &[String], webhook_url: Option<String>) -> String {
    let mut v: Value = serde_json::from_str(spec).expect("poem-openapi writes JSON");
    if let Some(schemas) = v.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for schema in schemas.values_mut() {
            close_object(schema);
        }
    }
    let email = json!({"type": "string", "pattern": EMAIL, "maxLength": 254});
    let text = |max: usize| json!({"type": "string", "pattern": TEXT, "maxLength": max});
    // A percentage range of core's as the fractions the API speaks.
    let fraction = |r: std::ops::RangeInclusive<u8>| {
        json!({"type": "number", "minimum": f64::from(*r.start()) / 100.0,
               "maximum": f64::from(*r.end()) / 100.0, "nullable": true})
    };
    let url = match &webhook_url {
        Some(p) => json!({"type": "string", "pattern": p, "maxLength": proofsheet_core::MAX_WEBHOOK_URL}),
        None => json!({"type": "string", "minLength": 1, "maxLength": proofsheet_core::MAX_WEBHOOK_URL}),
    };
    let events = json!({"type": "array", "items": {"$ref": "#/components/schemas/WebhookEvent"}, "minItems": 1});
    let note = json!({"type": "string", "pattern": r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$", "maxLength": 500});
    let constraints = [
        ("CreateWebhookRequest", "url", url.clone()),
        ("UpdateWebhookRequest", "url", url),
        ("CreateWebhookRequest", "events", events.clone()),
        ("UpdateWebhookRequest", "events", events),
        ("CreateWebhookRequest", "description", note.clone()),
        ("UpdateWebhookRequest", "description", note),
        ("RegisterRequest", "email", email.clone()),
        ("RegisterRequest", "password", json!({"type": "string", "minLength": 8, "maxLength": 256})),
        ("RegisterRequest", "name", text(100)),
        ("RegisterRequest", "surname", text(100)),
        ("CreateAlbumRequest", "name", text(200)),
        ("CreateAlbumRequest", "client_email", email.clone()),
        ("UpdateAlbumRequest", "name", text(200)),
        ("UpdateAlbumRequest", "client_email", email.clone()),
        ("EmailLinkRequest", "email", email),
        ("EmailLinkRequest", "next", json!({"type": "string", "maxLength": 512})),
        ("EmailLinkExchange", "token", json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{64}$"})),
        ("Money", "amount", json!({"type": "integer", "format": "int64", "minimum": 0})),
        ("Money", "currency", json!({"type": "string", "pattern": "^[A-Z]{3}$"})),
        ("Price", "amount", json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 100_000_000})),
        ("Price", "currency", json!({"type": "string", "pattern": "^[A-Z]{3}$"})),
        ("VerifyEmailRequest", "token", json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{75}$"})),
        ("VerifyEmailRequest", "password", json!({"type": "string", "maxLength": 256})),
        ("PasswordChange", "current_password", json!({"type": "string", "maxLength": 256})),
        ("PasswordChange", "new_password", json!({"type": "string", "minLength": 8, "maxLength": 256})),
        ("CreateOrderRequest", "album_id", json!({"type": "string", "format": "uuid"})),
        ("QuoteItem", "photo_id", json!({"type": "string", "format": "uuid"})),
        ("QuoteItem", "product_id", json!({"type": "string", "format": "uuid"})),
        ("QuoteRequest", "coupon", json!({"type": "string", "maxLength": 100})),
        (
            "QuoteRequest",
            "items",
            json!({"type": "array", "items": {"$ref": "#/components/schemas/QuoteItem"},
                   "minItems": 1, "maxItems": 500}),
        ),
        (
            "CreateOrderRequest",
            "photo_ids",
            json!({"type": "array", "items": {"type": "string", "format": "uuid"},
                   "minItems": 1, "maxItems": 500, "uniqueItems": true}),
        ),
    ];
    for (schema, prop, rule) in constraints {
        if let Some(p) = v.pointer_mut(&format!("/components/schemas/{schema}/properties/{prop}")) {
            let nullable = p.get("nullable").cloned();
            let description = p.get("description").cloned();
            *p = rule;
            if let Some(n) = nullable {
                p["nullable"] = n;
            }
            if let Some(d) = description {
                p["description"] = d;
            }
        }
    }
    // An album's watermark is one flat object on the Rust side (so that
    // unknown fields are refused); its shapes are stated here, a plugin
    // only when one is installed, and then by its installed names.
    if let Some(w) = v.pointer_mut("/components/schemas/Watermark") {
        let description = w.get("description").cloned().unwrap_or(Value::Null);
        let mut shapes = vec![json!(
            {"type": "object", "title": "TextWatermark", "additionalProperties": false,
             "required": ["kind", "text"],
             "properties": {"kind": {"type": "string", "enum": ["text"]},
                            "text": text(WatermarkChoice::MAX_TEXT_CHARS)}}
        )];
        shapes.push(json!(
            {"type": "object", "title": "LogoWatermark", "additionalProperties": false,
             "required": ["kind"],
             "properties": {"kind": {"type": "string", "enum": ["logo"]},
                            "position": {"type": "string", "nullable": true, "enum":
                                ["tiled", "center", "top_left", "top_right", "bottom_left", "bottom_right", null]},
                            "scale": fraction(WatermarkChoice::LOGO_SCALE_PCT),
                            "opacity": fraction(WatermarkChoice::LOGO_OPACITY_PCT),
                            "logo": {"type": "string", "nullable": true,
                                     "description": "In answers: the logo drawn. Ignored in requests."}}}
        ));
        if !plugins.is_empty() {
            shapes.push(json!(
                {"type": "object", "title": "PluginWatermark", "additionalProperties": false,
                 "required": ["kind", "plugin"],
                 "properties": {"kind": {"type": "string", "enum": ["plugin"]},
                                "plugin": {"type": "string", "enum": plugins},
                                "params": {"type": "string", "maxLength": WatermarkChoice::MAX_PARAMS_CHARS,
                                           "nullable": true}}}
            ));
        }
        *w = json!({"description": description, "oneOf": shapes});
    }
    let mut methods = Vec::new();
    if let Some(paths) = v.pointer_mut("/paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(ops) = item.as_object_mut() else { continue };
            let segments = path.trim_matches('/').split('/').map(str::to_owned).collect();
            methods.push((segments, ops.keys().map(|m| m.to_uppercase()).collect()));
            for op in ops.values_mut() {
                // The selfie's form refuses parts it does not name
                // (`deny_unknown_fields`); poem-openapi writes it inline,
                // so it is closed here. (Photo uploads ignore other parts.)
                if path.ends_with("/find-me")
                    && let Some(form) = op.pointer_mut("/requestBody/content/multipart~1form-data/schema")
                {
                    close_object(form);
                }
                for param in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                    match param.get("name").and_then(Value::as_str) {
                        Some("limit") => {
                            param["schema"] =
                                json!({"type": "integer", "format": "uint32", "minimum": 1, "maximum": 200})
                        }
                        Some("cursor") => param["schema"] = json!({"type": "string", "format": "uuid"}),
                        Some("from" | "to") => {
                            param["schema"] = json!({"anyOf": [
                                {"type": "string", "format": "date"},
                                {"type": "string", "format": "date-time"}
                            ]})
                        }
                        Some("status") if path == "/api/v1/jobs" => {
                            param["schema"] =
                                json!({"type": "string", "enum": ["queued", "running", "succeeded", "failed"]})
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let _ = METHODS.set(methods);
    if let Some(ok) = v.pointer_mut("/paths/~1api~1v1~1reports~1sales/get/responses/200/content")
        && let Some(content) = ok.as_object_mut()
    {
        content.insert(
            "application/json; charset=utf-8".into(),
            json!({"schema": {"$ref": "#/components/schemas/SalesReport"}}),
        );
    }
    v.to_string()
}

/// `additionalProperties: false`, and optional properties nullable.
fn close_object(schema: &mut Value) {
    if schema.get("type").and_then(Value::as_str) != Some("object") || schema.get("properties").is_none() {
        return;
    }
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            if required.contains(name) {
                continue;
            }
            if let Some(r) = prop.get("$ref").cloned() {
                *prop = json!({"allOf": [{"$ref": r}]});
            }
            prop["nullable"] = json!(true);
        }
    }
    schema["additionalProperties"] = json!(false);
}

fn find(path: &str) -> Option<&'static (Vec<String>, Vec<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    METHODS.get()?.iter().find(|(template, _)| {
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
    })
}

/// The `Allow` value for `path`, if the API has such a path.
pub fn allowed_methods(path: &str) -> Option<String> {
    Some(find(path)?.1.join(", "))
}

/// The documented template `path` matches (`/api/v1/albums/{album_id}`),
/// for metric labels that never hold ids.
pub fn template_of(path: &str) -> Option<String> {
    Some(format!("/{}", find(path)?.0.join("/")))
}
