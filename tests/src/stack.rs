//! Pieces of a real stack for end-to-end tests: a private Postgres cluster
//! (one per test binary, a fresh database per test), anvil from the pinned npm
//! package, an EmToken deployment, and the `emledger` binary as a subprocess.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::Context;
use emledger_contracts::{deploy_em_token, toolchain, Deployment, TokenParams};
use emledger_ledger::{db, postgres::PrivateCluster};
use sqlx::PgPool;

static CLUSTER: OnceLock<PrivateCluster> = OnceLock::new();

/// The cargo profile directory (`target/debug`): test binaries run from its
/// `deps/` subdirectory, other binaries from the directory itself.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("profile dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

pub fn target_dir() -> PathBuf {
    profile_dir().parent().expect("target dir").to_path_buf()
}

/// `target/test-state`: where tests and benchmarks keep clusters and logs.
pub fn test_state_dir() -> PathBuf {
    target_dir().join("test-state")
}

/// The `emledger` binary built by `cargo build --bin emledger`.
pub fn emledger_bin() -> PathBuf {
    let bin = profile_dir().join("emledger");
    assert!(bin.exists(), "{} is missing: run `cargo build --bin emledger` first (scripts/test does)", bin.display());
    bin
}

/// A TCP port on 127.0.0.1 that is free now and that the kernel will not hand
/// out by itself: it lies below the ephemeral range (`ip_local_port_range`),
/// where every outgoing connection and every `bind(:0)` (anvil's own port
/// included) takes its port. A port taken from `bind(:0)` and released can be
/// grabbed by any client connection before the server that was meant to get
/// it binds it; CI saw exactly that as "Address already in use".
pub fn free_port() -> u16 {
    use rand::Rng;
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()))
        .unwrap_or(32768);
    let (from, to) = if low > 12000 { (10000, low) } else { (61000, 65535) };
    let mut rng = rand::thread_rng();
    for _ in 0..1000 {
        let port = rng.gen_range(from..to);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free TCP port in {from}..{to}");
}

/// This test binary's private cluster, once a database was made in it.
pub fn cluster() -> Option<&'static PrivateCluster> {
    CLUSTER.get()
}

/// `target/test-state/<this binary's name>`: where its private cluster lives.
pub fn cluster_state_dir() -> PathBuf {
    let binary = std::env::current_exe().unwrap();
    let stem = binary.file_stem().unwrap().to_string_lossy().into_owned();
    test_state_dir().join(stem)
}

/// Stops this binary's private cluster. The handle lives in a static that is
/// never dropped, so a test binary leaves its cluster running for the next run;
/// a benchmark calls this on its way out (also after an error or a signal).
/// A server found on the state dir without a handle (its start was interrupted)
/// is stopped too.
pub fn stop_cluster() -> anyhow::Result<()> {
    match CLUSTER.get() {
        Some(cluster) => cluster.stop(),
        None if cluster_state_dir().join("pgdata").join("postmaster.pid").exists() => {
            PrivateCluster::start(&cluster_state_dir())?.stop()
        }
        None => Ok(()),
    }
}

/// A fresh, migrated database in the shared private cluster.
pub async fn fresh_database(name: &str) -> anyhow::Result<(PgPool, String)> {
    let cluster = CLUSTER.get_or_init(|| PrivateCluster::start(&cluster_state_dir()).expect("private Postgres cluster"));
    let url = cluster.create_database(name)?;
    let pool = db::connect(&url, 8).await?;
    db::migrate(&pool).await?;
    Ok((pool, url))
}

/// A running anvil, its deployed EmToken and a provider signing as the platform.
pub struct Chain {
    pub anvil: AnvilInstance,
    pub platform: PrivateKeySigner,
    pub provider: DynProvider,
    pub deployment: Deployment,
}

