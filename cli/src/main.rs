//! `emledger`: one binary, one subcommand per process role.
//!
//! Every subcommand finds Postgres the same way: `--database-url` /
//! `DATABASE_URL` when given, otherwise a private cluster under `--state-dir`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use emledger_contracts::{deploy_em_token, TokenParams};
use emledger_indexer::{FollowConfig, Metrics, Target};
use emledger_ledger::{db, postgres::PrivateCluster};
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::info;

mod relayer_status;
mod up;

#[derive(Parser, Debug)]
#[command(name = "emledger", version, about = "E-money ledger on an EVM chain: API, indexer and tools")]
struct Cli {
    /// Where local state lives (private Postgres data dir, anvil state).
    #[arg(long, env = "EMLEDGER_STATE_DIR", default_value = ".emledger", global = true)]
    state_dir: PathBuf,
    /// Postgres URL; when absent a private cluster is started under --state-dir.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "EMLEDGER_LOG_FORMAT", default_value = "text", global = true)]
    log_format: String,
    /// PEM file of the CA that signed an https:// node's certificate (a private
    /// network's CA); trusted besides the public roots.
    #[arg(long, env = "EMLEDGER_RPC_CA_FILE", global = true)]
    rpc_ca_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply the database migrations.
    Migrate,
    /// Deploy EmToken and record the deployment for the indexer and the API.
    Deploy(DeployArgs),
    /// Follow the chain and maintain the read model (exactly one writer at a time).
    Indexer(IndexerArgs),
    /// Compare the read model with the chain at the indexed block; exit 1 on any mismatch.
    Reconcile(ChainArgs),
    /// Serve the REST API (any number of replicas may run against one Postgres).
    Api(emledger_api::ApiConfig),
    /// The whole local stack: anvil, Postgres, deploy, indexer, API, demo data.
    Up(up::UpArgs),
    /// Manage tenants (the seed's "clients").
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// The platform's bank files (ISO 20022).
    #[command(subcommand)]
    Bank(BankCommand),
    /// Encrypted JSON keystores (Web3 Secret Storage) of the platform key, for
    /// `emledger api --platform-keystore`.
    #[command(subcommand)]
    Keystore(KeystoreCommand),
    /// The networks the platform runs on (a token and a CrossLedgerLink each).
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Drive cross-ledger transfers between the recorded networks: watch orders,
    /// check, accept or revoke, acknowledge, execute out and in (crash-safe; one
    /// submitter per network, standing by while another process holds its signer).
    Relayer(RelayerArgs),
}

#[derive(Subcommand, Debug)]
enum NetworkCommand {
    /// Record a network: its name (`dltNetwork`), token and link; the chain id is read from the node.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        rpc_url: String,
        /// The network's EmToken.
        #[arg(long)]
        token: Address,
        /// The network's CrossLedgerLink.
        #[arg(long)]
        link: Option<Address>,
        /// Orders are looked for from this block on (default: the node's head now).
        #[arg(long)]
        from_block: Option<u64>,
    },
    /// Print the recorded networks as JSON lines.
    List,
}

#[derive(clap::Args, Debug)]
struct RelayerArgs {
    /// NAME=URL: the JSON-RPC endpoint of each recorded network (repeat the flag, or comma-separate).
    #[arg(long = "network-rpc", env = "EMLEDGER_NETWORK_RPCS", value_delimiter = ',', required = true)]
    network_rpc: Vec<String>,
    /// The platform key (the links' cross-ledger operator).
    #[command(flatten)]
    key: PlatformKeyArgs,
    /// Pause between passes when nothing moved, in milliseconds.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// The most one cross-ledger transfer may move, in token minor units (more is revoked, reason 8).
    #[arg(long, env = "EMLEDGER_CROSS_LEDGER_MAX_AMOUNT")]
    max_amount: Option<u128>,
    /// Transfers advanced side by side in one pass.
    #[arg(long, env = "EMLEDGER_RELAYER_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Where to serve the relayer's /health and /metrics (none when not given).
    #[arg(long, env = "EMLEDGER_RELAYER_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// /health is DEGRADED when a cross-ledger transfer has been open this many seconds.
    #[arg(long, env = "EMLEDGER_STUCK_AFTER_SECS", default_value_t = 60)]
    stuck_after_secs: u64,
}

