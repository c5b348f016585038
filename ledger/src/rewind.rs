//! Transactions of the platform that a chain rewind took back (a reorg, or a
//! node restarted from an older state): they and their operations go back to
//! SENT, so that the submitter sends the stored bytes again and the receipt of
//! the canonical chain decides again. Shared by the indexer (orphaned blocks)
//! and the submitter (its signer's nonce fell below a mined transaction).

use sqlx::PgConnection;
use uuid::Uuid;

/// Puts the MINED or REVERTED `transactions` back to SENT, with their
/// operations that their receipt had settled (MINED, SUCCESS, or FAILED) and
/// those operations' failed movements (ERROR → PENDING). Returns the
/// operations reopened. Run it in the transaction that undoes the rest.
pub async fn reopen_transactions(conn: &mut PgConnection, transactions: &[i64]) -> sqlx::Result<Vec<Uuid>> {
    if transactions.is_empty() {
        return Ok(Vec::new());
    }
    let reopened: Vec<(Uuid,)> = sqlx::query_as(
        "WITH txs AS (
            UPDATE chain_transactions SET status = 'SENT', block_number = NULL, mined_at = NULL, updated_at = now()
            WHERE id = ANY($1) AND status IN ('MINED', 'REVERTED') RETURNING id)
         UPDATE operations o SET status = 'SENT', block_number = NULL, mined_at = NULL, error = NULL, updated_at = now()
         FROM txs WHERE o.transaction_id = txs.id AND o.status IN ('MINED', 'SUCCESS', 'FAILED')
         RETURNING o.id",
    )
    .bind(transactions)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = reopened.into_iter().map(|(id,)| id).collect();
    if !ids.is_empty() {
        sqlx::query("UPDATE movements SET status = 'PENDING', error = NULL, updated_at = now() WHERE operation_id = ANY($1) AND status = 'ERROR'")
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids)
}
