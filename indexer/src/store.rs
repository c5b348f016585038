//! Reading the state a batch needs and writing a batch's effects, its events
//! and the cursor in one Postgres transaction (bulk `UNNEST` writes).

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256};
use anyhow::Context;
use emledger_ledger::MovementType;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::{
    apply::{movement_class, ClearableState, Effects, HoldState, PendingKey},
    decode::{Event, Position},
};

/// The (chain, contract) being followed.
#[derive(Clone, Debug)]
pub struct Target {
    pub chain_id: u64,
    pub contract: Address,
    pub dlt_network: String,
}

impl Target {
    pub fn contract_hex(&self) -> String {
        hex_addr(&self.contract)
    }
}

/// The last block the read model reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub block_number: u64,
    pub block_hash: B256,
}

pub fn hex_addr(a: &Address) -> String {
    format!("{a:#x}")
}

pub fn hex_b256(h: &B256) -> String {
    format!("{h:#x}")
}

fn parse_addr(s: &str) -> anyhow::Result<Address> {
    s.parse().with_context(|| format!("bad address in the database: {s}"))
}

fn parse_u256(s: &str) -> anyhow::Result<U256> {
    U256::from_str_radix(s, 10).with_context(|| format!("bad amount in the database: {s}"))
}

/// Seconds since the epoch (uint256 from the chain) as a timestamp, clamped to
/// the range Postgres can store.
fn expiration_ts(expiration: U256) -> Option<i64> {
    if expiration.is_zero() {
        return None;
    }
    Some(u64::try_from(expiration).unwrap_or(u64::MAX).min(253_402_300_799) as i64)
}

/// Reads the cursor.
pub async fn load_cursor(conn: &mut PgConnection, target: &Target) -> anyhow::Result<Option<Cursor>> {
    let row = sqlx::query("SELECT block_number, block_hash FROM chain_cursor WHERE chain_id = $1 AND contract = $2")
        .bind(target.chain_id as i64)
        .bind(target.contract_hex())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => Some(Cursor {
            block_number: r.get::<i64, _>(0) as u64,
            block_hash: r.get::<String, _>(1).parse()?,
        }),
        None => None,
    })
}

/// Records a deployment as the starting point: the cursor sits just before the
/// deployment block, so the backfill starts with it.
pub async fn record_deployment(
    conn: &mut PgConnection,
    target: &Target,
    deploy_block: u64,
    parent_hash: B256,
    decimals: u8,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO chain_cursor (chain_id, contract, deploy_block, block_number, block_hash, decimals)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain_id, contract) DO NOTHING",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .bind(deploy_block as i64)
    .bind(deploy_block as i64 - 1)
    .bind(hex_b256(&parent_hash))
    .bind(decimals as i16)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the token's ISO 4217 currency on its cursor row (a no-op when unchanged).
pub async fn record_currency(pool: &sqlx::PgPool, target: &Target, currency: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE chain_cursor SET currency = $3 WHERE chain_id = $1 AND contract = $2 AND currency IS DISTINCT FROM $3")
        .bind(target.chain_id as i64)
        .bind(target.contract_hex())
        .bind(currency)
        .execute(pool)
        .await?;
    Ok(())
}

/// Holds named by `ids`, as the read model has them.
pub async fn load_holds(
    conn: &mut PgConnection,
    target: &Target,
    ids: &[String],
) -> anyhow::Result<HashMap<String, HoldState>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT id, operation_id, issuer_dlt_address, payer_dlt_address, payee_dlt_address, notary_dlt_address,
                held_value::text, executed_value::text, remaining_value::text, status, chain_status, clearable,
                COALESCE(EXTRACT(EPOCH FROM expiration)::bigint, 0), COALESCE(created_block, 0),
                EXTRACT(EPOCH FROM created_at)::bigint
         FROM holds WHERE chain_id = $1 AND contract_address = $2 AND operation_id = ANY($3)
           AND chain_status IS NOT NULL",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let op: String = r.get(1);
        let hold = HoldState {
            id: r.get(0),
            operation_id: op.clone(),
            issuer: parse_addr(r.get::<Option<String>, _>(2).as_deref().unwrap_or_default())?,
            payer: parse_addr(r.get::<Option<String>, _>(3).as_deref().unwrap_or_default())?,
            payee: parse_addr(r.get::<Option<String>, _>(4).as_deref().unwrap_or_default())?,
            notary: parse_addr(r.get::<Option<String>, _>(5).as_deref().unwrap_or_default())?,
            held_value: parse_u256(r.get(6))?,
            executed_value: parse_u256(r.get(7))?,
            remaining: parse_u256(r.get(8))?,
            status: r.get::<String, _>(9).parse().map_err(anyhow::Error::msg)?,
            chain_status: r.get::<Option<i16>, _>(10).unwrap_or(0) as u8,
            clearable: r.get(11),
            expiration: U256::from(r.get::<i64, _>(12).max(0) as u64),
            created_block: r.get::<i64, _>(13) as u64,
            created_time: r.get::<i64, _>(14) as u64,
        };
        out.insert(op, hold);
    }
    Ok(out)
}

