//! JSON-RPC over HTTP, with a deadline on every request.
//!
//! A node that accepts a connection and never answers must not hang the
//! submitter, the indexer or a worker forever: every request fails after
//! [`rpc_timeout`] and the caller's retry path takes over.

use std::{path::PathBuf, time::Duration};

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

static CA_FILE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// Trust the CA certificates (PEM) in `path` for https:// nodes, besides the
/// public roots (`--rpc-ca-file`). Call once, before the first client is built;
/// `EMLEDGER_RPC_CA_FILE` is read when it was never called.
pub fn set_ca_file(path: Option<PathBuf>) {
    let _ = CA_FILE.set(path);
}

fn ca_file() -> Option<&'static PathBuf> {
    CA_FILE
        .get_or_init(|| std::env::var_os("EMLEDGER_RPC_CA_FILE").filter(|v| !v.is_empty()).map(PathBuf::from))
        .as_ref()
}

/// Makes ring the process's rustls provider (once). Every HTTP client of the
/// process, ours or one a library builds (alloy's `connect_http`), needs one:
/// call this before the first, at the start of every binary.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// TLS for https:// nodes: rustls on ring, the Mozilla roots, and the private CA
/// of [`set_ca_file`].
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    tls_config_with(ca_file().map(PathBuf::as_path))
}

/// TLS trusting the Mozilla roots and the CA certificates (PEM) in `ca_file`.
fn tls_config_with(ca_file: Option<&std::path::Path>) -> anyhow::Result<rustls::ClientConfig> {
    install_tls_provider();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).with_context(|| format!("reading the RPC CA file {}", path.display()))? {
            let cert = cert.with_context(|| format!("a certificate of the RPC CA file {}", path.display()))?;
            roots.add(cert).with_context(|| format!("a CA certificate of {}", path.display()))?;
            added += 1;
        }
        anyhow::ensure!(added > 0, "the RPC CA file {} holds no PEM certificate", path.display());
    }
    // ring: the cheapest provider to build here (rustls deprecates it only for lacking
    // post-quantum key exchange, which JSON-RPC nodes do not offer yet)
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A reqwest client for JSON-RPC: connect and whole-request timeouts, TLS for https://.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(rpc_timeout())
        .connect_timeout(rpc_timeout().min(Duration::from_secs(5)))
        .tls_backend_preconfigured(tls_config()?)
        .build()
        .context("building the JSON-RPC HTTP client")
}

/// An HTTP client for calls to other parties' servers (webhook receivers):
/// `timeout` per request, the Mozilla roots plus the CA certificates in
/// `ca_file`, and no redirects followed (a signed delivery goes where it was
/// registered, or fails).
pub fn outbound_client(
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
    resolver: Option<std::sync::Arc<dyn reqwest::dns::Resolve>>,
) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if let Some(resolver) = resolver {
        builder = builder.dns_resolver(resolver);
    }
    builder
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("emledger-webhooks/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls_config_with(ca_file)?)
        .build()
        .context("building the outbound HTTP client")
}

/// The chain id of the node at `url`, or an error that says what is wrong with
/// reaching it (an untrusted TLS certificate names `--rpc-ca-file`).
pub async fn chain_id(provider: &DynProvider, url: &str) -> anyhow::Result<u64> {
    provider.get_chain_id().await.map_err(|e| unreachable_node(url, &e))
}

/// "cannot reach the chain node at URL: …" with every cause of `e`.
pub fn unreachable_node(url: &str, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    let mut causes = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = s.source();
    }
    let all = causes.join(": ");
    if all.contains("certificate") || all.contains("UnknownIssuer") {
        anyhow::anyhow!(
            "cannot reach the chain node at {url}: its TLS certificate is not trusted ({all}); pass --rpc-ca-file (EMLEDGER_RPC_CA_FILE) with the CA that signed it"
        )
    } else {
        anyhow::anyhow!("cannot reach the chain node at {url}: {all}")
    }
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