#[derive(Subcommand, Debug)]
enum KeystoreCommand {
    /// Make a new random platform key, stored only encrypted; prints its address.
    New(KeystoreArgs),
    /// Encrypt an existing key (from `--private-key-file`, else `EMLEDGER_PLATFORM_KEY`); prints its address.
    Import {
        #[command(flatten)]
        args: KeystoreArgs,
        /// A file whose first line is the hex private key.
        #[arg(long)]
        private_key_file: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
struct KeystoreArgs {
    /// The keystore file to write (refused if it exists).
    #[arg(long)]
    out: PathBuf,
    /// A file whose first line is the password (else EMLEDGER_PLATFORM_KEYSTORE_PASSWORD).
    #[arg(long, env = "EMLEDGER_PLATFORM_KEYSTORE_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
}

/// Writes the keystore of `key` (a fresh one when `None`) to `args.out`; its address.
fn write_keystore(args: &KeystoreArgs, key: Option<PrivateKeySigner>) -> anyhow::Result<alloy::primitives::Address> {
    anyhow::ensure!(!args.out.exists(), "{} exists already: not overwritten", args.out.display());
    let password = emledger_operations::submitter::keystore_password(args.password_file.as_deref())?;
    anyhow::ensure!(password.chars().count() >= 8, "the keystore password must have at least 8 characters");
    let dir = match args.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = args.out.file_name().context("--out names a file")?.to_string_lossy().into_owned();
    let mut rng = rand::thread_rng();
    let signer = match key {
        Some(k) => alloy_signer_local::LocalSigner::encrypt_keystore(&dir, &mut rng, k.to_bytes(), &password, Some(&name))
            .map_err(|e| anyhow::anyhow!("writing the keystore: {e}"))?
            .0,
        None => alloy_signer_local::LocalSigner::new_keystore(&dir, &mut rng, &password, Some(&name))
            .map_err(|e| anyhow::anyhow!("writing the keystore: {e}"))?
            .0,
    };
    Ok(signer.address())
}

#[derive(Subcommand, Debug)]
enum BankCommand {
    /// Import bank files (camt.053, camt.054, pain.002): booked credits mint to
    /// the wallet owning the creditor IBAN, once; payouts settle on the bank's answer.
    /// Prints one JSON report per file; exit 1 if a file could not be imported.
    Import {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The platform's own account (a statement of another account is refused).
        #[arg(long, env = "EMLEDGER_BANK_IBAN")]
        bank_iban: Option<String>,
        #[arg(long, env = "EMLEDGER_DLT_NETWORK", default_value = "anvil-local")]
        dlt_network: String,
    },
    /// List the entries no wallet could take (UNAPPLIED), with the reason, as JSON lines.
    Unapplied {
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
}

#[derive(Subcommand, Debug)]
enum TenantCommand {
    /// Create a tenant and print its clientId and first API key (shown once).
    Create {
        /// The tenant's name (`clientAlias`).
        #[arg(long)]
        alias: String,
        #[arg(long, env = "EMLEDGER_DLT_NETWORK", default_value = "anvil-local")]
        dlt_network: String,
    },
}

#[derive(Args, Debug, Clone)]
struct ChainArgs {
    /// JSON-RPC HTTP endpoint.
    #[arg(long, env = "EMLEDGER_RPC_URL", default_value = "http://127.0.0.1:8545")]
    rpc_url: String,
    /// EmToken address; defaults to the one deployment recorded for this chain.
    #[arg(long, env = "EMLEDGER_CONTRACT")]
    contract: Option<Address>,
    /// Name of the network shown as `dltNetwork`.
    #[arg(long, env = "EMLEDGER_DLT_NETWORK", default_value = "anvil-local")]
    dlt_network: String,
}

/// The platform's key: a hex private key or an encrypted keystore. Never logged
/// (its `Debug` says only whether a key was given).
#[derive(Args)]
struct PlatformKeyArgs {
    /// The platform's private key. Never logged.
    #[arg(long, env = "EMLEDGER_PLATFORM_KEY", hide_env_values = true)]
    platform_key: Option<String>,
    /// Or: the platform key from an encrypted keystore (`emledger keystore`).
    #[arg(long, env = "EMLEDGER_PLATFORM_KEYSTORE")]
    platform_keystore: Option<PathBuf>,
    /// A file whose first line is the keystore's password (else EMLEDGER_PLATFORM_KEYSTORE_PASSWORD).
    #[arg(long, env = "EMLEDGER_PLATFORM_KEYSTORE_PASSWORD_FILE")]
    platform_keystore_password_file: Option<PathBuf>,
}

impl std::fmt::Debug for PlatformKeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKeyArgs")
            .field("platform_key", &self.platform_key.as_ref().map(|_| "<redacted>"))
            .field("platform_keystore", &self.platform_keystore)
            .field("platform_keystore_password_file", &self.platform_keystore_password_file)
            .finish()
    }
}

impl PlatformKeyArgs {
    /// The signer, if a key was given.
    fn signer(&self) -> anyhow::Result<Option<PrivateKeySigner>> {
        emledger_operations::submitter::platform_signer(
            self.platform_key.as_deref(),
            self.platform_keystore.as_deref(),
            self.platform_keystore_password_file.as_deref(),
        )
    }
}

#[derive(Args, Debug)]
struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The platform key (operator, notary, minter, burner).
    #[command(flatten)]
    key: PlatformKeyArgs,
    #[arg(long, default_value_t = 2)]
    decimals: u8,
    /// ISO 4217 currency code.
    #[arg(long, default_value = "EUR")]
    currency: String,
    #[arg(long, default_value = "emledger EUR")]
    name: String,
    #[arg(long, default_value = "EEUR")]
    symbol: String,
}

