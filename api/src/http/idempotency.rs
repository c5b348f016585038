//! The one request path of every creating POST (money commands, users, wallets,
//! schedules): claim the `Idempotency-Key` (header, or the body's
//! `idempotencyKey`; both must agree) → run the step inside the same Postgres
//! transaction → store its answer for the key → commit → wake the submitter when
//! operations were stored. Same key + same request → the stored answer again with
//! `Idempotency-Replayed: true`; same key + different request → 422
//! `idempotency_key_reused`; key still in flight → 409 `idempotency_in_flight`; a
//! 4xx refusal is remembered for the key. The rules live in
//! [`emledger_operations::idempotency`].

use std::future::Future;

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use emledger_operations::{
    idempotency::{self as rules, Begin, Stored},
    Command,
};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    error::{Error, Location, Result},
    ApiContext,
};

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

/// An answer sent again for a key (or a reference) seen before.
pub fn replayed(status: StatusCode, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert("idempotency-replayed", HeaderValue::from_static("true"));
    res
}

/// What an idempotent POST does inside its transaction: returns the status and
/// body to answer (and to store for the key).
pub trait Step: Send + Clone {
    /// True when the step stored operations for the submitter.
    const STORES_OPERATIONS: bool;

    fn run(self, ctx: &ApiContext, conn: &mut PgConnection, client_id: Uuid) -> impl Future<Output = Result<(StatusCode, Value)>> + Send;
}

/// How the API answers an accepted command: the status and the JSON body,
/// read inside the command's transaction when it needs more than the output.
pub trait Render: Send + Sized {
    fn render(self, ctx: &ApiContext, conn: &mut PgConnection) -> impl Future<Output = Result<(StatusCode, Value)>> + Send;
}

/// A domain command as a [`Step`]: execute, then render.
#[derive(Clone)]
pub struct Run<C>(pub C);

impl<C> Step for Run<C>
where
    C: Command + Clone,
    C::Output: Render,
{
    const STORES_OPERATIONS: bool = C::STORES_OPERATIONS;

    async fn run(self, ctx: &ApiContext, conn: &mut PgConnection, client_id: Uuid) -> Result<(StatusCode, Value)> {
        let output = self.0.execute(ctx.platform(), &mut *conn, client_id).await?;
        output.render(ctx, conn).await
    }
}

/// A step that is an admin action: its audit event (with the answer as detail)
/// is stored in the step's own transaction, once (a replay stores nothing).
#[derive(Clone)]
pub struct Audited<S> {
    pub step: S,
    pub actor: emledger_operations::audit::Actor,
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
}

impl<S: Step> Step for Audited<S> {
    const STORES_OPERATIONS: bool = S::STORES_OPERATIONS;

    async fn run(self, ctx: &ApiContext, conn: &mut PgConnection, client_id: Uuid) -> Result<(StatusCode, Value)> {
        let (status, body) = self.step.run(ctx, &mut *conn, client_id).await?;
        let what = emledger_operations::audit::Action { action: self.action, object_type: self.object_type, object_id: self.object_id, detail: body.clone() };
        emledger_operations::audit::record(conn, &self.actor, Some(client_id), what).await?;
        Ok((status, body))
    }
}

/// Where a request is going: the caller, its key and the request's fingerprint.
pub struct Request<'a> {
    pub client_id: Uuid,
    pub key: Option<String>,
    /// `METHOD /path` with the path's ids filled in.
    pub endpoint: String,
    pub raw_body: &'a [u8],
}

/// How many times a request that hit a deadlock or a serialization failure runs again.
const CONFLICT_RETRIES: u32 = 8;

/// Runs `step` as an idempotent request (see the module docs). A deadlock or
/// serialization failure rolled the whole transaction back: it runs again (with a
/// short jittered pause), never surfacing as a 500.
pub async fn run<S: Step>(ctx: &ApiContext, req: Request<'_>, step: S) -> Result<Response> {
    let mut attempt = 0;
    loop {
        match run_once(ctx, &req, step.clone()).await {
            Err(e) if e.is_retryable_conflict() && attempt < CONFLICT_RETRIES => {
                attempt += 1;
                metrics::counter!("emledger_api_conflict_retries_total").increment(1);
                tracing::debug!(attempt, endpoint = %req.endpoint, "deadlock or serialization failure; running the request again");
                let pause = 5 * attempt as u64 + (rand::random::<u64>() % 20);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
}

async fn run_once<S: Step>(ctx: &ApiContext, req: &Request<'_>, step: S) -> Result<Response> {
    let client_id = req.client_id;
    let mut tx = ctx.pool().begin().await?;
    // A replay or a refusal ends the transaction before it answers: it holds the
    // key's lock, and a transaction merely dropped is rolled back only when its
    // pooled connection is used again; meanwhile a retry of the same key would be
    // told 409 `idempotency_in_flight`.
    let claim = match rules::begin(&mut tx, client_id, req.key.clone(), &req.endpoint, req.raw_body).await {
        Ok(Begin::Proceed(claim)) => claim,
        Ok(Begin::Replay(stored)) => {
            tx.rollback().await?;
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            return Ok(replayed(status, stored.body));
        }
        Err(e) => {
            tx.rollback().await?;
            return Err(e.into());
        }
    };
    match step.run(ctx, &mut tx, client_id).await {
        Ok((status, body)) => {
            let answer = Stored { status: status.as_u16(), body };
            if let Some(c) = &claim {
                rules::complete(&mut tx, client_id, c, &answer).await?;
            }
            tx.commit().await?;
            if S::STORES_OPERATIONS {
                ctx.platform().stored();
            }
            Ok((status, Json(answer.body)).into_response())
        }
        Err(e) => {
            tx.rollback().await?;
            if let (Some(c), true) = (&claim, e.status().is_client_error()) {
                let answer = Stored { status: e.status().as_u16(), body: e.envelope() };
                rules::remember_refusal(ctx.pool(), client_id, c, &answer).await?;
            }
            Err(e)
        }
    }
}
