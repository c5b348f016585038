//! Idempotent requests (seed 002, DESIGN "operation pipeline" step 4). A key is
//! claimed in the SAME transaction as the command it guards: same key + same
//! request → the stored answer again; same key + different request →
//! [`Error::IdempotencyKeyReused`]; a key whose first request is still running →
//! `idempotency_in_flight` at once (a transaction-scoped advisory lock, never a
//! queue behind it). A refusal is remembered for the key, like a success.
//!
//! The stored answer is opaque here (a status number and a JSON body chosen by
//! the caller): this module knows no HTTP.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{Error, Result};

/// A stored answer.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub body: Value,
}

/// A claimed key, completed by [`complete`] or [`remember_refusal`].
#[derive(Debug)]
pub struct Claim {
    key: String,
    endpoint: String,
    hash: Vec<u8>,
}

/// What to do after trying to claim a key.
#[derive(Debug)]
pub enum Begin {
    /// Go on (with the claim to complete, when a key was given).
    Proceed(Option<Claim>),
    /// The answer stored for this key.
    Replay(Stored),
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The fingerprint of a request: the endpoint and its JSON body with sorted keys
/// (so key order and whitespace do not make two requests differ).
pub fn request_hash(endpoint: &str, raw_body: &[u8]) -> Vec<u8> {
    let mut text = String::new();
    match serde_json::from_slice::<Value>(raw_body) {
        Ok(v) => canonical(&v, &mut text),
        Err(_) => text = String::from_utf8_lossy(raw_body).into_owned(),
    }
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize().to_vec()
}

fn in_flight() -> Error {
    Error::conflict("idempotency_in_flight", "a request with this Idempotency-Key is still being processed")
}

#[derive(sqlx::FromRow)]
struct Record {
    request_hash: Vec<u8>,
    status_code: Option<i16>,
    response: Option<Value>,
}

/// One round trip that claims a key or finds its answer (`$1` client id, `$2`
/// key, `$3` endpoint, `$4` request hash). A key already answered is read, not
/// locked: its replays (and refusals of another body) never contend. Otherwise
/// the key's transaction lock is tried and, only when it is free, the key is
/// claimed. Returns `(free, claimed, request_hash, status_code, response)`:
/// `free` is NULL when the key was answered already (the other columns are that
/// answer), false when another transaction holds the key.
pub const CLAIM_SQL: &str = "WITH prior AS (SELECT request_hash, status_code, response FROM api_idempotency WHERE client_id = $1 AND key = $2),
      l AS (SELECT pg_try_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 7)) AS free
            WHERE NOT EXISTS (SELECT 1 FROM prior WHERE status_code IS NOT NULL)),
      c AS (INSERT INTO api_idempotency (client_id, key, endpoint, request_hash)
            SELECT $1, $2, $3, $4 FROM l WHERE l.free
            ON CONFLICT DO NOTHING RETURNING 1)
 SELECT (SELECT free FROM l), EXISTS (SELECT 1 FROM c), p.request_hash, p.status_code, p.response
 FROM (SELECT 1) AS one LEFT JOIN prior AS p ON true";

/// Claims `key` inside the caller's transaction, or finds the answer stored for it.
pub async fn begin(conn: &mut PgConnection, client_id: Uuid, key: Option<String>, endpoint: &str, raw_body: &[u8]) -> Result<Begin> {
    let Some(key) = key else { return Ok(Begin::Proceed(None)) };
    let hash = request_hash(endpoint, raw_body);
    // The key is "in flight" while another transaction holds this lock: answer
    // at once rather than queue behind it (the lock ends with that transaction).
    let (free, claimed, prior_hash, prior_status, prior_response): (Option<bool>, bool, Option<Vec<u8>>, Option<i16>, Option<Value>) =
        sqlx::query_as(CLAIM_SQL).bind(client_id).bind(&key).bind(endpoint).bind(&hash).fetch_one(&mut *conn).await?;
    let rec = match free {
        Some(false) => return Err(in_flight()),
        Some(true) if claimed => return Ok(Begin::Proceed(Some(Claim { key, endpoint: endpoint.to_owned(), hash }))),
        // answered before this statement began: its answer came with it
        None => Record { request_hash: prior_hash.unwrap_or_default(), status_code: prior_status, response: prior_response },
        // answered between this statement's snapshot and its lock: read it again
        Some(true) => sqlx::query_as("SELECT request_hash, status_code, response FROM api_idempotency WHERE client_id = $1 AND key = $2")
            .bind(client_id)
            .bind(&key)
            .fetch_one(&mut *conn)
            .await?,
    };
    if rec.request_hash != hash {
        return Err(Error::IdempotencyKeyReused);
    }
    match (rec.status_code, rec.response) {
        (Some(code), Some(body)) => Ok(Begin::Replay(Stored { status: code as u16, body })),
        _ => Err(in_flight()),
    }
}

/// Stores the answer of an accepted request for its key, inside the transaction
/// that is about to commit the command.
pub async fn complete(conn: &mut PgConnection, client_id: Uuid, claim: &Claim, answer: &Stored) -> Result<()> {
    sqlx::query("UPDATE api_idempotency SET status_code = $3, response = $4 WHERE client_id = $1 AND key = $2")
        .bind(client_id)
        .bind(&claim.key)
        .bind(answer.status as i16)
        .bind(&answer.body)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// After the command's transaction was rolled back: the refusal becomes the
/// answer for this key from now on.
pub async fn remember_refusal(pool: &PgPool, client_id: Uuid, claim: &Claim, answer: &Stored) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_idempotency (client_id, key, endpoint, request_hash, status_code, response) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(client_id)
    .bind(&claim.key)
    .bind(&claim.endpoint)
    .bind(&claim.hash)
    .bind(answer.status as i16)
    .bind(&answer.body)
    .execute(pool)
    .await?;
    Ok(())
}
