//! Authentication and scopes: `X-API-Key` or `Authorization: Bearer <jwt>`, the
//! OAuth2 client-credentials endpoint `POST /oauth/token` that issues short-lived
//! HS256 tokens (tenant and scopes inside), and admin-scope API key management.
//!
//! 401 `unauthorized` for missing, malformed, wrong, revoked or expired
//! credentials; 403 `forbidden` when the credential lacks the endpoint's scope.

use std::marker::PhantomData;

use axum::{
    extract::{FromRequest, FromRequestParts, Request, State},
    http::{header, request::Parts, StatusCode},
    routing::{delete, post},
    Json, Router,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    extract::{self, Path},
    ApiContext, Error, Result,
};
use crate::tenant::{self, Scope};

/// A scope an endpoint requires (type-level, so the check runs before the body is read).
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Scope;
}
/// Marker: `read`.
pub struct Read;
/// Marker: `write`.
pub struct Write;
/// Marker: `admin`.
pub struct Admin;
impl RequiredScope for Read {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for Write {
    const SCOPE: Scope = Scope::Write;
}
impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::Admin;
}

/// An authenticated tenant holding scope `S`.
pub struct Auth<S> {
    pub client_id: Uuid,
    pub scopes: Vec<Scope>,
    /// The API key behind the credential (itself, or the one a bearer token was issued for).
    pub key_id: Uuid,
    /// Whether it came as a bearer token.
    pub bearer: bool,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    _scope: PhantomData<fn() -> S>,
}

impl<S> Auth<S> {
    /// Who is acting, for the audit trail.
    pub fn actor(&self) -> emledger_operations::audit::Actor {
        emledger_operations::audit::Actor::key(self.client_id, self.key_id, self.bearer, self.request_id.as_deref())
    }
}

/// A verified credential.
struct Credential {
    client_id: Uuid,
    scopes: Vec<Scope>,
    key_id: Uuid,
    bearer: bool,
}

/// The request's `X-Request-Id` (set by the outermost layer when the client sent none).
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    /// the tenant (clientId)
    sub: Uuid,
    /// the API key the token was issued for
    kid: Uuid,
    scope: String,
    iat: i64,
    exp: i64,
    jti: Uuid,
}

const ISSUER: &str = "emledger";

fn sign(key: &[u8], claims: &Claims) -> Result<String> {
    let key = EncodingKey::from_secret(key).map_err(|e| Error::Internal(anyhow::anyhow!("the bearer-token key: {e}")))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).map_err(|e| Error::Internal(anyhow::anyhow!("signing a bearer token: {e}")))
}

/// The claims of a valid token: HS256 only (no `none`, no other algorithm), our
/// issuer, not expired (no leeway).
fn verify(key: &[u8], token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 0;
    let key = DecodingKey::from_secret(key).ok()?;
    jsonwebtoken::decode::<Claims>(token, &key, &validation).ok().map(|t| t.claims)
}

/// The tenant and scopes behind the request's credentials.
async fn authenticate(parts: &Parts, ctx: &ApiContext) -> Result<Credential> {
    if let Some(v) = parts.headers.get("x-api-key") {
        let key = v.to_str().map_err(|_| Error::Unauthorized("invalid API key"))?;
        return match tenant::verify_api_key(ctx.pool(), key.trim()).await? {
            Some(id) => Ok(Credential { client_id: id.client_id, scopes: id.scopes, key_id: id.key_id, bearer: false }),
            None => Err(Error::Unauthorized("invalid API key")),
        };
    }
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let text = v.to_str().map_err(|_| Error::Unauthorized("invalid bearer token"))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or(Error::Unauthorized("Authorization must be `Bearer <token>`"))?;
        let claims = verify(ctx.jwt_key(), token.trim()).ok_or(Error::Unauthorized("invalid or expired bearer token"))?;
        // a token dies with its key: checked on every request (a primary-key read,
        // like the API key path's), so every replica agrees at once
        let live: Option<(bool,)> = sqlx::query_as("SELECT revoked_at IS NULL FROM api_keys WHERE id = $1 AND client_id = $2")
            .bind(claims.kid)
            .bind(claims.sub)
            .fetch_optional(ctx.pool())
            .await?;
        if !matches!(live, Some((true,))) {
            return Err(Error::Unauthorized("the bearer token's API key was revoked"));
        }
        let scopes = claims.scope.split(' ').filter_map(Scope::parse).collect();
        return Ok(Credential { client_id: claims.sub, scopes, key_id: claims.kid, bearer: true });
    }
    Err(Error::Unauthorized("missing credentials: send X-API-Key or Authorization: Bearer"))
}

