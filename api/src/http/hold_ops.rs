//! Holds through the API (seed 003): create, execute (closing; a partial execute
//! releases the rest), execute and keep open, release, renew. The platform is the
//! notary of every hold the API creates (`holdFromWithExpirationDate`, as default
//! operator, issuer = platform); a hold whose notary is someone else (a dApp's)
//! cannot be settled through the API: 409 `hold_not_notarized_by_platform`.
//!
//! Hold statuses: the request sets `*_REQUESTED`; the submitter sets
//! `PENDING_DLT_*` once the transaction is sent; the indexer sets the chain's
//! outcome (CREATED, EXECUTED, EXECUTED_AND_KEPT_OPEN, RELEASED_BY_NOTARY,
//! RELEASED_ON_EXPIRATION, RENEWED); a revert sets `*_FAILED` (with `error`).
//! One operation at a time per hold: while one is in flight (not yet applied by
//! the indexer) another is refused with 409 `hold_operation_in_progress`, which
//! makes a concurrent execute and release resolve to exactly one winner.

use alloy::{primitives::U256, sol_types::SolCall};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Router,
};
use chrono::{DateTime, Utc};
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    holds::{load_hold, HoldView},
    idempotency::{self, Begin},
    money::{self, kind, AcceptedLinks, NewMovement, NewOperation, Party},
    wallets::wallet_facts,
    ApiContext, Error, Result,
};

