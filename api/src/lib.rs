//! The emledger REST API: transport over the money domain (`emledger_operations`)
//! and the Postgres read model.
//!
//! Tenants ("clients" in seed 003) authenticate with API keys (`X-API-Key`) or
//! short-lived HS256 bearer tokens from `POST /oauth/token`. Everything is under
//! `/api/v1/public/...`; `/health`, `/openapi.json` and `/docs` sit at the root.
//!
//! On the wire, amounts are JSON **strings** of exact decimals with exactly the
//! token's decimals (`"balance": "10.50"`): minor units from the read model divided
//! by 10^decimals (`chain_cursor.decimals`), never floats. Timestamps are RFC 3339
//! UTC. Errors are `{"error":{"code","message","details"}}` (codes: `http::docs`).
//!
//! Entry points: [`serve`] (bind, serve, shut down gracefully), [`router`] (the
//! axum router, for in-process use) and [`create_tenant`] (what the CLI's tenant
//! subcommand calls).

pub mod config;
pub mod http;
pub mod tenant;

pub use config::{ApiConfig, RateLimitConfig};
pub use http::{router, ApiContext};
pub use tenant::{api_key_is_live, create_api_key, create_tenant, revoke_api_key, Scope};

use std::future::Future;

use anyhow::Context;
use emledger_operations::{scheduler, submitter};
use sqlx::PgPool;

/// Binds `config.listen`, serves the API until `shutdown` resolves, then drains
/// in-flight requests. Logs the bound address (useful with port 0), never secrets.
pub async fn serve(
    config: ApiConfig,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    serve_on(listener, config, pool, shutdown).await
}

