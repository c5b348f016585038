//! The operation submitter: turns stored `operations` into signed, sent and
//! mined chain transactions, crash-safely, many operations per transaction.
//! Started by the API process (`emledger_api::serve`) when its config has
//! `--rpc-url` and `--platform-key`; any number of API replicas may run one, only
//! the holder of the signer's Postgres advisory lock submits.
//!
//! One pass, in `seq` order, at most `--max-in-flight` transactions unmined:
//! 1. **Pack.** Ready PENDING operations (not waiting for a retry) are packed
//!    `--batch-size` at a time into one call of EmToken's `batch`, whose inner
//!    calls succeed or fail one by one. An operation that was already retried,
//!    or any operation when the batch size is 1, goes alone as its own call.
//! 2. **Estimate** gas before any nonce is taken: for a lone operation a revert
//!    here makes it FAILED with its decoded reason and consumes no nonce; a batch
//!    is estimated as a whole (its inner failures are reported on chain).
//! 3. **Sign and store**: in one database transaction, take the next nonces from
//!    `signer_nonces` (the DB, not memory), sign EIP-1559 transactions (fees from
//!    `eth_feeHistory`), store each in `chain_transactions` (raw bytes and hash)
//!    and its operations as SIGNED, commit. A transaction is signed once, ever.
//! 4. **Send** the stored raw transactions in nonce order (→ SENT; holds go to
//!    `PENDING_DLT_*`).
//! 5. **Receipts.** Status 1: the operations MINED, except the batch's inner calls
//!    that emitted `BatchCallFailed` (FAILED with the decoded reason, movements
//!    ERROR, hold `*_FAILED`). The indexer settles the movements and holds from
//!    each operation's own events, and the operation becomes SUCCESS once the
//!    indexer has recorded them. Status 0 for a lone call: FAILED with the reason
//!    replayed with `eth_call`; for a whole batch (out of gas): its operations go
//!    back to PENDING to be retried alone.
//!
//! **Isolation.** A failure that concerns one operation (a node error on its
//! estimate, a database error writing its result) costs that operation one of
//! `--max-attempts`, with exponential backoff, its last error visible on it;
//! then it is FAILED. A failure of the node itself (unreachable) costs no attempt:
//! the pass backs off and the operations wait. Reasons are decoded and sanitized
//! by [`crate::revert`] (never NUL bytes, never unbounded).
//!
//! After a crash, the new lock holder re-sends every SIGNED transaction as
//! stored ("already known" / "nonce too low" are fine: the receipt tells) and
//! polls the SENT ones; a transaction whose nonce was taken by another one can
//! never be mined and its operations are marked FAILED. Transactions without a
//! receipt after 30 s are re-broadcast (same bytes).
//!
//! **Stuck transactions** ([`replace`]): one not mined `--replace-after-secs`
//! after it was signed is signed again for the same nonce, with the same call and
//! gas, and fees at least 12.5% higher (and at least what the chain asks now),
//! if it is the nonce the chain waits for or if its fee cap is below the current
//! price; never above `--max-fee-per-gas-wei`, never on a zero-price chain
//! (there a stuck transaction is re-broadcast as it is). Every attempt is stored
//! before it is sent; the hashes of all attempts of a nonce are polled, and
//! whichever mines settles the operations (at most one can: they share the
//! nonce); the others are REPLACED.
//!
//! Also drives cash-out payouts ([`payouts`]).
//!
//! Test hook: `EMLEDGER_FAULT=after_sign|after_send` (and `after_store` in the
//! request handlers) aborts the process right after that step, once.

pub(crate) mod payouts;
mod replace;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::TxEnvelope,
    eips::{eip2718::Encodable2718, BlockId},
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, Bytes, B256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
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

use crate::{
    money::{fault_point, hold_statuses},
    pipeline::SubmitterHealth,
    revert,
};

/// Parses a hex private key; the error never contains the key.
pub fn parse_key(key: &str) -> anyhow::Result<PrivateKeySigner> {
    key.trim().parse::<PrivateKeySigner>().map_err(|_| anyhow::anyhow!("the platform key is not a valid hex private key"))
}

/// The platform key from an encrypted JSON keystore (Web3 Secret Storage).
/// Errors name the file and say whether the password was wrong; neither the key
/// nor the password is ever in them.
pub fn decrypt_keystore(path: &std::path::Path, password: &str) -> anyhow::Result<PrivateKeySigner> {
    if !path.is_file() {
        anyhow::bail!("the platform keystore {} does not exist", path.display());
    }
    alloy_signer_local::LocalSigner::decrypt_keystore(path, password).map_err(|e| {
        let text = e.to_string();
        if text.to_ascii_lowercase().contains("mac mismatch") {
            anyhow::anyhow!("cannot decrypt the platform keystore {}: wrong password", path.display())
        } else {
            anyhow::anyhow!("cannot read the platform keystore {}: {text}", path.display())
        }
    })
}

/// A keystore's password: the first line of `file`, else `EMLEDGER_PLATFORM_KEYSTORE_PASSWORD`.
pub fn keystore_password(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading the keystore password file {}", f.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_owned());
    }
    std::env::var("EMLEDGER_PLATFORM_KEYSTORE_PASSWORD")
        .map_err(|_| anyhow::anyhow!("the keystore needs a password: --platform-keystore-password-file or EMLEDGER_PLATFORM_KEYSTORE_PASSWORD"))
}

/// The platform's signer from `--platform-key` or `--platform-keystore` (with its
/// password file, else `EMLEDGER_PLATFORM_KEYSTORE_PASSWORD`); `None` when neither
/// is given (an empty key counts as none); both is an error.
pub fn platform_signer(
    key: Option<&str>,
    keystore: Option<&std::path::Path>,
    password_file: Option<&std::path::Path>,
) -> anyhow::Result<Option<PrivateKeySigner>> {
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    match (key, keystore) {
        (Some(_), Some(_)) => anyhow::bail!("give the platform key either as --platform-key or as --platform-keystore, not both"),
        (Some(k), None) => Ok(Some(parse_key(k)?)),
        (None, Some(path)) => Ok(Some(decrypt_keystore(path, &keystore_password(password_file)?)?)),
        (None, None) => Ok(None),
    }
}

