//! Decoding EmToken logs into the events the read model cares about.

use alloy::{
    primitives::{Address, B256, U256},
    rpc::types::Log,
    sol_types::SolEventInterface,
};
use emledger_contracts::EmToken::EmTokenEvents;

/// Where a log sits on the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub block_number: u64,
    pub block_hash: B256,
    pub block_time: u64,
    pub tx_hash: B256,
    pub log_index: u64,
}

/// An EmToken event, reduced to what the read model uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Transfer { from: Address, to: Address, value: U256 },
    Minted { operation_id: String, to: Address, value: U256 },
    Burned { operation_id: String, from: Address, value: U256 },
    OperatorTransfer { operation_id: String, from: Address, to: Address, value: U256 },
    HoldCreated {
        issuer: Address,
        operation_id: String,
        from: Address,
        to: Address,
        notary: Address,
        value: U256,
        expiration: U256,
    },
    /// `HoldExecuted` (`keep_open` false: `held_value` is the value held before the execution)
    /// or `HoldExecutedAndKeptOpen` (`keep_open` true: `held_value` is the value still held
    /// after it), as in the reference implementation.
    HoldExecuted { operation_id: String, held_value: U256, transferred_value: U256, keep_open: bool },
    HoldReleased { operation_id: String, status: u8 },
    HoldRenewed { operation_id: String, new_expiration: U256 },
    OperatorAuthorization { clearable: bool, operator: Address, account: Address, authorized: bool },
    ClearableOrdered { orderer: Address, operation_id: String, from: Address, to: Address, value: U256 },
    ClearableInProcess { operation_id: String },
    ClearableExecuted { operation_id: String },
    ClearableRejected { operation_id: String, reason: String },
    ClearableCancelled { operation_id: String },
    /// A role granted to or revoked from `account` (kept in the log: the API refuses role
    /// holders as wallet addresses).
    Role { role: B256, account: Address, granted: bool },
    /// Any other EmToken event (roles, pause, freeze, approvals): kept in the log only.
    Other { name: &'static str },
}

impl Event {
    /// The event's name as stored in `chain_events.name`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Transfer { .. } => "Transfer",
            Event::Minted { .. } => "Minted",
            Event::Burned { .. } => "Burned",
            Event::OperatorTransfer { .. } => "OperatorTransfer",
            Event::HoldCreated { .. } => "HoldCreated",
            Event::HoldExecuted { keep_open: false, .. } => "HoldExecuted",
            Event::HoldExecuted { keep_open: true, .. } => "HoldExecutedAndKeptOpen",
            Event::HoldReleased { .. } => "HoldReleased",
            Event::HoldRenewed { .. } => "HoldRenewed",
            Event::OperatorAuthorization { clearable: false, authorized: true, .. } => "HoldOperatorAuthorized",
            Event::OperatorAuthorization { clearable: false, authorized: false, .. } => "RevokedHoldOperator",
            Event::OperatorAuthorization { clearable: true, authorized: true, .. } => {
                "AuthorizedClearableTransferOperator"
            }
            Event::OperatorAuthorization { clearable: true, authorized: false, .. } => {
                "RevokedClearableTransferOperator"
            }
            Event::ClearableOrdered { .. } => "ClearableTransferOrdered",
            Event::ClearableInProcess { .. } => "ClearableTransferInProcess",
            Event::ClearableExecuted { .. } => "ClearableTransferExecuted",
            Event::ClearableRejected { .. } => "ClearableTransferRejected",
            Event::ClearableCancelled { .. } => "ClearableTransferCancelled",
            Event::Role { granted: true, .. } => "RoleGranted",
            Event::Role { granted: false, .. } => "RoleRevoked",
            Event::Other { name } => name,
        }
    }

    /// The operation id the event carries, if any.
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            Event::Minted { operation_id, .. }
            | Event::Burned { operation_id, .. }
            | Event::OperatorTransfer { operation_id, .. }
            | Event::HoldCreated { operation_id, .. }
            | Event::HoldExecuted { operation_id, .. }
            | Event::HoldReleased { operation_id, .. }
            | Event::HoldRenewed { operation_id, .. }
            | Event::ClearableOrdered { operation_id, .. }
            | Event::ClearableInProcess { operation_id }
            | Event::ClearableExecuted { operation_id }
            | Event::ClearableRejected { operation_id, .. }
            | Event::ClearableCancelled { operation_id } => Some(operation_id),
            _ => None,
        }
    }

    /// The decoded fields as JSON for `chain_events.data` (amounts as decimal strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let a = |x: &Address| format!("{x:#x}");
        match self {
            Event::Transfer { from, to, value } => json!({"from": a(from), "to": a(to), "value": value.to_string()}),
            Event::Minted { to, value, .. } => json!({"to": a(to), "value": value.to_string()}),
            Event::Burned { from, value, .. } => json!({"from": a(from), "value": value.to_string()}),
            Event::OperatorTransfer { from, to, value, .. } => {
                json!({"from": a(from), "to": a(to), "value": value.to_string()})
            }
            Event::HoldCreated { issuer, from, to, notary, value, expiration, .. } => json!({
                "issuer": a(issuer), "from": a(from), "to": a(to), "notary": a(notary),
                "value": value.to_string(), "expiration": expiration.to_string()
            }),
            Event::HoldExecuted { held_value, transferred_value, .. } => {
                json!({"heldValue": held_value.to_string(), "transferredValue": transferred_value.to_string()})
            }
            Event::HoldReleased { status, .. } => json!({"status": status}),
            Event::HoldRenewed { new_expiration, .. } => json!({"newExpiration": new_expiration.to_string()}),
            Event::OperatorAuthorization { operator, account, .. } => {
                json!({"operator": a(operator), "account": a(account)})
            }
            Event::ClearableOrdered { orderer, from, to, value, .. } => {
                json!({"orderer": a(orderer), "from": a(from), "to": a(to), "value": value.to_string()})
            }
            Event::ClearableRejected { reason, .. } => json!({"reason": reason}),
            Event::Role { role, account, .. } => json!({"role": format!("{role:#x}"), "account": a(account)}),
            _ => json!({}),
        }
    }
}

