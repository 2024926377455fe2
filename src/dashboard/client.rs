//! The dashboard is a client of the management API and the proxy, in the same process: every
//! page and action is a request through the gateway's own router as the signed-in member, so
//! it sees and may do exactly what the API lets that member see and do.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

/// The most of an API answer the dashboard reads.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// An API answer: its status and JSON body (`Null` when it had none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The API's error message, for the page to show.
    pub fn message(&self) -> String {
        self.body["error"]["message"].as_str().map_or_else(
            || format!("the gateway answered {}", self.status),
            str::to_string,
        )
    }
}

impl Api {
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// One request as `token`; `request_id` ties what it records to the page's request.
    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        request_id: &str,
    ) -> Reply {
        let response = self.send(token, method, path, body, request_id).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
            .await
            .unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// The same, with the answer as it comes (a stream stays a stream).
    pub async fn send(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        request_id: &str,
    ) -> axum::response::Response {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header("x-request-id", request_id);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let request = match request.body(body) {
            Ok(r) => r,
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        };
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    pub async fn get(&self, token: &str, path: &str, request_id: &str) -> Reply {
        self.call(token, Method::GET, path, None, request_id).await
    }
}
