//! Users: create (with the first wallet, seed 003), get, and the admin-scope
//! `PATCH /api/v1/public/users/{userId}` that sets the KYC level and the status.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::{
    user::{CreateUser as CreateUserCommand, UserCreated},
    validate,
    wallet::text,
};
use serde_json::Value;

use super::{
    auth::{Admin, Auth, Read, Write},
    extract::{self, path_uuid, Path},
    idempotency::{self, Render, Request, Run},
    ApiContext, Error, Link, Result,
};

/// User statuses. `UNSUBSCRIBED` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum UserStatus {
    ACTIVATED,
    BLOCKED,
    UNSUBSCRIBED,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::ACTIVATED => "ACTIVATED",
            UserStatus::BLOCKED => "BLOCKED",
            UserStatus::UNSUBSCRIBED => "UNSUBSCRIBED",
        }
    }
}

/// Highest KYC level.
pub const MAX_KYC_LEVEL: u8 = 3;

/// Links of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub wallets: Link,
    pub wallet: Option<Link>,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    #[serde(rename = "_links")]
    pub links: UserLinks,
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub phone_number: String,
    pub country: String,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub kyc_level: i16,
    /// `ACTIVATED`, `BLOCKED` or `UNSUBSCRIBED`.
    pub status: String,
    /// The user's first wallet (created with the user).
    pub wallet_id: Option<Uuid>,
    /// That wallet's DLT address.
    pub dlt_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    client_id: Uuid,
    name: String,
    phone_number: String,
    country: String,
    email: Option<String>,
    external_id: Option<String>,
    kyc_level: i16,
    status: String,
    wallet_id: Option<Uuid>,
    dlt_address: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn load_user(conn: &mut PgConnection, ctx: &ApiContext, client_id: Uuid, id: Uuid) -> Result<UserView> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT u.id, u.client_id, u.name, u.phone_number, u.country, u.email, u.external_id, u.kyc_level, u.status, \
         fw.id AS wallet_id, fw.dlt_address, u.created_at, u.updated_at \
         FROM users u LEFT JOIN LATERAL (SELECT id, dlt_address FROM wallets WHERE user_id = u.id ORDER BY created_at, id LIMIT 1) fw ON true \
         WHERE u.id = $1 AND u.client_id = $2",
    )
    .bind(id)
    .bind(client_id)
    .fetch_optional(conn)
    .await?;
    let r = row.ok_or(Error::NotFound("user"))?;
    Ok(UserView {
        links: UserLinks {
            self_: Link::new(ctx, format!("/api/v1/public/users/{}", r.id)),
            wallets: Link::new(ctx, format!("/api/v1/public/wallets?userId={}", r.id)),
            wallet: r.wallet_id.map(|w| Link::new(ctx, format!("/api/v1/public/wallets/{w}"))),
        },
        id: r.id,
        client_id: r.client_id,
        name: r.name,
        phone_number: r.phone_number,
        country: r.country,
        email: r.email,
        external_id: r.external_id,
        kyc_level: r.kyc_level,
        status: r.status,
        wallet_id: r.wallet_id,
        dlt_address: r.dlt_address,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/users", post(create_user))
        .route("/api/v1/public/users/{userId}", get(get_user).patch(update_user))
}

/// Create a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateUser {
    /// Full name, 1..=200 characters (surrounding spaces trimmed), no control characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
    /// E.164 (`+` country code and number), at most 20 characters, a number
    /// libphonenumber's metadata knows as valid (`format: e164`).
    #[schema(format = "e164", min_length = 3, max_length = 20, pattern = r"^\+[0-9]{2,19}$", example = "+34600000001")]
    pub phone_number: String,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = super::docs::Country)]
    pub country: String,
    /// One `@`, a domain with a dot, no spaces, at most 254 characters.
    #[schema(max_length = 254, pattern = r"^[^\s@\x00-\x1f\x7f-\x9f]+@[^\s@.\x00-\x1f\x7f-\x9f][^\s@\x00-\x1f\x7f-\x9f]*\.[^\s@\x00-\x1f\x7f-\x9f]*[^\s@.\x00-\x1f\x7f-\x9f]$", example = "alice@example.com")]
    pub email: Option<String>,
    /// Unique per tenant (a second user with it: 400 `duplicate_external_id`);
    /// 1..=100 characters. `external_id` (seed 001) is accepted too.
    #[serde(alias = "external_id")]
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub external_id: Option<String>,
    /// Same as the `Idempotency-Key` header (both given: they must be equal).
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Create a user; its first wallet is created with it (fresh address, key discarded).
#[utoipa::path(post, path = "/api/v1/public/users", tag = "users", request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = UserView),
        (status = 400, description = "`invalid_request` naming the field, or `duplicate_external_id`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_user(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    headers: HeaderMap,
    body: extract::Json<CreateUser>,
) -> Result<Response> {
    let raw = body.raw;
    let b = body.value;
    let key = idempotency::key(&headers, b.idempotency_key.as_deref())?;
    let name = text("name", Some(b.name), 200)?.unwrap_or_default();
    let phone = validate::phone_number(&b.phone_number).map_err(|r| Error::invalid("phoneNumber", r))?;
    let country = validate::country(&b.country).map_err(|r| Error::invalid("country", r))?;
    let email = b.email.as_deref().map(validate::email).transpose().map_err(|r| Error::invalid("email", r))?;
    let external_id = text("externalId", b.external_id, 100)?;
    let req = Request { client_id: auth.client_id, key, endpoint: "POST /api/v1/public/users".into(), raw_body: &raw };
    let command = CreateUserCommand { name, phone_number: phone, country, email, external_id };
    idempotency::run(&ctx, req, Run(command)).await
}

