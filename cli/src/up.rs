//! `emledger up`: the whole local stack in one process tree — anvil (unless an
//! RPC URL is given), a private Postgres (unless `DATABASE_URL` is given),
//! migrations, the EmToken deployment (reused when recorded for this chain),
//! the indexer and the API, demo data, and a banner with everything a backend
//! developer, a dApp developer or a tester needs. Ctrl-C stops it all; state
//! survives a restart unless `--fresh`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use alloy::{
    network::EthereumWallet,
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::{bail, Context};
use clap::Args;
use emledger_contracts::{deploy_em_token, toolchain, TokenParams};
use emledger_indexer::{FollowConfig, Metrics, Target};
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::{info, warn};

/// anvil's well-known development mnemonic ("test test ... junk"): public by design.
const ANVIL_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The first ten keys of that mnemonic (anvil's default accounts); public development keys.
const ANVIL_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Use this JSON-RPC node instead of starting anvil.
    #[arg(long, env = "EMLEDGER_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Websocket endpoint of that node (new-head subscriptions).
    #[arg(long, env = "EMLEDGER_WS_URL")]
    pub ws_url: Option<String>,
    /// Port for the local anvil.
    #[arg(long, default_value_t = 8545)]
    pub anvil_port: u16,
    /// Where the API listens.
    #[arg(long, env = "EMLEDGER_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub api_listen: String,
    /// How the submitter prices transactions: auto, eip1559 or legacy (see `emledger api --help`).
    #[arg(long, env = "EMLEDGER_GAS_MODE", default_value = "auto")]
    pub gas_mode: String,
    /// The legacy gasPrice in wei (0 on zero-price chains).
    #[arg(long, env = "EMLEDGER_GAS_PRICE_WEI")]
    pub gas_price_wei: Option<u128>,
    /// Per-tenant rate limits of the API.
    #[command(flatten)]
    pub rate_limits: emledger_api::RateLimitConfig,
    /// The platform key (operator, notary, minter, burner). Defaults to anvil's account 0
    /// when anvil is started here. Never logged.
    #[arg(long, env = "EMLEDGER_PLATFORM_KEY", hide_env_values = true)]
    pub platform_key: Option<String>,
    /// Start from nothing: wipe the anvil state and the database.
    #[arg(long)]
    pub fresh: bool,
    /// Do not create demo users, wallets, balances and a hold.
    #[arg(long)]
    pub no_demo: bool,
    /// Name shown as `dltNetwork`.
    #[arg(long, env = "EMLEDGER_DLT_NETWORK", default_value = "anvil-local")]
    pub dlt_network: String,
    /// 2: a second network for cross-ledger transfers: another anvil (chain id
    /// 31338, port --anvil-port + 1, network `<dlt-network>-2`) with its own
    /// EmToken, a CrossLedgerLink on each, an indexer per network and the relayer.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub networks: u8,
}

/// The second network of `up --networks 2`.
struct Second {
    anvil: AnvilProcess,
    rpc_url: String,
    ws_url: String,
    provider: DynProvider,
    target: Target,
    links: (emledger_operations::crossledger::Network, emledger_operations::crossledger::Network),
}

/// The link of `target`'s network, deployed (and recorded in `dlt_networks`)
/// unless the recorded one is still on the chain.
async fn ensure_link(
    pool: &PgPool,
    provider: &DynProvider,
    rpc_url: &str,
    signer: &PrivateKeySigner,
    target: &Target,
    other_chain: u64,
) -> anyhow::Result<emledger_operations::crossledger::Network> {
    use emledger_operations::crossledger::{networks, register_network, Network};
    let recorded = networks(pool).await?.into_iter().find(|n| n.name == target.dlt_network);
    if let Some(n) = recorded {
        if let Some(link) = n.link {
            if n.token == target.contract && n.chain_id == target.chain_id && !provider.get_code_at(link).await?.is_empty() {
                return Ok(n);
            }
        }
    }
    let wallet_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer.clone())).connect_client(emledger_ledger::rpc::http_rpc_client(rpc_url)?);
    let currency = emledger_contracts::EmToken::new(target.contract, &wallet_provider).currency().call().await?;
    let d = emledger_contracts::deploy_cross_ledger_link(&wallet_provider, target.contract, signer.address(), &[other_chain], &currency).await?;
    let n = Network {
        name: target.dlt_network.clone(),
        chain_id: target.chain_id,
        token: target.contract,
        link: Some(d.address),
        link_block: d.block_number,
    };
    register_network(pool, &n).await?;
    info!(network = %n.name, link = %d.address, "CrossLedgerLink deployed");
    Ok(n)
}

