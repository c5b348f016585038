//! [`Platform`]: what every command and worker shares — the pool, the followed
//! token's facts (from the indexer's `chain_cursor`), the platform's address
//! (minter, default operator and notary), the clock, and the submitter's wake-up.

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::{
    money::{self, Token},
    pipeline::SubmitterHealth,
    scheduler::{Clock, SystemClock},
    Error, Result,
};

/// What the indexer recorded about the token (the `chain_cursor` row).
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// Token decimals: minor units are divided by 10^decimals on the wire.
    pub decimals: u32,
    /// (chain id, contract) of the followed token, when known.
    pub token: Option<(i64, String)>,
    /// The token's ISO 4217 currency (`EmToken.currency()`), once the indexer has read it.
    pub currency: Option<String>,
}

impl ChainInfo {
    /// The currency every wallet of this token is in: the token's own, or `EUR`
    /// (the deploy default) while the indexer has not read it yet.
    pub fn wallet_currency(&self) -> &str {
        self.currency.as_deref().unwrap_or("EUR")
    }
}

struct Inner {
    pool: PgPool,
    dlt_network: String,
    signer: Option<Address>,
    chain: RwLock<ChainInfo>,
    last_chain_probe: Mutex<Option<Instant>>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    submitter: Arc<SubmitterHealth>,
    workers: Arc<crate::workers::WorkerHealth>,
    dependencies: Arc<crate::watchdog::Dependencies>,
    psp: std::sync::OnceLock<crate::psp::SharedPsp>,
    payouts: std::sync::atomic::AtomicBool,
}

/// The money domain's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Platform(Arc<Inner>);

#[derive(sqlx::FromRow)]
struct CursorRow {
    chain_id: i64,
    contract: String,
    decimals: i16,
    currency: Option<String>,
}

/// The followed token: the one of this platform's network when `dlt_networks`
/// names it (several networks share the database), else the one deployment.
async fn read_cursor(pool: &PgPool, dlt_network: &str) -> anyhow::Result<Option<ChainInfo>> {
    let row: Option<CursorRow> = sqlx::query_as(
        "SELECT c.chain_id, c.contract, c.decimals, c.currency FROM chain_cursor c
         LEFT JOIN dlt_networks n ON n.name = $1
         WHERE n.name IS NULL OR (c.chain_id = n.chain_id AND lower(c.contract) = lower(n.token))
         ORDER BY c.updated_at DESC LIMIT 1",
    )
    .bind(dlt_network)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| ChainInfo {
        decimals: r.decimals.clamp(0, 28) as u32,
        token: Some((r.chain_id, r.contract.to_ascii_lowercase())),
        currency: r.currency,
    }))
}

