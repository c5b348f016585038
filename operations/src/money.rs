//! The building blocks of the commands that move money: amount and date parsing,
//! the token facts, the balance pre-check, and storing an operation with its
//! PENDING movements.
//!
//! Every money command stores, in ONE transaction, its idempotency record, an
//! `operations` row (the contract call to make, signed later by the
//! [submitter](crate::submitter)) and the PENDING movements / hold row the
//! indexer settles when it sees the chain's events. The handler answers `202
//! Accepted`: the movements turn SUCCESS (or ERROR on a revert) asynchronously.
//!
//! Balance pre-check: the source wallet's row is locked (`FOR UPDATE`) for the
//! whole storing transaction, so requests debiting one wallet are serialized, and
//! the money they may take is `balances.available` minus the PENDING outgoing
//! movements created by this API (TRANSFER_OUT not from a hold, and LOCK). The
//! indexer settles a movement and updates the balance in one transaction, so the
//! difference, read in one statement, never counts a debit twice or not at all.
//! The contract stays the final judge.


/// SQL predicate over `operations o`: the operation is still on its way (not
/// settled, nor refused, by the chain and the indexer). One text for every
/// "is something in flight?" check (holds, expiry, clearing), as a macro so
/// that `concat!` keeps the queries static.
#[macro_export]
macro_rules! operation_in_flight_sql {
    () => {
        "(o.status IN ('PENDING', 'SIGNED', 'SENT') OR (o.status = 'MINED' AND NOT EXISTS (SELECT 1 FROM chain_events e WHERE e.chain_id = o.chain_id AND e.tx_hash = o.tx_hash)))"
    };
}

use alloy::primitives::Address;
use chrono::{DateTime, Utc};
use emledger_ledger::{Amount, MovementType};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    wallet::{wallet_facts, WalletFacts},
    Error, Platform, Result,
};

/// The followed token: where calls go and how amounts scale.
#[derive(Debug, Clone)]
pub struct Token {
    pub chain_id: i64,
    /// lower-case 0x hex, as the read model stores it
    pub contract: String,
    pub address: Address,
    pub decimals: u32,
}

/// A positive amount with at most the token's decimals, from a JSON string or number.
pub fn amount(field: &str, value: &Value, decimals: u32) -> Result<Amount> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(Error::invalid(field, "must be a decimal string (e.g. \"10.50\") or a number")),
    };
    Amount::parse(&text, decimals).map_err(|e| Error::invalid(field, e.to_string()))
}

/// Minor units as a wire decimal string with exactly `decimals` digits.
pub fn wire(minor: u128, decimals: u32) -> String {
    let d = rust_decimal::Decimal::from_i128_with_scale(minor as i128, 0);
    emledger_ledger::amount::minor_to_decimal(d, decimals).to_string()
}

/// An expiration: RFC 3339 with an offset (`2020-02-06T10:04:45+02:00`, also the
/// seed's `+02`), in the future. `None`, `null` and `""` mean perpetual.
pub fn expiration(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    let parsed = DateTime::parse_from_rfc3339(text)
        .or_else(|_| {
            // the seed's short offset: "+02" / "-0530"
            // (only ASCII text can be a date-time: never split inside a multi-byte character)
            let cut = text.len().saturating_sub(3);
            let (base, off) = if text.is_ascii() { text.split_at(cut) } else { (text, "") };
            if (off.starts_with('+') || off.starts_with('-')) && off[1..].bytes().all(|b| b.is_ascii_digit()) {
                DateTime::parse_from_rfc3339(&format!("{base}{off}:00"))
            } else {
                DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
            }
        })
        .map_err(|_| Error::invalid(field, "must be an RFC 3339 date-time with an offset, e.g. 2030-02-06T10:04:45+02:00"))?;
    let utc = parsed.with_timezone(&Utc);
    if utc <= Utc::now() {
        return Err(Error::invalid(field, "must be in the future"));
    }
    Ok(Some(utc))
}

/// The wallet must be READY.
pub fn require_ready(w: &WalletFacts, which: &str) -> Result<()> {
    if w.status != crate::wallet::status::READY {
        return Err(Error::conflict("wallet_not_ready", format!("the {which} wallet is {}; money moves only between READY wallets", w.status)));
    }
    if w.user_status == crate::wallet::status::UNSUBSCRIBED {
        return Err(Error::conflict("wallet_not_ready", format!("the {which} wallet's user is UNSUBSCRIBED; money moves only between READY wallets")));
    }
    crate::compliance::require_money_allowed(&w.compliance_status, which)
}

