//! Cash-out to a bank account (seed 003): `POST /wallets/{walletId}/cashOuts`
//! {iban{accountNumber}, amount, concept} and
//! `POST /wallets/{walletId}/cashout-to-favourite-external-account`
//! {favouriteExternalAccountId, amount, concept}.
//!
//! How the money leaves, and why it cannot be lost or paid twice:
//! 1. **Reserve.** The request stores (one transaction) a hold operation
//!    (`holdFromWithExpirationDate`, payer = the wallet, payee and notary = the
//!    platform, perpetual), the hold row, a PENDING LOCK movement, the PENDING
//!    `BANK_ACCOUNT_CASHOUT` movement returned as `movementId`, and a `payouts`
//!    row (RESERVING). The funds are unavailable to the wallet from here on.
//! 2. **To the bank.** Once the hold is mined the payout is RESERVED. The next
//!    run of the payment-file writer ([`crate::bank::outbox`], at its cut-off
//!    interval) puts every RESERVED payout into one ISO 20022 pain.001.001.09
//!    credit-transfer initiation (end-to-end id = the payout's id) written to the
//!    bank outbox: the payout is SENT. The funds stay held.
//! 3. **The bank's answer** ([`bank_answer`], from an imported pain.002 or camt.054):
//!    executed (pain.002 `ACSC`, or the debit booked in a camt.054) → the platform
//!    burns the held funds (`burnHeld`, the hold closes EXECUTED), the
//!    BANK_ACCOUNT_CASHOUT movement turns SUCCESS and the payout PAID; accepted
//!    but not executed yet (`ACCP`, `ACSP`, `ACTC`, …) → recorded, still SENT;
//!    rejected (`RJCT`) → the platform releases the hold: the funds are available
//!    to the wallet again (a RELEASE movement), the BANK_ACCOUNT_CASHOUT movement
//!    turns ERROR with the bank's reason code and the payout RELEASED. A payout
//!    returned after execution (a camt.054 credit with return information) is
//!    re-credited by a mint ([`bank_returned`]): RETURNED.
//!    If the reservation itself reverts, nothing was taken: the movements turn
//!    ERROR and the payout FAILED; if the burn reverts, the hold is released.
//!
//! The payout steps are driven by the [submitter](crate::submitter), each step an
//! operation stored together with the payout's status change.

use alloy::{primitives::U256, sol_types::SolCall};
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    hold::insert_hold_row,
    money::{self, kind, NewMovement, NewOperation, Party},
    validate,
    wallet::wallet_facts,
    Command, Error, Platform, Result,
};