impl Platform {
    /// Reads the token's facts from `chain_cursor` (falling back to 2 decimals,
    /// with a warning, until the indexer has written one).
    pub async fn new(pool: PgPool, dlt_network: String, signer: Option<Address>, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Self> {
        let chain = match read_cursor(&pool, &dlt_network).await? {
            Some(c) => c,
            None => {
                tracing::warn!("no chain_cursor row yet: assuming 2 token decimals until the indexer writes one");
                ChainInfo { decimals: 2, token: None, currency: None }
            }
        };
        Ok(Platform(Arc::new(Inner {
            pool,
            dlt_network,
            signer,
            chain: RwLock::new(chain),
            last_chain_probe: Mutex::new(Some(Instant::now())),
            clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
            wake: Arc::new(Notify::new()),
            submitter: Arc::default(),
            workers: Arc::default(),
            dependencies: Arc::new(crate::watchdog::Dependencies::new()),
            psp: std::sync::OnceLock::new(),
            payouts: std::sync::atomic::AtomicBool::new(false),
        })))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    /// Sets the card PSP (once, at start; later calls are ignored).
    pub fn set_psp(&self, psp: crate::psp::SharedPsp) {
        let _ = self.0.psp.set(psp);
    }

    /// The card PSP, or 409 `psp_not_configured`.
    pub fn psp(&self) -> Result<crate::psp::SharedPsp> {
        self.0.psp.get().cloned().ok_or_else(|| {
            Error::conflict("psp_not_configured", "card cash-ins are not available: no card payment provider (PSP) is configured on this platform")
        })
    }

    /// Cash-outs are possible: a payment-file writer runs against the bank outbox.
    pub fn enable_payouts(&self) {
        self.0.payouts.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Ok when cash-outs can reach a bank, else 409 `bank_not_configured`.
    pub fn payouts_enabled(&self) -> Result<()> {
        if self.0.payouts.load(std::sync::atomic::Ordering::Relaxed) {
            Ok(())
        } else {
            Err(Error::conflict("bank_not_configured", "cash-outs are not available: no bank outbox (--bank-outbox) is configured on this platform"))
        }
    }

    /// The DLT network name stored on wallets, movements and holds.
    pub fn dlt_network(&self) -> &str {
        &self.0.dlt_network
    }

    /// The platform's address, when this process has the platform key.
    pub fn signer_address(&self) -> Option<Address> {
        self.0.signer
    }

    /// The platform's address, or 503 `platform_signer_unavailable`.
    pub fn signer(&self) -> Result<Address> {
        self.0.signer.ok_or_else(|| Error::Unavailable {
            code: "platform_signer_unavailable",
            message: "this API process has no platform key configured".into(),
        })
    }

    /// "Now" for schedules (the system clock unless a test injected one).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.0.clock.clone()
    }

    /// Tells the in-process submitter that operations are waiting.
    pub fn wake_submitter(&self) {
        self.0.wake.notify_one();
    }

    /// What the submitter waits on.
    /// What this process's submitter reports (see [`crate::pipeline::health`]).
    pub fn submitter_health(&self) -> Arc<SubmitterHealth> {
        self.0.submitter.clone()
    }

    /// How this process's background workers are doing (see [`crate::workers`]).
    pub fn workers(&self) -> Arc<crate::workers::WorkerHealth> {
        self.0.workers.clone()
    }

    /// What the dependency watchdog last saw (see [`crate::watchdog`]).
    pub fn dependencies(&self) -> Arc<crate::watchdog::Dependencies> {
        self.0.dependencies.clone()
    }

    pub fn wake_handle(&self) -> Arc<Notify> {
        self.0.wake.clone()
    }

    /// After a command that stored operations committed: the crash-test hook,
    /// then wake the submitter.
    pub fn stored(&self) {
        money::fault_point("after_store");
        self.wake_submitter();
    }

    /// The token facts; re-reads the cursor (at most every 5 s) while it lacks the
    /// token or the token's currency.
    pub async fn chain(&self) -> ChainInfo {
        let current = self.0.chain.read().map(|c| c.clone()).unwrap_or(ChainInfo { decimals: 2, token: None, currency: None });
        // the token's currency comes later than the deployment (the indexer reads it)
        if current.token.is_some() && current.currency.is_some() {
            return current;
        }
        let due = {
            let mut last = self.0.last_chain_probe.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(5));
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            if let Ok(Some(found)) = read_cursor(self.pool(), &self.0.dlt_network).await {
                if let Ok(mut w) = self.0.chain.write() {
                    *w = found.clone();
                }
                return found;
            }
        }
        current
    }

    /// The token facts, or 503 `chain_not_ready` while no deployment is recorded.
    pub async fn token(&self) -> Result<Token> {
        let c = self.chain().await;
        match c.token {
            Some((chain_id, contract)) => {
                let address: Address = contract.parse().map_err(|_| Error::internal("bad contract address in chain_cursor"))?;
                Ok(Token { chain_id, contract, address, decimals: c.decimals })
            }
            None => Err(Error::Unavailable {
                code: "chain_not_ready",
                message: "no token deployment is recorded yet; money cannot move".into(),
            }),
        }
    }
}
