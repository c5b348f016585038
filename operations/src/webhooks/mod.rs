//! Webhooks: signed events pushed to the tenants' endpoints.
//!
//! - **Events** are written by Postgres triggers (migration 0013) in the same
//!   transaction as the state change they describe, for the tenants that have an
//!   endpoint subscribed to their type, with one delivery row per endpoint. So an
//!   event exists exactly when its change committed, whoever made it.
//! - **Endpoints** ([`create_endpoint`], [`rotate_secret`], [`delete_endpoint`]):
//!   an https URL (plain http only to a loopback host, for development), the
//!   event types (`movement.success`, `movement.*`, `*`), and a secret shown once
//!   (stored sealed under `--secrets-key`, see [`sealed`]).
//! - **Delivery** ([`delivery`]): a worker POSTs each event with
//!   `Emledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!   (during a rotation's grace period a second `v1` with the previous secret),
//!   retries with exponential backoff for a bounded period, records every
//!   attempt, keeps each object's events in order, and marks an endpoint FAILING
//!   after repeated failures.

pub mod delivery;
pub mod sealed;
pub mod target;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{audit, Error, Result};

/// The objects events are about, as they prefix event types.
pub const OBJECT_TYPES: [&str; 5] = ["movement", "hold", "operation", "scheduled_execution", "wallet"];

/// At most this many event types per endpoint.
pub const MAX_EVENT_TYPES: usize = 64;

/// At most this many live endpoints per tenant.
pub const MAX_ENDPOINTS: i64 = 32;

/// What a tenant asks for when it registers an endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// A stored endpoint (never its secrets).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub status: String,
    pub consecutive_failures: i32,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_failure_at: Option<chrono::DateTime<chrono::Utc>>,
    pub previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The columns of [`Endpoint`].
pub const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, status, consecutive_failures, last_success_at, \
     last_failure_at, CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at, \
     created_at, updated_at";