/// Where a cash-out pays.
#[derive(Debug, Clone)]
pub enum Payee {
    /// An IBAN as typed by the caller (validated; refusals name `iban.accountNumber`).
    Iban(String),
    /// An ACTIVE favourite external account of the wallet; `field` names the id in refusals.
    Favourite { id: Uuid, field: &'static str },
    /// An IBAN validated when it was stored (a schedule's receiver).
    StoredIban(String),
}

/// Cash out `amount` of `wallet_id` to a bank account.
#[derive(Debug, Clone)]
pub struct CashOut {
    pub wallet_id: Uuid,
    pub to: Payee,
    /// As given: a decimal string or JSON number.
    pub amount: Value,
    pub concept: Option<String>,
}

/// A stored cash-out: funds reserved (PENDING) until the payout settles.
#[derive(Debug, Clone)]
pub struct CashOutStored {
    pub operation_id: Uuid,
    /// The BANK_ACCOUNT_CASHOUT movement.
    pub movement_id: Uuid,
    /// The hold reserving the funds.
    pub hold_id: Uuid,
    pub wallet_id: Uuid,
    /// Decimal string with the token's decimals.
    pub amount: String,
    pub iban: String,
    /// (favourite id, alias) when paid to a favourite.
    pub favourite: Option<(Uuid, String)>,
    pub concept: Option<String>,
}

/// The (IBAN, alias) of an ACTIVE favourite external account of the wallet: 404
/// (naming `field`) when unknown, 409 `favourite_deleted` when deleted.
pub async fn favourite(
    conn: &mut PgConnection,
    client_id: Uuid,
    wallet_id: Uuid,
    favourite_id: Uuid,
    field: &'static str,
) -> Result<(String, String)> {
    let fav: Option<(String, String, String)> = sqlx::query_as(
        "SELECT iban, alias, status FROM favourite_external_accounts WHERE id = $1 AND wallet_id = $2 AND client_id = $3",
    )
    .bind(favourite_id)
    .bind(wallet_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (iban, alias, status) = fav.ok_or(Error::ReferenceNotFound { resource: "favourite external account", field })?;
    if status != "ACTIVE" {
        return Err(Error::conflict("favourite_deleted", "this favourite external account was deleted"));
    }
    Ok((iban, alias))
}

impl Command for CashOut {
    type Output = CashOutStored;

    /// Stores the reservation hold, the LOCK + BANK_ACCOUNT_CASHOUT movements and the payout row.
    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<CashOutStored> {
        let (iban, favourite) = match self.to {
            Payee::Iban(text) => (validate::iban(&text).map_err(|r| Error::invalid("iban.accountNumber", r))?, None),
            Payee::Favourite { id, field } => {
                let (iban, alias) = favourite(conn, client_id, self.wallet_id, id, field).await?;
                (iban, Some((id, alias)))
            }
            Payee::StoredIban(iban) => (iban, None),
        };
        let token = platform.token().await?;
        let notary = platform.signer()?;
        platform.payouts_enabled()?;
        let amount = money::amount("amount", &self.amount, token.decimals)?;
        let concept = money::concept(self.concept)?;
        let wallet = wallet_facts(conn, client_id, self.wallet_id, true).await?;
        money::require_ready(&wallet, "")?;
        money::check_available(conn, &token, &wallet.dlt_address, amount).await?;

        let hold_id = Uuid::now_v7();
        let op_id = Uuid::now_v7();
        let payout_id = Uuid::now_v7();
        let chain_op = hold_id.to_string();
        let calldata = EmToken::holdFromWithExpirationDateCall {
            operationId: chain_op.clone(),
            from: money::addr(&wallet.dlt_address)?,
            to: notary,
            notary,
            value: amount.to_u256(),
            expiration: U256::ZERO,
        }
        .abi_encode();
        money::insert_operation(
            conn,
            NewOperation {
                id: op_id,
                client_id,
                kind: kind::CASHOUT_RESERVE,
                chain_operation_id: chain_op.clone(),
                token: &token,
                calldata,
                debit: Some((wallet.dlt_address.clone(), amount.minor())),
                wallet_id: Some(self.wallet_id),
                hold_id: Some(hold_id),
                payout_id: Some(payout_id),
            },
        )
        .await?;
        let hold_concept = Some(concept.clone().unwrap_or_else(|| format!("Cash-out to {iban}")));
        insert_hold_row(conn, platform, &token, hold_id, client_id, notary, &wallet, &format!("{notary:#x}"), None, amount.minor(), None, hold_concept)
            .await?;
        let (lock_id, cashout_id) = (Uuid::now_v7(), Uuid::now_v7());
        let movements = [(lock_id, MovementType::LOCK), (cashout_id, MovementType::BANK_ACCOUNT_CASHOUT)]
            .into_iter()
            .map(|(id, kind)| NewMovement {
                id,
                client_id,
                kind,
                amount: amount.minor(),
                concept: concept.clone(),
                owner: Party::of(&wallet),
                origin: (kind == MovementType::BANK_ACCOUNT_CASHOUT).then(|| Party::of(&wallet)),
                target: None,
                operation_id: op_id,
                chain_operation_id: chain_op.clone(),
                hold_operation_id: (kind == MovementType::BANK_ACCOUNT_CASHOUT).then(|| chain_op.clone()),
            })
            .collect();
        money::insert_movements(conn, platform, &token, movements).await?;
        sqlx::query(
            "INSERT INTO payouts (id, client_id, wallet_id, hold_id, movement_id, iban, favourite_id, alias, amount, concept, status,
                                  reserve_operation_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, 'RESERVING', $11)",
        )
        .bind(payout_id)
        .bind(client_id)
        .bind(self.wallet_id)
        .bind(hold_id)
        .bind(cashout_id)
        .bind(&iban)
        .bind(favourite.as_ref().map(|f| f.0))
        .bind(favourite.as_ref().map(|f| f.1.clone()))
        .bind(amount.minor().to_string())
        .bind(&concept)
        .bind(op_id)
        .execute(&mut *conn)
        .await?;
        Ok(CashOutStored {
            operation_id: op_id,
            movement_id: cashout_id,
            hold_id,
            wallet_id: self.wallet_id,
            amount: money::wire(amount.minor(), token.decimals),
            iban,
            favourite,
            concept,
        })
    }
}

/// What the bank said about one payout.
#[derive(Debug, Clone)]
pub enum BankAnswer {
    /// Executed (pain.002 ACSC, or the debit booked in a statement); the booked amount when known.
    Executed { amount: Option<rust_decimal::Decimal> },
    /// Accepted, not executed yet (ACCP, ACSP, ACTC, ACWC, PDNG).
    Accepted { status: String },
    /// Rejected, with the ISO 20022 reason code (AC04, AM04, …) and text.
    Rejected { code: String, text: Option<String> },
}

/// What [`bank_answer`] did to the payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The burn is stored.
    Executed,
    /// Recorded; the payout waits for execution.
    Accepted,
    /// The release is stored, the movement is ERROR.
    Rejected,
    /// The payout was past that point already (a repeated answer).
    Nothing,
}

