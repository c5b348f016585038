//! Wallets in the domain: their statuses, the facts the money rules check, and
//! creating one (the DLT address rules, unique external ids).

use serde_json::{Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{error::unique_violation, validate, ChainInfo, Command, Error, Platform, Result};

/// Most wallets a user may have (not counting unsubscribed ones).
pub const MAX_WALLETS_PER_USER: i64 = 5;

/// Wallet statuses (seed 003).
pub mod status {
    pub const READY: &str = "READY";
    pub const PENDING: &str = "PENDING";
    pub const PENDING_IBAN: &str = "PENDING_IBAN";
    pub const UNSUBSCRIBED: &str = "UNSUBSCRIBED";
}

/// Hold statuses after which a hold no longer binds money.
pub const FINAL_HOLD_STATUSES: &[&str] =
    &["EXECUTED", "RELEASED_BY_NOTARY", "RELEASED_BY_PAYEE", "RELEASED_ON_EXPIRATION", "CREATION_FAILED", "CANCELLED"];

/// Minimal facts of a wallet for rule checks.
#[derive(Debug, sqlx::FromRow)]
pub struct WalletFacts {
    pub id: Uuid,
    pub user_id: Uuid,
    pub dlt_address: String,
    pub status: String,
    pub iban: Option<String>,
    /// ISO 4217 code (EUR when none was given).
    pub currency: String,
    /// Seed 000's status (see [`crate::compliance`]).
    pub compliance_status: String,
    /// The status of the wallet's user (an UNSUBSCRIBED user's wallets move no money).
    pub user_status: String,
}

/// The tenant's wallet, optionally locked; 404 when unknown or another tenant's.
///
/// The lock is `FOR NO KEY UPDATE`: it serializes the requests that debit or
/// change one wallet, and does not conflict with the `FOR KEY SHARE` lock that
/// inserting a movement or hold referencing a wallet takes through its foreign
/// key — so two wallets paying each other at once cannot deadlock.
pub async fn wallet_facts(conn: &mut PgConnection, client_id: Uuid, wallet_id: Uuid, lock: bool) -> Result<WalletFacts> {
    let sql = format!(
        "SELECT w.id, w.user_id, w.dlt_address, w.status, w.iban, COALESCE(w.currency, 'EUR') AS currency, w.compliance_status,
                u.status AS user_status
         FROM wallets w JOIN users u ON u.id = w.user_id WHERE w.id = $1 AND w.client_id = $2{}",
        if lock { " FOR NO KEY UPDATE OF w" } else { "" }
    );
    sqlx::query_as(&sql).bind(wallet_id).bind(client_id).fetch_optional(conn).await?.ok_or(Error::NotFound("wallet"))
}

/// A new wallet's fields.
#[derive(Debug, Clone)]
pub struct NewWallet {
    pub dlt_address: Option<String>,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    /// seed 000's wallet type (`general_purpose`, ...)
    pub wallet_type: &'static str,
    pub purpose: Option<String>,
    pub parent_wallet_id: Option<Uuid>,
    /// ISO 4217; must be the token's ([`wallet_currency`]), which it is when absent.
    pub currency: Option<String>,
    /// Seed 002's group id/name of the wallet holder (at most 64 characters).
    pub group_id: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    /// The network the address lives on: the tenant's own (`None`) or one of the
    /// platform's recorded networks (`dlt_networks`, for cross-ledger transfers).
    pub dlt_network: Option<String>,
}

/// Inserts a wallet for `user_id` (rules already checked by the caller), mapping
/// uniqueness violations to their refusals (400 `duplicate_external_id`, 409
/// `dlt_address_in_use`).
pub async fn insert_wallet(conn: &mut PgConnection, client_id: Uuid, user_id: Uuid, w: NewWallet) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let address = w.dlt_address.unwrap_or_else(validate::fresh_dlt_address);
    let taken: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM wallets WHERE dlt_address = $1").bind(&address).fetch_optional(&mut *conn).await?;
    if taken.is_some() {
        return Err(Error::conflict("dlt_address_in_use", "this DLT address belongs (or belonged) to another wallet and can never be reused"));
    }
    if let Some(ext) = &w.external_id {
        let dup: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM wallets WHERE client_id = $1 AND external_id = $2")
            .bind(client_id)
            .bind(ext)
            .fetch_optional(&mut *conn)
            .await?;
        if dup.is_some() {
            return Err(duplicate_external_id("wallet"));
        }
    }
    let res = sqlx::query(
        "INSERT INTO wallets (id, client_id, user_id, dlt_address, status, external_id, name, nickname, type, purpose, \
         parent_wallet_id, currency, metadata, group_id, dlt_network) \
         VALUES ($1, $2, $3, $4, 'READY', $5, $6, $7, $8, $9, $10, COALESCE($11, 'EUR'), $12, $13, $14)",
    )
    .bind(id)
    .bind(client_id)
    .bind(user_id)
    .bind(&address)
    .bind(&w.external_id)
    .bind(&w.name)
    .bind(&w.nickname)
    .bind(w.wallet_type)
    .bind(&w.purpose)
    .bind(w.parent_wallet_id)
    .bind(&w.currency)
    .bind(Value::Object(w.metadata.unwrap_or_default()))
    .bind(&w.group_id)
    .bind(&w.dlt_network)
    .execute(&mut *conn)
    .await;
    match res {
        Ok(_) => Ok(id),
        Err(e) => match unique_violation(&e) {
            Some(c) if c.contains("external_id") => Err(duplicate_external_id("wallet")),
            Some(c) if c.contains("dlt_address") => Err(Error::conflict("dlt_address_in_use", "this DLT address is already used")),
            _ => Err(e.into()),
        },
    }
}