pub async fn load_clearables(
    conn: &mut PgConnection,
    target: &Target,
    ids: &[String],
) -> anyhow::Result<HashMap<String, ClearableState>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT operation_id, orderer, from_address, to_address, value::text, status, reason,
                created_block, EXTRACT(EPOCH FROM created_at)::bigint, updated_block, EXTRACT(EPOCH FROM updated_at)::bigint
         FROM clearable_transfers WHERE chain_id = $1 AND contract_address = $2 AND operation_id = ANY($3)",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let status: String = r.get(5);
        let status = match status.as_str() {
            "ORDERED" => "ORDERED",
            "IN_PROCESS" => "IN_PROCESS",
            "EXECUTED" => "EXECUTED",
            "REJECTED" => "REJECTED",
            _ => "CANCELLED",
        };
        let c = ClearableState {
            operation_id: r.get(0),
            orderer: parse_addr(r.get(1))?,
            from: parse_addr(r.get(2))?,
            to: parse_addr(r.get(3))?,
            value: parse_u256(r.get(4))?,
            status,
            reason: r.get(6),
            created_block: r.get::<i64, _>(7) as u64,
            created_time: r.get::<i64, _>(8) as u64,
            updated_block: r.get::<i64, _>(9) as u64,
            updated_time: r.get::<i64, _>(10) as u64,
        };
        out.insert(c.operation_id.clone(), c);
    }
    Ok(out)
}

/// PENDING movements the API created for `ids`, oldest first.
pub async fn load_pending(
    conn: &mut PgConnection,
    chain_id: u64,
    ids: &[String],
) -> anyhow::Result<(HashMap<PendingKey, Vec<Uuid>>, HashMap<Uuid, MovementType>)> {
    let mut keys: HashMap<PendingKey, Vec<Uuid>> = HashMap::new();
    let mut types = HashMap::new();
    if ids.is_empty() {
        return Ok((keys, types));
    }
    let rows = sqlx::query(
        "SELECT id, chain_operation_id, type, owner_address, created_at FROM movements
         WHERE status = 'PENDING' AND chain_operation_id = ANY($1) AND tx_hash IS NULL
           AND (chain_id IS NULL OR chain_id = $2)
         UNION ALL
         -- a cross-ledger transfer's movement whose position a reorg took away, whatever its status
         SELECT id, chain_operation_id, type, owner_address, created_at FROM movements
         WHERE cross_ledger_transfer_id IS NOT NULL AND tx_hash IS NULL AND status <> 'PENDING'
           AND chain_operation_id = ANY($1) AND chain_id = $2
         ORDER BY created_at, id",
    )
    .bind(ids)
    .bind(chain_id as i64)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let id: Uuid = r.get(0);
        let kind: MovementType = r.get::<String, _>(2).parse().map_err(anyhow::Error::msg)?;
        let key = PendingKey {
            chain_operation_id: r.get(1),
            class: movement_class(kind),
            owner: parse_addr(r.get(3))?,
        };
        keys.entry(key).or_default().push(id);
        types.insert(id, kind);
    }
    Ok((keys, types))
}

/// A block the read model has seen (for reorg detection).
#[derive(Clone, Debug)]
pub struct SeenBlock {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: u64,
}

