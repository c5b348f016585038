//! Holds of a wallet (read side), from the read model: those where the wallet's
//! DLT address is payer or payee. Payer/payee wallet ids and the user are linked at
//! read time through the tenant's wallets.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use emledger_ledger::HoldStatus;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::wallet::wallet_facts;

use super::{
    auth::{Auth, Read},
    extract::{path_uuid, Path, Query},
    movements::enum_filter,
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, Error, Link, Result,
};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_wallet: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payee_wallet: Option<Link>,
}

/// A hold (seed 003). Values are decimal strings with the token's decimals.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    #[serde(rename = "_links")]
    pub links: HoldLinks,
    pub id: Uuid,
    /// The payer wallet's user, when the payer is a wallet of this tenant.
    pub user_id: Option<Uuid>,
    pub client_id: Uuid,
    pub issuer_dlt_address: Option<String>,
    pub payer_dlt_address: Option<String>,
    pub payee_dlt_address: Option<String>,
    pub notary_dlt_address: Option<String>,
    #[schema(value_type = String, example = "10.00")]
    pub held_value: Decimal,
    #[schema(value_type = String, example = "8.00")]
    pub executed_value: Decimal,
    #[schema(value_type = String, example = "0.00")]
    pub remaining_value: Decimal,
    pub status: String,
    pub dlt_network: String,
    pub contract_address: String,
    pub operation_id: String,
    pub payer_wallet_id: Option<Uuid>,
    pub payee_wallet_id: Option<Uuid>,
    pub concept: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Absent for a perpetual hold.
    pub expiration: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct HoldRow {
    id: Uuid,
    issuer_dlt_address: Option<String>,
    payer_dlt_address: Option<String>,
    payee_dlt_address: Option<String>,
    notary_dlt_address: Option<String>,
    held_value: Decimal,
    executed_value: Decimal,
    remaining_value: Decimal,
    status: String,
    dlt_network: String,
    contract_address: String,
    operation_id: String,
    concept: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expiration: Option<DateTime<Utc>>,
    payer_wallet_id: Option<Uuid>,
    payer_user_id: Option<Uuid>,
    payee_wallet_id: Option<Uuid>,
}

impl HoldRow {
    fn view(self, ctx: &ApiContext, client_id: Uuid, wallet_id: Uuid, decimals: u32) -> HoldView {
        let m = |d: Decimal| emledger_ledger::amount::minor_to_decimal(d, decimals);
        let w = |id: Uuid| Link::new(ctx, format!("/api/v1/public/wallets/{id}"));
        HoldView {
            links: HoldLinks {
                self_: Link::new(ctx, format!("/api/v1/public/wallets/{wallet_id}/holds/{}", self.id)),
                payer_wallet: self.payer_wallet_id.map(w),
                payee_wallet: self.payee_wallet_id.map(w),
            },
            id: self.id,
            user_id: self.payer_user_id,
            client_id,
            issuer_dlt_address: self.issuer_dlt_address,
            payer_dlt_address: self.payer_dlt_address,
            payee_dlt_address: self.payee_dlt_address,
            notary_dlt_address: self.notary_dlt_address,
            held_value: m(self.held_value),
            executed_value: m(self.executed_value),
            remaining_value: m(self.remaining_value),
            status: self.status,
            dlt_network: self.dlt_network,
            contract_address: self.contract_address,
            operation_id: self.operation_id,
            payer_wallet_id: self.payer_wallet_id,
            payee_wallet_id: self.payee_wallet_id,
            concept: self.concept,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expiration: self.expiration,
        }
    }
}

fn push_select<'a>(qb: &mut QueryBuilder<'a, Postgres>, client_id: Uuid) {
    qb.push(
        "SELECT h.id, h.issuer_dlt_address, h.payer_dlt_address, h.payee_dlt_address, h.notary_dlt_address, \
         h.held_value, h.executed_value, h.remaining_value, h.status, h.dlt_network, h.contract_address, h.operation_id, \
         h.concept, h.created_at, h.updated_at, h.expiration, \
         pw.id AS payer_wallet_id, pw.user_id AS payer_user_id, ew.id AS payee_wallet_id \
         FROM holds h LEFT JOIN wallets pw ON pw.dlt_address = h.payer_dlt_address AND pw.client_id = ",
    );
    qb.push_bind(client_id);
    qb.push(" LEFT JOIN wallets ew ON ew.dlt_address = h.payee_dlt_address AND ew.client_id = ");
    qb.push_bind(client_id);
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/holds", get(list_holds))
        .route("/api/v1/public/wallets/{walletId}/holds/{holdId}", get(get_hold))
}

