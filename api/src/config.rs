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
    /// links are root-relative paths when absent. Also where the card PSP sends the
    /// customer and its notifications back (else the bound address): it must be an
    /// absolute http(s) URL.
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

    /// The platform key from an encrypted JSON keystore (Web3 Secret Storage;
    /// `emledger keystore new|import` makes one) instead of `--platform-key`.
    #[arg(long, env = "EMLEDGER_PLATFORM_KEYSTORE")]
    pub platform_keystore: Option<std::path::PathBuf>,

    /// A file whose first line is the keystore's password (else
    /// `EMLEDGER_PLATFORM_KEYSTORE_PASSWORD`). Never logged.
    #[arg(long, env = "EMLEDGER_PLATFORM_KEYSTORE_PASSWORD_FILE")]
    pub platform_keystore_password_file: Option<std::path::PathBuf>,

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

    /// How the submitter prices transactions: `auto` (EIP-1559 when the chain's
    /// latest block has a base fee, legacy `gasPrice` otherwise), `eip1559` or
    /// `legacy`. The choice is logged at start.
    #[arg(long, env = "EMLEDGER_GAS_MODE", default_value = "auto")]
    pub gas_mode: String,

    /// The legacy `gasPrice` in wei (0 on zero-price consortium chains); the
    /// node's `eth_gasPrice` when absent. Only with legacy pricing.
    #[arg(long, env = "EMLEDGER_GAS_PRICE_WEI")]
    pub gas_price_wei: Option<u128>,

    /// A transaction not mined this many seconds after it was signed is replaced:
    /// signed again for the same nonce and call with fees at least 12.5% higher,
    /// when it is the nonce the chain waits for or it is priced below the chain's
    /// current fees (never on a zero-price chain). 0: never.
    #[arg(long, env = "EMLEDGER_REPLACE_AFTER_SECS", default_value_t = 60)]
    pub replace_after_secs: u64,

    /// The most a replacement may pay per gas (its max fee, or its gas price), in
    /// wei; at that cap a stuck transaction waits. No cap when absent.
    #[arg(long, env = "EMLEDGER_MAX_FEE_PER_GAS_WEI")]
    pub max_fee_per_gas_wei: Option<u128>,

    /// `/health` is DEGRADED when an operation has been PENDING, SIGNED or SENT
    /// without moving, or a background worker has failed every round, for this
    /// many seconds.
    #[arg(long, env = "EMLEDGER_STUCK_AFTER_SECS", default_value_t = 60)]
    pub stuck_after_secs: u64,

    /// The bank inbox: every `*.xml` file arriving here (camt.053, camt.054,
    /// pain.002 from the platform's bank) is imported, then moved to
    /// `processed/` (or `failed/` with a `.error` file). The only way SEPA money
    /// comes in.
    #[arg(long, env = "EMLEDGER_BANK_INBOX")]
    pub bank_inbox: Option<std::path::PathBuf>,

    /// The bank outbox: cash-outs leave as pain.001.001.09 files written here,
    /// one per cut-off run. Without it cash-outs answer 409 `bank_not_configured`.
    #[arg(long, env = "EMLEDGER_BANK_OUTBOX")]
    pub bank_outbox: Option<std::path::PathBuf>,

    /// The platform's own account at its bank (debtor of the payouts; a
    /// statement of another account is refused).
    #[arg(long, env = "EMLEDGER_BANK_IBAN", default_value = "ES0700120345030000067890")]
    pub bank_iban: Option<String>,

    /// The account holder's name on the payouts.
    #[arg(long, env = "EMLEDGER_BANK_ACCOUNT_NAME", default_value = "emledger e-money platform")]
    pub bank_account_name: String,

    /// The bank's BIC (optional in SEPA).
    #[arg(long, env = "EMLEDGER_BANK_BIC")]
    pub bank_bic: Option<String>,

    /// The payment-file cut-off: a pain.001 is made every this many milliseconds
    /// of the payouts reserved so far.
    #[arg(long, env = "EMLEDGER_BANK_CUTOFF_MS", default_value_t = 60_000)]
    pub bank_cutoff_ms: u64,

    /// How often the inbox is read, in milliseconds.
    #[arg(long, env = "EMLEDGER_BANK_INBOX_POLL_MS", default_value_t = 1000)]
    pub bank_inbox_poll_ms: u64,

    /// Run a simulated bank on the outbox and inbox (needs both): it takes the
    /// pain.001 files and answers with pain.002 and camt.054. Development and tests only.
    #[arg(long, env = "EMLEDGER_BANK_SIMULATOR", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub bank_simulator: bool,

    /// Simulated bank: transfers to these IBANs are rejected (pain.002 RJCT, AC04),
    /// so their funds are released back to the wallet. Comma-separated.
    #[arg(long, env = "EMLEDGER_BANK_REJECT_IBANS", value_delimiter = ',')]
    pub bank_reject_ibans: Vec<String>,

    /// The platform operator's token for `/api/v1/operator/...` (bank statements,
    /// unapplied entries, payment files), sent as `Authorization: Bearer`. Not a
    /// tenant credential; without it those routes do not exist. Never logged.
    #[arg(long, env = "EMLEDGER_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,

    /// Card PSP (Ogone / Ingenico / Worldline e-Commerce): the merchant's PSPID.
    /// With both passphrases it enables card cash-ins and the PSP's feedback
    /// routes (`/psp/ogone/notifications`, `/psp/ogone/return`).
    #[arg(long, env = "EMLEDGER_PSP_PSPID")]
    pub psp_pspid: Option<String>,

    /// The SHA-IN passphrase (signs the payment page's parameters). Never logged.
    #[arg(long, env = "EMLEDGER_PSP_SHA_IN", hide_env_values = true)]
    pub psp_sha_in: Option<String>,

    /// The SHA-OUT passphrase (verifies the PSP's returns and notifications). Never logged.
    #[arg(long, env = "EMLEDGER_PSP_SHA_OUT", hide_env_values = true)]
    pub psp_sha_out: Option<String>,

    /// The hash of both signatures, as set in the PSP's back office: sha1, sha256 or sha512.
    #[arg(long, env = "EMLEDGER_PSP_HASH", default_value = "sha512")]
    pub psp_hash: String,

    /// The PSP's hosted payment page.
    #[arg(long, env = "EMLEDGER_PSP_ENDPOINT", default_value = emledger_operations::psp::ogone::TEST_ENDPOINT)]
    pub psp_endpoint: String,

    /// Serve a local PSP simulator (same protocol, no real money) at
    /// `/card-payments/orderstandard_utf8.asp` and use it as the PSP. For
    /// development and tests only: whoever reaches its page can pay, and the
    /// platform then mints. `emledger up` turns it on; a warning is logged.
    #[arg(long, env = "EMLEDGER_PSP_SIMULATOR", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub psp_simulator: bool,

    /// Run the scheduled-operations worker in this process (`false` to leave it to
    /// other replicas; any number may run at once).
    #[arg(long, env = "EMLEDGER_SCHEDULER", default_value_t = true, action = ArgAction::Set)]
    pub scheduler: bool,

    /// How often the scheduled-operations worker looks for due occurrences, in milliseconds.
    #[arg(long, env = "EMLEDGER_SCHEDULER_INTERVAL_MS", default_value_t = 1000)]
    pub scheduler_interval_ms: u64,

    /// How often the hold expiry sweeper looks for expired holds to release, in milliseconds.
    #[arg(long, env = "EMLEDGER_HOLD_EXPIRY_INTERVAL_MS", default_value_t = 1000)]
    pub hold_expiry_interval_ms: u64,

    /// Release expired holds whose notary is not the platform too (after expiry
    /// anyone may): `false` leaves them to their notary.
    #[arg(long, env = "EMLEDGER_RELEASE_FOREIGN_EXPIRED_HOLDS", default_value_t = true, action = ArgAction::Set)]
    pub release_foreign_expired_holds: bool,

    /// Clear transfers ordered on the contract automatically by the clearing
    /// policy; `false` leaves every decision to the operator endpoints.
    #[arg(long, env = "EMLEDGER_CLEARING_AUTO", default_value_t = true, action = ArgAction::Set)]
    pub clearing_auto: bool,

    /// The largest amount the clearing agent executes automatically (a decimal
    /// in the token's currency, e.g. `10000.00`); larger ones are rejected. None: no limit.
    #[arg(long, env = "EMLEDGER_CLEARING_MAX_AMOUNT")]
    pub clearing_max_amount: Option<String>,

    /// How often the clearing agent looks for ordered transfers, in milliseconds.
    #[arg(long, env = "EMLEDGER_CLEARING_INTERVAL_MS", default_value_t = 1000)]
    pub clearing_interval_ms: u64,

    /// Deliver webhook events to the tenants' endpoints from this process
    /// (replicas share the work safely).
    #[arg(long, env = "EMLEDGER_WEBHOOKS", default_value_t = true, action = ArgAction::Set)]
    pub webhooks: bool,

    /// The first retry delay of a failed webhook delivery, in milliseconds; it
    /// doubles at every try up to `--webhook-retry-max-secs`.
    #[arg(long, env = "EMLEDGER_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000)]
    pub webhook_retry_base_ms: u64,

    /// The longest delay between two tries of a webhook delivery, in seconds.
    #[arg(long, env = "EMLEDGER_WEBHOOK_RETRY_MAX_SECS", default_value_t = 3600)]
    pub webhook_retry_max_secs: u64,

    /// How long a webhook delivery is retried before it is FAILED, in seconds (72 h).
    #[arg(long, env = "EMLEDGER_WEBHOOK_RETRY_PERIOD_SECS", default_value_t = 72 * 3600)]
    pub webhook_retry_period_secs: u64,

    /// Timeout of one webhook POST, in milliseconds.
    #[arg(long, env = "EMLEDGER_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,

    /// Failed tries in a row after which an endpoint shows as FAILING.
    #[arg(long, env = "EMLEDGER_WEBHOOK_FAILING_AFTER", default_value_t = 5)]
    pub webhook_failing_after: i32,

    /// CA certificates (PEM) trusted for webhook receivers' https, besides the public roots.
    #[arg(long, env = "EMLEDGER_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<std::path::PathBuf>,

    /// Let webhook endpoints resolve to private, link-local and loopback
    /// addresses (receivers on the operator's own network). Off: only public
    /// addresses (and plain http to localhost, for development).
    #[arg(long, env = "EMLEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub webhook_allow_private_targets: bool,

    /// Key (64 hex digits, e.g. `openssl rand -hex 32`) that seals webhook
    /// signing secrets at rest with AES-256-GCM; secrets stored before it was
    /// given are sealed at start. Without it they are stored as they are. Every
    /// API process of a deployment needs the same key.
    #[arg(long, env = "EMLEDGER_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// The key being rotated out (64 hex digits): secrets sealed under it still
    /// open, and are re-sealed under --secrets-key at start. Roll out in two
    /// steps: every process with `--secrets-key OLD --secrets-key-previous NEW`,
    /// then every process with `--secrets-key NEW --secrets-key-previous OLD`;
    /// then drop this flag.
    #[arg(long, env = "EMLEDGER_SECRETS_KEY_PREVIOUS", hide_env_values = true, requires = "secrets_key")]
    pub secrets_key_previous: Option<String>,

    /// Days webhook events (with their deliveries and attempts) are kept once
    /// delivered or given up; 0 keeps them forever.
    #[arg(long, env = "EMLEDGER_WEBHOOK_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_retention_days: u64,

    /// Per-tenant request rates (429 past them).
    #[command(flatten)]
    pub rate_limits: RateLimitConfig,

    /// The clock of the API and its scheduler (the system clock when `None`; tests
    /// inject a `scheduler::ManualClock`). Not a flag.
    #[arg(skip)]
    pub clock: Option<Arc<dyn emledger_operations::scheduler::Clock>>,
}