/// The two wallets of a debit from `source_id` to `target_id`: different, both
/// the tenant's and READY, the source locked (see [`wallet_facts`]) and able to
/// spend `amount` now. `role` names the source in refusals ("source", "payer").
pub async fn debit_pair(
    conn: &mut PgConnection,
    client_id: Uuid,
    token: &Token,
    role: &str,
    source_id: Uuid,
    target_id: Uuid,
    amount: Amount,
) -> Result<(WalletFacts, WalletFacts)> {
    if target_id == source_id {
        return Err(Error::invalid("targetWalletId", format!("must differ from the {role} wallet")));
    }
    let source = wallet_facts(conn, client_id, source_id, true).await?;
    let target = wallet_facts(conn, client_id, target_id, false)
        .await
        .map_err(|_| Error::ReferenceNotFound { resource: "wallet", field: "targetWalletId" })?;
    require_ready(&source, role)?;
    require_ready(&target, "target")?;
    check_available(conn, token, &source.dlt_address, amount).await?;
    Ok((source, target))
}

/// Parses a lower-case 0x address from the database.
pub fn addr(text: &str) -> Result<Address> {
    text.parse().map_err(|_| Error::internal(format!("bad address in the database: {text}")))
}

/// Refuses with 409 `insufficient_funds` unless `address` can spend `amount` now:
/// available balance minus this API's PENDING outgoing movements. The caller holds
/// the source wallet's row lock.
pub async fn check_available(conn: &mut PgConnection, token: &Token, address: &str, amount: Amount) -> Result<()> {
    let (enough, spendable): (bool, String) = sqlx::query_as(
        "WITH a AS (
            SELECT COALESCE((SELECT available FROM balances WHERE chain_id = $1 AND contract = $2 AND address = $3), 0)
                 - COALESCE((SELECT sum(amount) FROM movements
                              WHERE owner_address = $3 AND status = 'PENDING' AND operation_id IS NOT NULL
                                AND (type = 'LOCK' OR (type = 'TRANSFER_OUT' AND hold_operation_id IS NULL))), 0) AS s)
         SELECT s >= $4::numeric, s::text FROM a",
    )
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(address)
    .bind(amount.minor().to_string())
    .fetch_one(&mut *conn)
    .await?;
    if !enough {
        let spendable: i128 = spendable.split('.').next().unwrap_or("0").parse().unwrap_or(0);
        return Err(Error::conflict(
            "insufficient_funds",
            format!(
                "the wallet can spend {} now (available balance minus operations in flight); {} requested",
                wire(spendable.max(0) as u128, token.decimals),
                wire(amount.minor(), token.decimals)
            ),
        ));
    }
    Ok(())
}

/// Operation kinds.
pub mod kind {
    pub const TRANSFER: &str = "TRANSFER";
    pub const HOLD_CREATE: &str = "HOLD_CREATE";
    pub const HOLD_EXECUTE: &str = "HOLD_EXECUTE";
    pub const HOLD_EXECUTE_KEEP_OPEN: &str = "HOLD_EXECUTE_KEEP_OPEN";
    pub const HOLD_RELEASE: &str = "HOLD_RELEASE";
    pub const HOLD_RENEW: &str = "HOLD_RENEW";
    pub const CARD_CASHIN: &str = "CARD_CASHIN";
    pub const BANK_CASHIN: &str = "BANK_CASHIN";
    pub const CASHOUT_RESERVE: &str = "CASHOUT_RESERVE";
    pub const CASHOUT_BURN: &str = "CASHOUT_BURN";
    pub const CASHOUT_RELEASE: &str = "CASHOUT_RELEASE";
    /// The expiry sweeper's `releaseHold` of an expired hold.
    pub const HOLD_EXPIRE: &str = "HOLD_EXPIRE";
    /// The clearing agent's calls on a clearable transfer.
    pub const CLEARING_PROCESS: &str = "CLEARING_PROCESS";
    pub const CLEARING_EXECUTE: &str = "CLEARING_EXECUTE";
    pub const CLEARING_REJECT: &str = "CLEARING_REJECT";
    /// A compliance status that forbids money freezes the wallet's address; lifting it unfreezes.
    pub const COMPLIANCE_FREEZE: &str = "COMPLIANCE_FREEZE";
    pub const COMPLIANCE_UNFREEZE: &str = "COMPLIANCE_UNFREEZE";
}