/// Get one hold of a wallet (as payer or payee).
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/holds/{holdId}", tag = "holds",
    params(("walletId" = Uuid, Path), ("holdId" = Uuid, Path)),
    responses((status = 200, body = HoldView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_hold(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, hold_id)): Path<(String, String)>,
) -> Result<Json<HoldView>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let hold_id = path_uuid("holdId", &hold_id)?;
    let mut conn = ctx.pool().acquire().await?;
    Ok(Json(load_hold(&mut conn, &ctx, auth.client_id, wallet_id, hold_id).await?))
}

/// One hold of a wallet (as payer or payee); 404 when unknown or not the wallet's.
pub async fn load_hold(
    conn: &mut sqlx::PgConnection,
    ctx: &ApiContext,
    client_id: Uuid,
    wallet_id: Uuid,
    hold_id: Uuid,
) -> Result<HoldView> {
    let wallet = wallet_facts(conn, client_id, wallet_id, false).await?;
    let mut qb = QueryBuilder::new("");
    push_select(&mut qb, client_id);
    qb.push(" WHERE h.id = ").push_bind(hold_id);
    qb.push(" AND (h.payer_dlt_address = ").push_bind(wallet.dlt_address.clone());
    qb.push(" OR h.payee_dlt_address = ").push_bind(wallet.dlt_address.clone()).push(")");
    let row: Option<HoldRow> = qb.build_query_as().fetch_optional(&mut *conn).await?;
    let decimals = ctx.chain().await.decimals;
    row.map(|r| r.view(ctx, client_id, wallet_id, decimals)).ok_or(Error::NotFound("hold"))
}

/// A page of holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: HoldsEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldsEmbedded {
    pub holds: Vec<HoldView>,
}

pub const HOLD_SORT: &[SortField] = &[
    ("createdAt", "h.created_at"),
    ("updatedAt", "h.updated_at"),
    ("expiration", "h.expiration"),
    ("heldValue", "h.held_value"),
    ("status", "h.status"),
];

/// List a wallet's holds (as payer or payee), paged; `status` filters.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/holds", tag = "holds",
    params(("walletId" = Uuid, Path), ("status" = Option<String>, Query, description = "hold status; repeatable or comma-separated"),
        ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<Vec<String>>, Query, description = "createdAt, updatedAt, expiration, heldValue, status")),
    responses((status = 200, body = HoldPage), (status = 400, body = super::error::ErrorEnvelope), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_holds(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    q: Query,
) -> Result<Json<HoldPage>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let page = PageRequest::from_query(&q, HOLD_SORT, ("createdAt", true))?;
    let statuses: Vec<&str> = HoldStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status = enum_filter(&q, "status", &statuses)?;
    let mut conn = ctx.pool().acquire().await?;
    let wallet = wallet_facts(&mut conn, auth.client_id, wallet_id, false).await?;
    let address = wallet.dlt_address.clone();
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE (h.payer_dlt_address = ").push_bind(address.clone());
        qb.push(" OR h.payee_dlt_address = ").push_bind(address.clone()).push(")");
        if !status.is_empty() {
            qb.push(" AND h.status = ANY(").push_bind(status.clone()).push(")");
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM holds h");
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new("");
    push_select(&mut qb, auth.client_id);
    filters(&mut qb);
    qb.push(page.order_by("h.id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<HoldRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let decimals = ctx.chain().await.decimals;
    let kept: Vec<(&str, String)> = if status.is_empty() { vec![] } else { vec![("status", status.join(","))] };
    let (links, meta) = page.envelope(&ctx, &format!("/api/v1/public/wallets/{wallet_id}/holds"), &kept, total);
    Ok(Json(HoldPage {
        links,
        embedded: HoldsEmbedded { holds: rows.into_iter().map(|r| r.view(&ctx, auth.client_id, wallet_id, decimals)).collect() },
        page: meta,
    }))
}