impl Render for UserCreated {
    async fn render(self, ctx: &ApiContext, conn: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let view = load_user(conn, ctx, self.client_id, self.user_id).await?;
        Ok((StatusCode::CREATED, serde_json::to_value(view).map_err(anyhow::Error::from)?))
    }
}

/// Get a user.
#[utoipa::path(get, path = "/api/v1/public/users/{userId}", tag = "users", params(("userId" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_user(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<UserView>> {
    let id = path_uuid("userId", &id)?;
    let mut conn = ctx.pool().acquire().await?;
    Ok(Json(load_user(&mut conn, &ctx, auth.client_id, id).await?))
}

/// Admin change of a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateUser {
    /// 0..=3.
    #[schema(minimum = 0, maximum = 3)]
    #[serde(default, deserialize_with = "extract::optional_integer")]
    pub kyc_level: Option<u8>,
    pub status: Option<UserStatus>,
}

/// Set a user's KYC level and/or status (admin scope). `UNSUBSCRIBED` is final:
/// an unsubscribed user cannot be changed again (409 `user_unsubscribed`).
#[utoipa::path(patch, path = "/api/v1/public/users/{userId}", tag = "users", params(("userId" = Uuid, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 400, body = super::error::ErrorEnvelope),
        (status = 403, description = "needs the admin scope", body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`user_unsubscribed`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn update_user(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    body: extract::Json<UpdateUser>,
) -> Result<Json<UserView>> {
    let id = path_uuid("userId", &id)?;
    let b = body.value;
    if b.kyc_level.is_none() && b.status.is_none() {
        return Err(Error::invalid("body", "give kycLevel and/or status"));
    }
    if let Some(k) = b.kyc_level {
        if k > MAX_KYC_LEVEL {
            return Err(Error::invalid("kycLevel", format!("must be between 0 and {MAX_KYC_LEVEL}")));
        }
    }
    let mut tx = ctx.pool().begin().await?;
    let current: Option<(String,)> = sqlx::query_as("SELECT status FROM users WHERE id = $1 AND client_id = $2 FOR UPDATE")
        .bind(id)
        .bind(auth.client_id)
        .fetch_optional(&mut *tx)
        .await?;
    let (status,) = current.ok_or(Error::NotFound("user"))?;
    if status == UserStatus::UNSUBSCRIBED.as_str() {
        return Err(Error::conflict("user_unsubscribed", "the user is UNSUBSCRIBED, which is final"));
    }
    sqlx::query(
        "UPDATE users SET kyc_level = COALESCE($2, kyc_level), status = COALESCE($3, status), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(b.kyc_level.map(i16::from))
    .bind(b.status.map(|s| s.as_str()))
    .execute(&mut *tx)
    .await?;
    if b.status == Some(UserStatus::UNSUBSCRIBED) {
        // an unsubscribed user's wallets move no money (refused at every request): their schedules end
        let wallets: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM wallets WHERE user_id = $1").bind(id).fetch_all(&mut *tx).await?;
        for (w,) in wallets {
            emledger_operations::schedule::delete_all_of_wallet(&mut tx, w).await?;
        }
    }
    let view = load_user(&mut tx, &ctx, auth.client_id, id).await?;
    let what = emledger_operations::audit::Action {
        action: "user.updated",
        object_type: "user",
        object_id: id.to_string(),
        detail: serde_json::json!({"previousStatus": status, "status": b.status.map(|s| s.as_str()), "kycLevel": b.kyc_level}),
    };
    emledger_operations::audit::record(&mut tx, &auth.actor(), None, what).await?;
    tx.commit().await?;
    Ok(Json(view))
}