/// (requested, pending on the DLT, failed) hold statuses of an operation kind.
pub fn hold_statuses(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match kind {
        kind::HOLD_CREATE | kind::CASHOUT_RESERVE => ("CREATION_REQUESTED", "PENDING_DLT_CREATION", "CREATION_FAILED"),
        kind::HOLD_EXECUTE | kind::CASHOUT_BURN => ("EXECUTION_REQUESTED", "PENDING_DLT_EXECUTION", "EXECUTION_FAILED"),
        kind::HOLD_EXECUTE_KEEP_OPEN => {
            ("EXECUTION_AND_KEEP_OPEN_REQUESTED", "PENDING_DLT_EXECUTE_AND_KEPT_OPEN", "EXECUTION_AND_KEPT_OPEN_FAILED")
        }
        kind::HOLD_RELEASE | kind::CASHOUT_RELEASE => ("RELEASE_REQUESTED", "PENDING_DLT_RELEASE", "RELEASE_FAILED"),
        kind::HOLD_RENEW => ("RENEWAL_REQUESTED", "PENDING_DLT_RENEWAL", "RENEWAL_FAILED"),
        // the sweeper sets PENDING_DLT_EXPIRATION at once; a failed release (the chain
        // did not see the hold expired yet) is retried by the sweeper
        kind::HOLD_EXPIRE => ("PENDING_DLT_EXPIRATION", "PENDING_DLT_EXPIRATION", "RELEASE_FAILED"),
        _ => return None,
    })
}

/// An operation to store.
pub struct NewOperation<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub kind: &'static str,
    pub chain_operation_id: String,
    pub token: &'a Token,
    pub calldata: Vec<u8>,
    pub debit: Option<(String, u128)>,
    pub wallet_id: Option<Uuid>,
    pub hold_id: Option<Uuid>,
    pub payout_id: Option<Uuid>,
}

pub async fn insert_operation(conn: &mut PgConnection, op: NewOperation<'_>) -> Result<()> {
    let (debit_address, debit_amount) = match op.debit {
        Some((a, m)) => (Some(a), m.to_string()),
        None => (None, "0".to_owned()),
    };
    sqlx::query(
        "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata, debit_address,
                                 debit_amount, wallet_id, hold_id, payout_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, $11, $12)",
    )
    .bind(op.id)
    .bind(op.client_id)
    .bind(op.kind)
    .bind(&op.chain_operation_id)
    .bind(op.token.chain_id)
    .bind(&op.token.contract)
    .bind(&op.calldata)
    .bind(debit_address)
    .bind(debit_amount)
    .bind(op.wallet_id)
    .bind(op.hold_id)
    .bind(op.payout_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores an operation the platform itself starts (a worker, not a tenant's
/// request): `client_id` is the tenant concerned when there is one.
#[allow(clippy::too_many_arguments)]
pub async fn insert_platform_operation(
    conn: &mut PgConnection,
    kind: &'static str,
    chain_operation_id: &str,
    token: &Token,
    calldata: Vec<u8>,
    client_id: Option<Uuid>,
    wallet_id: Option<Uuid>,
    hold_id: Option<Uuid>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata, wallet_id, hold_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(client_id)
    .bind(kind)
    .bind(chain_operation_id)
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(&calldata)
    .bind(wallet_id)
    .bind(hold_id)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// One side of a movement (address, and the tenant's wallet/user when known).
#[derive(Debug, Clone, Default)]
pub struct Party {
    pub address: String,
    pub wallet_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

impl Party {
    pub fn of(w: &WalletFacts) -> Self {
        Party { address: w.dlt_address.clone(), wallet_id: Some(w.id), user_id: Some(w.user_id) }
    }
}

/// A PENDING movement to store (the indexer settles it by chain operation id, type and owner).
/// A `BANK_ACCOUNT_CASHOUT` gets its `payer_name` from the owner's user.
pub struct NewMovement {
    pub id: Uuid,
    pub client_id: Uuid,
    pub kind: MovementType,
    pub amount: u128,
    pub concept: Option<String>,
    pub owner: Party,
    pub origin: Option<Party>,
    pub target: Option<Party>,
    pub operation_id: Uuid,
    pub chain_operation_id: String,
    /// set for movements of a hold execution (they do not take available balance)
    pub hold_operation_id: Option<String>,
}

pub async fn insert_movement(conn: &mut PgConnection, platform: &Platform, token: &Token, m: NewMovement) -> Result<()> {
    insert_movements(conn, platform, token, vec![m]).await
}

/// Stores several PENDING movements of one operation in ONE statement: one
/// round trip, and the statement-level triggers on `movements` (webhook events)
/// run once for all of them.
pub async fn insert_movements(conn: &mut PgConnection, platform: &Platform, token: &Token, ms: Vec<NewMovement>) -> Result<()> {
    if ms.is_empty() {
        return Ok(());
    }
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    let n = ms.len();
    let (mut id, mut client, mut kind, mut amount, mut concept) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut owner, mut owner_wallet, mut owner_user) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut origin_wallet, mut target_wallet, mut origin_user, mut target_user, mut origin_addr, mut target_addr) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut op, mut chain_op, mut hold_op) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for m in ms {
        let o = m.origin.unwrap_or_default();
        let t = m.target.unwrap_or_default();
        id.push(m.id);
        client.push(m.client_id);
        kind.push(m.kind.as_str().to_owned());
        amount.push(m.amount.to_string());
        concept.push(m.concept);
        owner.push(m.owner.address);
        owner_wallet.push(m.owner.wallet_id);
        owner_user.push(m.owner.user_id);
        origin_wallet.push(o.wallet_id);
        target_wallet.push(t.wallet_id);
        origin_user.push(o.user_id);
        target_user.push(t.user_id);
        origin_addr.push(nonempty(o.address));
        target_addr.push(nonempty(t.address));
        op.push(m.operation_id);
        chain_op.push(m.chain_operation_id);
        hold_op.push(m.hold_operation_id);
    }
    sqlx::query(
        "INSERT INTO movements (id, client_id, type, status, amount, concept, owner_address, owner_wallet_id,
                                origin_wallet_id, target_wallet_id, origin_user_id, target_user_id, origin_dlt_address,
                                target_dlt_address, wallet_id, user_id, dlt_network, operation_id, chain_operation_id,
                                hold_operation_id, chain_id, payer_name)
         SELECT u.id, u.client_id, u.type, 'PENDING', u.amount::numeric, u.concept, u.owner, u.owner_wallet,
                u.origin_wallet, u.target_wallet, u.origin_user, u.target_user, u.origin_addr,
                u.target_addr, u.owner_wallet, u.owner_user, $15, u.op, u.chain_op, u.hold_op, $16,
                -- seed 003's payerName: the wallet holder's name, as it is when the cash-out is asked
                CASE WHEN u.type = 'BANK_ACCOUNT_CASHOUT' THEN (SELECT name FROM users WHERE id = u.owner_user) END
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::uuid[],
                     $9::uuid[], $10::uuid[], $11::uuid[], $12::uuid[], $13::text[], $14::text[],
                     $17::uuid[], $18::text[], $19::text[])
              WITH ORDINALITY AS u(id, client_id, type, amount, concept, owner, owner_wallet, owner_user,
                                   origin_wallet, target_wallet, origin_user, target_user, origin_addr, target_addr,
                                   op, chain_op, hold_op, ord)
         ORDER BY u.ord",
    )
    .bind(id)
    .bind(client)
    .bind(kind)
    .bind(amount)
    .bind(concept)
    .bind(owner)
    .bind(owner_wallet)
    .bind(owner_user)
    .bind(origin_wallet)
    .bind(target_wallet)
    .bind(origin_user)
    .bind(target_user)
    .bind(origin_addr)
    .bind(target_addr)
    .bind(platform.dlt_network())
    .bind(token.chain_id)
    .bind(op)
    .bind(chain_op)
    .bind(hold_op)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The tenant's wallet owning `address`, if any (for movement links).
