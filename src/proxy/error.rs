//! Proxy errors in OpenAI's shape, by category: the client's request, its key and limits, and
//! the upstream provider. Internal detail is logged, not returned.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyError {
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: &'static str,
    },
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("this API key expired at {0}")]
    KeyExpired(String),
    #[error("{0}")]
    InsufficientCredits(String),
    #[error("{0}")]
    IamDenied(String),
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    /// The client did not send its body in time (the server's body timeout).
    #[error("the request body was not received in time")]
    BodyTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    UsageLimitExceeded(String),
    /// A rate limit is reached (`unit`: requests or tokens) until the minute ends.
    #[error("{message}")]
    RateLimited {
        message: String,
        unit: &'static str,
        retry_after: u64,
    },
    /// A period budget is reached; it renews in `retry_after` seconds.
    #[error("{message}")]
    BudgetExceeded { message: String, retry_after: u64 },
    /// The provider refused the request (4xx): its status and message pass through.
    #[error("{message}")]
    UpstreamRejected {
        status: u16,
        message: String,
        retry_after: Option<String>,
    },
    /// The provider failed (5xx, a broken connection or an unreadable answer).
    #[error("upstream error{}: {message}", status.map(|s| format!(" (status {s})")).unwrap_or_default())]
    Upstream {
        status: Option<u16>,
        message: String,
    },
    #[error("the upstream provider did not answer in time")]
    UpstreamTimeout,
    /// A tenant's provider `base_url` is, or resolves to, an address the upstream policy
    /// refuses; nothing was sent.
    #[error("{0}")]
    UpstreamBlocked(String),
    #[error("internal error")]
    Internal(String),
}

impl ProxyError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param: Some(param.to_string()),
            code: "invalid_value",
        }
    }

    /// 400 `invalid_json`, with the parser's reason.
    pub fn malformed_json(reason: &dyn std::fmt::Display) -> Self {
        Self::InvalidRequest {
            message: format!("malformed JSON: {reason}"),
            param: None,
            code: "invalid_json",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::InvalidApiKey | Self::KeyExpired(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientCredits(_) => StatusCode::PAYMENT_REQUIRED,
            Self::IamDenied(_) => StatusCode::FORBIDDEN,
            Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UsageLimitExceeded(_)
            | Self::BudgetExceeded { .. }
            | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamRejected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::UpstreamBlocked(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { code, .. } => code,
            Self::InvalidApiKey => "invalid_api_key",
            Self::KeyExpired(_) => "key_expired",
            Self::InsufficientCredits(_) => "insufficient_credits",
            Self::IamDenied(_) => "iam_denied",
            Self::ModelNotFound(_) => "model_not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::UsageLimitExceeded(_) | Self::BudgetExceeded { .. } => "usage_limit_exceeded",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::UpstreamRejected { status: 429, .. } => "rate_limit_exceeded",
            Self::UpstreamRejected { .. } | Self::Upstream { .. } => "upstream_error",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamBlocked(_) => "upstream_address_blocked",
            Self::Internal(_) => "internal_error",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::InvalidApiKey | Self::KeyExpired(_) => "authentication_error",
            Self::IamDenied(_) => "permission_error",
            Self::InsufficientCredits(_) => "insufficient_quota",
            Self::UsageLimitExceeded(_)
            | Self::BudgetExceeded { .. }
            | Self::UpstreamRejected { status: 429, .. } => "rate_limit_error",
            // OpenAI names the exhausted unit.
            Self::RateLimited { unit, .. } => unit,
            Self::ModelNotFound(_) => "not_found_error",
            Self::Upstream { .. }
            | Self::UpstreamTimeout
            | Self::UpstreamRejected { .. }
            | Self::UpstreamBlocked(_) => "upstream_error",
            Self::Internal(_) => "server_error",
            _ => "invalid_request_error",
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::InvalidRequest { param, .. } => param.clone(),
            Self::ModelNotFound(_) => Some("model".into()),
            _ => None,
        }
    }

    /// The error body, as sent in a response or as a stream's error chunk.
    pub fn body(&self) -> Value {
        let message = match self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "proxy internal error");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        let mut error = json!({
            "message": message,
            "type": self.kind(),
            "param": self.param(),
            "code": self.code(),
        });
        if let Self::UpstreamRejected { status, .. }
        | Self::Upstream {
            status: Some(status),
            ..
        } = self
        {
            error["upstream_status"] = json!(status);
        }
        json!({ "error": error })
    }

    /// Whether the same request sent again may succeed: not after a refusal of the request, the
    /// key or its money (a spend limit or empty credits stay so until someone acts).
    pub fn retryable(&self) -> bool {
        match self {
            Self::InvalidRequest { .. }
            | Self::InvalidApiKey
            | Self::KeyExpired(_)
            | Self::InsufficientCredits(_)
            | Self::IamDenied(_)
            | Self::ModelNotFound(_)
            | Self::PayloadTooLarge
            | Self::UnsupportedMediaType(_)
            | Self::UsageLimitExceeded(_)
            | Self::BudgetExceeded { .. }
            | Self::UpstreamBlocked(_) => false,
            Self::UpstreamRejected { status, .. } => {
                matches!(status, 408 | 409 | 429) || *status >= 500
            }
            // A body that came too slowly may come in time on another try; a rate limit
            // lets the request through once its minute is over.
            Self::RateLimited { .. }
            | Self::BodyTimeout
            | Self::Upstream { .. }
            | Self::UpstreamTimeout
            | Self::Internal(_) => true,
        }
    }

    /// Whether a hybrid request on the project's own key may retry on credits after this.
    pub fn allows_fallback(&self) -> bool {
        match self {
            Self::UpstreamRejected { status, .. } => matches!(status, 401 | 403 | 429),
            Self::Upstream { .. } | Self::UpstreamTimeout => true,
            _ => false,
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after = match &self {
            Self::UpstreamRejected { retry_after, .. } => retry_after.clone(),
            Self::BudgetExceeded { retry_after, .. } | Self::RateLimited { retry_after, .. } => {
                Some(retry_after.to_string())
            }
            _ => None,
        };
        if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert("retry-after", v);
        }
        if !self.retryable() {
            // The OpenAI SDKs honour this over their own retry of 429s and 5xx.
            response
                .headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}

/// The error a request body that did not arrive in time ends with (the server's body
/// timeout raises it; the proxy answers it with 408).
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?}")]
pub struct BodyTimedOut(pub std::time::Duration);

/// Whether `error` (or an error it wraps) is a body timeout.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        cause = e.source();
    }
    false
}
