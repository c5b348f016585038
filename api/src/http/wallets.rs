//! Wallets (seed 003, with the create-wallet superset of seeds 000/001/002/004):
//! get, list (paged, `?userId=`), create an extra wallet, create an IBAN,
//! unsubscribe. Balances come from the read model's `balances` row of the
//! wallet's DLT address (0 when there is none).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::{
    validate,
    wallet::{
        status, text, wallet_facts, CreateWallet as CreateWalletCommand, NewWallet, WalletCreated, FINAL_HOLD_STATUSES,
    },
};

use super::{
    auth::{Auth, Read, Write},
    extract::{self, path_uuid, Path, Query},
    idempotency::{self, Render, Request, Run},
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, ChainInfo, Error, Link, Result,
};

/// Wallet type (seed 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum WalletType {
    #[default]
    GeneralPurpose,
    SpotTrading,
    Saving,
    Vault,
    Shared,
    Nostro,
    Futures,
    Stake,
    SystemWallet,
}

impl WalletType {
    pub fn as_str(self) -> &'static str {
        match self {
            WalletType::GeneralPurpose => "general_purpose",
            WalletType::SpotTrading => "spot_trading",
            WalletType::Saving => "saving",
            WalletType::Vault => "vault",
            WalletType::Shared => "shared",
            WalletType::Nostro => "nostro",
            WalletType::Futures => "futures",
            WalletType::Stake => "stake",
            WalletType::SystemWallet => "system_wallet",
        }
    }
}

/// Links of a wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub user: Link,
    pub movements: Link,
    pub holds: Link,
}

/// A wallet. Amounts are decimal strings with the token's decimals (e.g. `"10.50"`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletView {
    #[serde(rename = "_links")]
    pub links: WalletLinks,
    pub id: Uuid,
    /// Same as `id` (the name seed 003 uses in create/unsubscribe responses).
    pub wallet_id: Uuid,
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub client_alias: String,
    pub dlt_address: String,
    pub dlt_network: String,
    pub iban: Option<String>,
    /// `READY`, `PENDING`, `PENDING_IBAN` or `UNSUBSCRIBED`.
    pub status: String,
    /// Gross balance.
    #[schema(value_type = String, example = "10.50")]
    pub balance: Decimal,
    #[schema(value_type = String, example = "8.50")]
    pub available_balance: Decimal,
    #[schema(value_type = String, example = "2.00")]
    pub held_balance: Decimal,
    /// ISO 4217: always the token's currency.
    pub currency: String,
    #[serde(rename = "type")]
    pub wallet_type: String,
    pub purpose: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub external_id: Option<String>,
    pub parent_wallet_id: Option<Uuid>,
    /// Seed 002: the group id/name the wallet holder belongs to.
    pub group_id: Option<String>,
    /// Seed 004: whether the balance may go below zero. Always `false`: e-money
    /// wallets never go negative (the contract refuses it).
    pub allow_negative: bool,
    /// Seed 000's wallet status (`available` unless set with
    /// `PUT …/compliance-status`): on_hold, under_investigation, sanctioned and
    /// black_listed freeze the wallet; see that endpoint.
    pub compliance_status: String,
    pub compliance_reason: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct WalletRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub client_alias: String,
    pub dlt_network: String,
    pub user_id: Uuid,
    pub dlt_address: String,
    pub iban: Option<String>,
    pub status: String,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub wallet_type: String,
    pub purpose: Option<String>,
    pub parent_wallet_id: Option<Uuid>,
    pub currency: String,
    pub group_id: Option<String>,
    pub compliance_status: String,
    pub compliance_reason: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub gross: Decimal,
    pub held: Decimal,
}