/// What the submitter needs.
pub struct SubmitterConfig {
    pub rpc_url: String,
    pub signer: PrivateKeySigner,
    /// Most signed-but-unmined transactions at once.
    pub max_in_flight: usize,
    /// Most operations per transaction (1: every operation is its own transaction).
    pub batch_size: usize,
    /// Attempts an operation gets for failures of its own before it is FAILED.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, at most 30 s.
    pub retry_base: Duration,
    /// Blocks on top of an operation's block before it is SUCCESS.
    pub confirmations: u64,
    /// How transactions are priced.
    pub gas_mode: GasMode,
    /// The legacy `gasPrice` in wei (legacy pricing); the node's `eth_gasPrice` when `None`.
    pub gas_price_wei: Option<u128>,
    /// A transaction not mined this long after it was signed is replaced (see
    /// [`replace`]); `None`: never.
    pub replace_after: Option<Duration>,
    /// The most a replacement may pay per gas (max fee or gas price), in wei.
    pub max_fee_per_gas: Option<u128>,
}

/// How the submitter prices its transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GasMode {
    /// EIP-1559 when the chain's latest block has a base fee, legacy otherwise
    /// (pre-London chains, most Besu/Quorum consortium networks).
    Auto,
    /// Type-2 transactions: `maxFeePerGas` and `maxPriorityFeePerGas` from `eth_feeHistory`.
    Eip1559,
    /// Type-0 transactions with a `gasPrice` (0 on zero-price chains).
    Legacy,
}

impl std::str::FromStr for GasMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(GasMode::Auto),
            "eip1559" | "eip-1559" | "1559" => Ok(GasMode::Eip1559),
            "legacy" => Ok(GasMode::Legacy),
            other => Err(format!("unknown gas mode {other:?}: auto, eip1559 or legacy")),
        }
    }
}

/// The fees one signing pass uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fees {
    Eip1559 { max_fee: u128, tip: u128 },
    Legacy { price: u128 },
}

impl Fees {
    /// What a transaction may pay per gas at most (stored with it).
    fn cap(self) -> u128 {
        match self {
            Fees::Eip1559 { max_fee, .. } => max_fee,
            Fees::Legacy { price } => price,
        }
    }

    /// `req` with these fees.
    fn priced(self, req: TransactionRequest) -> TransactionRequest {
        match self {
            Fees::Eip1559 { max_fee, tip } => req.with_max_fee_per_gas(max_fee).with_max_priority_fee_per_gas(tip),
            Fees::Legacy { price } => req.with_gas_price(price),
        }
    }
}

impl SubmitterConfig {
    /// The defaults of the `emledger api` flags.
    pub fn new(rpc_url: String, signer: PrivateKeySigner) -> Self {
        Self {
            rpc_url,
            signer,
            max_in_flight: 32,
            batch_size: 64,
            max_attempts: 5,
            retry_base: Duration::from_millis(500),
            confirmations: 0,
            gas_mode: GasMode::Auto,
            gas_price_wei: None,
            replace_after: Some(Duration::from_secs(60)),
            max_fee_per_gas: None,
        }
    }
}

