//! Following the chain: backfill with adaptive `eth_getLogs` ranges fetched
//! ahead of the writer, then the live tail (new heads by websocket when
//! available, polling otherwise), reorg detection against stored block hashes,
//! and the single-writer advisory lock.

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::B256,
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};
use anyhow::{anyhow, bail, Context};
use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::{
    apply::apply,
    decode::{decode, Event, Position},
    metrics::Metrics,
    reorg, store,
    store::{Cursor, SeenBlock, Target},
    REORG_WINDOW,
};


/// How the indexer follows the chain.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    /// Blocks to stay behind the head (0 on anvil).
    pub confirmations: u64,
    /// Poll interval when no websocket is available.
    pub poll_interval: Duration,
    /// First `eth_getLogs` range, in blocks; adapted as we go.
    pub initial_range: u64,
    pub max_range: u64,
    /// Logs per range the adaptation aims for.
    pub target_logs: usize,
    /// Websocket URL for new-head subscriptions.
    pub ws_url: Option<String>,
}

impl Default for FollowConfig {
    fn default() -> Self {
        Self {
            confirmations: 0,
            poll_interval: Duration::from_millis(100),
            initial_range: 16,
            max_range: 50_000,
            target_logs: 10_000,
            ws_url: None,
        }
    }
}

/// The advisory-lock key for one (chain, contract).
fn lock_key(target: &Target) -> i64 {
    let mut key: i64 = 0x656d_6c65_6467_6572; // "emledger"
    for b in target.contract.as_slice() {
        key = key.rotate_left(5) ^ (*b as i64);
    }
    key ^ target.chain_id as i64
}

/// A fetched range, ready to apply.
struct Fetched {
    from: u64,
    to: Header,
    logs: Vec<Log>,
}

#[derive(Clone, Copy, Debug)]
struct Header {
    number: u64,
    hash: B256,
    parent_hash: B256,
    timestamp: u64,
}

async fn header(provider: &DynProvider, number: u64) -> anyhow::Result<Header> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await
        .with_context(|| format!("eth_getBlockByNumber({number})"))?
        .ok_or_else(|| anyhow!("block {number} not found"))?;
    Ok(Header {
        number,
        hash: block.header.hash,
        parent_hash: block.header.inner.parent_hash,
        timestamp: block.header.inner.timestamp,
    })
}

/// The canonical hash at `number`, `None` when the chain is shorter.
async fn canonical_hash(provider: &DynProvider, number: u64) -> anyhow::Result<Option<B256>> {
    Ok(provider
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await
        .with_context(|| format!("eth_getBlockByNumber({number})"))?
        .map(|b| b.header.hash))
}

/// Fetches logs for [from, to], halving the range when the node refuses
/// (too many results, response too large). Returns the range actually fetched.
async fn fetch_range(
    provider: &DynProvider,
    target: &Target,
    from: u64,
    mut to: u64,
) -> anyhow::Result<Fetched> {
    loop {
        let hdr = header(provider, to).await?;
        let filter = Filter::new().address(target.contract).from_block(from).to_block(to);
        match provider.get_logs(&filter).await {
            Ok(logs) => {
                // logs must come from the chain the header belongs to
                if logs.iter().any(|l| l.block_number == Some(to) && l.block_hash != Some(hdr.hash)) {
                    debug!(to, "head moved while fetching; retrying");
                    continue;
                }
                return Ok(Fetched { from, to: hdr, logs });
            }
            Err(e) if to > from => {
                let half = from + (to - from) / 2;
                warn!(from, to, error = %e, "eth_getLogs refused the range; halving it");
                to = half;
            }
            Err(e) => return Err(e).context("eth_getLogs for a single block"),
        }
    }
}

