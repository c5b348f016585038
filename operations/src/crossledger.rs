//! Cross-ledger transfers between networks (seed 003, "cross ledger transfers"):
//! the networks the platform runs on and the **relayer** that drives every
//! transfer ordered on one network's `CrossLedgerLink` to its end on both.
//!
//! The relayer holds no state of its own between passes that the chain or the
//! database does not hold: each pass reads the transfer's row, the status of the
//! step operation it waits for, and then `getTransferData` on both links, and
//! takes the one step that the pair of statuses calls for (see [`next_step`]).
//! A step is an `operations` row sent by the submitter of that network (stored,
//! signed once, the signed bytes stored before they are sent, re-sent after a
//! crash, never re-signed) — the relayer runs one submitter per network, which
//! stands by while another process (the API of that network) holds the signer's
//! lock. The step row and the transfer's `step_operation_id` are written in one
//! database transaction, so after a kill -9 the relayer finds either no step or
//! exactly the one it stored. The links refuse any step out of order, so a
//! transfer executes at most once on each side whatever happens; money is
//! burned on the origin before it is minted on the destination.
//!
//! The central checks run before the destination answers: the recipient has a
//! READY wallet on the destination network whose compliance status lets money
//! move, the payer's wallet (when the platform knows one) may move money, the
//! chain and the currency are active on the destination link, the amount is not
//! zero. A refusal is a revocation with a reason code ([`reason`]): the
//! destination revokes, the origin acknowledges and releases the hold, and both
//! movements turn ERROR with the reason.

use std::{collections::HashMap, sync::Arc, time::Duration};

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use anyhow::Context;
use emledger_contracts::CrossLedgerLink;
use futures::StreamExt;
use rand::RngCore;
use sqlx::{PgPool, Row};
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::{
    money::fault_point,
    pipeline::{self, SubmitterHealth},
    submitter::{self, SubmitterConfig},
};

/// Operation kinds of the relayer's steps.
pub mod kind {
    pub const ACCEPT: &str = "CROSS_LEDGER_ACCEPT";
    pub const REVOKE: &str = "CROSS_LEDGER_REVOKE";
    pub const ACKNOWLEDGE: &str = "CROSS_LEDGER_ACKNOWLEDGE";
    pub const ACKNOWLEDGE_REVOCATION: &str = "CROSS_LEDGER_ACKNOWLEDGE_REVOCATION";
    pub const EXECUTE_OUT: &str = "CROSS_LEDGER_EXECUTE_OUT";
    pub const EXECUTE_IN: &str = "CROSS_LEDGER_EXECUTE_IN";
}

/// Revocation reason codes (the links' `uint8 reason`, never 0).
pub mod reason {
    pub const CHAIN_INACTIVE: u8 = 1;
    pub const CURRENCY_INACTIVE: u8 = 2;
    pub const RECIPIENT_NOT_READY: u8 = 3;
    pub const PAYER_NOT_ALLOWED: u8 = 4;
    pub const UNKNOWN_DESTINATION: u8 = 5;
    pub const INVALID_ORDER: u8 = 6;
    pub const DESTINATION_REFUSED: u8 = 7;
    pub const ABOVE_LIMIT: u8 = 8;

    /// What a reason code means, for movements and the API.
    pub fn text(code: u8) -> &'static str {
        match code {
            CHAIN_INACTIVE => "the origin network is not active on the destination network",
            CURRENCY_INACTIVE => "the currency is not active between the two networks on the destination",
            RECIPIENT_NOT_READY => "the recipient has no READY wallet allowed to receive money on the destination network",
            PAYER_NOT_ALLOWED => "the payer's wallet may not move money",
            UNKNOWN_DESTINATION => "the destination network is not one of the platform's",
            INVALID_ORDER => "the order is invalid (zero amount or an unknown currency)",
            DESTINATION_REFUSED => "the destination network kept refusing the acceptance",
            ABOVE_LIMIT => "the amount is above the platform's limit for one cross-ledger transfer",
            _ => "revoked by the destination network",
        }
    }
}

/// The links' transfer statuses (`ICrossLedgerLink.CrossLedgerTransferStatus`).
pub mod link_status {
    pub const NON_ESTABLISHED: u8 = 0;
    pub const ORDERED: u8 = 1;
    pub const ACCEPTED: u8 = 2;
    pub const REVOKED: u8 = 3;
    pub const ACKNOWLEDGED: u8 = 4;
    pub const TRANSFER_IN_EXECUTED: u8 = 5;
    pub const TRANSFER_OUT_EXECUTED: u8 = 6;
}

/// A network of the platform: its chain, token and link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub chain_id: u64,
    pub token: Address,
    pub link: Option<Address>,
    /// The relayer looks for orders from this block on.
    pub link_block: u64,
}

fn hex(a: &Address) -> String {
    format!("{a:#x}")
}

/// Records (or updates) a network; `emledger deploy` and the tests call it.
pub async fn register_network(pool: &PgPool, network: &Network) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO dlt_networks (name, chain_id, token, link, link_block) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET chain_id = EXCLUDED.chain_id, token = EXCLUDED.token, link = EXCLUDED.link,
                                          link_block = EXCLUDED.link_block",
    )
    .bind(&network.name)
    .bind(network.chain_id as i64)
    .bind(hex(&network.token))
    .bind(network.link.as_ref().map(hex))
    .bind(network.link_block as i64)
    .execute(pool)
    .await
    .with_context(|| format!("recording network {}", network.name))?;
    Ok(())
}

