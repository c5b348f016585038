//! The OpenAPI 3.1 description, generated from the handlers (utoipa), served at
//! `/openapi.json`, and Swagger UI at `/docs`.
//!
//! **The OpenAPI is the contract**: every bound, pattern, format and enum the
//! server enforces is in it, and every status a route can answer. The handlers'
//! annotations describe their own fields and answers; [`contract`] adds what every
//! route shares, from one place:
//! - the paging parameters (`page` 0..=1000000000, `size` 1..=2000, `sort` items
//!   matching the route's sort fields, from the same constants the handlers use);
//! - 400 on every route with a parameter or a body (a path, query or header value
//!   that does not parse, a body that does not match), 401 and 403 on the tenant
//!   routes (no, a wrong, revoked or expired credential; a key without the scope),
//!   401 on the operator routes, 413 on every body and 415 on every JSON body, 422
//!   `idempotency_key_reused` wherever an `Idempotency-Key` is taken, 429 (the rate
//!   limiter, with `Retry-After`) on `/api/v1/...` and `/oauth/token`, and 503
//!   `database_unavailable` (with `Retry-After`) on every route but `/health`.
//!
//! What depends on the deployed token — an amount's decimals, the currency a
//! wallet may be in — is filled in when `/openapi.json` is served ([`Amount`],
//! [`CardAmount`], [`WalletCurrency`]).
//!
//! Constraints no JSON Schema can state are written in the descriptions and give
//! the 4xx documented there: `targetWalletId` must differ from the path's wallet,
//! an `expiration` or `startDate` must be in the future, an end date must not be
//! before its start date, a sort field may be given once, an `Idempotency-Key`
//! sent again with another body is 422 `idempotency_key_reused`, an `externalId`
//! the tenant already uses is 400 `duplicate_external_id`, an IBAN's
//! mod-97 check digits and a phone number's validity are checked
//! (`format: iban`, `format: e164`).
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
//! `chain_not_ready`, `platform_signer_unavailable`, `database_unavailable` (503),
//! `payload_too_large` (413), `unsupported_media_type` (415),
//! `idempotency_key_reused` (422), `rate_limited` (429), `invalid_client` (401), `unsupported_grant_type`
//! and `invalid_scope` (400) on `/oauth/token`, `internal_error` (500).

use std::{borrow::Cow, sync::LazyLock};

use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Map, Value};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    openapi::{RefOr, Schema},
    Modify, OpenApi, PartialSchema, ToSchema,
};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    error::{ErrorBody, ErrorEnvelope},
    audit, auth, bank, cards, cashouts, compliance, console, cross_ledger, favourites, health, hold_ops, holds, movements, operations,
    paging::{self, SortField},
    scheduled, transfers, users, wallets, webhooks, ApiContext, ChainInfo,
};

/// Most integer digits an amount may have with `decimals` fractional digits: its
/// minor units must fit an exact 28-digit decimal.
fn max_integer_digits(decimals: u32) -> u32 {
    28u32.saturating_sub(decimals).max(1)
}

/// The pattern of a positive decimal string with at most `decimals` fractional
/// digits (no sign, no exponent, no leading zeros, no surrounding spaces).
pub fn amount_pattern(decimals: u32) -> String {
    let int_more = max_integer_digits(decimals) - 1;
    if decimals == 0 {
        return format!("^[1-9][0-9]{{0,{int_more}}}$");
    }
    // 0.x with at least one non-zero digit among at most `decimals`
    let below_one: Vec<String> =
        (0..decimals).map(|zeros| format!("0{{{zeros}}}[1-9][0-9]{{0,{}}}", decimals - 1 - zeros)).collect();
    format!("^([1-9][0-9]{{0,{int_more}}}(\\.[0-9]{{1,{decimals}}})?|0\\.({}))$", below_one.join("|"))
}