impl Chain {
    /// Anvil with automine, EmToken deployed by account 0 (the platform).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_args(&[]).await
    }

    pub async fn start_with_args(args: &[&str]) -> anyhow::Result<Self> {
        emledger_ledger::rpc::install_tls_provider();
        // keep recent states in memory only: anvil otherwise persists every
        // historical state to ~/.foundry/anvil/tmp and a killed anvil leaves them there
        let anvil = Anvil::at(toolchain::anvil())
            .args(["--prune-history", "512"])
            .args(args.iter().copied())
            .spawn();
        let platform: PrivateKeySigner = anvil.keys()[0].clone().into();
        let provider = Self::signer_provider(&anvil, &platform);
        let deployment = deploy_em_token(&provider, &TokenParams::eur(platform.address())).await?;
        Ok(Self { anvil, platform, provider, deployment })
    }

    /// A provider that signs with `signer`.
    pub fn signer_provider(anvil: &AnvilInstance, signer: &PrivateKeySigner) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_http(anvil.endpoint_url())
            .erased()
    }

    /// Account `i` of anvil's deterministic set.
    pub fn account(&self, i: usize) -> PrivateKeySigner {
        self.anvil.keys()[i].clone().into()
    }

    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }

    /// Records the deployment in `pool` the way `emledger deploy` does.
    pub async fn record(&self, pool: &PgPool) -> anyhow::Result<()> {
        let parent: B256 = self
            .provider
            .get_block_by_number((self.deployment.block_number - 1).into())
            .await?
            .context("parent block")?
            .header
            .hash;
        let target = emledger_indexer_target(&self.deployment);
        let mut conn = pool.acquire().await?;
        sqlx::query(
            "INSERT INTO chain_cursor (chain_id, contract, deploy_block, block_number, block_hash, decimals)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(target.0 as i64)
        .bind(&target.1)
        .bind(self.deployment.block_number as i64)
        .bind(self.deployment.block_number as i64 - 1)
        .bind(format!("{parent:#x}"))
        .bind(self.deployment.decimals as i16)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn block_number(&self) -> anyhow::Result<u64> {
        Ok(self.provider.get_block_number().await?)
    }
}

fn emledger_indexer_target(d: &Deployment) -> (u64, String) {
    (d.chain_id, format!("{:#x}", d.address))
}

/// An `emledger indexer` subprocess.
pub struct IndexerProcess {
    pub child: Child,
}

impl IndexerProcess {
    /// Spawns `emledger indexer` against `rpc_url` and `database_url`.
    pub fn spawn(rpc_url: &str, database_url: &str, contract: Address, extra: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_with_env(rpc_url, database_url, contract, extra, &[])
    }

    /// Like [`IndexerProcess::spawn`], with extra environment variables.
    pub fn spawn_with_env(rpc_url: &str, database_url: &str, contract: Address, extra: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let log = target_dir().join("test-state").join("indexer.log");
        let _ = std::fs::create_dir_all(log.parent().unwrap());
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let child = Command::new(emledger_bin())
            .arg("--database-url")
            .arg(database_url)
            .arg("indexer")
            .arg("--rpc-url")
            .arg(rpc_url)
            .arg("--contract")
            .arg(format!("{contract:#x}"))
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", std::env::var("EMLEDGER_TEST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .context("spawning emledger indexer")?;
        Ok(Self { child })
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for IndexerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until the indexed cursor reaches `block`.
pub async fn wait_for_cursor(pool: &PgPool, block: u64, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let cursor: Option<(i64,)> = sqlx::query_as("SELECT block_number FROM chain_cursor").fetch_optional(pool).await?;
        if let Some((c,)) = cursor {
            if c as u64 >= block {
                return Ok(());
            }
        }
        if start.elapsed() > timeout {
            anyhow::bail!("indexer did not reach block {block} within {timeout:?} (cursor {cursor:?})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `emledger reconcile` and returns (exit success, stdout).
pub fn reconcile(rpc_url: &str, database_url: &str, contract: Address) -> anyhow::Result<(bool, String)> {
    let out = Command::new(emledger_bin())
        .arg("--database-url")
        .arg(database_url)
        .arg("reconcile")
        .arg("--rpc-url")
        .arg(rpc_url)
        .arg("--contract")
        .arg(format!("{contract:#x}"))
        .output()?;
    Ok((out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// A seed for randomized tests: `EMLEDGER_SEED` to replay, otherwise from the clock. Printed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("EMLEDGER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    eprintln!("{test}: seed {seed} (replay with EMLEDGER_SEED={seed})");
    seed
}