/// Runs until `shutdown` turns true. Takes the single-writer lock first: a
/// second indexer waits here and takes over when the first one dies.
///
/// A failure (Postgres gone, the node gone, a write refused) never ends it: the
/// pass is logged, counted (`emledger_indexer_restarts_total`) and started again
/// after a backoff (0.5 s doubling to 10 s), resuming from the stored cursor.
/// Only a reorg deeper than the window stops it for good (it needs a re-index).
pub async fn run(
    pool: PgPool,
    provider: DynProvider,
    target: Target,
    config: FollowConfig,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut delay = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        let result = run_once(pool.clone(), provider.clone(), target.clone(), config.clone(), metrics.clone(), shutdown.clone()).await;
        metrics.writer.store(0, Ordering::Relaxed);
        let e = match result {
            Ok(()) => return Ok(()),
            Err(e) if format!("{e:#}").contains("reorg deeper than") => return Err(e),
            Err(e) => e,
        };
        if *shutdown.borrow() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            delay = Duration::from_millis(500);
        }
        ::metrics::counter!("emledger_indexer_restarts_total").increment(1);
        warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "the indexer failed; resuming from its cursor");
        let mut stop = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Records the token's ISO 4217 currency (`EmToken.currency()`) next to the
/// cursor, where the API checks wallets' currencies against it. Whether it did;
/// a node that does not answer is asked again later, and nothing waits for it.
async fn record_currency(pool: &PgPool, provider: &DynProvider, target: &Target) -> bool {
    let token = emledger_contracts::EmToken::new(target.contract, provider.clone());
    let currency = match token.currency().call().await {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "cannot read the token's currency yet; wallets are in EUR until it is read");
            return false;
        }
    };
    match store::record_currency(pool, target, &currency).await {
        Ok(()) => true,
        Err(e) => {
            warn!(error = %format!("{e:#}"), "cannot record the token's currency yet");
            false
        }
    }
}

