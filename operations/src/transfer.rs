//! Transfer between two wallets of a tenant (seed 003 `POST .../transfer`): the
//! platform, as default operator, moves `amount` with `operatorTransfer`. Stores
//! the operation and two PENDING movements (TRANSFER_OUT of the source,
//! TRANSFER_IN of the target); the indexer turns them SUCCESS when the transfer
//! is mined (ERROR on a revert).

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    money::{self, kind, NewMovement, NewOperation, Party},
    Command, Platform, Result,
};

/// Move `amount` from `wallet_id` to `target_wallet_id`.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub wallet_id: Uuid,
    pub target_wallet_id: Uuid,
    /// The amount as given (a decimal string or JSON number).
    pub amount: serde_json::Value,
    pub concept: Option<String>,
}

/// A stored transfer.
#[derive(Debug, Clone)]
pub struct TransferStored {
    pub operation_id: Uuid,
    /// The source wallet's TRANSFER_OUT movement.
    pub movement_id: Uuid,
    /// The target wallet's TRANSFER_IN movement.
    pub target_movement_id: Uuid,
    /// The amount as a decimal string with the token's decimals.
    pub amount: String,
    pub concept: Option<String>,
    pub wallet_id: Uuid,
    pub target_wallet_id: Uuid,
}

impl Command for Transfer {
    type Output = TransferStored;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<TransferStored> {
        let token = platform.token().await?;
        let amount = money::amount("amount", &self.amount, token.decimals)?;
        let concept = money::concept(self.concept)?;
        let (source, target) = money::debit_pair(conn, client_id, &token, "source", self.wallet_id, self.target_wallet_id, amount).await?;

        let op_id = Uuid::now_v7();
        let chain_op = op_id.to_string();
        let calldata = EmToken::operatorTransferCall {
            operationId: chain_op.clone(),
            from: money::addr(&source.dlt_address)?,
            to: money::addr(&target.dlt_address)?,
            value: amount.to_u256(),
        }
        .abi_encode();
        money::insert_operation(
            conn,
            NewOperation {
                id: op_id,
                client_id,
                kind: kind::TRANSFER,
                chain_operation_id: chain_op.clone(),
                token: &token,
                calldata,
                debit: Some((source.dlt_address.clone(), amount.minor())),
                wallet_id: Some(self.wallet_id),
                hold_id: None,
                payout_id: None,
            },
        )
        .await?;
        let (out_id, in_id) = (Uuid::now_v7(), Uuid::now_v7());
        let movements = [(out_id, MovementType::TRANSFER_OUT, &source), (in_id, MovementType::TRANSFER_IN, &target)]
            .into_iter()
            .map(|(id, kind, owner)| NewMovement {
                id,
                client_id,
                kind,
                amount: amount.minor(),
                concept: concept.clone(),
                owner: Party::of(owner),
                origin: Some(Party::of(&source)),
                target: Some(Party::of(&target)),
                operation_id: op_id,
                chain_operation_id: chain_op.clone(),
                hold_operation_id: None,
            })
            .collect();
        money::insert_movements(conn, platform, &token, movements).await?;
        Ok(TransferStored {
            operation_id: op_id,
            movement_id: out_id,
            target_movement_id: in_id,
            amount: money::wire(amount.minor(), token.decimals),
            concept,
            wallet_id: self.wallet_id,
            target_wallet_id: target.id,
        })
    }
}
