//! SEPA cash-in as seed 003 says it: "you do not need to make any request
//! against the API … The system will read the change in the IBAN". The platform
//! reads its bank's ISO 20022 statements — camt.054 (debit/credit notification)
//! and camt.053 (statement) — from `emledger bank import FILE`, the operator's
//! `POST /api/v1/operator/bank/statements`, or a watched inbox folder
//! ([`inbox`]). No tenant credential reaches this module.
//!
//! For each **booked credit** (one per `TxDtls`, or the entry itself):
//! - its key is the bank's account-servicer reference (the transaction's, else
//!   the entry's), else the end-to-end id with the debtor's account and amount,
//!   else the entry reference; an entry seen before under the same key (in this
//!   file or an earlier one) changes nothing;
//! - the creditor IBAN is matched to a wallet (wallet IBANs are unique): a READY
//!   wallet in the entry's currency gets a `BANK_ACCOUNT_CASHIN` movement and the
//!   mint operation, exactly once;
//! - anything else — no wallet with that IBAN, a wallet not READY, another
//!   currency, a fraction of a cent, a reversal, no creditor IBAN — is kept as
//!   UNAPPLIED with the reason, for the operator ([`entries`]).
//!
//! **Booked debits** and **pain.002 status reports** are the bank's answers to
//! the platform's own payouts (see [`crate::cashout`]): matched by end-to-end id.
//! Pending and information-only entries are skipped (a later statement books them).
//!
//! A file is imported in one transaction and recorded by its SHA-256: importing
//! the same file again changes nothing and answers the first report.

pub mod inbox;
pub mod outbox;
pub mod simulator;

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    iso20022::{self, camt, pain002, DocumentKind},
    money::{self, kind, NewMovement, NewOperation, Party},
    wallet::{self, WalletFacts},
    Error, Platform, Result,
};

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub file_id: Uuid,
    pub name: String,
    /// camt.053, camt.054 or pain.002.
    pub kind: String,
    pub message_id: String,
    /// The same file (by SHA-256) was imported before: this is its first report.
    pub already_imported: bool,
    /// Credits minted to wallets (BANK_ACCOUNT_CASHIN).
    pub credits_applied: u32,
    /// Credits already seen (same key) in this or an earlier file.
    pub credits_repeated: u32,
    /// Credits kept for the operator, with a reason.
    pub unapplied: u32,
    /// Entries not booked yet (PDNG, INFO): skipped.
    pub not_booked: u32,
    /// Payouts the bank executed (debit booked or pain.002 ACSC): burnt.
    pub payouts_executed: u32,
    /// Payouts the bank accepted, not yet executed (pain.002 ACCP, ACSP, ACTC, ACWC, PDNG).
    pub payouts_accepted: u32,
    /// Payouts the bank rejected or returned: funds released to the wallet.
    pub payouts_rejected: u32,
    /// Debits or status lines that match no payout of the platform (kept for the operator).
    pub unmatched: u32,
}

/// One credit of a statement, flattened.
#[derive(Debug, Clone)]
struct Credit {
    key: String,
    amount: Decimal,
    currency: String,
    creditor_iban: Option<String>,
    debtor_name: Option<String>,
    debtor_iban: Option<String>,
    end_to_end_id: Option<String>,
    remittance: Option<String>,
    booking_date: Option<String>,
    reversal: bool,
    return_reason: Option<String>,
}

/// A debit of a statement (a payout executed by the bank), flattened.
#[derive(Debug, Clone)]
struct Debit {
    key: String,
    amount: Decimal,
    currency: String,
    end_to_end_id: Option<String>,
    creditor_iban: Option<String>,
}

fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The entries of a camt message: (credits, debits, not booked).
fn flatten(msg: &camt::BankMessage, file_sha: &str) -> (Vec<Credit>, Vec<Debit>, u32) {
    let (mut credits, mut debits, mut not_booked) = (Vec::new(), Vec::new(), 0u32);
    for (r, report) in msg.reports.iter().enumerate() {
        for (e, entry) in report.entries.iter().enumerate() {
            if !entry.status.eq_ignore_ascii_case("BOOK") {
                not_booked += 1;
                continue;
            }
            let several = entry.transactions.len() > 1;
            let txs: Vec<Option<&camt::Transaction>> =
                if entry.transactions.is_empty() { vec![None] } else { entry.transactions.iter().map(Some).collect() };
            for (t, tx) in txs.into_iter().enumerate() {
                let e2e = tx.and_then(|t| clean(&t.end_to_end_id));
                let (amount, currency) = match tx.and_then(|t| t.amount.clone()) {
                    Some((a, c)) => (a, c),
                    None if !several => (entry.amount, entry.currency.clone()),
                    // a batch entry without per-transaction amounts: the whole entry, marked by its index
                    None => (Decimal::ZERO, entry.currency.clone()),
                };
                let debtor_iban = tx.and_then(|t| clean(&t.debtor_iban));
                let key = if let Some(a) = tx.and_then(|t| clean(&t.account_servicer_reference)) {
                    format!("acct:{a}")
                } else if let Some(a) = clean(&entry.account_servicer_reference) {
                    if several { format!("acct:{a}#{t}") } else { format!("acct:{a}") }
                } else if let Some(e2e) = &e2e {
                    format!("e2e:{}:{e2e}:{amount}", debtor_iban.as_deref().unwrap_or("-"))
                } else if let Some(n) = clean(&entry.entry_reference) {
                    if several { format!("ntry:{n}#{t}") } else { format!("ntry:{n}") }
                } else {
                    format!("file:{file_sha}:{r}:{e}:{t}")
                };
                if entry.credit {
                    credits.push(Credit {
                        key,
                        amount,
                        currency,
                        creditor_iban: tx.and_then(|t| clean(&t.creditor_iban)),
                        debtor_name: tx.and_then(|t| clean(&t.debtor_name)),
                        debtor_iban,
                        end_to_end_id: e2e,
                        remittance: tx.and_then(|t| clean(&t.remittance)),
                        booking_date: entry.booking_date.clone(),
                        reversal: entry.reversal,
                        return_reason: tx.and_then(|t| clean(&t.return_reason)),
                    });
                } else {
                    debits.push(Debit { key, amount, currency, end_to_end_id: e2e, creditor_iban: tx.and_then(|t| clean(&t.creditor_iban)) });
                }
            }
        }
    }
    (credits, debits, not_booked)
}

#[derive(sqlx::FromRow)]
struct IbanWallet {
    id: Uuid,
    client_id: Uuid,
    user_id: Uuid,
    dlt_address: String,
    status: String,
    iban: Option<String>,
    currency: String,
    compliance_status: String,
    user_status: String,
}

/// Minor units of `amount`, when it is a positive whole number of them.
fn minor_units(amount: Decimal, decimals: u32) -> Option<u128> {
    let scaled = amount.checked_mul(Decimal::from(10u64.pow(decimals)))?;
    (scaled > Decimal::ZERO && scaled.fract().is_zero()).then(|| scaled.trunc().to_string().parse().ok()).flatten()
}

struct EntryRow<'a> {
    file_id: Uuid,
    key: &'a str,
    direction: &'a str,
    amount: Decimal,
    currency: &'a str,
    iban: Option<&'a str>,
    counterparty_name: Option<&'a str>,
    counterparty_iban: Option<&'a str>,
    end_to_end_id: Option<&'a str>,
    remittance: Option<&'a str>,
    booking_date: Option<&'a str>,
}

/// Claims an entry's key; false when it was seen before.
async fn claim(conn: &mut PgConnection, e: EntryRow<'_>) -> Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    let done = sqlx::query(
        "INSERT INTO bank_entries (id, file_id, entry_key, direction, amount, currency, iban, counterparty_name, counterparty_iban,
                                   end_to_end_id, remittance, booking_date, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'PROCESSING') ON CONFLICT (entry_key) DO NOTHING",
    )
    .bind(id)
    .bind(e.file_id)
    .bind(e.key)
    .bind(e.direction)
    .bind(e.amount)
    .bind(e.currency)
    .bind(e.iban)
    .bind(e.counterparty_name)
    .bind(e.counterparty_iban)
    .bind(e.end_to_end_id)
    .bind(e.remittance)
    .bind(e.booking_date)
    .execute(&mut *conn)
    .await?;
    Ok((done.rows_affected() == 1).then_some(id))
}

