//! A local bank for `emledger up` and tests: it takes the pain.001 files the
//! platform writes to the outbox (moving them to `outbox/consumed/`), and
//! answers into the inbox as a bank would: a pain.002.001.10 status report per
//! file (`ACCP`, or `RJCT` with reason `AC04` "closed account number" for the
//! creditor IBANs it is told to refuse), then a camt.054.001.08 notification
//! booking the debits it executed. The platform imports both through the same
//! inbox as any real bank file. Never for production.

use std::{collections::HashSet, path::PathBuf, time::Duration};

use tokio::sync::watch;

use super::outbox::write_atomically;
use crate::iso20022::{camt, pain001, pain002};

/// The simulated bank.
#[derive(Debug, Clone)]
pub struct BankSimulator {
    pub outbox: PathBuf,
    pub inbox: PathBuf,
    /// Creditor IBANs (electronic form, upper case) whose transfers are rejected.
    pub reject_ibans: HashSet<String>,
    /// The platform's account, booked in the camt.054.
    pub account_iban: String,
    pub interval: Duration,
}

impl BankSimulator {
    /// Answers every pain.001 waiting in the outbox; returns how many files.
    pub fn run_once(&self) -> anyhow::Result<usize> {
        let mut names: Vec<String> = match std::fs::read_dir(&self.outbox) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".xml") && !n.starts_with('.'))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        names.sort();
        for name in &names {
            let path = self.outbox.join(name);
            let xml = std::fs::read_to_string(&path)?;
            let consumed = self.outbox.join("consumed");
            std::fs::create_dir_all(&consumed)?;
            let initiation = match pain001::parse(&xml) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "the simulated bank cannot read a payment file");
                    std::fs::rename(&path, consumed.join(name))?;
                    continue;
                }
            };
            let now = chrono::Utc::now();
            let mut statuses = Vec::new();
            let mut bookings = Vec::new();
            for t in &initiation.transfers {
                let iban = t.creditor_iban.replace(' ', "").to_ascii_uppercase();
                if self.reject_ibans.contains(&iban) {
                    statuses.push(pain002::TxStatus {
                        original_instruction_id: Some(t.instruction_id.clone()),
                        original_end_to_end_id: t.end_to_end_id.clone(),
                        status: "RJCT".into(),
                        reason_code: Some("AC04".into()),
                        reason_text: Some("Closed account number".into()),
                    });
                } else {
                    statuses.push(pain002::TxStatus {
                        original_instruction_id: Some(t.instruction_id.clone()),
                        original_end_to_end_id: t.end_to_end_id.clone(),
                        status: "ACCP".into(),
                        reason_code: None,
                        reason_text: None,
                    });
                    bookings.push(camt::DebitBooking {
                        end_to_end_id: t.end_to_end_id.clone(),
                        amount: t.amount,
                        currency: t.currency.clone(),
                        creditor_name: t.creditor_name.clone(),
                        creditor_iban: t.creditor_iban.clone(),
                        account_servicer_reference: format!("SIMBANK{}", &t.end_to_end_id.chars().take(24).collect::<String>()),
                    });
                }
            }
            let stamp = now.format("%Y%m%dT%H%M%S%.6f");
            let report = pain002::StatusReport {
                message_id: format!("SIMPSR{}", &initiation.message_id.chars().skip(3).take(28).collect::<String>()),
                created_at: now,
                original_message_id: initiation.message_id.clone(),
                group_status: None,
                transactions: statuses,
            };
            write_atomically(&self.inbox, &format!("{stamp}-1-pain002-{}.xml", initiation.message_id), pain002::write(&report).as_bytes())?;
            if !bookings.is_empty() {
                let notification = camt::write_debit_notification(
                    &format!("SIMNTF{}", &initiation.message_id.chars().skip(3).take(28).collect::<String>()),
                    now,
                    &self.account_iban,
                    now.date_naive(),
                    &bookings,
                );
                write_atomically(&self.inbox, &format!("{stamp}-2-camt054-{}.xml", initiation.message_id), notification.as_bytes())?;
            }
            std::fs::rename(&path, consumed.join(name))?;
            tracing::info!(file = %name, transfers = initiation.transfers.len(), "the simulated bank answered a payment file");
        }
        Ok(names.len())
    }

    /// Runs until `stop`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::warn!(outbox = %self.outbox.display(), inbox = %self.inbox.display(), "the BANK SIMULATOR is on: payouts are not sent to a real bank");
        loop {
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.run_once()).await {
                Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "the simulated bank failed a pass"),
                Err(e) => tracing::warn!(error = %e, "the simulated bank's pass panicked"),
                Ok(Ok(_)) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}
