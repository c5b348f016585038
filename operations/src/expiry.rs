//! The hold expiry sweeper (seed 003: "When expired, the held amount is
//! automatically made available on the origin account").
//!
//! Every tick it looks for open holds (chain status Ordered or
//! ExecutedAndKeptOpen, not backing a clearable transfer or a cash-out) whose
//! expiration has passed on the chain's clock (the later of the database's
//! clock and the newest indexed block, less a one-second margin so the next
//! block is past it too), and stores one `releaseHold` operation per hold
//! (kind `HOLD_EXPIRE`) with the hold set to `PENDING_DLT_EXPIRATION`. The
//! contract releases an expired hold for any caller with status
//! ReleasedOnExpiration; the indexer then sets `RELEASED_ON_EXPIRATION` and
//! writes the RELEASE movement. A release the chain refuses (not expired yet on
//! its clock) leaves the hold `RELEASE_FAILED` and is tried again 10 s later.
//!
//! Holds whose notary is not the platform (a dApp's) are released too unless
//! `release_foreign` is off: after expiry anyone may, and money stuck on hold
//! helps nobody. Rows are taken `FOR UPDATE SKIP LOCKED` and an operation in
//! flight on a hold excludes it, so replicas never release one hold twice.

use std::time::Duration;

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use sqlx::Row;
use uuid::Uuid;

use crate::{money, Platform};

/// The sweeper's settings (`emledger api --hold-expiry-*`).
#[derive(Debug, Clone)]
pub struct ExpiryConfig {
    pub interval: Duration,
    /// Release expired holds whose notary is not the platform too.
    pub release_foreign: bool,
}

/// Ticks until `stop` turns true.
pub async fn run(platform: Platform, config: ExpiryConfig, mut stop: tokio::sync::watch::Receiver<bool>) {
    tracing::info!(interval = ?config.interval, release_foreign = config.release_foreign, "hold expiry sweeper started");
    loop {
        if *stop.borrow() {
            break;
        }
        match sweep(&platform, config.release_foreign).await {
            Ok(n) => {
                platform.workers().ok("hold expiry sweeper");
                if n > 0 {
                    tracing::info!(holds = n, "expired holds sent for release");
                }
            }
            Err(e) => {
                platform.workers().failed("hold expiry sweeper", &e);
                tracing::warn!(error = %format!("{e:#}"), "hold expiry sweep failed; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            r = stop.changed() => if r.is_err() { break },
        }
    }
}

/// One sweep: stores the releases of up to 200 expired holds; returns how many.
pub async fn sweep(platform: &Platform, release_foreign: bool) -> anyhow::Result<usize> {
    let Ok(token) = platform.token().await else { return Ok(0) };
    let notary = platform.signer_address().map(|a| format!("{a:#x}")).unwrap_or_default();
    let mut tx = platform.pool().begin().await?;
    let rows = sqlx::query(concat!(
        "SELECT h.id, h.operation_id, h.client_id, h.payer_wallet_id FROM holds h
         WHERE h.chain_id = $1 AND h.contract_address = $2
           AND h.expiration IS NOT NULL AND h.chain_status IN (1, 3) AND NOT h.clearable
           AND h.expiration <= GREATEST(now(), (SELECT max(timestamp) FROM chain_blocks WHERE chain_id = $1)) - interval '1 second'
           AND ($3 OR h.notary_dlt_address = $4)
           AND (h.status <> 'RELEASE_FAILED' OR h.updated_at < now() - interval '10 seconds')
           AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.hold_id = h.id)
           AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.hold_id = h.id AND ",
        crate::operation_in_flight_sql!(),
        ")
         ORDER BY h.expiration LIMIT 200
         FOR UPDATE OF h SKIP LOCKED"
    ),
    )
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(release_foreign)
    .bind(&notary)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let hold_id: Uuid = r.get(0);
        let operation_id: String = r.get(1);
        let calldata = EmToken::releaseHoldCall { operationId: operation_id.clone() }.abi_encode();
        money::insert_platform_operation(&mut tx, money::kind::HOLD_EXPIRE, &operation_id, &token, calldata, r.get(2), r.get(3), Some(hold_id))
            .await?;
        sqlx::query("UPDATE holds SET status = 'PENDING_DLT_EXPIRATION', error = NULL, updated_at = now() WHERE id = $1")
            .bind(hold_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if !rows.is_empty() {
        platform.wake_submitter();
    }
    Ok(rows.len())
}