/// Checks an endpoint URL: absolute https (http only to a loopback host), no
/// credentials, at most 2048 characters, not an IP literal of a non-public
/// range ([`target`]).
pub fn validate_url(field: &str, raw: &str) -> Result<url::Url> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2048 {
        return Err(Error::invalid(field, "must be an absolute https URL of at most 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|e| Error::invalid(field, format!("not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(field, "must not carry credentials; authenticate deliveries by their signature"));
    }
    if url.fragment().is_some() {
        return Err(Error::invalid(field, "must not have a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(Error::invalid(field, "must name a host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(Error::invalid(field, "must be https (plain http only to localhost, for development)")),
        _ => return Err(Error::invalid(field, "must be an https URL")),
    }
    target::check_literal(&url).map_err(|why| Error::invalid(field, why))?;
    Ok(url)
}

/// Checks and normalizes the event types: `*`, `<object>.*` or `<object>.<event>`
/// (lower case, `[a-z_]`), objects among [`OBJECT_TYPES`]; duplicates removed.
pub fn validate_event_types(field: &str, types: &[String]) -> Result<Vec<String>> {
    if types.is_empty() {
        return Err(Error::invalid(field, "must name at least one event type (e.g. \"movement.*\")"));
    }
    if types.len() > MAX_EVENT_TYPES {
        return Err(Error::invalid(field, format!("at most {MAX_EVENT_TYPES} event types")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in types.iter().enumerate() {
        let t = t.trim();
        let ok = t == "*"
            || t.split_once('.').is_some_and(|(object, event)| {
                OBJECT_TYPES.contains(&object)
                    && (event == "*" || (!event.is_empty() && event.len() <= 64 && event.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')))
            });
        if !ok {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("`{}` is not an event type: use `*`, `<object>.*` or `<object>.<event>` with object one of {}", t.chars().take(80).collect::<String>(), OBJECT_TYPES.join(", ")),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// An endpoint's description: at most 256 characters, no control characters; blank is none.
fn validate_description(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        Some(d) if d.chars().count() > 256 => Err(Error::invalid("description", "at most 256 characters")),
        Some(d) if d.chars().any(char::is_control) => Err(Error::invalid("description", "must not contain control characters")),
        Some("") | None => Ok(None),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

/// A fresh signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    format!("whsec_{}", hex::encode(k))
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Emledger-Signature` header value: `t=<timestamp>` and one `v1=` per secret.
pub fn signature_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut h = format!("t={timestamp}");
    for s in secrets {
        h.push_str(",v1=");
        h.push_str(&sign(s, timestamp, body));
    }
    h
}

/// Verifies an `Emledger-Signature` header as a receiver should: some `v1`
/// matches (in constant time) and `t` is within `tolerance_secs` of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    sigs.iter().any(|s| {
        let Ok(given) = hex::decode(s) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    })
}

/// Audits an action on endpoint `id` in the action's transaction.
async fn record(conn: &mut PgConnection, actor: &audit::Actor, client_id: Uuid, action: &str, id: Uuid, detail: serde_json::Value) -> Result<()> {
    let what = audit::Action { action, object_type: "webhook_endpoint", object_id: id.to_string(), detail };
    audit::record(conn, actor, Some(client_id), what).await?;
    Ok(())
}

/// Registers an endpoint; returns it with its secret (the only time it is shown).
pub async fn create_endpoint(conn: &mut PgConnection, actor: &audit::Actor, client_id: Uuid, new: NewEndpoint) -> Result<(Endpoint, String)> {
    let url = validate_url("url", &new.url)?;
    let types = validate_event_types("eventTypes", &new.event_types)?;
    let description = validate_description(new.description.as_deref())?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // one tenant at a time, so the limit holds under concurrent requests
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::text, 0))").bind(client_id).execute(&mut *tx).await?;
    let (live,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_endpoints WHERE client_id = $1 AND deleted_at IS NULL")
        .bind(client_id)
        .fetch_one(&mut *tx)
        .await?;
    if live >= MAX_ENDPOINTS {
        return Err(Error::conflict("too_many_endpoints", format!("a tenant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")));
    }
    let secret = new_secret();
    let id = Uuid::now_v7();
    let endpoint: Endpoint = sqlx::query_as(&format!(
        "INSERT INTO webhook_endpoints (id, client_id, url, description, event_types, secret) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(client_id)
    .bind(url.as_str())
    .bind(&description)
    .bind(&types)
    .bind(sealed::for_storage(id, &secret))
    .fetch_one(&mut *tx)
    .await?;
    record(&mut tx, actor, client_id, "webhook_endpoint.created", id, serde_json::json!({ "url": url.as_str(), "eventTypes": types })).await?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

/// What a tenant changes on an endpoint (absent: kept).
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
}

/// Changes an endpoint's URL, event types or description. Events recorded
/// before keep going to it; new ones follow the new subscription.
pub async fn update_endpoint(conn: &mut PgConnection, actor: &audit::Actor, client_id: Uuid, id: Uuid, change: EndpointChange) -> Result<Endpoint> {
    let url = change.url.as_deref().map(|u| validate_url("url", u)).transpose()?;
    let types = change.event_types.as_deref().map(|t| validate_event_types("eventTypes", t)).transpose()?;
    let description = change.description.is_some().then(|| validate_description(change.description.as_deref())).transpose()?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let endpoint: Option<Endpoint> = sqlx::query_as(&format!(
        "UPDATE webhook_endpoints SET url = COALESCE($3, url), event_types = COALESCE($4, event_types),
                description = CASE WHEN $5 THEN $6 ELSE description END, updated_at = now()
         WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL
         RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(client_id)
    .bind(url.as_ref().map(|u| u.as_str()))
    .bind(&types)
    .bind(description.is_some())
    .bind(description.flatten())
    .fetch_optional(&mut *tx)
    .await?;
    let endpoint = endpoint.ok_or(Error::NotFound("webhook endpoint"))?;
    record(&mut tx, actor, client_id, "webhook_endpoint.updated", id, serde_json::json!({ "url": endpoint.url, "eventTypes": endpoint.event_types })).await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// Gives an endpoint a new secret (returned, shown once). The old one keeps
/// signing too for `grace_secs` (0: stops at once, at most 7 days), so receivers
/// can switch without losing events.
pub async fn rotate_secret(conn: &mut PgConnection, actor: &audit::Actor, client_id: Uuid, id: Uuid, grace_secs: i64) -> Result<(Endpoint, String)> {
    if !(0..=7 * 24 * 3600).contains(&grace_secs) {
        return Err(Error::invalid("expiresInSeconds", "must be between 0 and 604800 (7 days)"));
    }
    let secret = new_secret();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let endpoint: Option<Endpoint> = sqlx::query_as(&format!(
        "UPDATE webhook_endpoints SET previous_secret = CASE WHEN $4 > 0 THEN secret END,
                previous_secret_expires_at = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END,
                secret = $3, updated_at = now()
         WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL
         RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(client_id)
    .bind(sealed::for_storage(id, &secret))
    .bind(grace_secs as f64)
    .fetch_optional(&mut *tx)
    .await?;
    let endpoint = endpoint.ok_or(Error::NotFound("webhook endpoint"))?;
    record(&mut tx, actor, client_id, "webhook_endpoint.secret_rotated", id, serde_json::json!({ "previousSecretValidSeconds": grace_secs })).await?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

/// Deletes an endpoint: nothing more is recorded or sent for it; its pending
/// deliveries become FAILED ("endpoint deleted"). Its history stays listable.
pub async fn delete_endpoint(conn: &mut PgConnection, actor: &audit::Actor, client_id: Uuid, id: Uuid) -> Result<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET deleted_at = now(), updated_at = now(), secret = '', previous_secret = NULL
         WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(client_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("webhook endpoint"));
    }
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'FAILED', last_error = 'endpoint deleted', claimed_until = NULL, updated_at = now()
         WHERE endpoint_id = $1 AND status = 'PENDING'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    record(&mut tx, actor, client_id, "webhook_endpoint.deleted", id, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a delivery again (whatever its status): PENDING, due now, with a fresh
/// retry period. Refused for a deleted endpoint.
pub async fn redeliver(conn: &mut PgConnection, client_id: Uuid, delivery_id: Uuid) -> Result<()> {
    let row: Option<(Option<chrono::DateTime<chrono::Utc>>,)> = sqlx::query_as(
        "SELECT e.deleted_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.id = $1 AND d.client_id = $2",
    )
    .bind(delivery_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => return Err(Error::NotFound("webhook delivery")),
        Some((Some(_),)) => return Err(Error::conflict("endpoint_deleted", "the delivery's endpoint was deleted")),
        Some((None,)) => {}
    }
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = now(), round_started_at = now(),
                claimed_until = NULL, updated_at = now()
         WHERE id = $1 AND client_id = $2",
    )
    .bind(delivery_id)
    .bind(client_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(validate_url("url", "https://example.com/hook").is_ok());
        assert!(validate_url("url", "http://127.0.0.1:8080/hook").is_ok());
        assert!(validate_url("url", "http://localhost/hook").is_ok());
        assert!(validate_url("url", "http://example.com/hook").is_err());
        assert!(validate_url("url", "ftp://example.com/").is_err());
        assert!(validate_url("url", "https://user:pw@example.com/").is_err());
        assert!(validate_url("url", "not a url").is_err());
        assert!(validate_url("url", "").is_err());
    }

    #[test]
    fn event_types() {
        let v = |t: &[&str]| validate_event_types("eventTypes", &t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(v(&["movement.*", "movement.*", "hold.created"]).unwrap(), vec!["movement.*", "hold.created"]);
        assert!(v(&["*"]).is_ok());
        assert!(v(&[]).is_err());
        assert!(v(&["payment.*"]).is_err());
        assert!(v(&["movement."]).is_err());
        assert!(v(&["movement.SUCCESS"]).is_err());
        assert!(v(&["movement"]).is_err());
    }

    #[test]
    fn signatures_verify_and_expire() {
        let body = br#"{"id":"x"}"#;
        let h = signature_header(&["whsec_a", "whsec_b"], 1_700_000_000, body);
        assert!(verify("whsec_a", &h, body, 1_700_000_010, 300));
        assert!(verify("whsec_b", &h, body, 1_700_000_010, 300));
        assert!(!verify("whsec_c", &h, body, 1_700_000_010, 300));
        assert!(!verify("whsec_a", &h, b"{}", 1_700_000_010, 300));
        assert!(!verify("whsec_a", &h, body, 1_700_001_000, 300));
        // computed independently: python3 hmac.new(b"key", b"1.body", sha256)
        assert_eq!(sign("key", 1, b"body"), "91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5");
    }
}
