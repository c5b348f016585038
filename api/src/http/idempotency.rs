//! Idempotent creation (seeds 002, DESIGN "operation pipeline" step 4): an
//! `Idempotency-Key` header or `idempotencyKey` body field. Same key + same request
//! → the stored response again, with `Idempotency-Replayed: true`; same key +
//! different request → 422 `idempotency_key_reused`. The record is claimed in the
//! same transaction as the creation, so a concurrent duplicate blocks on it and
//! then replays; a 4xx refusal is remembered too.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{
    error::{Error, Location, Result},
    ApiContext,
};

/// A claimed key.
pub struct Claim {
    key: String,
    endpoint: String,
    hash: Vec<u8>,
}

/// What to do after trying to claim a key.
pub enum Begin {
    /// Go on (with the claim to complete, when a key was given).
    Proceed(Option<Claim>),
    /// The stored response for this key.
    Replay(Response),
}

/// The request's key: the header, or the body field; both must agree when both given.
pub fn key(headers: &HeaderMap, body_key: Option<&str>) -> Result<Option<String>> {
    let header = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| bad_key("Idempotency-Key"))?.trim().to_owned()),
    };
    let body = body_key.map(|k| k.trim().to_owned());
    let key = match (header, body) {
        (Some(h), Some(b)) if h != b => {
            return Err(Error::Invalid {
                field: "idempotencyKey".into(),
                location: Location::Body,
                reason: "differs from the Idempotency-Key header".into(),
            })
        }
        (Some(h), _) => Some(h),
        (None, b) => b,
    };
    if let Some(k) = &key {
        if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad_key("idempotencyKey"));
        }
    }
    Ok(key)
}

fn bad_key(field: &str) -> Error {
    Error::Invalid {
        field: field.into(),
        location: if field == "Idempotency-Key" { Location::Header } else { Location::Body },
        reason: "must be 1 to 255 visible ASCII characters".into(),
    }
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

pub(crate) fn request_hash(endpoint: &str, raw_body: &[u8]) -> Vec<u8> {
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

#[derive(sqlx::FromRow)]
struct Record {
    request_hash: Vec<u8>,
    status_code: Option<i16>,
    response: Option<Value>,
}

pub(crate) fn replayed(status: StatusCode, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert("idempotency-replayed", HeaderValue::from_static("true"));
    res
}

/// Claims `key` inside `tx`, or finds the response stored for it.
pub async fn begin(
    tx: &mut PgConnection,
    client_id: Uuid,
    key: Option<String>,
    endpoint: &str,
    raw_body: &[u8],
) -> Result<Begin> {
    let Some(key) = key else { return Ok(Begin::Proceed(None)) };
    let hash = request_hash(endpoint, raw_body);
    // The key is "in flight" while another transaction holds this lock: answer
    // 409 at once rather than queue behind it (the lock ends with that transaction).
    let (free,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7))")
        .bind(client_id.to_string())
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
    if !free {
        return Err(Error::conflict("idempotency_in_flight", "a request with this Idempotency-Key is still being processed"));
    }
    let claimed = sqlx::query(
        "INSERT INTO api_idempotency (client_id, key, endpoint, request_hash) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(client_id)
    .bind(&key)
    .bind(endpoint)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(Begin::Proceed(Some(Claim { key, endpoint: endpoint.to_owned(), hash })));
    }
    let rec: Record = sqlx::query_as("SELECT request_hash, status_code, response FROM api_idempotency WHERE client_id = $1 AND key = $2")
        .bind(client_id)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
    if rec.request_hash != hash {
        return Err(Error::IdempotencyKeyReused);
    }
    match (rec.status_code, rec.response) {
        (Some(code), Some(body)) => {
            let status = StatusCode::from_u16(code as u16).unwrap_or(StatusCode::OK);
            Ok(Begin::Replay(replayed(status, body)))
        }
        _ => Err(Error::conflict("idempotency_in_flight", "a request with this Idempotency-Key is still being processed")),
    }
}

/// Completes the request: commits the creation with its stored response, or
/// rolls it back and remembers a 4xx refusal for the key.
pub async fn finish(
    ctx: &ApiContext,
    client_id: Uuid,
    mut tx: Transaction<'static, Postgres>,
    claim: Option<Claim>,
    outcome: Result<(StatusCode, Value)>,
) -> Result<Response> {
    match outcome {
        Ok((status, body)) => {
            if let Some(c) = &claim {
                sqlx::query("UPDATE api_idempotency SET status_code = $3, response = $4 WHERE client_id = $1 AND key = $2")
                    .bind(client_id)
                    .bind(&c.key)
                    .bind(status.as_u16() as i16)
                    .bind(&body)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok((status, Json(body)).into_response())
        }
        Err(e) => {
            tx.rollback().await?;
            if let (Some(c), true) = (&claim, e.status().is_client_error()) {
                // the refusal is the answer for this key from now on
                sqlx::query(
                    "INSERT INTO api_idempotency (client_id, key, endpoint, request_hash, status_code, response) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(client_id)
                .bind(&c.key)
                .bind(&c.endpoint)
                .bind(&c.hash)
                .bind(e.status().as_u16() as i16)
                .bind(e.envelope())
                .execute(ctx.pool())
                .await?;
            }
            Err(e)
        }
    }
}
