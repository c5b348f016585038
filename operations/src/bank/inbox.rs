//! The bank inbox: a folder where the bank's files arrive (camt.053, camt.054,
//! pain.002 — from an EBICS/SFTP connector, or the local bank simulator). Every
//! `*.xml` file is imported ([`super::import`]) in name order and moved to
//! `processed/`; a file that cannot be imported (not ISO 20022, another
//! account, malformed) is moved to `failed/` next to a `.error` file saying why.
//! Writers should write `*.part` (or a dot file) and rename: only `*.xml` is read.
//! A database outage leaves the file where it is for the next pass. Importing
//! is idempotent, so two replicas watching one folder do no harm.

use std::{path::PathBuf, time::Duration};

use tokio::sync::watch;

use super::{import, ImportOptions};
use crate::{Error, Platform};

/// What the watcher does.
#[derive(Debug, Clone)]
pub struct InboxConfig {
    pub dir: PathBuf,
    pub interval: Duration,
    pub options: ImportOptions,
}

fn move_to(dir: &std::path::Path, sub: &str, name: &str) -> std::io::Result<PathBuf> {
    let target = dir.join(sub);
    std::fs::create_dir_all(&target)?;
    let mut to = target.join(name);
    if to.exists() {
        to = target.join(format!("{}-{name}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")));
    }
    std::fs::rename(dir.join(name), &to)?;
    Ok(to)
}

/// One pass over the folder; returns how many files were handled.
pub async fn run_once(platform: &Platform, config: &InboxConfig) -> anyhow::Result<usize> {
    let mut names: Vec<String> = match std::fs::read_dir(&config.dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.to_ascii_lowercase().ends_with(".xml") && !n.starts_with('.'))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&config.dir)?;
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    names.sort();
    let mut handled = 0;
    for name in names {
        let path = config.dir.join(&name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // another replica took it
            Err(e) => return Err(e.into()),
        };
        match import(platform, &name, &bytes, &config.options).await {
            Ok(report) => {
                if report.already_imported {
                    tracing::info!(file = %name, "bank file imported before; nothing changed");
                }
                move_to(&config.dir, "processed", &name)?;
            }
            Err(Error::Invalid { reason, .. }) => {
                tracing::error!(file = %name, %reason, "a bank file could not be imported; moved to failed/");
                metrics::counter!("emledger_bank_files_failed_total").increment(1);
                let moved = move_to(&config.dir, "failed", &name)?;
                std::fs::write(moved.with_extension("xml.error"), format!("{reason}\n"))?;
            }
            // the database or the chain facts are not there: try again at the next pass
            Err(e) => return Err(anyhow::anyhow!("importing {name}: {e}")),
        }
        handled += 1;
    }
    Ok(handled)
}

/// Watches the folder until `stop`.
pub async fn run(platform: Platform, config: InboxConfig, mut stop: watch::Receiver<bool>) {
    tracing::info!(dir = %config.dir.display(), "bank inbox watcher started");
    loop {
        match run_once(&platform, &config).await {
            Ok(_) => platform.workers().ok("bank inbox"),
            Err(e) => {
                platform.workers().failed("bank inbox", &e);
                metrics::counter!("emledger_bank_inbox_errors_total").increment(1);
                tracing::warn!(error = %format!("{e:#}"), "bank inbox pass failed; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
