//! Wallet compliance statuses (seed 000) with real effects.
//!
//! Every wallet has a `complianceStatus` next to its lifecycle status
//! (READY/UNSUBSCRIBED). Three kinds of status:
//! * **money moves**: `new`, `available`, `pending`, `verification`,
//!   `suspicious` (a flag for review), `dispute_started`, `dispute_resolved`;
//! * **frozen**: `on_hold`, `under_investigation`, `sanctioned`, `black_listed`:
//!   the wallet's address is frozen on chain (`EmToken.freeze`: it can neither
//!   send nor receive, whoever signs — a dApp too) and every money request
//!   touching the wallet is refused with 409 `wallet_compliance_status`;
//! * **closed to money**: `verification_denied`, `sold`, `transferred`,
//!   `close_requested`, `closed`: refused by the API like the frozen ones (the
//!   address is not frozen: nothing of the platform's pays into it).
//!
//! Transitions: any status to any other, except that `closed` is final and
//! `new` is only ever the first. Moving from a money or closed status to a
//! frozen one stores a `freeze` operation; leaving the frozen set stores an
//! `unfreeze`. Each change is recorded in `wallet_compliance_changes`.

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{money, wallet::wallet_facts, Command, Error, Platform, Result};

/// Seed 000's wallet statuses, in its order.
pub const STATUSES: &[&str] = &[
    "new",
    "available",
    "pending",
    "sold",
    "verification",
    "verification_denied",
    "on_hold",
    "suspicious",
    "under_investigation",
    "dispute_started",
    "dispute_resolved",
    "sanctioned",
    "black_listed",
    "transferred",
    "close_requested",
    "closed",
];

/// Statuses that freeze the wallet's address on chain.
pub const FROZEN: &[&str] = &["on_hold", "under_investigation", "sanctioned", "black_listed"];

/// Statuses under which no money moves to or from the wallet.
pub fn forbids_money(status: &str) -> bool {
    FROZEN.contains(&status) || matches!(status, "verification_denied" | "sold" | "transferred" | "close_requested" | "closed")
}

/// 409 `wallet_compliance_status` when `status` forbids money; `which` names the wallet's role.
pub fn require_money_allowed(status: &str, which: &str) -> Result<()> {
    if forbids_money(status) {
        return Err(Error::conflict(
            "wallet_compliance_status",
            format!("the {which} wallet's compliance status is {status}: no money moves to or from it"),
        ));
    }
    Ok(())
}

/// Set a wallet's compliance status (admin scope).
#[derive(Debug, Clone)]
pub struct SetComplianceStatus {
    pub wallet_id: Uuid,
    pub status: String,
    pub reason: Option<String>,
}

/// The change made.
#[derive(Debug, Clone)]
pub struct ComplianceChanged {
    pub wallet_id: Uuid,
    pub from: String,
    pub to: String,
    /// The freeze or unfreeze operation stored, if the change needs one.
    pub operation_id: Option<Uuid>,
}

impl Command for SetComplianceStatus {
    type Output = ComplianceChanged;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<ComplianceChanged> {
        let to = self.status.trim().to_ascii_lowercase();
        if !STATUSES.contains(&to.as_str()) {
            return Err(Error::invalid("status", format!("must be one of {}", STATUSES.join(", "))));
        }
        let reason = match self.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) {
            Some(r) if r.chars().count() > 500 => return Err(Error::invalid("reason", "at most 500 characters")),
            Some(r) if r.chars().any(|c| c.is_control()) => return Err(Error::invalid("reason", "must not contain control characters")),
            r => r,
        };
        let wallet = wallet_facts(conn, client_id, self.wallet_id, true).await?;
        let (from,): (String,) =
            sqlx::query_as("SELECT compliance_status FROM wallets WHERE id = $1").bind(self.wallet_id).fetch_one(&mut *conn).await?;
        if from == "closed" && to != "closed" {
            return Err(Error::conflict("invalid_status_transition", "the wallet is closed: its compliance status is final"));
        }
        if to == "new" && from != "new" {
            return Err(Error::conflict("invalid_status_transition", "a wallet is new only before any other status"));
        }
        let freeze = FROZEN.contains(&to.as_str()) && !FROZEN.contains(&from.as_str());
        let unfreeze = !FROZEN.contains(&to.as_str()) && FROZEN.contains(&from.as_str());
        let mut operation_id = None;
        if freeze || unfreeze {
            let token = platform.token().await?;
            platform.signer()?;
            let account = money::addr(&wallet.dlt_address)?;
            let (kind, calldata) = if freeze {
                (money::kind::COMPLIANCE_FREEZE, EmToken::freezeCall { account }.abi_encode())
            } else {
                (money::kind::COMPLIANCE_UNFREEZE, EmToken::unfreezeCall { account }.abi_encode())
            };
            let chain_op = format!("compliance-{}", Uuid::now_v7());
            operation_id =
                Some(money::insert_platform_operation(conn, kind, &chain_op, &token, calldata, Some(client_id), Some(wallet.id), None).await?);
        }
        sqlx::query("UPDATE wallets SET compliance_status = $2, compliance_reason = $3, compliance_updated_at = now(), updated_at = now() WHERE id = $1")
            .bind(wallet.id)
            .bind(&to)
            .bind(&reason)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO wallet_compliance_changes (id, wallet_id, client_id, from_status, to_status, reason, operation_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(wallet.id)
        .bind(client_id)
        .bind(&from)
        .bind(&to)
        .bind(&reason)
        .bind(operation_id)
        .execute(&mut *conn)
        .await?;
        Ok(ComplianceChanged { wallet_id: wallet.id, from, to, operation_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frozen_status_forbids_money_and_is_a_seed_status() {
        for s in FROZEN {
            assert!(STATUSES.contains(s) && forbids_money(s), "{s}");
        }
        for s in ["new", "available", "pending", "verification", "suspicious", "dispute_started", "dispute_resolved"] {
            assert!(!forbids_money(s), "{s}");
        }
        assert!(forbids_money("closed") && !FROZEN.contains(&"closed"));
    }
}