/// Create a hold on the wallet's funds in favour of `targetWalletId`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateHold {
    #[schema(value_type = String, example = "1.50")]
    pub amount: Value,
    pub target_wallet_id: Uuid,
    pub concept: Option<String>,
    /// RFC 3339 with an offset (`2030-02-06T10:04:45+02:00`); absent, null or empty = perpetual.
    pub expiration: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Execute a hold (`executeHold`, `executeHoldAndKeepOpen`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecuteHold {
    #[schema(value_type = String, example = "1.50")]
    pub amount: Value,
    pub concept: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Release a hold (its remaining value goes back to the payer's available balance).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReleaseHold {
    pub concept: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Renew a hold: a new expiration; absent, null or empty = perpetual.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenewHold {
    pub expiration: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The hold after an accepted request (status `*_REQUESTED`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldAccepted {
    #[serde(flatten)]
    pub hold: HoldView,
    /// The API operation (see `GET /api/v1/public/operations/{id}`).
    pub api_operation_id: Uuid,
    /// The PENDING movements this request created.
    pub movement_ids: Vec<Uuid>,
    #[serde(rename = "_operation")]
    pub operation: AcceptedLinks,
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/hold", post(create_hold))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHold", post(execute_hold))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHoldAndKeepOpen", post(execute_hold_keep_open))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/releaseHold", post(release_hold))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/renewHold", post(renew_hold))
}

/// Create a hold (the platform is the notary). Idempotent with `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/hold", tag = "money", request_body = CreateHold,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, description = "hold CREATION_REQUESTED", body = HoldAccepted), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 404, body = super::docs::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`", body = super::docs::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::docs::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_hold(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CreateHold>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
    let endpoint = format!("POST /api/v1/public/wallets/{wallet_id}/hold");
    let mut tx = ctx.pool().begin().await?;
    let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Proceed(c) => c,
    };
    let outcome = store_create(&mut tx, &ctx, auth.client_id, wallet_id, body.value).await;
    let res = idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await?;
    money::stored(&ctx);
    Ok(res)
}

async fn store_create(
    conn: &mut PgConnection,
    ctx: &ApiContext,
    client_id: Uuid,
    wallet_id: Uuid,
    b: CreateHold,
) -> Result<(StatusCode, Value)> {
    let token = money::token(ctx).await?;
    let platform = money::platform(ctx)?;
    let amount = money::amount("amount", &b.amount, token.decimals)?;
    let concept = money::concept(b.concept)?;
    let expiration = money::expiration("expiration", b.expiration.as_deref())?;
    if b.target_wallet_id == wallet_id {
        return Err(Error::invalid("targetWalletId", "must differ from the payer wallet"));
    }
    let payer = wallet_facts(conn, client_id, wallet_id, true).await?;
    let payee = wallet_facts(conn, client_id, b.target_wallet_id, false)
        .await
        .map_err(|_| Error::ReferenceNotFound { resource: "wallet", field: "targetWalletId" })?;
    money::require_ready(&payer, "payer")?;
    money::require_ready(&payee, "target")?;
    money::check_available(conn, &token, &payer.dlt_address, amount).await?;

    let hold_id = Uuid::now_v7();
    let op_id = Uuid::now_v7();
    let chain_op = hold_id.to_string();
    let calldata = EmToken::holdFromWithExpirationDateCall {
        operationId: chain_op.clone(),
        from: money::addr(&payer.dlt_address)?,
        to: money::addr(&payee.dlt_address)?,
        notary: platform,
        value: amount.to_u256(),
        expiration: U256::from(expiration.map(|e| e.timestamp().max(0) as u64).unwrap_or(0)),
    }
    .abi_encode();
    money::insert_operation(
        conn,
        NewOperation {
            id: op_id,
            client_id,
            kind: kind::HOLD_CREATE,
            chain_operation_id: chain_op.clone(),
            token: &token,
            calldata,
            debit: Some((payer.dlt_address.clone(), amount.minor())),
            wallet_id: Some(wallet_id),
            hold_id: Some(hold_id),
            payout_id: None,
        },
    )
    .await?;
    insert_hold_row(conn, ctx, &token, hold_id, client_id, platform, &payer, &payee.dlt_address, Some(payee.id), amount.minor(), expiration, concept.clone())
        .await?;
    let lock_id = Uuid::now_v7();
    money::insert_movement(
        conn,
        ctx,
        &token,
        NewMovement {
            id: lock_id,
            client_id,
            kind: MovementType::LOCK,
            amount: amount.minor(),
            concept,
            owner: Party::of(&payer),
            origin: None,
            target: None,
            operation_id: op_id,
            chain_operation_id: chain_op,
            hold_operation_id: None,
        },
    )
    .await?;
    let hold = load_hold(conn, ctx, client_id, wallet_id, hold_id).await?;
    let body = HoldAccepted {
        hold,
        api_operation_id: op_id,
        movement_ids: vec![lock_id],
        operation: money::accepted_links(ctx, format!("/api/v1/public/wallets/{wallet_id}/holds/{hold_id}"), op_id),
    };
    Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
}

/// Inserts the API's row of a hold it is about to create (the indexer upserts it).
#[allow(clippy::too_many_arguments)]
pub async fn insert_hold_row(
    conn: &mut PgConnection,
    ctx: &ApiContext,
    token: &money::Token,
    hold_id: Uuid,
    client_id: Uuid,
    platform: alloy::primitives::Address,
    payer: &super::wallets::WalletFacts,
    payee_address: &str,
    payee_wallet_id: Option<Uuid>,
    amount: u128,
    expiration: Option<DateTime<Utc>>,
    concept: Option<String>,
) -> Result<()> {
    let platform = format!("{platform:#x}");
    sqlx::query(
        "INSERT INTO holds (id, chain_id, contract_address, operation_id, client_id, issuer_dlt_address, payer_dlt_address,
                            payee_dlt_address, notary_dlt_address, payer_wallet_id, payee_wallet_id, held_value,
                            remaining_value, status, api_created, expiration, dlt_network, concept)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $9, $10, $11::numeric, $11::numeric, 'CREATION_REQUESTED', true, $12, $13, $14)",
    )
    .bind(hold_id)
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(hold_id.to_string())
    .bind(client_id)
    .bind(&platform)
    .bind(&payer.dlt_address)
    .bind(payee_address)
    .bind(payer.id)
    .bind(payee_wallet_id)
    .bind(amount.to_string())
    .bind(expiration)
    .bind(&ctx.config().dlt_network)
    .bind(concept)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Execute,
    ExecuteKeepOpen,
    Release,
    Renew,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Execute => "executeHold",
            Action::ExecuteKeepOpen => "executeHoldAndKeepOpen",
            Action::Release => "releaseHold",
            Action::Renew => "renewHold",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Action::Execute => kind::HOLD_EXECUTE,
            Action::ExecuteKeepOpen => kind::HOLD_EXECUTE_KEEP_OPEN,
            Action::Release => kind::HOLD_RELEASE,
            Action::Renew => kind::HOLD_RENEW,
        }
    }
}

/// What the body of an action asks for.
struct ActionRequest {
    amount: Option<Value>,
    concept: Option<String>,
    expiration: Option<String>,
}

