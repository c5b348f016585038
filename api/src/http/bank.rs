//! The platform operator's bank endpoints (not a tenant's: a tenant credential
//! can never reach them). They exist only when the process has an operator
//! token (`--operator-token`, `EMLEDGER_OPERATOR_TOKEN`) and take it as
//! `Authorization: Bearer <token>`:
//! - `POST /api/v1/operator/bank/statements`: import a bank file (camt.053,
//!   camt.054, pain.002) sent as the request body — the same import as the inbox
//!   folder and `emledger bank import` ([`emledger_operations::bank`]);
//! - `GET /api/v1/operator/bank/entries?status=UNAPPLIED`: the statements'
//!   entries, e.g. credits no wallet could take, with the reason;
//! - `GET /api/v1/operator/bank/payment-files`: the pain.001 files written for
//!   cash-outs; `GET …/payment-files/{id}` returns one file's XML.
//!
//! There is no tenant route that mints: the old `POST /api/v1/bank/incoming-transfers`
//! (a tenant reporting money it says it received) is gone.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use emledger_operations::bank::{self, BankEntry, ImportOptions, ImportReport};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{
    extract::{path_uuid, RawBody, TypedQuery},
    ApiContext, Error, Result,
};

/// The operator routes, when an operator token is configured.
pub fn router(ctx: &ApiContext) -> Router<ApiContext> {
    if ctx.config().operator_token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Router::new();
    }
    Router::new()
        .route("/api/v1/operator/bank/statements", post(import_statement))
        .route("/api/v1/operator/bank/entries", get(list_entries))
        .route("/api/v1/operator/bank/payment-files", get(list_payment_files))
        .route("/api/v1/operator/bank/payment-files/{id}", get(payment_file))
}

/// Checks `Authorization: Bearer <operator token>` (constant time, over hashes).
pub(super) fn operator(ctx: &ApiContext, headers: &HeaderMap) -> Result<()> {
    let expected = ctx.config().operator_token.as_deref().unwrap_or_default().trim();
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(Error::Unauthorized("the operator endpoints need Authorization: Bearer <operator token>"))?;
    let (a, b) = (sha2::Sha256::digest(expected.as_bytes()), sha2::Sha256::digest(given.as_bytes()));
    if expected.is_empty() || !bool::from(a.ct_eq(&b)) {
        return Err(Error::Unauthorized("not the operator token"));
    }
    Ok(())
}

/// `?name=` of an imported file.
#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    pub name: Option<String>,
}

/// Import one bank file (the body: camt.053, camt.054 or pain.002 XML).
#[utoipa::path(post, path = "/api/v1/operator/bank/statements", tag = "operator",
    params(("name" = Option<String>, Query, description = "the file's name, for the record")),
    request_body(content_type = "application/xml", description = "a camt.053, camt.054 or pain.002 document"),
    responses((status = 201, description = "imported: the ImportReport (creditsApplied, creditsRepeated, unapplied, payoutsExecuted, …)"),
        (status = 200, description = "the same file was imported before: its first report, alreadyImported = true"),
        (status = 400, body = super::error::ErrorEnvelope, description = "not a bank file of the platform's account"),
        (status = 401, body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn import_statement(
    State(ctx): State<ApiContext>,
    headers: HeaderMap,
    TypedQuery(q): TypedQuery<ImportQuery>,
    RawBody(body): RawBody,
) -> Result<Response> {
    operator(&ctx, &headers)?;
    let name = q.name.unwrap_or_else(|| format!("upload-{}.xml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")));
    let actor = emledger_operations::audit::Actor::operator(super::auth::request_id(&headers));
    let options = ImportOptions { account_iban: ctx.config().bank_iban.clone(), actor: Some(actor) };
    let report: ImportReport = bank::import(ctx.platform(), &name, &body, &options).await?;
    let status = if report.already_imported { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(report)).into_response())
}

/// `?status=&limit=` of the entries list.
#[derive(Debug, Deserialize)]
pub struct EntriesQuery {
    pub status: Option<String>,
    pub limit: Option<i64>,
}

/// Entries of the imported statements, newest first.
#[utoipa::path(get, path = "/api/v1/operator/bank/entries", tag = "operator",
    params(("status" = Option<String>, Query, pattern = r"^([aA][pP][pP][lL][iI][eE][dD]|[uU][nN][aA][pP][pP][lL][iI][eE][dD])$", description = "APPLIED or UNAPPLIED (any case)"),
        ("limit" = Option<i64>, Query, description = "how many, newest first: default 200; values outside 1..=2000 are taken as the nearest bound")),
    responses((status = 200, description = "entries with their reason when UNAPPLIED"), (status = 401, body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn list_entries(State(ctx): State<ApiContext>, headers: HeaderMap, TypedQuery(q): TypedQuery<EntriesQuery>) -> Result<Json<Vec<BankEntry>>> {
    operator(&ctx, &headers)?;
    let status = q.status.as_deref().map(str::to_ascii_uppercase);
    if let Some(s) = &status {
        if s != "APPLIED" && s != "UNAPPLIED" {
            return Err(Error::invalid_query("status", "must be APPLIED or UNAPPLIED"));
        }
    }
    Ok(Json(bank::entries(ctx.platform(), status.as_deref(), q.limit.unwrap_or(200)).await?))
}

/// A pain.001 file written for cash-outs.
#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFile {
    pub id: Uuid,
    pub name: String,
    pub message_id: String,
    pub transfers: Option<i32>,
    /// Minor units, as text.
    pub total: Option<String>,
    pub exported_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The pain.001 files, newest first.
#[utoipa::path(get, path = "/api/v1/operator/bank/payment-files", tag = "operator",
    responses((status = 200, description = "id, name, messageId, transfers, total (minor units), exportedAt, createdAt"), (status = 401, body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn list_payment_files(State(ctx): State<ApiContext>, headers: HeaderMap) -> Result<Json<Vec<PaymentFile>>> {
    operator(&ctx, &headers)?;
    let files: Vec<PaymentFile> = sqlx::query_as(
        "SELECT id, name, message_id, transfers, total::text AS total, exported_at, created_at FROM bank_files
         WHERE direction = 'OUT' ORDER BY created_at DESC LIMIT 500",
    )
    .fetch_all(ctx.pool())
    .await
    ?;
    Ok(Json(files))
}

/// One pain.001 file's XML.
#[utoipa::path(get, path = "/api/v1/operator/bank/payment-files/{id}", tag = "operator", params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/xml", description = "the pain.001.001.09 document"), (status = 400, body = super::error::ErrorEnvelope),
        (status = 401, body = super::error::ErrorEnvelope), (status = 404, body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn payment_file(State(ctx): State<ApiContext>, headers: HeaderMap, super::extract::Path(id): super::extract::Path<String>) -> Result<Response> {
    operator(&ctx, &headers)?;
    let id = path_uuid("id", &id)?;
    let content: Option<(String,)> = sqlx::query_as("SELECT content FROM bank_files WHERE id = $1 AND direction = 'OUT'")
        .bind(id)
        .fetch_optional(ctx.pool())
        .await
        ?;
    let (xml,) = content.ok_or(Error::NotFound("payment file"))?;
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml).into_response())
}
