//! Body and query extractors whose failures are API errors: malformed JSON is a 400 with the
//! parser's reason, a wrong field names the field, a missing content type is a 415.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state, false).await?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state, true).await?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

async fn json_body<S: Send + Sync>(
    req: Request,
    state: &S,
    may_be_empty: bool,
) -> Result<Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let is_json = content_type
        .as_deref()
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest {
                message: e.body_text(),
                param: None,
                code: "invalid_body",
            }
        }
    })?;
    let empty_allowed = may_be_empty && bytes.is_empty();
    if !(is_json || empty_allowed) {
        return Err(ApiError::UnsupportedMediaType(
            "expected a JSON body (Content-Type: application/json)".into(),
        ));
    }
    Ok(bytes)
}

/// Deserializes a body, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // JSON spells NUL only as `\u0000`; Postgres can store it neither in the event log nor
    // in text, so it is refused here rather than failing as a 500 at the store.
    if memchr::memmem::find(bytes, b"u0000").is_some() {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(path) = nul_at(&value) {
                return Err(ApiError::BadRequest {
                    message: format!("{path}: text must not contain NUL (\\u0000)"),
                    param: (path != ".").then(|| path.clone()),
                    code: "invalid_value",
                });
            }
        }
    }
    // Every body is an object; serde would also take a struct's fields from an array
    // (`[null, null]`), which the API does not promise.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
    {
        return Err(ApiError::BadRequest {
            message: "the body must be a JSON object".into(),
            param: None,
            code: "invalid_value",
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest {
                message: format!("malformed JSON: {inner}"),
                param: None,
                code: "invalid_json",
            };
        }
        let param = (path != ".").then_some(path);
        let message = match &param {
            Some(p) => format!("{p}: {inner}"),
            None => inner.to_string(),
        };
        ApiError::BadRequest {
            message,
            param,
            code: "invalid_value",
        }
    })
}

/// Where a string (or a member name) holding NUL is, named as `serde_path_to_error` names
/// paths (`rules[0].models[1]`; `.` for the whole body).
fn nul_at(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    fn walk(value: &Value, path: &mut String) -> bool {
        let len = path.len();
        let found = match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
                path.truncate(len);
                path.push_str(&format!("[{i}]"));
                walk(v, path)
            }),
            Value::Object(members) => members.iter().any(|(k, v)| {
                path.truncate(len);
                if len > 0 {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                k.contains('\0') || walk(v, path)
            }),
            _ => false,
        };
        if !found {
            path.truncate(len);
        }
        found
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| if path.is_empty() { ".".into() } else { path })
}

pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::BadRequest {
                    message: format!("invalid query string: {}", e.into_inner()),
                    param: (path != ".").then_some(path),
                    code: "invalid_query",
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_at(body: &str) -> Option<String> {
        match parse_json::<serde_json::Value>(body.as_bytes()) {
            Err(ApiError::BadRequest { param, code, .. }) => {
                assert_eq!(code, "invalid_value");
                param
            }
            _ => None,
        }
    }

    #[test]
    fn nul_in_any_string_is_refused_with_its_path() {
        assert_eq!(refused_at(r#"{"name":"a\u0000"}"#).as_deref(), Some("name"));
        assert_eq!(
            refused_at(r#"{"rules":[{"models":["ok","b\u0000"]}]}"#).as_deref(),
            Some("rules[0].models[1]")
        );
        assert_eq!(
            refused_at(r#"{"a":{"b\u0000":1}}"#).as_deref(),
            Some("a.b\\u0000")
        );
        assert!(matches!(
            parse_json::<serde_json::Value>(br#""\u0000""#),
            Err(ApiError::BadRequest { param: None, .. })
        ));
        // An escaped backslash before `u0000` is text, not NUL.
        assert!(parse_json::<serde_json::Value>(br#"{"name":"a\\u0000"}"#).is_ok());
        assert!(parse_json::<serde_json::Value>(br#"{"name":"u0000"}"#).is_ok());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            a: Option<i64>,
            b: Option<i64>,
        }
        for body in ["[null, null]", " [1]", "1", "\"x\"", "null"] {
            assert!(
                matches!(
                    parse_json::<Body>(body.as_bytes()),
                    Err(ApiError::BadRequest { .. })
                ),
                "{body}"
            );
        }
        assert!(parse_json::<Body>(b" {\"a\": 1}").is_ok());
        // Malformed JSON keeps its parser's reason.
        assert!(matches!(
            parse_json::<Body>(b"[1"),
            Err(ApiError::BadRequest {
                code: "invalid_json",
                ..
            })
        ));
    }
}
