//! The clearing agent (EIP-2018): the platform holds the clearing-agent role
//! and clears every transfer ordered on the contract (`orderTransfer`, by a
//! dApp or a wallet's owner) — nobody has to call anything.
//!
//! **Policy** (checked once per transfer, the decision stored in
//! `clearing_decisions` before anything is sent):
//! 1. the payer's and the payee's addresses are wallets of the platform,
//!    both READY, their users not UNSUBSCRIBED;
//! 2. neither wallet's compliance status forbids money (see [`crate::compliance`]);
//! 3. the amount is at most `max_amount` when one is configured.
//!
//! A transfer that passes is **processed** (Ordered → InProcess) and then
//! **executed** (the held amount moves: TRANSFER_OUT / TRANSFER_IN); one that
//! fails is **rejected** with the reason, which the contract records and the
//! hold's amount returns to the payer. With the automatic agent off
//! (`--clearing-auto=false`) the operator does it by hand through
//! `/api/v1/operator/clearable-transfers` ([`ClearingAction`]).
//!
//! Crash-safety: the decision and each operation are stored in one database
//! transaction; an operation in flight (or mined but not yet indexed) on a
//! transfer excludes it from the next tick; a failed one is retried after
//! 10 s unless the transfer left the pending states (cancelled by its payer).

use std::time::Duration;

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::{money, Error, Platform, Result};

/// The clearing agent's settings (`emledger api --clearing-*`).
#[derive(Debug, Clone)]
pub struct ClearingConfig {
    pub interval: Duration,
    /// Decide automatically by the policy (otherwise only the operator decides).
    pub auto: bool,
    /// The largest amount cleared automatically, in the token's minor units.
    pub max_amount: Option<u128>,
}