macro_rules! action_handler {
    ($fn:ident, $action:expr, $body:ty, $path:literal, $doc:literal, |$b:ident| $req:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "money", request_body = $body,
            params(("walletId" = Uuid, Path, description = "the payer wallet"), ("holdId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
            responses((status = 202, body = HoldAccepted), (status = 400, body = super::docs::ErrorEnvelope),
                (status = 404, body = super::docs::ErrorEnvelope),
                (status = 409, description = "`hold_not_notarized_by_platform`, `hold_operation_in_progress`, `hold_not_open`, `hold_reserved_for_cash_out`, `amount_exceeds_held_value`, `wallet_not_ready`", body = super::docs::ErrorEnvelope),
                (status = 422, description = "`idempotency_key_reused`", body = super::docs::ErrorEnvelope),
                (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::docs::ErrorEnvelope)),
            security(("apiKey" = []), ("bearer" = [])))]
        pub async fn $fn(
            auth: Auth<Write>,
            State(ctx): State<ApiContext>,
            Path((wallet_id, hold_id)): Path<(String, String)>,
            headers: HeaderMap,
            body: extract::Json<$body>,
        ) -> Result<Response> {
            let wallet_id = path_uuid("walletId", &wallet_id)?;
            let hold_id = path_uuid("holdId", &hold_id)?;
            let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
            let endpoint = format!("POST /api/v1/public/wallets/{wallet_id}/hold/{hold_id}/{}", $action.name());
            let $b = body.value;
            let req: ActionRequest = $req;
            let mut tx = ctx.pool().begin().await?;
            let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
                Begin::Replay(r) => return Ok(r),
                Begin::Proceed(c) => c,
            };
            let outcome = store_action(&mut tx, &ctx, auth.client_id, wallet_id, hold_id, $action, req).await;
            let res = idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await?;
            money::stored(&ctx);
            Ok(res)
        }
    };
}

action_handler!(execute_hold, Action::Execute, ExecuteHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHold",
    "Execute a hold: `amount` goes to the payee and the hold closes; a partial execute releases the rest to the payer.",
    |b| ActionRequest { amount: Some(b.amount), concept: b.concept, expiration: None });
action_handler!(execute_hold_keep_open, Action::ExecuteKeepOpen, ExecuteHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHoldAndKeepOpen",
    "Execute part of a hold and keep the rest held (executing all of it closes the hold).",
    |b| ActionRequest { amount: Some(b.amount), concept: b.concept, expiration: None });
action_handler!(release_hold, Action::Release, ReleaseHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/releaseHold",
    "Release a hold: its remaining value becomes available to the payer again.",
    |b| ActionRequest { amount: None, concept: b.concept, expiration: None });
action_handler!(renew_hold, Action::Renew, RenewHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/renewHold",
    "Renew a hold with a new expiration (empty = perpetual).",
    |b| ActionRequest { amount: None, concept: None, expiration: b.expiration });

#[derive(sqlx::FromRow)]
struct HoldFacts {
    operation_id: String,
    payee_dlt_address: Option<String>,
    notary_dlt_address: Option<String>,
    remaining: String,
    status: String,
    chain_status: Option<i16>,
    clearable: bool,
}