/// Every recorded network.
pub async fn networks(pool: &PgPool) -> anyhow::Result<Vec<Network>> {
    let rows = sqlx::query("SELECT name, chain_id, token, link, link_block FROM dlt_networks ORDER BY name").fetch_all(pool).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Network {
                name: r.get(0),
                chain_id: r.get::<i64, _>(1) as u64,
                token: r.get::<String, _>(2).parse().context("token address")?,
                link: r.get::<Option<String>, _>(3).map(|l| l.parse()).transpose().context("link address")?,
                link_block: r.get::<i64, _>(4) as u64,
            })
        })
        .collect()
}

/// The relayer's settings.
pub struct RelayerConfig {
    /// RPC URL of each network, by name (every network with a link needs one).
    pub rpc_urls: HashMap<String, String>,
    /// The platform signer: the links' cross-ledger operator.
    pub signer: PrivateKeySigner,
    /// Pause between passes when nothing moved.
    pub poll: Duration,
    /// Most blocks one `eth_getLogs` for orders covers.
    pub log_range: u64,
    /// Failed attempts of an acceptance before the transfer is revoked instead.
    pub max_accept_failures: i32,
    /// The most one transfer may move (token minor units); `None`: no limit.
    pub max_amount: Option<U256>,
    /// Transfers advanced at once in a pass.
    pub concurrency: usize,
    /// Settings of the per-network submitters.
    pub submitter: fn(String, PrivateKeySigner) -> SubmitterConfig,
    /// What the relayer last did, for whoever serves its `/health` and `/metrics`.
    pub health: Arc<RelayerHealth>,
}

impl RelayerConfig {
    pub fn new(rpc_urls: HashMap<String, String>, signer: PrivateKeySigner) -> Self {
        Self {
            rpc_urls,
            signer,
            poll: Duration::from_millis(200),
            log_range: 2_000,
            max_accept_failures: 5,
            max_amount: None,
            concurrency: 16,
            submitter: SubmitterConfig::new,
            health: Arc::default(),
        }
    }
}

/// What the relayer last did, per network: its passes, each network's scan for
/// new orders and each network's submitter. Read by [`health`].
#[derive(Debug, Default)]
pub struct RelayerHealth(std::sync::Mutex<RelayerState>);

#[derive(Debug, Default)]
struct RelayerState {
    networks: Vec<NetworkState>,
    /// Passes that could not read the open transfers, in a row.
    consecutive_errors: u32,
    last_error: Option<String>,
    last_pass: Option<std::time::Instant>,
}

#[derive(Debug)]
struct NetworkState {
    name: String,
    submitter: Arc<SubmitterHealth>,
    /// Scans for new orders on this network's link that failed in a row.
    scan_errors: u32,
    last_scan_error: Option<String>,
}

impl RelayerHealth {
    fn with<T>(&self, f: impl FnOnce(&mut RelayerState) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add_network(&self, name: &str, submitter: Arc<SubmitterHealth>) {
        self.with(|s| s.networks.push(NetworkState { name: name.to_owned(), submitter, scan_errors: 0, last_scan_error: None }));
    }

    fn scanned(&self, network: &str, error: Option<String>) {
        self.with(|s| {
            if let Some(n) = s.networks.iter_mut().find(|n| n.name == network) {
                n.scan_errors = if error.is_some() { n.scan_errors + 1 } else { 0 };
                n.last_scan_error = error;
            }
        });
    }

    fn pass_ended(&self, error: Option<String>) {
        self.with(|s| {
            s.consecutive_errors = if error.is_some() { s.consecutive_errors + 1 } else { 0 };
            s.last_error = error;
            s.last_pass = Some(std::time::Instant::now());
        });
    }
}

/// The relayer's `/health`: UP, DEGRADED (with one reason per problem) or DOWN
/// (the database cannot be read).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayerReport {
    pub status: &'static str,
    pub reasons: Vec<String>,
    pub networks: Vec<NetworkReport>,
    /// Cross-ledger transfers not COMPLETED or REVOKED yet (`None` while the database is down).
    pub open_transfers: Option<i64>,
    /// Seconds since the oldest of them was ordered.
    pub oldest_open_seconds: Option<f64>,
}

/// One network as the relayer sees it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkReport {
    pub name: String,
    /// This relayer's submitter holds the network's signer (else the network's API does and it stands by).
    pub submitter_holds_signer: bool,
    pub submitter_consecutive_errors: u32,
    /// Scans of the link for new orders that failed in a row.
    pub order_scan_consecutive_errors: u32,
    pub last_error: Option<String>,
}