#[derive(Args, Debug)]
struct IndexerArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Websocket endpoint for new-head subscriptions (polling when absent).
    #[arg(long, env = "EMLEDGER_WS_URL")]
    ws_url: Option<String>,
    /// Blocks to stay behind the head.
    #[arg(long, env = "EMLEDGER_CONFIRMATIONS", default_value_t = 0)]
    confirmations: u64,
    /// Poll interval in milliseconds when no websocket is available.
    #[arg(long, env = "EMLEDGER_POLL_MS", default_value_t = 100)]
    poll_ms: u64,
    /// First eth_getLogs range in blocks (adapted as the indexer goes).
    #[arg(long, env = "EMLEDGER_LOG_RANGE", default_value_t = 16)]
    log_range: u64,
    /// Largest eth_getLogs range in blocks.
    #[arg(long, env = "EMLEDGER_MAX_LOG_RANGE", default_value_t = 50_000)]
    max_log_range: u64,
    /// Where to serve /metrics and /health.
    #[arg(long, env = "EMLEDGER_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The pool, and the private cluster when we started one (it stops on drop).
async fn database(cli: &Cli) -> anyhow::Result<(PgPool, Option<PrivateCluster>)> {
    let (url, cluster) = match &cli.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let cluster = PrivateCluster::start(&cli.state_dir.join("postgres"))?;
            (cluster.url(), Some(cluster))
        }
    };
    let pool = db::connect(&url, 16).await?;
    db::migrate(&pool).await?;
    Ok((pool, cluster))
}

fn http_provider(url: &str) -> anyhow::Result<DynProvider> {
    emledger_ledger::rpc::http_provider(url).context("invalid --rpc-url")
}

async fn target(pool: &PgPool, provider: &DynProvider, chain: &ChainArgs) -> anyhow::Result<Target> {
    let chain_id = emledger_ledger::rpc::chain_id(provider, &chain.rpc_url).await?;
    let contract = match chain.contract {
        Some(c) => c,
        None => {
            let rows: Vec<(String,)> = sqlx::query_as("SELECT contract FROM chain_cursor WHERE chain_id = $1")
                .bind(chain_id as i64)
                .fetch_all(pool)
                .await?;
            match rows.as_slice() {
                [(c,)] => c.parse()?,
                [] => bail!("no EmToken deployment recorded for chain {chain_id}: run `emledger deploy` or pass --contract"),
                _ => bail!("several deployments recorded for chain {chain_id}: pass --contract"),
            }
        }
    };
    Ok(Target { chain_id, contract, dlt_network: chain.dlt_network.clone() })
}

fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    emledger_ledger::rpc::install_tls_provider();
    emledger_ledger::rpc::set_ca_file(cli.rpc_ca_file.clone());
    match &cli.command {
        Command::Migrate => {
            let (_pool, _cluster) = database(&cli).await?;
            println!("migrations applied");
        }
        Command::Deploy(args) => {
            let (pool, _cluster) = database(&cli).await?;
            let signer: PrivateKeySigner = args.key.signer()?
            .context("give the platform key: --platform-key or --platform-keystore")?;
            let provider = ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer.clone()))
                .connect_client(emledger_ledger::rpc::http_rpc_client(&args.chain.rpc_url).context("invalid --rpc-url")?);
            emledger_ledger::rpc::chain_id(&http_provider(&args.chain.rpc_url)?, &args.chain.rpc_url).await?;
            let params = TokenParams {
                name: args.name.clone(),
                symbol: args.symbol.clone(),
                decimals: args.decimals,
                currency: args.currency.clone(),
                admin: signer.address(),
                platform: signer.address(),
            };
            let deployment = deploy_em_token(&provider, &params).await?;
            let parent = provider
                .get_block_by_number(deployment.block_number.saturating_sub(1).into())
                .await?
                .context("parent of the deployment block")?
                .header
                .hash;
            let target = Target {
                chain_id: deployment.chain_id,
                contract: deployment.address,
                dlt_network: args.chain.dlt_network.clone(),
            };
            let mut conn = pool.acquire().await?;
            emledger_indexer::store::record_deployment(&mut conn, &target, deployment.block_number, parent, args.decimals)
                .await?;
            println!("{}", serde_json::to_string_pretty(&deployment)?);
        }
        Command::Indexer(args) => {
            let (pool, _cluster) = database(&cli).await?;
            let provider = http_provider(&args.chain.rpc_url)?;
            let target = target(&pool, &provider, &args.chain).await?;
            let metrics = std::sync::Arc::new(Metrics::default());
            if let Some(addr) = args.metrics_listen {
                let m = metrics.clone();
                tokio::spawn(async move {
                    if let Err(e) = emledger_indexer::metrics::serve(addr, m).await {
                        tracing::error!(error = %e, "metrics server failed");
                    }
                });
            }
            let config = FollowConfig {
                confirmations: args.confirmations,
                poll_interval: Duration::from_millis(args.poll_ms),
                initial_range: args.log_range,
                max_range: args.max_log_range.max(1),
                ws_url: args.ws_url.clone(),
                ..FollowConfig::default()
            };
            emledger_indexer::run(pool, provider, target, config, metrics, shutdown_signal()).await?;
        }
        Command::Reconcile(chain) => {
            let (pool, _cluster) = database(&cli).await?;
            let provider = http_provider(&chain.rpc_url)?;
            let target = target(&pool, &provider, chain).await?;
            let report = emledger_indexer::reconcile::reconcile(&pool, &provider, &target).await?;
            for m in &report.mismatches {
                println!("MISMATCH {m}");
            }
            println!(
                "reconciled {} addresses and {} platform transactions at block {}: {} mismatches",
                report.addresses,
                report.transactions,
                report.block,
                report.mismatches.len()
            );
            if !report.mismatches.is_empty() {
                std::process::exit(1);
            }
        }
        Command::Api(config) => {
            let (pool, _cluster) = database(&cli).await?;
            let mut stop = shutdown_signal();
            emledger_api::serve(config.clone(), pool, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await?;
        }
        Command::Up(args) => {
            up::up(cli.state_dir.clone(), cli.database_url.clone(), args).await?;
        }
        Command::Network(NetworkCommand::Add { name, rpc_url, token, link, from_block }) => {
            let (pool, _cluster) = database(&cli).await?;
            let provider = emledger_ledger::rpc::http_provider(rpc_url)?;
            let chain_id = emledger_ledger::rpc::chain_id(&provider, rpc_url).await?;
            let link_block = match from_block {
                Some(b) => *b,
                None => alloy::providers::Provider::get_block_number(&provider).await.context("reading the head")?,
            };
            let network = emledger_operations::crossledger::Network { name: name.clone(), chain_id, token: *token, link: *link, link_block };
            emledger_operations::crossledger::register_network(&pool, &network).await?;
            println!("{}", serde_json::json!({"name": name, "chainId": chain_id, "token": token, "link": link, "fromBlock": link_block}));
        }
        Command::Network(NetworkCommand::List) => {
            let (pool, _cluster) = database(&cli).await?;
            for n in emledger_operations::crossledger::networks(&pool).await? {
                println!("{}", serde_json::json!({"name": n.name, "chainId": n.chain_id, "token": n.token, "link": n.link, "fromBlock": n.link_block}));
            }
        }
        Command::Relayer(args) => {
            let (pool, _cluster) = database(&cli).await?;
            let mut rpc_urls = std::collections::HashMap::new();
            for pair in &args.network_rpc {
                let (name, url) = pair.split_once('=').with_context(|| format!("--network-rpc {pair:?}: expected NAME=URL"))?;
                rpc_urls.insert(name.trim().to_owned(), url.trim().to_owned());
            }
            let signer = args.key.signer()?
            .context("the relayer signs as the platform: give --platform-key or --platform-keystore")?;
            let mut config = emledger_operations::crossledger::RelayerConfig::new(rpc_urls, signer);
            config.poll = std::time::Duration::from_millis(args.poll_ms.max(10));
            config.max_amount = args.max_amount.map(alloy::primitives::U256::from);
            config.concurrency = args.concurrency.max(1);
            if let Some(addr) = args.metrics_listen {
                let stuck_after = Duration::from_secs(args.stuck_after_secs.max(1));
                relayer_status::spawn(addr, pool.clone(), config.health.clone(), stuck_after).await?;
            }
            emledger_operations::crossledger::run(pool, config, shutdown_signal()).await?;
        }
        Command::Bank(BankCommand::Import { files, bank_iban, dlt_network }) => {
            let (pool, _cluster) = database(&cli).await?;
            let platform = emledger_operations::Platform::new(pool, dlt_network.clone(), None, None).await?;
            let options = emledger_operations::bank::ImportOptions { account_iban: bank_iban.clone(), actor: Some(emledger_operations::audit::Actor::cli(None)) };
            let mut failed = false;
            for file in files {
                let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                match emledger_operations::bank::import(&platform, &name, &bytes, &options).await {
                    Ok(report) => println!("{}", serde_json::to_string(&report)?),
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        failed = true;
                    }
                }
            }
            if failed {
                std::process::exit(1);
            }
        }
        Command::Bank(BankCommand::Unapplied { limit }) => {
            let (pool, _cluster) = database(&cli).await?;
            let platform = emledger_operations::Platform::new(pool, "-".into(), None, None).await?;
            for e in emledger_operations::bank::entries(&platform, Some("UNAPPLIED"), *limit).await? {
                println!("{}", serde_json::to_string(&e)?);
            }
        }
        Command::Keystore(cmd) => {
            let (args, key) = match cmd {
                KeystoreCommand::New(args) => (args, None),
                KeystoreCommand::Import { args, private_key_file } => {
                    let text = match private_key_file {
                        Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?.lines().next().unwrap_or("").to_owned(),
                        None => std::env::var("EMLEDGER_PLATFORM_KEY").map_err(|_| anyhow::anyhow!("give the key in --private-key-file or EMLEDGER_PLATFORM_KEY"))?,
                    };
                    (args, Some(emledger_operations::submitter::parse_key(&text)?))
                }
            };
            let address = write_keystore(args, key)?;
            println!("{}", serde_json::json!({ "keystore": args.out, "address": format!("{address:#x}") }));
        }
        Command::Tenant(TenantCommand::Create { alias, dlt_network }) => {
            let (pool, _cluster) = database(&cli).await?;
            let (client_id, api_key) = emledger_api::create_tenant(&pool, alias, dlt_network).await?;
            println!("{}", serde_json::json!({ "clientId": client_id, "apiKey": api_key }));
        }
    }
    Ok(())
}
