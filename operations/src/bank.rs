//! SEPA cash-in as reported by the bank side: a transfer received on a wallet's
//! IBAN mints the amount to the wallet owning it (a BANK_ACCOUNT_CASHIN
//! movement, PENDING → SUCCESS). An IBAN no READY wallet of the tenant owns is
//! recorded and refused (`unknown_iban`, nothing minted). Idempotent on the
//! bank's `reference`: the same reference and request get the first answer
//! again, the same reference with another request [`Error::IdempotencyKeyReused`].

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    idempotency::request_hash,
    money::{self, kind, NewMovement, NewOperation, Party},
    validate,
    wallet::{self, WalletFacts},
    Error, Platform, Result,
};

/// The endpoint name the request fingerprint is taken under.
pub const ENDPOINT: &str = "POST /api/v1/bank/incoming-transfers";

/// A SEPA transfer received on a wallet IBAN.
#[derive(Debug, Clone)]
pub struct IncomingTransfer {
    pub iban: String,
    /// As given: a decimal string or JSON number.
    pub amount: Value,
    /// The bank's unique reference of the transfer (1..=140 characters).
    pub reference: String,
    pub debtor_name: Option<String>,
}

/// An accepted incoming transfer.
#[derive(Debug, Clone)]
pub struct IncomingAccepted {
    pub id: Uuid,
    pub reference: String,
    pub wallet_id: Uuid,
    /// The BANK_ACCOUNT_CASHIN movement.
    pub movement_id: Uuid,
    pub operation_id: Uuid,
    /// Decimal string with the token's decimals.
    pub amount: String,
}

/// What [`receive`] did.
#[derive(Debug)]
pub enum Received {
    /// Accepted now: the mint is stored.
    Accepted(IncomingAccepted),
    /// The reference was seen before with the same request: its first answer.
    Replayed(Result<IncomingAccepted>),
}

fn refusal(reason: &str) -> Error {
    Error::Unprocessable { code: "unknown_iban", message: format!("refused: {reason}; nothing was minted") }
}

#[derive(sqlx::FromRow)]
struct Seen {
    id: Uuid,
    request_hash: Vec<u8>,
    status: String,
    reason: Option<String>,
    wallet_id: Option<Uuid>,
    movement_id: Option<Uuid>,
    operation_id: Option<Uuid>,
    amount: String,
}

/// Records the transfer and mints it to the wallet owning the IBAN (once per reference).
pub async fn receive(platform: &Platform, client_id: Uuid, t: IncomingTransfer, raw_request: &[u8]) -> Result<Received> {
    let reference = t.reference.trim().to_owned();
    if reference.is_empty() || reference.chars().count() > 140 || reference.chars().any(char::is_control) {
        return Err(Error::invalid("reference", "must be 1 to 140 characters without control characters"));
    }
    let iban = validate::iban(&t.iban).map_err(|r| Error::invalid("iban", r))?;
    let token = platform.token().await?;
    let amount = money::amount("amount", &t.amount, token.decimals)?;
    let debtor = wallet::text("debtorName", t.debtor_name, 200)?;
    let hash = request_hash(ENDPOINT, raw_request);

    let mut tx = platform.pool().begin().await?;
    let id = Uuid::now_v7();
    let claimed = sqlx::query(
        "INSERT INTO bank_incoming_transfers (id, client_id, reference, request_hash, iban, amount, debtor_name, status)
         VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, 'PROCESSING') ON CONFLICT (client_id, reference) DO NOTHING",
    )
    .bind(id)
    .bind(client_id)
    .bind(&reference)
    .bind(&hash)
    .bind(&iban)
    .bind(amount.minor().to_string())
    .bind(&debtor)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        let seen: Seen = sqlx::query_as(
            "SELECT id, request_hash, status, reason, wallet_id, movement_id, operation_id, amount::text AS amount
             FROM bank_incoming_transfers WHERE client_id = $1 AND reference = $2",
        )
        .bind(client_id)
        .bind(&reference)
        .fetch_one(&mut *tx)
        .await?;
        if seen.request_hash != hash {
            return Err(Error::IdempotencyKeyReused);
        }
        let first = match (seen.status.as_str(), seen.wallet_id, seen.movement_id, seen.operation_id) {
            ("ACCEPTED", Some(wallet_id), Some(movement_id), Some(operation_id)) => Ok(IncomingAccepted {
                id: seen.id,
                reference,
                wallet_id,
                movement_id,
                operation_id,
                amount: money::wire(seen.amount.parse().unwrap_or(0), token.decimals),
            }),
            _ => Err(refusal(seen.reason.as_deref().unwrap_or("refused"))),
        };
        return Ok(Received::Replayed(first));
    }

    let wallet: Option<WalletFacts> =
        sqlx::query_as("SELECT id, user_id, dlt_address, status, iban FROM wallets WHERE iban = $1 AND client_id = $2 FOR NO KEY UPDATE")
            .bind(&iban)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
    let wallet = match wallet {
        Some(w) if w.status == wallet::status::READY => w,
        other => {
            let reason = match other {
                Some(w) => format!("the wallet owning this IBAN is {}", w.status),
                None => "no wallet owns this IBAN".to_owned(),
            };
            sqlx::query("UPDATE bank_incoming_transfers SET status = 'REFUSED', reason = $2 WHERE id = $1")
                .bind(id)
                .bind(&reason)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(refusal(&reason));
        }
    };

    let op_id = Uuid::now_v7();
    let movement_id = Uuid::now_v7();
    let calldata = EmToken::mintCall { operationId: op_id.to_string(), to: money::addr(&wallet.dlt_address)?, value: amount.to_u256() }
        .abi_encode();
    money::insert_operation(
        &mut tx,
        NewOperation {
            id: op_id,
            client_id,
            kind: kind::BANK_CASHIN,
            chain_operation_id: op_id.to_string(),
            token: &token,
            calldata,
            debit: None,
            wallet_id: Some(wallet.id),
            hold_id: None,
            payout_id: None,
        },
    )
    .await?;
    money::insert_movement(
        &mut tx,
        platform,
        &token,
        NewMovement {
            id: movement_id,
            client_id,
            kind: MovementType::BANK_ACCOUNT_CASHIN,
            amount: amount.minor(),
            concept: Some(match &debtor {
                Some(d) => format!("SEPA transfer {reference} from {d}"),
                None => format!("SEPA transfer {reference}"),
            }),
            owner: Party::of(&wallet),
            origin: None,
            target: Some(Party::of(&wallet)),
            operation_id: op_id,
            chain_operation_id: op_id.to_string(),
            hold_operation_id: None,
        },
    )
    .await?;
    sqlx::query(
        "UPDATE bank_incoming_transfers SET status = 'ACCEPTED', wallet_id = $2, movement_id = $3, operation_id = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(wallet.id)
    .bind(movement_id)
    .bind(op_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    platform.stored();
    Ok(Received::Accepted(IncomingAccepted {
        id,
        reference,
        wallet_id: wallet.id,
        movement_id,
        operation_id: op_id,
        amount: money::wire(amount.minor(), token.decimals),
    }))
}