/// The relayer's health: DEGRADED when it has no two networks yet, when its
/// passes, a network's scan for orders or a network's submitter keep failing
/// (three in a row) or go quiet, or when a transfer has been open longer than
/// `stuck_after`. Publishes the same as gauges (`emledger_relayer_*`).
pub async fn health(pool: &PgPool, relayer: &RelayerHealth, stuck_after: Duration) -> RelayerReport {
    let mut reasons = Vec::new();
    let mut networks = Vec::new();
    relayer.with(|s| {
        if s.networks.is_empty() {
            reasons.push("the relayer waits for two networks with a link in dlt_networks (emledger network add)".to_owned());
        }
        reasons.extend(pipeline::pass_problems("the relayer", s.consecutive_errors, s.last_error.as_deref(), s.last_pass));
        for n in &s.networks {
            let sub = n.submitter.snapshot();
            if n.scan_errors >= pipeline::FAILED_PASSES_DEGRADED {
                reasons.push(format!(
                    "network {}: looking for cross-ledger orders failed {} times in a row: {}",
                    n.name,
                    n.scan_errors,
                    n.last_scan_error.as_deref().unwrap_or("unknown error")
                ));
            }
            reasons.extend(pipeline::submitter_problems(&sub).into_iter().map(|r| format!("network {}: {r}", n.name)));
            metrics::gauge!("emledger_relayer_order_scan_consecutive_errors", "network" => n.name.clone()).set(n.scan_errors as f64);
            metrics::gauge!("emledger_relayer_submitter_consecutive_errors", "network" => n.name.clone())
                .set(sub.consecutive_errors as f64);
            networks.push(NetworkReport {
                name: n.name.clone(),
                submitter_holds_signer: sub.holds_lock,
                submitter_consecutive_errors: sub.consecutive_errors,
                order_scan_consecutive_errors: n.scan_errors,
                last_error: n.last_scan_error.clone().or(sub.last_error),
            });
        }
    });
    let (open_transfers, oldest_open_seconds, down) = match pipeline::open_cross_ledger(pool).await {
        Ok(open) => {
            reasons.extend(open.stuck(stuck_after));
            (Some(open.count), open.oldest_secs, false)
        }
        Err(e) => {
            reasons.insert(0, format!("the database is unreachable: {}", crate::revert::sanitize(&e.to_string())));
            (None, None, true)
        }
    };
    let status = pipeline::overall_status(down, &reasons);
    metrics::gauge!("emledger_relayer_degraded").set(if reasons.is_empty() { 0.0 } else { 1.0 });
    RelayerReport { status, reasons, networks, open_transfers, oldest_open_seconds }
}

struct Side {
    network: Network,
    link: Address,
    provider: DynProvider,
    wake: Arc<Notify>,
}

/// One open transfer as the relayer reads it.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: Uuid,
    /// The order's id on its origin network.
    pub operation_id: String,
    pub origin: u64,
    pub destination: u64,
    pub from: Address,
    pub to: Address,
    pub amount: U256,
    pub currency: String,
    pub client_id: Option<Uuid>,
    pub status: String,
    pub decision: Option<String>,
    secret: Option<B256>,
    pub reason: Option<u8>,
    /// The step operation the relayer waits for.
    pub step: Option<Uuid>,
    pub failures: i32,
}

/// What the relayer does next for a transfer, given both links' statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run the central checks and answer on the destination.
    Decide,
    /// Acknowledge the destination's acceptance on the origin.
    Acknowledge,
    /// Acknowledge the destination's revocation on the origin (releases the hold).
    AcknowledgeRevocation,
    ExecuteOut,
    ExecuteIn,
    /// Both executed: settle the movements.
    Complete,
    /// Revoked on both: the movements turn ERROR.
    Revoked,
    /// The origin does not know the transfer (yet, or any more after a reorg).
    NotOnOrigin,
    /// A combination no protocol run produces.
    Inconsistent,
}

/// The step for the statuses on the origin (`origin`) and destination
/// (`destination`; `None` when the destination is not one of the platform's).
pub fn next_step(origin: u8, destination: Option<u8>) -> Step {
    use link_status::*;
    match (origin, destination) {
        (NON_ESTABLISHED, _) => Step::NotOnOrigin,
        (ORDERED, None) | (ORDERED, Some(NON_ESTABLISHED)) => Step::Decide,
        (ORDERED, Some(ACCEPTED)) => Step::Acknowledge,
        (ORDERED, Some(REVOKED)) => Step::AcknowledgeRevocation,
        (ACKNOWLEDGED, Some(ACCEPTED)) => Step::ExecuteOut,
        (TRANSFER_OUT_EXECUTED, Some(ACCEPTED)) => Step::ExecuteIn,
        (TRANSFER_OUT_EXECUTED, Some(TRANSFER_IN_EXECUTED)) => Step::Complete,
        (REVOKED, None) | (REVOKED, Some(NON_ESTABLISHED)) | (REVOKED, Some(REVOKED)) => Step::Revoked,
        _ => Step::Inconsistent,
    }
}

/// Up to `limit` open transfers due now (not COMPLETED or REVOKED, not waiting
/// out a retry delay), oldest first (`created_at`, then `id`), after the one
/// `after`: a keyset, so transfers finishing between two pages shift nothing.
pub async fn open_transfers(pool: &PgPool, after: Option<Uuid>, limit: i64) -> anyhow::Result<Vec<Transfer>> {
    let rows = sqlx::query(
        "SELECT id, operation_id, origin_chain_id, destination_chain_id, from_address, to_address, amount::text, currency,
                client_id, status, decision, secret, reason, step_operation_id, failures
         FROM cross_ledger_transfers
         WHERE status NOT IN ('COMPLETED', 'REVOKED') AND (next_attempt_at IS NULL OR next_attempt_at <= now())
           AND ($1::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM cross_ledger_transfers WHERE id = $1))
         ORDER BY created_at, id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Transfer {
                id: r.get(0),
                operation_id: r.get(1),
                origin: r.get::<i64, _>(2) as u64,
                destination: r.get::<i64, _>(3) as u64,
                from: r.get::<String, _>(4).parse()?,
                to: r.get::<String, _>(5).parse()?,
                amount: r.get::<String, _>(6).parse()?,
                currency: r.get(7),
                client_id: r.get(8),
                status: r.get(9),
                decision: r.get(10),
                secret: r.get::<Option<Vec<u8>>, _>(11).filter(|s| s.len() == 32).map(|s| B256::from_slice(&s)),
                reason: r.get::<Option<i16>, _>(12).map(|r| r as u8),
                step: r.get(13),
                failures: r.get(14),
            })
        })
        .collect()
}