/// Decodes one EmToken log. `None` for logs that are not EmToken's (wrong topics).
pub fn decode(log: &Log) -> Option<Event> {
    let decoded = EmTokenEvents::decode_raw_log(log.topics(), &log.data().data).ok()?;
    Some(match decoded {
        EmTokenEvents::Transfer(e) => Event::Transfer { from: e.from, to: e.to, value: e.value },
        EmTokenEvents::Minted(e) => Event::Minted { operation_id: e.operationId, to: e.to, value: e.value },
        EmTokenEvents::Burned(e) => Event::Burned { operation_id: e.operationId, from: e.from, value: e.value },
        EmTokenEvents::OperatorTransfer(e) => {
            Event::OperatorTransfer { operation_id: e.operationId, from: e.from, to: e.to, value: e.value }
        }
        EmTokenEvents::HoldCreated(e) => Event::HoldCreated {
            issuer: e.holdIssuer,
            operation_id: e.operationId,
            from: e.from,
            to: e.to,
            notary: e.notary,
            value: e.value,
            expiration: e.expiration,
        },
        EmTokenEvents::HoldExecuted(e) => Event::HoldExecuted {
            operation_id: e.operationId,
            held_value: e.heldValue,
            transferred_value: e.transferredValue,
            keep_open: false,
        },
        EmTokenEvents::HoldExecutedAndKeptOpen(e) => Event::HoldExecuted {
            operation_id: e.operationId,
            held_value: e.heldValue,
            transferred_value: e.transferredValue,
            keep_open: true,
        },
        EmTokenEvents::HoldReleased(e) => Event::HoldReleased { operation_id: e.operationId, status: e.status },
        EmTokenEvents::HoldRenewed(e) => {
            Event::HoldRenewed { operation_id: e.operationId, new_expiration: e.newExpiration }
        }
        EmTokenEvents::HoldOperatorAuthorized(e) => {
            Event::OperatorAuthorization { clearable: false, operator: e.operator, account: e.account, authorized: true }
        }
        EmTokenEvents::RevokedHoldOperator(e) => {
            Event::OperatorAuthorization { clearable: false, operator: e.operator, account: e.account, authorized: false }
        }
        EmTokenEvents::AuthorizedClearableTransferOperator(e) => {
            Event::OperatorAuthorization { clearable: true, operator: e.operator, account: e.account, authorized: true }
        }
        EmTokenEvents::RevokedClearableTransferOperator(e) => {
            Event::OperatorAuthorization { clearable: true, operator: e.operator, account: e.account, authorized: false }
        }
        EmTokenEvents::ClearableTransferOrdered(e) => Event::ClearableOrdered {
            orderer: e.orderer,
            operation_id: e.operationId,
            from: e.from,
            to: e.to,
            value: e.value,
        },
        EmTokenEvents::ClearableTransferInProcess(e) => Event::ClearableInProcess { operation_id: e.operationId },
        EmTokenEvents::ClearableTransferExecuted(e) => Event::ClearableExecuted { operation_id: e.operationId },
        EmTokenEvents::ClearableTransferRejected(e) => {
            Event::ClearableRejected { operation_id: e.operationId, reason: e.reason }
        }
        EmTokenEvents::ClearableTransferCancelled(e) => Event::ClearableCancelled { operation_id: e.operationId },
        EmTokenEvents::Approval(_) => Event::Other { name: "Approval" },
        EmTokenEvents::Paused(_) => Event::Other { name: "Paused" },
        EmTokenEvents::Unpaused(_) => Event::Other { name: "Unpaused" },
        EmTokenEvents::AccountFrozen(_) => Event::Other { name: "AccountFrozen" },
        EmTokenEvents::AccountUnfrozen(_) => Event::Other { name: "AccountUnfrozen" },
        EmTokenEvents::RoleGranted(e) => Event::Role { role: e.role, account: e.account, granted: true },
        EmTokenEvents::RoleRevoked(e) => Event::Role { role: e.role, account: e.account, granted: false },
        EmTokenEvents::RoleAdminChanged(_) => Event::Other { name: "RoleAdminChanged" },
        // the submitter settles a failed inner call of a batch from its receipt
        EmTokenEvents::BatchCallFailed(_) => Event::Other { name: "BatchCallFailed" },
        #[allow(unreachable_patterns)]
        _ => Event::Other { name: "Unknown" },
    })
}