/// Starts the second anvil, deploys (or reuses) its token and both links.
async fn second_network(
    state_dir: &Path,
    args: &UpArgs,
    pool: &PgPool,
    first: (&DynProvider, &str, &Target),
    platform: &PrivateKeySigner,
) -> anyhow::Result<Second> {
    if args.fresh {
        state_file::remove(&state_dir.join("anvil-2"));
    }
    let port = args.anvil_port.checked_add(1).context("--anvil-port + 1 is out of range")?;
    let anvil = AnvilProcess::start_as(state_dir, port, 31338, "anvil-2")?;
    let rpc_url = format!("http://127.0.0.1:{port}");
    let provider = emledger_ledger::rpc::http_provider(&rpc_url)?;
    wait_for_rpc(&provider).await?;
    let name = format!("{}-2", args.dlt_network);
    let (target, _) = deployment(pool, &provider, platform, &rpc_url, &name).await?;
    let link_a = ensure_link(pool, first.0, first.1, platform, first.2, target.chain_id).await?;
    let link_b = ensure_link(pool, &provider, &rpc_url, platform, &target, first.2.chain_id).await?;
    Ok(Second { anvil, rpc_url, ws_url: format!("ws://127.0.0.1:{port}"), provider, target, links: (link_a, link_b) })
}

/// The bearer-token signing secret of this local stack, kept in the state dir
/// (mode 0600) so tokens survive a restart.
fn jwt_secret(state_dir: &Path) -> anyhow::Result<String> {
    state_secret(state_dir, "jwt-secret")
}

/// A random secret kept (0600) in the state dir across restarts.
fn state_secret(state_dir: &Path, name: &str) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = state_dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().to_owned());
        }
    }
    std::fs::create_dir_all(state_dir)?;
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    let secret = alloy::hex::encode(bytes);
    std::fs::write(&path, &secret)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(secret)
}

/// anvil rewrites its state file in place (truncate, then write) every
/// `--state-interval`: killed in that window (kill -9 of `up` takes anvil with
/// it) it leaves an empty or cut-off file it then refuses to start from. `up`
/// keeps the last copy that parsed (`state.good.json`, written aside and
/// renamed, so never torn itself) and starts from it when `state.json` is torn:
/// a few seconds older, which the submitter's rewind handling already covers.
mod state_file {
    use std::{
        path::{Path, PathBuf},
        time::SystemTime,
    };

    pub const STATE: &str = "state.json";
    pub const GOOD: &str = "state.good.json";

    /// A complete JSON document (what anvil can load), not an empty or cut-off one.
    pub fn is_whole(bytes: &[u8]) -> bool {
        !bytes.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    }

    /// The state file's (modified, length): a new one means anvil wrote again.
    pub type Stamp = (SystemTime, u64);

