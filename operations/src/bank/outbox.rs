//! The payment-file writer: at every run (the cut-off interval) it takes every
//! RESERVED payout and writes them as one ISO 20022 pain.001.001.09
//! credit-transfer initiation into the bank outbox folder, debtor = the
//! platform's own account. Crash-safe: the file (its XML) and the payouts'
//! SENT status are committed in one transaction first, then the file is written
//! (`*.part`, fsync, rename to `*.xml`) and marked exported; a file committed but
//! not yet written is written at the next run. Any number of replicas may run
//! it (payouts are claimed with `FOR UPDATE SKIP LOCKED`).

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use rust_decimal::Decimal;
use sha2::Digest;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{iso20022::pain001, Platform, Result};

/// Where and as whom payouts leave.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// The folder the bank (or its EBICS/SFTP connector) collects pain.001 files from.
    pub dir: PathBuf,
    /// The platform's account at the bank (the debtor of every payout).
    pub account_iban: String,
    pub account_name: String,
    pub account_bic: Option<String>,
    /// The cut-off: how often a file is made of the payouts reserved so far.
    pub interval: Duration,
}

#[derive(sqlx::FromRow)]
struct Reserved {
    id: Uuid,
    amount: String,
    iban: String,
    name: String,
    concept: Option<String>,
}

/// Makes one file of the RESERVED payouts (at most 5,000), if any; returns its id.
pub async fn run_once(platform: &Platform, config: &OutboxConfig) -> Result<Option<Uuid>> {
    let mut tx = platform.pool().begin().await?;
    let rows: Vec<Reserved> = sqlx::query_as(
        "SELECT p.id, p.amount::text AS amount, p.iban, COALESCE(p.alias, u.name) AS name, p.concept
         FROM payouts p JOIN wallets w ON w.id = p.wallet_id JOIN users u ON u.id = w.user_id
         WHERE p.status = 'RESERVED' ORDER BY p.created_at, p.id LIMIT 5000 FOR UPDATE OF p SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let decimals = platform.chain().await.decimals;
    let file_id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let message_id = format!("EML{}", file_id.simple()).chars().take(35).collect::<String>();
    let initiation = |transfers: Vec<pain001::CreditTransfer>| pain001::Initiation {
        message_id: message_id.clone(),
        created_at: now,
        initiating_party: config.account_name.clone(),
        payment_info_id: message_id.clone(),
        requested_execution_date: now.date_naive(),
        debtor_name: config.account_name.clone(),
        debtor_iban: config.account_iban.clone(),
        debtor_bic: config.account_bic.clone(),
        transfers,
    };
    // a payout the bank could not take (refused by the pain.001 rules) is rejected
    // on its own, so that it never holds the others back
    let (mut sent, mut transfers, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        let transfer = pain001::CreditTransfer {
            instruction_id: r.id.simple().to_string(),
            end_to_end_id: r.id.simple().to_string(),
            amount: Decimal::from_i128_with_scale(r.amount.parse::<i128>().unwrap_or(0), decimals),
            currency: "EUR".into(),
            creditor_name: r.name.clone(),
            creditor_iban: r.iban.clone(),
            remittance: Some(r.concept.clone().unwrap_or_else(|| "Cash-out".into())),
        };
        match pain001::validate(&initiation(vec![transfer.clone()])) {
            Ok(()) => {
                sent.push(r);
                transfers.push(transfer);
            }
            Err(e) => refused.push((r.id, e.to_string())),
        }
    }
    for (id, why) in &refused {
        tracing::warn!(payout = %id, reason = %why, "a payout cannot be written as a SEPA credit transfer: rejected");
        sqlx::query("UPDATE payouts SET status = 'SENT', end_to_end_id = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(id.simple().to_string())
            .execute(&mut *tx)
            .await?;
        crate::cashout::bank_answer(&mut tx, &id.simple().to_string(), crate::cashout::BankAnswer::Rejected { code: "FF01".into(), text: Some(why.clone()) })
            .await?;
    }
    if transfers.is_empty() {
        tx.commit().await?;
        platform.stored();
        return Ok(None);
    }
    let total: u128 = sent.iter().map(|r| r.amount.parse::<u128>().unwrap_or(0)).sum();
    let initiation = initiation(transfers);
    let xml = pain001::write(&initiation);
    let name = format!("pain001-{}-{}.xml", now.format("%Y%m%dT%H%M%S"), &file_id.simple().to_string()[24..]);
    sqlx::query(
        "INSERT INTO bank_files (id, direction, name, sha256, kind, message_id, content, transfers, total)
         VALUES ($1, 'OUT', $2, $3, 'pain.001', $4, $5, $6, $7::numeric)",
    )
    .bind(file_id)
    .bind(&name)
    .bind(hex::encode(sha2::Sha256::digest(xml.as_bytes())))
    .bind(&message_id)
    .bind(&xml)
    .bind(sent.len() as i32)
    .bind(total.to_string())
    .execute(&mut *tx)
    .await?;
    for r in &sent {
        sqlx::query("UPDATE payouts SET status = 'SENT', end_to_end_id = $2, payment_file_id = $3, updated_at = now() WHERE id = $1")
            .bind(r.id)
            .bind(r.id.simple().to_string())
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if !refused.is_empty() {
        platform.stored();
    }
    metrics::counter!("emledger_payment_files_total").increment(1);
    metrics::counter!("emledger_payouts_sent_total").increment(sent.len() as u64);
    tracing::info!(file = %name, payouts = sent.len(), "a pain.001 payment file is ready");
    Ok(Some(file_id))
}

/// Writes `content` as `dir/name` atomically (a `.part` file, fsync, rename).
pub fn write_atomically(dir: &Path, name: &str, content: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let part = dir.join(format!(".{name}.part"));
    {
        let mut f = std::fs::File::create(&part)?;
        f.write_all(content)?;
        f.sync_all()?;
    }
    std::fs::rename(&part, dir.join(name))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes the committed files not written yet; returns how many.
pub async fn export(platform: &Platform, config: &OutboxConfig) -> Result<usize> {
    let files: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, name, content FROM bank_files WHERE direction = 'OUT' AND exported_at IS NULL ORDER BY created_at LIMIT 100",
    )
    .fetch_all(platform.pool())
    .await?;
    for (id, name, content) in &files {
        let dir = config.dir.clone();
        let (n, c) = (name.clone(), content.clone());
        tokio::task::spawn_blocking(move || write_atomically(&dir, &n, c.as_bytes()))
            .await
            .map_err(crate::Error::internal)?
            .map_err(|e| crate::Error::internal(format!("writing {name} to {}: {e}", config.dir.display())))?;
        sqlx::query("UPDATE bank_files SET exported_at = now() WHERE id = $1").bind(id).execute(platform.pool()).await?;
    }
    Ok(files.len())
}

/// Runs until `stop`: a file per cut-off interval, written to the outbox.
pub async fn run(platform: Platform, config: OutboxConfig, mut stop: watch::Receiver<bool>) {
    tracing::info!(dir = %config.dir.display(), every = ?config.interval, "payment-file writer (pain.001) started");
    loop {
        let pass = async {
            run_once(&platform, &config).await?;
            export(&platform, &config).await
        };
        match pass.await {
            Ok(_) => platform.workers().ok("payment-file writer"),
            Err(e) => {
                platform.workers().failed("payment-file writer", &e);
                metrics::counter!("emledger_payment_file_errors_total").increment(1);
                tracing::warn!(error = %e, "payment-file writer pass failed; retrying at the next run");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