/// Per-tenant rate limits, per route class and per API process (with N
/// replicas behind a balancer a tenant gets up to N times these). A class
/// allows its rate per second on average and bursts of twice that.
#[derive(Clone, Debug, Args)]
pub struct RateLimitConfig {
    /// Reads (GET) per second per tenant; 0 turns the limit off.
    #[arg(long, env = "EMLEDGER_RATE_LIMIT_READS", default_value_t = 200)]
    pub rate_limit_reads: u32,

    /// Writes (POST, PUT, PATCH, DELETE, and token requests) per second per
    /// tenant; 0 turns the limit off.
    #[arg(long, env = "EMLEDGER_RATE_LIMIT_WRITES", default_value_t = 100)]
    pub rate_limit_writes: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { rate_limit_reads: 200, rate_limit_writes: 100 }
    }
}

impl RateLimitConfig {
    /// No limits (tests that load the API on purpose, benchmarks).
    pub fn off() -> Self {
        Self { rate_limit_reads: 0, rate_limit_writes: 0 }
    }
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
            bank_inbox: None,
            bank_outbox: None,
            bank_iban: Some("ES0700120345030000067890".into()),
            bank_account_name: "emledger e-money platform".into(),
            bank_bic: None,
            bank_cutoff_ms: 60_000,
            bank_inbox_poll_ms: 1000,
            bank_simulator: false,
            bank_reject_ibans: Vec::new(),
            operator_token: None,
            psp_pspid: None,
            psp_sha_in: None,
            psp_sha_out: None,
            psp_hash: "sha512".into(),
            psp_endpoint: emledger_operations::psp::ogone::TEST_ENDPOINT.into(),
            psp_simulator: false,
            scheduler: true,
            scheduler_interval_ms: 1000,
            hold_expiry_interval_ms: 1000,
            release_foreign_expired_holds: true,
            clearing_auto: true,
            clearing_max_amount: None,
            clearing_interval_ms: 1000,
            webhooks: true,
            webhook_retry_base_ms: 5000,
            webhook_retry_max_secs: 3600,
            webhook_retry_period_secs: 72 * 3600,
            webhook_timeout_ms: 10_000,
            webhook_failing_after: 5,
            webhook_ca_file: None,
            webhook_allow_private_targets: false,
            webhook_retention_days: 30,
            secrets_key: None,
            secrets_key_previous: None,
            rate_limits: RateLimitConfig::default(),
            gas_mode: "auto".into(),
            platform_keystore: None,
            platform_keystore_password_file: None,
            gas_price_wei: None,
            replace_after_secs: 60,
            max_fee_per_gas_wei: None,
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
            .field("bank_inbox", &self.bank_inbox)
            .field("bank_outbox", &self.bank_outbox)
            .field("bank_iban", &self.bank_iban)
            .field("bank_cutoff_ms", &self.bank_cutoff_ms)
            .field("bank_simulator", &self.bank_simulator)
            .field("bank_reject_ibans", &self.bank_reject_ibans)
            .field("operator_token", &self.operator_token.as_ref().map(|_| "<redacted>"))
            .field("psp_pspid", &self.psp_pspid)
            .field("psp_sha_in", &self.psp_sha_in.as_ref().map(|_| "<redacted>"))
            .field("psp_sha_out", &self.psp_sha_out.as_ref().map(|_| "<redacted>"))
            .field("psp_hash", &self.psp_hash)
            .field("psp_endpoint", &self.psp_endpoint)
            .field("psp_simulator", &self.psp_simulator)
            .field("scheduler", &self.scheduler)
            .field("scheduler_interval_ms", &self.scheduler_interval_ms)
            .field("hold_expiry_interval_ms", &self.hold_expiry_interval_ms)
            .field("release_foreign_expired_holds", &self.release_foreign_expired_holds)
            .field("clearing_auto", &self.clearing_auto)
            .field("clearing_max_amount", &self.clearing_max_amount)
            .field("clearing_interval_ms", &self.clearing_interval_ms)
            .field("webhooks", &self.webhooks)
            .field("webhook_retry_base_ms", &self.webhook_retry_base_ms)
            .field("webhook_retry_period_secs", &self.webhook_retry_period_secs)
            .field("clock", &self.clock.as_ref().map(|_| "<injected>"))
            .finish()
    }
}
