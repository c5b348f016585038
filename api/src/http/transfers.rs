//! `POST /api/v1/public/wallets/{walletId}/transfer` (seed 003): the platform, as
//! default operator, moves `amount` from the wallet to `targetWalletId` with
//! `operatorTransfer`. Stores the operation and two PENDING movements
//! (TRANSFER_OUT of the source, TRANSFER_IN of the target) and answers 202; the
//! indexer turns them SUCCESS when the transfer is mined (ERROR on a revert).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Router,
};
use alloy::sol_types::SolCall;
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
    idempotency::{self, Begin},
    money::{self, kind, AcceptedLinks, NewMovement, NewOperation, Party},
    wallets::wallet_facts,
    ApiContext, Error, Result,
};

/// A transfer between two wallets of the tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransferRequest {
    /// Decimal string or number, > 0, at most the token's decimals.
    #[schema(value_type = String, example = "10.50")]
    pub amount: Value,
    pub concept: Option<String>,
    pub target_wallet_id: Uuid,
    /// Same as the `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

/// An accepted transfer: its movements are PENDING until the chain settles them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferAccepted {
    #[serde(rename = "_links")]
    pub links: AcceptedLinks,
    /// The API operation (see `GET /api/v1/public/operations/{id}`).
    pub api_operation_id: Uuid,
    /// The source wallet's TRANSFER_OUT movement.
    pub movement_id: Uuid,
    /// The target wallet's TRANSFER_IN movement.
    pub target_movement_id: Uuid,
    /// `PENDING`.
    pub status: String,
    #[schema(value_type = String, example = "10.50")]
    pub amount: String,
    pub concept: Option<String>,
    pub wallet_id: Uuid,
    pub target_wallet_id: Uuid,
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/api/v1/public/wallets/{walletId}/transfer", post(transfer))
}

/// Transfer money to another wallet of the tenant. Idempotent with `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/transfer", tag = "money", request_body = TransferRequest,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = TransferAccepted), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 404, description = "wallet or targetWalletId unknown", body = super::docs::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`, `idempotency_in_flight`", body = super::docs::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::docs::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn transfer(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<TransferRequest>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
    let endpoint = format!("POST /api/v1/public/wallets/{wallet_id}/transfer");
    let mut tx = ctx.pool().begin().await?;
    let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Proceed(c) => c,
    };
    let outcome = store(&mut tx, &ctx, auth.client_id, wallet_id, body.value).await;
    let res = idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await?;
    money::stored(&ctx);
    Ok(res)
}

/// Stores a transfer (operation + PENDING TRANSFER_OUT/TRANSFER_IN) on `conn`; the
/// caller owns the transaction. Shared by the endpoint and the scheduled-operations
/// worker. The answer is the 202 body ([`TransferAccepted`]).
pub(crate) async fn store(
    conn: &mut PgConnection,
    ctx: &ApiContext,
    client_id: Uuid,
    wallet_id: Uuid,
    b: TransferRequest,
) -> Result<(StatusCode, Value)> {
    let token = money::token(ctx).await?;
    let amount = money::amount("amount", &b.amount, token.decimals)?;
    let concept = money::concept(b.concept)?;
    if b.target_wallet_id == wallet_id {
        return Err(Error::invalid("targetWalletId", "must differ from the source wallet"));
    }
    let source = wallet_facts(conn, client_id, wallet_id, true).await?;
    let target = wallet_facts(conn, client_id, b.target_wallet_id, false)
        .await
        .map_err(|_| Error::ReferenceNotFound { resource: "wallet", field: "targetWalletId" })?;
    money::require_ready(&source, "source")?;
    money::require_ready(&target, "target")?;
    money::check_available(conn, &token, &source.dlt_address, amount).await?;

    let op_id = Uuid::now_v7();
    let chain_op = op_id.to_string();
    let calldata = EmToken::operatorTransferCall {
        operationId: chain_op.clone(),
        from: money::addr(&source.dlt_address)?,
        to: money::addr(&target.dlt_address)?,
        value: amount.to_u256(),
    }
    .abi_encode();
    money::insert_operation(
        conn,
        NewOperation {
            id: op_id,
            client_id,
            kind: kind::TRANSFER,
            chain_operation_id: chain_op.clone(),
            token: &token,
            calldata,
            debit: Some((source.dlt_address.clone(), amount.minor())),
            wallet_id: Some(wallet_id),
            hold_id: None,
            payout_id: None,
        },
    )
    .await?;
    let (out_id, in_id) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, kind, owner) in [(out_id, MovementType::TRANSFER_OUT, &source), (in_id, MovementType::TRANSFER_IN, &target)] {
        money::insert_movement(
            conn,
            ctx,
            &token,
            NewMovement {
                id,
                client_id,
                kind,
                amount: amount.minor(),
                concept: concept.clone(),
                owner: Party::of(owner),
                origin: Some(Party::of(&source)),
                target: Some(Party::of(&target)),
                operation_id: op_id,
                chain_operation_id: chain_op.clone(),
                hold_operation_id: None,
            },
        )
        .await?;
    }
    let body = TransferAccepted {
        links: money::accepted_links(ctx, format!("/api/v1/public/wallets/{wallet_id}/movements/{out_id}"), op_id),
        api_operation_id: op_id,
        movement_id: out_id,
        target_movement_id: in_id,
        status: "PENDING".into(),
        amount: money::wire(amount.minor(), token.decimals),
        concept,
        wallet_id,
        target_wallet_id: target.id,
    };
    Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
}