/// The outcome of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerOutcome {
    Applied(Applied),
    /// No payout has this end-to-end id.
    Unmatched,
    /// A payout has it, but the answer does not fit (another amount).
    Mismatch(String),
}

#[derive(sqlx::FromRow)]
struct SentPayout {
    id: Uuid,
    status: String,
    hold_id: Uuid,
    movement_id: Uuid,
    amount: String,
    client_id: Uuid,
    wallet_id: Uuid,
    hold_op: String,
    payer: Option<String>,
    target: String,
}

async fn sent_payout(conn: &mut PgConnection, end_to_end_id: &str) -> Result<Option<SentPayout>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.status, p.hold_id, p.movement_id, p.amount::text AS amount, p.client_id, p.wallet_id,
                h.operation_id AS hold_op, h.payer_dlt_address AS payer, ro.target
         FROM payouts p JOIN holds h ON h.id = p.hold_id JOIN operations ro ON ro.id = p.reserve_operation_id
         WHERE p.end_to_end_id = $1 FOR UPDATE OF p",
    )
    .bind(end_to_end_id.trim())
    .fetch_optional(conn)
    .await?)
}

/// A reason code's meaning (the ISO 20022 external status reason codes a bank
/// uses most for SEPA credit transfers).
pub fn reason_text(code: &str) -> &'static str {
    match code {
        "AC01" => "incorrect account number",
        "AC04" => "closed account number",
        "AC06" => "blocked account",
        "AG01" => "transaction forbidden on this account",
        "AM04" => "insufficient funds",
        "AM05" => "duplication",
        "BE05" => "unrecognised initiating party",
        "FF01" => "invalid file format",
        "MD07" => "end customer deceased",
        "MS02" => "not specified reason, customer generated",
        "MS03" => "not specified reason, agent generated",
        "RC01" => "bank identifier incorrect",
        "RR01" | "RR02" | "RR03" | "RR04" => "regulatory reason",
        _ => "rejected by the bank",
    }
}