async fn run_once(
    pool: PgPool,
    provider: DynProvider,
    target: Target,
    config: FollowConfig,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // a connection of its own, closed (lock released) when this pass ends, never
    // handed back to the pool still holding the lock; the writer's session too: its
    // caches and prepared statements stay warm (a pooled connection's first use
    // in a fresh backend costs milliseconds of catalog loading per table)
    let mut lock = pool.acquire().await?.detach();
    info!(chain_id = target.chain_id, contract = %target.contract, "waiting for the single-writer lock");
    tokio::select! {
        r = sqlx::query("SELECT pg_advisory_lock($1)").bind(lock_key(&target)).execute(&mut lock) => { r?; }
        _ = shutdown.wait_for(|s| *s) => return Ok(()),
    }
    info!("writer lock held; indexing");
    refresh_stats(&mut lock).await;
    metrics.writer.store(1, Ordering::Relaxed);
    let mut currency_recorded = false;
    let mut currency_tried: Option<Instant> = None;

    let mut heads = HeadSignal::new(&config).await;
    let mut next_head: Option<Header> = None;
    let mut range = config.initial_range.max(1);
    let mut last_report = Instant::now();
    let mut reported_events = metrics.events.load(Ordering::Relaxed);
    let mut reported_blocks = metrics.cursor.load(Ordering::Relaxed);

    let mut lock_checked = Instant::now();
    while !*shutdown.borrow() {
        if lock_checked.elapsed() > Duration::from_secs(2) {
            // the lock lives as long as its session: a lost session means a lost lock
            sqlx::query("SELECT 1").execute(&mut lock).await.context("the writer-lock session is gone")?;
            lock_checked = Instant::now();
        }
        let cursor = {
            store::load_cursor(&mut lock, &target)
                .await?
                .ok_or_else(|| anyhow!("no deployment recorded for chain {} contract {}", target.chain_id, target.contract))?
        };
        metrics.cursor.store(cursor.block_number, Ordering::Relaxed);
        if !currency_recorded && currency_tried.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            currency_tried = Some(Instant::now());
            currency_recorded = record_currency(&pool, &provider, &target).await;
        }
        // Live fast path: the head the websocket announced is the next block, its
        // parent is the block we stand on, and it is canonical now (a head queued
        // on the socket may come from a branch a reorg has since dropped, and nodes
        // still serve such blocks' logs by hash). Its logs by block hash and its
        // canonical hash are asked at once, then the write: one round trip instead
        // of four (the head, the cursor's canonical hash, the header, the logs). A
        // reorg racing it is caught by the canonical-cursor check of the next turn,
        // as on the slow path.
        if let Some(head) = next_head.take() {
            if config.confirmations == 0 && head.number == cursor.block_number + 1 && head.parent_hash == cursor.block_hash {
                let filter = Filter::new().address(target.contract).at_block_hash(head.hash);
                let (logs, canonical) = tokio::join!(provider.get_logs(&filter), canonical_hash(&provider, head.number));
                match (logs, canonical) {
                    (Ok(logs), Ok(Some(hash))) if hash == head.hash => {
                        metrics.head.fetch_max(head.number, Ordering::Relaxed);
                        write(&mut lock, &provider, &target, &metrics, Fetched { from: head.number, to: head, logs }).await?;
                        continue;
                    }
                    (Ok(_), Ok(_)) => debug!(block = head.number, "the announced head is no longer canonical; taking the slow path"),
                    (Err(e), _) => debug!(block = head.number, error = %e, "eth_getLogs by block hash failed; taking the slow path"),
                    (_, Err(e)) => debug!(block = head.number, error = %format!("{e:#}"), "reading the canonical hash failed; taking the slow path"),
                }
            }
        }
        let chain_head = match provider.get_block_number().await {
            Ok(h) => h,
            Err(e) => {
                warn!(error = %e, "cannot read the chain head; retrying");
                tokio::time::sleep(config.poll_interval.max(Duration::from_millis(500))).await;
                continue;
            }
        };
        metrics.head.store(chain_head, Ordering::Relaxed);
        let safe = chain_head.saturating_sub(config.confirmations);

        let moved = metrics.events.load(Ordering::Relaxed) != reported_events || cursor.block_number != reported_blocks;
        if last_report.elapsed() >= Duration::from_secs(5) && (moved || last_report.elapsed() >= Duration::from_secs(300)) {
            let events = metrics.events.load(Ordering::Relaxed);
            let secs = last_report.elapsed().as_secs_f64();
            info!(
                cursor = cursor.block_number,
                head = chain_head,
                lag = chain_head.saturating_sub(cursor.block_number),
                blocks_per_s = format!("{:.0}", cursor.block_number.saturating_sub(reported_blocks) as f64 / secs),
                events_per_s = format!("{:.0}", (events - reported_events) as f64 / secs),
                "indexer progress"
            );
            last_report = Instant::now();
            reported_events = events;
            reported_blocks = cursor.block_number;
        }

        // Is the block we stand on still canonical? (A rollback can also leave it above the head.)
        if canonical_hash(&provider, cursor.block_number).await? != Some(cursor.block_hash) {
            handle_reorg(&mut lock, &provider, &target, &metrics).await?;
            continue;
        }

        if cursor.block_number >= safe {
            tokio::select! {
                h = heads.wait(config.poll_interval) => next_head = h,
                _ = shutdown.changed() => {}
            }
            continue;
        }

        if safe - cursor.block_number > range {
            // Backfill: fetch ranges ahead of the writer. A reorg during it is
            // caught by the canonical-cursor check above on the next turn.
            range = backfill(&mut lock, &provider, &target, &config, &metrics, cursor, safe, range, &mut shutdown).await?;
            refresh_stats(&mut lock).await;
        } else {
            let to = (cursor.block_number + range).min(safe);
            let fetched = fetch_range(&provider, &target, cursor.block_number + 1, to).await?;
            range = adapt(range, fetched.logs.len(), fetched.to.number - fetched.from + 1, &config);
            write(&mut lock, &provider, &target, &metrics, fetched).await?;
        }
    }
    info!("indexer stopped");
    Ok(())
}

