//! Compliance and clearing endpoints (handlers only; the rules are in
//! `emledger_operations::compliance` and `emledger_operations::clearing`):
//! - `PUT /api/v1/public/wallets/{walletId}/compliance-status` (admin scope):
//!   set a wallet's seed-000 status; a status that forbids money freezes the
//!   address on chain, lifting it unfreezes;
//! - operator only (`Authorization: Bearer <operator token>`):
//!   `GET /api/v1/operator/clearable-transfers[?status=]` and
//!   `POST /api/v1/operator/clearable-transfers/{operationId}/{process|execute|reject}`.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post, put},
    Json, Router,
};
use emledger_operations::{
    clearing::{ClearingAction, ClearingStep},
    compliance::{ComplianceChanged, SetComplianceStatus},
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Admin, Auth},
    extract::{self, path_uuid, Path, RawBody, TypedQuery},
    idempotency::{self, Audited, Render, Request, Run},
    ApiContext, Error, Result,
};

pub fn router(ctx: &ApiContext) -> Router<ApiContext> {
    let tenant = Router::new().route("/api/v1/public/wallets/{walletId}/compliance-status", put(set_compliance_status));
    if ctx.config().operator_token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return tenant;
    }
    tenant
        .route("/api/v1/operator/clearable-transfers", get(list_clearable))
        .route("/api/v1/operator/clearable-transfers/{operationId}/{action}", post(clear_by_hand))
}

/// The new compliance status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComplianceStatusRequest {
    /// One of seed 000's statuses: new, available, pending, sold, verification,
    /// verification_denied, on_hold, suspicious, under_investigation,
    /// dispute_started, dispute_resolved, sanctioned, black_listed, transferred,
    /// close_requested, closed. A change the rules refuse (e.g. out of `closed`)
    /// is 409 `invalid_status_transition`.
    #[schema(value_type = super::docs::ComplianceStatus)]
    pub status: String,
    /// Why (kept in the wallet's compliance history), at most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub reason: Option<String>,
}

/// The change made.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceStatusChanged {
    pub wallet_id: Uuid,
    pub previous_status: String,
    pub compliance_status: String,
    /// The operation freezing or unfreezing the wallet's address on chain, if the change needs one.
    pub operation_id: Option<Uuid>,
}

impl Render for ComplianceChanged {
    async fn render(self, _ctx: &ApiContext, _conn: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let body = ComplianceStatusChanged {
            wallet_id: self.wallet_id,
            previous_status: self.from,
            compliance_status: self.to,
            operation_id: self.operation_id,
        };
        Ok((StatusCode::OK, serde_json::to_value(body).map_err(|e| Error::Internal(e.into()))?))
    }
}

/// Set a wallet's compliance status (admin scope). on_hold, under_investigation,
/// sanctioned and black_listed freeze the wallet's address on chain and refuse
/// every money request touching the wallet (409 `wallet_compliance_status`);
/// verification_denied, sold, transferred, close_requested and closed refuse
/// them too; `closed` is final.
#[utoipa::path(put, path = "/api/v1/public/wallets/{walletId}/compliance-status", tag = "wallets",
    params(("walletId" = Uuid, Path)), request_body = ComplianceStatusRequest,
    responses((status = 200, body = ComplianceStatusChanged), (status = 400, body = super::error::ErrorEnvelope),
        (status = 403, description = "needs the admin scope", body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`invalid_status_transition`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn set_compliance_status(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<ComplianceStatusRequest>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, None)?,
        endpoint: format!("PUT /api/v1/public/wallets/{wallet_id}/compliance-status"),
        raw_body: &body.raw,
    };
    let step = Audited {
        step: Run(SetComplianceStatus { wallet_id, status: b.status, reason: b.reason }),
        actor: auth.actor(),
        action: "wallet.compliance_status_changed",
        object_type: "wallet",
        object_id: wallet_id.to_string(),
    };
    idempotency::run(&ctx, req, step).await
}

/// `?status=` of the clearable-transfer list.
#[derive(Debug, Deserialize)]
pub struct ClearableQuery {
    pub status: Option<String>,
}

/// A clearable transfer as the clearing agent sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClearableTransferView {
    pub operation_id: String,
    pub orderer: String,
    pub from: String,
    pub to: String,
    /// In the token's currency.
    pub amount: String,
    /// ORDERED, IN_PROCESS, EXECUTED, REJECTED, CANCELLED.
    pub status: String,
    pub reason: Option<String>,
    /// EXECUTE or REJECT once decided.
    pub decision: Option<String>,
    pub decision_reason: Option<String>,
    /// `policy` or `operator`.
    pub decided_by: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The clearable transfers ordered on the contract (pending ones by default; `?status=ALL` for all).
