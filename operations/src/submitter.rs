//! The operation submitter: turns stored `operations` into signed, sent and
//! mined transactions, crash-safely. Started by the API process (`emledger_api::serve`) when its config
//! has `--rpc-url` and `--platform-key`; any number of API replicas may run one,
//! only the holder of the signer's Postgres advisory lock submits.
//!
//! One pass, in `seq` order, at most `--max-in-flight` transactions unmined:
//! 1. **Estimate** gas (+25%) for each PENDING operation *before* it gets a
//!    nonce. A revert here marks it FAILED with the reason and consumes no nonce,
//!    so a storm of doomed debits leaves no nonce gap.
//! 2. **Sign and store**: in one transaction, take the next nonces from
//!    `signer_nonces` (the DB, not memory), build EIP-1559 transactions (fees from
//!    `eth_feeHistory`), sign, store `raw_tx`, `tx_hash`, `nonce` with status
//!    SIGNED, commit. An operation is signed at most once, ever.
//! 3. **Send** the stored raw transactions in nonce order, then mark them SENT
//!    (holds go to `PENDING_DLT_*`).
//! 4. **Receipts**: poll `eth_getTransactionReceipt` for the in-flight hashes.
//!    Status 1 → MINED; the indexer settles the movements and holds, and the
//!    operation becomes SUCCESS once the indexer has recorded the transaction's
//!    events. Status 0 → FAILED with the revert reason (the call replayed with
//!    `eth_call` on its block, then on the parent block), its PENDING movements → ERROR, its hold →
//!    `*_FAILED`.
//!
//! After a crash, the new lock holder re-sends every SIGNED transaction as
//! stored ("already known" / "nonce too low" are fine: the receipt tells) and
//! polls the SENT ones; a transaction whose nonce was taken by another one can
//! never be mined and is marked FAILED. Transactions without a receipt after
//! 30 s are re-broadcast (same bytes). There is no fee bumping: that would mean
//! signing a second transaction for one operation.
//!
//! Also drives cash-out payouts (see [`crate::cashout`]): once the reservation hold
//! is on chain, the simulated bank pays (→ `burnHeld`) or refuses (→
//! `releaseHold`).
//!
//! Test hook: `EMLEDGER_FAULT=after_sign|after_send` (and `after_store` in the
//! request handlers) aborts the process right after that step, once.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::TxEnvelope,
    eips::{eip2718::Encodable2718, BlockId},
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::{RpcError, TransportErrorKind},
};
use anyhow::Context;
use emledger_contracts::EmToken;
use futures::StreamExt;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::money::{fault_point, hold_statuses, kind};

/// Parses a hex private key; the error never contains the key.
pub fn parse_key(key: &str) -> anyhow::Result<PrivateKeySigner> {
    key.trim().parse::<PrivateKeySigner>().map_err(|_| anyhow::anyhow!("the platform key is not a valid hex private key"))
}

/// What the submitter needs.
pub struct SubmitterConfig {
    pub rpc_url: String,
    pub signer: PrivateKeySigner,
    pub max_in_flight: usize,
    pub bank_reject_ibans: Vec<String>,
}

