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
//! 2. **Pay out.** Once the hold is mined, the (simulated) bank pays the IBAN.
//!    On success the platform burns the held funds (`burnHeld`, the hold closes
//!    EXECUTED): the BANK_ACCOUNT_CASHOUT movement turns SUCCESS and the payout PAID.
//! 3. **Failed payout.** If the bank refuses the payout (simulated with
//!    `--bank-reject-ibans`), or the burn reverts, the platform releases the hold:
//!    the funds are available to the wallet again (a RELEASE movement), the
//!    BANK_ACCOUNT_CASHOUT movement turns ERROR and the payout RELEASED.
//!    If the reservation itself reverts, nothing was taken: the movements turn
//!    ERROR and the payout FAILED.
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
        for (id, kind) in [(lock_id, MovementType::LOCK), (cashout_id, MovementType::BANK_ACCOUNT_CASHOUT)] {
            money::insert_movement(
                conn,
                platform,
                &token,
                NewMovement {
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
                },
            )
            .await?;
        }
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
