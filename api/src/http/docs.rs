//! The OpenAPI 3.1 description, generated from the handlers (utoipa), served at
//! `/openapi.json`, and Swagger UI at `/docs`.
//!
//! Error codes (`error.code`): `invalid_request` (400, `details.field` names the
//! offending field, `details.in` where it was), `duplicate_external_id` (400,
//! seed 001, `details.field` = `externalId`), `malformed_json` (400),
//! `unauthorized` (401), `forbidden` (403, `details.requiredScope`), `not_found`
//! (404: unknown or another tenant's — indistinguishable), `method_not_allowed`
//! (405), `dlt_address_in_use`, `wallet_limit_reached`,
//! `user_not_activated`, `user_unsubscribed`, `wallet_not_ready`,
//! `kyc_level_too_low`, `iban_already_assigned`, `wallet_unsubscribed`,
//! `wallet_has_funds`, `wallet_has_open_holds`, `favourite_limit_reached`,
//! `duplicate_alias`, `favourite_deleted`, `idempotency_in_flight`, `insufficient_funds`,
//! `hold_not_notarized_by_platform`, `hold_operation_in_progress`, `hold_not_open`,
//! `hold_reserved_for_cash_out`, `amount_exceeds_held_value`, `scheduled_operation_not_active`, `psp_not_configured`, `bank_not_configured` (409),
//! `chain_not_ready`, `platform_signer_unavailable` (503),
//! `payload_too_large` (413), `unsupported_media_type` (415),
//! `idempotency_key_reused` (422), `invalid_client` (401), `unsupported_grant_type`
//! and `invalid_scope` (400) on `/oauth/token`, `internal_error` (500).

use axum::Router;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    error::{ErrorBody, ErrorEnvelope},
    audit, auth, bank, cards, cashouts, compliance, favourites, health, hold_ops, holds, movements, operations, paging, scheduled, transfers, users, wallets};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("the platform operator's token (--operator-token)")).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "emledger REST API",
        description = "E-money wallets over an EmToken contract. Amounts are decimal strings with exactly the token's decimals (e.g. \"10.50\"); timestamps are RFC 3339 UTC. Errors use the envelope {\"error\":{\"code\",\"message\",\"details\"}}; codes are listed in ErrorBody and in the docs of each operation. Lists are HAL pages: page (0-based), size (1..=2000, default 20), repeatable sort=field,asc|desc."
    ),
    paths(
        health::health,
        auth::token, auth::create_key, auth::list_keys, auth::revoke_key,
        users::create_user, users::get_user, users::update_user,
        wallets::get_wallet, wallets::list_wallets, wallets::create_wallet, wallets::create_iban, wallets::unsubscribe_wallet,
        favourites::add_favourite, favourites::get_favourite, favourites::list_favourites, favourites::delete_favourite,
        movements::get_movement, movements::list_movements,
        holds::get_hold, holds::list_holds,
        transfers::transfer,
        hold_ops::create_hold, hold_ops::execute_hold, hold_ops::execute_hold_keep_open, hold_ops::release_hold, hold_ops::renew_hold,
        cards::card_cash_in, cashouts::cash_out, cashouts::cash_out_to_favourite,
        cards::notification_get, cards::notification_post, cards::customer_return,
        bank::import_statement, bank::list_entries, bank::list_payment_files, bank::payment_file,
        compliance::set_compliance_status, compliance::list_clearable, compliance::clear_by_hand,
        operations::get_operation,
        audit::tenant_events, audit::operator_events,
        scheduled::create_scheduled, scheduled::get_scheduled, scheduled::list_scheduled, scheduled::delete_scheduled,
        scheduled::list_executions,
    ),
    components(schemas(ErrorEnvelope, ErrorBody, paging::PageLinks, paging::PageMeta, super::Link)),
    modifiers(&Security),
    tags(
        (name = "health"), (name = "auth", description = "API keys and OAuth2 client credentials"),
        (name = "users"), (name = "wallets"), (name = "favourites", description = "Favourite external accounts"),
        (name = "movements"), (name = "holds"),
        (name = "money", description = "Moving money: transfers, holds, card cash-in, cash-out. Accepted requests answer 202; their movements are PENDING until the chain settles them (SUCCESS) or refuses them (ERROR). Idempotent with Idempotency-Key."),
        (name = "card PSP", description = "The card PSP's feedback (Ogone / Worldline e-Commerce protocol): verified with the SHA-OUT signature before anything happens; the only way a card cash-in mints. Present only when a PSP (or the simulator) is configured."),
        (name = "operator", description = "The platform operator's bank endpoints (Authorization: Bearer <operator token>; never a tenant key): SEPA statements in, unapplied entries, pain.001 payment files out. Present only with --operator-token."),
        (name = "scheduled operations", description = "Recurring or one-off payments from a wallet to another wallet (transfer) or a bank account (cash-out), run by the platform's worker; every movement they produce carries scheduledOperationId. Calendar rules: keep the start's local time of day in timeZone; MONTHLY on the 29th-31st falls back to the month's last day; YEARLY Feb 29 → Feb 28 in common years; END_DATE inclusive (a date in timeZone); DST gaps move forward by the gap, overlaps run once at the earlier instant."),
    )
)]
pub struct ApiDoc;

/// `/openapi.json` and `/docs`.
pub fn router() -> Router {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