/// Like [`serve`] on an already bound listener (tests bind port 0 and read the
/// address before serving). With `--rpc-url` and `--platform-key` it also runs
/// the operation [`submitter`], stopped with the server.
///
/// [`submitter`]: emledger_operations::submitter
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ApiConfig,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    emledger_ledger::rpc::install_tls_provider();
    let mut config = config;
    if let Some(path) = config.platform_keystore.clone() {
        let signer = emledger_operations::submitter::platform_signer(
            config.platform_key.as_deref(),
            Some(&path),
            config.platform_keystore_password_file.as_deref(),
        )?
        .expect("a keystore gives a signer");
        tracing::info!(address = %signer.address(), keystore = %path.display(), "the platform key comes from a keystore");
        config.platform_key = Some(alloy::hex::encode_prefixed(signer.to_bytes()));
    }
    let addr = listener.local_addr()?;
    let base = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let ctx = ApiContext::with_base_url(config.clone(), pool.clone(), &base).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Postgres and the chain node, watched for /health and the request path
    let watchdog = tokio::spawn(emledger_operations::watchdog::run(
        pool.clone(),
        config.rpc_url.clone(),
        ctx.platform().dependencies(),
        stop_rx.clone(),
    ));
    // the scheduled-operations worker (issue 7): stores due occurrences as operations
    let scheduler = config.scheduler.then(|| {
        let interval = std::time::Duration::from_millis(config.scheduler_interval_ms.max(10));
        tokio::spawn(scheduler::Worker::new(ctx.platform().clone()).run(interval, stop_rx.clone()))
    });
    // lifecycles: expired holds released, clearable transfers cleared
    let expiry = tokio::spawn(emledger_operations::expiry::run(
        ctx.platform().clone(),
        emledger_operations::expiry::ExpiryConfig {
            interval: std::time::Duration::from_millis(config.hold_expiry_interval_ms.max(10)),
            release_foreign: config.release_foreign_expired_holds,
        },
        stop_rx.clone(),
    ));
    let clearing_max_amount = match config.clearing_max_amount.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let decimals = ctx.platform().chain().await.decimals;
            let amount = emledger_operations::money::amount("--clearing-max-amount", &serde_json::Value::String(s.into()), decimals)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(amount.minor())
        }
    };
    let clearing = tokio::spawn(emledger_operations::clearing::run(
        ctx.platform().clone(),
        emledger_operations::clearing::ClearingConfig {
            interval: std::time::Duration::from_millis(config.clearing_interval_ms.max(10)),
            auto: config.clearing_auto,
            max_amount: clearing_max_amount,
        },
        stop_rx.clone(),
    ));
    // webhooks: signed events POSTed to the tenants' endpoints (public addresses only unless allowed)
    emledger_operations::webhooks::target::set_allow_private(config.webhook_allow_private_targets);
    {
        use emledger_operations::webhooks::sealed;
        let key = config.secrets_key.as_deref().map(sealed::SealKey::from_hex).transpose().map_err(|e| anyhow::anyhow!("--secrets-key {e}"))?;
        let previous = config
            .secrets_key_previous
            .as_deref()
            .map(sealed::SealKey::from_hex)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--secrets-key-previous {e}"))?;
        anyhow::ensure!(key.is_some() || previous.is_none(), "--secrets-key-previous needs --secrets-key (the key to re-seal under)");
        let sealing = key.is_some();
        sealed::set_keys(key.map(|current| sealed::Keys { current, previous }));
        if sealing {
            let n = sealed::seal_stored(&pool).await.map_err(|e| anyhow::anyhow!("sealing the stored webhook secrets under --secrets-key: {e}"))?;
            if n > 0 {
                tracing::info!(endpoints = n, "webhook signing secrets stored without a key or under the previous key are sealed under --secrets-key now");
            }
        } else {
            tracing::warn!("no --secrets-key: webhook signing secrets are stored unsealed");
        }
    }
    let webhooks = config.webhooks.then(|| {
        let c = emledger_operations::webhooks::delivery::DeliveryConfig {
            timeout: std::time::Duration::from_millis(config.webhook_timeout_ms.max(100)),
            retry_base: std::time::Duration::from_millis(config.webhook_retry_base_ms.max(10)),
            retry_max: std::time::Duration::from_secs(config.webhook_retry_max_secs.max(1)),
            retry_period: std::time::Duration::from_secs(config.webhook_retry_period_secs),
            failing_after: config.webhook_failing_after.max(1),
            ca_file: config.webhook_ca_file.clone(),
            retention: (config.webhook_retention_days > 0).then(|| std::time::Duration::from_secs(config.webhook_retention_days * 24 * 3600)),
            ..Default::default()
        };
        tokio::spawn(emledger_operations::webhooks::delivery::run(pool.clone(), c, ctx.platform().workers(), stop_rx.clone()))
    });
    // SEPA rails: the inbox watcher, the payment-file writer, and the simulated bank
    let mut bank_tasks = Vec::new();
    let bank_options = emledger_operations::bank::ImportOptions { account_iban: config.bank_iban.clone(), actor: None };
    if let Some(dir) = config.bank_inbox.clone() {
        let c = emledger_operations::bank::inbox::InboxConfig {
            dir,
            interval: std::time::Duration::from_millis(config.bank_inbox_poll_ms.max(10)),
            options: bank_options.clone(),
        };
        bank_tasks.push(tokio::spawn(emledger_operations::bank::inbox::run(ctx.platform().clone(), c, stop_rx.clone())));
    }
    if let Some(dir) = config.bank_outbox.clone() {
        let account_iban = config.bank_iban.clone().context("--bank-outbox needs --bank-iban (the platform's account)")?;
        let c = emledger_operations::bank::outbox::OutboxConfig {
            dir,
            account_iban,
            account_name: config.bank_account_name.clone(),
            account_bic: config.bank_bic.clone(),
            interval: std::time::Duration::from_millis(config.bank_cutoff_ms.max(10)),
        };
        ctx.platform().enable_payouts();
        bank_tasks.push(tokio::spawn(emledger_operations::bank::outbox::run(ctx.platform().clone(), c, stop_rx.clone())));
    }
    if config.bank_simulator {
        let (Some(outbox), Some(inbox)) = (config.bank_outbox.clone(), config.bank_inbox.clone()) else {
            anyhow::bail!("--bank-simulator needs --bank-outbox and --bank-inbox");
        };
        let sim = emledger_operations::bank::simulator::BankSimulator {
            outbox,
            inbox,
            reject_ibans: config.bank_reject_ibans.iter().map(|i| i.replace(' ', "").to_ascii_uppercase()).collect(),
            account_iban: config.bank_iban.clone().unwrap_or_default(),
            interval: std::time::Duration::from_millis(config.bank_inbox_poll_ms.max(10)),
        };
        bank_tasks.push(tokio::spawn(sim.run(stop_rx.clone())));
    }
    // a node whose TLS certificate is not trusted will not heal by waiting: a startup error naming it
    if let Some(url) = config.rpc_url.as_deref().filter(|u| u.starts_with("https://")) {
        let provider = emledger_ledger::rpc::http_provider(url)?;
        if let Err(e) = emledger_ledger::rpc::chain_id(&provider, url).await {
            if e.to_string().contains("TLS certificate") {
                return Err(e);
            }
            tracing::warn!(error = %format!("{e:#}"), "the chain node does not answer yet");
        }
    }
    let submitter = match (config.rpc_url.clone(), config.platform_key.as_deref().filter(|k| !k.trim().is_empty())) {
        (Some(rpc_url), Some(key)) => {
            let cfg = submitter::SubmitterConfig {
                max_in_flight: config.max_in_flight,
                batch_size: config.batch_size,
                max_attempts: config.max_attempts,
                retry_base: std::time::Duration::from_millis(config.retry_base_ms),
                confirmations: config.confirmations,
                gas_mode: config.gas_mode.parse().map_err(|e: String| anyhow::anyhow!("--gas-mode: {e}"))?,
                gas_price_wei: config.gas_price_wei,
                replace_after: Some(std::time::Duration::from_secs(config.replace_after_secs)),
                max_fee_per_gas: config.max_fee_per_gas_wei,
                ..submitter::SubmitterConfig::new(rpc_url, submitter::parse_key(key)?)
            };
            let platform = ctx.platform();
            Some(tokio::spawn(submitter::run(pool, cfg, platform.wake_handle(), platform.submitter_health(), stop_rx)))
        }
        (None, Some(_)) => {
            tracing::warn!("a platform key but no --rpc-url: operations are stored but not submitted by this process");
            None
        }
        _ => {
            tracing::warn!("no platform key: operations are stored but not submitted by this process");
            None
        }
    };
    tracing::info!(%addr, "emledger api listening");
    let served = axum::serve(listener, router(ctx))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await
        .context("serving the API");
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), watchdog).await;
    if let Some(handle) = scheduler {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), handle).await;
    }
    for handle in [expiry, clearing].into_iter().chain(webhooks) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
    }
    for handle in bank_tasks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
    }
    if let Some(handle) = submitter {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), handle).await;
    }
    served?;
    tracing::info!("emledger api stopped");
    Ok(())
}
