//! Favourite external accounts of a wallet (seed 003): add (wallet READY, at most 5
//! ACTIVE, alias unique per wallet among ACTIVE ones, IBAN validated), get, list
//! (paged), delete (status DELETED, irreversible; the same data may be added again).

use axum::{
    extract::State,
    http::StatusCode,
    routing::get,
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::wallet::{status, text, wallet_facts};

use super::{
    auth::{Auth, Read, Write},
    error::unique_violation,
    extract::{self, path_uuid, Path, Query},
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, Error, Link, Result,
};
use emledger_operations::validate;

/// Most ACTIVE favourites per wallet.
pub const MAX_FAVOURITES: i64 = 5;

#[derive(Debug, Serialize, ToSchema)]
pub struct FavouriteLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub wallet: Link,
}

/// A favourite external account. Carries both spellings seed 003 uses
/// (`id`/`favouriteExternalAccountId`, `iban`/`externalIban`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FavouriteView {
    #[serde(rename = "_links")]
    pub links: FavouriteLinks,
    pub id: Uuid,
    pub favourite_external_account_id: Uuid,
    pub wallet_id: Uuid,
    pub alias: String,
    pub iban: String,
    pub external_iban: String,
    /// `ACTIVE` or `DELETED`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct FavouriteRow {
    id: Uuid,
    wallet_id: Uuid,
    alias: String,
    iban: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl FavouriteRow {
    fn view(self, ctx: &ApiContext) -> FavouriteView {
        FavouriteView {
            links: FavouriteLinks {
                self_: Link::new(ctx, format!("/api/v1/public/wallets/{}/favourite-external-accounts/{}", self.wallet_id, self.id)),
                wallet: Link::new(ctx, format!("/api/v1/public/wallets/{}", self.wallet_id)),
            },
            id: self.id,
            favourite_external_account_id: self.id,
            wallet_id: self.wallet_id,
            alias: self.alias,
            external_iban: self.iban.clone(),
            iban: self.iban,
            status: self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const COLUMNS: &str = "id, wallet_id, alias, iban, status, created_at, updated_at";

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/favourite-external-accounts", get(list_favourites).post(add_favourite))
        .route(
            "/api/v1/public/wallets/{walletId}/favourite-external-accounts/{favouriteExternalAccountId}",
            get(get_favourite).delete(delete_favourite),
        )
}

/// The external IBAN object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalIban {
    /// An IBAN (ISO 13616, electronic form; `format: iban`: its country's length
    /// and structure and its mod-97 check digits are checked).
    #[schema(format = "iban", pattern = r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$", example = "ES7921000813610123456789")]
    pub account_number: String,
}

/// Add a favourite external account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddFavourite {
    /// Unique per wallet among ACTIVE favourites (409 `duplicate_alias`); 1..=100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub alias: String,
    pub external_iban: ExternalIban,
}

/// Add a favourite external account to a READY wallet (at most 5 ACTIVE).
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/favourite-external-accounts", tag = "favourites",
    params(("walletId" = Uuid, Path)), request_body = AddFavourite,
    responses((status = 201, body = FavouriteView), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `favourite_limit_reached`, `duplicate_alias`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn add_favourite(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    body: extract::Json<AddFavourite>,
) -> Result<(StatusCode, Json<FavouriteView>)> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let alias = text("alias", Some(b.alias), 100)?.unwrap_or_default();
    let iban = validate::iban(&b.external_iban.account_number).map_err(|r| Error::invalid("externalIban.accountNumber", r))?;
    let mut tx = ctx.pool().begin().await?;
    let w = wallet_facts(&mut tx, auth.client_id, wallet_id, true).await?;
    if w.status != status::READY {
        return Err(Error::conflict("wallet_not_ready", format!("the wallet is {}; favourites need a READY wallet", w.status)));
    }
    let (active,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM favourite_external_accounts WHERE wallet_id = $1 AND status = 'ACTIVE'")
            .bind(wallet_id)
            .fetch_one(&mut *tx)
            .await?;
    if active >= MAX_FAVOURITES {
        return Err(Error::conflict("favourite_limit_reached", format!("a wallet can have at most {MAX_FAVOURITES} active favourite external accounts")));
    }
    let dup: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM favourite_external_accounts WHERE wallet_id = $1 AND alias = $2 AND status = 'ACTIVE'")
            .bind(wallet_id)
            .bind(&alias)
            .fetch_optional(&mut *tx)
            .await?;
    if dup.is_some() {
        return Err(duplicate_alias());
    }
    let row: FavouriteRow = sqlx::query_as(&format!(
        "INSERT INTO favourite_external_accounts (id, client_id, wallet_id, alias, iban) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(auth.client_id)
    .bind(wallet_id)
    .bind(&alias)
    .bind(&iban)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| if unique_violation(&e).is_some() { duplicate_alias() } else { e.into() })?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.view(&ctx))))
}