/// Writes a batch: the decoded events, their effects, the seen blocks and the
/// new cursor. The caller owns the transaction.
pub async fn write_batch(
    conn: &mut PgConnection,
    target: &Target,
    events: &[(Position, Event)],
    fx: &Effects,
    blocks: &[SeenBlock],
    cursor: &Cursor,
) -> anyhow::Result<()> {
    let chain_id = target.chain_id as i64;
    let contract = target.contract_hex();

    if !events.is_empty() {
        let n = events.len();
        let mut block_number = Vec::with_capacity(n);
        let mut block_hash = Vec::with_capacity(n);
        let mut block_time = Vec::with_capacity(n);
        let mut tx_hash = Vec::with_capacity(n);
        let mut log_index = Vec::with_capacity(n);
        let mut name = Vec::with_capacity(n);
        let mut op = Vec::with_capacity(n);
        let mut data = Vec::with_capacity(n);
        for (p, e) in events {
            block_number.push(p.block_number as i64);
            block_hash.push(hex_b256(&p.block_hash));
            block_time.push(p.block_time as i64);
            tx_hash.push(hex_b256(&p.tx_hash));
            log_index.push(p.log_index as i64);
            name.push(e.name());
            op.push(e.operation_id().map(str::to_owned));
            data.push(e.to_json().to_string());
        }
        sqlx::query(
            "INSERT INTO chain_events (chain_id, contract, block_number, block_hash, block_time, tx_hash, log_index, name, operation_id, data)
             SELECT $1, $2, u.bn, u.bh, to_timestamp(u.bt), u.tx, u.li, u.name, u.op, u.data::json
             FROM UNNEST($3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[])
                  AS u(bn, bh, bt, tx, li, name, op, data)",
        )
        .bind(chain_id)
        .bind(&contract)
        .bind(&block_number)
        .bind(&block_hash)
        .bind(&block_time)
        .bind(&tx_hash)
        .bind(&log_index)
        .bind(&name)
        .bind(&op)
        .bind(&data)
        .execute(&mut *conn)
        .await
        .context("inserting chain events")?;
    }

    let t = std::time::Instant::now();
    write_effects_without_events(conn, target, fx, cursor.block_number).await?;
    tracing::debug!(effects_ms = t.elapsed().as_millis() as u64, "effects written");

    if !blocks.is_empty() {
        let numbers: Vec<i64> = blocks.iter().map(|b| b.number as i64).collect();
        let hashes: Vec<String> = blocks.iter().map(|b| hex_b256(&b.hash)).collect();
        let parents: Vec<String> = blocks.iter().map(|b| hex_b256(&b.parent_hash)).collect();
        let times: Vec<i64> = blocks.iter().map(|b| b.timestamp as i64).collect();
        sqlx::query(
            "INSERT INTO chain_blocks (chain_id, number, hash, parent_hash, timestamp)
             SELECT $1, u.n, u.h, u.p, to_timestamp(u.t) FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS u(n, h, p, t)
             ON CONFLICT (chain_id, number) DO UPDATE SET hash = EXCLUDED.hash, parent_hash = EXCLUDED.parent_hash, timestamp = EXCLUDED.timestamp",
        )
        .bind(chain_id)
        .bind(&numbers)
        .bind(&hashes)
        .bind(&parents)
        .bind(&times)
        .execute(&mut *conn)
        .await
        .context("recording blocks")?;
        // only a window of recent blocks is needed to find a common ancestor
        sqlx::query("DELETE FROM chain_blocks WHERE chain_id = $1 AND number < $2")
            .bind(chain_id)
            .bind(cursor.block_number as i64 - crate::REORG_WINDOW as i64)
            .execute(&mut *conn)
            .await?;
    }

    let updated = sqlx::query(
        "UPDATE chain_cursor SET block_number = $3, block_hash = $4, updated_at = now() WHERE chain_id = $1 AND contract = $2",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(cursor.block_number as i64)
    .bind(hex_b256(&cursor.block_hash))
    .execute(&mut *conn)
    .await?;
    anyhow::ensure!(updated.rows_affected() == 1, "no cursor row for this chain and contract");
    Ok(())
}

/// Writes a batch's effects (movements, balances, holds, clearable transfers,
/// authorizations) without touching the event log or the cursor.
pub async fn write_effects_without_events(
    conn: &mut PgConnection,
    target: &Target,
    fx: &Effects,
    block: u64,
) -> anyhow::Result<()> {
    write_movements(conn, target, fx).await?;
    write_balances(conn, target, fx, block).await?;
    write_holds(conn, target, fx).await?;
    write_clearables(conn, target, fx).await?;
    write_authorizations(conn, target, fx).await?;
    Ok(())
}

async fn write_movements(conn: &mut PgConnection, target: &Target, fx: &Effects) -> anyhow::Result<()> {
    let t = std::time::Instant::now();
    let r = write_movements_inner(conn, target, fx).await;
    tracing::debug!(movements_ms = t.elapsed().as_millis() as u64, rows = fx.movements.len(), "movements written");
    r
}

async fn write_movements_inner(conn: &mut PgConnection, target: &Target, fx: &Effects) -> anyhow::Result<()> {
    let (settled, fresh): (Vec<_>, Vec<_>) = fx.movements.iter().partition(|m| m.settles.is_some());
    if !fresh.is_empty() {
        let n = fresh.len();
        let mut id = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut amount = Vec::with_capacity(n);
        let mut owner = Vec::with_capacity(n);
        let mut origin = Vec::with_capacity(n);
        let mut target_addr = Vec::with_capacity(n);
        let mut chain_op = Vec::with_capacity(n);
        let mut hold_op = Vec::with_capacity(n);
        let mut tx = Vec::with_capacity(n);
        let mut li = Vec::with_capacity(n);
        let mut bn = Vec::with_capacity(n);
        let mut bt = Vec::with_capacity(n);
        for m in fresh {
            id.push(m.id);
            kind.push(m.kind.as_str());
            amount.push(m.amount.to_string());
            owner.push(hex_addr(&m.owner));
            origin.push(m.origin.as_ref().map(hex_addr));
            target_addr.push(m.target.as_ref().map(hex_addr));
            chain_op.push(m.chain_operation_id.clone());
            hold_op.push(m.hold_operation_id.clone());
            tx.push(hex_b256(&m.position.tx_hash));
            li.push(m.position.log_index as i64);
            bn.push(m.position.block_number as i64);
            bt.push(m.position.block_time as i64);
        }
        sqlx::query(
            "INSERT INTO movements (id, type, status, amount, owner_address, origin_dlt_address, target_dlt_address,
                                    dlt_network, chain_operation_id, hold_operation_id, chain_id, tx_hash, log_index,
                                    block_number, created_at, updated_at)
             SELECT u.id, u.kind, 'SUCCESS', u.amount::numeric, u.owner, u.origin, u.target, $1, u.cop, u.hop, $2,
                    u.tx, u.li, u.bn, to_timestamp(u.bt), to_timestamp(u.bt)
             FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::bigint[], $13::bigint[], $14::bigint[])
                  AS u(id, kind, amount, owner, origin, target, cop, hop, tx, li, bn, bt)",
        )
        .bind(&target.dlt_network)
        .bind(target.chain_id as i64)
        .bind(&id)
        .bind(&kind)
        .bind(&amount)
        .bind(&owner)
        .bind(&origin)
        .bind(&target_addr)
        .bind(&chain_op)
        .bind(&hold_op)
        .bind(&tx)
        .bind(&li)
        .bind(&bn)
        .bind(&bt)
        .execute(&mut *conn)
        .await
        .context("inserting movements")?;
    }
    if !settled.is_empty() {
        let ids: Vec<Uuid> = settled.iter().map(|m| m.id).collect();
        let amount: Vec<String> = settled.iter().map(|m| m.amount.to_string()).collect();
        let tx: Vec<String> = settled.iter().map(|m| hex_b256(&m.position.tx_hash)).collect();
        let li: Vec<i64> = settled.iter().map(|m| m.position.log_index as i64).collect();
        let bn: Vec<i64> = settled.iter().map(|m| m.position.block_number as i64).collect();
        let hop: Vec<Option<String>> = settled.iter().map(|m| m.hold_operation_id.clone()).collect();
        sqlx::query(
            // a cross-ledger transfer's movement stays PENDING until the relayer has seen
            // both networks execute (it then turns both SUCCESS)
            "UPDATE movements m SET status = CASE WHEN m.cross_ledger_transfer_id IS NULL THEN 'SUCCESS' ELSE m.status END, amount = u.amount::numeric, chain_id = $1, tx_hash = u.tx,
                    log_index = u.li, block_number = u.bn, hold_operation_id = COALESCE(m.hold_operation_id, u.hop),
                    updated_at = now()
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[]) AS u(id, amount, tx, li, bn, hop)
             WHERE m.id = u.id",
        )
        .bind(target.chain_id as i64)
        .bind(&ids)
        .bind(&amount)
        .bind(&tx)
        .bind(&li)
        .bind(&bn)
        .bind(&hop)
        .execute(&mut *conn)
        .await
        .context("settling movements")?;
    }
    Ok(())
}

