//! Movements of a wallet, from the read model (`movements.owner_address` = the
//! wallet's DLT address): get one, list paged with `startDate`/`endDate` (RFC 3339
//! or `yyyy-MM-dd HH:mm:ss` UTC, offsets honoured), `status` and `type` filters.
//! Wallet and user ids are linked at read time by joining the tenant's wallets on
//! the addresses.
//!
//! Which fields a movement fills depends on its type, as seed 003's table says:
//! `TRANSFER_IN`/`TRANSFER_OUT` fill the counterpart fields (`origin*`,
//! `target*`: user ids, wallet ids, DLT addresses) and leave `userId`/`walletId`
//! empty; every other type (`CARD_CASHIN`, `BANK_ACCOUNT_CASHIN`,
//! `BANK_ACCOUNT_CASHOUT`, `LOCK`, `RELEASE`) fills `userId`/`walletId` and
//! leaves the counterpart fields empty; `payerName` is filled for
//! `BANK_ACCOUNT_CASHOUT` only. Empty is JSON `null`: every field is always present.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use emledger_ledger::{MovementStatus, MovementType};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::wallet::{wallet_facts, WalletFacts};

use super::{
    auth::{Auth, Read},
    extract::{path_uuid, Path, Query},
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, Error, Link, Result,
};
use emledger_operations::validate;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MovementLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub wallet: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_wallet: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_wallet: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_user: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_user: Option<Link>,
}

/// A movement (seed 003). `amount` is a decimal string with the token's decimals.
/// Per type, either the counterpart fields (`origin*`/`target*`, transfers) or
/// `userId`/`walletId` (every other type) are filled; the others are `null`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MovementView {
    #[serde(rename = "_links")]
    pub links: MovementLinks,
    pub id: Uuid,
    /// `CARD_CASHIN`, `BANK_ACCOUNT_CASHIN`, `BANK_ACCOUNT_CASHOUT`, `TRANSFER_IN`, `TRANSFER_OUT`, `LOCK`, `RELEASE`.
    #[serde(rename = "type")]
    pub movement_type: String,
    /// `PENDING`, `SUCCESS` or `ERROR`.
    pub status: String,
    #[schema(value_type = String, example = "10.00")]
    pub amount: Decimal,
    pub concept: Option<String>,
    pub client_id: Uuid,
    /// The wallet whose movement this is, when the type is not `TRANSFER_IN` or
    /// `TRANSFER_OUT`; `null` for those two.
    pub wallet_id: Option<Uuid>,
    /// The user of that wallet, when the type is not `TRANSFER_IN` or `TRANSFER_OUT`; `null` for those two.
    pub user_id: Option<Uuid>,
    /// The payer's name (the wallet holder's) when the type is `BANK_ACCOUNT_CASHOUT`; `null` otherwise.
    pub payer_name: Option<String>,
    /// The sender's wallet for `TRANSFER_IN`/`TRANSFER_OUT` (when it is one of the
    /// tenant's wallets); `null` for any other type.
    pub origin_wallet_id: Option<Uuid>,
    /// The receiver's wallet for `TRANSFER_IN`/`TRANSFER_OUT` (when it is one of the
    /// tenant's wallets); `null` for any other type.
    pub target_wallet_id: Option<Uuid>,
    /// The sender's user for `TRANSFER_IN`/`TRANSFER_OUT` (when the tenant's); `null` for any other type.
    pub origin_user_id: Option<Uuid>,
    /// The receiver's user for `TRANSFER_IN`/`TRANSFER_OUT` (when the tenant's); `null` for any other type.
    pub target_user_id: Option<Uuid>,
    /// The sender's DLT address for `TRANSFER_IN`/`TRANSFER_OUT`; `null` for any other type.
    pub origin_dlt_address: Option<String>,
    /// The receiver's DLT address for `TRANSFER_IN`/`TRANSFER_OUT`; `null` for any other type.
    pub target_dlt_address: Option<String>,
    pub dlt_network: String,
    pub scheduled_operation_id: Option<Uuid>,
    pub tx_hash: Option<String>,
    pub block_number: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct MovementRow {
    id: Uuid,
    movement_type: String,
    status: String,
    amount: Decimal,
    concept: Option<String>,
    origin_dlt_address: Option<String>,
    target_dlt_address: Option<String>,
    payer_name: Option<String>,
    dlt_network: String,
    scheduled_operation_id: Option<Uuid>,
    tx_hash: Option<String>,
    block_number: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    origin_wallet_id: Option<Uuid>,
    origin_user_id: Option<Uuid>,
    target_wallet_id: Option<Uuid>,
    target_user_id: Option<Uuid>,
}