/// An amount: a decimal string (`"10.50"`) or a JSON integer, > 0, at most the
/// token's decimals.
fn amount_schema(decimals: u32, what: &str) -> Value {
    // a JSON integer beyond u64 reaches the parser as a float (`1e26`)
    let max_int = (10u128.saturating_pow(max_integer_digits(decimals)) - 1).min(u64::MAX as u128) as u64;
    json!({
        "description": format!(
            "{what}: a decimal string with at most {decimals} fractional digits (the token's decimals), greater than zero, \
             without sign, exponent or leading zeros (e.g. \"10.50\"); or a JSON integer (whole units)."),
        "anyOf": [
            {"type": "string", "pattern": amount_pattern(decimals), "example": "10.50"},
            {"type": "integer", "minimum": 1, "maximum": max_int},
        ]
    })
}

fn currency_schema(currency: &str) -> Value {
    json!({
        "type": "string",
        "enum": [currency],
        "description": "ISO 4217: the token's currency, the only one a wallet can hold (the default)."
    })
}

/// A component whose schema is written here as JSON: utoipa's typed schema cannot
/// say everything JSON Schema 2020-12 can (`propertyNames`, type arrays, `null` in
/// an `enum`), so the generated description carries a placeholder that
/// [`contract`] replaces with the schema of the same name from [`json_components`].
macro_rules! json_component {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                utoipa::openapi::ObjectBuilder::new().description(Some(concat!(stringify!($name), " (see json_components)"))).into()
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

json_component!(
    /// The `Amount` component: a money amount in a request (see [`amount_schema`]).
    Amount
);
json_component!(
    /// The `CardAmount` component: a card payment is in whole cents.
    CardAmount
);
json_component!(
    /// The `WalletCurrency` component: the one currency a wallet may be in.
    WalletCurrency
);
json_component!(
    /// The `Country` component: the ISO 3166-1 alpha-2 codes the server knows.
    Country
);
json_component!(
    /// The `NeverNegative` component: seed 004's `allowNegative`, which can only be `false`.
    NeverNegative
);
json_component!(
    /// The `ScopeName` component: an API key scope.
    ScopeName
);
json_component!(
    /// The `ComplianceStatus` component: seed 000's wallet statuses.
    ComplianceStatus
);
json_component!(
    /// The `WebhookEventType` component: an event type an endpoint subscribes to.
    WebhookEventType
);
json_component!(
    /// The `WebhookUrl` component: where a webhook endpoint receives events.
    WebhookUrl
);
json_component!(
    /// The `WebhookEventTypeFilter` component: the `type` filter of the event list.
    WebhookEventTypeFilter
);
json_component!(
    /// The `WebhookDeliveryStatus` component: a delivery's status.
    WebhookDeliveryStatus
);
json_component!(
    /// The `Metadata` component: a free-form object without NUL characters.
    Metadata
);
json_component!(
    /// The `MetadataValue` component: any JSON value without NUL characters.
    MetadataValue
);
json_component!(
    /// The `Expiration` component: a hold's expiration.
    Expiration
);
json_component!(
    /// The `ReceiverRequest` component: who a schedule pays, by type.
    ReceiverRequest
);
json_component!(
    /// The `ScheduleRequest` component: the calendar of a new schedule.
    ScheduleRequest
);

/// Every code `check` accepts among the `len`-letter upper-case strings.
fn codes(len: u32, check: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for n in 0..26u32.pow(len) {
        let code: String = (0..len).rev().map(|i| char::from(b'A' + ((n / 26u32.pow(i)) % 26) as u8)).collect();
        if check(&code) {
            out.push(code);
        }
    }
    out
}

/// Text without a NUL character.
const NO_NUL: &str = "^[^\\x00]*$";

fn iban_schema() -> Value {
    json!({"type": "string", "format": "iban", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$", "example": "ES7921000813610123456789"})
}

fn receiver(kind: &str, account: Value, description: &str) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "account"],
        "description": description,
        "properties": {"type": {"type": "string", "enum": [kind]}, "account": account}
    })
}

fn duration(kind: &str, value: Value, required: bool, description: &str) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": if required { json!(["type", "value"]) } else { json!(["type"]) },
        "description": description,
        "properties": {"type": {"type": "string", "enum": [kind]}, "value": value}
    })
}

/// Every IANA time zone name the calendar knows.
fn time_zones() -> Vec<Value> {
    let mut names: Vec<Value> = chrono_tz::TZ_VARIANTS.iter().map(|tz| Value::String(tz.name().to_owned())).collect();
    names.push(Value::String(String::new()));
    names.push(Value::Null);
    names
}