    fn stamp(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Copies a whole `state.json` to `state.good.json` when it changed since
    /// `last`; a file caught mid-write is skipped (the next pass takes it).
    pub fn checkpoint(dir: &Path, last: Option<Stamp>) -> std::io::Result<Option<Stamp>> {
        let path = dir.join(STATE);
        let Some(now) = stamp(&path) else { return Ok(last) };
        if Some(now) == last {
            return Ok(last);
        }
        let bytes = std::fs::read(&path)?;
        // written again while read: take it next time
        if stamp(&path) != Some(now) || !is_whole(&bytes) {
            return Ok(last);
        }
        write_aside(&dir.join(GOOD), &bytes)?;
        Ok(Some(now))
    }

    fn write_aside(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }

    /// Before anvil starts: a torn `state.json` is moved aside and the last
    /// whole copy put in its place. Says what it did, if anything.
    pub fn recover(dir: &Path) -> std::io::Result<Option<String>> {
        let path = dir.join(STATE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if is_whole(&bytes) {
            return Ok(None);
        }
        let torn: PathBuf = dir.join("state.torn.json");
        std::fs::rename(&path, &torn)?;
        let good = std::fs::read(dir.join(GOOD)).ok().filter(|b| is_whole(b));
        Ok(Some(match good {
            Some(good) => {
                write_aside(&path, &good)?;
                format!(
                    "the state file was torn ({} bytes, an interrupted write; kept as {}): starting from the last whole copy, {GOOD}",
                    bytes.len(),
                    torn.display()
                )
            }
            None => format!(
                "the state file was torn ({} bytes; kept as {}) and no whole copy exists: anvil starts with an empty chain",
                bytes.len(),
                torn.display()
            ),
        }))
    }

    /// Forgets the chain (`--fresh`).
    pub fn remove(dir: &Path) {
        for name in [STATE, GOOD] {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn dir(name: &str) -> PathBuf {
            let d = std::env::temp_dir().join(format!("emledger-state-file-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            d
        }

        #[test]
        fn a_torn_state_file_is_replaced_by_the_last_whole_copy() {
            let d = dir("torn");
            std::fs::write(d.join(STATE), br#"{"block":{"number":"0x7"},"accounts":{}}"#).unwrap();
            let stamp = checkpoint(&d, None).unwrap();
            assert!(stamp.is_some());
            assert_eq!(std::fs::read(d.join(GOOD)).unwrap(), std::fs::read(d.join(STATE)).unwrap());
            // unchanged: nothing copied again
            assert_eq!(checkpoint(&d, stamp).unwrap(), stamp);
            // kill -9 mid-write: a cut-off document, then an empty one
            for torn in [&br#"{"block":{"number":"0x9"},"acc"#[..], b""] {
                std::fs::write(d.join(STATE), torn).unwrap();
                // a torn file is never taken as the good copy
                checkpoint(&d, None).unwrap();
                assert!(is_whole(&std::fs::read(d.join(GOOD)).unwrap()));
                let said = recover(&d).unwrap().expect("recovered");
                assert!(said.contains("last whole copy"), "{said}");
                assert_eq!(std::fs::read(d.join(STATE)).unwrap(), br#"{"block":{"number":"0x7"},"accounts":{}}"#);
                assert_eq!(std::fs::read(d.join("state.torn.json")).unwrap(), torn);
            }
            // a whole file is left alone
            assert_eq!(recover(&d).unwrap(), None);
            let _ = std::fs::remove_dir_all(&d);
        }

        #[test]
        fn without_a_whole_copy_anvil_starts_empty_and_says_so() {
            let d = dir("none");
            assert_eq!(recover(&d).unwrap(), None, "no state file: nothing to do");
            std::fs::write(d.join(STATE), b"{\"block\":").unwrap();
            let said = recover(&d).unwrap().expect("recovered");
            assert!(said.contains("no whole copy"), "{said}");
            assert!(!d.join(STATE).exists());
            let _ = std::fs::remove_dir_all(&d);
        }
    }
}

/// The anvil child: SIGINT on stop so it writes its state file. In a process
/// group of its own (a Ctrl-C in the terminal reaches `up`, which stops it in
/// order) and killed by the kernel if `up` dies (never orphaned).
struct AnvilProcess {
    child: Child,
    port: u16,
    chain_id: u64,
    /// Its directory under the state dir (`anvil`, `anvil-2`).
    dir: &'static str,
    /// The state file last copied aside whole.
    checkpointed: Option<state_file::Stamp>,
}

impl AnvilProcess {
    fn start(state_dir: &Path, port: u16) -> anyhow::Result<Self> {
        Self::start_as(state_dir, port, 31337, "anvil")
    }

    fn start_as(state_dir: &Path, port: u16, chain_id: u64, dir_name: &'static str) -> anyhow::Result<Self> {
        // a port taken by something else (an anvil an earlier run left, another
        // node) would make this anvil die and the stack talk to a stranger
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            bail!(
                "port {port} is already in use by another process, so anvil cannot start there: stop that process \
                 (an anvil left by an earlier run?) or pass --anvil-port"
            );
        }
        let dir = state_dir.join(dir_name);
        std::fs::create_dir_all(&dir)?;
        // the logs of earlier runs are kept: appended to, one header per start
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("anvil.log"))?;
        {
            use std::io::Write;
            writeln!(log, "==== emledger up: anvil starting at unix time {} ====", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))?;
            if let Some(said) = state_file::recover(&dir)? {
                warn!(dir = %dir.display(), "{said}");
                writeln!(log, "==== emledger up: {said} ====")?;
            }
        }
        let mut cmd = Command::new(toolchain::anvil());
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--chain-id", &chain_id.to_string()])
            .args(["--accounts", "10", "--mnemonic", ANVIL_MNEMONIC])
            .arg("--state")
            .arg(dir.join("state.json"))
            .args(["--state-interval", "2"])
            // cap what anvil writes to ~/.foundry/anvil/tmp on a long-running dev chain
            .args(["--max-persisted-states", "256"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null());
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
            // SAFETY: async-signal-safe calls only, between fork and exec
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().with_context(|| format!("starting {} (run scripts/setup)", toolchain::anvil().display()))?;
        Ok(Self { child, port, chain_id, dir: dir_name, checkpointed: None })
    }

    /// The same anvil again, from its state file.
    fn restart(&self, state_dir: &Path) -> anyhow::Result<Self> {
        Self::start_as(state_dir, self.port, self.chain_id, self.dir)
    }

    /// Keeps the last whole state file aside (see [`state_file`]); a failure
    /// is said and tried again on the next tick.
    async fn checkpoint(&mut self, state_dir: &Path) {
        let (dir, last) = (state_dir.join(self.dir), self.checkpointed);
        match tokio::task::spawn_blocking(move || state_file::checkpoint(&dir, last)).await {
            Ok(Ok(stamp)) => self.checkpointed = stamp,
            Ok(Err(e)) => warn!(error = %e, dir = self.dir, "could not keep a copy of anvil's state file"),
            Err(e) => warn!(error = %e, "state file checkpoint task"),
        }
    }

    /// `Some(status)` once the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let pid = self.child.id() as i32;
        // SIGINT lets anvil dump its state; give it a moment, then make sure.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_for_rpc(provider: &DynProvider) -> anyhow::Result<u64> {
    for _ in 0..100 {
        if let Ok(id) = provider.get_chain_id().await {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the JSON-RPC node did not answer")
}

/// Reuses the deployment recorded for this chain when its code is still there.
async fn deployment(
    pool: &PgPool,
    provider: &DynProvider,
    signer: &PrivateKeySigner,
    rpc_url: &str,
    dlt_network: &str,
) -> anyhow::Result<(Target, bool)> {
    let chain_id = emledger_ledger::rpc::chain_id(provider, rpc_url).await?;
    let recorded: Vec<(String,)> =
        sqlx::query_as("SELECT contract FROM chain_cursor WHERE chain_id = $1").bind(chain_id as i64).fetch_all(pool).await?;
    if let [(contract,)] = recorded.as_slice() {
        let contract: Address = contract.parse()?;
        if !provider.get_code_at(contract).await?.is_empty() {
            return Ok((Target { chain_id, contract, dlt_network: dlt_network.to_owned() }, false));
        }
        bail!(
            "the database records EmToken at {contract:#x} on chain {chain_id}, but the chain has no code there \
             (was the chain reset?). Start with --fresh to begin again."
        );
    }
    if recorded.len() > 1 {
        bail!("several deployments recorded for chain {chain_id}; use --fresh");
    }
    let wallet_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer.clone())).connect_client(emledger_ledger::rpc::http_rpc_client(rpc_url)?);
    let d = deploy_em_token(&wallet_provider, &TokenParams::eur(signer.address())).await?;
    let parent = wallet_provider
        .get_block_by_number(d.block_number.saturating_sub(1).into())
        .await?
        .context("parent block")?
        .header
        .hash;
    let target = Target { chain_id, contract: d.address, dlt_network: dlt_network.to_owned() };
    let mut conn = pool.acquire().await?;
    emledger_indexer::store::record_deployment(&mut conn, &target, d.block_number, parent, d.decimals).await?;
    Ok((target, true))
}

/// A fresh demo API key (older demo keys are revoked: a secret is shown only once).
/// The demo tenant and its key. The key `up` made is kept in the state dir (mode
/// 0600, like the JWT secret) and printed again at every start while it is live:
/// an integration configured with it — or with any key made through the API —
/// keeps working across restarts of the dev stack. Only when that key is gone
/// (revoked, `--fresh`) does `up` make a new one, revoking the earlier keys it
/// made itself and never the tenant's own.
async fn demo_tenant(pool: &PgPool, dlt_network: &str, state_dir: &Path) -> anyhow::Result<(uuid::Uuid, String, bool)> {
    use std::os::unix::fs::PermissionsExt;
    const NAME: &str = "emledger up";
    let path = state_dir.join("demo-api-key");
    let keep = |key: &str| -> anyhow::Result<()> {
        std::fs::write(&path, key)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    };
    let existing: Option<(uuid::Uuid,)> =
        sqlx::query_as("SELECT id FROM clients WHERE alias = 'demo' ORDER BY created_at LIMIT 1").fetch_optional(pool).await?;
    match existing {
        None => {
            let (id, key) = emledger_api::create_tenant(pool, "demo", dlt_network).await?;
            keep(&key)?;
            Ok((id, key, true))
        }
        Some((id,)) => {
            if let Ok(stored) = std::fs::read_to_string(&path) {
                let stored = stored.trim();
                if emledger_api::api_key_is_live(pool, id, stored).await? {
                    return Ok((id, stored.to_owned(), false));
                }
            }
            sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE client_id = $1 AND name = $2 AND revoked_at IS NULL")
                .bind(id)
                .bind(NAME)
                .execute(pool)
                .await?;
            let (_, key) = emledger_api::create_api_key(pool, id, NAME, &emledger_api::Scope::ALL).await?;
            keep(&key)?;
            Ok((id, key, false))
        }
    }
}

/// Demo users with wallets, balances and a hold — all through the API, so the
/// platform's submitter signs every transaction (nothing here may send with
/// the platform key behind its back: the nonces would collide).
async fn demo_data(api: &str, key: &str, indexed: &PgPool) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let mut wallets = Vec::new();
    for (name, phone, country) in [("Alice Demo", "+34600000001", "ES"), ("Bob Demo", "+34600000002", "ES")] {
        let user: serde_json::Value = http
            .post(format!("{api}/api/v1/public/users"))
            .header("X-API-Key", key)
            .json(&serde_json::json!({ "name": name, "phoneNumber": phone, "country": country }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let wallet = user["walletId"].as_str().context("walletId")?.to_owned();
        // a card cash-in, paid on the PSP simulator's page
        let cash_in: serde_json::Value = http
            .post(format!("{api}/api/v1/public/wallets/{wallet}/cards/cashIns"))
            .header("X-API-Key", key)
            .json(&serde_json::json!({
                "amount": "1000.00",
                "successUrl": format!("{api}/health"),
                "rejectUrl": format!("{api}/health"),
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let page = cash_in["paymentUrl"].as_str().context("paymentUrl")?;
        // the page's Pay button, as a script presses it
        let paid = http.post(format!("{page}&action=pay")).send().await?;
        anyhow::ensure!(paid.status().is_redirection(), "paying the demo cash-in: {}", paid.status());
        wallets.push(wallet);
    }
    // wait until both cash-ins are on chain and indexed
    for _ in 0..300 {
        let (done,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM movements WHERE type = 'CARD_CASHIN' AND status = 'SUCCESS'",
        )
        .fetch_one(indexed)
        .await?;
        if done >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Alice holds 25.00 for Bob, the platform as notary
    http.post(format!("{api}/api/v1/public/wallets/{}/hold", wallets[0]))
        .header("X-API-Key", key)
        .json(&serde_json::json!({ "amount": "25.00", "targetWalletId": wallets[1], "concept": "demo hold" }))
        .send()
        .await?
        .error_for_status()?;
    for _ in 0..300 {
        let (done,): (i64,) = sqlx::query_as("SELECT count(*) FROM holds WHERE status = 'CREATED'").fetch_one(indexed).await?;
        if done >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Bob pays Alice, and pays her 5.00 every month from 30 days on: the console's
    // first screen has transfers, settled operations in its chart, and a schedule
    http.post(format!("{api}/api/v1/public/wallets/{}/transfer", wallets[1]))
        .header("X-API-Key", key)
        .json(&serde_json::json!({ "amount": "10.00", "targetWalletId": wallets[0], "concept": "demo transfer" }))
        .send()
        .await?
        .error_for_status()?;
    http.post(format!("{api}/api/v1/public/wallets/{}/scheduled-operations", wallets[1]))
        .header("X-API-Key", key)
        .json(&serde_json::json!({
            "alias": "demo allowance",
            "amount": "5.00",
            "concept": "demo allowance",
            "receiver": { "type": "IOCASH_WALLET", "account": wallets[0] },
            "schedule": { "startDate": days_from_now(30), "frequency": "MONTHLY" },
        }))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// 09:00 UTC `days` days from now, RFC 3339.
fn days_from_now(days: u64) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    // days since 1970-01-01 to a civil date (H. Hinnant's algorithm)
    let z = (secs / 86_400 + days) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T09:00:00Z")
}

pub async fn up(state_dir: PathBuf, database_url: Option<String>, args: &UpArgs) -> anyhow::Result<()> {
    if args.fresh {
        state_file::remove(&state_dir.join("anvil"));
    }
    let (rpc_url, ws_url, mut anvil) = match &args.rpc_url {
        Some(url) => (url.clone(), args.ws_url.clone(), None),
        None => {
            let a = AnvilProcess::start(&state_dir, args.anvil_port)?;
            (
                format!("http://127.0.0.1:{}", args.anvil_port),
                Some(format!("ws://127.0.0.1:{}", args.anvil_port)),
                Some(a),
            )
        }
    };
    let platform_key: String = match (&args.platform_key, &anvil) {
        (Some(k), _) => k.trim().to_owned(),
        (None, Some(_)) => ANVIL_KEYS[0].to_owned(),
        (None, None) => bail!("--platform-key (EMLEDGER_PLATFORM_KEY) is required with --rpc-url"),
    };
    let platform: PrivateKeySigner = platform_key.parse().context("invalid platform key")?;
    let read_provider = emledger_ledger::rpc::http_provider(&rpc_url)?;
    let chain_id = wait_for_rpc(&read_provider).await?;

    let (url, cluster) = match database_url {
        Some(u) => (u, None),
        None => {
            let c = emledger_ledger::postgres::PrivateCluster::start(&state_dir.join("postgres"))?.owned();
            if args.fresh {
                c.create_database("emledger")?;
            }
            (c.url(), Some(c))
        }
    };
    let pool = emledger_ledger::db::connect(&url, 32).await?;
    emledger_ledger::db::migrate(&pool).await?;

    let (target, deployed_now) = deployment(&pool, &read_provider, &platform, &rpc_url, &args.dlt_network).await?;
    let mut second = match (args.networks, &anvil) {
        (1, _) => None,
        (_, None) => bail!("--networks 2 starts a second local anvil: it does not go with --rpc-url"),
        (_, Some(_)) => Some(second_network(&state_dir, args, &pool, (&read_provider, &rpc_url, &target), &platform).await?),
    };
    let (stop_tx, stop_rx) = watch::channel(false);

    // indexer, in this process
    let metrics = Arc::new(Metrics::default());
    let mut indexer = tokio::spawn(emledger_indexer::run(
        pool.clone(),
        read_provider.clone(),
        target.clone(),
        FollowConfig { ws_url: ws_url.clone(), ..FollowConfig::default() },
        metrics.clone(),
        stop_rx.clone(),
    ));

    // the second network: its indexer and the cross-ledger relayer, in this process
    let start_indexer_2 = |second: &Second| {
        tokio::spawn(emledger_indexer::run(
            pool.clone(),
            second.provider.clone(),
            second.target.clone(),
            FollowConfig { ws_url: Some(second.ws_url.clone()), ..FollowConfig::default() },
            Arc::new(Metrics::default()),
            stop_rx.clone(),
        ))
    };
    let start_relayer = |second: &Second| {
        let rpc_urls = [(second.links.0.name.clone(), rpc_url.clone()), (second.links.1.name.clone(), second.rpc_url.clone())].into_iter().collect();
        tokio::spawn(emledger_operations::crossledger::run(
            pool.clone(),
            emledger_operations::crossledger::RelayerConfig::new(rpc_urls, platform.clone()),
            stop_rx.clone(),
        ))
    };
    let mut indexer_2 = second.as_ref().map(start_indexer_2);
    let mut relayer = second.as_ref().map(start_relayer);

    // API, in this process
    let api_config = emledger_api::ApiConfig {
        listen: args.api_listen.clone(),
        dlt_network: args.dlt_network.clone(),
        rpc_url: Some(rpc_url.clone()),
        platform_key: Some(platform_key.clone()),
        jwt_secret: Some(jwt_secret(&state_dir)?),
        // card cash-ins through the local PSP simulator (its passphrases derive from the platform key)
        psp_simulator: true,
        // SEPA through a local simulated bank: pain.001 out, pain.002 / camt.054 back in
        bank_inbox: Some(state_dir.join("bank/inbox")),
        bank_outbox: Some(state_dir.join("bank/outbox")),
        bank_simulator: true,
        bank_cutoff_ms: 5_000,
        operator_token: Some(state_secret(&state_dir, "operator-token")?),
        // webhook signing secrets sealed at rest under a key kept (0600) in the state dir
        secrets_key: Some(state_secret(&state_dir, "secrets-key")?),
        rate_limits: args.rate_limits.clone(),
        gas_mode: args.gas_mode.clone(),
        gas_price_wei: args.gas_price_wei,
        ..emledger_api::ApiConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(&args.api_listen)
        .await
        .with_context(|| format!("binding the API to {}", args.api_listen))?;
    let api_addr = listener.local_addr()?;
    let api_url = format!("http://{api_addr}");
    let mut api_stop = stop_rx.clone();
    let api = tokio::spawn(emledger_api::serve_on(listener, api_config, pool.clone(), async move {
        let _ = api_stop.wait_for(|s| *s).await;
    }));

    let (_client_id, api_key, new_tenant) = demo_tenant(&pool, &args.dlt_network, &state_dir).await?;
    if new_tenant && !args.no_demo {
        if let Err(e) = demo_data(&api_url, &api_key, &pool).await {
            warn!(error = %format!("{e:#}"), "could not create the demo data");
        }
    }

    let operator_token = state_secret(&state_dir, "operator-token")?;
    let inbox = std::path::absolute(state_dir.join("bank/inbox")).unwrap_or_else(|_| state_dir.join("bank/inbox"));
    let outbox = std::path::absolute(state_dir.join("bank/outbox")).unwrap_or_else(|_| state_dir.join("bank/outbox"));
    let rails = format!(
        "PSP simulator  {api_url}/card-payments/orderstandard_utf8.asp (card cash-ins; no real money)\n\
         Bank inbox     {}  (camt.053/camt.054 files here mint SEPA cash-ins)\n\
         Bank outbox    {}  (pain.001 files of the cash-outs; a simulated bank answers)\n\
         Operator token {operator_token}  (Authorization: Bearer, /api/v1/operator/...)\n",
        inbox.display(),
        outbox.display()
    );
    // what `cast send` needs on this chain: --legacy where blocks have no base fee (pre-London,
    // Besu/Quorum with gas price 0); the README's cast blocks pass $EMLEDGER_CAST_FLAGS
    let cast_flags = match read_provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await {
        Ok(Some(b)) if b.header.base_fee_per_gas.is_none() => "--legacy",
        _ => "",
    };
    let mut exports = format!(
        " EMLEDGER_BANK_INBOX={} EMLEDGER_OPERATOR_TOKEN={operator_token} EMLEDGER_CAST_FLAGS={cast_flags}",
        inbox.display()
    );
    let mut rails = rails;
    if let Some(s) = &second {
        let (a, b) = &s.links;
        let link = |n: &emledger_operations::crossledger::Network| n.link.map(|l| format!("{l:#x}")).unwrap_or_default();
        rails.push_str(&format!(
            "\nNetwork 2      {} (chain id {}): RPC {}, EmToken {:#x}\n             Links          CrossLedgerLink {} on {}, {} on {} (the relayer drives them)\n             Cross-ledger   create a wallet with \"dltNetwork\": \"{}\", order with orderTransfer on the origin's link;\n             \x20              GET {api_url}/api/v1/public/cross-ledger-transfers shows where it is\n",
            b.name,
            b.chain_id,
            s.rpc_url,
            s.target.contract,
            link(a),
            a.name,
            link(b),
            b.name,
            b.name
        ));
        exports.push_str(&format!(
            " EMLEDGER_LINK={} EMLEDGER_RPC_2={} EMLEDGER_TOKEN_2={:#x} EMLEDGER_LINK_2={} EMLEDGER_CHAIN_ID_2={} EMLEDGER_DLT_NETWORK_2={}",
            link(a),
            s.rpc_url,
            s.target.contract,
            link(b),
            b.chain_id,
            b.name
        ));
    }
    print_banner(&api_url, &rpc_url, ws_url.as_deref(), chain_id, &target, &api_key, anvil.is_some(), &platform, deployed_now, &rails, &exports);


    // Supervise until Ctrl-C / SIGTERM: what dies is started again, and said so.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if let Some(s) = second.as_mut() {
            s.anvil.checkpoint(&state_dir).await;
            if let Some(status) = s.anvil.exited() {
                warn!(%status, "the second anvil exited; starting it again from its state file");
                match s.anvil.restart(&state_dir) {
                    Ok(new) => s.anvil = new,
                    Err(e) => warn!(error = %format!("{e:#}"), "restarting the second anvil failed; trying again"),
                }
            }
            if indexer_2.as_ref().is_some_and(|j| j.is_finished()) {
                warn!("the second network's indexer stopped; starting it again");
                indexer_2 = Some(start_indexer_2(s));
            }
            if relayer.as_ref().is_some_and(|j| j.is_finished()) {
                if let Some(j) = relayer.take() {
                    warn!(result = ?j.await, "the relayer stopped");
                }
                warn!("starting the relayer again");
                relayer = Some(start_relayer(s));
            }
        }
        if let Some(a) = anvil.as_mut() {
            a.checkpoint(&state_dir).await;
            if let Some(status) = a.exited() {
                warn!(%status, "anvil exited; starting it again from its state file");
                match a.restart(&state_dir) {
                    Ok(new) => {
                        *a = new;
                        info!("anvil restarted");
                    }
                    Err(e) => warn!(error = %format!("{e:#}"), "restarting anvil failed; trying again"),
                }
            }
        }
        if let Some(c) = cluster.as_ref() {
            let c = c.clone_handle();
            let running = tokio::task::spawn_blocking(move || {
                if c.is_running() {
                    return Ok(true);
                }
                c.restart().map(|_| false)
            })
            .await?;
            match running {
                Ok(true) => {}
                Ok(false) => warn!("Postgres had stopped; started it again (the workers reconnect by themselves)"),
                Err(e) => warn!(error = %format!("{e:#}"), "Postgres is down and restarting it failed; trying again"),
            }
        }
        if indexer.is_finished() {
            let r = (&mut indexer).await;
            warn!("the indexer stopped ({r:?}); starting it again");
            indexer = tokio::spawn(emledger_indexer::run(
                pool.clone(),
                read_provider.clone(),
                target.clone(),
                FollowConfig { ws_url: ws_url.clone(), ..FollowConfig::default() },
                metrics.clone(),
                stop_rx.clone(),
            ));
        }
    }
    info!("stopping: API, indexer, anvil, Postgres");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), api).await;
    pool.close().await;
    if let Some(a) = anvil.as_mut() {
        a.stop();
    }
    if let Some(s) = second.as_mut() {
        s.anvil.stop();
    }
    drop(cluster);
    println!("emledger stopped.");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn print_banner(
    api_url: &str,
    rpc_url: &str,
    ws_url: Option<&str>,
    chain_id: u64,
    target: &Target,
    api_key: &str,
    local_anvil: bool,
    platform: &PrivateKeySigner,
    deployed_now: bool,
    rails: &str,
    extra_exports: &str,
) {
    let mut out = String::new();
    out.push_str("\n================ emledger is up ================\n");
    out.push_str(&format!("API            {api_url}/api/v1/public\n"));
    out.push_str(&format!("Console        {api_url}/console/  (sign in with the API key below)\n"));
    out.push_str(&format!("Swagger UI     {api_url}/docs\n"));
    out.push_str(&format!("OpenAPI        {api_url}/openapi.json\n"));
    out.push_str(&format!("Health         {api_url}/health\n"));
    out.push_str(&format!("RPC URL        {rpc_url}\n"));
    if let Some(ws) = ws_url {
        out.push_str(&format!("WS URL         {ws}\n"));
    }
    out.push_str(&format!("Chain id       {chain_id}\n"));
    out.push_str(&format!(
        "EmToken        {:#x}{}\n",
        target.contract,
        if deployed_now { " (deployed now)" } else { " (reused)" }
    ));
    out.push_str(&format!("Platform       {:#x} (operator, notary, minter, burner, clearing agent)\n", platform.address()));
    out.push_str(&format!("API key        {api_key}\n"));
    out.push_str("               (demo tenant; kept in the state dir across restarts)\n");
    out.push_str(rails);
    if local_anvil {
        out.push_str("\nAnvil accounts (address, private key) — public development keys:\n");
        for (i, key) in ANVIL_KEYS.iter().enumerate() {
            if let Ok(s) = key.parse::<PrivateKeySigner>() {
                let role = if i == 0 { "  <- platform / notary (used by the API; avoid for dApp tests)" } else { "" };
                out.push_str(&format!("  ({i}) {:#x}  {key}{role}\n", s.address()));
            }
        }
    }
    out.push_str("\nexport EMLEDGER_API=");
    out.push_str(api_url);
    out.push_str(" EMLEDGER_API_KEY=");
    out.push_str(api_key);
    out.push_str(&format!(" EMLEDGER_RPC={rpc_url} EMLEDGER_TOKEN={:#x}{extra_exports}\n", target.contract));
    out.push_str("Ctrl-C stops everything; state is kept in the state dir (use --fresh to start over).\n");
    out.push_str("================================================\n");
    println!("{out}");
}
