//! Configuration of the API process: flags, each also read from an environment variable.

use std::sync::Arc;

use clap::{ArgAction, Args};

/// `emledger api` flags.
#[derive(Clone, Args)]
pub struct ApiConfig {
    /// Address to listen on.
    #[arg(long, env = "EMLEDGER_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Secret for signing OAuth bearer tokens (HS256). When absent a random one is
    /// generated per process: tokens then do not survive restarts and are not
    /// accepted by other replicas.
    #[arg(long, env = "EMLEDGER_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// The DLT network name shown on wallets, movements and holds.
    #[arg(long, env = "EMLEDGER_DLT_NETWORK", default_value = "anvil-local")]
    pub dlt_network: String,

    /// Largest request body accepted, in bytes (larger → 413).
    #[arg(long, env = "EMLEDGER_API_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Public base URL prefixed to HAL links (e.g. `https://api.example.com`);
    /// links are root-relative paths when absent.
    #[arg(long, env = "EMLEDGER_API_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Lifetime of OAuth bearer tokens, in seconds.
    #[arg(long, env = "EMLEDGER_TOKEN_TTL_SECS", default_value_t = 900)]
    pub token_ttl_secs: u64,

    /// JSON-RPC endpoint of the chain the submitter sends operations to.
    #[arg(long, env = "EMLEDGER_RPC_URL")]
    pub rpc_url: Option<String>,

    /// The platform's private key (hex): minter, burner, default operator and notary.
    /// With it (and `--rpc-url`) this process runs the operation submitter. Never
    /// logged nor returned. (Keystore files are not supported yet.)
    #[arg(long, env = "EMLEDGER_PLATFORM_KEY", hide_env_values = true)]
    pub platform_key: Option<String>,

    /// Most signed-but-unmined transactions the submitter keeps in flight.
    #[arg(long, env = "EMLEDGER_MAX_IN_FLIGHT", default_value_t = 32)]
    pub max_in_flight: usize,

    /// Most operations the submitter packs into one chain transaction (EmToken
    /// `batch`); 1 sends every operation as its own transaction.
    #[arg(long, env = "EMLEDGER_BATCH_SIZE", default_value_t = 64)]
    pub batch_size: usize,

    /// Attempts an operation gets for failures of its own (a node error on its
    /// call, a failed write of its result) before it is FAILED.
    #[arg(long, env = "EMLEDGER_MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: u32,

    /// First retry delay of a failed operation in milliseconds; doubles per
    /// attempt, at most 30 s.
    #[arg(long, env = "EMLEDGER_RETRY_BASE_MS", default_value_t = 500)]
    pub retry_base_ms: u64,

    /// Blocks on top of an operation's block before it is SUCCESS (MINED until
    /// then). 0 on chains with instant finality (anvil, IBFT/QBFT consortium
    /// chains); more on chains that can reorg.
    #[arg(long, env = "EMLEDGER_CONFIRMATIONS", default_value_t = 0)]
    pub confirmations: u64,

    /// `/health` is DEGRADED when an operation has been PENDING, SIGNED or SENT
    /// without moving for this many seconds.
    #[arg(long, env = "EMLEDGER_STUCK_AFTER_SECS", default_value_t = 60)]
    pub stuck_after_secs: u64,

    /// Simulated bank: payouts (cash-outs) to these IBANs fail, so their funds are
    /// released back to the wallet. Comma-separated.
    #[arg(long, env = "EMLEDGER_BANK_REJECT_IBANS", value_delimiter = ',')]
    pub bank_reject_ibans: Vec<String>,

    /// Run the scheduled-operations worker in this process (`false` to leave it to
    /// other replicas; any number may run at once).
    #[arg(long, env = "EMLEDGER_SCHEDULER", default_value_t = true, action = ArgAction::Set)]
    pub scheduler: bool,

    /// How often the scheduled-operations worker looks for due occurrences, in milliseconds.
    #[arg(long, env = "EMLEDGER_SCHEDULER_INTERVAL_MS", default_value_t = 1000)]
    pub scheduler_interval_ms: u64,

    /// The clock of the API and its scheduler (the system clock when `None`; tests
    /// inject a `scheduler::ManualClock`). Not a flag.
    #[arg(skip)]
    pub clock: Option<Arc<dyn emledger_operations::scheduler::Clock>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            jwt_secret: None,
            dlt_network: "anvil-local".into(),
            max_body_bytes: 1024 * 1024,
            public_url: None,
            token_ttl_secs: 900,
            rpc_url: None,
            platform_key: None,
            max_in_flight: 32,
            batch_size: 64,
            max_attempts: 5,
            retry_base_ms: 500,
            confirmations: 0,
            stuck_after_secs: 60,
            bank_reject_ibans: Vec::new(),
            scheduler: true,
            scheduler_interval_ms: 1000,
            clock: None,
        }
    }
}

/// Debug output never shows the JWT secret nor the platform key.
impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("dlt_network", &self.dlt_network)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("public_url", &self.public_url)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("rpc_url", &self.rpc_url)
            .field("platform_key", &self.platform_key.as_ref().map(|_| "<redacted>"))
            .field("max_in_flight", &self.max_in_flight)
            .field("batch_size", &self.batch_size)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("confirmations", &self.confirmations)
            .field("stuck_after_secs", &self.stuck_after_secs)
            .field("bank_reject_ibans", &self.bank_reject_ibans)
            .field("scheduler", &self.scheduler)
            .field("scheduler_interval_ms", &self.scheduler_interval_ms)
            .field("clock", &self.clock.as_ref().map(|_| "<injected>"))
            .finish()
    }
}
