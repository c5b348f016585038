//! Turning an ordered batch of decoded events into read-model changes:
//! movements (seed 003 semantics), hold and clearable-transfer state, balance
//! deltas and operator authorizations. Pure: the caller loads the state it
//! needs (holds, pending movements) and writes the result in one transaction.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, U256};
use emledger_ledger::{HoldStatus, MovementType};
use uuid::Uuid;

use crate::decode::{Event, Position};

/// A hold as the indexer tracks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldState {
    pub id: Uuid,
    pub operation_id: String,
    pub issuer: Address,
    pub payer: Address,
    pub payee: Address,
    pub notary: Address,
    pub held_value: U256,
    pub executed_value: U256,
    pub remaining: U256,
    pub status: HoldStatus,
    pub chain_status: u8,
    pub clearable: bool,
    pub expiration: U256,
    pub created_block: u64,
    pub created_time: u64,
}

/// A clearable transfer as the indexer tracks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearableState {
    pub operation_id: String,
    pub orderer: Address,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub status: &'static str,
    pub reason: Option<String>,
    pub created_block: u64,
    pub created_time: u64,
    pub updated_block: u64,
    pub updated_time: u64,
}

/// A movement produced by the batch: either a new row or the settlement of a
/// PENDING row the API created (`settles`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovementRow {
    pub id: Uuid,
    pub settles: Option<Uuid>,
    pub kind: MovementType,
    pub amount: U256,
    pub owner: Address,
    pub origin: Option<Address>,
    pub target: Option<Address>,
    pub chain_operation_id: Option<String>,
    pub hold_operation_id: Option<String>,
    pub position: Position,
}

/// A PENDING movement the API created, keyed for settlement.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PendingKey {
    pub chain_operation_id: String,
    /// cash-in types collapse to one class: the API decides card vs bank
    pub class: &'static str,
    pub owner: Address,
}

/// The settlement class of a movement type.
pub fn movement_class(kind: MovementType) -> &'static str {
    match kind {
        MovementType::CARD_CASHIN | MovementType::BANK_ACCOUNT_CASHIN => "CASHIN",
        other => other.as_str(),
    }
}

/// Balance changes of one address (kept as separate increases and decreases so
/// no signed 256-bit arithmetic is needed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BalanceDelta {
    pub gross_in: U256,
    pub gross_out: U256,
    pub held_in: U256,
    pub held_out: U256,
}

/// What a batch changes.
#[derive(Debug, Default)]
pub struct Effects {
    pub movements: Vec<MovementRow>,
    pub balances: HashMap<Address, BalanceDelta>,
    pub holds: HashMap<String, HoldState>,
    pub changed_holds: HashSet<String>,
    pub clearables: HashMap<String, ClearableState>,
    pub changed_clearables: HashSet<String>,
    pub authorizations: Vec<(bool, Address, Address, bool, u64)>,
}