impl Default for NewWallet {
    fn default() -> Self {
        NewWallet {
            dlt_address: None,
            external_id: None,
            name: None,
            nickname: None,
            wallet_type: "general_purpose",
            purpose: None,
            parent_wallet_id: None,
            currency: None,
            group_id: None,
            metadata: None,
            dlt_network: None,
        }
    }
}

/// The currency of a new wallet: the token's, which is all the wallet can hold
/// (seed 002's `currency` may name it, nothing else). 400 naming `currency` otherwise.
pub fn wallet_currency(chain: &ChainInfo, requested: Option<String>) -> Result<String> {
    let token = chain.wallet_currency();
    match requested {
        None => Ok(token.to_owned()),
        Some(c) if c == token => Ok(c),
        Some(c) => Err(Error::invalid("currency", format!("must be the token's currency, {token}; this platform's e-money cannot be held in {c}"))),
    }
}

/// 400 `duplicate_external_id` (seed 001): the tenant already has a `what` with this `externalId`.
pub fn duplicate_external_id(what: &str) -> Error {
    Error::Refused { code: "duplicate_external_id", field: "externalId", message: format!("a {what} with this externalId already exists") }
}

/// Trims an optional text field; refuses empty, too long or control characters.
pub fn text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let t = v.trim();
            if t.is_empty() {
                return Err(Error::invalid(field, "must not be empty"));
            }
            if t.chars().count() > max {
                return Err(Error::invalid(field, format!("must be at most {max} characters")));
            }
            if t.chars().any(|c| c.is_control()) {
                return Err(Error::invalid(field, "must not contain control characters"));
            }
            Ok(Some(t.to_owned()))
        }
    }
}


/// Refuses, as a wallet's address, one that money must never be sent to or
/// owned by a customer: the zero address, the platform's signer, the token
/// contract, and any address holding a role on the token (from the indexed
/// `RoleGranted`/`RoleRevoked` events). 400 naming `dltAddress`.
pub async fn refuse_platform_address(platform: &Platform, conn: &mut PgConnection, address: &str) -> Result<()> {
    let refuse = |why: &str| Err(Error::invalid("dltAddress", format!("must not be {why}")));
    let parsed: alloy::primitives::Address = address.parse().map_err(|_| Error::invalid("dltAddress", "must be a 0x-prefixed 20-byte hex address"))?;
    if parsed.is_zero() {
        return refuse("the zero address");
    }
    if platform.signer_address() == Some(parsed) {
        return refuse("the platform's own address");
    }
    let chain = platform.chain().await;
    if let Some((chain_id, contract)) = &chain.token {
        if contract.eq_ignore_ascii_case(address) {
            return refuse("the token contract's address");
        }
        let (holds_role,): (bool,) = sqlx::query_as(
            "SELECT COALESCE(bool_or(name = 'RoleGranted'), false) FROM (
                SELECT DISTINCT ON (data->>'role') name FROM chain_events
                WHERE name IN ('RoleGranted', 'RoleRevoked') AND data->>'account' = $1 AND chain_id = $2 AND contract = $3
                ORDER BY data->>'role', block_number DESC, log_index DESC) latest",
        )
        .bind(address.to_ascii_lowercase())
        .bind(chain_id)
        .bind(contract)
        .fetch_one(&mut *conn)
        .await?;
        if holds_role {
            return refuse("an address holding a role on the token contract");
        }
    }
    Ok(())
}