async fn settle_entry(conn: &mut PgConnection, id: Uuid, status: &str, reason: Option<&str>, refs: (Option<Uuid>, Option<Uuid>, Option<Uuid>, Option<Uuid>)) -> Result<()> {
    sqlx::query(
        "UPDATE bank_entries SET status = $2, reason = $3, client_id = $4, wallet_id = $5, movement_id = $6, operation_id = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(refs.0)
    .bind(refs.1)
    .bind(refs.2)
    .bind(refs.3)
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies one new credit: the mint, or UNAPPLIED with the reason. Returns whether it minted.
async fn apply_credit(conn: &mut PgConnection, platform: &Platform, token: &money::Token, entry_id: Uuid, c: &Credit) -> Result<bool> {
    let refusal: Option<String> = 'check: {
        if c.reversal {
            break 'check Some("a reversal entry: the operator decides".into());
        }
        if let Some(r) = &c.return_reason {
            break 'check Some(format!("a returned payment (reason {r}) that matches no payout of the platform"));
        }
        None
    };
    if let Some(reason) = refusal {
        settle_entry(conn, entry_id, "UNAPPLIED", Some(&reason), (None, None, None, None)).await?;
        return Ok(false);
    }
    let Some(iban) = c.creditor_iban.as_deref().map(|i| crate::validate::iban(i).unwrap_or_else(|_| i.replace(' ', "").to_ascii_uppercase())) else {
        settle_entry(conn, entry_id, "UNAPPLIED", Some("the credit names no creditor IBAN"), (None, None, None, None)).await?;
        return Ok(false);
    };
    let w: Option<IbanWallet> = sqlx::query_as(
        "SELECT w.id, w.client_id, w.user_id, w.dlt_address, w.status, w.iban, COALESCE(w.currency, 'EUR') AS currency, w.compliance_status,
                u.status AS user_status
         FROM wallets w JOIN users u ON u.id = w.user_id WHERE w.iban = $1 FOR NO KEY UPDATE OF w",
    )
    .bind(&iban)
    .fetch_optional(&mut *conn)
    .await?;
    let reason = match &w {
        None => Some(format!("no wallet has IBAN {iban}")),
        Some(w) if w.status != wallet::status::READY => Some(format!("the wallet owning IBAN {iban} is {}", w.status)),
        Some(w) if w.user_status == crate::wallet::status::UNSUBSCRIBED => Some(format!("the user of the wallet owning IBAN {iban} is UNSUBSCRIBED")),
        Some(w) if crate::compliance::forbids_money(&w.compliance_status) => {
            Some(format!("the wallet owning IBAN {iban} has compliance status {}", w.compliance_status))
        }
        Some(w) if !w.currency.eq_ignore_ascii_case(&c.currency) => Some(format!("the credit is in {}, the wallet in {}", c.currency, w.currency)),
        Some(_) => match minor_units(c.amount, token.decimals) {
            None => Some(format!("the amount {} is not a positive whole number of the token's units", c.amount)),
            Some(_) => None,
        },
    };
    let (Some(w), None) = (w, reason.clone()) else {
        settle_entry(conn, entry_id, "UNAPPLIED", reason.as_deref(), (None, None, None, None)).await?;
        return Ok(false);
    };
    let minor = minor_units(c.amount, token.decimals).unwrap_or_default();
    let facts = WalletFacts { id: w.id, user_id: w.user_id, dlt_address: w.dlt_address.clone(), status: w.status.clone(), iban: w.iban.clone(), currency: w.currency.clone(), compliance_status: w.compliance_status.clone(), user_status: w.user_status.clone() };
    let op_id = Uuid::now_v7();
    let movement_id = Uuid::now_v7();
    let calldata =
        EmToken::mintCall { operationId: op_id.to_string(), to: money::addr(&facts.dlt_address)?, value: alloy::primitives::U256::from(minor) }
            .abi_encode();
    money::insert_operation(
        &mut *conn,
        NewOperation {
            id: op_id,
            client_id: w.client_id,
            kind: kind::BANK_CASHIN,
            chain_operation_id: op_id.to_string(),
            token,
            calldata,
            debit: None,
            wallet_id: Some(w.id),
            hold_id: None,
            payout_id: None,
        },
    )
    .await?;
    let concept = match (&c.remittance, &c.debtor_name) {
        (Some(r), _) => r.chars().take(140).collect(),
        (None, Some(d)) => format!("SEPA transfer from {d}"),
        (None, None) => "SEPA transfer".to_owned(),
    };
    money::insert_movement(
        &mut *conn,
        platform,
        token,
        NewMovement {
            id: movement_id,
            client_id: w.client_id,
            kind: MovementType::BANK_ACCOUNT_CASHIN,
            amount: minor,
            concept: Some(concept),
            owner: Party::of(&facts),
            origin: None,
            target: Some(Party::of(&facts)),
            operation_id: op_id,
            chain_operation_id: op_id.to_string(),
            hold_operation_id: None,
        },
    )
    .await?;
    settle_entry(conn, entry_id, "APPLIED", None, (Some(w.client_id), Some(w.id), Some(movement_id), Some(op_id))).await?;
    Ok(true)
}

/// Where a file is checked before it is imported.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The platform's own account: a statement of another account is refused.
    pub account_iban: Option<String>,
    /// Who imports it, when an admin does (the operator's upload, the command
    /// line): the import is recorded in the audit trail. Files from the bank
    /// inbox have none.
    pub actor: Option<crate::audit::Actor>,
}