pub async fn party_of(conn: &mut PgConnection, client_id: Uuid, address: &str) -> Result<Party> {
    let row: Option<(Uuid, Uuid)> = sqlx::query_as("SELECT id, user_id FROM wallets WHERE dlt_address = $1 AND client_id = $2")
        .bind(address)
        .bind(client_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(Party { address: address.to_owned(), wallet_id: row.map(|r| r.0), user_id: row.map(|r| r.1) })
}

/// Test hook for the crash tests: `EMLEDGER_FAULT=after_store|after_sign|after_send`
/// makes the process abort right after that step, once, for the first operation
/// reaching it. Never set it in production.
pub fn fault_point(step: &str) {
    use std::sync::{atomic::AtomicBool, atomic::Ordering, OnceLock};
    static FAULT: OnceLock<Option<String>> = OnceLock::new();
    static FIRED: AtomicBool = AtomicBool::new(false);
    let configured = FAULT.get_or_init(|| std::env::var("EMLEDGER_FAULT").ok().filter(|s| !s.is_empty()));
    if configured.as_deref() == Some(step) && !FIRED.swap(true, Ordering::SeqCst) {
        eprintln!("EMLEDGER_FAULT={step}: aborting the process (test hook)");
        std::process::abort();
    }
}

/// An optional free-text concept (at most 500 characters).
pub fn concept(value: Option<String>) -> Result<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() => Ok(None),
        other => crate::wallet::text("concept", other, 500),
    }
}

#[cfg(test)]
mod tests {
    use super::expiration;

    #[test]
    fn expiration_refuses_any_text_without_panicking() {
        for text in ["2030-01-01T00:00:0€", "€€€", "2030-02-06T10:04:4é+02", "日本語", "+02", "x", "2030-02-06T10:04:45+0€", "日本語x", "a€b", "2030-02-06T10:04:45€+2"] {
            let r = expiration("expiration", Some(text));
            assert!(r.is_err(), "{text}");
        }
        assert!(expiration("expiration", Some("2130-02-06T10:04:45+02")).unwrap().is_some());
        assert!(expiration("expiration", Some("2130-02-06T10:04:45+02:00")).unwrap().is_some());
    }
}
