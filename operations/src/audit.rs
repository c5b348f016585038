//! The audit trail: who did which admin action, when, under which request.
//!
//! [`record`] runs on the action's own transaction, so an action and its audit
//! event commit together or not at all. The table is append-only (a trigger
//! refuses UPDATE, DELETE and TRUNCATE); nothing here edits it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Who did it: the credential, the tenant it acts for, the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `None` for platform-wide actors (the operator, the command line).
    pub client_id: Option<Uuid>,
    /// `api_key:<keyId>`, `bearer:<keyId>`, `operator` or `cli`.
    pub credential: String,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
}

impl Actor {
    /// A tenant's API key, presented as `X-API-Key` or through a bearer token.
    pub fn key(client_id: Uuid, key_id: Uuid, bearer: bool, request_id: Option<&str>) -> Self {
        let kind = if bearer { "bearer" } else { "api_key" };
        Actor { client_id: Some(client_id), credential: format!("{kind}:{key_id}"), request_id: request_id.map(clean_request_id) }
    }

    /// The platform operator (operator token).
    pub fn operator(request_id: Option<&str>) -> Self {
        Actor { client_id: None, credential: "operator".into(), request_id: request_id.map(clean_request_id) }
    }

    /// The command line (`emledger tenant create`, `up`), acting for `client_id`.
    pub fn cli(client_id: Option<Uuid>) -> Self {
        Actor { client_id, credential: "cli".into(), request_id: None }
    }
}

/// A request id as stored: printable ASCII, at most 128 characters (the
/// client may choose its own `X-Request-Id`).
fn clean_request_id(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_graphic()).take(128).collect()
}

/// What was done to what.
#[derive(Debug, Clone)]
pub struct Action<'a> {
    /// e.g. `api_key.created`, `wallet.compliance_status_changed`.
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    /// What changed (never a secret).
    pub detail: Value,
}

/// Stores one audit event on `conn` (the action's transaction). `client_id`
/// overrides the actor's tenant (an operator acting on a tenant's object).
pub async fn record(conn: &mut PgConnection, actor: &Actor, client_id: Option<Uuid>, what: Action<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (client_id, credential, request_id, action, object_type, object_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(client_id.or(actor.client_id))
    .bind(&actor.credential)
    .bind(&actor.request_id)
    .bind(what.action)
    .bind(what.object_type)
    .bind(&what.object_id)
    .bind(&what.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// One stored audit event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub client_id: Option<Uuid>,
    pub credential: String,
    pub request_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: Value,
}

/// Which events to read: newest first, below `before` (an event id), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this tenant's events (`None`: all, for the operator).
    pub client_id: Option<Uuid>,
    pub action: Option<String>,
    pub object_id: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// The events matching `f`, newest first.
pub async fn list(pool: &PgPool, f: &Filter) -> sqlx::Result<Vec<AuditEvent>> {
    sqlx::query_as(
        "SELECT id, at, client_id, credential, request_id, action, object_type, object_id, detail FROM audit_events
         WHERE ($1::uuid IS NULL OR client_id = $1) AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR object_id = $3)
           AND ($4::bigint IS NULL OR id < $4)
         ORDER BY id DESC LIMIT $5",
    )
    .bind(f.client_id)
    .bind(&f.action)
    .bind(&f.object_id)
    .bind(f.before)
    .bind(f.limit.clamp(1, 500))
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_stored_printable_and_bounded() {
        assert_eq!(clean_request_id("abc-123"), "abc-123");
        assert_eq!(clean_request_id("a\u{0}b\nc é"), "abc");
        assert_eq!(clean_request_id(&"x".repeat(500)).len(), 128);
    }

    #[test]
    fn credentials_name_the_key_and_how_it_came() {
        let (c, k) = (Uuid::nil(), Uuid::max());
        assert_eq!(Actor::key(c, k, true, None).credential, format!("bearer:{k}"));
        assert_eq!(Actor::key(c, k, false, Some("r1")).request_id.as_deref(), Some("r1"));
        assert_eq!(Actor::operator(None).client_id, None);
    }
}