async fn store_action(
    conn: &mut PgConnection,
    ctx: &ApiContext,
    client_id: Uuid,
    wallet_id: Uuid,
    hold_id: Uuid,
    action: Action,
    req: ActionRequest,
) -> Result<(StatusCode, Value)> {
    let token = money::token(ctx).await?;
    let platform = money::platform(ctx)?;
    let amount = req.amount.as_ref().map(|a| money::amount("amount", a, token.decimals)).transpose()?;
    let concept = money::concept(req.concept)?;
    let expiration = match action {
        Action::Renew => money::expiration("expiration", req.expiration.as_deref())?,
        _ => None,
    };
    let payer = wallet_facts(conn, client_id, wallet_id, true).await?;
    let hold: HoldFacts = sqlx::query_as(
        "SELECT operation_id, payee_dlt_address, notary_dlt_address, remaining_value::text AS remaining, status, chain_status, clearable
         FROM holds WHERE id = $1 AND payer_dlt_address = $2 AND chain_id = $3 AND contract_address = $4 FOR UPDATE",
    )
    .bind(hold_id)
    .bind(&payer.dlt_address)
    .bind(token.chain_id)
    .bind(&token.contract)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("hold"))?;
    money::require_ready(&payer, "payer")?;
    let platform_hex = format!("{platform:#x}");
    if hold.notary_dlt_address.as_deref() != Some(platform_hex.as_str()) {
        return Err(Error::conflict(
            "hold_not_notarized_by_platform",
            "the notary of this hold is not the platform: only its notary can settle it, directly on the contract",
        ));
    }
    let (reserved,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM payouts WHERE hold_id = $1)")
        .bind(hold_id)
        .fetch_one(&mut *conn)
        .await?;
    if reserved {
        return Err(Error::conflict("hold_reserved_for_cash_out", "this hold reserves the funds of a cash-out; it settles with the payout"));
    }
    let (in_flight,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM operations o WHERE o.hold_id = $1
            AND (o.status IN ('PENDING', 'SIGNED', 'SENT')
                 OR (o.status = 'MINED' AND NOT EXISTS
                     (SELECT 1 FROM chain_events e WHERE e.chain_id = o.chain_id AND e.tx_hash = o.tx_hash))))",
    )
    .bind(hold_id)
    .fetch_one(&mut *conn)
    .await?;
    if in_flight {
        return Err(Error::conflict(
            "hold_operation_in_progress",
            "another operation on this hold is in progress; retry when it has settled",
        ));
    }
    if !matches!(hold.chain_status, Some(1) | Some(3)) {
        return Err(Error::conflict("hold_not_open", format!("the hold is {}; only open holds can be settled or renewed", hold.status)));
    }
    if hold.clearable {
        return Err(Error::conflict("hold_not_open", "the hold backs a clearable transfer and settles with it"));
    }
    let remaining: u128 = hold.remaining.parse().unwrap_or(0);
    if let Some(a) = amount {
        if a.minor() > remaining {
            return Err(Error::conflict(
                "amount_exceeds_held_value",
                format!("the hold has {} left; {} requested", money::wire(remaining, token.decimals), money::wire(a.minor(), token.decimals)),
            ));
        }
    }

    let op_id = Uuid::now_v7();
    let chain_op = hold.operation_id.clone();
    let calldata = match action {
        Action::Execute => {
            EmToken::executeHoldCall { operationId: chain_op.clone(), value: amount.expect("amount").to_u256() }.abi_encode()
        }
        Action::ExecuteKeepOpen => {
            EmToken::executeHoldAndKeepOpenCall { operationId: chain_op.clone(), value: amount.expect("amount").to_u256() }
                .abi_encode()
        }
        Action::Release => EmToken::releaseHoldCall { operationId: chain_op.clone() }.abi_encode(),
        Action::Renew => EmToken::renewHoldWithExpirationDateCall {
            operationId: chain_op.clone(),
            expiration: U256::from(expiration.map(|e| e.timestamp().max(0) as u64).unwrap_or(0)),
        }
        .abi_encode(),
    };
    money::insert_operation(
        conn,
        NewOperation {
            id: op_id,
            client_id,
            kind: action.kind(),
            chain_operation_id: chain_op.clone(),
            token: &token,
            calldata,
            debit: None,
            wallet_id: Some(wallet_id),
            hold_id: Some(hold_id),
            payout_id: None,
        },
    )
    .await?;
    let payee_address = hold.payee_dlt_address.clone().unwrap_or_default();
    let payee = money::party_of(conn, client_id, &payee_address).await?;
    let mut movements = Vec::new();
    match action {
        Action::Execute | Action::ExecuteKeepOpen => {
            let value = amount.expect("amount").minor();
            for (kind, owner) in [(MovementType::TRANSFER_OUT, Party::of(&payer)), (MovementType::TRANSFER_IN, payee.clone())] {
                movements.push((kind, owner, value));
            }
            if action == Action::Execute && value < remaining {
                movements.push((MovementType::RELEASE, Party::of(&payer), remaining - value));
            }
        }
        Action::Release => movements.push((MovementType::RELEASE, Party::of(&payer), remaining)),
        Action::Renew => {}
    }
    let mut ids = Vec::new();
    for (kind, owner, value) in movements {
        let id = Uuid::now_v7();
        let transfer = matches!(kind, MovementType::TRANSFER_IN | MovementType::TRANSFER_OUT);
        money::insert_movement(
            conn,
            ctx,
            &token,
            NewMovement {
                id,
                client_id,
                kind,
                amount: value,
                concept: concept.clone(),
                owner,
                origin: transfer.then(|| Party::of(&payer)),
                target: transfer.then(|| payee.clone()),
                operation_id: op_id,
                chain_operation_id: chain_op.clone(),
                hold_operation_id: Some(chain_op.clone()),
            },
        )
        .await?;
        ids.push(id);
    }
    let (requested, _, _) = money::hold_statuses(action.kind()).expect("hold kind");
    sqlx::query("UPDATE holds SET status = $2, error = NULL, updated_at = now() WHERE id = $1")
        .bind(hold_id)
        .bind(requested)
        .execute(&mut *conn)
        .await?;
    let view = load_hold(conn, ctx, client_id, wallet_id, hold_id).await?;
    let body = HoldAccepted {
        hold: view,
        api_operation_id: op_id,
        movement_ids: ids,
        operation: money::accepted_links(ctx, format!("/api/v1/public/wallets/{wallet_id}/holds/{hold_id}"), op_id),
    };
    Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
}