/// Imports one bank file (camt.053, camt.054 or pain.002); see the module docs.
pub async fn import(platform: &Platform, name: &str, bytes: &[u8], options: &ImportOptions) -> Result<ImportReport> {
    let xml = std::str::from_utf8(bytes).map_err(|_| Error::invalid("file", "is not UTF-8 text"))?;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let kind = iso20022::detect(xml);
    let token = platform.token().await?;
    let mut report = ImportReport { name: name.chars().take(200).collect(), ..Default::default() };
    enum Parsed {
        Camt(camt::BankMessage),
        StatusReport(pain002::StatusReport),
    }
    let parsed = match &kind {
        DocumentKind::Camt053 | DocumentKind::Camt054 => {
            let m = camt::parse(xml).map_err(|e| Error::invalid("file", e.to_string()))?;
            if let Some(own) = options.account_iban.as_deref() {
                for r in &m.reports {
                    if let Some(account) = r.account_iban.as_deref() {
                        if !account.replace(' ', "").eq_ignore_ascii_case(&own.replace(' ', "")) {
                            return Err(Error::invalid("file", format!("the statement is for account {account}, not the platform's {own}")));
                        }
                    }
                }
            }
            report.kind = if kind == DocumentKind::Camt053 { "camt.053" } else { "camt.054" }.into();
            report.message_id = m.message_id.clone();
            Parsed::Camt(m)
        }
        DocumentKind::Pain002 => {
            let r = pain002::parse(xml).map_err(|e| Error::invalid("file", e.to_string()))?;
            report.kind = "pain.002".into();
            report.message_id = r.message_id.clone();
            Parsed::StatusReport(r)
        }
        DocumentKind::Pain001 => return Err(Error::invalid("file", "is a pain.001 payment initiation: the platform writes those, the bank reads them")),
        DocumentKind::Other(ns) => {
            return Err(Error::invalid("file", format!("is not a camt.053, camt.054 or pain.002 document (namespace {ns:?})")))
        }
    };

    let mut tx = platform.pool().begin().await?;
    let file_id = Uuid::now_v7();
    let claimed = sqlx::query(
        "INSERT INTO bank_files (id, name, sha256, kind, message_id, direction) VALUES ($1, $2, $3, $4, $5, 'IN') ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(file_id)
    .bind(&report.name)
    .bind(&sha)
    .bind(&report.kind)
    .bind(&report.message_id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        let (first,): (serde_json::Value,) = sqlx::query_as("SELECT report FROM bank_files WHERE sha256 = $1").bind(&sha).fetch_one(&mut *tx).await?;
        let mut first: ImportReport = serde_json::from_value(first).map_err(Error::internal)?;
        first.already_imported = true;
        return Ok(first);
    }
    report.file_id = file_id;
    let mut minted = false;
    match parsed {
        Parsed::Camt(m) => {
            let (credits, debits, not_booked) = flatten(&m, &sha);
            report.not_booked = not_booked;
            for c in &credits {
                let row = EntryRow {
                    file_id,
                    key: &c.key,
                    direction: "CRDT",
                    amount: c.amount,
                    currency: &c.currency,
                    iban: c.creditor_iban.as_deref(),
                    counterparty_name: c.debtor_name.as_deref(),
                    counterparty_iban: c.debtor_iban.as_deref(),
                    end_to_end_id: c.end_to_end_id.as_deref(),
                    remittance: c.remittance.as_deref(),
                    booking_date: c.booking_date.as_deref(),
                };
                let Some(entry_id) = claim(&mut tx, row).await? else {
                    report.credits_repeated += 1;
                    continue;
                };
                // a payout the bank returned after executing it
                if let (Some(reason), Some(e2e)) = (&c.return_reason, &c.end_to_end_id) {
                    if crate::cashout::bank_returned(&mut tx, platform, &token, e2e, c.amount, reason).await? {
                        settle_entry(&mut tx, entry_id, "APPLIED", Some(&format!("payout returned: {reason}")), (None, None, None, None)).await?;
                        report.payouts_rejected += 1;
                        minted = true;
                        continue;
                    }
                }
                if apply_credit(&mut tx, platform, &token, entry_id, c).await? {
                    report.credits_applied += 1;
                    minted = true;
                } else {
                    report.unapplied += 1;
                }
            }
            for d in &debits {
                let row = EntryRow {
                    file_id,
                    key: &d.key,
                    direction: "DBIT",
                    amount: d.amount,
                    currency: &d.currency,
                    iban: d.creditor_iban.as_deref(),
                    counterparty_name: None,
                    counterparty_iban: d.creditor_iban.as_deref(),
                    end_to_end_id: d.end_to_end_id.as_deref(),
                    remittance: None,
                    booking_date: None,
                };
                let Some(entry_id) = claim(&mut tx, row).await? else { continue };
                let outcome = match &d.end_to_end_id {
                    Some(e2e) => crate::cashout::bank_answer(&mut tx, e2e, crate::cashout::BankAnswer::Executed { amount: Some(d.amount) }).await?,
                    None => crate::cashout::AnswerOutcome::Unmatched,
                };
                let (status, reason) = match outcome {
                    crate::cashout::AnswerOutcome::Unmatched => {
                        report.unmatched += 1;
                        ("UNAPPLIED", Some("a debit that matches no payout of the platform".to_owned()))
                    }
                    crate::cashout::AnswerOutcome::Mismatch(why) => {
                        report.unmatched += 1;
                        ("UNAPPLIED", Some(why))
                    }
                    crate::cashout::AnswerOutcome::Applied(what) => {
                        if what == crate::cashout::Applied::Executed {
                            report.payouts_executed += 1;
                            minted = true;
                        }
                        ("APPLIED", None)
                    }
                };
                settle_entry(&mut tx, entry_id, status, reason.as_deref(), (None, None, None, None)).await?;
            }
        }
        Parsed::StatusReport(r) => {
            for line in &r.transactions {
                let status = r.effective_status(line).to_ascii_uppercase();
                let answer = match status.as_str() {
                    "RJCT" => crate::cashout::BankAnswer::Rejected {
                        code: line.reason_code.clone().unwrap_or_else(|| "NARR".into()),
                        text: line.reason_text.clone(),
                    },
                    "ACSC" => crate::cashout::BankAnswer::Executed { amount: None },
                    _ => crate::cashout::BankAnswer::Accepted { status: status.clone() },
                };
                match crate::cashout::bank_answer(&mut tx, &line.original_end_to_end_id, answer).await? {
                    crate::cashout::AnswerOutcome::Applied(crate::cashout::Applied::Executed) => {
                        report.payouts_executed += 1;
                        minted = true;
                    }
                    crate::cashout::AnswerOutcome::Applied(crate::cashout::Applied::Rejected) => {
                        report.payouts_rejected += 1;
                        minted = true;
                    }
                    crate::cashout::AnswerOutcome::Applied(crate::cashout::Applied::Accepted | crate::cashout::Applied::Nothing) => {
                        report.payouts_accepted += 1
                    }
                    crate::cashout::AnswerOutcome::Unmatched | crate::cashout::AnswerOutcome::Mismatch(_) => report.unmatched += 1,
                }
            }
        }
    }
    sqlx::query("UPDATE bank_files SET report = $2 WHERE id = $1")
        .bind(file_id)
        .bind(serde_json::to_value(&report).map_err(Error::internal)?)
        .execute(&mut *tx)
        .await?;
    if let Some(actor) = &options.actor {
        let detail = serde_json::to_value(&report).map_err(Error::internal)?;
        let what = crate::audit::Action { action: "bank.statement_imported", object_type: "bank_file", object_id: file_id.to_string(), detail };
        crate::audit::record(&mut tx, actor, None, what).await?;
    }
    tx.commit().await?;
    metrics::counter!("emledger_bank_files_imported_total", "kind" => report.kind.clone()).increment(1);
    if minted {
        platform.stored();
    }
    tracing::info!(file = %report.name, kind = %report.kind, applied = report.credits_applied, repeated = report.credits_repeated,
        unapplied = report.unapplied, executed = report.payouts_executed, rejected = report.payouts_rejected, "imported a bank file");
    Ok(report)
}

/// An entry of a bank file, as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct BankEntry {
    pub id: Uuid,
    pub file_id: Uuid,
    pub file_name: String,
    pub entry_key: String,
    /// CRDT or DBIT.
    pub direction: String,
    pub amount: Decimal,
    pub currency: String,
    pub iban: Option<String>,
    pub counterparty_name: Option<String>,
    pub counterparty_iban: Option<String>,
    pub end_to_end_id: Option<String>,
    pub remittance: Option<String>,
    pub booking_date: Option<String>,
    /// APPLIED or UNAPPLIED.
    pub status: String,
    pub reason: Option<String>,
    pub wallet_id: Option<Uuid>,
    pub movement_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Entries, newest first; `status` filters (APPLIED, UNAPPLIED).
pub async fn entries(platform: &Platform, status: Option<&str>, limit: i64) -> Result<Vec<BankEntry>> {
    Ok(sqlx::query_as(
        "SELECT e.id, e.file_id, f.name AS file_name, e.entry_key, e.direction, e.amount, e.currency, e.iban, e.counterparty_name,
                e.counterparty_iban, e.end_to_end_id, e.remittance, e.booking_date, e.status, e.reason, e.wallet_id, e.movement_id, e.created_at
         FROM bank_entries e JOIN bank_files f ON f.id = e.file_id
         WHERE $1::text IS NULL OR e.status = $1 ORDER BY e.created_at DESC, e.id DESC LIMIT $2",
    )
    .bind(status)
    .bind(limit.clamp(1, 2000))
    .fetch_all(platform.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_are_exact_or_refused() {
        assert_eq!(minor_units("12.50".parse().unwrap(), 2), Some(1250));
        assert_eq!(minor_units("12.5".parse().unwrap(), 2), Some(1250));
        assert_eq!(minor_units("0.001".parse().unwrap(), 2), None);
        assert_eq!(minor_units("0".parse().unwrap(), 2), None);
        assert_eq!(minor_units("-3".parse().unwrap(), 2), None);
        assert_eq!(minor_units("1234567.89".parse().unwrap(), 2), Some(123456789));
    }
}
