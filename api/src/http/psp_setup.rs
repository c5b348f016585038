//! The card PSP of this process, from its flags: the real Ogone e-Commerce PSP
//! (`--psp-pspid`, `--psp-sha-in`, `--psp-sha-out`, `--psp-hash`,
//! `--psp-endpoint`), the local simulator (`--psp-simulator`), or none (card
//! cash-ins answer 409 `psp_not_configured`).

use std::sync::Arc;

use anyhow::{bail, Context};
use emledger_operations::{
    psp::{ogone::Ogone, simulator::Simulator, HashAlgorithm},
    Platform,
};
use sha2::Digest;

use super::cards::{NOTIFICATION_PATH, RETURN_PATH, SIMULATOR_PAGE};
use crate::ApiConfig;

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A passphrase of the simulator: the configured one, else derived from the
/// platform key (stable across restarts, so its payment URLs stay valid), else random.
fn simulator_secret(config: &ApiConfig, given: &Option<String>, label: &str) -> String {
    if let Some(s) = nonempty(given) {
        return s;
    }
    match nonempty(&config.platform_key) {
        Some(key) => hex::encode(sha2::Sha256::digest(format!("emledger psp simulator {label}\n{key}").as_bytes())),
        None => {
            let mut b = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
            hex::encode(b)
        }
    }
}

/// The absolute base URL the PSP sends the customer and its notifications back
/// to, and the simulator's page lives under: `--public-url`, else the bound
/// address (an unspecified one, `0.0.0.0` or `::`, as loopback). A card cash-in's
/// `paymentUrl` is built on it, so it must be an absolute `http(s)` URL.
pub fn absolute_base(base_url: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(base_url.trim())
        .map_err(|e| anyhow::anyhow!("the API's base URL {base_url:?} is not an absolute URL ({e}); give --public-url like https://api.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("the API's base URL {base_url:?} must be an absolute http(s) URL with a host (--public-url)");
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_unspecified() => url.set_host(Some("127.0.0.1"))?,
        Some(url::Host::Ipv6(ip)) if ip.is_unspecified() => url.set_host(Some("[::1]"))?,
        _ => {}
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Sets the platform's PSP; returns the simulator when it is the one.
pub fn configure(config: &ApiConfig, platform: &Platform, base_url: &str) -> anyhow::Result<Option<Arc<Simulator>>> {
    let hash: HashAlgorithm = config.psp_hash.parse().map_err(anyhow::Error::msg).context("--psp-hash")?;
    let return_url = format!("{base_url}{RETURN_PATH}");
    if config.psp_simulator {
        tracing::warn!(
            page = %format!("{base_url}{SIMULATOR_PAGE}"),
            "the PSP SIMULATOR is on: anyone who reaches its page can pay a card cash-in and the platform mints it; never use --psp-simulator in production"
        );
        let sim = Simulator {
            ogone: Ogone {
                pspid: nonempty(&config.psp_pspid).unwrap_or_else(|| "EMLEDGERSIM".into()),
                sha_in: simulator_secret(config, &config.psp_sha_in, "sha-in"),
                sha_out: simulator_secret(config, &config.psp_sha_out, "sha-out"),
                hash,
                endpoint: format!("{base_url}{SIMULATOR_PAGE}"),
                return_url,
                language: "en_US".into(),
            },
            notify_url: format!("{base_url}{NOTIFICATION_PATH}"),
        };
        let sim = Arc::new(sim);
        platform.set_psp(sim.clone());
        return Ok(Some(sim));
    }
    let (pspid, sha_in, sha_out) = (nonempty(&config.psp_pspid), nonempty(&config.psp_sha_in), nonempty(&config.psp_sha_out));
    match (pspid, sha_in, sha_out) {
        (None, None, None) => {
            tracing::info!("no card PSP configured: card cash-ins answer 409 psp_not_configured");
            Ok(None)
        }
        (Some(pspid), Some(sha_in), Some(sha_out)) => {
            let endpoint = url::Url::parse(&config.psp_endpoint).with_context(|| format!("--psp-endpoint {:?}", config.psp_endpoint))?;
            if sha_in == sha_out {
                tracing::warn!("the SHA-IN and SHA-OUT passphrases are the same; the PSP recommends two different ones");
            }
            tracing::info!(%pspid, %hash, endpoint = %endpoint, notifications = %format!("{base_url}{NOTIFICATION_PATH}"), "card PSP: Ogone e-Commerce");
            platform.set_psp(Arc::new(Ogone { pspid, sha_in, sha_out, hash, endpoint: endpoint.to_string(), return_url, language: "en_US".into() }));
            Ok(None)
        }
        _ => bail!("a card PSP needs all of --psp-pspid, --psp-sha-in and --psp-sha-out (or --psp-simulator)"),
    }
}

#[cfg(test)]
mod tests {
    use super::absolute_base;

    #[test]
    fn the_base_url_is_absolute_and_reachable() {
        assert_eq!(absolute_base("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(absolute_base("http://0.0.0.0:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(absolute_base("http://[::]:8080").unwrap(), "http://[::1]:8080");
        assert_eq!(absolute_base("https://api.example.com/base/").unwrap(), "https://api.example.com/base");
        for bad in ["api.example.com", "/relative", "ftp://x.example", "", "localhost:8080"] {
            assert!(absolute_base(bad).is_err(), "{bad}");
        }
    }
}
