//! The one error type of the API and its mapping to the envelope
//! `{"error":{"code","message","details"}}` (seed 001). Every refusal goes through
//! here; the codes are stable and listed in the OpenAPI description.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use serde_json::{json, Value};

use crate::tenant::Scope;

/// The error envelope (seed 001).
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// The body of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code (see the API description).
    pub code: String,
    pub message: String,
    /// e.g. `{"field": "phoneNumber", "in": "body", "reason": "..."}`
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Where an invalid value came from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Body,
    Query,
    Path,
    Header,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `invalid_request`: a field is missing, of the wrong type or invalid.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, location: Location, reason: String },
    /// 400 with a specific code naming a body field (`duplicate_external_id`).
    #[error("{message}")]
    Refused { code: &'static str, field: &'static str, message: String },
    /// 400 `malformed_json`: the body is not JSON at all.
    #[error("the request body is not valid JSON: {reason}")]
    MalformedJson { reason: String, line: usize, column: usize },
    /// 401 `unauthorized`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `forbidden`: authenticated, but lacking a scope.
    #[error("this operation needs the `{}` scope", .0.as_str())]
    Forbidden(Scope),
    /// 404 `not_found`: unknown, or another tenant's (the two are indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 `not_found` for an id given in a body field (e.g. `parentWalletId`).
    #[error("{resource} `{field}` not found")]
    ReferenceNotFound { resource: &'static str, field: &'static str },
    /// 405 `method_not_allowed`.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 409 with a specific code: the state of a resource refuses the change.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 422 with a specific code: the request is understood but cannot be carried out (e.g. `unknown_iban`).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 503 with a specific code: a dependency (chain facts, the platform signer) is missing.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 413 `payload_too_large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported_media_type`.
    #[error("the request body must be {0}")]
    UnsupportedMediaType(&'static str),
    /// 422 `idempotency_key_reused`: same key, different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// OAuth token endpoint refusals (`invalid_client`, `unsupported_grant_type`, `invalid_scope`, ...).
    #[error("{message}")]
    OAuth { status: StatusCode, code: &'static str, message: String },
    /// 429 `rate_limited`: the tenant spent its requests of this class for now.
    #[error("too many {class} requests for this tenant: retry in {retry_after_secs} s")]
    RateLimited { class: &'static str, retry_after_secs: u64, policy: String, state: String },
    /// 500 `internal_error`: logged, never detailed to the caller.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        emledger_operations::Error::from(e).into()
    }
}

/// The one mapping from the money domain's refusals to the envelope: each keeps
/// its code and message; fields named by the domain are body fields.
impl From<emledger_operations::Error> for Error {
    fn from(e: emledger_operations::Error) -> Self {
        use emledger_operations::Error as D;
        match e {
            D::Invalid { field, reason } => Error::Invalid { field, location: Location::Body, reason },
            D::Refused { code, field, message } => Error::Refused { code, field, message },
            D::NotFound(resource) => Error::NotFound(resource),
            D::ReferenceNotFound { resource, field } => Error::ReferenceNotFound { resource, field },
            D::Conflict { code, message } => Error::Conflict { code, message },
            D::Unprocessable { code, message } => Error::Unprocessable { code, message },
            D::Unavailable { code, message } => Error::Unavailable { code, message },
            D::IdempotencyKeyReused => Error::IdempotencyKeyReused,
            D::Internal(inner) => Error::Internal(inner),
        }
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), location: Location::Body, reason: reason.into() }
    }

    pub fn invalid_query(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), location: Location::Query, reason: reason.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }

    /// A deadlock or serialization failure: nothing was done, the same request may run again.
    pub fn is_retryable_conflict(&self) -> bool {
        matches!(self, Error::Internal(e) if emledger_operations::error::retryable_conflict(e))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Invalid { .. } | Error::Refused { .. } | Error::MalformedJson { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) | Error::ReferenceNotFound { .. } => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::OAuth { status, .. } => *status,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_request",
            Error::MalformedJson { .. } => "malformed_json",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) | Error::ReferenceNotFound { .. } => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Refused { code, .. } | Error::Conflict { code, .. } => code,
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::Unprocessable { code, .. } | Error::Unavailable { code, .. } => code,
            Error::OAuth { code, .. } => code,
            Error::RateLimited { .. } => "rate_limited",
            Error::Internal(_) => "internal_error",
        }
    }

    fn details(&self) -> Value {
        match self {
            Error::Invalid { field, location, reason } => json!({ "field": field, "in": location, "reason": reason }),
            Error::Refused { field, message, .. } => json!({ "field": field, "in": Location::Body, "reason": message }),
            Error::MalformedJson { line, column, .. } => json!({ "line": line, "column": column }),
            Error::Forbidden(scope) => json!({ "requiredScope": scope.as_str() }),
            Error::NotFound(resource) => json!({ "resource": resource }),
            Error::ReferenceNotFound { resource, field } => json!({ "resource": resource, "field": field }),
            Error::PayloadTooLarge(limit) => json!({ "maxBytes": limit }),
            Error::RateLimited { class, retry_after_secs, .. } => json!({ "class": class, "retryAfterSeconds": retry_after_secs }),
            _ => json!({}),
        }
    }

    /// The envelope, as sent (and as stored for an idempotent replay).
    pub fn envelope(&self) -> Value {
        json!({ "error": { "code": self.code(), "message": self.to_string(), "details": self.details() } })
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let status = self.status();
        let mut res = (status, axum::Json(self.envelope())).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Error::RateLimited { retry_after_secs, policy, state, .. } = &self {
            let h = res.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(name, v);
                }
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer, ApiKey"));
        }
        res
    }
}

pub use emledger_operations::error::unique_violation;

/// `Result` with the API error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