fn adapt(range: u64, logs: usize, fetched_blocks: u64, config: &FollowConfig) -> u64 {
    let range = range.min(fetched_blocks.max(1));
    if logs < config.target_logs / 2 {
        (range * 2).min(config.max_range)
    } else if logs > config.target_logs * 2 {
        (range / 2).max(1)
    } else {
        range
    }
}

/// The tables the indexer writes and then reads back by operation id.
const ANALYZED_TABLES: [&str; 5] = ["movements", "chain_events", "holds", "clearable_transfers", "balances"];

/// Rows changed since a table's last ANALYZE above which it is analyzed now.
const STALE_STATS_ROWS: i64 = 10_000;

/// Brings the planner's statistics up to date after a bulk load. A backfill
/// writes tens of thousands of rows in seconds; until autovacuum notices (up to
/// its naptime, a minute by default) the planner still sees the tables as they
/// were, picks sequential scans for the live tail's look-ups by operation id and
/// every block costs milliseconds more (measured: 10–15 ms instead of under 1 ms
/// for the first blocks after workload A). Checked when the writer starts and
/// after each backfill; a failure is only logged.
async fn refresh_stats(conn: &mut PgConnection) {
    let stale: Result<Vec<String>, _> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables
         WHERE schemaname = current_schema() AND relname = ANY($1) AND n_mod_since_analyze > $2",
    )
    .bind(&ANALYZED_TABLES[..])
    .bind(STALE_STATS_ROWS)
    .fetch_all(&mut *conn)
    .await;
    match stale {
        Ok(tables) if !tables.is_empty() => {
            let started = Instant::now();
            // names come from ANALYZED_TABLES, never from input
            let list = tables.iter().filter(|t| ANALYZED_TABLES.contains(&t.as_str())).cloned().collect::<Vec<_>>().join(", ");
            match sqlx::query(&format!("ANALYZE {list}")).execute(&mut *conn).await {
                Ok(_) => info!(tables = %list, ms = started.elapsed().as_millis() as u64, "planner statistics refreshed after a bulk load"),
                Err(e) => warn!(error = %e, "ANALYZE failed; autovacuum will do it"),
            }
        }
        Ok(_) => {}
        Err(e) => debug!(error = %e, "reading table statistics failed"),
    }
}

