//! The one error type of the money domain. It knows no HTTP: the API maps each
//! variant to its status and envelope in one place (`api::http::error`).

/// Every way a command can be refused or fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is missing or invalid (`field` is its path in the body).
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A field of the request is refused for a reason with a code of its own
    /// (`duplicate_external_id`): a 400 like [`Error::Invalid`], with that code.
    #[error("{message}")]
    Refused { code: &'static str, field: &'static str, message: String },
    /// The resource is unknown (or another tenant's: the two are indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An id given in a request field names nothing the tenant owns.
    #[error("{resource} `{field}` not found")]
    ReferenceNotFound { resource: &'static str, field: &'static str },
    /// The state of a resource refuses the change (`insufficient_funds`, `wallet_not_ready`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Understood but cannot be carried out (e.g. `unknown_iban`).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A dependency is missing: the chain facts, the platform signer.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// The idempotency key was used before with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// Anything else (database, invariants): logged, never detailed to callers.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if database_unavailable(&e) {
            return Error::database_unavailable();
        }
        Error::Internal(e.into())
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), reason: reason.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }

    /// 503 `database_unavailable`: Postgres cannot be reached; retry shortly.
    pub fn database_unavailable() -> Self {
        Error::Unavailable { code: "database_unavailable", message: "the database is unavailable; retry shortly".into() }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::Internal(anyhow::anyhow!("{message}"))
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_request",
            Error::NotFound(_) | Error::ReferenceNotFound { .. } => "not_found",
            Error::Refused { code, .. } | Error::Conflict { code, .. } | Error::Unprocessable { code, .. } | Error::Unavailable { code, .. } => code,
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::Internal(_) => "internal_error",
        }
    }

    /// A refusal of the request itself (the caller's to fix), as opposed to a
    /// missing dependency or an internal failure that a retry may cure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Error::Unavailable { .. } | Error::Internal(_))
    }
}

/// Whether `e` says Postgres cannot be reached (down, restarting, no free
/// connection in time) rather than anything about the request.
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // class 08: connection exception; 57P01-57P03: shutting down, crash, cannot connect now
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Whether `e` (anywhere in its chain) is a deadlock or a serialization failure:
/// the transaction did nothing and the same request may simply run again.
pub fn retryable_conflict(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(c.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::Database(d)) if matches!(d.code().as_deref(), Some("40P01" | "40001")))
    })
}

/// The constraint a unique violation tripped, if `e` is one.
pub fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => Some(d.constraint().unwrap_or("").to_owned()),
        _ => None,
    }
}

/// `Result` with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
