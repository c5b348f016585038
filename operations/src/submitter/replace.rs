//! Stuck transactions on a real chain: the replacement policy.
//!
//! A transaction that is not mined `--replace-after-secs` (60) after its attempt
//! was signed is **replaced** when
//! - it is the nonce the chain waits for (the signer's nonce at the latest block:
//!   every later transaction of the signer waits behind it), or
//! - its fee cap is below what the chain asks now (it will not be picked up);
//!
//! and not on a zero-price chain (gas price 0 then and now: the fee is not why it
//! waits; it is re-broadcast as it is, see `rebroadcast`).
//!
//! The replacement is the same transaction (same nonce, recipient, calldata and
//! gas limit, so the same operations) signed again with fees
//! `max(old × 1.125 + 1 wei, current)` for the max fee and the priority fee of
//! an EIP-1559 transaction, or for the gas price of a legacy one — the bump
//! Ethereum clients require of a replacement (geth and Besu 10%, others 12.5%).
//! Never above `--max-fee-per-gas-wei` when it is set: at the cap the transaction
//! waits. Escalation repeats every `--replace-after-secs`.
//!
//! Crash safety as for every transaction: in ONE database transaction the old
//! attempt becomes REPLACED (`replaced_by` the new one), the new attempt is
//! stored SIGNED with its raw bytes, and the operations point at it; then it is
//! sent. At most one attempt of a nonce can be mined; the hashes of all of them
//! are polled, and if an earlier one mines it becomes the live attempt again
//! ([`Submitter::adopt`]). The indexer settles operations from their events
//! whichever attempt carried them.

use std::time::Instant;

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    network::{NetworkTransactionBuilder, TransactionBuilder},
    primitives::B256,
    rpc::types::TransactionRequest,
};
use anyhow::Context;

use super::{hex_addr, Fees, InFlight, Submitter};

/// `x` raised by at least 12.5% and at least 1 wei.
pub(super) fn bump(x: u128) -> u128 {
    x.saturating_add(x.div_ceil(8).max(1))
}

/// The fees of a replacement of a transaction that paid `old`, when the chain
/// asks `current` now; `None` when no replacement is worth sending (a zero-price
/// chain) or it would exceed `cap`.
pub(super) fn replacement_fees(old: Fees, current: Fees, cap: Option<u128>) -> Option<Fees> {
    let new = match old {
        Fees::Legacy { price } => {
            if price == 0 && current.cap() == 0 {
                return None;
            }
            Fees::Legacy { price: bump(price).max(current.cap()) }
        }
        Fees::Eip1559 { max_fee, tip } => {
            let (current_max, current_tip) = match current {
                Fees::Eip1559 { max_fee, tip } => (max_fee, tip),
                Fees::Legacy { price } => (price, price),
            };
            let max_fee = bump(max_fee).max(current_max);
            Fees::Eip1559 { max_fee, tip: bump(tip).max(current_tip).min(max_fee) }
        }
    };
    match (cap, new) {
        (Some(cap), _) if new.cap() > cap => None,
        _ => Some(new),
    }
}