fn schedule_request(frequencies: &[&str], duration: Value) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["startDate", "frequency"],
        "properties": {
            "startDate": {
                "type": "string", "format": "date-time",
                "description": "RFC 3339 with an offset (the seed's `+02` and `+0000` are taken too), in the future (400 otherwise)",
                "example": "2030-04-23T00:00:00.000+02:00"
            },
            "frequency": {"type": "string", "enum": frequencies},
            "duration": duration,
            "timeZone": {
                "type": ["string", "null"],
                "enum": time_zones(),
                "description": "IANA time zone the calendar is computed in; null or empty = UTC"
            }
        }
    })
}

/// The JSON schema of every [`json_component!`], with the deployed token's facts
/// (an amount's decimals, a wallet's currency).
fn json_components(chain: &ChainInfo) -> Vec<(&'static str, Value)> {
    vec![
        ("Amount", amount_schema(chain.decimals, "An amount")),
        ("CardAmount", amount_schema(chain.decimals.min(2), "A card payment's amount, in whole cents")),
        ("WalletCurrency", currency_schema(chain.wallet_currency())),
        ("Country", json!({
            "type": "string",
            "description": "ISO 3166-1 alpha-2 country code (upper case)",
            "enum": codes(2, |c| emledger_operations::validate::country(c).is_ok()),
            "example": "ES"
        })),
        ("NeverNegative", json!({"type": "boolean", "enum": [false], "description": "only false: e-money wallets never go negative"})),
        ("ScopeName", json!({"type": "string", "enum": ["read", "write", "admin"]})),
        ("WebhookEventType", json!({
            "type": "string",
            "description": "`*`, `<object>.*` or `<object>.<status>` (lower case); objects: movement, hold, operation, scheduled_execution, wallet",
            "pattern": WEBHOOK_EVENT_TYPE,
            "example": "movement.*"
        })),
        ("WebhookEventTypeFilter", json!({"type": "string", "pattern": "^[a-z_.]{0,128}$", "description": "an exact event type, e.g. movement.success (empty: any)"})),
        ("WebhookDeliveryStatus", json!({"type": "string", "enum": ["PENDING", "SUCCEEDED", "FAILED"]})),
        ("WebhookUrl", json!({
            "type": "string",
            "format": "webhook-url",
            "description": "An absolute https URL to a name that resolves to public addresses (plain http only to localhost / 127.0.0.1, for development), without credentials or fragment; deliveries to a private, link-local or loopback address are refused unless the operator allows them",
            "pattern": WEBHOOK_URL,
            "maxLength": 2048,
            "example": "https://backend.example.com/emledger/events"
        })),
        ("ComplianceStatus", json!({"type": "string", "enum": emledger_operations::compliance::STATUSES, "description": "seed 000's wallet status (upper case and surrounding spaces are taken too)"})),
        ("Metadata", json!({
            "type": "object",
            "description": "Free-form object, at most 16 KiB as JSON; no NUL character in any key or string.",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}
        })),
        ("MetadataValue", json!({
            "anyOf": [
                {"type": "null"}, {"type": "boolean"}, {"type": "number"},
                {"type": "string", "pattern": NO_NUL},
                {"type": "array", "items": {"$ref": "#/components/schemas/MetadataValue"}},
                {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}}
            ]
        })),
        ("Expiration", json!({
            "description": "RFC 3339 date-time with an offset (the seed's short `+02` offset is taken too), in the future (400 otherwise); null or empty = perpetual.",
            "anyOf": [
                {"type": "string", "format": "date-time", "example": "2030-02-06T10:04:45+02:00"},
                {"type": "string", "maxLength": 0},
                {"type": "null"}
            ]
        })),
        ("ReceiverRequest", json!({
            "description": "Who receives the money: another wallet of the tenant (not the paying one; 400 on receiver.account), a favourite external account of this wallet, or an IBAN.",
            "oneOf": [
                receiver("IOCASH_WALLET", json!({"type": "string", "format": "uuid"}), "a transfer to another wallet of the tenant: its id, not the paying wallet's"),
                receiver("FAVOURITE_EXTERNAL_BANK_ACCOUNT", json!({"type": "string", "format": "uuid"}), "a cash-out to a favourite external account of this wallet: its id"),
                receiver("EXTERNAL_BANK_ACCOUNT", iban_schema(), "a cash-out to an IBAN")
            ]
        })),
        ("ScheduleRequest", json!({
            "description": "When the schedule runs. `duration` has no effect for ONCE (any `{type, value}` is taken); otherwise it is ENDLESS when absent or null, NUMBER_OF_REPETITIONS (value: 1..=100000, integer or digits) or END_DATE (value: a yyyy-MM-dd date, not before the start's local date and within 100 years of it; 400 otherwise).",
            "oneOf": [
                schedule_request(&["ONCE"], json!({
                    "anyOf": [
                        {"type": "null"},
                        {"type": "object", "additionalProperties": false, "required": ["type"],
                         "properties": {"type": {"type": "string"}, "value": {}}}
                    ]
                })),
                schedule_request(&["DAILY", "WEEKLY", "MONTHLY", "YEARLY"], json!({
                    "anyOf": [
                        {"type": "null"},
                        duration("ENDLESS", json!({"type": ["string", "number", "null"]}), false, "no end"),
                        duration("NUMBER_OF_REPETITIONS", json!({"anyOf": [
                            {"type": "integer", "minimum": 1, "maximum": 100000},
                            {"type": "string", "pattern": "^0*([1-9][0-9]{0,4}|100000)$"}
                        ]}), true, "this many occurrences in all"),
                        duration("END_DATE", json!({"type": "string", "format": "date"}), true, "the last local date (inclusive)")
                    ]
                }))
            ]
        })),
    ]
}