impl MovementRow {
    fn view(self, ctx: &ApiContext, client_id: Uuid, wallet: &WalletFacts, decimals: u32) -> MovementView {
        let w = |id: Uuid| Link::new(ctx, format!("/api/v1/public/wallets/{id}"));
        let u = |id: Uuid| Link::new(ctx, format!("/api/v1/public/users/{id}"));
        // seed 003's table: counterparts for transfers, the wallet and its user for the rest
        let kind = self.movement_type.parse::<MovementType>().ok();
        let transfer = matches!(kind, Some(MovementType::TRANSFER_IN | MovementType::TRANSFER_OUT));
        let counterpart = |v: Option<Uuid>| v.filter(|_| transfer);
        let (origin_wallet_id, target_wallet_id) = (counterpart(self.origin_wallet_id), counterpart(self.target_wallet_id));
        let (origin_user_id, target_user_id) = (counterpart(self.origin_user_id), counterpart(self.target_user_id));
        MovementView {
            links: MovementLinks {
                self_: Link::new(ctx, format!("/api/v1/public/wallets/{}/movements/{}", wallet.id, self.id)),
                wallet: w(wallet.id),
                origin_wallet: origin_wallet_id.map(w),
                target_wallet: target_wallet_id.map(w),
                origin_user: origin_user_id.map(u),
                target_user: target_user_id.map(u),
            },
            id: self.id,
            movement_type: self.movement_type,
            status: self.status,
            amount: emledger_ledger::amount::minor_to_decimal(self.amount, decimals),
            concept: self.concept,
            client_id,
            wallet_id: (!transfer).then_some(wallet.id),
            user_id: (!transfer).then_some(wallet.user_id),
            payer_name: self.payer_name.filter(|_| kind == Some(MovementType::BANK_ACCOUNT_CASHOUT)),
            origin_wallet_id,
            target_wallet_id,
            origin_user_id,
            target_user_id,
            origin_dlt_address: self.origin_dlt_address.filter(|_| transfer),
            target_dlt_address: self.target_dlt_address.filter(|_| transfer),
            dlt_network: self.dlt_network,
            scheduled_operation_id: self.scheduled_operation_id,
            tx_hash: self.tx_hash,
            block_number: self.block_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn push_select<'a>(qb: &mut QueryBuilder<'a, Postgres>, client_id: Uuid) {
    qb.push(
        "SELECT m.id, m.type AS movement_type, m.status, m.amount, m.concept, m.origin_dlt_address, m.target_dlt_address, \
         CASE WHEN m.type = 'BANK_ACCOUNT_CASHOUT' THEN COALESCE(m.payer_name, \
           (SELECT pu.name FROM wallets pw JOIN users pu ON pu.id = pw.user_id WHERE pw.dlt_address = m.owner_address)) END AS payer_name, \
         m.dlt_network, m.scheduled_operation_id, m.tx_hash, m.block_number, m.created_at, m.updated_at, \
         o.id AS origin_wallet_id, o.user_id AS origin_user_id, t.id AS target_wallet_id, t.user_id AS target_user_id \
         FROM movements m \
         LEFT JOIN wallets o ON o.dlt_address = m.origin_dlt_address AND o.client_id = ",
    );
    qb.push_bind(client_id);
    qb.push(" LEFT JOIN wallets t ON t.dlt_address = m.target_dlt_address AND t.client_id = ");
    qb.push_bind(client_id);
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/movements", get(list_movements))
        .route("/api/v1/public/wallets/{walletId}/movements/{movementId}", get(get_movement))
}

/// Get one movement of a wallet.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/movements/{movementId}", tag = "movements",
    params(("walletId" = Uuid, Path), ("movementId" = Uuid, Path)),
    responses((status = 200, body = MovementView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_movement(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, movement_id)): Path<(String, String)>,
) -> Result<Json<MovementView>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let movement_id = path_uuid("movementId", &movement_id)?;
    let mut conn = ctx.pool().acquire().await?;
    let wallet = wallet_facts(&mut conn, auth.client_id, wallet_id, false).await?;
    let mut qb = QueryBuilder::new("");
    push_select(&mut qb, auth.client_id);
    qb.push(" WHERE m.id = ").push_bind(movement_id).push(" AND m.owner_address = ").push_bind(wallet.dlt_address.clone());
    let row: Option<MovementRow> = qb.build_query_as().fetch_optional(&mut *conn).await?;
    let decimals = ctx.chain().await.decimals;
    row.map(|r| Json(r.view(&ctx, auth.client_id, &wallet, decimals))).ok_or(Error::NotFound("movement"))
}

/// A page of movements.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovementPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: MovementsEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MovementsEmbedded {
    pub movements: Vec<MovementView>,
}