/// Runs the submitter until `stop` turns true (or its sender is dropped).
pub async fn run(pool: PgPool, config: SubmitterConfig, wake: Arc<Notify>, health: Arc<SubmitterHealth>, mut stop: watch::Receiver<bool>) {
    let address = config.signer.address();
    tracing::info!(signer = %address, max_in_flight = config.max_in_flight, batch_size = config.batch_size, "operation submitter starting");
    let mut delay = Duration::from_millis(250);
    loop {
        if *stop.borrow() {
            return;
        }
        let error = match Submitter::connect(&pool, &config, wake.clone(), health.clone()).await {
            Ok(mut s) => match s.run_locked(&mut stop).await {
                Ok(()) => return,
                Err(e) => format!("{e:#}"),
            },
            Err(e) => format!("submitter cannot start: {e:#}"),
        };
        metrics::counter!("emledger_submitter_pass_errors_total").increment(1);
        health.pass_failed(&revert::sanitize(&error));
        tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "submitter pass failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// A signed transaction not yet mined.
struct InFlight {
    tx_id: i64,
    hash: B256,
    /// Stored but not accepted by the node yet.
    signed: bool,
    since: Instant,
    /// Its operations, in batch order (one for a lone call).
    ops: Vec<Uuid>,
    batched: bool,
    /// When this attempt was signed (see [`replace`]).
    attempt_at: Instant,
    /// Earlier attempts of the same nonce that were replaced: (transaction id,
    /// hash). Polled too: one of them may still be the one that mines.
    earlier: Vec<(i64, B256)>,
}

struct PendingOp {
    id: Uuid,
    target: Address,
    calldata: Bytes,
    attempts: i32,
}

/// One transaction to sign: a lone call or a batch.
struct Planned {
    ops: Vec<Uuid>,
    target: Address,
    calldata: Bytes,
    gas: u64,
    batched: bool,
}

enum SendOutcome {
    Accepted,
    /// "already known", "nonce too low": the receipt (or its absence) tells.
    Known { nonce_too_low: bool },
}

/// A failure concerning one operation.
enum OpFault {
    /// The contract refuses it: FAILED now.
    Refused(String),
    /// Something about this operation went wrong: retry with backoff, then FAILED.
    Retry(String),
}

struct Submitter {
    pool: PgPool,
    provider: DynProvider,
    wallet: EthereumWallet,
    address: Address,
    chain_id: u64,
    max_in_flight: usize,
    batch_size: usize,
    max_attempts: u32,
    retry_base: Duration,
    confirmations: u64,
    wake: Arc<Notify>,
    health: Arc<SubmitterHealth>,
    /// By nonce.
    in_flight: BTreeMap<i64, InFlight>,
    fees: Option<(Instant, Fees)>,
    /// The pricing chosen at start (never `Auto`).
    gas_mode: GasMode,
    gas_price_wei: Option<u128>,
    /// Recent gas estimates per function selector (see `plan`).
    gas_by_selector: HashMap<[u8; 4], (u64, Instant)>,
    replace_after: Option<Duration>,
    max_fee_per_gas: Option<u128>,
    /// The signer's nonce on chain (latest block), as last read.
    chain_nonce: Option<i64>,
    /// The chain's block gas limit, as last read (see [`tiled_batch_size`]), and when.
    block_gas_limit: Option<u64>,
    block_gas_read_at: Option<Instant>,
    /// Gas per operation of recent batches, from their estimates (a moving average).
    batch_gas_per_op: Option<u64>,
}

/// How often the submitter reads the chain's block gas limit again.
const BLOCK_GAS_REFRESH: Duration = Duration::from_secs(30);

/// An operation's reason when its own could not be written.
const UNSTORABLE_REASON: &str = "the operation failed; its reason could not be stored";

/// The longest one submitter pass may take before it is abandoned and the
/// submitter starts again from what is stored (each RPC request has its own,
/// shorter deadline: `emledger_ledger::rpc::rpc_timeout`).
const PASS_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a per-selector gas estimate is reused before estimating again.
const GAS_ESTIMATE_TTL: Duration = Duration::from_secs(30);

/// A batch's gas limit: its estimate with headroom (the state it runs on may differ
/// from the one it was estimated on: an inner call that failed at the estimate may
/// succeed on chain and cost more).
fn batch_gas_limit(estimate: u64) -> u64 {
    estimate.saturating_mul(5) / 4 + BATCH_GAS_SLACK
}

const BATCH_GAS_SLACK: u64 = 50_000;

/// How many operations to put in the next batch so that whole batches tile a
/// block. A block producer (Besu, Geth, anvil) takes the next transaction while
/// the gas the block has used plus that transaction's gas *limit* fits the
/// block's gas limit. With `k` batches of `n` operations costing `g` each and
/// limits from [`batch_gas_limit`], `k` fit in a block of `block_gas` when
/// `(k - 1)·n·g + 5/4·n·g + slack ≤ block_gas`. Full batches of `max` can leave
/// most of a batch's worth of the block empty (64 transfers of 28k gas on a
/// 10,485,760-gas chain: 5 per block, 86% full); this returns the largest `n ≤
/// max` for the smallest `k` that fits (59: 6 per block, 95% full). On a chain
/// whose blocks are far larger than a batch it changes little (62 of 64 on a
/// 30M-gas block).
fn tiled_batch_size(max: usize, block_gas: u64, gas_per_op: u64) -> usize {
    let max = max.max(1);
    if gas_per_op == 0 || block_gas <= BATCH_GAS_SLACK {
        return max;
    }
    let room = (block_gas - BATCH_GAS_SLACK) as u128 * 4;
    for k in 1u128..=(max as u128 * 8) {
        let n = room / (gas_per_op as u128 * (4 * k + 1));
        if n <= max as u128 {
            return (n as usize).max(1);
        }
    }
    max
}

fn hex_addr(a: &Address) -> String {
    format!("{a:#x}")
}

/// Whether `EmToken.batch` runs this call (its allow-list: the platform's money
/// calls; role and freeze administration go alone).
fn batchable(calldata: &[u8]) -> bool {
    use EmToken::*;
    let Some(selector) = calldata.get(..4) else { return false };
    [
        mintCall::SELECTOR,
        burnCall::SELECTOR,
        burnHeldCall::SELECTOR,
        operatorTransferCall::SELECTOR,
        holdFromCall::SELECTOR,
        holdFromWithExpirationDateCall::SELECTOR,
        executeHoldCall::SELECTOR,
        executeHoldAndKeepOpenCall::SELECTOR,
        releaseHoldCall::SELECTOR,
        renewHoldCall::SELECTOR,
        renewHoldWithExpirationDateCall::SELECTOR,
        processClearableTransferCall::SELECTOR,
        executeClearableTransferCall::SELECTOR,
        rejectClearableTransferCall::SELECTOR,
    ]
    .iter()
    .any(|s| s[..] == *selector)
}

/// Whether an RPC error means the node could not be asked (not this call's fault).
fn node_unreachable(e: &RpcError<TransportErrorKind>) -> bool {
    matches!(e, RpcError::Transport(_))
}

impl Submitter {
    async fn connect(pool: &PgPool, config: &SubmitterConfig, wake: Arc<Notify>, health: Arc<SubmitterHealth>) -> anyhow::Result<Self> {
        let provider = emledger_ledger::rpc::http_provider(&config.rpc_url).context("invalid --rpc-url")?;
        let chain_id = provider.get_chain_id().await.with_context(|| format!("reading the chain id from {}", config.rpc_url))?;
        let gas_mode = match config.gas_mode {
            GasMode::Auto => {
                let latest = provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await.context("reading the latest block")?;
                match latest.and_then(|b| b.header.base_fee_per_gas) {
                    Some(_) => GasMode::Eip1559,
                    None => GasMode::Legacy,
                }
            }
            chosen => chosen,
        };
        tracing::info!(chain_id, gas_mode = ?gas_mode, gas_price_wei = ?config.gas_price_wei, auto = config.gas_mode == GasMode::Auto, "transaction pricing");
        Ok(Self {
            pool: pool.clone(),
            provider,
            wallet: EthereumWallet::from(config.signer.clone()),
            address: config.signer.address(),
            chain_id,
            max_in_flight: config.max_in_flight.max(1),
            batch_size: config.batch_size.clamp(1, 1000),
            max_attempts: config.max_attempts.max(1),
            retry_base: config.retry_base,
            confirmations: config.confirmations,
            wake,
            health,
            in_flight: BTreeMap::new(),
            fees: None,
            gas_mode,
            gas_price_wei: config.gas_price_wei,
            gas_by_selector: HashMap::new(),
            replace_after: config.replace_after.filter(|d| !d.is_zero()),
            max_fee_per_gas: config.max_fee_per_gas,
            chain_nonce: None,
            block_gas_limit: None,
            block_gas_read_at: None,
            batch_gas_per_op: None,
        })
    }

    async fn run_locked(&mut self, stop: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
        // a dedicated session holds the advisory lock for as long as it lives
        let mut lock_conn = self.pool.acquire().await?.detach();
        let lock_key = format!("emledger-submitter:{}:{}", self.chain_id, hex_addr(&self.address));
        self.health.set_lock(false);
        loop {
            let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(&lock_key)
                .fetch_one(&mut lock_conn)
                .await?;
            if got {
                break;
            }
            self.health.pass_ok();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return Ok(()) },
            }
        }
        self.health.set_lock(true);
        tracing::info!(signer = %self.address, chain_id = self.chain_id, "submitter holds the signer lock");
        self.init_nonce().await?;
        self.recover().await?;
        let mut last_sweep = Instant::now() - Duration::from_secs(10);
        let mut last_watch = Instant::now();
        let mut last_lock_check = Instant::now();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            // One pass under a deadline: a node or a database that takes a request
            // and never answers fails the pass (everything it did is stored; the
            // next lock holder recovers it) instead of stalling every operation.
            let pass = async {
                let mut progressed = self.poll_receipts().await?;
                progressed |= self.submit().await?;
                metrics::gauge!("emledger_submitter_in_flight").set(self.in_flight.len() as f64);
                if last_sweep.elapsed() > Duration::from_millis(200) {
                    progressed |= self.sweep().await?;
                    self.rebroadcast().await?;
                    self.replace_stuck().await?;
                    last_sweep = Instant::now();
                }
                if last_watch.elapsed() > Duration::from_secs(1) {
                    self.watch_chain().await?;
                    last_watch = Instant::now();
                }
                if last_lock_check.elapsed() > Duration::from_secs(2) {
                    sqlx::query("SELECT 1").execute(&mut lock_conn).await.context("the lock session is gone")?;
                    last_lock_check = Instant::now();
                }
                anyhow::Ok(progressed)
            };
            let progressed = match tokio::time::timeout(PASS_TIMEOUT, pass).await {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("a submitter pass took longer than {} s (a node or database request never answered); starting again", PASS_TIMEOUT.as_secs()),
            };
            self.health.pass_ok();
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
            "SELECT t.id, t.nonce, t.status, t.raw_tx, t.tx_hash, t.batched,
                    array_agg(o.id ORDER BY o.batch_index) FILTER (WHERE o.id IS NOT NULL)
             FROM chain_transactions t LEFT JOIN operations o ON o.transaction_id = t.id AND o.status IN ('SIGNED', 'SENT')
             WHERE t.signer = $1 AND t.chain_id = $2 AND t.status IN ('SIGNED', 'SENT')
             GROUP BY t.id ORDER BY t.nonce",
        )
        .bind(hex_addr(&self.address))
        .bind(self.chain_id as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut resent = 0;
        for r in rows {
            let tx_id: i64 = r.get(0);
            let nonce: i64 = r.get(1);
            let status: String = r.get(2);
            let raw: Vec<u8> = r.get(3);
            let hash: B256 = r.get::<String, _>(4).parse()?;
            let batched: bool = r.get(5);
            let ops: Vec<Uuid> = r.get::<Option<Vec<Uuid>>, _>(6).unwrap_or_default();
            let mut signed = status == "SIGNED";
            if signed {
                match self.send_raw(&raw).await {
                    Ok(_) => {
                        self.mark_sent(&[tx_id]).await?;
                        signed = false;
                        resent += 1;
                    }
                    Err(e) => tracing::warn!(nonce, error = %e, "re-sending a signed transaction failed; will retry"),
                }
            }
            let earlier = self.earlier_attempts(nonce).await?;
            self.in_flight.insert(nonce, InFlight { tx_id, hash, signed, since: Instant::now(), ops, batched, attempt_at: Instant::now(), earlier });
        }
        if !self.in_flight.is_empty() {
            tracing::info!(in_flight = self.in_flight.len(), resent, "recovered in-flight transactions");
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

    async fn current_fees(&mut self) -> anyhow::Result<Fees> {
        if let Some((at, fees)) = self.fees {
            if at.elapsed() < Duration::from_secs(2) {
                return Ok(fees);
            }
        }
        let fees = match (self.gas_mode, self.gas_price_wei) {
            (GasMode::Legacy, Some(price)) => Fees::Legacy { price },
            (GasMode::Legacy, None) => Fees::Legacy { price: self.provider.get_gas_price().await.context("reading eth_gasPrice")? },
            _ => {
                let f = self.provider.estimate_eip1559_fees().await.context("estimating EIP-1559 fees")?;
                Fees::Eip1559 { max_fee: f.max_fee_per_gas, tip: f.max_priority_fee_per_gas }
            }
        };
        self.fees = Some((Instant::now(), fees));
        Ok(fees)
    }

    /// Packs, estimates, signs, stores and sends the next ready PENDING operations.
    async fn submit(&mut self) -> anyhow::Result<bool> {
        let capacity = self.max_in_flight.saturating_sub(self.in_flight.len());
        if capacity == 0 {
            return Ok(false);
        }
        let rows = sqlx::query(
            "SELECT id, target, calldata, attempts FROM operations
             WHERE status = 'PENDING' AND chain_id = $1 AND (next_attempt_at IS NULL OR next_attempt_at <= now())
             ORDER BY seq LIMIT $2",
        )
        .bind(self.chain_id as i64)
        .bind((capacity * self.batch_size) as i64)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(false);
        }
        let mut ops = Vec::with_capacity(rows.len());
        let mut faults = Vec::new();
        for r in rows {
            let id: Uuid = r.get(0);
            match r.get::<String, _>(1).parse::<Address>() {
                Ok(target) => ops.push(PendingOp { id, target, calldata: Bytes::from(r.get::<Vec<u8>, _>(2)), attempts: r.get(3) }),
                Err(_) => faults.push((id, OpFault::Refused("the operation's contract address is malformed".into()))),
            }
        }
        let fees = self.current_fees().await?;
        let (planned, more_faults, node_down) = self.plan(ops, capacity).await;
        faults.extend(more_faults);
        let settled = self.record_faults(&faults).await;
        if node_down {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if planned.is_empty() {
            return Ok(settled);
        }

        // sign and store, nonces from the DB, one database transaction
        let mut signed: Vec<(Planned, i64, Vec<u8>, B256)> = Vec::with_capacity(planned.len());
        let signer = hex_addr(&self.address);
        let mut tx = self.pool.begin().await?;
        let (mut next,): (i64,) = sqlx::query_as("SELECT next_nonce FROM signer_nonces WHERE signer = $1 AND chain_id = $2 FOR UPDATE")
            .bind(&signer)
            .bind(self.chain_id as i64)
            .fetch_one(&mut *tx)
            .await?;
        for p in planned {
            let req = TransactionRequest::default()
                .with_from(self.address)
                .with_to(p.target)
                .with_input(p.calldata.clone())
                .with_nonce(next as u64)
                .with_chain_id(self.chain_id)
                .with_gas_limit(p.gas);
            let req = fees.priced(req);
            let envelope: TxEnvelope = req.build(&self.wallet).await.context("signing")?;
            let raw = envelope.encoded_2718();
            let hash = *envelope.tx_hash();
            signed.push((p, next, raw, hash));
            next += 1;
        }
        let mut tx_ids = Vec::with_capacity(signed.len());
        for (p, nonce, raw, hash) in &signed {
            let (tx_id,): (i64,) = sqlx::query_as(
                "INSERT INTO chain_transactions (chain_id, signer, nonce, operations, batched, gas_limit, max_fee_per_gas, raw_tx, tx_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9) RETURNING id",
            )
            .bind(self.chain_id as i64)
            .bind(&signer)
            .bind(nonce)
            .bind(p.ops.len() as i32)
            .bind(p.batched)
            .bind(p.gas as i64)
            .bind(fees.cap().to_string())
            .bind(raw)
            .bind(format!("{hash:#x}"))
            .fetch_one(&mut *tx)
            .await?;
            let index: Vec<i32> = if p.batched { (0..p.ops.len() as i32).collect() } else { vec![-1] };
            let done = sqlx::query(
                "UPDATE operations o SET status = 'SIGNED', transaction_id = $1, batch_index = NULLIF(u.idx, -1), signer = $2, nonce = $3,
                        gas_limit = $4, max_fee_per_gas = $5::numeric, tx_hash = $6, signed_at = now(), updated_at = now()
                 FROM UNNEST($7::uuid[], $8::int[]) AS u(id, idx) WHERE o.id = u.id AND o.status = 'PENDING'",
            )
            .bind(tx_id)
            .bind(&signer)
            .bind(nonce)
            .bind(p.gas as i64)
            .bind(fees.cap().to_string())
            .bind(format!("{hash:#x}"))
            .bind(&p.ops)
            .bind(&index)
            .execute(&mut *tx)
            .await?;
            anyhow::ensure!(done.rows_affected() as usize == p.ops.len(), "operations changed under the submitter; retrying");
            tx_ids.push(tx_id);
        }
        sqlx::query("UPDATE signer_nonces SET next_nonce = $3, updated_at = now() WHERE signer = $1 AND chain_id = $2")
            .bind(&signer)
            .bind(self.chain_id as i64)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        fault_point("after_sign");

        // send in nonce order
        let mut sent = Vec::with_capacity(signed.len());
        for ((p, nonce, raw, hash), tx_id) in signed.into_iter().zip(tx_ids) {
            let ok = match self.send_raw(&raw).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(nonce, error = %e, "sending failed; will re-send the same transaction");
                    false
                }
            };
            if ok {
                sent.push(tx_id);
            }
            let now = Instant::now();
            self.in_flight.insert(nonce, InFlight { tx_id, hash, signed: !ok, since: now, ops: p.ops, batched: p.batched, attempt_at: now, earlier: Vec::new() });
        }
        fault_point("after_send");
        self.mark_sent(&sent).await?;
        Ok(true)
    }

    /// Groups operations into at most `capacity` transactions and finds their gas.
    /// Returns the transactions, the operations' own faults, and whether the node
    /// could not be reached (those operations simply wait).
    async fn plan(&mut self, ops: Vec<PendingOp>, capacity: usize) -> (Vec<Planned>, Vec<(Uuid, OpFault)>, bool) {
        let token = ops.first().map(|o| o.target);
        let (mut lone, mut packable): (Vec<PendingOp>, Vec<PendingOp>) =
            ops.into_iter().partition(|o| self.batch_size == 1 || o.attempts > 0 || Some(o.target) != token || !batchable(&o.calldata));
        let mut planned = Vec::new();
        let mut faults = Vec::new();
        let mut node_down = false;
        // batches first: they carry most operations per nonce; sized to tile the
        // chain's blocks once a batch's gas per operation is known
        let size = match (self.block_gas_limit, self.batch_gas_per_op) {
            (Some(block_gas), Some(per_op)) => tiled_batch_size(self.batch_size, block_gas, per_op),
            _ => self.batch_size,
        };
        while packable.len() >= 2 && planned.len() < capacity {
            let rest = packable.split_off(packable.len().min(size));
            let group = std::mem::replace(&mut packable, rest);
            let calls: Vec<Bytes> = group.iter().map(|o| o.calldata.clone()).collect();
            let calldata = Bytes::from(EmToken::batchCall { calls }.abi_encode());
            let target = group[0].target;
            let req = TransactionRequest::default().with_from(self.address).with_to(target).with_input(calldata.clone());
            match self.provider.estimate_gas(req).await {
                Ok(gas) => {
                    let per_op = gas / group.len() as u64;
                    self.batch_gas_per_op = Some(self.batch_gas_per_op.map_or(per_op, |g| (g * 3 + per_op) / 4));
                    planned.push(Planned {
                        ops: group.iter().map(|o| o.id).collect(),
                        target,
                        calldata,
                        gas: batch_gas_limit(gas),
                        batched: true,
                    })
                }
                Err(e) if node_unreachable(&e) => {
                    node_down = true;
                    break;
                }
                Err(e) => {
                    // a batch the node refuses as a whole: its operations go alone
                    tracing::warn!(operations = group.len(), error = %e, "estimating a batch failed; sending its operations alone");
                    lone.extend(group);
                }
            }
        }
        if node_down {
            return (planned, faults, true);
        }
        lone.extend(packable);
        let room = capacity.saturating_sub(planned.len());
        lone.truncate(room);

        // Lone calls. A function whose gas was estimated in the last
        // GAS_ESTIMATE_TTL reuses that estimate with ample headroom when the
        // operation was never retried; otherwise estimate now, before any nonce is
        // taken, so a call that would revert is FAILED without consuming one.
        let now = Instant::now();
        let mut to_estimate = Vec::new();
        for op in lone {
            let selector: Option<[u8; 4]> = op.calldata.get(..4).and_then(|s| s.try_into().ok());
            match selector.and_then(|s| self.gas_by_selector.get(&s)) {
                Some((gas, at)) if op.attempts == 0 && now.duration_since(*at) < GAS_ESTIMATE_TTL => {
                    let gas = gas.saturating_mul(3) / 2 + 50_000;
                    planned.push(Planned { ops: vec![op.id], target: op.target, calldata: op.calldata, gas, batched: false });
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
                    planned.push(Planned { ops: vec![op.id], target: op.target, calldata: op.calldata, gas: gas.saturating_mul(5) / 4 + 10_000, batched: false });
                }
                Err(e) if node_unreachable(&e) => node_down = true,
                Err(e) => match revert::of_rpc_error(&e) {
                    Some(reason) => faults.push((op.id, OpFault::Refused(reason))),
                    None => faults.push((op.id, OpFault::Retry(format!("estimating gas: {}", revert::of_error(&e))))),
                },
            }
        }
        (planned, faults, node_down)
    }

    /// Records the faults of single operations, each in its own database
    /// transaction so that one bad write cannot hold back the others. Returns
    /// whether any operation changed.
    async fn record_faults(&self, faults: &[(Uuid, OpFault)]) -> bool {
        let mut changed = false;
        for (id, fault) in faults {
            let result = match fault {
                OpFault::Refused(reason) => {
                    tracing::info!(operation = %id, reason, "operation refused by the contract");
                    self.fail_one(*id, reason).await
                }
                OpFault::Retry(error) => self.retry_later(&[*id], error).await,
            };
            match result {
                Ok(()) => changed = true,
                Err(e) => {
                    tracing::warn!(operation = %id, error = %format!("{e:#}"), "recording an operation's failure failed; counting an attempt");
                    let _ = self.retry_later(&[*id], "recording its result failed").await;
                }
            }
        }
        changed
    }

    /// FAILED with `reason` in its own database transaction; if writing the
    /// reason fails, FAILED with a generic one.
    async fn fail_one(&self, id: Uuid, reason: &str) -> anyhow::Result<()> {
        let reason = revert::sanitize(reason);
        let mut tx = self.pool.begin().await?;
        match fail_operations(&mut tx, &[(id, reason)]).await {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                drop(tx);
                tracing::warn!(operation = %id, error = %format!("{e:#}"), "storing the failure reason failed; storing a generic one");
                let mut tx = self.pool.begin().await?;
                fail_operations(&mut tx, &[(id, UNSTORABLE_REASON.into())]).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// One more attempt used: back to PENDING after a backoff, its last error
    /// shown; FAILED once `max_attempts` are used.
    async fn retry_later(&self, ids: &[Uuid], error: &str) -> anyhow::Result<()> {
        let error = revert::sanitize(error);
        let base_ms = self.retry_base.as_millis().max(1) as i64;
        let exhausted: Vec<(Uuid, i32)> = sqlx::query_as(
            "UPDATE operations SET status = 'PENDING', attempts = attempts + 1, error = $2, updated_at = now(),
                    transaction_id = NULL, batch_index = NULL, signer = NULL, nonce = NULL, tx_hash = NULL,
                    next_attempt_at = now() + make_interval(secs => LEAST(30.0, $3::float8 * power(2, attempts) / 1000.0))
             WHERE id = ANY($1) AND status IN ('PENDING', 'SIGNED', 'SENT', 'MINED')
             RETURNING id, attempts",
        )
        .bind(ids)
        .bind(&error)
        .bind(base_ms as f64)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .filter(|(_, a): &(Uuid, i32)| *a as u32 >= self.max_attempts)
        .collect();
        for (id, attempts) in exhausted {
            self.fail_one(id, &format!("{error} (gave up after {attempts} attempts)")).await?;
        }
        metrics::counter!("emledger_submitter_retries_total").increment(ids.len() as u64);
        Ok(())
    }

    /// SIGNED → SENT (transactions and their operations), and the holds of those
    /// operations to `PENDING_DLT_*`.
    async fn mark_sent(&self, tx_ids: &[i64]) -> anyhow::Result<()> {
        if tx_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE chain_transactions SET status = 'SENT', sent_at = now(), updated_at = now() WHERE id = ANY($1) AND status = 'SIGNED'")
            .bind(tx_ids)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "UPDATE operations SET status = 'SENT', sent_at = now(), updated_at = now()
             WHERE transaction_id = ANY($1) AND status = 'SIGNED' RETURNING kind, hold_id",
        )
        .bind(tx_ids)
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
        // every attempt of a nonce: whichever mines settles it
        let items: Vec<(i64, B256)> =
            self.in_flight.iter().flat_map(|(n, f)| std::iter::once((*n, f.hash)).chain(f.earlier.iter().map(move |(_, h)| (*n, *h)))).collect();
        let provider = self.provider.clone();
        let results: Vec<_> = futures::stream::iter(items.into_iter().map(|(nonce, hash)| {
            let provider = provider.clone();
            async move { (nonce, provider.get_transaction_receipt(hash).await) }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
        let mut progressed = false;
        for (nonce, r) in results {
            match r {
                Ok(Some(receipt)) => {
                    let Some(mut f) = self.in_flight.remove(&nonce) else { continue };
                    if receipt.transaction_hash != f.hash {
                        // an earlier attempt mined: it becomes the live one
                        if let Err(e) = self.adopt(&mut f, receipt.transaction_hash).await {
                            tracing::warn!(nonce, error = %format!("{e:#}"), "recording which attempt mined failed; retrying");
                            self.in_flight.insert(nonce, f);
                            continue;
                        }
                    }
                    if let Err(e) = self.settle_receipt(&f, &receipt).await {
                        // keep polling it: the write is retried on the next pass
                        tracing::warn!(nonce, error = %format!("{e:#}"), "recording a receipt failed; retrying");
                        self.in_flight.insert(nonce, f);
                        continue;
                    }
                    progressed = true;
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(nonce, error = %e, "receipt poll failed"),
            }
        }
        Ok(progressed)
    }

    /// Records what a receipt says about a transaction and its operations.
    async fn settle_receipt(&self, f: &InFlight, receipt: &TransactionReceipt) -> anyhow::Result<()> {
        let block = receipt.block_number.unwrap_or_default() as i64;
        let ok = receipt.status();
        // the operations first, the transaction last: a crash in between leaves the
        // transaction SENT, so the next lock holder polls it again (every write
        // here is idempotent)
        self.settle_operations(f, receipt, block, ok).await?;
        sqlx::query("UPDATE chain_transactions SET status = $2, block_number = $3, mined_at = now(), updated_at = now() WHERE id = $1")
            .bind(f.tx_id)
            .bind(if ok { "MINED" } else { "REVERTED" })
            .bind(block)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn settle_operations(&self, f: &InFlight, receipt: &TransactionReceipt, block: i64, ok: bool) -> anyhow::Result<()> {
        if f.ops.is_empty() {
            return Ok(()); // settled before a crash
        }
        if !ok {
            if f.batched {
                // the batch as a whole ran out of gas or was refused: each operation goes alone next time
                tracing::warn!(tx = %f.hash, operations = f.ops.len(), "a batch transaction reverted as a whole; retrying its operations alone");
                return self.retry_later(&f.ops, "its batch transaction reverted as a whole").await;
            }
            let reason = self.replay_reason(f.ops[0], block as u64).await;
            tracing::info!(operation = %f.ops[0], reason, "transaction reverted on chain");
            sqlx::query("UPDATE operations SET block_number = $2 WHERE id = $1").bind(f.ops[0]).bind(block).execute(&self.pool).await?;
            return self.fail_one(f.ops[0], &reason).await;
        }
        // inner calls of a batch that failed
        let mut failed: Vec<(Uuid, String)> = Vec::new();
        if f.batched {
            for log in receipt.inner.logs() {
                if let Ok(ev) = log.log_decode::<EmToken::BatchCallFailed>() {
                    let index: usize = ev.inner.data.index.try_into().unwrap_or(usize::MAX);
                    if let Some(id) = f.ops.get(index) {
                        failed.push((*id, revert::describe(&ev.inner.data.reason)));
                    }
                }
            }
        }
        let mined: Vec<Uuid> = f.ops.iter().filter(|id| !failed.iter().any(|(x, _)| x == *id)).copied().collect();
        for (id, reason) in &failed {
            tracing::info!(operation = %id, reason, "operation failed inside its batch");
        }
        // All of the receipt's operations in ONE database transaction: a crash
        // between the mined and the failed ones would leave a failed inner call
        // MINED for good (the next lock holder only re-reads SIGNED/SENT ones).
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE operations SET status = 'MINED', block_number = $2, mined_at = now(), updated_at = now()
             WHERE id = ANY($1) AND status IN ('SIGNED', 'SENT')",
        )
        .bind(&mined)
        .bind(block)
        .execute(&mut *tx)
        .await?;
        for (id, reason) in failed {
            tracing::info!(operation = %id, reason, "operation failed inside its batch");
            sqlx::query("UPDATE operations SET block_number = $2 WHERE id = $1").bind(id).bind(block).execute(&mut *tx).await?;
            // each failure under its own savepoint: a reason that cannot be
            // written costs that operation its reason, not the others theirs
            sqlx::query("SAVEPOINT one_failure").execute(&mut *tx).await?;
            match fail_operations(&mut tx, &[(id, revert::sanitize(&reason))]).await {
                Ok(()) => {
                    sqlx::query("RELEASE SAVEPOINT one_failure").execute(&mut *tx).await?;
                }
                Err(e) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT one_failure").execute(&mut *tx).await?;
                    tracing::warn!(operation = %id, error = %format!("{e:#}"), "storing the failure reason failed; storing a generic one");
                    fail_operations(&mut tx, &[(id, UNSTORABLE_REASON.into())]).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
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
                if let Some(reason) = revert::of_rpc_error(&e) {
                    return reason;
                }
            }
        }
        "transaction reverted on chain (no reason when replayed)".into()
    }

    /// Re-sends SIGNED transactions the node did not take, and SENT ones without a
    /// receipt for 30 s (the same bytes); fails those whose nonce another tx used.
    async fn rebroadcast(&mut self) -> anyhow::Result<()> {
        let due: Vec<(i64, i64, B256, bool)> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.since.elapsed() > if f.signed { Duration::from_secs(1) } else { Duration::from_secs(30) })
            .map(|(n, f)| (*n, f.tx_id, f.hash, f.signed))
            .collect();
        for (nonce, tx_id, hash, was_signed) in due {
            let raw: Option<(Vec<u8>,)> = sqlx::query_as("SELECT raw_tx FROM chain_transactions WHERE id = $1 AND status IN ('SIGNED', 'SENT')")
                .bind(tx_id)
                .fetch_optional(&self.pool)
                .await?;
            let Some((raw,)) = raw else {
                self.in_flight.remove(&nonce);
                continue;
            };
            match self.send_raw(&raw).await {
                Ok(SendOutcome::Known { nonce_too_low: true }) => {
                    // any attempt of this nonce the chain knows: the receipt poll settles it
                    let attempts: Vec<B256> =
                        std::iter::once(hash).chain(self.in_flight.get(&nonce).into_iter().flat_map(|f| f.earlier.iter().map(|(_, h)| *h))).collect();
                    let mut known_any = false;
                    for h in attempts {
                        if self.provider.get_transaction_receipt(h).await?.is_some() || self.provider.get_transaction_by_hash(h).await?.is_some() {
                            known_any = true;
                            break;
                        }
                    }
                    if !known_any {
                        let f = self.in_flight.remove(&nonce).expect("in flight");
                        for id in &f.ops {
                            self.fail_one(*id, "the nonce was used by another transaction; this one can never be mined").await?;
                        }
                        sqlx::query("UPDATE chain_transactions SET status = 'DROPPED', updated_at = now() WHERE id = $1")
                            .bind(tx_id)
                            .execute(&self.pool)
                            .await?;
                        continue;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(nonce, error = %e, "re-sending failed");
                    if let Some(f) = self.in_flight.get_mut(&nonce) {
                        f.since = Instant::now();
                    }
                    continue;
                }
            }
            if was_signed {
                self.mark_sent(&[tx_id]).await?;
            }
            if let Some(f) = self.in_flight.get_mut(&nonce) {
                f.signed = false;
                f.since = Instant::now();
            }
        }
        Ok(())
    }

    /// Rewinds (reorgs, a node restarted from an older state), once a second:
    /// 1. the signer's nonce on chain fell below a transaction recorded MINED or
    ///    REVERTED whose receipt is gone → it and its operations back to SENT
    ///    (the indexer does the same for orphaned blocks it saw);
    /// 2. SENT transactions this pass does not track (reopened by either) are
    ///    tracked again, to be re-sent at once, in nonce order;
    /// 3. tracked transactions at or above that nonce that the node does not
    ///    know (its mempool was lost) are re-sent now rather than after 30 s.
    ///
    /// A nonce is never signed twice: the stored bytes go out again.
    async fn watch_chain(&mut self) -> anyhow::Result<()> {
        let signer = hex_addr(&self.address);
        let nonce = match self.provider.get_transaction_count(self.address).latest().await {
            Ok(n) => n as i64,
            Err(e) => {
                tracing::debug!(error = %e, "reading the signer's nonce failed");
                return Ok(());
            }
        };
        metrics::gauge!("emledger_submitter_chain_nonce").set(nonce as f64);
        self.chain_nonce = Some(nonce);
        // the block gas limit rarely changes (a chain's configuration, or a slow
        // vote on Ethereum): read it at start and every 30 s, not every pass
        if self.batch_size > 1 && self.block_gas_read_at.is_none_or(|t| t.elapsed() > BLOCK_GAS_REFRESH) {
            match self.provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await {
                Ok(Some(b)) => {
                    self.block_gas_limit = Some(b.header.gas_limit);
                    self.block_gas_read_at = Some(Instant::now());
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "reading the latest block's gas limit failed"),
            }
        }
        // 1.
        let settled_above: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, nonce, tx_hash FROM chain_transactions
             WHERE chain_id = $1 AND signer = $2 AND nonce >= $3 AND status IN ('MINED', 'REVERTED') ORDER BY nonce LIMIT 256",
        )
        .bind(self.chain_id as i64)
        .bind(&signer)
        .bind(nonce)
        .fetch_all(&self.pool)
        .await?;
        let mut gone = Vec::new();
        for (id, n, hash) in settled_above {
            let Ok(hash) = hash.parse::<B256>() else { continue };
            // the receipt decides (a node behind a load balancer may answer the nonce
            // late); a receipt from a block that is no longer canonical (anvil keeps
            // serving those after a reorg) counts as none
            if !self.canonical_receipt(hash).await {
                tracing::warn!(nonce = n, tx = %hash, chain_nonce = nonce, "a mined transaction is no longer on the chain; sending it again");
                gone.push(id);
            }
        }
        if !gone.is_empty() {
            let mut tx = self.pool.begin().await?;
            let reopened = emledger_ledger::rewind::reopen_transactions(&mut tx, &gone).await?;
            tx.commit().await?;
            metrics::counter!("emledger_submitter_rewound_transactions_total").increment(gone.len() as u64);
            tracing::warn!(transactions = gone.len(), operations = reopened.len(), "chain rewind: transactions and their operations are SENT again");
        }
        // 2.
        let tracked: Vec<i64> = self.in_flight.values().map(|f| f.tx_id).collect();
        let rows = sqlx::query(
            "SELECT t.id, t.nonce, t.tx_hash, t.batched,
                    array_agg(o.id ORDER BY o.batch_index) FILTER (WHERE o.id IS NOT NULL)
             FROM chain_transactions t LEFT JOIN operations o ON o.transaction_id = t.id AND o.status IN ('SIGNED', 'SENT')
             WHERE t.signer = $1 AND t.chain_id = $2 AND t.status = 'SENT' AND NOT (t.id = ANY($3))
             GROUP BY t.id ORDER BY t.nonce",
        )
        .bind(&signer)
        .bind(self.chain_id as i64)
        .bind(&tracked)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let n: i64 = r.get(1);
            if self.in_flight.contains_key(&n) {
                continue;
            }
            let hash: B256 = r.get::<String, _>(2).parse()?;
            let ops: Vec<Uuid> = r.get::<Option<Vec<Uuid>>, _>(4).unwrap_or_default();
            tracing::info!(nonce = n, tx = %hash, operations = ops.len(), "tracking a reopened transaction again");
            let earlier = self.earlier_attempts(n).await?;
            // `signed`: re-sent on the next rebroadcast (within a second)
            self.in_flight.insert(
                n,
                InFlight { tx_id: r.get(0), hash, signed: true, since: Instant::now() - Duration::from_secs(2), ops, batched: r.get(3), attempt_at: Instant::now(), earlier },
            );
        }
        // 3.
        let stale: Vec<(i64, B256)> = self
            .in_flight
            .range(nonce..)
            .filter(|(_, f)| !f.signed && f.since.elapsed() > Duration::from_secs(3) && f.since.elapsed() < Duration::from_secs(30))
            .take(16)
            .map(|(n, f)| (*n, f.hash))
            .collect();
        for (n, hash) in stale {
            if let Ok(None) = self.provider.get_transaction_by_hash(hash).await {
                if let Some(f) = self.in_flight.get_mut(&n) {
                    tracing::info!(nonce = n, tx = %hash, "the node does not know a sent transaction; sending it again");
                    f.since = Instant::now() - Duration::from_secs(31);
                }
            }
        }
        Ok(())
    }

    /// Whether `hash` has a receipt in a block that is on the canonical chain
    /// (errors count as yes: nothing is reopened on a doubt).
    async fn canonical_receipt(&self, hash: B256) -> bool {
        match self.provider.get_transaction_receipt(hash).await {
            Ok(Some(r)) => match (r.block_number, r.block_hash) {
                (Some(n), Some(h)) => match self.provider.get_block_by_number(n.into()).await {
                    Ok(Some(b)) => b.header.hash == h,
                    Ok(None) => false,
                    Err(_) => true,
                },
                _ => false,
            },
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// MINED → SUCCESS once the indexer has the operation's events in its
    /// transaction; payouts.
    async fn sweep(&mut self) -> anyhow::Result<bool> {
        // with confirmations, only operations deep enough under the head
        let deepest = if self.confirmations == 0 {
            i64::MAX
        } else {
            match self.provider.get_block_number().await {
                Ok(head) => head.saturating_sub(self.confirmations) as i64,
                Err(_) => return Ok(false),
            }
        };
        sqlx::query(
            "UPDATE operations o SET status = 'SUCCESS', updated_at = now()
             WHERE o.status = 'MINED' AND o.chain_id = $1 AND o.block_number <= $2
               AND EXISTS (SELECT 1 FROM chain_events e WHERE e.chain_id = o.chain_id AND e.tx_hash = o.tx_hash
                           AND (o.batch_index IS NULL OR e.operation_id = o.chain_operation_id))",
        )
        .bind(self.chain_id as i64)
        .bind(deepest)
        .execute(&self.pool)
        .await?;
        self.payouts().await
    }
}

/// FAILED with `reason`: the operation, its PENDING movements (→ ERROR) and its hold (→ `*_FAILED`).
async fn fail_operations(conn: &mut PgConnection, failed: &[(Uuid, String)]) -> anyhow::Result<()> {
    for (id, reason) in failed {
        let row: Option<(String, Option<Uuid>)> = sqlx::query_as(
            "UPDATE operations SET status = 'FAILED', error = $2, next_attempt_at = NULL, updated_at = now()
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
            sqlx::query("UPDATE holds SET status = $2, error = $3, updated_at = now() WHERE id = $1 AND status IN ($4, $5)")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// How many `n`-operation batches a block of `block_gas` takes, as a producer
    /// fills it: the next one goes in while gas used + its limit fits.
    fn batches_per_block(n: usize, block_gas: u64, per_op: u64) -> u64 {
        let used = n as u64 * per_op;
        let mut k = 0;
        while k * used + batch_gas_limit(used) <= block_gas {
            k += 1;
        }
        k
    }

    #[test]
    fn batches_tile_a_gas_limited_block() {
        let alastria = 10_485_760;
        // 64 transfers of 28k: five full batches (86% of the block)
        assert_eq!(batches_per_block(64, alastria, 28_000), 5);
        let n = tiled_batch_size(64, alastria, 28_000);
        assert_eq!(n, 59);
        assert_eq!(batches_per_block(n, alastria, 28_000), 6);
        assert!((6 * n as u64 * 28_000) as f64 / alastria as f64 > 0.94);
        // one more operation per batch would no longer tile six
        assert_eq!(batches_per_block(n + 1, alastria, 28_000), 5);
    }

    #[test]
    fn tiled_size_fills_every_block_shape_at_least_as_well_as_full_batches() {
        for block_gas in [3_000_000u64, 8_000_000, 10_485_760, 15_000_000, 30_000_000] {
            for per_op in [20_000u64, 28_000, 51_000, 120_000] {
                for max in [2usize, 16, 64, 256] {
                    let n = tiled_batch_size(max, block_gas, per_op);
                    assert!(n >= 1 && n <= max, "{n} of {max}");
                    let full = batches_per_block(max, block_gas, per_op) * max as u64;
                    let tiled = batches_per_block(n, block_gas, per_op) * n as u64;
                    assert!(tiled >= full, "block {block_gas}, {per_op}/op, max {max}: tiled {n} gives {tiled} ops, full {full}");
                }
            }
        }
    }

    #[test]
    fn tiled_size_without_a_known_cost_is_the_maximum() {
        assert_eq!(tiled_batch_size(64, 10_485_760, 0), 64);
        assert_eq!(tiled_batch_size(64, 10_000, 28_000), 64);
        assert_eq!(tiled_batch_size(0, 10_485_760, 28_000), 1);
        // a block that holds less than one operation's batch: one at a time
        assert_eq!(tiled_batch_size(64, 60_000, 28_000), 1);
    }
}