/// `Idempotency-Key` (header) and `idempotencyKey` (body): 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

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
        // how a `bearer` token is obtained: OAuth2 client credentials at /oauth/token
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(utoipa::openapi::security::OAuth2::with_description(
                [utoipa::openapi::security::Flow::ClientCredentials(utoipa::openapi::security::ClientCredentials::new(
                    "/oauth/token",
                    utoipa::openapi::security::Scopes::from_iter([
                        ("read", "read the tenant's resources"),
                        ("write", "create and change them, move money"),
                        ("admin", "manage API keys, user and wallet statuses, the audit trail"),
                    ]),
                ))],
                "client_id = the tenant's clientId, client_secret = one of its API keys; the token goes in Authorization: Bearer",
            )),
        );
    }
}

/// The sort fields of each paged route (by operation id), as its handler reads them.
const SORTS: &[(&str, &[SortField])] = &[
    ("list_wallets", wallets::WALLET_SORT),
    ("list_movements", movements::MOVEMENT_SORT),
    ("list_holds", holds::HOLD_SORT),
    ("list_favourites", favourites::FAVOURITE_SORT),
    ("list_scheduled", scheduled::SORTS),
    ("list_executions", scheduled::EXECUTION_SORTS),
    ("list_events", webhooks::EVENT_SORT),
    ("list_deliveries", webhooks::DELIVERY_SORT),
    ("list_transfers", cross_ledger::SORT),
];

/// What the webhook handlers accept as an event type (see `emledger_operations::webhooks`).
const WEBHOOK_EVENT_TYPE: &str = r"^(\*|(movement|hold|operation|scheduled_execution|wallet)\.(\*|[a-z_]{1,64}))$";
/// Webhook URLs the handlers accept: https to a DNS name, or http to localhost.
const WEBHOOK_URL: &str = r"^(https://[a-z]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,61}[a-z0-9])?)*|http://(localhost|127\.0\.0\.1))(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*$";

/// The enumerated filters of list routes (operation id, query parameter, values):
/// repeatable or comma-separated, as [`movements::enum_filter`] reads them.
fn enum_filters() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    use emledger_ledger::{HoldStatus, MovementStatus, MovementType};
    vec![
        ("list_movements", "status", MovementStatus::ALL.iter().map(|s| s.as_str()).collect()),
        ("list_movements", "type", MovementType::ALL.iter().map(|s| s.as_str()).collect()),
        ("list_holds", "status", HoldStatus::ALL.iter().map(|s| s.as_str()).collect()),
    ]
}

/// Query instants ([`emledger_operations::validate::instant`]) of list routes.
const INSTANT_FILTERS: &[(&str, &str)] = &[("list_movements", "startDate"), ("list_movements", "endDate")];