/// Applies `events` (in chain order) on top of the known `holds` and
/// `clearables`, settling `pending` movements where the contract's operation id
/// says so. `pending` maps a key to the ids of PENDING rows (oldest first).
pub fn apply(
    events: &[(Position, Event)],
    holds: HashMap<String, HoldState>,
    clearables: HashMap<String, ClearableState>,
    mut pending: HashMap<PendingKey, Vec<Uuid>>,
    mut pending_types: HashMap<Uuid, MovementType>,
) -> Effects {
    let mut fx = Effects { holds, clearables, ..Default::default() };

    // Operation ids of ERC-20 transfers come from their sibling events in the same tx.
    let claims = transfer_claims(events, &fx.holds);
    let mut used = vec![false; claims.len()];
    let mut claims_by_tx: HashMap<alloy::primitives::B256, Vec<usize>> = HashMap::new();
    for (i, c) in claims.iter().enumerate() {
        claims_by_tx.entry(c.tx_hash).or_default().push(i);
    }

    for (pos, event) in events {
        match event {
            Event::Transfer { from, to, value } => {
                let claim = claims_by_tx.get(&pos.tx_hash).and_then(|ids| {
                    ids.iter().copied().find(|&i| {
                        let c = &claims[i];
                        !used[i] && c.from == *from && c.to == *to && c.value == *value
                    })
                });
                let (op, hold_op) = match claim {
                    Some(i) => {
                        used[i] = true;
                        (Some(claims[i].operation_id.clone()), claims[i].hold.then(|| claims[i].operation_id.clone()))
                    }
                    None => (None, None),
                };
                if !from.is_zero() {
                    fx.balances.entry(*from).or_default().gross_out += *value;
                }
                if !to.is_zero() {
                    fx.balances.entry(*to).or_default().gross_in += *value;
                }
                let mut push = |kind, owner: Address, origin, target| {
                    // a mint or burn may settle the TRANSFER_IN / TRANSFER_OUT movement of a
                    // cross-ledger transfer (the relayer created it under the same operation id)
                    let cross_ledger = match kind {
                        MovementType::BANK_ACCOUNT_CASHIN => Some("TRANSFER_IN"),
                        MovementType::BANK_ACCOUNT_CASHOUT => Some("TRANSFER_OUT"),
                        _ => None,
                    };
                    let settles = op.as_ref().and_then(|op| {
                        [Some(movement_class(kind)), cross_ledger].into_iter().flatten().find_map(|class| {
                            let key = PendingKey { chain_operation_id: op.clone(), class, owner };
                            let ids = pending.get_mut(&key)?;
                            (!ids.is_empty()).then(|| ids.remove(0))
                        })
                    });
                    // the API decides between card and bank cash-in
                    let kind = settles.and_then(|id| pending_types.remove(&id)).unwrap_or(kind);
                    fx.movements.push(MovementRow {
                        id: settles.unwrap_or_else(Uuid::now_v7),
                        settles,
                        kind,
                        amount: *value,
                        owner,
                        origin,
                        target,
                        chain_operation_id: op.clone(),
                        hold_operation_id: hold_op.clone(),
                        position: pos.clone(),
                    });
                };
                if from.is_zero() && !to.is_zero() {
                    push(MovementType::BANK_ACCOUNT_CASHIN, *to, None, Some(*to));
                } else if to.is_zero() && !from.is_zero() {
                    push(MovementType::BANK_ACCOUNT_CASHOUT, *from, Some(*from), None);
                } else if !from.is_zero() {
                    push(MovementType::TRANSFER_OUT, *from, Some(*from), Some(*to));
                    push(MovementType::TRANSFER_IN, *to, Some(*from), Some(*to));
                }
            }
            Event::HoldCreated { issuer, operation_id, from, to, notary, value, expiration } => {
                let existing_id = fx.holds.get(operation_id).map(|h| h.id);
                let hold = HoldState {
                    id: existing_id.unwrap_or_else(Uuid::now_v7),
                    operation_id: operation_id.clone(),
                    issuer: *issuer,
                    payer: *from,
                    payee: *to,
                    notary: *notary,
                    held_value: *value,
                    executed_value: U256::ZERO,
                    remaining: *value,
                    status: HoldStatus::CREATED,
                    chain_status: 1,
                    clearable: false,
                    expiration: *expiration,
                    created_block: pos.block_number,
                    created_time: pos.block_time,
                };
                fx.holds.insert(operation_id.clone(), hold);
                fx.changed_holds.insert(operation_id.clone());
                fx.balances.entry(*from).or_default().held_in += *value;
                let row = hold_movement(&mut pending, MovementType::LOCK, *value, *from, operation_id, pos);
                fx.movements.push(row);
            }
            Event::HoldExecuted { operation_id, held_value, transferred_value, keep_open } => {
                let Some(hold) = fx.holds.get_mut(operation_id) else { continue };
                hold.executed_value += *transferred_value;
                let payer = hold.payer;
                if *keep_open {
                    // HoldExecutedAndKeptOpen's heldValue is, as in the reference, the value
                    // still held after the execution; EmToken builds before the conformance
                    // fix emitted the value held before it. The remainder is taken from the
                    // hold's own state, which reads both right.
                    hold.remaining = hold.remaining.saturating_sub(*transferred_value);
                    hold.status = HoldStatus::EXECUTED_AND_KEPT_OPEN;
                    hold.chain_status = 3;
                    fx.balances.entry(payer).or_default().held_out += *transferred_value;
                } else {
                    hold.remaining = U256::ZERO;
                    hold.status = HoldStatus::EXECUTED;
                    hold.chain_status = 2;
                    fx.balances.entry(payer).or_default().held_out += *held_value;
                    let freed = held_value.saturating_sub(*transferred_value);
                    if !freed.is_zero() {
                        let row = hold_movement(&mut pending, MovementType::RELEASE, freed, payer, operation_id, pos);
                        fx.movements.push(row);
                    }
                }
                fx.changed_holds.insert(operation_id.clone());
            }
            Event::HoldReleased { operation_id, status } => {
                let Some(hold) = fx.holds.get_mut(operation_id) else { continue };
                let freed = hold.remaining;
                let payer = hold.payer;
                hold.remaining = U256::ZERO;
                hold.chain_status = *status;
                hold.status = HoldStatus::from_chain_code(*status).unwrap_or(HoldStatus::RELEASED_BY_NOTARY);
                fx.changed_holds.insert(operation_id.clone());
                fx.balances.entry(payer).or_default().held_out += freed;
                let row = hold_movement(&mut pending, MovementType::RELEASE, freed, payer, operation_id, pos);
                fx.movements.push(row);
            }
            Event::HoldRenewed { operation_id, new_expiration } => {
                let Some(hold) = fx.holds.get_mut(operation_id) else { continue };
                hold.expiration = *new_expiration;
                hold.status = HoldStatus::RENEWED;
                fx.changed_holds.insert(operation_id.clone());
            }
            Event::OperatorAuthorization { clearable, operator, account, authorized } => {
                fx.authorizations.push((*clearable, *operator, *account, *authorized, pos.block_number));
            }
            Event::ClearableOrdered { orderer, operation_id, from, to, value } => {
                if let Some(hold) = fx.holds.get_mut(operation_id) {
                    hold.clearable = true;
                    fx.changed_holds.insert(operation_id.clone());
                }
                fx.clearables.insert(
                    operation_id.clone(),
                    ClearableState {
                        operation_id: operation_id.clone(),
                        orderer: *orderer,
                        from: *from,
                        to: *to,
                        value: *value,
                        status: "ORDERED",
                        reason: None,
                        created_block: pos.block_number,
                        created_time: pos.block_time,
                        updated_block: pos.block_number,
                        updated_time: pos.block_time,
                    },
                );
                fx.changed_clearables.insert(operation_id.clone());
            }
            Event::ClearableInProcess { operation_id }
            | Event::ClearableExecuted { operation_id }
            | Event::ClearableCancelled { operation_id }
            | Event::ClearableRejected { operation_id, .. } => {
                let Some(c) = fx.clearables.get_mut(operation_id) else { continue };
                c.status = match event {
                    Event::ClearableInProcess { .. } => "IN_PROCESS",
                    Event::ClearableExecuted { .. } => "EXECUTED",
                    Event::ClearableCancelled { .. } => "CANCELLED",
                    _ => "REJECTED",
                };
                if let Event::ClearableRejected { reason, .. } = event {
                    c.reason = Some(reason.clone());
                }
                // a cancel by the payer (or orderer) releases the backing hold with the
                // notary's code on chain (as EIP-2018 does); the read model says what happened
                if matches!(event, Event::ClearableCancelled { .. }) {
                    if let Some(hold) = fx.holds.get_mut(operation_id) {
                        hold.status = HoldStatus::CANCELLED;
                        fx.changed_holds.insert(operation_id.clone());
                    }
                }
                c.updated_block = pos.block_number;
                c.updated_time = pos.block_time;
                fx.changed_clearables.insert(operation_id.clone());
            }
            Event::Minted { .. } | Event::Burned { .. } | Event::OperatorTransfer { .. } | Event::Role { .. } | Event::Other { .. } => {}
        }
    }
    fx
}