/// Fetches ranges up to `until` in a task of its own while this one writes.
#[allow(clippy::too_many_arguments)]
async fn backfill(
    conn: &mut PgConnection,
    provider: &DynProvider,
    target: &Target,
    config: &FollowConfig,
    metrics: &Arc<Metrics>,
    cursor: Cursor,
    until: u64,
    range: u64,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<u64> {
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Fetched>>(4);
    let fetcher = {
        let provider = provider.clone();
        let target = target.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let mut next = cursor.block_number + 1;
            let mut range = range;
            while next <= until {
                let to = (next + range - 1).min(until);
                let r = fetch_range(&provider, &target, next, to).await;
                if let Ok(f) = &r {
                    range = adapt(range, f.logs.len(), f.to.number - f.from + 1, &config);
                    next = f.to.number + 1;
                }
                let failed = r.is_err();
                if tx.send(r).await.is_err() || failed {
                    break;
                }
            }
            range
        })
    };
    let mut result = Ok(());
    let mut progress = Progress::new(cursor.block_number, until);
    loop {
        tokio::select! {
            batch = rx.recv() => match batch {
                Some(Ok(fetched)) => {
                    let to = fetched.to.number;
                    if let Err(e) = write(conn, provider, target, metrics, fetched).await {
                        result = Err(e);
                        break;
                    }
                    progress.update(to, metrics.events.load(Ordering::Relaxed));
                }
                Some(Err(e)) => { result = Err(e); break; }
                None => break,
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(rx);
    progress.finish();
    let range = fetcher.await.unwrap_or(range);
    result.map(|_| range)
}

/// A one-line progress bar on stderr while backfilling, when stderr is a terminal.
struct Progress {
    enabled: bool,
    from: u64,
    until: u64,
    started: Instant,
    events_at_start: Option<u64>,
    last: Instant,
}

impl Progress {
    fn new(from: u64, until: u64) -> Self {
        use std::io::IsTerminal;
        let enabled = std::io::stderr().is_terminal() && until > from + 1_000;
        Self { enabled, from, until, started: Instant::now(), events_at_start: None, last: Instant::now() }
    }

    fn update(&mut self, block: u64, events: u64) {
        if !self.enabled {
            return;
        }
        let base = *self.events_at_start.get_or_insert(events);
        if self.last.elapsed() < Duration::from_millis(200) && block < self.until {
            return;
        }
        self.last = Instant::now();
        let done = (block - self.from) as f64 / (self.until - self.from).max(1) as f64;
        let width = 30;
        let filled = ((done * width as f64) as usize).min(width);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\rbackfill [{}{}] {:>5.1}%  block {block}/{}  {:.0} events/s ",
            "#".repeat(filled),
            " ".repeat(width - filled),
            done * 100.0,
            self.until,
            (events - base) as f64 / secs
        );
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

/// Applies one fetched range and moves the cursor, in one transaction.
async fn write(
    conn: &mut PgConnection,
    provider: &DynProvider,
    target: &Target,
    metrics: &Metrics,
    fetched: Fetched,
) -> anyhow::Result<()> {
    let mut times: HashMap<u64, u64> = HashMap::new();
    times.insert(fetched.to.number, fetched.to.timestamp);
    let mut events: Vec<(Position, Event)> = Vec::with_capacity(fetched.logs.len());
    for log in &fetched.logs {
        if log.removed {
            continue;
        }
        let Some(event) = decode(log) else { continue };
        let block_number = log.block_number.context("log without block number")?;
        let block_time = match log.block_timestamp.or_else(|| times.get(&block_number).copied()) {
            Some(t) => t,
            None => {
                let t = header(provider, block_number).await?.timestamp;
                times.insert(block_number, t);
                t
            }
        };
        events.push((
            Position {
                block_number,
                block_hash: log.block_hash.context("log without block hash")?,
                block_time,
                tx_hash: log.transaction_hash.context("log without tx hash")?,
                log_index: log.log_index.context("log without index")?,
            },
            event,
        ));
    }
    events.sort_by_key(|(p, _)| (p.block_number, p.log_index));

    let mut ops: Vec<String> = events.iter().filter_map(|(_, e)| e.operation_id().map(str::to_owned)).collect();
    ops.sort();
    ops.dedup();

    let started = Instant::now();
    let mut tx = conn.begin().await?;
    // The cursor must not have moved under us (a second writer would be a bug).
    let cursor = store::load_cursor(&mut tx, target).await?.context("cursor vanished")?;
    if cursor.block_number + 1 != fetched.from {
        bail!("cursor at {} but batch starts at {}", cursor.block_number, fetched.from);
    }
    let holds = store::load_holds(&mut tx, target, &ops).await?;
    let clearables = store::load_clearables(&mut tx, target, &ops).await?;
    let (pending, pending_types) = store::load_pending(&mut tx, target.chain_id, &ops).await?;
    let loaded = started.elapsed();
    let fx = apply(&events, holds, clearables, pending, pending_types);
    let applied = started.elapsed();
    let new_cursor = Cursor { block_number: fetched.to.number, block_hash: fetched.to.hash };
    let seen = [SeenBlock {
        number: fetched.to.number,
        hash: fetched.to.hash,
        parent_hash: fetched.to.parent_hash,
        timestamp: fetched.to.timestamp,
    }];
    store::write_batch(&mut tx, target, &events, &fx, &seen, &new_cursor).await?;
    tx.commit().await?;
    debug!(
        events = events.len(),
        blocks = fetched.to.number + 1 - fetched.from,
        load_ms = loaded.as_millis() as u64,
        apply_ms = (applied - loaded).as_millis() as u64,
        write_ms = (started.elapsed() - applied).as_millis() as u64,
        "batch committed"
    );

    metrics.events.fetch_add(events.len() as u64, Ordering::Relaxed);
    metrics.movements.fetch_add(fx.movements.len() as u64, Ordering::Relaxed);
    metrics.batches.fetch_add(1, Ordering::Relaxed);
    metrics.cursor.store(new_cursor.block_number, Ordering::Relaxed);
    metrics.last_block_time.store(fetched.to.timestamp, Ordering::Relaxed);
    Ok(())
}

/// Finds the newest stored block that is still canonical and rolls back to it.
async fn handle_reorg(conn: &mut PgConnection, provider: &DynProvider, target: &Target, metrics: &Metrics) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    let stored = reorg::recent_blocks(&mut tx, target).await?;
    let mut ancestor = None;
    for block in stored {
        if canonical_hash(provider, block.block_number).await? == Some(block.block_hash) {
            ancestor = Some(block);
            break;
        }
    }
    let Some(ancestor) = ancestor else {
        bail!("reorg deeper than the {REORG_WINDOW}-block window: no stored block is canonical any more; re-index from scratch");
    };
    let orphaned = reorg::rollback(&mut tx, target, &ancestor).await?;
    tx.commit().await?;
    metrics.reorgs.fetch_add(1, Ordering::Relaxed);
    warn!(ancestor = ancestor.block_number, orphaned_events = orphaned, "reorg: rolled back to the common ancestor");
    Ok(())
}

/// Wakes the loop on a new head: a websocket subscription when configured
/// (which also hands over the head), a poll interval otherwise.
struct HeadSignal {
    stream: Option<futures::stream::BoxStream<'static, Header>>,
    _provider: Option<DynProvider>,
    url: Option<String>,
    /// When the subscription was last tried (it is tried again every 10 s while polling).
    tried: Instant,
}

impl HeadSignal {
    async fn new(config: &FollowConfig) -> Self {
        let mut signal = Self { stream: None, _provider: None, url: config.ws_url.clone(), tried: Instant::now() };
        signal.resubscribe().await;
        signal
    }

    async fn resubscribe(&mut self) {
        let Some(url) = self.url.clone() else { return };
        self.tried = Instant::now();
        match tokio::time::timeout(Duration::from_secs(2), Self::subscribe(&url)).await {
            Ok(Ok((provider, stream))) => {
                info!(%url, "following new heads by websocket subscription");
                self.stream = Some(stream);
                self._provider = Some(provider);
            }
            Ok(Err(e)) => warn!(%url, error = %e, "websocket subscription unavailable; polling"),
            Err(_) => warn!(%url, "websocket subscription timed out; polling"),
        }
    }

    async fn subscribe(url: &str) -> anyhow::Result<(DynProvider, futures::stream::BoxStream<'static, Header>)> {
        use alloy::providers::{ProviderBuilder, WsConnect};
        let provider = ProviderBuilder::new().connect_ws(WsConnect::new(url)).await?.erased();
        let sub = provider.subscribe_blocks().await?;
        let heads = sub.into_stream().map(|h| Header {
            number: h.inner.number,
            hash: h.hash,
            parent_hash: h.inner.parent_hash,
            timestamp: h.inner.timestamp,
        });
        Ok((provider, heads.boxed()))
    }

    /// The next announced head, if the subscription gave one.
    async fn wait(&mut self, poll: Duration) -> Option<Header> {
        match &mut self.stream {
            Some(s) => match tokio::time::timeout(poll.max(Duration::from_secs(1)), s.next()).await {
                Ok(Some(head)) => Some(head),
                // quiet for a while: look anyway
                Err(_) => None,
                // the socket died (the node restarted): poll from now on, rather than
                // spinning on an ended stream
                Ok(None) => {
                    warn!("the new-heads subscription ended; polling every {poll:?}");
                    self.stream = None;
                    self._provider = None;
                    tokio::time::sleep(poll).await;
                    None
                }
            },
            None => {
                tokio::time::sleep(poll).await;
                if self.url.is_some() && self.tried.elapsed() > Duration::from_secs(10) {
                    self.resubscribe().await;
                }
                None
            }
        }
    }
}
