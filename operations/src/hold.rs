//! Holds (seed 003): create, execute (closing; a partial execute releases the
//! rest), execute and keep open, release, renew. The platform is the notary of
//! every hold it creates (`holdFromWithExpirationDate`, as default operator,
//! issuer = platform); a hold whose notary is someone else (a dApp's) cannot be
//! settled here: 409 `hold_not_notarized_by_platform`.
//!
//! Hold statuses: the command sets `*_REQUESTED`; the submitter sets
//! `PENDING_DLT_*` once the transaction is sent; the indexer sets the chain's
//! outcome (CREATED, EXECUTED, EXECUTED_AND_KEPT_OPEN, RELEASED_BY_NOTARY,
//! RELEASED_ON_EXPIRATION, RENEWED); a revert sets `*_FAILED` (with `error`).
//! One operation at a time per hold: while one is in flight (not yet applied by
//! the indexer) another is refused with 409 `hold_operation_in_progress`, which
//! makes a concurrent execute and release resolve to exactly one winner.

use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use chrono::{DateTime, Utc};
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    money::{self, kind, NewMovement, NewOperation, Party, Token},
    wallet::{wallet_facts, WalletFacts},
    Command, Error, Platform, Result,
};

/// Hold `amount` of `wallet_id` in favour of `target_wallet_id`, the platform notary.
#[derive(Debug, Clone)]
pub struct CreateHold {
    pub wallet_id: Uuid,
    pub target_wallet_id: Uuid,
    /// As given: a decimal string or JSON number.
    pub amount: Value,
    pub concept: Option<String>,
    /// RFC 3339 with an offset; `None` or empty = perpetual.
    pub expiration: Option<String>,
}

/// A stored hold command: the hold's status is `*_REQUESTED` until the chain answers.
#[derive(Debug, Clone)]
pub struct HoldStored {
    pub client_id: Uuid,
    pub operation_id: Uuid,
    pub hold_id: Uuid,
    /// The payer wallet.
    pub wallet_id: Uuid,
    /// The PENDING movements this command created.
    pub movement_ids: Vec<Uuid>,
}

impl Command for CreateHold {
    type Output = HoldStored;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<HoldStored> {
        let token = platform.token().await?;
        let notary = platform.signer()?;
        let amount = money::amount("amount", &self.amount, token.decimals)?;
        let concept = money::concept(self.concept)?;
        let expiration = money::expiration("expiration", self.expiration.as_deref())?;
        let (payer, payee) = money::debit_pair(conn, client_id, &token, "payer", self.wallet_id, self.target_wallet_id, amount).await?;

        let hold_id = Uuid::now_v7();
        let op_id = Uuid::now_v7();
        let chain_op = hold_id.to_string();
        let calldata = EmToken::holdFromWithExpirationDateCall {
            operationId: chain_op.clone(),
            from: money::addr(&payer.dlt_address)?,
            to: money::addr(&payee.dlt_address)?,
            notary,
            value: amount.to_u256(),
            expiration: U256::from(expiration.map(|e| e.timestamp().max(0) as u64).unwrap_or(0)),
        }
        .abi_encode();
        money::insert_operation(
            conn,
            NewOperation {
                id: op_id,
                client_id,
                kind: kind::HOLD_CREATE,
                chain_operation_id: chain_op.clone(),
                token: &token,
                calldata,
                debit: Some((payer.dlt_address.clone(), amount.minor())),
                wallet_id: Some(self.wallet_id),
                hold_id: Some(hold_id),
                payout_id: None,
            },
        )
        .await?;
        insert_hold_row(conn, platform, &token, hold_id, client_id, notary, &payer, &payee.dlt_address, Some(payee.id), amount.minor(), expiration, concept.clone())
            .await?;
        let lock_id = Uuid::now_v7();
        money::insert_movement(
            conn,
            platform,
            &token,
            NewMovement {
                id: lock_id,
                client_id,
                kind: MovementType::LOCK,
                amount: amount.minor(),
                concept,
                owner: Party::of(&payer),
                origin: None,
                target: None,
                operation_id: op_id,
                chain_operation_id: chain_op,
                hold_operation_id: None,
            },
        )
        .await?;
        Ok(HoldStored { client_id, operation_id: op_id, hold_id, wallet_id: self.wallet_id, movement_ids: vec![lock_id] })
    }
}

