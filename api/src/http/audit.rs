//! The audit trail, read-only (the events are written by the actions
//! themselves, see `emledger_operations::audit`):
//! - `GET /api/v1/public/audit-events` (admin scope): the caller's tenant's events;
//! - `GET /api/v1/operator/audit-events` (operator token): every tenant's and the
//!   platform's own (`?clientId=` narrows).
//!
//! Newest first; `?before=<id>` pages (the answer's `nextBefore`), `?limit=` 1..=500
//! (default 100), `?action=` and `?objectId=` filter.

use axum::{extract::State, http::HeaderMap, routing::get, Json, Router};
use emledger_operations::audit::{self, AuditEvent, Filter};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Admin, Auth},
    extract::Query,
    ApiContext, Error, Result,
};

pub fn router(ctx: &ApiContext) -> Router<ApiContext> {
    let tenant = Router::new().route("/api/v1/public/audit-events", get(tenant_events));
    if ctx.config().operator_token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return tenant;
    }
    tenant.route("/api/v1/operator/audit-events", get(operator_events))
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `?before=` for the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// One admin action.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The tenant; null for the platform's own actions.
    pub client_id: Option<Uuid>,
    /// `api_key:<keyId>`, `bearer:<keyId>`, `operator` or `cli`.
    pub credential: String,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    /// api_key.created, api_key.revoked, wallet.compliance_status_changed,
    /// wallet.unsubscribed, user.updated, clearing.decided,
    /// bank.statement_imported, tenant.created.
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// What changed.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            at: e.at,
            client_id: e.client_id,
            credential: e.credential,
            request_id: e.request_id,
            action: e.action,
            object_type: e.object_type,
            object_id: e.object_id,
            detail: e.detail,
        }
    }
}

fn filter(q: &Query, client_id: Option<Uuid>) -> Result<Filter> {
    let limit = q.parse::<i64>("limit", "an integer")?.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid_query("limit", "must be between 1 and 500"));
    }
    let before = q.parse::<i64>("before", "an event id")?;
    let text = |name: &str| -> Result<Option<String>> {
        match q.one(name)? {
            Some(v) if v.chars().count() > 200 || v.contains('\0') => Err(Error::invalid_query(name, "must be at most 200 characters, without NUL")),
            Some(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
            _ => Ok(None),
        }
    };
    Ok(Filter { client_id, action: text("action")?, object_id: text("objectId")?, before, limit })
}

async fn page(ctx: &ApiContext, f: Filter) -> Result<Json<AuditPage>> {
    let events = audit::list(ctx.pool(), &f).await?;
    let next_before = (events.len() as i64 == f.limit).then(|| events.last().map(|e| e.id)).flatten();
    Ok(Json(AuditPage { events: events.into_iter().map(Into::into).collect(), next_before }))
}

/// The tenant's audit trail (admin scope): API keys created and revoked, wallet
/// and user status changes, with the credential and request id of each.
#[utoipa::path(get, path = "/api/v1/public/audit-events", tag = "auth",
    params(("action" = Option<String>, Query, max_length = 200, pattern = r"^[^\x00]*$", description = "at most 200 characters, no NUL; blank = any"),
        ("objectId" = Option<String>, Query, max_length = 200, pattern = r"^[^\x00]*$", description = "at most 200 characters, no NUL; blank = any"),
        ("before" = Option<i64>, Query, description = "an event id: older events only"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "1..=500, default 100")),
    responses((status = 200, body = AuditPage), (status = 400, body = super::error::ErrorEnvelope),
        (status = 401, body = super::error::ErrorEnvelope), (status = 403, description = "needs the admin scope", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn tenant_events(auth: Auth<Admin>, State(ctx): State<ApiContext>, q: Query) -> Result<Json<AuditPage>> {
    let f = filter(&q, Some(auth.client_id))?;
    page(&ctx, f).await
}

/// The whole audit trail (operator): every tenant's admin actions and the
/// platform's own (clearing decisions, bank statements imported, tenants created).
#[utoipa::path(get, path = "/api/v1/operator/audit-events", tag = "operator",
    params(("clientId" = Option<Uuid>, Query),
        ("action" = Option<String>, Query, max_length = 200, pattern = r"^[^\x00]*$", description = "at most 200 characters, no NUL; blank = any"),
        ("objectId" = Option<String>, Query, max_length = 200, pattern = r"^[^\x00]*$", description = "at most 200 characters, no NUL; blank = any"),
        ("before" = Option<i64>, Query, description = "an event id: older events only"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "1..=500, default 100")),
    responses((status = 200, body = AuditPage), (status = 400, body = super::error::ErrorEnvelope), (status = 401, body = super::error::ErrorEnvelope)),
    security(("operator" = [])))]
pub async fn operator_events(State(ctx): State<ApiContext>, headers: HeaderMap, q: Query) -> Result<Json<AuditPage>> {
    super::bank::operator(&ctx, &headers)?;
    let f = filter(&q, q.uuid("clientId")?)?;
    page(&ctx, f).await
}