fn enum_filter_parameter(param: &mut Map<String, Value>, values: &[&str]) {
    let one = values.join("|");
    param.insert(
        "schema".into(),
        json!({"type": "array", "items": {"type": "string", "pattern": format!("^ *({one})? *( *, *({one})? *)*$")}}),
    );
    param.insert("style".into(), json!("form"));
    param.insert("explode".into(), json!(true));
    param.insert("description".into(), json!(format!("repeatable or comma-separated; any of {}", values.join(", "))));
}

fn instant_parameter(param: &mut Map<String, Value>) {
    param.insert(
        "schema".into(),
        json!({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}),
    );
    let name = param.get("name").and_then(Value::as_str).unwrap_or("");
    let extra = if name == "endDate" { "; not before startDate (400 otherwise)" } else { "" };
    param.insert(
        "description".into(),
        json!(format!(
            "inclusive; RFC 3339 date-time or yyyy-MM-dd (midnight UTC); the seed's `yyyy-MM-dd HH:mm:ss` (UTC unless an offset follows) is taken too{extra}"
        )),
    );
}

/// Request bodies read as raw bytes whatever their content type (so never 415).
const ANY_CONTENT_TYPE: &[&str] = &["clear_by_hand", "import_statement", "notification_post"];


fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    })
}

fn retry_after() -> Value {
    json!({
        "required": true,
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0}
    })
}

/// Adds `status` to `responses` with `description`, or, when the handler documents
/// it already, appends what it lacks to its description (and the JSON envelope when
/// it declares no content).
fn add_response(responses: &mut Map<String, Value>, status: &str, description: &str, header: Option<(&str, Value)>) {
    let entry = responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
    if let Some(obj) = entry.as_object_mut() {
        let current = obj.get("description").and_then(Value::as_str).unwrap_or("").to_owned();
        if !current.contains(description) {
            let merged = if current.is_empty() { description.to_owned() } else { format!("{current}; {description}") };
            obj.insert("description".into(), Value::String(merged));
        }
        if let Some((name, h)) = header {
            obj.entry("headers").or_insert_with(|| json!({})).as_object_mut().map(|hs| hs.insert(name.to_owned(), h));
        }
    }
}

fn sort_item_pattern(fields: &[SortField]) -> String {
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    format!("^({})(,([aA][sS][cC]|[dD][eE][sS][cC]))?$", names.join("|"))
}

/// The paging parameters of a route, from the constants [`paging::PageRequest`] checks against.
fn paging_parameter(param: &mut Map<String, Value>, sort: Option<&[SortField]>) {
    let name = param.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
    match name.as_str() {
        "page" => {
            param.insert("schema".into(), json!({"type": "integer", "minimum": 0, "maximum": paging::MAX_PAGE}));
            param.insert("description".into(), json!("0-based page number"));
        }
        "size" => {
            param.insert(
                "schema".into(),
                json!({"type": "integer", "minimum": 1, "maximum": paging::MAX_SIZE, "default": paging::DEFAULT_SIZE}),
            );
            param.insert("description".into(), json!(format!("page size, 1..={} (default {})", paging::MAX_SIZE, paging::DEFAULT_SIZE)));
        }
        "sort" => {
            if let Some(fields) = sort {
                let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                param.insert(
                    "schema".into(),
                    json!({"type": "array", "items": {"type": "string", "pattern": sort_item_pattern(fields)}}),
                );
                param.insert("style".into(), json!("form"));
                param.insert("explode".into(), json!(true));
                param.insert(
                    "description".into(),
                    json!(format!(
                        "`field` or `field,asc|desc`, repeatable (each field at most once; ties broken by id); fields: {}",
                        names.join(", ")
                    )),
                );
            }
        }
        _ => {}
    }
}