/// Inserts the API's row of a hold it is about to create (the indexer upserts it).
#[allow(clippy::too_many_arguments)]
pub async fn insert_hold_row(
    conn: &mut PgConnection,
    platform: &Platform,
    token: &Token,
    hold_id: Uuid,
    client_id: Uuid,
    notary: Address,
    payer: &WalletFacts,
    payee_address: &str,
    payee_wallet_id: Option<Uuid>,
    amount: u128,
    expiration: Option<DateTime<Utc>>,
    concept: Option<String>,
) -> Result<()> {
    let notary = format!("{notary:#x}");
    sqlx::query(
        "INSERT INTO holds (id, chain_id, contract_address, operation_id, client_id, issuer_dlt_address, payer_dlt_address,
                            payee_dlt_address, notary_dlt_address, payer_wallet_id, payee_wallet_id, held_value,
                            remaining_value, status, api_created, expiration, dlt_network, concept)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $9, $10, $11::numeric, $11::numeric, 'CREATION_REQUESTED', true, $12, $13, $14)",
    )
    .bind(hold_id)
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(hold_id.to_string())
    .bind(client_id)
    .bind(&notary)
    .bind(&payer.dlt_address)
    .bind(payee_address)
    .bind(payer.id)
    .bind(payee_wallet_id)
    .bind(amount.to_string())
    .bind(expiration)
    .bind(platform.dlt_network())
    .bind(concept)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What to do with an open hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Execute,
    ExecuteKeepOpen,
    Release,
    Renew,
}

impl Action {
    /// The contract function's name (also the endpoint's last segment).
    pub fn name(self) -> &'static str {
        match self {
            Action::Execute => "executeHold",
            Action::ExecuteKeepOpen => "executeHoldAndKeepOpen",
            Action::Release => "releaseHold",
            Action::Renew => "renewHold",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Action::Execute => kind::HOLD_EXECUTE,
            Action::ExecuteKeepOpen => kind::HOLD_EXECUTE_KEEP_OPEN,
            Action::Release => kind::HOLD_RELEASE,
            Action::Renew => kind::HOLD_RENEW,
        }
    }
}

/// Execute, execute-and-keep-open, release or renew a hold of `wallet_id` (the payer).
#[derive(Debug, Clone)]
pub struct HoldAction {
    pub wallet_id: Uuid,
    pub hold_id: Uuid,
    pub action: Action,
    /// Execute: the amount to transfer to the payee.
    pub amount: Option<Value>,
    pub concept: Option<String>,
    /// Renew: the new expiration (empty = perpetual).
    pub expiration: Option<String>,
}

#[derive(sqlx::FromRow)]
struct HoldFacts {
    operation_id: String,
    payee_dlt_address: Option<String>,
    notary_dlt_address: Option<String>,
    remaining: String,
    status: String,
    chain_status: Option<i16>,
    clearable: bool,
    expired: bool,
    expiration: Option<DateTime<Utc>>,
}

impl Command for HoldAction {
    type Output = HoldStored;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<HoldStored> {
        let token = platform.token().await?;
        let notary = platform.signer()?;
        let amount = self.amount.as_ref().map(|a| money::amount("amount", a, token.decimals)).transpose()?;
        let concept = money::concept(self.concept)?;
        let expiration = match self.action {
            Action::Renew => money::expiration("expiration", self.expiration.as_deref())?,
            _ => None,
        };
        let payer = wallet_facts(conn, client_id, self.wallet_id, true).await?;
        let hold: HoldFacts = sqlx::query_as(
            "SELECT operation_id, payee_dlt_address, notary_dlt_address, remaining_value::text AS remaining, status, chain_status, clearable,
                    COALESCE(expiration <= GREATEST(now(), (SELECT max(timestamp) FROM chain_blocks WHERE chain_id = $3)), false) AS expired,
                    expiration
             FROM holds WHERE id = $1 AND payer_dlt_address = $2 AND chain_id = $3 AND contract_address = $4 FOR UPDATE",
        )
        .bind(self.hold_id)
        .bind(&payer.dlt_address)
        .bind(token.chain_id)
        .bind(&token.contract)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("hold"))?;
        money::require_ready(&payer, "payer")?;
        let platform_hex = format!("{notary:#x}");
        if hold.notary_dlt_address.as_deref() != Some(platform_hex.as_str()) {
            return Err(Error::conflict(
                "hold_not_notarized_by_platform",
                "the notary of this hold is not the platform: only its notary can settle it, directly on the contract",
            ));
        }
        let (reserved,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM payouts WHERE hold_id = $1)")
            .bind(self.hold_id)
            .fetch_one(&mut *conn)
            .await?;
        if reserved {
            return Err(Error::conflict("hold_reserved_for_cash_out", "this hold reserves the funds of a cash-out; it settles with the payout"));
        }
        let (in_flight,): (bool,) = sqlx::query_as(concat!(
            "SELECT EXISTS (SELECT 1 FROM operations o WHERE o.hold_id = $1 AND ",
            crate::operation_in_flight_sql!(),
            ")"
        ))
        .bind(self.hold_id)
        .fetch_one(&mut *conn)
        .await?;
        if in_flight {
            return Err(Error::conflict(
                "hold_operation_in_progress",
                "another operation on this hold is in progress; retry when it has settled",
            ));
        }
        if !matches!(hold.chain_status, Some(1) | Some(3)) {
            return Err(Error::conflict("hold_not_open", format!("the hold is {}; only open holds can be settled or renewed", hold.status)));
        }
        if hold.clearable {
            return Err(Error::conflict("hold_not_open", "the hold backs a clearable transfer and settles with it"));
        }
        // the chain refuses to execute or renew an expired hold: say so now, not after a revert
        if hold.expired && self.action != Action::Release {
            return Err(Error::conflict(
                "hold_expired",
                format!(
                    "the hold expired at {}; it is released to the payer automatically and can no longer be {}",
                    hold.expiration.map(|e| e.to_rfc3339()).unwrap_or_default(),
                    if self.action == Action::Renew { "renewed" } else { "executed" }
                ),
            ));
        }
        let remaining: u128 = hold.remaining.parse().unwrap_or(0);
        if let Some(a) = amount {
            if a.minor() > remaining {
                return Err(Error::conflict(
                    "amount_exceeds_held_value",
                    format!("the hold has {} left; {} requested", money::wire(remaining, token.decimals), money::wire(a.minor(), token.decimals)),
                ));
            }
        }

