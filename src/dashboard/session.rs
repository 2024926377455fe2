//! Signing in and out. A session is a cookie holding the member's management token (or the
//! admin token), encrypted with the gateway's secret key, with its expiry and a random nonce:
//! every replica can read it, the token never reaches page scripts (HttpOnly), and no other
//! site's page sends it (SameSite=Strict; Secure behind TLS). Every form carries a CSRF token
//! derived from the nonce, and a request from another origin is refused; signing out revokes
//! the nonce on this replica and clears the cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Dash;
use crate::crypto::push_hex;

pub const COOKIE: &str = "tg_session";
/// How long a session lasts.
pub const TTL_SECONDS: i64 = 12 * 3600;

#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The token signed in with.
    t: String,
    /// Expiry, Unix seconds.
    e: i64,
    /// Random, hex: what the CSRF token and revocation name.
    n: String,
}

/// The signed-in caller of a page.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub nonce: String,
    /// `admin`, or the member's id.
    pub id: String,
    /// `admin`, `owner`, `developer`...
    pub role: String,
    pub organization_id: Option<String>,
    pub email: Option<String>,
    pub request_id: String,
}

impl Session {
    pub fn csrf(&self) -> String {
        csrf_of(&self.nonce)
    }

    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// Whether the role may manage (owner, admin, the gateway admin): what the API allows
    /// beyond a developer.
    pub fn manages(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
    }

    pub fn name(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.id)
    }
}

fn csrf_of(nonce: &str) -> String {
    let digest = Sha256::digest(format!("tollgate-csrf:{nonce}"));
    let mut out = String::new();
    push_hex(&mut out, &digest[..16]);
    out
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The cookie for a new session of `token`.
pub fn cookie_for(dash: &Dash, token: &str, headers: &HeaderMap) -> HeaderValue {
    let mut nonce = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut nonce);
    let sealed = Sealed {
        t: token.to_string(),
        e: now() + TTL_SECONDS,
        n: {
            let mut n = String::new();
            push_hex(&mut n, &nonce);
            n
        },
    };
    let value = dash
        .cipher
        .encrypt(&serde_json::to_string(&sealed).unwrap_or_default());
    set_cookie(&value, TTL_SECONDS, headers)
}

/// The header that clears the session cookie.
pub fn cleared(headers: &HeaderMap) -> HeaderValue {
    set_cookie("", 0, headers)
}

fn set_cookie(value: &str, max_age: i64, headers: &HeaderMap) -> HeaderValue {
    let secure = match behind_tls(headers) {
        true => "; Secure",
        false => "",
    };
    let text =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// TLS ends at a proxy in front of the gateway, which says so.
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The session's token and nonce, if the cookie is ours, unexpired and not signed out.
fn open(dash: &Dash, headers: &HeaderMap) -> Option<(String, String)> {
    let value = cookie_value(headers).filter(|v| !v.is_empty())?;
    let sealed: Sealed = serde_json::from_str(&dash.cipher.decrypt(value).ok()?).ok()?;
    if sealed.e <= now() || dash.revoked.contains_key(&sealed.n) {
        return None;
    }
    Some((sealed.t, sealed.n))
}

/// Signs out: the nonce is refused from now on (until the session would have expired).
pub fn revoke(dash: &Dash, session: &Session) {
    let until = now() + TTL_SECONDS;
    dash.revoked.retain(|_, at| *at > now());
    dash.revoked.insert(session.nonce.clone(), until);
}

/// Who the token is, by the API's own `GET /api/me`.
pub async fn whoami(dash: &Dash, token: &str, request_id: &str) -> Option<Value> {
    let me = dash.api.get(token, "/api/me", request_id).await;
    me.ok().then_some(me.body)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

/// A page without a session goes to the sign-in page.
pub struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        Redirect::to("/sign-in").into_response()
    }
}

impl FromRequestParts<Dash> for Session {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, dash: &Dash) -> Result<Self, SignIn> {
        let (token, nonce) = open(dash, &parts.headers).ok_or(SignIn)?;
        let request_id = request_id(&parts.headers);
        // A token revoked or a member removed since signing in ends the session here.
        let me = whoami(dash, &token, &request_id).await.ok_or(SignIn)?;
        let text = |k: &str| me[k].as_str().map(str::to_string);
        Ok(Session {
            token,
            nonce,
            id: text("id").unwrap_or_default(),
            role: text("role").unwrap_or_default(),
            organization_id: text("organization_id"),
            email: text("email"),
            request_id,
        })
    }
}

/// A form posted by the signed-in member and checked: from this origin, with the CSRF token
/// of the member's sign-in. Every dashboard action takes its form through this.
pub struct Posted<T>(pub Session, pub T);

#[derive(Deserialize)]
struct Csrf {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// The most of a form the dashboard reads.
const MAX_FORM: usize = 1 << 20;

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequest<Dash> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, dash: &Dash) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, dash)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
            (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response()
        })?;
        let token =
            serde_urlencoded::from_bytes::<Csrf>(&bytes).map_or_else(|_| String::new(), |c| c.csrf);
        if forged(&parts.headers, &session, &token) {
            return Err(refused());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {e}"),
            )
                .into_response()
        })?;
        Ok(Posted(session, form))
    }
}

/// A form or action from another site, or without this sign-in's CSRF token.
pub fn forged(headers: &HeaderMap, session: &Session, csrf: &str) -> bool {
    cross_origin(headers) || !constant_eq(csrf, &session.csrf())
}

/// The request says it comes from a page of another origin.
pub fn cross_origin(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site")
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            Some(origin_host) != host
        }
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The answer to a forged request.
pub fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        "This form did not come from this dashboard (cross-site request refused).",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn other_origins_are_told_apart() {
        assert!(!cross_origin(&headers(&[("host", "gw:8080")])));
        assert!(!cross_origin(&headers(&[
            ("host", "gw:8080"),
            ("origin", "http://gw:8080")
        ])));
        assert!(cross_origin(&headers(&[
            ("host", "gw:8080"),
            ("origin", "http://gw:9000")
        ])));
        assert!(cross_origin(&headers(&[
            ("host", "gw:8080"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!cross_origin(&headers(&[
            ("host", "gw:8080"),
            ("sec-fetch-site", "same-origin")
        ])));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=1; tg_session=xyz; b=2")]);
        assert_eq!(cookie_value(&h), Some("xyz"));
        assert_eq!(csrf_of("n").len(), 32);
        assert_ne!(csrf_of("n"), csrf_of("m"));
    }
}