pub const MOVEMENT_SORT: &[SortField] = &[
    ("createdAt", "m.created_at"),
    ("updatedAt", "m.updated_at"),
    ("amount", "m.amount"),
    ("type", "m.type"),
    ("status", "m.status"),
];

/// Values of a repeatable, comma-separable enum filter, checked with `parse`.
pub fn enum_filter(q: &Query, name: &str, allowed: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in q.all(name) {
        for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !allowed.contains(&s) {
                return Err(Error::invalid_query(name, format!("must be one of {}", allowed.join(", "))));
            }
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// List a wallet's movements, paged and filtered.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/movements", tag = "movements",
    params(("walletId" = Uuid, Path),
        ("startDate" = Option<String>, Query, description = "inclusive; RFC 3339 or `yyyy-MM-dd HH:mm:ss` (UTC unless an offset is given)"),
        ("endDate" = Option<String>, Query, description = "inclusive; same formats"),
        ("status" = Option<String>, Query, description = "PENDING, SUCCESS, ERROR; repeatable or comma-separated"),
        ("type" = Option<String>, Query, description = "movement type; repeatable or comma-separated"),
        ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<Vec<String>>, Query, description = "createdAt, updatedAt, amount, type, status; ties broken by id")),
    responses((status = 200, body = MovementPage), (status = 400, body = super::error::ErrorEnvelope), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_movements(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    q: Query,
) -> Result<Json<MovementPage>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let page = PageRequest::from_query(&q, MOVEMENT_SORT, ("createdAt", true))?;
    let start = q.one("startDate")?.map(|s| validate::instant(s).map_err(|r| Error::invalid_query("startDate", r))).transpose()?;
    let end = q.one("endDate")?.map(|s| validate::instant(s).map_err(|r| Error::invalid_query("endDate", r))).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(Error::invalid_query("endDate", "must not be before startDate"));
        }
    }
    let statuses: Vec<&str> = MovementStatus::ALL.iter().map(|s| s.as_str()).collect();
    let types: Vec<&str> = MovementType::ALL.iter().map(|s| s.as_str()).collect();
    let status = enum_filter(&q, "status", &statuses)?;
    let mtype = enum_filter(&q, "type", &types)?;
    let mut conn = ctx.pool().acquire().await?;
    let wallet = wallet_facts(&mut conn, auth.client_id, wallet_id, false).await?;
    let address = wallet.dlt_address.clone();
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE m.owner_address = ").push_bind(address.clone());
        if let Some(s) = start {
            qb.push(" AND m.created_at >= ").push_bind(s);
        }
        if let Some(e) = end {
            qb.push(" AND m.created_at <= ").push_bind(e);
        }
        if !status.is_empty() {
            qb.push(" AND m.status = ANY(").push_bind(status.clone()).push(")");
        }
        if !mtype.is_empty() {
            qb.push(" AND m.type = ANY(").push_bind(mtype.clone()).push(")");
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM movements m");
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new("");
    push_select(&mut qb, auth.client_id);
    filters(&mut qb);
    qb.push(page.order_by("m.id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<MovementRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let decimals = ctx.chain().await.decimals;
    let mut kept: Vec<(&str, String)> = Vec::new();
    if let Some(s) = start {
        kept.push(("startDate", s.to_rfc3339()));
    }
    if let Some(e) = end {
        kept.push(("endDate", e.to_rfc3339()));
    }
    if !status.is_empty() {
        kept.push(("status", status.join(",")));
    }
    if !mtype.is_empty() {
        kept.push(("type", mtype.join(",")));
    }
    let (links, meta) = page.envelope(&ctx, &format!("/api/v1/public/wallets/{wallet_id}/movements"), &kept, total);
    Ok(Json(MovementPage {
        links,
        embedded: MovementsEmbedded { movements: rows.into_iter().map(|r| r.view(&ctx, auth.client_id, &wallet, decimals)).collect() },
        page: meta,
    }))
}