        let op_id = Uuid::now_v7();
        let chain_op = hold.operation_id.clone();
        let calldata = match self.action {
            Action::Execute => {
                EmToken::executeHoldCall { operationId: chain_op.clone(), value: amount.expect("amount").to_u256() }.abi_encode()
            }
            Action::ExecuteKeepOpen => {
                EmToken::executeHoldAndKeepOpenCall { operationId: chain_op.clone(), value: amount.expect("amount").to_u256() }
                    .abi_encode()
            }
            Action::Release => EmToken::releaseHoldCall { operationId: chain_op.clone() }.abi_encode(),
            Action::Renew => EmToken::renewHoldWithExpirationDateCall {
                operationId: chain_op.clone(),
                expiration: U256::from(expiration.map(|e| e.timestamp().max(0) as u64).unwrap_or(0)),
            }
            .abi_encode(),
        };
        money::insert_operation(
            conn,
            NewOperation {
                id: op_id,
                client_id,
                kind: self.action.kind(),
                chain_operation_id: chain_op.clone(),
                token: &token,
                calldata,
                debit: None,
                wallet_id: Some(self.wallet_id),
                hold_id: Some(self.hold_id),
                payout_id: None,
            },
        )
        .await?;
        let payee_address = hold.payee_dlt_address.clone().unwrap_or_default();
        let payee = money::party_of(conn, client_id, &payee_address).await?;
        let mut movements = Vec::new();
        match self.action {
            Action::Execute | Action::ExecuteKeepOpen => {
                let value = amount.expect("amount").minor();
                for (kind, owner) in [(MovementType::TRANSFER_OUT, Party::of(&payer)), (MovementType::TRANSFER_IN, payee.clone())] {
                    movements.push((kind, owner, value));
                }
                if self.action == Action::Execute && value < remaining {
                    movements.push((MovementType::RELEASE, Party::of(&payer), remaining - value));
                }
            }
            Action::Release => movements.push((MovementType::RELEASE, Party::of(&payer), remaining)),
            Action::Renew => {}
        }
        let mut ids = Vec::new();
        let mut rows = Vec::new();
        for (kind, owner, value) in movements {
            let id = Uuid::now_v7();
            let transfer = matches!(kind, MovementType::TRANSFER_IN | MovementType::TRANSFER_OUT);
            rows.push(NewMovement {
                id,
                client_id,
                kind,
                amount: value,
                concept: concept.clone(),
                owner,
                origin: transfer.then(|| Party::of(&payer)),
                target: transfer.then(|| payee.clone()),
                operation_id: op_id,
                chain_operation_id: chain_op.clone(),
                hold_operation_id: Some(chain_op.clone()),
            });
            ids.push(id);
        }
        money::insert_movements(conn, platform, &token, rows).await?;
        let (requested, _, _) = money::hold_statuses(self.action.kind()).expect("hold kind");
        sqlx::query("UPDATE holds SET status = $2, error = NULL, updated_at = now() WHERE id = $1")
            .bind(self.hold_id)
            .bind(requested)
            .execute(&mut *conn)
            .await?;
        Ok(HoldStored { client_id, operation_id: op_id, hold_id: self.hold_id, wallet_id: self.wallet_id, movement_ids: ids })
    }
}
