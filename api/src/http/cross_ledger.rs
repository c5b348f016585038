//! Cross-ledger transfers (seed 003): ordered by the user on a network's
//! CrossLedgerLink (`orderTransfer`, a smart-contract call only), driven by the
//! platform's relayer (`emledger relayer`). These routes show where each one is:
//! a tenant sees the transfers from or to its wallets.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Read},
    extract::{path_uuid, Path, Query},
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, Error, Link, Result,
};

/// The statuses of a cross-ledger transfer, in protocol order.
pub const STATUSES: &[&str] = &[
    "ORDERED",
    "ACCEPTED",
    "ACKNOWLEDGED",
    "TRANSFER_OUT_EXECUTED",
    "TRANSFER_IN_EXECUTED",
    "COMPLETED",
    "REVOKED_ON_DESTINATION",
    "REVOKED",
];

#[derive(Debug, Serialize, ToSchema)]
pub struct CrossLedgerLinks {
    #[serde(rename = "self")]
    pub self_: Link,
}

/// A cross-ledger transfer. `status`: ORDERED (the amount is held on the origin)
/// → ACCEPTED (by the destination) → ACKNOWLEDGED (by the origin) →
/// TRANSFER_OUT_EXECUTED (burned on the origin) → TRANSFER_IN_EXECUTED (minted on
/// the destination) → COMPLETED (both movements SUCCESS); or ORDERED →
/// REVOKED_ON_DESTINATION → REVOKED (the hold released, both movements ERROR
/// with `reasonText`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossLedgerTransferView {
    #[serde(rename = "_links")]
    pub links: CrossLedgerLinks,
    pub id: Uuid,
    /// The id given to `orderTransfer` (the same on both links and in the movements' chain operation id).
    pub operation_id: String,
    pub status: String,
    pub origin_dlt_network: Option<String>,
    pub destination_dlt_network: Option<String>,
    pub origin_chain_id: i64,
    pub destination_chain_id: i64,
    pub from_dlt_address: String,
    pub to_dlt_address: String,
    /// The payer's wallet, when it is the tenant's.
    pub origin_wallet_id: Option<Uuid>,
    /// The recipient's wallet, when it is the tenant's.
    pub target_wallet_id: Option<Uuid>,
    #[schema(value_type = String, example = "25.00")]
    pub amount: Decimal,
    pub currency: String,
    /// The revocation's reason code (1..=7), when revoked.
    pub reason: Option<i16>,
    pub reason_text: Option<String>,
    /// The last failure of a step, while the relayer retries it.
    pub last_error: Option<String>,
    pub order_tx_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    operation_id: String,
    status: String,
    origin_dlt_network: Option<String>,
    destination_dlt_network: Option<String>,
    origin_chain_id: i64,
    destination_chain_id: i64,
    from_address: String,
    to_address: String,
    origin_wallet_id: Option<Uuid>,
    target_wallet_id: Option<Uuid>,
    amount: Decimal,
    currency: String,
    reason: Option<i16>,
    reason_text: Option<String>,
    error: Option<String>,
    order_tx_hash: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl Row {
    fn view(self, ctx: &ApiContext, decimals: u32) -> CrossLedgerTransferView {
        CrossLedgerTransferView {
            links: CrossLedgerLinks { self_: Link::new(ctx, format!("/api/v1/public/cross-ledger-transfers/{}", self.id)) },
            id: self.id,
            operation_id: self.operation_id,
            status: self.status,
            origin_dlt_network: self.origin_dlt_network,
            destination_dlt_network: self.destination_dlt_network,
            origin_chain_id: self.origin_chain_id,
            destination_chain_id: self.destination_chain_id,
            from_dlt_address: self.from_address,
            to_dlt_address: self.to_address,
            origin_wallet_id: self.origin_wallet_id,
            target_wallet_id: self.target_wallet_id,
            amount: emledger_ledger::amount::minor_to_decimal(self.amount, decimals),
            currency: self.currency,
            reason: self.reason,
            reason_text: self.reason_text,
            last_error: self.error,
            order_tx_hash: self.order_tx_hash,
            created_at: self.created_at,
            updated_at: self.updated_at,
            completed_at: self.completed_at,
        }
    }
}

/// The transfers from or to a wallet of `client`, as rows (the caller adds conditions with AND).
fn push_select<'a>(qb: &mut QueryBuilder<'a, Postgres>, client: Uuid) {
    qb.push(
        "SELECT t.id, t.operation_id, t.status, onet.name AS origin_dlt_network, dnet.name AS destination_dlt_network,
                t.origin_chain_id, t.destination_chain_id, t.from_address, t.to_address,
                CASE WHEN wo.client_id = ",
    )
    .push_bind(client)
    .push(" THEN wo.id END AS origin_wallet_id, CASE WHEN wt.client_id = ")
    .push_bind(client)
    .push(
        " THEN wt.id END AS target_wallet_id, t.amount, t.currency, t.reason, t.reason_text, t.error, t.order_tx_hash,
                t.created_at, t.updated_at, t.completed_at",
    );
    push_from(qb, client);
}