impl<S: RequiredScope> FromRequestParts<ApiContext> for Auth<S> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, ctx: &ApiContext) -> Result<Self> {
        let c = authenticate(parts, ctx).await?;
        if !c.scopes.contains(&S::SCOPE) {
            return Err(Error::Forbidden(S::SCOPE));
        }
        ctx.rate_limits().check_request(&parts.method, parts.extensions.get::<super::ratelimit::Slot>(), c.client_id)?;
        let request_id = request_id(&parts.headers).map(str::to_owned);
        Ok(Auth { client_id: c.client_id, scopes: c.scopes, key_id: c.key_id, bearer: c.bearer, request_id, _scope: PhantomData })
    }
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v1/public/api-keys", post(create_key).get(list_keys))
        .route("/api/v1/public/api-keys/{keyId}", delete(revoke_key))
}

/// OAuth2 client-credentials request (form-encoded or JSON).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials` (absent: 400 `invalid_request`; another: 400 `unsupported_grant_type`).
    #[schema(value_type = String, pattern = r"^client_credentials$")]
    pub grant_type: Option<String>,
    /// The tenant's `clientId`.
    pub client_id: Option<String>,
    /// One of the tenant's API keys (`eml_<prefix>_<secret>`).
    pub client_secret: Option<String>,
    /// Space-separated subset of the key's scopes (`read`, `write`, `admin`; one the
    /// key lacks: 400 `invalid_scope`); all of them when absent or blank.
    #[schema(pattern = r"^\s*((read|write|admin)(\s+(read|write|admin))*)?\s*$")]
    pub scope: Option<String>,
}

/// RFC 6749 token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub scope: String,
}

fn oauth(status: StatusCode, code: &'static str, message: impl Into<String>) -> Error {
    Error::OAuth { status, code, message: message.into() }
}

/// Issue a bearer token (OAuth2 client credentials). The client authenticates with
/// its `clientId` and an API key as secret, in the body or with HTTP Basic.
#[utoipa::path(post, path = "/oauth/token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse),
        (status = 400, description = "`unsupported_grant_type`, `invalid_scope`, `invalid_request`", body = super::error::ErrorEnvelope),
        (status = 401, description = "`invalid_client`", body = super::error::ErrorEnvelope)))]