/// Runs the relayer until `stop` turns true.
pub async fn run(pool: PgPool, config: RelayerConfig, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut sides: HashMap<u64, Side> = HashMap::new();
    let mut delay = Duration::from_millis(250);
    // the networks and their submitters, once
    let nets = loop {
        match networks(&pool).await {
            Ok(n) if n.iter().filter(|n| n.link.is_some()).count() >= 2 => break n,
            Ok(_) => tracing::warn!("the relayer waits for two networks with a link in dlt_networks"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading the networks failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return Ok(());
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    };
    let mut submitters = Vec::new();
    for n in nets {
        let Some(link) = n.link else { continue };
        let url = config.rpc_urls.get(&n.name).with_context(|| format!("no RPC URL for network {} (--network-rpc {}=URL)", n.name, n.name))?;
        let provider = emledger_ledger::rpc::http_provider(url).with_context(|| format!("RPC URL of network {}", n.name))?;
        let wake = Arc::new(Notify::new());
        let sub = (config.submitter)(url.clone(), config.signer.clone());
        let sub_health = Arc::new(SubmitterHealth::default());
        config.health.add_network(&n.name, sub_health.clone());
        submitters.push(tokio::spawn(submitter::run(pool.clone(), sub, wake.clone(), sub_health, stop.clone())));
        tracing::info!(network = %n.name, chain_id = n.chain_id, link = %link, "relaying for network");
        sides.insert(n.chain_id, Side { network: n, link, provider, wake });
    }
    let relayer = Relayer { pool, sides, config };
    loop {
        if *stop.borrow() {
            break;
        }
        let moved = relayer.pass().await;
        if !moved {
            tokio::select! {
                _ = tokio::time::sleep(relayer.config.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
    for s in submitters {
        let _ = s.await;
    }
    Ok(())
}

struct Relayer {
    pool: PgPool,
    sides: HashMap<u64, Side>,
    config: RelayerConfig,
}

/// Open transfers read per query; a pass reads page after page until all are read.
const OPEN_PAGE: i64 = 200;

impl Relayer {
    /// Looks for new orders on every link, then moves every open transfer one
    /// step. True when something moved.
    async fn pass(&self) -> bool {
        let mut moved = false;
        let health = &self.config.health;
        for side in self.sides.values() {
            match self.discover(side).await {
                Ok(n) => {
                    moved |= n > 0;
                    health.scanned(&side.network.name, None);
                }
                Err(e) => {
                    let error = crate::revert::sanitize(&format!("{e:#}"));
                    tracing::warn!(network = %side.network.name, error = %error, "looking for cross-ledger orders failed");
                    health.scanned(&side.network.name, Some(error));
                }
            }
        }
        // every open transfer, a page at a time (keyset on created_at, id): transfers
        // that wait long (a network down) never keep newer ones out of the pass
        let mut after = None;
        loop {
            let open = match open_transfers(&self.pool, after, OPEN_PAGE).await {
                Ok(t) => t,
                Err(e) => {
                    let error = crate::revert::sanitize(&format!("{e:#}"));
                    tracing::warn!(error = %error, "reading open cross-ledger transfers failed");
                    health.pass_ended(Some(error));
                    return moved;
                }
            };
            let last_page = open.len() < OPEN_PAGE as usize;
            after = open.last().map(|t| t.id);
            moved |= self.advance_all(open).await;
            if last_page {
                break;
            }
        }
        health.pass_ended(None);
        moved
    }

    /// Moves `open` one step each, side by side: transfers are independent (each
    /// its own row and its own step rows), so one waiting on a slow network's RPC
    /// timeout does not hold up the others' steps. A failed step is retried after
    /// a second. True when something moved.
    async fn advance_all(&self, open: Vec<Transfer>) -> bool {
        let mut moved = false;
        let advanced: Vec<(Transfer, anyhow::Result<bool>)> = futures::stream::iter(open)
            .map(|t| async move {
                let r = self.advance(&t).await;
                (t, r)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for (t, result) in advanced {
            match result {
                Ok(m) => moved |= m,
                Err(e) => {
                    let error = crate::revert::sanitize(&format!("{e:#}"));
                    tracing::warn!(transfer = %t.operation_id, error = %error, "a cross-ledger step failed; retried");
                    let _ = sqlx::query(
                        "UPDATE cross_ledger_transfers SET error = $2, next_attempt_at = now() + interval '1 second', updated_at = now()
                         WHERE id = $1",
                    )
                    .bind(t.id)
                    .bind(&error)
                    .execute(&self.pool)
                    .await;
                }
            }
        }
        moved
    }

    /// New `CrossLedgerTransferOrdered` events of `side`'s link: a transfer row
    /// and its two PENDING movements each, with the cursor, in one transaction.
    async fn discover(&self, side: &Side) -> anyhow::Result<usize> {
        let chain = side.network.chain_id as i64;
        let cursor: Option<(i64,)> =
            sqlx::query_as("SELECT block_number FROM cross_ledger_cursors WHERE chain_id = $1").bind(chain).fetch_optional(&self.pool).await?;
        let from = match cursor {
            Some((b,)) => b as u64 + 1,
            None => side.network.link_block,
        };
        let head = side.provider.get_block_number().await.context("reading the head")?;
        if head < from {
            return Ok(0);
        }
        let to = head.min(from + self.config.log_range - 1);
        let filter = Filter::new()
            .address(side.link)
            .event_signature(CrossLedgerLink::CrossLedgerTransferOrdered::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = side.provider.get_logs(&filter).await.context("eth_getLogs for orders")?;
        let mut tx = self.pool.begin().await?;
        let mut found = 0;
        for log in &logs {
            let Ok(ev) = CrossLedgerLink::CrossLedgerTransferOrdered::decode_log_data(log.data()) else {
                tracing::warn!(tx = ?log.transaction_hash, "an undecodable order log: skipped");
                continue;
            };
            found += self.record_order(&mut tx, side, &ev, log.transaction_hash, log.block_number).await?;
        }
        sqlx::query(
            "INSERT INTO cross_ledger_cursors (chain_id, link, block_number) VALUES ($1, $2, $3)
             ON CONFLICT (chain_id) DO UPDATE SET block_number = EXCLUDED.block_number, link = EXCLUDED.link, updated_at = now()",
        )
        .bind(chain)
        .bind(hex(&side.link))
        .bind(to as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn record_order(
        &self,
        tx: &mut sqlx::PgConnection,
        side: &Side,
        ev: &CrossLedgerLink::CrossLedgerTransferOrdered,
        tx_hash: Option<B256>,
        block: Option<u64>,
    ) -> anyhow::Result<usize> {
        let origin = side.network.chain_id;
        let destination: u64 = ev.destinationChainId.try_into().unwrap_or(u64::MAX);
        let (from, to) = (hex(&ev.from), hex(&ev.to));
        let payer = wallet_of(&mut *tx, &from).await?;
        let payee = wallet_of(&mut *tx, &to).await?;
        let client = payer.as_ref().map(|w| w.client_id).or(payee.as_ref().map(|w| w.client_id));
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO cross_ledger_transfers (id, operation_id, origin_chain_id, destination_chain_id, from_address, to_address,
                                                 amount, currency, client_id, order_tx_hash, order_block)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11)
             ON CONFLICT (origin_chain_id, operation_id) DO NOTHING",
        )
        .bind(id)
        .bind(&ev.operationId)
        .bind(origin as i64)
        .bind(destination.min(i64::MAX as u64) as i64)
        .bind(&from)
        .bind(&to)
        .bind(ev.value.to_string())
        .bind(&ev.currency)
        .bind(client)
        .bind(tx_hash.map(|h| format!("{h:#x}")))
        .bind(block.map(|b| b as i64))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(0);
        }
        let dest_name = self.sides.get(&destination).map(|s| s.network.name.clone()).unwrap_or_else(|| format!("chain-{destination}"));
        // TRANSFER_OUT on the origin (the payer's), TRANSFER_IN on the destination (the recipient's)
        for (kind, owner, owner_wallet, chain, network) in [
            ("TRANSFER_OUT", &from, &payer, origin, side.network.name.clone()),
            ("TRANSFER_IN", &to, &payee, destination, dest_name),
        ] {
            sqlx::query(
                "INSERT INTO movements (id, client_id, type, status, amount, owner_address, owner_wallet_id, origin_wallet_id,
                                        target_wallet_id, origin_user_id, target_user_id, origin_dlt_address, target_dlt_address,
                                        dlt_network, chain_operation_id, chain_id, cross_ledger_transfer_id)
                 VALUES ($1, $2, $3, 'PENDING', $4::numeric, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(Uuid::now_v7())
            .bind(owner_wallet.as_ref().map(|w| w.client_id).or(client))
            .bind(kind)
            .bind(ev.value.to_string())
            .bind(owner)
            .bind(owner_wallet.as_ref().map(|w| w.id))
            .bind(payer.as_ref().map(|w| w.id))
            .bind(payee.as_ref().map(|w| w.id))
            .bind(payer.as_ref().map(|w| w.user_id))
            .bind(payee.as_ref().map(|w| w.user_id))
            .bind(&from)
            .bind(&to)
            .bind(network)
            .bind(&ev.operationId)
            .bind(chain.min(i64::MAX as u64) as i64)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tracing::info!(transfer = %ev.operationId, origin, destination, amount = %ev.value, "cross-ledger transfer ordered");
        metrics::counter!("emledger_cross_ledger_orders_total").increment(1);
        Ok(1)
    }

    /// One step of `t`. True when it moved.
    async fn advance(&self, t: &Transfer) -> anyhow::Result<bool> {
        // 1. the step it waits for (read BEFORE the chain: a step mined after this
        //    read shows in the statuses read next, never the other way round)
        if let Some(op) = t.step {
            let (status, error): (String, Option<String>) =
                sqlx::query_as("SELECT status, error FROM operations WHERE id = $1").bind(op).fetch_one(&self.pool).await?;
            match status.as_str() {
                "PENDING" | "SIGNED" | "SENT" => return Ok(false),
                "FAILED" => {
                    let error = error.unwrap_or_else(|| "the step failed".into());
                    tracing::warn!(transfer = %t.operation_id, error = %error, "a cross-ledger step failed; the transfer is looked at again");
                    let failures = t.failures + 1;
                    let backoff = 500u64.saturating_mul(1 << failures.clamp(0, 6)).min(30_000);
                    sqlx::query(
                        "UPDATE cross_ledger_transfers SET step_operation_id = NULL, failures = $2, error = $3,
                                next_attempt_at = now() + $4 * interval '1 millisecond', updated_at = now()
                         WHERE id = $1 AND step_operation_id = $5",
                    )
                    .bind(t.id)
                    .bind(failures)
                    .bind(&error)
                    .bind(backoff as f64)
                    .bind(op)
                    .execute(&self.pool)
                    .await?;
                    return Ok(true);
                }
                // mined: its effect is in the statuses below; the link's own step has no
                // token event for the submitter's sweep to see, so it is settled here
                _ => {
                    sqlx::query("UPDATE operations SET status = 'SUCCESS', updated_at = now() WHERE id = $1 AND status = 'MINED'")
                        .bind(op)
                        .execute(&self.pool)
                        .await?;
                }
            }
        }
        // 2. both links
        let origin = self.sides.get(&t.origin).context("the origin network is not relayed")?;
        let destination = self.sides.get(&t.destination);
        let on_origin = CrossLedgerLink::new(origin.link, &origin.provider)
            .getTransferData(t.operation_id.clone())
            .call()
            .await
            .with_context(|| format!("reading the transfer on network {}", origin.network.name))?;
        let on_destination = match destination {
            Some(d) => Some(
                CrossLedgerLink::new(d.link, &d.provider)
                    .getTransferData(t.operation_id.clone())
                    .call()
                    .await
                    .with_context(|| format!("reading the transfer on network {}", d.network.name))?,
            ),
            None => None,
        };
        let step = next_step(on_origin.status, on_destination.as_ref().map(|d| d.status));
        tracing::debug!(transfer = %t.operation_id, ?step, origin = on_origin.status, destination = ?on_destination.as_ref().map(|d| d.status), "cross-ledger transfer");
        match step {
            Step::Decide => self.decide(t, origin, destination).await,
            Step::Acknowledge => {
                let d = on_destination.expect("destination known");
                let call = CrossLedgerLink::acknowledgeTransferCall {
                    operationId: t.operation_id.clone(),
                    acceptMessageHash: d.answerMessageHash,
                    hashLock: d.hashLock,
                };
                self.enqueue(t, origin, kind::ACKNOWLEDGE, call.abi_encode(), "ACCEPTED", None).await
            }
            Step::AcknowledgeRevocation => {
                let d = on_destination.expect("destination known");
                let code = if d.reason == 0 { reason::DESTINATION_REFUSED } else { d.reason };
                let call = CrossLedgerLink::acknowledgeRevocationCall {
                    operationId: t.operation_id.clone(),
                    revokeMessageHash: d.answerMessageHash,
                    reason: code,
                };
                self.enqueue(t, origin, kind::ACKNOWLEDGE_REVOCATION, call.abi_encode(), "REVOKED_ON_DESTINATION", Some(code)).await
            }
            Step::ExecuteOut => {
                let secret = t.secret.context("the transfer's secret is not stored")?;
                let call = CrossLedgerLink::executeTransferOutCall { operationId: t.operation_id.clone(), secret };
                self.enqueue(t, origin, kind::EXECUTE_OUT, call.abi_encode(), "ACKNOWLEDGED", None).await
            }
            Step::ExecuteIn => {
                // the secret the origin revealed when it burned (the stored one otherwise)
                let secret = if on_origin.secret.is_zero() { t.secret.context("no secret")? } else { on_origin.secret };
                let d = destination.expect("destination known");
                let call = CrossLedgerLink::executeTransferInCall { operationId: t.operation_id.clone(), secret };
                self.enqueue(t, d, kind::EXECUTE_IN, call.abi_encode(), "TRANSFER_OUT_EXECUTED", None).await
            }
            Step::Complete => self.complete(t).await,
            Step::Revoked => {
                let code = if on_origin.reason == 0 { t.reason.unwrap_or(reason::DESTINATION_REFUSED) } else { on_origin.reason };
                self.revoked(t, code).await
            }
            Step::NotOnOrigin | Step::Inconsistent => {
                anyhow::bail!(
                    "the links disagree: status {} on the origin, {:?} on the destination",
                    on_origin.status,
                    on_destination.map(|d| d.status)
                )
            }
        }
    }

    /// The central checks, then the destination's answer; the verdict and the
    /// secret are stored with the step, once (a retried step reuses them).
    async fn decide(&self, t: &Transfer, origin: &Side, destination: Option<&Side>) -> anyhow::Result<bool> {
        let Some(dest) = destination else {
            // not one of ours: the origin revokes without asking anyone
            let code = reason::UNKNOWN_DESTINATION;
            let call =
                CrossLedgerLink::acknowledgeRevocationCall { operationId: t.operation_id.clone(), revokeMessageHash: B256::ZERO, reason: code };
            return self.enqueue_decided(t, origin, kind::ACKNOWLEDGE_REVOCATION, call.abi_encode(), "REVOKE", None, Some(code)).await;
        };
        let (verdict, secret) = match (&t.decision, t.secret) {
            (Some(d), secret) if d == "ACCEPT" && t.failures < self.config.max_accept_failures => (Ok(()), secret),
            (Some(d), _) if d == "REVOKE" => (Err(t.reason.unwrap_or(reason::DESTINATION_REFUSED)), None),
            (Some(_), _) => (Err(reason::DESTINATION_REFUSED), None),
            (None, _) => (self.checks(t, dest).await?, None),
        };
        match verdict {
            Ok(()) => {
                let secret = secret.unwrap_or_else(|| {
                    let mut s = [0u8; 32];
                    rand::thread_rng().fill_bytes(&mut s);
                    B256::from(s)
                });
                let hash_lock = keccak256(secret);
                let call = CrossLedgerLink::acceptTransferCall {
                    operationId: t.operation_id.clone(),
                    from: t.from,
                    amount: t.amount,
                    to: t.to,
                    currency: t.currency.clone(),
                    originChainId: U256::from(t.origin),
                    hashLock: hash_lock,
                };
                self.enqueue_decided(t, dest, kind::ACCEPT, call.abi_encode(), "ACCEPT", Some(secret), None).await
            }
            Err(code) => {
                let call = CrossLedgerLink::revokeTransferCall {
                    operationId: t.operation_id.clone(),
                    from: t.from,
                    amount: t.amount,
                    to: t.to,
                    currency: t.currency.clone(),
                    originChainId: U256::from(t.origin),
                    reason: code,
                };
                self.enqueue_decided(t, dest, kind::REVOKE, call.abi_encode(), "REVOKE", None, Some(code)).await
            }
        }
    }

    /// `Err(reason)` when the transfer must be refused.
    async fn checks(&self, t: &Transfer, dest: &Side) -> anyhow::Result<std::result::Result<(), u8>> {
        if t.amount.is_zero() || t.currency.is_empty() {
            return Ok(Err(reason::INVALID_ORDER));
        }
        if self.config.max_amount.is_some_and(|max| t.amount > max) {
            return Ok(Err(reason::ABOVE_LIMIT));
        }
        let link = CrossLedgerLink::new(dest.link, &dest.provider);
        if !link.isChainActive(U256::from(t.origin)).call().await.context("isChainActive")? {
            return Ok(Err(reason::CHAIN_INACTIVE));
        }
        if !link.isCurrencyActiveForChain(t.currency.clone(), U256::from(t.origin)).call().await.context("isCurrencyActiveForChain")? {
            return Ok(Err(reason::CURRENCY_INACTIVE));
        }
        let mut conn = self.pool.acquire().await?;
        // the recipient's wallet must live on the destination network (a wallet without
        // one lives on its tenant's network)
        let payee: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT w.status, w.compliance_status, u.status, COALESCE(w.dlt_network, c.dlt_network)
             FROM wallets w JOIN users u ON u.id = w.user_id JOIN clients c ON c.id = w.client_id
             WHERE w.dlt_address = $1",
        )
        .bind(hex(&t.to))
        .fetch_optional(&mut *conn)
        .await?;
        let ready = |status: &str, compliance: &str, user: &str| {
            status == crate::wallet::status::READY && user != crate::wallet::status::UNSUBSCRIBED && !crate::compliance::forbids_money(compliance)
        };
        match payee {
            Some((status, compliance, user, network)) if ready(&status, &compliance, &user) && network == dest.network.name => {}
            _ => return Ok(Err(reason::RECIPIENT_NOT_READY)),
        }
        let payer: Option<(String, String, String)> = sqlx::query_as(
            "SELECT w.status, w.compliance_status, u.status FROM wallets w JOIN users u ON u.id = w.user_id WHERE w.dlt_address = $1",
        )
        .bind(hex(&t.from))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((_, compliance, _)) = payer {
            if crate::compliance::forbids_money(&compliance) {
                return Ok(Err(reason::PAYER_NOT_ALLOWED));
            }
        }
        Ok(Ok(()))
    }

    #[allow(clippy::too_many_arguments)]
    async fn enqueue_decided(
        &self,
        t: &Transfer,
        side: &Side,
        kind: &'static str,
        calldata: Vec<u8>,
        decision: &str,
        secret: Option<B256>,
        code: Option<u8>,
    ) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE cross_ledger_transfers SET decision = $2, secret = COALESCE(secret, $3), hash_lock = COALESCE(hash_lock, $4),
                    reason = COALESCE($5, reason), reason_text = COALESCE($6, reason_text)
             WHERE id = $1",
        )
        .bind(t.id)
        .bind(decision)
        .bind(secret.map(|s| s.to_vec()))
        .bind(secret.map(|s| keccak256(s).to_vec()))
        .bind(code.map(i16::from))
        .bind(code.map(reason::text))
        .execute(&mut *tx)
        .await?;
        self.store_step(&mut tx, t, side, kind, calldata, "ORDERED").await?;
        tx.commit().await?;
        self.after_store(side, kind);
        Ok(true)
    }

    async fn enqueue(&self, t: &Transfer, side: &Side, kind: &'static str, calldata: Vec<u8>, status: &str, code: Option<u8>) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        if let Some(code) = code {
            sqlx::query("UPDATE cross_ledger_transfers SET reason = $2, reason_text = $3 WHERE id = $1")
                .bind(t.id)
                .bind(i16::from(code))
                .bind(reason::text(code))
                .execute(&mut *tx)
                .await?;
        }
        self.store_step(&mut tx, t, side, kind, calldata, status).await?;
        tx.commit().await?;
        self.after_store(side, kind);
        Ok(true)
    }

    /// The step's operation and the transfer's pointer to it (same transaction).
    async fn store_step(
        &self,
        tx: &mut sqlx::PgConnection,
        t: &Transfer,
        side: &Side,
        kind: &'static str,
        calldata: Vec<u8>,
        status: &str,
    ) -> anyhow::Result<()> {
        let op = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(op)
        .bind(t.client_id)
        .bind(kind)
        .bind(&t.operation_id)
        .bind(side.network.chain_id as i64)
        .bind(hex(&side.link))
        .bind(&calldata)
        .execute(&mut *tx)
        .await?;
        let updated = sqlx::query(
            "UPDATE cross_ledger_transfers SET step_operation_id = $2, status = $3, error = NULL, updated_at = now()
             WHERE id = $1 AND step_operation_id IS NOT DISTINCT FROM $4",
        )
        .bind(t.id)
        .bind(op)
        .bind(status)
        .bind(t.step)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        anyhow::ensure!(updated == 1, "the transfer moved under the relayer (a second relayer?)");
        Ok(())
    }

    fn after_store(&self, side: &Side, kind: &str) {
        side.wake.notify_one();
        fault_point(&format!("relayer_after_{}", kind.trim_start_matches("CROSS_LEDGER_").to_ascii_lowercase()));
    }

    /// Both executed: once both indexers have the burn and the mint, both
    /// movements turn SUCCESS together.
    async fn complete(&self, t: &Transfer) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let (unsettled,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM movements WHERE cross_ledger_transfer_id = $1 AND tx_hash IS NULL")
                .bind(t.id)
                .fetch_one(&mut *tx)
                .await?;
        if unsettled > 0 {
            if t.status != "TRANSFER_IN_EXECUTED" {
                sqlx::query("UPDATE cross_ledger_transfers SET status = 'TRANSFER_IN_EXECUTED', updated_at = now() WHERE id = $1")
                    .bind(t.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(true);
            }
            return Ok(false);
        }
        sqlx::query("UPDATE movements SET status = 'SUCCESS', error = NULL, updated_at = now() WHERE cross_ledger_transfer_id = $1 AND status <> 'SUCCESS'")
            .bind(t.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE cross_ledger_transfers SET status = 'COMPLETED', step_operation_id = NULL, error = NULL, completed_at = now(),
                    updated_at = now() WHERE id = $1",
        )
        .bind(t.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(transfer = %t.operation_id, "cross-ledger transfer completed on both networks");
        metrics::counter!("emledger_cross_ledger_completed_total").increment(1);
        Ok(true)
    }

    /// Revoked and the hold released: both movements ERROR with the reason.
    async fn revoked(&self, t: &Transfer, code: u8) -> anyhow::Result<bool> {
        let why = format!("cross-ledger transfer revoked (reason {code}): {}", reason::text(code));
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE cross_ledger_transfer_id = $1 AND status = 'PENDING'")
            .bind(t.id)
            .bind(&why)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE cross_ledger_transfers SET status = 'REVOKED', reason = $2, reason_text = $3, step_operation_id = NULL,
                    completed_at = now(), updated_at = now() WHERE id = $1",
        )
        .bind(t.id)
        .bind(i16::from(code))
        .bind(reason::text(code))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(transfer = %t.operation_id, reason = code, "cross-ledger transfer revoked");
        metrics::counter!("emledger_cross_ledger_revoked_total").increment(1);
        Ok(true)
    }
}

struct WalletRef {
    id: Uuid,
    client_id: Uuid,
    user_id: Uuid,
}

async fn wallet_of(conn: &mut sqlx::PgConnection, address: &str) -> anyhow::Result<Option<WalletRef>> {
    let row: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as("SELECT id, client_id, user_id FROM wallets WHERE dlt_address = $1")
        .bind(address)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id, client_id, user_id)| WalletRef { id, client_id, user_id }))
}

#[cfg(test)]
mod tests {
    use super::{link_status::*, next_step, Step};

    #[test]
    fn every_protocol_state_has_one_step() {
        assert_eq!(next_step(ORDERED, Some(NON_ESTABLISHED)), Step::Decide);
        assert_eq!(next_step(ORDERED, None), Step::Decide);
        assert_eq!(next_step(ORDERED, Some(ACCEPTED)), Step::Acknowledge);
        assert_eq!(next_step(ORDERED, Some(REVOKED)), Step::AcknowledgeRevocation);
        assert_eq!(next_step(ACKNOWLEDGED, Some(ACCEPTED)), Step::ExecuteOut);
        assert_eq!(next_step(TRANSFER_OUT_EXECUTED, Some(ACCEPTED)), Step::ExecuteIn);
        assert_eq!(next_step(TRANSFER_OUT_EXECUTED, Some(TRANSFER_IN_EXECUTED)), Step::Complete);
        assert_eq!(next_step(REVOKED, Some(REVOKED)), Step::Revoked);
        assert_eq!(next_step(REVOKED, None), Step::Revoked);
        assert_eq!(next_step(NON_ESTABLISHED, Some(ACCEPTED)), Step::NotOnOrigin);
        // never minted before burned: an execution in without one out is no step
        assert_eq!(next_step(ACKNOWLEDGED, Some(TRANSFER_IN_EXECUTED)), Step::Inconsistent);
        assert_eq!(next_step(ORDERED, Some(TRANSFER_IN_EXECUTED)), Step::Inconsistent);
    }
}