fn push_from<'a>(qb: &mut QueryBuilder<'a, Postgres>, client: Uuid) {
    qb.push(
        " FROM cross_ledger_transfers t
          LEFT JOIN dlt_networks onet ON onet.chain_id = t.origin_chain_id
          LEFT JOIN dlt_networks dnet ON dnet.chain_id = t.destination_chain_id
          LEFT JOIN wallets wo ON wo.dlt_address = t.from_address
          LEFT JOIN wallets wt ON wt.dlt_address = t.to_address
          WHERE (wo.client_id = ",
    )
    .push_bind(client)
    .push(" OR wt.client_id = ")
    .push_bind(client)
    .push(")");
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/cross-ledger-transfers", get(list_transfers))
        .route("/api/v1/public/cross-ledger-transfers/{transferId}", get(get_transfer))
}

/// Get a cross-ledger transfer from or to one of the tenant's wallets.
#[utoipa::path(get, path = "/api/v1/public/cross-ledger-transfers/{transferId}", tag = "cross-ledger transfers",
    params(("transferId" = Uuid, Path)),
    responses((status = 200, body = CrossLedgerTransferView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_transfer(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<CrossLedgerTransferView>> {
    let id = path_uuid("transferId", &id)?;
    let mut qb = QueryBuilder::new("");
    push_select(&mut qb, auth.client_id);
    qb.push(" AND t.id = ").push_bind(id);
    let row: Option<Row> = qb.build_query_as().fetch_optional(ctx.pool()).await?;
    let decimals = ctx.chain().await.decimals;
    row.map(|r| Json(r.view(&ctx, decimals))).ok_or(Error::NotFound("cross-ledger transfer"))
}

/// A page of cross-ledger transfers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossLedgerTransferPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: CrossLedgerTransfersEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossLedgerTransfersEmbedded {
    pub cross_ledger_transfers: Vec<CrossLedgerTransferView>,
}

pub const SORT: &[SortField] = &[("createdAt", "t.created_at"), ("updatedAt", "t.updated_at"), ("status", "t.status"), ("amount", "t.amount")];

/// List the cross-ledger transfers from or to the tenant's wallets, paged; `walletId` and `status` filter.
#[utoipa::path(get, path = "/api/v1/public/cross-ledger-transfers", tag = "cross-ledger transfers",
    params(("walletId" = Option<Uuid>, Query, description = "transfers from or to this wallet (404 when unknown)"),
        ("status" = Option<String>, Query, pattern = r"^(ORDERED|ACCEPTED|ACKNOWLEDGED|TRANSFER_OUT_EXECUTED|TRANSFER_IN_EXECUTED|COMPLETED|REVOKED_ON_DESTINATION|REVOKED)$",
            description = "ORDERED, ACCEPTED, ACKNOWLEDGED, TRANSFER_OUT_EXECUTED, TRANSFER_IN_EXECUTED, COMPLETED, REVOKED_ON_DESTINATION or REVOKED"),
        ("page" = Option<u32>, Query), ("size" = Option<u32>, Query, description = "1..=2000, default 20"),
        ("sort" = Option<Vec<String>>, Query, description = "`field,asc|desc`, repeatable; fields: createdAt, updatedAt, status, amount")),
    responses((status = 200, body = CrossLedgerTransferPage), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, description = "unknown walletId", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_transfers(auth: Auth<Read>, State(ctx): State<ApiContext>, q: Query) -> Result<Json<CrossLedgerTransferPage>> {
    let page = PageRequest::from_query(&q, SORT, ("createdAt", true))?;
    let wallet_id = q.uuid("walletId")?;
    let status = q.one("status")?.map(str::to_owned);
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(Error::invalid_query("status", format!("must be one of {}", STATUSES.join(", "))));
    }
    let mut conn = ctx.pool().acquire().await?;
    let address = match wallet_id {
        Some(w) => {
            let found: Option<(String,)> = sqlx::query_as("SELECT dlt_address FROM wallets WHERE id = $1 AND client_id = $2")
                .bind(w)
                .bind(auth.client_id)
                .fetch_optional(&mut *conn)
                .await?;
            Some(found.ok_or(Error::NotFound("wallet"))?.0)
        }
        None => None,
    };
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        if let Some(a) = address.clone() {
            qb.push(" AND (t.from_address = ").push_bind(a.clone()).push(" OR t.to_address = ").push_bind(a).push(")");
        }
        if let Some(s) = status.clone() {
            qb.push(" AND t.status = ").push_bind(s);
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*)");
    push_from(&mut count, auth.client_id);
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new("");
    push_select(&mut qb, auth.client_id);
    filters(&mut qb);
    qb.push(page.order_by("t.id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut kept: Vec<(&str, String)> = Vec::new();
    if let Some(w) = wallet_id {
        kept.push(("walletId", w.to_string()));
    }
    if let Some(s) = &status {
        kept.push(("status", s.clone()));
    }
    let (links, meta) = page.envelope(&ctx, "/api/v1/public/cross-ledger-transfers", &kept, total);
    let decimals = ctx.chain().await.decimals;
    Ok(Json(CrossLedgerTransferPage {
        links,
        embedded: CrossLedgerTransfersEmbedded { cross_ledger_transfers: rows.into_iter().map(|r| r.view(&ctx, decimals)).collect() },
        page: meta,
    }))
}