pub async fn token(State(ctx): State<ApiContext>, req: Request) -> Result<Json<TokenResponse>> {
    let slot = req.extensions().get::<super::ratelimit::Slot>().cloned();
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut body: TokenRequest = if ct.starts_with("application/x-www-form-urlencoded") {
        let raw = extract::body_bytes(req, &ctx).await?;
        let mut t = TokenRequest::default();
        for (k, v) in form_urlencoded::parse(&raw) {
            let v = Some(v.into_owned());
            match &*k {
                "grant_type" => t.grant_type = v,
                "client_id" => t.client_id = v,
                "client_secret" => t.client_secret = v,
                "scope" => t.scope = v,
                _ => {}
            }
        }
        t
    } else if ct.starts_with("application/json") {
        extract::Json::<TokenRequest>::from_request(req, &ctx).await?.value
    } else {
        return Err(Error::UnsupportedMediaType("application/x-www-form-urlencoded or application/json"));
    };
    if let Some((id, secret)) = basic {
        body.client_id.get_or_insert(id);
        body.client_secret.get_or_insert(secret);
    }
    match body.grant_type.as_deref() {
        Some("client_credentials") => {}
        None => return Err(oauth(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required")),
        Some(_) => return Err(oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only client_credentials is supported")),
    }
    let bad_client = || oauth(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret");
    let client_id = body.client_id.as_deref().and_then(|c| Uuid::parse_str(c.trim()).ok()).ok_or_else(bad_client)?;
    let secret = body.client_secret.as_deref().ok_or_else(bad_client)?;
    let key = tenant::verify_api_key(ctx.pool(), secret.trim()).await?.ok_or_else(bad_client)?;
    if key.client_id != client_id {
        return Err(bad_client());
    }
    // a token request is a write of the (verified) tenant
    ctx.rate_limits().check_request(&axum::http::Method::POST, slot.as_ref(), client_id)?;
    let scopes: Vec<Scope> = match body.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => key.scopes.clone(),
        Some(requested) => {
            let mut out = Vec::new();
            for s in requested.split_whitespace() {
                match Scope::parse(s) {
                    Some(sc) if key.scopes.contains(&sc) => out.push(sc),
                    _ => return Err(oauth(StatusCode::BAD_REQUEST, "invalid_scope", format!("scope `{s}` is not granted to this client"))),
                }
            }
            out
        }
    };
    let scope = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let now = Utc::now().timestamp();
    let ttl = ctx.config().token_ttl_secs.max(1);
    let claims = Claims { iss: ISSUER.into(), sub: client_id, kid: key.key_id, scope: scope.clone(), iat: now, exp: now + ttl as i64, jti: Uuid::now_v7() };
    Ok(Json(TokenResponse { access_token: sign(ctx.jwt_key(), &claims)?, token_type: "Bearer", expires_in: ttl, scope }))
}

/// Create an API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateApiKey {
    /// 1..=100 characters, no control characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
    /// At least one of `read`, `write`, `admin` (repeats are ignored).
    #[schema(value_type = Vec<super::docs::ScopeName>, min_items = 1)]
    pub scopes: Vec<String>,
}

/// An API key (the secret only in the creation response).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The full key; returned once, at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for ApiKeyView {
    fn from(r: KeyRow) -> Self {
        ApiKeyView { id: r.id, name: r.name, prefix: r.prefix, scopes: r.scopes, created_at: r.created_at, revoked_at: r.revoked_at, api_key: None }
    }
}

/// Create an API key for the caller's tenant (admin scope). The key is shown once.
#[utoipa::path(post, path = "/api/v1/public/api-keys", tag = "auth", request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyView), (status = 400, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_key(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    body: extract::Json<CreateApiKey>,
) -> Result<(StatusCode, Json<ApiKeyView>)> {
    let b = body.value;
    let name = emledger_operations::wallet::text("name", Some(b.name), 100)?.unwrap_or_default();
    let name = name.as_str();
    let mut scopes = Vec::new();
    for (i, s) in b.scopes.iter().enumerate() {
        let sc = Scope::parse(s).ok_or_else(|| Error::invalid(format!("scopes[{i}]"), "must be read, write or admin"))?;
        if !scopes.contains(&sc) {
            scopes.push(sc);
        }
    }
    if scopes.is_empty() {
        return Err(Error::invalid("scopes", "must name at least one scope"));
    }
    let mut tx = ctx.pool().begin().await?;
    let (id, key) = tenant::create_api_key_on(&mut tx, &auth.actor(), auth.client_id, name, &scopes).await?;
    let row: KeyRow = sqlx::query_as("SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut view = ApiKeyView::from(row);
    view.api_key = Some(key);
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the tenant's API keys (admin scope); secrets are never shown.
#[utoipa::path(get, path = "/api/v1/public/api-keys", tag = "auth",
    responses((status = 200, body = Vec<ApiKeyView>)), security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_keys(auth: Auth<Admin>, State(ctx): State<ApiContext>) -> Result<Json<Vec<ApiKeyView>>> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE client_id = $1 ORDER BY created_at, id",
    )
    .bind(auth.client_id)
    .fetch_all(ctx.pool())
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Revoke an API key (admin scope). Bearer tokens already issued for it stay
/// valid until they expire (`--token-ttl-secs`, 15 minutes by default).
#[utoipa::path(delete, path = "/api/v1/public/api-keys/{keyId}", tag = "auth",
    params(("keyId" = Uuid, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn revoke_key(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    Path(key_id): Path<Uuid>,
) -> Result<Json<ApiKeyView>> {
    let mut tx = ctx.pool().begin().await?;
    if !tenant::revoke_api_key_on(&mut tx, &auth.actor(), auth.client_id, key_id).await? {
        return Err(Error::NotFound("API key"));
    }
    let row: KeyRow = sqlx::query_as("SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE id = $1")
        .bind(key_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(row.into()))
}