/// Rebuilds the hold and clearable-transfer events from their stored form in
/// `chain_events` (used to replay state after a reorg). Other events give `None`.
pub fn from_stored(name: &str, operation_id: Option<&str>, data: &serde_json::Value) -> Option<Event> {
    let op = || operation_id.map(str::to_owned);
    let addr = |k: &str| data.get(k)?.as_str()?.parse::<Address>().ok();
    let num = |k: &str| U256::from_str_radix(data.get(k)?.as_str()?, 10).ok();
    Some(match name {
        "HoldCreated" => Event::HoldCreated {
            issuer: addr("issuer")?,
            operation_id: op()?,
            from: addr("from")?,
            to: addr("to")?,
            notary: addr("notary")?,
            value: num("value")?,
            expiration: num("expiration")?,
        },
        "HoldExecuted" | "HoldExecutedAndKeptOpen" => Event::HoldExecuted {
            operation_id: op()?,
            held_value: num("heldValue")?,
            transferred_value: num("transferredValue")?,
            keep_open: name == "HoldExecutedAndKeptOpen",
        },
        "HoldReleased" => Event::HoldReleased { operation_id: op()?, status: data.get("status")?.as_u64()? as u8 },
        "HoldRenewed" => Event::HoldRenewed { operation_id: op()?, new_expiration: num("newExpiration")? },
        "ClearableTransferOrdered" => Event::ClearableOrdered {
            orderer: addr("orderer")?,
            operation_id: op()?,
            from: addr("from")?,
            to: addr("to")?,
            value: num("value")?,
        },
        "ClearableTransferInProcess" => Event::ClearableInProcess { operation_id: op()? },
        "ClearableTransferExecuted" => Event::ClearableExecuted { operation_id: op()? },
        "ClearableTransferCancelled" => Event::ClearableCancelled { operation_id: op()? },
        "ClearableTransferRejected" => Event::ClearableRejected {
            operation_id: op()?,
            reason: data.get("reason")?.as_str()?.to_owned(),
        },
        _ => return None,
    })
}