fn duplicate_alias() -> Error {
    Error::conflict("duplicate_alias", "this wallet already has an active favourite with this alias")
}

async fn find(ctx: &ApiContext, client_id: Uuid, wallet_id: &str, fav_id: &str) -> Result<FavouriteRow> {
    let wallet_id = path_uuid("walletId", wallet_id)?;
    let fav_id = path_uuid("favouriteExternalAccountId", fav_id)?;
    let mut conn = ctx.pool().acquire().await?;
    wallet_facts(&mut conn, client_id, wallet_id, false).await?;
    let row: Option<FavouriteRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM favourite_external_accounts WHERE id = $1 AND wallet_id = $2 AND client_id = $3"
    ))
    .bind(fav_id)
    .bind(wallet_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound("favourite external account"))
}

/// Get a favourite external account.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/favourite-external-accounts/{favouriteExternalAccountId}", tag = "favourites",
    params(("walletId" = Uuid, Path), ("favouriteExternalAccountId" = Uuid, Path)),
    responses((status = 200, body = FavouriteView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_favourite(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, fav_id)): Path<(String, String)>,
) -> Result<Json<FavouriteView>> {
    Ok(Json(find(&ctx, auth.client_id, &wallet_id, &fav_id).await?.view(&ctx)))
}

/// Delete a favourite external account (status DELETED; irreversible).
#[utoipa::path(delete, path = "/api/v1/public/wallets/{walletId}/favourite-external-accounts/{favouriteExternalAccountId}", tag = "favourites",
    params(("walletId" = Uuid, Path), ("favouriteExternalAccountId" = Uuid, Path)),
    responses((status = 200, body = FavouriteView), (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`favourite_deleted`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn delete_favourite(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, fav_id)): Path<(String, String)>,
) -> Result<Json<FavouriteView>> {
    let current = find(&ctx, auth.client_id, &wallet_id, &fav_id).await?;
    let row: Option<FavouriteRow> = sqlx::query_as(&format!(
        "UPDATE favourite_external_accounts SET status = 'DELETED', updated_at = now() WHERE id = $1 AND status = 'ACTIVE' RETURNING {COLUMNS}"
    ))
    .bind(current.id)
    .fetch_optional(ctx.pool())
    .await?;
    let row = row.ok_or_else(|| Error::conflict("favourite_deleted", "this favourite external account is already deleted"))?;
    Ok(Json(row.view(&ctx)))
}

/// A page of favourites.
#[derive(Debug, Serialize, ToSchema)]
pub struct FavouritePage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: FavouritesEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FavouritesEmbedded {
    pub favourite_external_accounts: Vec<FavouriteView>,
}

pub const FAVOURITE_SORT: &[SortField] =
    &[("createdAt", "created_at"), ("updatedAt", "updated_at"), ("alias", "alias"), ("status", "status"), ("iban", "iban")];

/// List a wallet's favourite external accounts, paged; `status` filters.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/favourite-external-accounts", tag = "favourites",
    params(("walletId" = Uuid, Path), ("status" = Option<String>, Query, pattern = r"^(ACTIVE|DELETED)$", description = "ACTIVE or DELETED"),
        ("page" = Option<u32>, Query), ("size" = Option<u32>, Query), ("sort" = Option<Vec<String>>, Query, description = "createdAt, updatedAt, alias, status, iban")),
    responses((status = 200, body = FavouritePage), (status = 400, body = super::error::ErrorEnvelope), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_favourites(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    q: Query,
) -> Result<Json<FavouritePage>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let page = PageRequest::from_query(&q, FAVOURITE_SORT, ("createdAt", true))?;
    let status = q.one("status")?.map(str::to_owned);
    if let Some(s) = &status {
        if s != "ACTIVE" && s != "DELETED" {
            return Err(Error::invalid_query("status", "must be ACTIVE or DELETED"));
        }
    }
    let mut conn = ctx.pool().acquire().await?;
    wallet_facts(&mut conn, auth.client_id, wallet_id, false).await?;
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE wallet_id = ").push_bind(wallet_id);
        if let Some(s) = status.clone() {
            qb.push(" AND status = ").push_bind(s);
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM favourite_external_accounts");
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM favourite_external_accounts"));
    filters(&mut qb);
    qb.push(page.order_by("id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<FavouriteRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let kept: Vec<(&str, String)> = status.iter().map(|s| ("status", s.clone())).collect();
    let (links, meta) =
        page.envelope(&ctx, &format!("/api/v1/public/wallets/{wallet_id}/favourite-external-accounts"), &kept, total);
    Ok(Json(FavouritePage {
        links,
        embedded: FavouritesEmbedded { favourite_external_accounts: rows.into_iter().map(|r| r.view(&ctx)).collect() },
        page: meta,
    }))
}