#[utoipa::path(get, path = "/api/v1/operator/clearable-transfers", tag = "operator",
    params(("status" = Option<String>, Query, pattern = r"^\s*(ORDERED|IN_PROCESS|EXECUTED|REJECTED|CANCELLED|ALL)?\s*$", description = "ORDERED, IN_PROCESS, EXECUTED, REJECTED, CANCELLED or ALL; default (absent or empty): the pending ones")),
    responses((status = 200, body = [ClearableTransferView]), (status = 400, body = super::error::ErrorEnvelope),
        (status = 401, body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn list_clearable(State(ctx): State<ApiContext>, headers: HeaderMap, TypedQuery(q): TypedQuery<ClearableQuery>) -> Result<Json<Vec<ClearableTransferView>>> {
    super::bank::operator(&ctx, &headers)?;
    let statuses: Vec<String> = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => vec!["ORDERED".into(), "IN_PROCESS".into()],
        Some("ALL") => ["ORDERED", "IN_PROCESS", "EXECUTED", "REJECTED", "CANCELLED"].map(String::from).to_vec(),
        Some(s @ ("ORDERED" | "IN_PROCESS" | "EXECUTED" | "REJECTED" | "CANCELLED")) => vec![s.to_owned()],
        Some(_) => return Err(Error::invalid_query("status", "must be ORDERED, IN_PROCESS, EXECUTED, REJECTED, CANCELLED or ALL")),
    };
    let token = ctx.platform().token().await?;
    let rows: Vec<ClearableRow> =
        sqlx::query_as(
            "SELECT c.operation_id, c.orderer, c.from_address, c.to_address, c.value::text, c.status, c.reason, d.decision, d.reason, d.decided_by, c.created_at
             FROM clearable_transfers c
             LEFT JOIN clearing_decisions d ON d.chain_id = c.chain_id AND d.contract_address = c.contract_address AND d.operation_id = c.operation_id
             WHERE c.chain_id = $1 AND c.contract_address = $2 AND c.status = ANY($3)
             ORDER BY c.created_block, c.operation_id LIMIT 2000",
        )
        .bind(token.chain_id)
        .bind(&token.contract)
        .bind(&statuses)
        .fetch_all(ctx.pool())
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ClearableTransferView {
                operation_id: r.0,
                orderer: r.1,
                from: r.2,
                to: r.3,
                amount: emledger_operations::money::wire(r.4.parse().unwrap_or(0), token.decimals),
                status: r.5,
                reason: r.6,
                decision: r.7,
                decision_reason: r.8,
                decided_by: r.9,
                created_at: r.10,
            })
            .collect(),
    ))
}

/// operation id, orderer, from, to, value, status, reason, decision, decision reason, decided by, created at
type ClearableRow =
    (String, String, String, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>, chrono::DateTime<chrono::Utc>);

/// The operator's decision on one transfer.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClearingRequest {
    /// Reject: why (recorded on chain), 1 to 500 characters, no control characters;
    /// required for `reject` (400 without it), unused otherwise.
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub reason: Option<String>,
}

/// Process (Ordered → InProcess), execute or reject a clearable transfer by hand.
#[utoipa::path(post, path = "/api/v1/operator/clearable-transfers/{operationId}/{action}", tag = "operator",
    params(("operationId" = String, Path, description = "the clearable transfer's operation id (404 when unknown)"),
        ("action" = String, Path, pattern = r"^(process|execute|reject)$", description = "process, execute or reject (another: 404)")),
    request_body = ClearingRequest,
    responses((status = 202, description = "the operation is stored: {operationId, apiOperationId}"),
        (status = 400, body = super::error::ErrorEnvelope), (status = 401, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`clearable_transfer_not_pending`, `clearing_in_progress`, `clearing_already_decided`", body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn clear_by_hand(
    State(ctx): State<ApiContext>,
    headers: HeaderMap,
    Path((operation_id, action)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Value>)> {
    super::bank::operator(&ctx, &headers)?;
    let request: ClearingRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ClearingRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::invalid("body", format!("not a valid JSON object: {e}")))?
    };
    let reason = request.reason;
    let step = match action.as_str() {
        "process" => ClearingStep::Process,
        "execute" => ClearingStep::Execute,
        "reject" => ClearingStep::Reject { reason: reason.ok_or_else(|| Error::invalid("reason", "a rejection needs a reason"))? },
        _ => return Err(Error::NotFound("action")),
    };
    let actor = emledger_operations::audit::Actor::operator(super::auth::request_id(&headers));
    let detail = json!({"step": action, "reason": match &step { ClearingStep::Reject { reason } => Some(reason.clone()), _ => None }});
    let mut tx = ctx.pool().begin().await?;
    let id = ClearingAction { operation_id: operation_id.clone(), step }.execute(ctx.platform(), &mut tx).await?;
    let what = emledger_operations::audit::Action { action: "clearing.decided", object_type: "clearable_transfer", object_id: operation_id.clone(), detail };
    emledger_operations::audit::record(&mut tx, &actor, None, what).await?;
    tx.commit().await?;
    ctx.platform().stored();
    Ok((StatusCode::ACCEPTED, Json(json!({"operationId": operation_id, "apiOperationId": id}))))
}