async fn write_balances(conn: &mut PgConnection, target: &Target, fx: &Effects, block: u64) -> anyhow::Result<()> {
    if fx.balances.is_empty() {
        return Ok(());
    }
    let mut addr = Vec::with_capacity(fx.balances.len());
    let mut gin = Vec::with_capacity(fx.balances.len());
    let mut gout = Vec::with_capacity(fx.balances.len());
    let mut hin = Vec::with_capacity(fx.balances.len());
    let mut hout = Vec::with_capacity(fx.balances.len());
    let mut entries: Vec<_> = fx.balances.iter().collect();
    // a fixed order keeps concurrent writers (there is only one, but still) deadlock-free
    entries.sort_by_key(|(a, _)| **a);
    for (a, d) in entries {
        addr.push(hex_addr(a));
        gin.push(d.gross_in.to_string());
        gout.push(d.gross_out.to_string());
        hin.push(d.held_in.to_string());
        hout.push(d.held_out.to_string());
    }
    // Deltas may be negative: create missing rows at zero first, then apply
    // (a CHECK is evaluated on the proposed row even when it conflicts).
    sqlx::query(
        "INSERT INTO balances (chain_id, contract, address) SELECT $1, $2, a FROM UNNEST($3::text[]) AS a
         ON CONFLICT (chain_id, contract, address) DO NOTHING",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .bind(&addr)
    .execute(&mut *conn)
    .await
    .context("creating balances")?;
    sqlx::query(
        "UPDATE balances b SET gross = b.gross + u.gi::numeric - u.go::numeric,
                               held = b.held + u.hi::numeric - u.ho::numeric, updated_block = $3
         FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(a, gi, go, hi, ho)
         WHERE b.chain_id = $1 AND b.contract = $2 AND b.address = u.a",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .bind(block as i64)
    .bind(&addr)
    .bind(&gin)
    .bind(&gout)
    .bind(&hin)
    .bind(&hout)
    .execute(&mut *conn)
    .await
    .context("updating balances")?;
    Ok(())
}

async fn write_holds(conn: &mut PgConnection, target: &Target, fx: &Effects) -> anyhow::Result<()> {
    let t = std::time::Instant::now();
    let r = write_holds_inner(conn, target, fx).await;
    tracing::debug!(holds_ms = t.elapsed().as_millis() as u64, rows = fx.changed_holds.len(), "holds written");
    r
}

async fn write_holds_inner(conn: &mut PgConnection, target: &Target, fx: &Effects) -> anyhow::Result<()> {
    if fx.changed_holds.is_empty() {
        return Ok(());
    }
    let holds: Vec<&HoldState> = fx.changed_holds.iter().filter_map(|op| fx.holds.get(op)).collect();
    let n = holds.len();
    let mut id = Vec::with_capacity(n);
    let mut op = Vec::with_capacity(n);
    let mut issuer = Vec::with_capacity(n);
    let mut payer = Vec::with_capacity(n);
    let mut payee = Vec::with_capacity(n);
    let mut notary = Vec::with_capacity(n);
    let mut held = Vec::with_capacity(n);
    let mut executed = Vec::with_capacity(n);
    let mut remaining = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut chain_status = Vec::with_capacity(n);
    let mut clearable = Vec::with_capacity(n);
    let mut expiration = Vec::with_capacity(n);
    let mut created_block = Vec::with_capacity(n);
    let mut created_time = Vec::with_capacity(n);
    for h in holds {
        id.push(h.id);
        op.push(h.operation_id.clone());
        issuer.push(hex_addr(&h.issuer));
        payer.push(hex_addr(&h.payer));
        payee.push(hex_addr(&h.payee));
        notary.push(hex_addr(&h.notary));
        held.push(h.held_value.to_string());
        executed.push(h.executed_value.to_string());
        remaining.push(h.remaining.to_string());
        status.push(h.status.as_str());
        chain_status.push(h.chain_status as i16);
        clearable.push(h.clearable);
        expiration.push(expiration_ts(h.expiration));
        created_block.push(h.created_block as i64);
        created_time.push(h.created_time as i64);
    }
    sqlx::query(
        "INSERT INTO holds (id, chain_id, contract_address, operation_id, issuer_dlt_address, payer_dlt_address,
                            payee_dlt_address, notary_dlt_address, held_value, executed_value, remaining_value, status,
                            chain_status, clearable, expiration, dlt_network, created_block, created_at, updated_at)
         SELECT u.id, $1, $2, u.op, u.issuer, u.payer, u.payee, u.notary, u.held::numeric, u.executed::numeric,
                u.remaining::numeric, u.status, u.cs, u.clearable, to_timestamp(u.exp), $3, u.cb, to_timestamp(u.ct), now()
         FROM UNNEST($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::text[], $13::text[], $14::smallint[], $15::bool[], $16::bigint[], $17::bigint[], $18::bigint[])
              AS u(id, op, issuer, payer, payee, notary, held, executed, remaining, status, cs, clearable, exp, cb, ct)
         ON CONFLICT (chain_id, contract_address, operation_id) DO UPDATE SET
             issuer_dlt_address = EXCLUDED.issuer_dlt_address, payer_dlt_address = EXCLUDED.payer_dlt_address,
             payee_dlt_address = EXCLUDED.payee_dlt_address, notary_dlt_address = EXCLUDED.notary_dlt_address,
             held_value = EXCLUDED.held_value, executed_value = EXCLUDED.executed_value,
             remaining_value = EXCLUDED.remaining_value, status = EXCLUDED.status, chain_status = EXCLUDED.chain_status,
             clearable = EXCLUDED.clearable, expiration = EXCLUDED.expiration, created_block = EXCLUDED.created_block,
             error = NULL, updated_at = now()",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .bind(&target.dlt_network)
    .bind(&id)
    .bind(&op)
    .bind(&issuer)
    .bind(&payer)
    .bind(&payee)
    .bind(&notary)
    .bind(&held)
    .bind(&executed)
    .bind(&remaining)
    .bind(&status)
    .bind(&chain_status)
    .bind(&clearable)
    .bind(&expiration)
    .bind(&created_block)
    .bind(&created_time)
    .execute(&mut *conn)
    .await
    .context("upserting holds")?;
    Ok(())
}

async fn write_clearables(conn: &mut PgConnection, target: &Target, fx: &Effects) -> anyhow::Result<()> {
    if fx.changed_clearables.is_empty() {
        return Ok(());
    }
    for op in &fx.changed_clearables {
        let Some(c) = fx.clearables.get(op) else { continue };
        sqlx::query(
            "INSERT INTO clearable_transfers (chain_id, contract_address, operation_id, orderer, from_address, to_address,
                                              value, status, reason, created_block, updated_block, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11, to_timestamp($12), to_timestamp($13))
             ON CONFLICT (chain_id, contract_address, operation_id) DO UPDATE SET
                status = EXCLUDED.status, reason = EXCLUDED.reason, updated_block = EXCLUDED.updated_block,
                updated_at = EXCLUDED.updated_at",
        )
        .bind(target.chain_id as i64)
        .bind(target.contract_hex())
        .bind(&c.operation_id)
        .bind(hex_addr(&c.orderer))
        .bind(hex_addr(&c.from))
        .bind(hex_addr(&c.to))
        .bind(c.value.to_string())
        .bind(c.status)
        .bind(&c.reason)
        .bind(c.created_block as i64)
        .bind(c.updated_block as i64)
        .bind(c.created_time as i64)
        .bind(c.updated_time as i64)
        .execute(&mut *conn)
        .await
        .context("upserting clearable transfers")?;
    }
    Ok(())
}

async fn write_authorizations(conn: &mut PgConnection, target: &Target, fx: &Effects) -> anyhow::Result<()> {
    for (clearable, operator, account, authorized, block) in &fx.authorizations {
        sqlx::query(
            "INSERT INTO operator_authorizations (chain_id, contract, kind, operator, account, authorized, block_number)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (chain_id, contract, kind, operator, account) DO UPDATE
               SET authorized = EXCLUDED.authorized, block_number = EXCLUDED.block_number",
        )
        .bind(target.chain_id as i64)
        .bind(target.contract_hex())
        .bind(if *clearable { "CLEARABLE_TRANSFER" } else { "HOLD" })
        .bind(hex_addr(operator))
        .bind(hex_addr(account))
        .bind(authorized)
        .bind(*block as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

