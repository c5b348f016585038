//! JSON-RPC over HTTP, with a deadline on every request.
//!
//! A node that accepts a connection and never answers must not hang the
//! submitter, the indexer or a worker forever: every request fails after
//! [`rpc_timeout`] and the caller's retry path takes over.

use std::time::Duration;

use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::RpcClient,
    transports::http::reqwest,
};
use anyhow::Context;

/// How long one JSON-RPC request may take (connect, send, answer) unless
/// `EMLEDGER_RPC_TIMEOUT_MS` says otherwise.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(20);

/// [`RPC_TIMEOUT`], or `EMLEDGER_RPC_TIMEOUT_MS` when set to a positive number.
pub fn rpc_timeout() -> Duration {
    static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| {
        std::env::var("EMLEDGER_RPC_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(RPC_TIMEOUT)
    })
}

/// A reqwest client for JSON-RPC: connect and whole-request timeouts.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(rpc_timeout())
        .connect_timeout(rpc_timeout().min(Duration::from_secs(5)))
        .build()
        .context("building the JSON-RPC HTTP client")
}

/// An RPC client on `url` (an http(s) URL) with [`http_client`].
pub fn http_rpc_client(url: &str) -> anyhow::Result<RpcClient> {
    let parsed: reqwest::Url = url.parse().with_context(|| format!("invalid RPC URL {url:?} (an http(s) URL)"))?;
    Ok(RpcClient::new_http_with_client(http_client()?, parsed))
}

/// A read-only provider on `url` (no fillers: callers set nonces and fees).
pub fn http_provider(url: &str) -> anyhow::Result<DynProvider> {
    Ok(ProviderBuilder::new().disable_recommended_fillers().connect_client(http_rpc_client(url)?).erased())
}