impl WalletRow {
    pub fn view(self, ctx: &ApiContext, decimals: u32) -> WalletView {
        let m = |d: Decimal| emledger_ledger::amount::minor_to_decimal(d, decimals);
        WalletView {
            links: WalletLinks {
                self_: Link::new(ctx, format!("/api/v1/public/wallets/{}", self.id)),
                user: Link::new(ctx, format!("/api/v1/public/users/{}", self.user_id)),
                movements: Link::new(ctx, format!("/api/v1/public/wallets/{}/movements", self.id)),
                holds: Link::new(ctx, format!("/api/v1/public/wallets/{}/holds", self.id)),
            },
            id: self.id,
            wallet_id: self.id,
            user_id: self.user_id,
            client_id: self.client_id,
            client_alias: self.client_alias,
            dlt_address: self.dlt_address,
            dlt_network: self.dlt_network,
            iban: self.iban,
            status: self.status,
            balance: m(self.gross),
            available_balance: m(self.gross - self.held),
            held_balance: m(self.held),
            currency: self.currency,
            wallet_type: self.wallet_type,
            purpose: self.purpose,
            name: self.name,
            nickname: self.nickname,
            external_id: self.external_id,
            parent_wallet_id: self.parent_wallet_id,
            group_id: self.group_id,
            allow_negative: false,
            compliance_status: self.compliance_status,
            compliance_reason: self.compliance_reason,
            metadata: self.metadata,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// `SELECT <wallet columns + balances> FROM wallets w ...` (the caller adds WHERE).
pub fn push_wallet_select<'a>(qb: &mut QueryBuilder<'a, Postgres>, chain: &'a ChainInfo) {
    qb.push(
        "SELECT w.id, w.client_id, c.alias AS client_alias, COALESCE(w.dlt_network, c.dlt_network) AS dlt_network, w.user_id, w.dlt_address, w.iban, \
         w.status, w.external_id, w.name, w.nickname, w.type AS wallet_type, w.purpose, w.parent_wallet_id, \
         w.currency, w.group_id, w.compliance_status, w.compliance_reason, w.metadata, w.created_at, w.updated_at, \
         COALESCE(b.gross, 0)::NUMERIC AS gross, COALESCE(b.held, 0)::NUMERIC AS held \
         FROM wallets w JOIN clients c ON c.id = w.client_id \
         LEFT JOIN dlt_networks wn ON wn.name = w.dlt_network \
         LEFT JOIN LATERAL (SELECT sum(bb.gross) AS gross, sum(bb.held) AS held FROM balances bb WHERE bb.address = w.dlt_address",
    );
    // a wallet on another of the platform's networks: that network's token
    qb.push(" AND (wn.name IS NOT NULL AND bb.chain_id = wn.chain_id AND lower(bb.contract) = lower(wn.token) OR wn.name IS NULL");
    if let Some((chain_id, contract)) = &chain.token {
        qb.push(" AND bb.chain_id = ").push_bind(*chain_id).push(" AND lower(bb.contract) = ").push_bind(contract.as_str());
    }
    qb.push(")) b ON true");
}

/// One wallet of the tenant, with balances; 404 when unknown or another tenant's.
pub async fn load_wallet(conn: &mut PgConnection, ctx: &ApiContext, client_id: Uuid, wallet_id: Uuid) -> Result<WalletView> {
    let chain = ctx.chain().await;
    let mut qb = QueryBuilder::new("");
    push_wallet_select(&mut qb, &chain);
    qb.push(" WHERE w.id = ").push_bind(wallet_id).push(" AND w.client_id = ").push_bind(client_id);
    let row: Option<WalletRow> = qb.build_query_as().fetch_optional(&mut *conn).await?;
    row.map(|r| r.view(ctx, chain.decimals)).ok_or(Error::NotFound("wallet"))
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets", get(list_wallets).post(create_wallet))
        .route("/api/v1/public/wallets/{walletId}", get(get_wallet).delete(unsubscribe_wallet))
        .route("/api/v1/public/wallets/{walletId}/create-iban", post(create_iban))
}

/// Get a wallet.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}", tag = "wallets",
    params(("walletId" = Uuid, Path)),
    responses((status = 200, body = WalletView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_wallet(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<WalletView>> {
    let id = path_uuid("walletId", &id)?;
    let mut conn = ctx.pool().acquire().await?;
    Ok(Json(load_wallet(&mut conn, &ctx, auth.client_id, id).await?))
}

/// A page of wallets.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: WalletsEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WalletsEmbedded {
    pub wallets: Vec<WalletView>,
}

pub const WALLET_SORT: &[SortField] = &[
    ("createdAt", "w.created_at"),
    ("updatedAt", "w.updated_at"),
    ("status", "w.status"),
    ("userId", "w.user_id"),
    ("dltAddress", "w.dlt_address"),
    ("externalId", "w.external_id"),
    ("name", "w.name"),
    ("type", "w.type"),
    ("balance", "COALESCE(b.gross, 0)"),
    ("heldBalance", "COALESCE(b.held, 0)"),
    ("availableBalance", "(COALESCE(b.gross, 0) - COALESCE(b.held, 0))"),
];

/// List the tenant's wallets, paged; `userId`, `status`, `externalId`, `groupId` filter.
#[utoipa::path(get, path = "/api/v1/public/wallets", tag = "wallets",
    params(("userId" = Option<Uuid>, Query, description = "wallets of this user (404 when unknown)"),
        ("status" = Option<String>, Query, pattern = r"^(READY|PENDING|PENDING_IBAN|UNSUBSCRIBED)$", description = "READY, PENDING, PENDING_IBAN or UNSUBSCRIBED"),
        ("externalId" = Option<String>, Query, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", description = "at most 100 characters, no control characters"),
        ("groupId" = Option<String>, Query, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", description = "wallets of this group (seed 002); at most 64 characters, no control characters"),
        ("page" = Option<u32>, Query), ("size" = Option<u32>, Query, description = "1..=2000, default 20"),
        ("sort" = Option<Vec<String>>, Query, description = "`field,asc|desc`, repeatable; fields: createdAt, updatedAt, status, userId, dltAddress, externalId, name, type, balance, heldBalance, availableBalance")),
    responses((status = 200, body = WalletPage), (status = 400, body = super::error::ErrorEnvelope), (status = 404, description = "unknown userId", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_wallets(auth: Auth<Read>, State(ctx): State<ApiContext>, q: Query) -> Result<Json<WalletPage>> {
    let page = PageRequest::from_query(&q, WALLET_SORT, ("createdAt", true))?;
    let user_id = q.uuid("userId")?;
    let status = q.one("status")?.map(str::to_owned);
    if let Some(s) = &status {
        if ![status::READY, status::PENDING, status::PENDING_IBAN, status::UNSUBSCRIBED].contains(&s.as_str()) {
            return Err(Error::invalid_query("status", "must be READY, PENDING, PENDING_IBAN or UNSUBSCRIBED"));
        }
    }
    let external_id = q.one("externalId")?.map(str::to_owned);
    if external_id.as_deref().is_some_and(|e| e.chars().any(char::is_control) || e.chars().count() > 100) {
        return Err(Error::invalid_query("externalId", "must be at most 100 characters, without control characters"));
    }
    let group_id = q.one("groupId")?.map(str::to_owned);
    if group_id.as_deref().is_some_and(|g| g.chars().any(char::is_control) || g.chars().count() > 64) {
        return Err(Error::invalid_query("groupId", "must be at most 64 characters, without control characters"));
    }
    let mut conn = ctx.pool().acquire().await?;
    if let Some(u) = user_id {
        let found: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM users WHERE id = $1 AND client_id = $2").bind(u).bind(auth.client_id).fetch_optional(&mut *conn).await?;
        if found.is_none() {
            return Err(Error::NotFound("user"));
        }
    }
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE w.client_id = ").push_bind(auth.client_id);
        if let Some(u) = user_id {
            qb.push(" AND w.user_id = ").push_bind(u);
        }
        if let Some(s) = status.clone() {
            qb.push(" AND w.status = ").push_bind(s);
        }
        if let Some(e) = external_id.clone() {
            qb.push(" AND w.external_id = ").push_bind(e);
        }
        if let Some(g) = group_id.clone() {
            qb.push(" AND w.group_id = ").push_bind(g);
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM wallets w");
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let chain = ctx.chain().await;
    let mut qb = QueryBuilder::new("");
    push_wallet_select(&mut qb, &chain);
    filters(&mut qb);
    qb.push(page.order_by("w.id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<WalletRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut kept: Vec<(&str, String)> = Vec::new();
    if let Some(u) = user_id {
        kept.push(("userId", u.to_string()));
    }
    if let Some(s) = &status {
        kept.push(("status", s.clone()));
    }
    if let Some(e) = &external_id {
        kept.push(("externalId", e.clone()));
    }
    if let Some(g) = &group_id {
        kept.push(("groupId", g.clone()));
    }
    let (links, meta) = page.envelope(&ctx, "/api/v1/public/wallets", &kept, total);
    Ok(Json(WalletPage {
        links,
        embedded: WalletsEmbedded { wallets: rows.into_iter().map(|r| r.view(&ctx, chain.decimals)).collect() },
        page: meta,
    }))
}

/// Create an extra wallet (the superset of seeds 000–004).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWallet {
    /// The owning user (must be ACTIVATED; at most 5 wallets).
    pub user_id: Uuid,
    /// Existing address to use; when absent a fresh one is generated and its key
    /// discarded. A 0x-prefixed 20-byte hex address (`format: evm-address`) that is
    /// not the zero address, the platform's signer, the token contract nor an
    /// address holding a role on the token (400 on `dltAddress`); one another
    /// wallet already has is 409 `dlt_address_in_use`.
    #[schema(format = "evm-address", pattern = r"^0[xX][0-9a-fA-F]{40}$", example = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8")]
    pub dlt_address: Option<String>,
    /// Unique per tenant (a second wallet with it: 400 `duplicate_external_id`);
    /// 1..=100 characters. `external_id` (seed 001) is accepted too.
    #[serde(alias = "external_id")]
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub external_id: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub nickname: Option<String>,
    /// Seed 000's wallet type; `general_purpose` by default.
    #[serde(rename = "type")]
    pub wallet_type: Option<WalletType>,
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub purpose: Option<String>,
    /// A wallet of the same tenant.
    pub parent_wallet_id: Option<Uuid>,
    /// ISO 4217; it must be the token's currency (the default): a wallet can hold
    /// nothing else.
    #[schema(value_type = Option<super::docs::WalletCurrency>)]
    pub currency: Option<String>,
    /// Seed 002: the group id/name the wallet holder belongs to (1..=64 characters).
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub group_id: Option<String>,
    /// Seed 004: only `false` is accepted (e-money wallets never go negative).
    #[schema(value_type = Option<super::docs::NeverNegative>)]
    pub allow_negative: Option<bool>,
    /// Free-form object, at most 16 KiB as JSON, no NUL character in any key or string.
    #[schema(value_type = Option<super::docs::Metadata>)]
    pub metadata: Option<Map<String, Value>>,
    /// The network the wallet's address lives on: the tenant's own (the default)
    /// or another of the platform's networks, for cross-ledger transfers (an
    /// unknown one: 404 naming `dltNetwork`).
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$", example = "net-b")]
    pub dlt_network: Option<String>,
    /// Same as the `Idempotency-Key` header (both given: they must be equal).
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Create an extra wallet for a user. Idempotent with `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/public/wallets", tag = "wallets", request_body = CreateWallet,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = WalletView),
        (status = 400, description = "`invalid_request` (naming the field: e.g. a `currency` other than the token's, `allowNegative: true`), \
            `duplicate_external_id` (the tenant has a wallet with this `externalId`)", body = super::error::ErrorEnvelope),
        (status = 404, description = "userId / parentWalletId unknown", body = super::error::ErrorEnvelope),
        (status = 409, description = "`user_not_activated`, `wallet_limit_reached`, `dlt_address_in_use`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_wallet(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    headers: HeaderMap,
    body: extract::Json<CreateWallet>,
) -> Result<Response> {
    let raw = body.raw;
    let b = body.value;
    let key = idempotency::key(&headers, b.idempotency_key.as_deref())?;
    if b.allow_negative == Some(true) {
        return Err(Error::invalid("allowNegative", "must be false: e-money wallets never go negative"));
    }
    let new = NewWallet {
        dlt_address: b.dlt_address.as_deref().map(validate::dlt_address).transpose().map_err(|r| Error::invalid("dltAddress", r))?,
        external_id: text("externalId", b.external_id, 100)?,
        name: text("name", b.name, 200)?,
        nickname: text("nickname", b.nickname, 200)?,
        wallet_type: b.wallet_type.unwrap_or_default().as_str(),
        purpose: text("purpose", b.purpose, 200)?,
        parent_wallet_id: b.parent_wallet_id,
        currency: b.currency.as_deref().map(validate::currency).transpose().map_err(|r| Error::invalid("currency", r))?,
        group_id: text("groupId", b.group_id, 64)?,
        metadata: b.metadata,
        dlt_network: b.dlt_network.map(|n| network_name(&n).map(|_| n)).transpose()?,
    };
    if let Some(m) = &new.metadata {
        fn has_nul(v: &Value) -> bool {
            match v {
                Value::String(s) => s.contains('\0'),
                Value::Array(a) => a.iter().any(has_nul),
                Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
                _ => false,
            }
        }
        if m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
            return Err(Error::invalid("metadata", "must not contain NUL characters"));
        }
        if serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX) > 16 * 1024 {
            return Err(Error::invalid("metadata", "must be at most 16 KiB as JSON"));
        }
    }
    let req = Request { client_id: auth.client_id, key, endpoint: "POST /api/v1/public/wallets".into(), raw_body: &raw };
    idempotency::run(&ctx, req, Run(CreateWalletCommand { user_id: b.user_id, wallet: new })).await
}

/// A network name as the OpenAPI states it (1..=64 letters, digits, `.`, `_`, `-`, spaces; not starting with one of the last four).
fn network_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' '));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("dltNetwork", "must be 1..=64 letters, digits, '.', '_', '-' or spaces, starting with a letter or digit"))
    }
}

impl Render for WalletCreated {
    async fn render(self, ctx: &ApiContext, conn: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let view = load_wallet(conn, ctx, self.client_id, self.wallet_id).await?;
        Ok((StatusCode::CREATED, serde_json::to_value(view).map_err(anyhow::Error::from)?))
    }
}


/// Create an IBAN for a wallet: the wallet READY, its user not UNSUBSCRIBED and at
/// KYC level 1 or more. The IBAN is a valid Spanish IBAN (ISO 13616 mod-97), unique.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/create-iban", tag = "wallets",
    params(("walletId" = Uuid, Path)),
    responses((status = 200, description = "the wallet, with its new `iban`", body = WalletView),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `user_unsubscribed`, `kyc_level_too_low`, `iban_already_assigned`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_iban(auth: Auth<Write>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<WalletView>> {
    let id = path_uuid("walletId", &id)?;
    let mut tx = ctx.pool().begin().await?;
    let w = wallet_facts(&mut tx, auth.client_id, id, true).await?;
    if w.status != status::READY {
        return Err(Error::conflict("wallet_not_ready", format!("the wallet is {}; an IBAN needs a READY wallet", w.status)));
    }
    let (user_status, kyc): (String, i16) =
        sqlx::query_as("SELECT status, kyc_level FROM users WHERE id = $1").bind(w.user_id).fetch_one(&mut *tx).await?;
    if user_status == "UNSUBSCRIBED" {
        return Err(Error::conflict("user_unsubscribed", "the wallet's user is UNSUBSCRIBED"));
    }
    if kyc < 1 {
        return Err(Error::conflict("kyc_level_too_low", "an IBAN needs the user at KYC level 1 or higher"));
    }
    if w.iban.is_some() {
        return Err(Error::conflict("iban_already_assigned", "the wallet already has an IBAN"));
    }
    let mut iban = validate::issue_iban();
    for _ in 0..10 {
        let taken: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM wallets WHERE iban = $1").bind(&iban).fetch_optional(&mut *tx).await?;
        if taken.is_none() {
            break;
        }
        iban = validate::issue_iban();
    }
    sqlx::query("UPDATE wallets SET iban = $2, updated_at = now() WHERE id = $1").bind(id).bind(&iban).execute(&mut *tx).await?;
    let view = load_wallet(&mut tx, &ctx, auth.client_id, id).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Unsubscribe a wallet (irreversible; its address is never reused). Refused with
/// 409 while the wallet holds money (`wallet_has_funds`) or is payer or payee of an
/// open hold (`wallet_has_open_holds`).
#[utoipa::path(delete, path = "/api/v1/public/wallets/{walletId}", tag = "wallets",
    params(("walletId" = Uuid, Path)),
    responses((status = 200, description = "the wallet, now UNSUBSCRIBED", body = WalletView),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_unsubscribed`, `wallet_has_funds`, `wallet_has_open_holds`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn unsubscribe_wallet(auth: Auth<Write>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<WalletView>> {
    let id = path_uuid("walletId", &id)?;
    let mut tx = ctx.pool().begin().await?;
    let w = wallet_facts(&mut tx, auth.client_id, id, true).await?;
    if w.status == status::UNSUBSCRIBED {
        return Err(Error::conflict("wallet_unsubscribed", "the wallet is already unsubscribed"));
    }
    let current = load_wallet(&mut tx, &ctx, auth.client_id, id).await?;
    if current.balance > Decimal::ZERO {
        return Err(Error::conflict(
            "wallet_has_funds",
            format!("the wallet still holds {} (gross balance); move the money out first", current.balance),
        ));
    }
    let finals: Vec<String> = FINAL_HOLD_STATUSES.iter().map(|s| s.to_string()).collect();
    let (open,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM holds WHERE (payer_dlt_address = $1 OR payee_dlt_address = $1) AND status <> ALL($2)",
    )
    .bind(&w.dlt_address)
    .bind(&finals)
    .fetch_one(&mut *tx)
    .await?;
    if open > 0 {
        return Err(Error::conflict("wallet_has_open_holds", format!("the wallet is payer or payee of {open} open hold(s)")));
    }
    sqlx::query("UPDATE wallets SET status = 'UNSUBSCRIBED', updated_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
    // its schedules (paying or paid) end with it
    emledger_operations::schedule::delete_all_of_wallet(&mut tx, id).await?;
    let view = load_wallet(&mut tx, &ctx, auth.client_id, id).await?;
    let what = emledger_operations::audit::Action {
        action: "wallet.unsubscribed",
        object_type: "wallet",
        object_id: id.to_string(),
        detail: serde_json::json!({"previousStatus": w.status}),
    };
    emledger_operations::audit::record(&mut tx, &auth.actor(), None, what).await?;
    tx.commit().await?;
    Ok(Json(view))
}
