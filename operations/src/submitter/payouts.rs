//! Cash-out payouts: once the reservation hold is on chain the payout is
//! RESERVED and waits for the next pain.001 file ([`crate::bank::outbox`]); the
//! bank's answer ([`crate::cashout::bank_answer`]) starts the burn or the
//! release; this loop follows those steps' operations to PAID or RELEASED.

use emledger_contracts::EmToken;
use alloy::sol_types::SolCall;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::Submitter;
use crate::money::{hold_statuses, kind};

impl Submitter {
    /// Moves cash-out payouts along (see `http::cashouts`).
    pub(super) async fn payouts(&mut self) -> anyhow::Result<bool> {
        let rows = sqlx::query(
            "SELECT p.id, p.status, p.hold_id, p.movement_id, p.iban, p.amount::text, p.client_id, p.wallet_id,
                    ro.status, so.status, h.operation_id, h.payer_dlt_address, ro.target
             FROM payouts p JOIN operations ro ON ro.id = p.reserve_operation_id
             LEFT JOIN operations so ON so.id = p.settle_operation_id
             JOIN holds h ON h.id = p.hold_id
             WHERE p.status IN ('RESERVING', 'PAYING', 'RELEASING') AND ro.chain_id = $1
             ORDER BY p.created_at LIMIT 200",
        )
        .bind(self.chain_id as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut progressed = false;
        for r in rows {
            let id: Uuid = r.get(0);
            let status: String = r.get(1);
            let hold_id: Uuid = r.get(2);
            let movement_id: Uuid = r.get(3);
            let amount: String = r.get(5);
            let client_id: Uuid = r.get(6);
            let wallet_id: Uuid = r.get(7);
            let reserve: String = r.get(8);
            let settle: Option<String> = r.get(9);
            let hold_op: String = r.get(10);
            let payer: Option<String> = r.get(11);
            let target: String = r.get(12);
            let op = PayoutOp { payout: id, hold_id, hold_op: hold_op.clone(), client_id, wallet_id, target: target.clone() };
            let mut tx = self.pool.begin().await?;
            let moved = match (status.as_str(), reserve.as_str(), settle.as_deref()) {
                ("RESERVING", "SUCCESS", _) => set_payout(&mut tx, id, "RESERVING", "RESERVED", None).await?,
                ("RESERVING", "FAILED", _) => set_payout(&mut tx, id, "RESERVING", "FAILED", Some("the reservation hold reverted")).await?,
                ("PAYING", _, Some("SUCCESS" | "MINED")) => set_payout(&mut tx, id, "PAYING", "PAID", None).await?,
                ("PAYING", _, Some("FAILED")) => {
                    fail_cashout_movement(&mut tx, movement_id, "burning the reserved funds failed; the funds were released").await?;
                    start_release(&mut tx, &op, payer.as_deref(), &amount, "PAYING", "Cash-out burn failed: funds released").await?
                }
                ("RELEASING", _, Some("SUCCESS" | "MINED")) => set_payout(&mut tx, id, "RELEASING", "RELEASED", None).await?,
                ("RELEASING", _, Some("FAILED")) => {
                    tracing::error!(payout = %id, "releasing the funds of a failed payout reverted: needs an operator");
                    set_payout(&mut tx, id, "RELEASING", "RELEASE_FAILED", Some("releasing the reservation hold reverted")).await?
                }
                _ => false,
            };
            tx.commit().await?;
            progressed |= moved;
        }
        if progressed {
            self.wake.notify_one();
        }
        Ok(progressed)
    }
}

pub(crate) struct PayoutOp {
    pub(crate) payout: Uuid,
    pub(crate) hold_id: Uuid,
    pub(crate) hold_op: String,
    pub(crate) client_id: Uuid,
    pub(crate) wallet_id: Uuid,
    pub(crate) target: String,
}

pub(crate) async fn set_payout(conn: &mut PgConnection, id: Uuid, from: &str, to: &str, error: Option<&str>) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE payouts SET status = $3, error = COALESCE($4, error), updated_at = now() WHERE id = $1 AND status = $2")
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(error)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn fail_cashout_movement(conn: &mut PgConnection, movement: Uuid, reason: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'")
        .bind(movement)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores a payout step's operation together with the payout's status change.
pub(crate) async fn start_step(conn: &mut PgConnection, op: &PayoutOp, kind: &'static str, calldata: Vec<u8>, from: &str, to: &str) -> anyhow::Result<bool> {
    let op_id = Uuid::now_v7();
    let done = sqlx::query("UPDATE payouts SET status = $3, settle_operation_id = $4, updated_at = now() WHERE id = $1 AND status = $2")
        .bind(op.payout)
        .bind(from)
        .bind(to)
        .bind(op_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata, wallet_id, hold_id, payout_id)
         SELECT $1, $2, $3, $4, chain_id, $5, $6, $7, $8, $9 FROM operations o
         WHERE o.id = (SELECT reserve_operation_id FROM payouts WHERE id = $9)",
    )
    .bind(op_id)
    .bind(op.client_id)
    .bind(kind)
    .bind(&op.hold_op)
    .bind(&op.target)
    .bind(&calldata)
    .bind(op.wallet_id)
    .bind(op.hold_id)
    .bind(op.payout)
    .execute(&mut *conn)
    .await?;
    if let Some((requested, _, _)) = hold_statuses(kind) {
        sqlx::query("UPDATE holds SET status = $2, updated_at = now() WHERE id = $1").bind(op.hold_id).bind(requested).execute(&mut *conn).await?;
    }
    Ok(true)
}

pub(crate) async fn start_release(conn: &mut PgConnection, op: &PayoutOp, payer: Option<&str>, amount: &str, from: &str, concept: &str) -> anyhow::Result<bool> {
    let calldata = EmToken::releaseHoldCall { operationId: op.hold_op.clone() }.abi_encode();
    if !start_step(conn, op, kind::CASHOUT_RELEASE, calldata, from, "RELEASING").await? {
        return Ok(false);
    }
    // the RELEASE movement the indexer will settle
    sqlx::query(
        "INSERT INTO movements (id, client_id, type, status, amount, concept, owner_address, owner_wallet_id, wallet_id, user_id,
                                dlt_network, operation_id, chain_operation_id, hold_operation_id, chain_id)
         SELECT $1, p.client_id, 'RELEASE', 'PENDING', $2::numeric, $6, $3, w.id, w.id, w.user_id,
                m.dlt_network, p.settle_operation_id, $4, $4, m.chain_id
         FROM payouts p JOIN wallets w ON w.id = p.wallet_id JOIN movements m ON m.id = p.movement_id WHERE p.id = $5",
    )
    .bind(Uuid::now_v7())
    .bind(amount)
    .bind(payer.unwrap_or_default())
    .bind(&op.hold_op)
    .bind(op.payout)
    .bind(concept)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