/// What every route shares (see the module documentation), and the JSON components,
/// applied to the generated description.
fn contract(doc: &mut Value, chain: &ChainInfo) {
    {
        if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
            for (name, schema) in json_components(chain) {
                schemas.insert(name.to_owned(), schema);
            }
        }
        let filters = enum_filters();
        // PATCH /users/{userId}: at least one of kycLevel and status, not null
        if let Some(update) = doc.pointer_mut("/components/schemas/UpdateUser").and_then(Value::as_object_mut) {
            update.insert(
                "anyOf".into(),
                json!([
                    {"required": ["kycLevel"], "properties": {"kycLevel": {"type": "integer"}}},
                    {"required": ["status"], "properties": {"status": {"type": "string"}}}
                ]),
            );
            update.insert("description".into(), json!("Admin change of a user: kycLevel and/or status (at least one, not null)."));
        }
        let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, op) in item.iter_mut() {
                if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let Some(op) = op.as_object_mut() else { continue };
                let id = op.get("operationId").and_then(Value::as_str).unwrap_or("").to_owned();
                let schemes: Vec<String> = op
                    .get("security")
                    .and_then(Value::as_array)
                    .map(|reqs| reqs.iter().filter_map(Value::as_object).flat_map(|r| r.keys().cloned()).collect())
                    .unwrap_or_default();
                let tenant = schemes.iter().any(|s| s == "apiKey" || s == "bearer");
                let operator = schemes.iter().any(|s| s == "operator");
                let sort = SORTS.iter().find(|(op_id, _)| *op_id == id).map(|(_, f)| *f);
                let mut has_params = false;
                let mut idempotent = false;
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    has_params = !params.is_empty();
                    for p in params.iter_mut().filter_map(Value::as_object_mut) {
                        let name = p.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
                        let location = p.get("in").and_then(Value::as_str).unwrap_or("").to_owned();
                        if location == "query" {
                            paging_parameter(p, sort);
                            if let Some((_, _, values)) = filters.iter().find(|(o, n, _)| *o == id && *n == name) {
                                enum_filter_parameter(p, values);
                            }
                            if INSTANT_FILTERS.contains(&(id.as_str(), name.as_str())) {
                                instant_parameter(p);
                            }
                        }
                        if location == "header" && name == "Idempotency-Key" {
                            idempotent = true;
                            p.insert("schema".into(), json!({"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}));
                            p.insert(
                                "description".into(),
                                json!("1 to 255 visible ASCII characters; same key + same body → the stored answer \
                                       (`Idempotency-Replayed: true`), same key + another body → 422 `idempotency_key_reused`, \
                                       same key while the first is in flight → 409 `idempotency_in_flight`. \
                                       Must equal the body's `idempotencyKey` when both are given."),
                            );
                        }
                    }
                }
                let body = op.get("requestBody").cloned();
                let json_body = body
                    .as_ref()
                    .and_then(|b| b.get("content"))
                    .and_then(Value::as_object)
                    .is_some_and(|c| c.keys().any(|k| k.contains("json")))
                    || path == "/oauth/token";
                let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
                if has_params || body.is_some() {
                    add_response(
                        responses,
                        "400",
                        "`invalid_request` (a path, query, header or body value that does not parse or is out of bounds; `details.field` names it) or `malformed_json`",
                        None,
                    );
                }
                if tenant {
                    add_response(responses, "401", "`unauthorized`: no credential, or a wrong, revoked or expired one", None);
                    add_response(responses, "403", "`forbidden`: the credential lacks the scope this route needs", None);
                }
                if operator {
                    add_response(responses, "401", "`unauthorized`: no operator token, or not the operator token", None);
                }
                if body.is_some() {
                    add_response(responses, "413", "`payload_too_large`: the body is over the limit (--max-body-bytes)", None);
                    if path == "/oauth/token" {
                        add_response(responses, "415", "`unsupported_media_type`: the body must be application/x-www-form-urlencoded or application/json", None);
                    } else if json_body && !ANY_CONTENT_TYPE.contains(&id.as_str()) {
                        add_response(responses, "415", "`unsupported_media_type`: the body must be application/json", None);
                    }
                }
                if idempotent {
                    add_response(responses, "422", "`idempotency_key_reused`: this Idempotency-Key was used with another request", None);
                }
                if path.starts_with("/api/v1/") || path == "/oauth/token" {
                    add_response(responses, "429", "`rate_limited`: over the tenant's rate limit; retry after Retry-After seconds", Some(("Retry-After", retry_after())));
                }
                if path != "/health" {
                    add_response(responses, "503", "`database_unavailable`: the database cannot be reached; retry after Retry-After seconds", Some(("Retry-After", retry_after())));
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "emledger REST API",
        description = "E-money wallets over an EmToken contract. Amounts are decimal strings with at most the token's decimals (e.g. \"10.50\"); timestamps are RFC 3339 UTC. Errors use the envelope {\"error\":{\"code\",\"message\",\"details\"}}; codes are listed in ErrorBody and in the docs of each operation. Lists are HAL pages: page (0-based), size (1..=2000, default 20), repeatable sort=field,asc|desc. Every /api/v1 route and /oauth/token may answer 429 (rate limited, Retry-After) and every route but /health 503 database_unavailable (Retry-After)."
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
        cross_ledger::list_transfers, cross_ledger::get_transfer,
        audit::tenant_events, audit::operator_events,
        scheduled::create_scheduled, scheduled::get_scheduled, scheduled::list_scheduled, scheduled::delete_scheduled,
        scheduled::list_executions,
        webhooks::create_endpoint, webhooks::list_endpoints, webhooks::get_endpoint, webhooks::update_endpoint,
        webhooks::delete_endpoint, webhooks::rotate_secret, webhooks::list_deliveries, webhooks::list_events,
        webhooks::get_event, webhooks::get_delivery, webhooks::redeliver,
        console::overview, console::search_users,
    ),
    components(schemas(ErrorEnvelope, ErrorBody, paging::PageLinks, paging::PageMeta, super::Link, Amount, CardAmount, WalletCurrency, Country,
        NeverNegative, Metadata, MetadataValue, Expiration, ReceiverRequest, ScheduleRequest, ScopeName, ComplianceStatus,
        WebhookEventType, WebhookUrl, WebhookEventTypeFilter, WebhookDeliveryStatus)),
    modifiers(&Security),
    tags(
        (name = "health"), (name = "auth", description = "API keys and OAuth2 client credentials"),
        (name = "users"), (name = "wallets"), (name = "favourites", description = "Favourite external accounts"),
        (name = "movements"), (name = "holds"),
        (name = "money", description = "Moving money: transfers, holds, card cash-in, cash-out. Accepted requests answer 202; their movements are PENDING until the chain settles them (SUCCESS) or refuses them (ERROR). Idempotent with Idempotency-Key."),
        (name = "card PSP", description = "The card PSP's feedback (Ogone / Worldline e-Commerce protocol): verified with the SHA-OUT signature before anything happens; the only way a card cash-in mints. Present only when a PSP (or the simulator) is configured."),
        (name = "operator", description = "The platform operator's bank endpoints (Authorization: Bearer <operator token>; never a tenant key): SEPA statements in, unapplied entries, pain.001 payment files out. Present only with --operator-token."),
        (name = "cross-ledger transfers", description = "Money moved between the platform's networks: the user orders it on the origin network's CrossLedgerLink (orderTransfer, a smart-contract call only, seed 003); the platform's relayer checks it centrally (recipient wallet READY on the destination, compliance, chain and currency active), accepts or revokes it on the destination, acknowledges on the origin, burns there and mints on the destination. The payer's TRANSFER_OUT and the recipient's TRANSFER_IN movements turn SUCCESS only when both networks executed, ERROR with the reason when revoked."),
        (name = "console", description = "What the operator console at /console shows that no other route gives: the overview (indexer, submitter, the tenant's operations, a reconciliation of its wallets against the chain) and a search of the tenant's users with their wallets. Read scope."),
        (name = "webhooks", description = "Signed events POSTed to the tenant's endpoints when movements, holds, operations, scheduled executions and wallets change. Each POST carries Emledger-Event-Id, Emledger-Event-Type and Emledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" under the endpoint's secret> (one v1 per valid secret during a rotation). Verify the signature and refuse a t older than 5 minutes; dedupe on the event id (delivery is at least once). Each object's events arrive in order. A non-2xx answer or no answer is retried with exponential backoff for 72 hours."),
        (name = "scheduled operations", description = "Recurring or one-off payments from a wallet to another wallet (transfer) or a bank account (cash-out), run by the platform's worker; every movement they produce carries scheduledOperationId. Calendar rules: keep the start's local time of day in timeZone; MONTHLY on the 29th-31st falls back to the month's last day; YEARLY Feb 29 → Feb 28 in common years; END_DATE inclusive (a date in timeZone); DST gaps move forward by the gap, overlaps run once at the earlier instant."),
    )
)]
pub struct ApiDoc;

/// The description as generated (the deploy defaults for the token's facts).
static SPEC: LazyLock<Value> = LazyLock::new(|| serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI serializes"));

/// The description with the deployed token's facts: its decimals in [`Amount`]
/// (and [`CardAmount`]), its currency in [`WalletCurrency`].
pub fn live_spec(chain: &ChainInfo) -> Value {
    let mut doc = SPEC.clone();
    contract(&mut doc, chain);
    doc
}

async fn openapi_json(State(ctx): State<ApiContext>) -> Json<Value> {
    Json(live_spec(&ctx.chain().await))
}

/// `/openapi.json` and `/docs`.
pub fn router(ctx: ApiContext) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .with_state(ctx)
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/openapi.json"])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        live_spec(&ChainInfo { decimals: 2, token: None, currency: None })
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn every_route_documents_the_statuses_it_shares() {
        let doc = spec();
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            let has = |s: &str| responses.contains_key(s);
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(has("401"), "{method} {path}: 401");
            }
            if op["security"].to_string().contains("apiKey") {
                assert!(has("403"), "{method} {path}: 403");
            }
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) || op.get("requestBody").is_some() {
                assert!(has("400"), "{method} {path}: 400");
            }
            if op.get("requestBody").is_some() {
                assert!(has("413"), "{method} {path}: 413");
            }
            if path.starts_with("/api/v1/") || path == "/oauth/token" {
                assert!(has("429"), "{method} {path}: 429");
                assert!(responses["429"]["headers"]["Retry-After"].is_object(), "{method} {path}: 429 Retry-After");
            }
            if path != "/health" {
                assert!(has("503"), "{method} {path}: 503");
                assert!(responses["503"]["headers"]["Retry-After"].is_object(), "{method} {path}: 503 Retry-After");
            }
            assert!(!has("500"), "{method} {path}: a 500 is never part of the contract");
        }
    }

    #[test]
    fn paging_parameters_are_bounded() {
        let doc = spec();
        let params = doc["paths"]["/api/v1/public/wallets"]["get"]["parameters"].as_array().unwrap();
        let p = |n: &str| params.iter().find(|p| p["name"] == n).unwrap().clone();
        assert_eq!(p("size")["schema"]["maximum"], 2000);
        assert_eq!(p("size")["schema"]["minimum"], 1);
        assert_eq!(p("page")["schema"]["minimum"], 0);
        assert!(p("sort")["schema"]["items"]["pattern"].as_str().unwrap().contains("availableBalance"));
    }

    #[test]
    fn amounts_follow_the_token_decimals() {
        assert_eq!(amount_pattern(2), "^([1-9][0-9]{0,25}(\\.[0-9]{1,2})?|0\\.(0{0}[1-9][0-9]{0,1}|0{1}[1-9][0-9]{0,0}))$");
        assert_eq!(amount_pattern(0), "^[1-9][0-9]{0,27}$");
        let six = live_spec(&ChainInfo { decimals: 6, token: None, currency: Some("USD".into()) });
        let amount = &six["components"]["schemas"]["Amount"];
        assert_eq!(amount["anyOf"][0]["pattern"], amount_pattern(6));
        assert_eq!(six["components"]["schemas"]["CardAmount"]["anyOf"][0]["pattern"], amount_pattern(2));
        assert_eq!(six["components"]["schemas"]["WalletCurrency"]["enum"], json!(["USD"]));
    }

    /// What the pattern (for 2 decimals) admits, the parser takes; what it refuses
    /// for being zero or too precise, the parser refuses.
    #[test]
    fn the_amount_pattern_agrees_with_the_parser() {
        use emledger_ledger::Amount;
        for s in ["1", "10.50", "0.01", "0.1", "0.10", "99999999999999999999999999", "99999999999999999999999999.99", "1.5", "7"] {
            assert!(Amount::parse(s, 2).is_ok(), "{s}");
        }
        for s in ["0", "0.00", "0.0", "1.555", "0.001"] {
            assert!(Amount::parse(s, 2).is_err(), "{s}");
        }
    }
}