impl Submitter {
    /// The replaced attempts of `nonce` (transaction id, hash), oldest first.
    pub(super) async fn earlier_attempts(&self, nonce: i64) -> anyhow::Result<Vec<(i64, B256)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, tx_hash FROM chain_transactions WHERE chain_id = $1 AND signer = $2 AND nonce = $3 AND status = 'REPLACED' ORDER BY id",
        )
        .bind(self.chain_id as i64)
        .bind(hex_addr(&self.address))
        .bind(nonce)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|(id, h)| Ok((id, h.parse().context("stored tx hash")?))).collect()
    }

    /// An earlier attempt (`mined`) of `f`'s nonce is the one the chain mined:
    /// it becomes the live attempt with the operations, the current one REPLACED.
    pub(super) async fn adopt(&self, f: &mut InFlight, mined: B256) -> anyhow::Result<()> {
        let Some(pos) = f.earlier.iter().position(|(_, h)| *h == mined) else {
            anyhow::bail!("a receipt for {mined} which is no attempt of this nonce");
        };
        let (mined_id, _) = f.earlier[pos];
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE chain_transactions SET status = 'REPLACED', replaced_by = $2, updated_at = now() WHERE id = $1 AND status <> 'REPLACED'")
            .bind(f.tx_id)
            .bind(mined_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE chain_transactions SET status = 'SENT', replaced_by = NULL, updated_at = now() WHERE id = $1")
            .bind(mined_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE operations o SET transaction_id = t.id, tx_hash = t.tx_hash, max_fee_per_gas = t.max_fee_per_gas, updated_at = now()
             FROM chain_transactions t WHERE t.id = $2 AND o.transaction_id = $1",
        )
        .bind(f.tx_id)
        .bind(mined_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(tx = %mined, replaced = %f.hash, "an earlier attempt of a replaced transaction was mined");
        f.earlier[pos] = (f.tx_id, f.hash);
        f.tx_id = mined_id;
        f.hash = mined;
        Ok(())
    }

    /// Replaces the stuck transactions (see the module docs).
    pub(super) async fn replace_stuck(&mut self) -> anyhow::Result<()> {
        let (Some(after), Some(chain_nonce)) = (self.replace_after, self.chain_nonce) else { return Ok(()) };
        let due: Vec<i64> =
            self.in_flight.iter().filter(|(n, f)| **n >= chain_nonce && f.attempt_at.elapsed() > after).map(|(n, _)| *n).take(16).collect();
        if due.is_empty() {
            return Ok(());
        }
        self.fees = None; // the price of now
        let current = self.current_fees().await?;
        for nonce in due {
            let Some(f) = self.in_flight.get(&nonce) else { continue };
            let (old_id, old_hash) = (f.tx_id, f.hash);
            let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT raw_tx FROM chain_transactions WHERE id = $1 AND status IN ('SIGNED', 'SENT')")
                .bind(old_id)
                .fetch_optional(&self.pool)
                .await?;
            let Some((raw,)) = row else { continue };
            let old = TxEnvelope::decode_2718(&mut raw.as_slice()).context("decoding a stored transaction")?;
            let old_fees = match &old {
                TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) => Fees::Legacy { price: old.max_fee_per_gas() },
                _ => Fees::Eip1559 { max_fee: old.max_fee_per_gas(), tip: old.max_priority_fee_per_gas().unwrap_or_default() },
            };
            let waited_for = nonce == chain_nonce;
            let underpriced = current.cap() > old_fees.cap();
            // looked at again only after another period, whatever is decided
            if let Some(f) = self.in_flight.get_mut(&nonce) {
                f.attempt_at = Instant::now();
            }
            if !waited_for && !underpriced {
                continue;
            }
            let Some(fees) = replacement_fees(old_fees, current, self.max_fee_per_gas) else {
                tracing::warn!(nonce, tx = %old_hash, fee_cap = old_fees.cap(), max = ?self.max_fee_per_gas,
                    "a transaction is not mined and is not replaced (zero-price chain, or its replacement would pay more than --max-fee-per-gas-wei)");
                continue;
            };
            let req = TransactionRequest::default()
                .with_from(self.address)
                .with_nonce(old.nonce())
                .with_chain_id(self.chain_id)
                .with_gas_limit(old.gas_limit())
                .with_input(old.input().clone());
            let req = match old.to() {
                Some(to) => req.with_to(to),
                None => req,
            };
            let req = fees.priced(req);
            let envelope: TxEnvelope = req.build(&self.wallet).await.context("signing a replacement")?;
            let new_raw = envelope.encoded_2718();
            let new_hash = *envelope.tx_hash();

            // stored before it is sent, in one database transaction
            let mut tx = self.pool.begin().await?;
            let retired = sqlx::query("UPDATE chain_transactions SET status = 'REPLACED', updated_at = now() WHERE id = $1 AND status IN ('SIGNED', 'SENT')")
                .bind(old_id)
                .execute(&mut *tx)
                .await?;
            if retired.rows_affected() != 1 {
                continue; // settled meanwhile (the transaction rolls back)
            }
            let (new_id,): (i64,) = sqlx::query_as(
                "INSERT INTO chain_transactions (chain_id, signer, nonce, operations, batched, gas_limit, max_fee_per_gas, raw_tx, tx_hash)
                 SELECT chain_id, signer, nonce, operations, batched, gas_limit, $2::numeric, $3, $4 FROM chain_transactions WHERE id = $1
                 RETURNING id",
            )
            .bind(old_id)
            .bind(fees.cap().to_string())
            .bind(&new_raw)
            .bind(format!("{new_hash:#x}"))
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE chain_transactions SET replaced_by = $2 WHERE id = $1").bind(old_id).bind(new_id).execute(&mut *tx).await?;
            sqlx::query("UPDATE operations SET transaction_id = $2, tx_hash = $3, max_fee_per_gas = $4::numeric, updated_at = now() WHERE transaction_id = $1")
                .bind(old_id)
                .bind(new_id)
                .bind(format!("{new_hash:#x}"))
                .bind(fees.cap().to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            metrics::counter!("emledger_submitter_replacements_total").increment(1);
            tracing::warn!(nonce, replaced = %old_hash, tx = %new_hash, old_fee_cap = old_fees.cap(), fee_cap = fees.cap(), waited_for, underpriced,
                "a stuck transaction is replaced (same nonce and call, higher fees)");

            let sent = match self.send_raw(&new_raw).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(nonce, error = %e, "sending a replacement failed; it is re-sent, and the earlier attempts stay watched");
                    false
                }
            };
            if let Some(f) = self.in_flight.get_mut(&nonce) {
                f.earlier.push((old_id, old_hash));
                f.tx_id = new_id;
                f.hash = new_hash;
                f.signed = !sent;
                f.since = Instant::now();
                f.attempt_at = Instant::now();
            }
            if sent {
                self.mark_sent(&[new_id]).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_pays_at_least_an_eighth_more_and_at_least_the_current_price() {
        assert_eq!(bump(0), 1);
        assert_eq!(bump(8), 9);
        assert_eq!(bump(9), 11);
        assert_eq!(bump(1_000_000_000), 1_125_000_000);
        let old = Fees::Eip1559 { max_fee: 2_000, tip: 100 };
        assert_eq!(replacement_fees(old, Fees::Eip1559 { max_fee: 1_000, tip: 10 }, None), Some(Fees::Eip1559 { max_fee: 2_250, tip: 113 }));
        assert_eq!(replacement_fees(old, Fees::Eip1559 { max_fee: 9_000, tip: 500 }, None), Some(Fees::Eip1559 { max_fee: 9_000, tip: 500 }));
        assert_eq!(replacement_fees(old, Fees::Eip1559 { max_fee: 9_000, tip: 500 }, Some(5_000)), None, "never above the cap");
        assert_eq!(replacement_fees(Fees::Legacy { price: 10 }, Fees::Legacy { price: 3 }, None), Some(Fees::Legacy { price: 12 }));
    }

    #[test]
    fn nothing_is_replaced_on_a_zero_price_chain() {
        assert_eq!(replacement_fees(Fees::Legacy { price: 0 }, Fees::Legacy { price: 0 }, None), None);
        assert_eq!(replacement_fees(Fees::Legacy { price: 0 }, Fees::Legacy { price: 7 }, None), Some(Fees::Legacy { price: 7 }));
    }
}