/// Create an extra wallet for an ACTIVATED user (at most [`MAX_WALLETS_PER_USER`]).
#[derive(Debug, Clone)]
pub struct CreateWallet {
    pub user_id: Uuid,
    /// Its fields, validated by the caller.
    pub wallet: NewWallet,
}

/// The `dlt_network` to store for a wallet asked for on `network`: `None` for
/// the tenant's own network, the name for another of the platform's recorded
/// networks; 404 naming `dltNetwork` for any other name.
async fn network_of_wallet(conn: &mut PgConnection, client_id: Uuid, network: &str) -> Result<Option<String>> {
    let (own,): (String,) = sqlx::query_as("SELECT dlt_network FROM clients WHERE id = $1").bind(client_id).fetch_one(&mut *conn).await?;
    if network == own {
        return Ok(None);
    }
    let known: Option<(String,)> = sqlx::query_as("SELECT name FROM dlt_networks WHERE name = $1").bind(network).fetch_optional(&mut *conn).await?;
    match known {
        Some((name,)) => Ok(Some(name)),
        None => Err(Error::ReferenceNotFound { resource: "network", field: "dltNetwork" }),
    }
}

/// A created wallet.
#[derive(Debug, Clone, Copy)]
pub struct WalletCreated {
    pub client_id: Uuid,
    pub wallet_id: Uuid,
}

impl Command for CreateWallet {
    type Output = WalletCreated;
    const STORES_OPERATIONS: bool = false;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<WalletCreated> {
        let (user_id, mut new) = (self.user_id, self.wallet);
        new.currency = Some(wallet_currency(&platform.chain().await, new.currency.take())?);
        let user: Option<(String,)> = sqlx::query_as("SELECT status FROM users WHERE id = $1 AND client_id = $2 FOR UPDATE")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some((user_status,)) = user else { return Err(Error::ReferenceNotFound { resource: "user", field: "userId" }) };
        if user_status != "ACTIVATED" {
            return Err(Error::conflict("user_not_activated", format!("the user is {user_status}; extra wallets need an ACTIVATED user")));
        }
        let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM wallets WHERE user_id = $1 AND status <> 'UNSUBSCRIBED'")
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
        if count >= MAX_WALLETS_PER_USER {
            return Err(Error::conflict("wallet_limit_reached", format!("a user can have at most {MAX_WALLETS_PER_USER} wallets")));
        }
        if let Some(parent) = new.parent_wallet_id {
            let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM wallets WHERE id = $1 AND client_id = $2")
                .bind(parent)
                .bind(client_id)
                .fetch_optional(&mut *conn)
                .await?;
            if found.is_none() {
                return Err(Error::ReferenceNotFound { resource: "wallet", field: "parentWalletId" });
            }
        }
        if let Some(address) = &new.dlt_address {
            refuse_platform_address(platform, conn, address).await?;
        }
        if let Some(network) = new.dlt_network.take() {
            new.dlt_network = network_of_wallet(conn, client_id, &network).await?;
        }
        let wallet_id = insert_wallet(conn, client_id, user_id, new).await?;
        Ok(WalletCreated { client_id, wallet_id })
    }
}

#[cfg(test)]
mod tests {
    use super::wallet_currency;
    use crate::ChainInfo;

    #[test]
    fn a_wallet_is_in_the_token_currency() {
        let cop = ChainInfo { decimals: 2, token: None, currency: Some("COP".into()) };
        assert_eq!(wallet_currency(&cop, None).unwrap(), "COP");
        assert_eq!(wallet_currency(&cop, Some("COP".into())).unwrap(), "COP");
        let e = wallet_currency(&cop, Some("EUR".into())).unwrap_err();
        assert!(matches!(&e, crate::Error::Invalid { field, reason } if field == "currency" && reason.contains("COP")), "{e:?}");
        // not read from the contract yet: EUR, the deploy default
        let unknown = ChainInfo { decimals: 2, token: None, currency: None };
        assert_eq!(wallet_currency(&unknown, None).unwrap(), "EUR");
        assert!(wallet_currency(&unknown, Some("COP".into())).is_err());
    }
}