/// Applies the bank's answer on the payout with `end_to_end_id`, in the caller's
/// transaction (see the module docs). Repeated answers change nothing.
pub async fn bank_answer(conn: &mut PgConnection, end_to_end_id: &str, answer: BankAnswer) -> Result<AnswerOutcome> {
    use crate::submitter::payouts::{fail_cashout_movement, start_release, start_step, PayoutOp};
    let Some(p) = sent_payout(conn, end_to_end_id).await? else { return Ok(AnswerOutcome::Unmatched) };
    let op = PayoutOp { payout: p.id, hold_id: p.hold_id, hold_op: p.hold_op.clone(), client_id: p.client_id, wallet_id: p.wallet_id, target: p.target.clone() };
    let record = |status: String, reason: Option<String>| (status, reason);
    let (applied, (bank_status, bank_reason)) = match (&answer, p.status.as_str()) {
        (BankAnswer::Executed { amount }, "SENT") => {
            if let Some(booked) = amount {
                let decimals: (i16,) = sqlx::query_as("SELECT decimals FROM chain_cursor ORDER BY updated_at DESC LIMIT 1").fetch_one(&mut *conn).await?;
                let expected = rust_decimal::Decimal::from_i128_with_scale(p.amount.parse::<i128>().unwrap_or(0), decimals.0.max(0) as u32);
                if *booked != expected {
                    return Ok(AnswerOutcome::Mismatch(format!("the bank booked {booked} for payout {end_to_end_id} of {expected}")));
                }
            }
            let value = U256::from_str_radix(&p.amount, 10).map_err(Error::internal)?;
            let calldata = EmToken::burnHeldCall { operationId: p.hold_op.clone(), value }.abi_encode();
            start_step(conn, &op, kind::CASHOUT_BURN, calldata, "SENT", "PAYING").await?;
            (Applied::Executed, record("ACSC".into(), None))
        }
        (BankAnswer::Accepted { status }, "SENT") => (Applied::Accepted, record(status.clone(), None)),
        (BankAnswer::Rejected { code, text }, "SENT") => {
            let reason = format!(
                "the bank rejected the payout: {code} ({}){}; the funds were released",
                reason_text(code),
                text.as_deref().map(|t| format!(": {t}")).unwrap_or_default()
            );
            fail_cashout_movement(conn, p.movement_id, &reason).await?;
            start_release(conn, &op, p.payer.as_deref(), &p.amount, "SENT", "Cash-out rejected by the bank: funds released").await?;
            (Applied::Rejected, record("RJCT".into(), Some(code.clone())))
        }
        _ => return Ok(AnswerOutcome::Applied(Applied::Nothing)),
    };
    sqlx::query("UPDATE payouts SET bank_status = $2, bank_reason = COALESCE($3, bank_reason), updated_at = now() WHERE id = $1")
        .bind(p.id)
        .bind(bank_status)
        .bind(bank_reason)
        .execute(&mut *conn)
        .await?;
    Ok(AnswerOutcome::Applied(applied))
}

/// A payout the creditor's bank returned after it was executed (a credit with
/// return information and the payout's end-to-end id): the amount is minted
/// back to the wallet (a BANK_ACCOUNT_CASHIN movement naming the return) and
/// the payout is RETURNED. False when no PAID payout matches.
pub async fn bank_returned(conn: &mut PgConnection, platform: &Platform, token: &money::Token, end_to_end_id: &str, amount: rust_decimal::Decimal, code: &str) -> Result<bool> {
    let Some(p) = sent_payout(conn, end_to_end_id).await? else { return Ok(false) };
    let expected = rust_decimal::Decimal::from_i128_with_scale(p.amount.parse::<i128>().unwrap_or(0), token.decimals);
    if p.status != "PAID" || amount != expected {
        return Ok(false);
    }
    let wallet: crate::wallet::WalletFacts = wallet_facts(conn, p.client_id, p.wallet_id, false).await?;
    let minor: u128 = p.amount.parse().map_err(Error::internal)?;
    let op_id = Uuid::now_v7();
    let calldata = EmToken::mintCall { operationId: op_id.to_string(), to: money::addr(&wallet.dlt_address)?, value: U256::from(minor) }.abi_encode();
    money::insert_operation(
        conn,
        NewOperation {
            id: op_id,
            client_id: p.client_id,
            kind: kind::BANK_CASHIN,
            chain_operation_id: op_id.to_string(),
            token,
            calldata,
            debit: None,
            wallet_id: Some(p.wallet_id),
            hold_id: None,
            payout_id: Some(p.id),
        },
    )
    .await?;
    money::insert_movement(
        conn,
        platform,
        token,
        NewMovement {
            id: Uuid::now_v7(),
            client_id: p.client_id,
            kind: MovementType::BANK_ACCOUNT_CASHIN,
            amount: minor,
            concept: Some(format!("Cash-out returned by the bank: {code} ({})", reason_text(code))),
            owner: Party::of(&wallet),
            origin: None,
            target: Some(Party::of(&wallet)),
            operation_id: op_id,
            chain_operation_id: op_id.to_string(),
            hold_operation_id: None,
        },
    )
    .await?;
    sqlx::query("UPDATE payouts SET status = 'RETURNED', bank_status = 'RTRN', bank_reason = $2, return_operation_id = $3, updated_at = now() WHERE id = $1")
        .bind(p.id)
        .bind(code)
        .bind(op_id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}