/// Runs the submitter until `stop` turns true (or its sender is dropped).
pub async fn run(pool: PgPool, config: SubmitterConfig, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let address = config.signer.address();
    tracing::info!(signer = %address, max_in_flight = config.max_in_flight, "operation submitter starting");
    loop {
        if *stop.borrow() {
            return;
        }
        match Submitter::connect(&pool, &config, wake.clone()).await {
            Ok(mut s) => match s.run_locked(&mut stop).await {
                Ok(()) => return,
                Err(e) => {
                    metrics::counter!("emledger_submitter_pass_errors_total").increment(1);
                    tracing::warn!(error = %format!("{e:#}"), "submitter pass failed; retrying")
                }
            },
            Err(e) => {
                metrics::counter!("emledger_submitter_pass_errors_total").increment(1);
                tracing::warn!(error = %format!("{e:#}"), "submitter cannot start yet; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

struct InFlight {
    hash: B256,
    signed: bool,
    since: Instant,
}

struct PendingOp {
    id: Uuid,
    target: Address,
    calldata: Bytes,
}

enum SendOutcome {
    Accepted,
    /// "already known", "nonce too low": the receipt (or its absence) tells.
    Known { nonce_too_low: bool },
}

struct Submitter {
    pool: PgPool,
    provider: DynProvider,
    wallet: EthereumWallet,
    address: Address,
    chain_id: u64,
    max_in_flight: usize,
    reject_ibans: Vec<String>,
    wake: Arc<Notify>,
    in_flight: HashMap<Uuid, InFlight>,
    fees: Option<(Instant, u128, u128)>,
    /// Recent gas estimates per function selector (see `gas_limits`).
    gas_by_selector: HashMap<[u8; 4], (u64, Instant)>,
}

/// How long a per-selector gas estimate is reused before estimating again.
const GAS_ESTIMATE_TTL: Duration = Duration::from_secs(30);

fn hex_addr(a: &Address) -> String {
    format!("{a:#x}")
}

/// The revert reason in a JSON-RPC error, if the error is a revert.
fn revert_reason(e: &RpcError<TransportErrorKind>) -> Option<String> {
    if let RpcError::ErrorResp(p) = e {
        if let Some(data) = p.as_revert_data() {
            if let Some(r) = alloy::sol_types::decode_revert_reason(&data) {
                return Some(r.strip_prefix("revert: ").unwrap_or(&r).to_owned());
            }
        }
        let m = p.message.to_lowercase();
        if m.contains("revert") {
            let msg = p.message.to_string();
            return Some(msg.strip_prefix("execution reverted: ").unwrap_or(&msg).to_owned());
        }
    }
    None
}

impl Submitter {
    async fn connect(pool: &PgPool, config: &SubmitterConfig, wake: Arc<Notify>) -> anyhow::Result<Self> {
        let url = config.rpc_url.parse().context("invalid --rpc-url (an http(s) URL)")?;
        let provider = ProviderBuilder::new().disable_recommended_fillers().connect_http(url).erased();
        let chain_id = provider.get_chain_id().await.context("reading the chain id")?;
        Ok(Self {
            pool: pool.clone(),
            provider,
            wallet: EthereumWallet::from(config.signer.clone()),
            address: config.signer.address(),
            chain_id,
            max_in_flight: config.max_in_flight.max(1),
            reject_ibans: config.bank_reject_ibans.iter().map(|i| i.replace(' ', "").to_ascii_uppercase()).collect(),
            wake,
            in_flight: HashMap::new(),
            fees: None,
            gas_by_selector: HashMap::new(),
        })
    }

    async fn run_locked(&mut self, stop: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
        // a dedicated session holds the advisory lock for as long as it lives
        let mut lock_conn = self.pool.acquire().await?.detach();
        let lock_key = format!("emledger-submitter:{}:{}", self.chain_id, hex_addr(&self.address));
        loop {
            let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(&lock_key)
                .fetch_one(&mut lock_conn)
                .await?;
            if got {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return Ok(()) },
            }
        }
        tracing::info!(signer = %self.address, chain_id = self.chain_id, "submitter holds the signer lock");
        self.init_nonce().await?;
        self.recover().await?;
        let mut last_sweep = Instant::now() - Duration::from_secs(10);
        let mut last_lock_check = Instant::now();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let mut progressed = self.poll_receipts().await?;
            progressed |= self.submit_batch().await?;
            metrics::gauge!("emledger_submitter_in_flight").set(self.in_flight.len() as f64);
            if last_sweep.elapsed() > Duration::from_millis(200) {
                progressed |= self.sweep().await?;
                self.rebroadcast().await?;
                last_sweep = Instant::now();
            }
            if last_lock_check.elapsed() > Duration::from_secs(2) {
                sqlx::query("SELECT 1").execute(&mut lock_conn).await.context("the lock session is gone")?;
                last_lock_check = Instant::now();
            }
            if !progressed {
                let nap = if self.in_flight.is_empty() { Duration::from_millis(100) } else { Duration::from_millis(5) };
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(nap) => {}
                    r = stop.changed() => if r.is_err() { return Ok(()) },
                }
            }
        }
    }

    async fn init_nonce(&self) -> anyhow::Result<()> {
        let on_chain = self.provider.get_transaction_count(self.address).pending().await?;
        sqlx::query(
            "INSERT INTO signer_nonces (signer, chain_id, next_nonce) VALUES ($1, $2, $3)
             ON CONFLICT (signer, chain_id) DO UPDATE SET next_nonce = GREATEST(signer_nonces.next_nonce, EXCLUDED.next_nonce), updated_at = now()",
        )
        .bind(hex_addr(&self.address))
        .bind(self.chain_id as i64)
        .bind(on_chain as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Re-sends every SIGNED transaction as stored and tracks the SENT ones.
    async fn recover(&mut self) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "SELECT id, status, raw_tx, tx_hash FROM operations
             WHERE signer = $1 AND chain_id = $2 AND status IN ('SIGNED', 'SENT') ORDER BY nonce",
        )
        .bind(hex_addr(&self.address))
        .bind(self.chain_id as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut resent = 0;
        for r in rows {
            let id: Uuid = r.get(0);
            let status: String = r.get(1);
            let raw: Vec<u8> = r.get(2);
            let hash: B256 = r.get::<String, _>(3).parse()?;
            let mut signed = status == "SIGNED";
            if signed {
                match self.send_raw(&raw).await {
                    Ok(_) => {
                        self.mark_sent(&[id]).await?;
                        signed = false;
                        resent += 1;
                    }
                    Err(e) => tracing::warn!(operation = %id, error = %e, "re-sending a signed transaction failed; will retry"),
                }
            }
            self.in_flight.insert(id, InFlight { hash, signed, since: Instant::now() });
        }
        if !self.in_flight.is_empty() {
            tracing::info!(in_flight = self.in_flight.len(), resent, "recovered in-flight operations");
        }
        Ok(())
    }

    async fn send_raw(&self, raw: &[u8]) -> Result<SendOutcome, RpcError<TransportErrorKind>> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(SendOutcome::Accepted),
            Err(e) => {
                let m = e.to_string().to_lowercase();
                let nonce_too_low = m.contains("nonce too low") || m.contains("nonce is too low");
                if nonce_too_low || m.contains("already known") || m.contains("already imported") || m.contains("known transaction") || m.contains("already exists") {
                    Ok(SendOutcome::Known { nonce_too_low })
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn current_fees(&mut self) -> anyhow::Result<(u128, u128)> {
        if let Some((at, max_fee, tip)) = self.fees {
            if at.elapsed() < Duration::from_secs(2) {
                return Ok((max_fee, tip));
            }
        }
        let f = self.provider.estimate_eip1559_fees().await.context("estimating EIP-1559 fees")?;
        self.fees = Some((Instant::now(), f.max_fee_per_gas, f.max_priority_fee_per_gas));
        Ok((f.max_fee_per_gas, f.max_priority_fee_per_gas))
    }

    /// Estimates, signs, stores and sends the next PENDING operations.
    async fn submit_batch(&mut self) -> anyhow::Result<bool> {
        let capacity = self.max_in_flight.saturating_sub(self.in_flight.len());
        if capacity == 0 {
            return Ok(false);
        }
        let rows = sqlx::query(
            "SELECT id, target, calldata FROM operations WHERE status = 'PENDING' AND chain_id = $1 ORDER BY seq LIMIT $2",
        )
        .bind(self.chain_id as i64)
        .bind(capacity as i64)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(false);
        }
        let mut ops = Vec::with_capacity(rows.len());
        for r in rows {
            ops.push(PendingOp {
                id: r.get(0),
                target: r.get::<String, _>(1).parse().context("operation target")?,
                calldata: Bytes::from(r.get::<Vec<u8>, _>(2)),
            });
        }
        let (max_fee, tip) = self.current_fees().await?;

        // 1. gas. A function whose gas was estimated in the last GAS_ESTIMATE_TTL
        // reuses that estimate with ample headroom (no RPC, no EVM run on the
        // node); otherwise estimate now, before any nonce is taken, so a call
        // that would revert is FAILED with its reason without consuming one.
        // A reused estimate skips that pre-check: such a call is mined as a
        // failed transaction (its nonce is used — no gap), and the receipt makes
        // the operation FAILED with the replayed reason.
        let now = Instant::now();
        let mut to_sign = Vec::new();
        let mut to_estimate = Vec::new();
        // operations keep their `seq` order: `position` restores it after estimation
        let position: HashMap<Uuid, usize> = ops.iter().enumerate().map(|(i, op)| (op.id, i)).collect();
        for op in ops {
            let selector: Option<[u8; 4]> = op.calldata.get(..4).and_then(|s| s.try_into().ok());
            match selector.and_then(|s| self.gas_by_selector.get(&s)) {
                Some((gas, at)) if now.duration_since(*at) < GAS_ESTIMATE_TTL => {
                    let gas = gas.saturating_mul(3) / 2 + 50_000;
                    to_sign.push((op, gas));
                }
                _ => to_estimate.push(op),
            }
        }
        let from = self.address;
        let provider = self.provider.clone();
        let estimates: Vec<_> = futures::stream::iter(to_estimate.into_iter().map(|op| {
            let provider = provider.clone();
            async move {
                let req = TransactionRequest::default().with_from(from).with_to(op.target).with_input(op.calldata.clone());
                let r = provider.estimate_gas(req).await;
                (op, r)
            }
        }))
        .buffered(8)
        .collect()
        .await;
        let mut failed = Vec::new();
        let mut transient = false;
        for (op, r) in estimates {
            match r {
                Ok(gas) => {
                    if let Some(selector) = op.calldata.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
                        let entry = self.gas_by_selector.entry(selector).or_insert((gas, now));
                        // keep the largest recent estimate (a first transfer to a new address costs more)
                        if now.duration_since(entry.1) >= GAS_ESTIMATE_TTL || gas > entry.0 {
                            *entry = (gas.max(if now.duration_since(entry.1) >= GAS_ESTIMATE_TTL { 0 } else { entry.0 }), now);
                        }
                    }
                    to_sign.push((op, gas.saturating_mul(5) / 4 + 10_000))
                }
                Err(e) => match revert_reason(&e) {
                    Some(reason) => failed.push((op.id, reason)),
                    None => {
                        tracing::warn!(operation = %op.id, error = %e, "gas estimation failed (not a revert); will retry");
                        transient = true;
                    }
                },
            }
        }

        to_sign.sort_by_key(|(op, _)| position[&op.id]);

        // 2. nonces from the DB, sign, store SIGNED, commit
        let mut signed: Vec<(Uuid, i64, u64, Vec<u8>, B256)> = Vec::with_capacity(to_sign.len());
        let mut tx = self.pool.begin().await?;
        if !to_sign.is_empty() {
            let (mut next,): (i64,) =
                sqlx::query_as("SELECT next_nonce FROM signer_nonces WHERE signer = $1 AND chain_id = $2 FOR UPDATE")
                    .bind(hex_addr(&self.address))
                    .bind(self.chain_id as i64)
                    .fetch_one(&mut *tx)
                    .await?;
            for (op, gas) in &to_sign {
                let req = TransactionRequest::default()
                    .with_from(self.address)
                    .with_to(op.target)
                    .with_input(op.calldata.clone())
                    .with_nonce(next as u64)
                    .with_chain_id(self.chain_id)
                    .with_gas_limit(*gas)
                    .with_max_fee_per_gas(max_fee)
                    .with_max_priority_fee_per_gas(tip);
                let envelope: TxEnvelope = req.build(&self.wallet).await.context("signing")?;
                let raw = envelope.encoded_2718();
                signed.push((op.id, next, *gas, raw, *envelope.tx_hash()));
                next += 1;
            }
            let ids: Vec<Uuid> = signed.iter().map(|s| s.0).collect();
            let nonces: Vec<i64> = signed.iter().map(|s| s.1).collect();
            let gas: Vec<i64> = signed.iter().map(|s| s.2 as i64).collect();
            let raws: Vec<Vec<u8>> = signed.iter().map(|s| s.3.clone()).collect();
            let hashes: Vec<String> = signed.iter().map(|s| format!("{:#x}", s.4)).collect();
            let done = sqlx::query(
                "UPDATE operations o SET status = 'SIGNED', signer = $1, nonce = u.nonce, gas_limit = u.gas,
                        max_fee_per_gas = $2::numeric, raw_tx = u.raw, tx_hash = u.hash, signed_at = now(), updated_at = now()
                 FROM UNNEST($3::uuid[], $4::bigint[], $5::bigint[], $6::bytea[], $7::text[]) AS u(id, nonce, gas, raw, hash)
                 WHERE o.id = u.id AND o.status = 'PENDING'",
            )
            .bind(hex_addr(&self.address))
            .bind(max_fee.to_string())
            .bind(&ids)
            .bind(&nonces)
            .bind(&gas)
            .bind(&raws)
            .bind(&hashes)
            .execute(&mut *tx)
            .await?;
            anyhow::ensure!(done.rows_affected() as usize == signed.len(), "operations changed under the submitter; retrying");
            sqlx::query("UPDATE signer_nonces SET next_nonce = $3, updated_at = now() WHERE signer = $1 AND chain_id = $2")
                .bind(hex_addr(&self.address))
                .bind(self.chain_id as i64)
                .bind(next)
                .execute(&mut *tx)
                .await?;
        }
        fail_operations(&mut tx, &failed).await?;
        tx.commit().await?;
        for (id, reason) in &failed {
            tracing::info!(operation = %id, reason, "operation refused by the contract (gas estimation)");
        }
        if signed.is_empty() {
            if transient {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            return Ok(!failed.is_empty());
        }
        fault_point("after_sign");

        // 3. send in nonce order
        let mut sent = Vec::with_capacity(signed.len());
        for (id, _, _, raw, hash) in &signed {
            let ok = match self.send_raw(raw).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(operation = %id, error = %e, "sending failed; will re-send the same transaction");
                    false
                }
            };
            if ok {
                sent.push(*id);
            }
            self.in_flight.insert(*id, InFlight { hash: *hash, signed: !ok, since: Instant::now() });
        }
        fault_point("after_send");
        self.mark_sent(&sent).await?;
        Ok(true)
    }

    /// SIGNED → SENT, and the holds of those operations to `PENDING_DLT_*`.
    async fn mark_sent(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE operations SET status = 'SENT', sent_at = now(), updated_at = now()
             WHERE id = ANY($1) AND status = 'SIGNED' RETURNING kind, hold_id",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            let kind: String = r.get(0);
            let hold: Option<Uuid> = r.get(1);
            if let (Some(hold), Some((requested, pending, _))) = (hold, hold_statuses(&kind)) {
                sqlx::query("UPDATE holds SET status = $2, updated_at = now() WHERE id = $1 AND status = $3")
                    .bind(hold)
                    .bind(pending)
                    .bind(requested)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks receipts of the in-flight transactions.
    async fn poll_receipts(&mut self) -> anyhow::Result<bool> {
        if self.in_flight.is_empty() {
            return Ok(false);
        }
        let items: Vec<(Uuid, B256)> = self.in_flight.iter().map(|(id, f)| (*id, f.hash)).collect();
        let provider = self.provider.clone();
        let results: Vec<_> = futures::stream::iter(items.into_iter().map(|(id, hash)| {
            let provider = provider.clone();
            async move { (id, provider.get_transaction_receipt(hash).await) }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
        let mut mined: Vec<(Uuid, i64)> = Vec::new();
        let mut reverted: Vec<(Uuid, u64)> = Vec::new();
        for (id, r) in results {
            match r {
                Ok(Some(receipt)) => {
                    let block = receipt.block_number.unwrap_or_default();
                    if receipt.status() {
                        mined.push((id, block as i64));
                    } else {
                        reverted.push((id, block));
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(operation = %id, error = %e, "receipt poll failed"),
            }
        }
        if mined.is_empty() && reverted.is_empty() {
            return Ok(false);
        }
        let mut failed = Vec::new();
        for (id, block) in &reverted {
            let reason = self.replay_reason(*id, *block).await;
            failed.push((*id, reason));
        }
        let mut tx = self.pool.begin().await?;
        if !mined.is_empty() {
            let ids: Vec<Uuid> = mined.iter().map(|m| m.0).collect();
            let blocks: Vec<i64> = mined.iter().map(|m| m.1).collect();
            sqlx::query(
                "UPDATE operations o SET status = 'MINED', block_number = u.b, mined_at = now(), updated_at = now()
                 FROM UNNEST($1::uuid[], $2::bigint[]) AS u(id, b) WHERE o.id = u.id AND o.status IN ('SIGNED', 'SENT')",
            )
            .bind(&ids)
            .bind(&blocks)
            .execute(&mut *tx)
            .await?;
        }
        for (id, block) in &reverted {
            sqlx::query("UPDATE operations SET block_number = $2 WHERE id = $1").bind(id).bind(*block as i64).execute(&mut *tx).await?;
        }
        fail_operations(&mut tx, &failed).await?;
        tx.commit().await?;
        for (id, reason) in &failed {
            tracing::info!(operation = %id, reason, "transaction reverted on chain");
        }
        for id in mined.iter().map(|m| m.0).chain(reverted.iter().map(|r| r.0)) {
            self.in_flight.remove(&id);
        }
        Ok(true)
    }

    /// The revert reason of a mined, reverted operation: its call replayed with `eth_call`.
    async fn replay_reason(&self, id: Uuid, block: u64) -> String {
        let row: Option<(String, Vec<u8>)> =
            sqlx::query_as("SELECT target, calldata FROM operations WHERE id = $1").bind(id).fetch_optional(&self.pool).await.ok().flatten();
        let Some((target, calldata)) = row else { return "transaction reverted".into() };
        let Ok(target) = target.parse::<Address>() else { return "transaction reverted".into() };
        let req = TransactionRequest::default().with_from(self.address).with_to(target).with_input(Bytes::from(calldata));
        // The block itself first (its timestamp; a reverted tx changed no contract
        // state), then its parent.
        for b in [block, block.saturating_sub(1)] {
            if let Err(e) = self.provider.call(req.clone()).block(BlockId::number(b)).await {
                if let Some(reason) = revert_reason(&e) {
                    return reason;
                }
            }
        }
        "transaction reverted on chain (no reason when replayed)".into()
    }

    /// Re-sends SIGNED transactions the node did not take, and SENT ones without a
    /// receipt for 30 s (the same bytes); fails those whose nonce another tx used.
    async fn rebroadcast(&mut self) -> anyhow::Result<()> {
        let due: Vec<(Uuid, B256, bool)> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.since.elapsed() > if f.signed { Duration::from_secs(1) } else { Duration::from_secs(30) })
            .map(|(id, f)| (*id, f.hash, f.signed))
            .collect();
        for (id, hash, was_signed) in due {
            let raw: Option<(Vec<u8>,)> =
                sqlx::query_as("SELECT raw_tx FROM operations WHERE id = $1 AND status IN ('SIGNED', 'SENT')").bind(id).fetch_optional(&self.pool).await?;
            let Some((raw,)) = raw else {
                self.in_flight.remove(&id);
                continue;
            };
            match self.send_raw(&raw).await {
                Ok(SendOutcome::Known { nonce_too_low: true }) => {
                    let receipt = self.provider.get_transaction_receipt(hash).await?;
                    let known = self.provider.get_transaction_by_hash(hash).await?;
                    if receipt.is_none() && known.is_none() {
                        let mut tx = self.pool.begin().await?;
                        fail_operations(&mut tx, &[(id, "the nonce was used by another transaction; this one can never be mined".into())])
                            .await?;
                        tx.commit().await?;
                        self.in_flight.remove(&id);
                        continue;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(operation = %id, error = %e, "re-sending failed");
                    if let Some(f) = self.in_flight.get_mut(&id) {
                        f.since = Instant::now();
                    }
                    continue;
                }
            }
            if was_signed {
                self.mark_sent(&[id]).await?;
            }
            if let Some(f) = self.in_flight.get_mut(&id) {
                f.signed = false;
                f.since = Instant::now();
            }
        }
        Ok(())
    }

    /// MINED → SUCCESS once the indexer has the transaction's events; payouts.
    async fn sweep(&mut self) -> anyhow::Result<bool> {
        sqlx::query(
            "UPDATE operations o SET status = 'SUCCESS', updated_at = now()
             WHERE o.status = 'MINED' AND o.chain_id = $1
               AND EXISTS (SELECT 1 FROM chain_events e WHERE e.chain_id = o.chain_id AND e.tx_hash = o.tx_hash)",
        )
        .bind(self.chain_id as i64)
        .execute(&self.pool)
        .await?;
        self.payouts().await
    }

    /// Moves cash-out payouts along (see `http::cashouts`).
    async fn payouts(&mut self) -> anyhow::Result<bool> {
        let rows = sqlx::query(
            "SELECT p.id, p.status, p.hold_id, p.movement_id, p.iban, p.amount::text, p.client_id, p.wallet_id,
                    ro.status, so.status, h.operation_id, h.payer_dlt_address, ro.target
             FROM payouts p JOIN operations ro ON ro.id = p.reserve_operation_id
             LEFT JOIN operations so ON so.id = p.settle_operation_id
             JOIN holds h ON h.id = p.hold_id
             WHERE p.status IN ('RESERVING', 'PAYING', 'RELEASING') AND ro.chain_id = $1
             ORDER BY p.created_at LIMIT 200",
        )
        .bind(self.chain_id as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut progressed = false;
        for r in rows {
            let id: Uuid = r.get(0);
            let status: String = r.get(1);
            let hold_id: Uuid = r.get(2);
            let movement_id: Uuid = r.get(3);
            let iban: String = r.get(4);
            let amount: String = r.get(5);
            let client_id: Uuid = r.get(6);
            let wallet_id: Uuid = r.get(7);
            let reserve: String = r.get(8);
            let settle: Option<String> = r.get(9);
            let hold_op: String = r.get(10);
            let payer: Option<String> = r.get(11);
            let target: String = r.get(12);
            let amount_u: U256 = U256::from_str_radix(&amount, 10).unwrap_or_default();
            let op = PayoutOp { payout: id, hold_id, hold_op: hold_op.clone(), client_id, wallet_id, target: target.clone() };
            let mut tx = self.pool.begin().await?;
            let moved = match (status.as_str(), reserve.as_str(), settle.as_deref()) {
                ("RESERVING", "SUCCESS", _) => {
                    if self.reject_ibans.contains(&iban) {
                        fail_cashout_movement(&mut tx, movement_id, "the bank refused the payout; the funds were released").await?;
                        start_release(&mut tx, &op, payer.as_deref(), &amount, "RESERVING").await?
                    } else {
                        let calldata = EmToken::burnHeldCall { operationId: hold_op.clone(), value: amount_u }.abi_encode();
                        start_step(&mut tx, &op, kind::CASHOUT_BURN, calldata, "RESERVING", "PAYING").await?
                    }
                }
                ("RESERVING", "FAILED", _) => set_payout(&mut tx, id, "RESERVING", "FAILED", Some("the reservation hold reverted")).await?,
                ("PAYING", _, Some("SUCCESS" | "MINED")) => set_payout(&mut tx, id, "PAYING", "PAID", None).await?,
                ("PAYING", _, Some("FAILED")) => {
                    fail_cashout_movement(&mut tx, movement_id, "burning the reserved funds failed; the funds were released").await?;
                    start_release(&mut tx, &op, payer.as_deref(), &amount, "PAYING").await?
                }
                ("RELEASING", _, Some("SUCCESS" | "MINED")) => set_payout(&mut tx, id, "RELEASING", "RELEASED", None).await?,
                ("RELEASING", _, Some("FAILED")) => {
                    tracing::error!(payout = %id, "releasing the funds of a failed payout reverted: needs an operator");
                    set_payout(&mut tx, id, "RELEASING", "RELEASE_FAILED", Some("releasing the reservation hold reverted")).await?
                }
                _ => false,
            };
            tx.commit().await?;
            progressed |= moved;
        }
        if progressed {
            self.wake.notify_one();
        }
        Ok(progressed)
    }
}

struct PayoutOp {
    payout: Uuid,
    hold_id: Uuid,
    hold_op: String,
    client_id: Uuid,
    wallet_id: Uuid,
    target: String,
}

async fn set_payout(conn: &mut PgConnection, id: Uuid, from: &str, to: &str, error: Option<&str>) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE payouts SET status = $3, error = COALESCE($4, error), updated_at = now() WHERE id = $1 AND status = $2")
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(error)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

async fn fail_cashout_movement(conn: &mut PgConnection, movement: Uuid, reason: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'")
        .bind(movement)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores a payout step's operation together with the payout's status change.
async fn start_step(conn: &mut PgConnection, op: &PayoutOp, kind: &'static str, calldata: Vec<u8>, from: &str, to: &str) -> anyhow::Result<bool> {
    let op_id = Uuid::now_v7();
    let done = sqlx::query("UPDATE payouts SET status = $3, settle_operation_id = $4, updated_at = now() WHERE id = $1 AND status = $2")
        .bind(op.payout)
        .bind(from)
        .bind(to)
        .bind(op_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata, wallet_id, hold_id, payout_id)
         SELECT $1, $2, $3, $4, chain_id, $5, $6, $7, $8, $9 FROM operations o
         WHERE o.id = (SELECT reserve_operation_id FROM payouts WHERE id = $9)",
    )
    .bind(op_id)
    .bind(op.client_id)
    .bind(kind)
    .bind(&op.hold_op)
    .bind(&op.target)
    .bind(&calldata)
    .bind(op.wallet_id)
    .bind(op.hold_id)
    .bind(op.payout)
    .execute(&mut *conn)
    .await?;
    if let Some((requested, _, _)) = hold_statuses(kind) {
        sqlx::query("UPDATE holds SET status = $2, updated_at = now() WHERE id = $1").bind(op.hold_id).bind(requested).execute(&mut *conn).await?;
    }
    Ok(true)
}

async fn start_release(conn: &mut PgConnection, op: &PayoutOp, payer: Option<&str>, amount: &str, from: &str) -> anyhow::Result<bool> {
    let calldata = EmToken::releaseHoldCall { operationId: op.hold_op.clone() }.abi_encode();
    if !start_step(conn, op, kind::CASHOUT_RELEASE, calldata, from, "RELEASING").await? {
        return Ok(false);
    }
    // the RELEASE movement the indexer will settle
    sqlx::query(
        "INSERT INTO movements (id, client_id, type, status, amount, concept, owner_address, owner_wallet_id, wallet_id, user_id,
                                dlt_network, operation_id, chain_operation_id, hold_operation_id, chain_id)
         SELECT $1, p.client_id, 'RELEASE', 'PENDING', $2::numeric, 'Cash-out payout failed: funds released', $3, w.id, w.id, w.user_id,
                m.dlt_network, p.settle_operation_id, $4, $4, m.chain_id
         FROM payouts p JOIN wallets w ON w.id = p.wallet_id JOIN movements m ON m.id = p.movement_id WHERE p.id = $5",
    )
    .bind(Uuid::now_v7())
    .bind(amount)
    .bind(payer.unwrap_or_default())
    .bind(&op.hold_op)
    .bind(op.payout)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// FAILED with `reason`: the operation, its PENDING movements (→ ERROR) and its hold (→ `*_FAILED`).
async fn fail_operations(conn: &mut PgConnection, failed: &[(Uuid, String)]) -> anyhow::Result<()> {
    for (id, reason) in failed {
        let row: Option<(String, Option<Uuid>)> = sqlx::query_as(
            "UPDATE operations SET status = 'FAILED', error = $2, updated_at = now()
             WHERE id = $1 AND status NOT IN ('FAILED', 'SUCCESS') RETURNING kind, hold_id",
        )
        .bind(id)
        .bind(reason)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((kind, hold)) = row else { continue };
        sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE operation_id = $1 AND status = 'PENDING'")
            .bind(id)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
        if let (Some(hold), Some((requested, pending, failed))) = (hold, hold_statuses(&kind)) {
            sqlx::query(
                "UPDATE holds SET status = $2, error = $3, updated_at = now() WHERE id = $1 AND status IN ($4, $5)",
            )
            .bind(hold)
            .bind(failed)
            .bind(reason)
            .bind(requested)
            .bind(pending)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}