/// Ticks until `stop` turns true.
pub async fn run(platform: Platform, config: ClearingConfig, mut stop: tokio::sync::watch::Receiver<bool>) {
    tracing::info!(interval = ?config.interval, auto = config.auto, max_amount = ?config.max_amount, "clearing agent started");
    loop {
        if *stop.borrow() {
            break;
        }
        match tick(&platform, &config).await {
            Ok(n) => {
                platform.workers().ok("clearing agent");
                if n > 0 {
                    tracing::info!(operations = n, "clearing operations stored");
                }
            }
            Err(e) => {
                platform.workers().failed("clearing agent", &e);
                tracing::warn!(error = %format!("{e:#}"), "clearing round failed; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            r = stop.changed() => if r.is_err() { break },
        }
    }
}

/// A pending transfer and what is known about its parties.
struct Pending {
    operation_id: String,
    status: String,
    value: String,
    from: String,
    to: String,
    decision: Option<(String, Option<String>)>,
}

/// SQL: no clearing operation of the transfer is in flight, or failed in the last 10 s.
const NOTHING_IN_FLIGHT: &str = concat!(
    "NOT EXISTS (SELECT 1 FROM operations o
    WHERE o.chain_id = c.chain_id AND o.target = c.contract_address AND o.chain_operation_id = c.operation_id
      AND o.kind IN ('CLEARING_PROCESS', 'CLEARING_EXECUTE', 'CLEARING_REJECT')
      AND (",
    crate::operation_in_flight_sql!(),
    "
           OR (o.status = 'FAILED' AND o.updated_at > now() - interval '10 seconds')))"
);

/// One round: decides what is undecided (when automatic) and stores the next
/// operation of every decided transfer; returns how many operations it stored.
pub async fn tick(platform: &Platform, config: &ClearingConfig) -> anyhow::Result<usize> {
    let Ok(token) = platform.token().await else { return Ok(0) };
    let mut tx = platform.pool().begin().await?;
    let rows = sqlx::query(&format!(
        "SELECT c.operation_id, c.status, c.value::text, c.from_address, c.to_address, d.decision, d.reason
         FROM clearable_transfers c
         LEFT JOIN clearing_decisions d ON d.chain_id = c.chain_id AND d.contract_address = c.contract_address AND d.operation_id = c.operation_id
         WHERE c.chain_id = $1 AND c.contract_address = $2 AND c.status IN ('ORDERED', 'IN_PROCESS')
           AND ($3 OR d.decision IS NOT NULL) AND {NOTHING_IN_FLIGHT}
         ORDER BY c.created_block LIMIT 200
         FOR UPDATE OF c SKIP LOCKED"
    ))
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(config.auto)
    .fetch_all(&mut *tx)
    .await?;
    let mut stored = 0;
    for r in rows {
        let p = Pending {
            operation_id: r.get(0),
            status: r.get(1),
            value: r.get(2),
            from: r.get(3),
            to: r.get(4),
            decision: r.get::<Option<String>, _>(5).map(|d| (d, r.get(6))),
        };
        let (decision, reason) = match p.decision.clone() {
            Some(d) => d,
            None => {
                let refusal = policy(&mut tx, &p, config.max_amount, token.decimals).await?;
                let d = if refusal.is_some() { "REJECT" } else { "EXECUTE" };
                record_decision(&mut tx, &token, &p.operation_id, d, refusal.as_deref(), "policy").await?;
                tracing::info!(operation = %p.operation_id, decision = d, reason = refusal.as_deref().unwrap_or(""), "clearable transfer decided");
                (d.to_owned(), refusal)
            }
        };
        let step = match (decision.as_str(), p.status.as_str()) {
            ("EXECUTE", "ORDERED") => Step::Process,
            ("EXECUTE", _) => Step::Execute,
            _ => Step::Reject(reason.unwrap_or_else(|| "rejected by the clearing agent".into())),
        };
        store_step(&mut tx, &token, &p.operation_id, &p.from, step).await?;
        stored += 1;
    }
    tx.commit().await?;
    if stored > 0 {
        platform.wake_submitter();
    }
    Ok(stored)
}

/// Why the policy refuses a transfer, or `None` when it may be executed.
async fn policy(conn: &mut PgConnection, p: &Pending, max_amount: Option<u128>, decimals: u32) -> anyhow::Result<Option<String>> {
    for (role, address) in [("payer", &p.from), ("payee", &p.to)] {
        let w: Option<(String, String, String)> = sqlx::query_as(
            "SELECT w.status, w.compliance_status, u.status FROM wallets w JOIN users u ON u.id = w.user_id WHERE w.dlt_address = $1",
        )
        .bind(address)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((status, compliance, user_status)) = w else {
            return Ok(Some(format!("the {role} address {address} is not a wallet of the platform")));
        };
        if status != crate::wallet::status::READY {
            return Ok(Some(format!("the {role} wallet is {status}")));
        }
        if user_status == crate::wallet::status::UNSUBSCRIBED {
            return Ok(Some(format!("the {role} wallet's user is UNSUBSCRIBED")));
        }
        if crate::compliance::forbids_money(&compliance) {
            return Ok(Some(format!("the {role} wallet's compliance status is {compliance}")));
        }
    }
    if let (Some(max), Ok(value)) = (max_amount, p.value.parse::<u128>()) {
        if value > max {
            return Ok(Some(format!(
                "the amount {} is above the clearing limit {}",
                money::wire(value, decimals),
                money::wire(max, decimals)
            )));
        }
    }
    Ok(None)
}

async fn record_decision(
    conn: &mut PgConnection,
    token: &money::Token,
    operation_id: &str,
    decision: &str,
    reason: Option<&str>,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO clearing_decisions (chain_id, contract_address, operation_id, decision, reason, decided_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(operation_id)
    .bind(decision)
    .bind(reason)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

enum Step {
    Process,
    Execute,
    Reject(String),
}

async fn store_step(conn: &mut PgConnection, token: &money::Token, operation_id: &str, payer: &str, step: Step) -> Result<Uuid> {
    let op = operation_id.to_owned();
    let (kind, calldata) = match step {
        Step::Process => (money::kind::CLEARING_PROCESS, EmToken::processClearableTransferCall { operationId: op }.abi_encode()),
        Step::Execute => (money::kind::CLEARING_EXECUTE, EmToken::executeClearableTransferCall { operationId: op }.abi_encode()),
        Step::Reject(reason) => {
            (money::kind::CLEARING_REJECT, EmToken::rejectClearableTransferCall { operationId: op, reason }.abi_encode())
        }
    };
    // the payer's tenant and wallet, when the payer is one of ours
    let owner: Option<(Uuid, Uuid)> =
        sqlx::query_as("SELECT client_id, id FROM wallets WHERE dlt_address = $1").bind(payer).fetch_optional(&mut *conn).await?;
    money::insert_platform_operation(conn, kind, operation_id, token, calldata, owner.map(|o| o.0), owner.map(|o| o.1), None).await
}

/// What the operator does with a pending clearable transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearingStep {
    Process,
    Execute,
    Reject { reason: String },
}

/// The operator's hand on one clearable transfer (operator credentials; no tenant).
#[derive(Debug, Clone)]
pub struct ClearingAction {
    pub operation_id: String,
    pub step: ClearingStep,
}

impl ClearingAction {
    /// Stores the operation; 404 unknown transfer, 409 when it is no longer
    /// pending, already decided otherwise, or has an operation in flight.
    pub async fn execute(self, platform: &Platform, conn: &mut PgConnection) -> Result<Uuid> {
        let token = platform.token().await?;
        platform.signer()?;
        if let ClearingStep::Reject { reason } = &self.step {
            if reason.trim().is_empty() || reason.chars().count() > 500 || reason.chars().any(|c| c.is_control()) {
                return Err(Error::invalid("reason", "1 to 500 characters, no control characters"));
            }
        }
        let row = sqlx::query(&format!(
            "SELECT c.status, c.from_address, d.decision, {NOTHING_IN_FLIGHT} AS idle
             FROM clearable_transfers c
             LEFT JOIN clearing_decisions d ON d.chain_id = c.chain_id AND d.contract_address = c.contract_address AND d.operation_id = c.operation_id
             WHERE c.chain_id = $1 AND c.contract_address = $2 AND c.operation_id = $3 FOR UPDATE OF c"
        ))
        .bind(token.chain_id)
        .bind(&token.contract)
        .bind(&self.operation_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("clearable transfer"))?;
        let status: String = row.get(0);
        let payer: String = row.get(1);
        let decided: Option<String> = row.get(2);
        let idle: bool = row.get(3);
        if !matches!(status.as_str(), "ORDERED" | "IN_PROCESS") {
            return Err(Error::conflict("clearable_transfer_not_pending", format!("the transfer is {status}")));
        }
        if !idle {
            return Err(Error::conflict("clearing_in_progress", "an operation on this transfer is in progress; retry when it has settled"));
        }
        let (decision, step) = match self.step {
            ClearingStep::Process if status == "ORDERED" => (None, Step::Process),
            ClearingStep::Process => return Err(Error::conflict("clearable_transfer_not_pending", "the transfer is already IN_PROCESS")),
            ClearingStep::Execute => (Some(("EXECUTE", None)), Step::Execute),
            ClearingStep::Reject { reason } => (Some(("REJECT", Some(reason.trim().to_owned()))), Step::Reject(reason.trim().to_owned())),
        };
        if let (Some((d, _)), Some(previous)) = (&decision, &decided) {
            if previous != d {
                return Err(Error::conflict("clearing_already_decided", format!("the transfer was already decided: {previous}")));
            }
        }
        if let Some((d, reason)) = decision {
            record_decision(conn, &token, &self.operation_id, d, reason.as_deref(), "operator").await?;
        }
        store_step(conn, &token, &self.operation_id, &payer, step).await
    }
}