fn hold_movement(
    pending: &mut HashMap<PendingKey, Vec<Uuid>>,
    kind: MovementType,
    amount: U256,
    payer: Address,
    operation_id: &str,
    pos: &Position,
) -> MovementRow {
    let key = PendingKey { chain_operation_id: operation_id.to_owned(), class: movement_class(kind), owner: payer };
    let settles = pending.get_mut(&key).and_then(|ids| (!ids.is_empty()).then(|| ids.remove(0)));
    MovementRow {
        id: settles.unwrap_or_else(Uuid::now_v7),
        settles,
        kind,
        amount,
        owner: payer,
        origin: None,
        target: None,
        chain_operation_id: Some(operation_id.to_owned()),
        hold_operation_id: Some(operation_id.to_owned()),
        position: pos.clone(),
    }
}

/// An operation id that a Transfer in the same tx may belong to.
struct Claim {
    tx_hash: alloy::primitives::B256,
    operation_id: String,
    from: Address,
    to: Address,
    value: U256,
    hold: bool,
}

fn transfer_claims(events: &[(Position, Event)], holds: &HashMap<String, HoldState>) -> Vec<Claim> {
    // Holds created earlier in this same batch are not in `holds` yet.
    let mut created: HashMap<&str, (Address, Address)> = HashMap::new();
    let mut claims = Vec::new();
    for (pos, event) in events {
        let claim = |operation_id: &str, from, to, value, hold| Claim {
            tx_hash: pos.tx_hash,
            operation_id: operation_id.to_owned(),
            from,
            to,
            value,
            hold,
        };
        match event {
            Event::HoldCreated { operation_id, from, to, .. } => {
                created.insert(operation_id, (*from, *to));
            }
            Event::Minted { operation_id, to, value } => claims.push(claim(operation_id, Address::ZERO, *to, *value, false)),
            Event::Burned { operation_id, from, value } => {
                claims.push(claim(operation_id, *from, Address::ZERO, *value, holds.contains_key(operation_id.as_str()) || created.contains_key(operation_id.as_str())))
            }
            Event::OperatorTransfer { operation_id, from, to, value } => {
                claims.push(claim(operation_id, *from, *to, *value, false))
            }
            Event::HoldExecuted { operation_id, transferred_value, .. } => {
                let parties = created
                    .get(operation_id.as_str())
                    .copied()
                    .or_else(|| holds.get(operation_id).map(|h| (h.payer, h.payee)));
                if let Some((payer, payee)) = parties {
                    claims.push(claim(operation_id, payer, payee, *transferred_value, true));
                }
            }
            _ => {}
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, B256};

    fn pos(block: u64, tx: u8, index: u64) -> Position {
        Position {
            block_number: block,
            block_hash: B256::repeat_byte(block as u8),
            block_time: 1_700_000_000 + block,
            tx_hash: B256::repeat_byte(tx),
            log_index: index,
        }
    }

    const A: Address = address!("00000000000000000000000000000000000000aa");
    const B: Address = address!("00000000000000000000000000000000000000bb");
    const N: Address = address!("00000000000000000000000000000000000000cc");

    #[test]
    fn mint_transfer_and_partial_execute_produce_the_seed_movements() {
        let v = U256::from;
        let events = vec![
            (pos(1, 1, 0), Event::Transfer { from: Address::ZERO, to: A, value: v(1000) }),
            (pos(1, 1, 1), Event::Minted { operation_id: "m1".into(), to: A, value: v(1000) }),
            (pos(2, 2, 0), Event::Transfer { from: A, to: B, value: v(100) }),
            (
                pos(3, 3, 0),
                Event::HoldCreated {
                    issuer: A,
                    operation_id: "h1".into(),
                    from: A,
                    to: B,
                    notary: N,
                    value: v(300),
                    expiration: U256::ZERO,
                },
            ),
            (
                pos(4, 4, 0),
                Event::HoldExecuted {
                    operation_id: "h1".into(),
                    held_value: v(300),
                    transferred_value: v(200),
                    keep_open: false,
                },
            ),
            (pos(4, 4, 1), Event::Transfer { from: A, to: B, value: v(200) }),
        ];
        let fx = apply(&events, HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        let kinds: Vec<_> = fx.movements.iter().map(|m| (m.kind, m.owner, m.amount)).collect();
        assert_eq!(
            kinds,
            vec![
                (MovementType::BANK_ACCOUNT_CASHIN, A, v(1000)),
                (MovementType::TRANSFER_OUT, A, v(100)),
                (MovementType::TRANSFER_IN, B, v(100)),
                (MovementType::LOCK, A, v(300)),
                (MovementType::RELEASE, A, v(100)),
                (MovementType::TRANSFER_OUT, A, v(200)),
                (MovementType::TRANSFER_IN, B, v(200)),
            ]
        );
        assert_eq!(fx.movements[0].chain_operation_id.as_deref(), Some("m1"));
        assert_eq!(fx.movements[5].hold_operation_id.as_deref(), Some("h1"));
        let h = &fx.holds["h1"];
        assert_eq!((h.status, h.executed_value, h.remaining), (HoldStatus::EXECUTED, v(200), U256::ZERO));
        let a = &fx.balances[&A];
        assert_eq!(a.gross_in - a.gross_out, v(700));
        assert_eq!(a.held_in, a.held_out);
    }

    #[test]
    fn pending_api_movements_are_settled_not_duplicated() {
        let v = U256::from;
        let pending_id = Uuid::now_v7();
        let mut pending = HashMap::new();
        pending.insert(
            PendingKey { chain_operation_id: "op-7".into(), class: "CASHIN", owner: A },
            vec![pending_id],
        );
        let mut types = HashMap::new();
        types.insert(pending_id, MovementType::CARD_CASHIN);
        let events = vec![
            (pos(1, 1, 0), Event::Transfer { from: Address::ZERO, to: A, value: v(5) }),
            (pos(1, 1, 1), Event::Minted { operation_id: "op-7".into(), to: A, value: v(5) }),
        ];
        let fx = apply(&events, HashMap::new(), HashMap::new(), pending, types);
        assert_eq!(fx.movements.len(), 1);
        assert_eq!(fx.movements[0].settles, Some(pending_id));
        assert_eq!(fx.movements[0].id, pending_id);
        assert_eq!(fx.movements[0].kind, MovementType::CARD_CASHIN);
    }

    #[test]
    fn keep_open_then_release_frees_only_the_rest() {
        let v = U256::from;
        let events = vec![
            (
                pos(1, 1, 0),
                Event::HoldCreated {
                    issuer: A,
                    operation_id: "h".into(),
                    from: A,
                    to: B,
                    notary: N,
                    value: v(50),
                    expiration: U256::ZERO,
                },
            ),
            // heldValue of a kept-open execution: what stays held (50 - 20)
            (pos(2, 2, 0), Event::HoldExecuted { operation_id: "h".into(), held_value: v(30), transferred_value: v(20), keep_open: true }),
            (pos(2, 2, 1), Event::Transfer { from: A, to: B, value: v(20) }),
            (pos(3, 3, 0), Event::HoldReleased { operation_id: "h".into(), status: 4 }),
        ];
        let fx = apply(&events, HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        let last = fx.movements.last().unwrap();
        assert_eq!((last.kind, last.amount), (MovementType::RELEASE, v(30)));
        let a = &fx.balances[&A];
        assert_eq!(a.held_in, v(50));
        assert_eq!(a.held_out, v(50));
        assert_eq!(fx.holds["h"].status, HoldStatus::RELEASED_BY_NOTARY);
        assert_eq!(fx.holds["h"].executed_value, v(20));
    }

    #[test]
    fn repeated_keep_open_then_execute_tracks_the_remainder() {
        let v = U256::from;
        let kept = |block, held, transferred| {
            (pos(block, block as u8, 0), Event::HoldExecuted { operation_id: "h".into(), held_value: v(held), transferred_value: v(transferred), keep_open: true })
        };
        let events = vec![
            (
                pos(1, 1, 0),
                Event::HoldCreated {
                    issuer: A,
                    operation_id: "h".into(),
                    from: A,
                    to: B,
                    notary: N,
                    value: v(50),
                    expiration: U256::ZERO,
                },
            ),
            kept(2, 30, 20),
            kept(3, 20, 10),
        ];
        let fx = apply(&events, HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        assert_eq!(fx.holds["h"].remaining, v(20));
        assert_eq!(fx.holds["h"].status, HoldStatus::EXECUTED_AND_KEPT_OPEN);
        assert_eq!(fx.balances[&A].held_out, v(30));

        // the final execution of the rest: heldValue is the value held before it
        let mut events = events;
        events.push((pos(4, 4, 0), Event::HoldExecuted { operation_id: "h".into(), held_value: v(20), transferred_value: v(20), keep_open: false }));
        let fx = apply(&events, HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        assert_eq!(fx.holds["h"].remaining, U256::ZERO);
        assert_eq!(fx.holds["h"].executed_value, v(50));
        assert_eq!(fx.balances[&A].held_out, v(50));
        assert!(fx.movements.iter().all(|m| m.kind != MovementType::RELEASE), "nothing left to release");
    }
}
