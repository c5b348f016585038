//! Card payment service providers (PSPs): the only way a card cash-in mints.
//!
//! [`Psp`] is what the platform needs of a PSP: the URL of its hosted payment
//! page for an order, and the verification of what it sends back (the
//! customer's return and the server-to-server notification). Two
//! implementations speak the same protocol, Ogone / Ingenico / Worldline
//! e-Commerce ([`ogone`]):
//! - [`ogone::Ogone`], the real PSP (PSPID, SHA-IN and SHA-OUT passphrases,
//!   hash algorithm, endpoint);
//! - [`simulator::Simulator`], a local PSP for `emledger up` and tests: its page
//!   checks the request's SHA-IN, and signs its redirect and its notification
//!   with SHA-OUT; the platform verifies them with the very same
//!   [`Psp::verify_feedback`] of [`ogone::Ogone`].
//!
//! [`apply_feedback`] is the one place a verified feedback changes state. It
//! runs in one transaction, with the order's row locked:
//! - `STATUS` 5 (authorised) or 9 (payment requested): the mint is stored, once
//!   per order (the mint's operation id is fixed when the order is made; the
//!   first `PAYID` is kept, another `PAYID` for a paid order is recorded and
//!   never minted again);
//! - 1 (cancelled by the customer), 2 (authorisation refused), 93 (payment
//!   refused): the order is REJECTED and its movement ERROR, with the reason;
//! - 51, 52, 91, 92 (waiting, uncertain, being processed): PROCESSING; a later
//!   notification settles it;
//! - anything else is recorded and changes nothing.
//!
//! The amount and currency must be the order's. Every feedback, verified or
//! not, is kept in `psp_feedback` for the operator.

pub mod ogone;
pub mod simulator;

use std::{fmt, str::FromStr, sync::Arc};

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    money::{self, kind, NewOperation},
    wallet::wallet_facts,
    Error, Platform, Result,
};

/// The hash of the SHA-IN and SHA-OUT signatures (chosen in the PSP's back office).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl FromStr for HashAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha512" => Ok(Self::Sha512),
            _ => Err(format!("unknown hash algorithm {s:?} (sha1, sha256 or sha512)")),
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        })
    }
}

/// An order to pay on the PSP's page.
#[derive(Debug, Clone)]
pub struct Order {
    /// `ORDERID`: the CARD_CASHIN movement's id, 32 hex digits.
    pub order_id: String,
    /// In the token's minor units.
    pub amount_minor: u128,
    /// The token's decimals.
    pub decimals: u32,
    /// ISO 4217 code.
    pub currency: String,
    pub description: String,
}

impl Order {
    /// `AMOUNT` of the request: the amount × 100 (callers check that it is whole cents).
    pub fn amount_cents(&self) -> u128 {
        if self.decimals >= 2 {
            self.amount_minor / 10u128.pow(self.decimals - 2)
        } else {
            self.amount_minor * 10u128.pow(2 - self.decimals)
        }
    }
}

/// A verified feedback of the PSP.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub order_id: String,
    pub pay_id: Option<String>,
    /// The PSP's `STATUS` code.
    pub status: u32,
    /// The amount as a decimal (not in cents).
    pub amount: Decimal,
    pub currency: String,
    /// `NCERROR` when not 0.
    pub nc_error: Option<String>,
    pub brand: Option<String>,
    /// The masked card number.
    pub card: Option<String>,
}

/// Why a feedback is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("the feedback carries no SHASIGN")]
    Unsigned,
    #[error("the SHASIGN does not match the feedback (wrong SHA-OUT passphrase or tampered parameters)")]
    BadSignature,
    #[error("the feedback has no {0}")]
    Missing(&'static str),
    #[error("the feedback's {0} is malformed")]
    Malformed(&'static str),
}

/// A card PSP as the platform uses it.
pub trait Psp: Send + Sync + 'static {
    /// `ogone` or `simulator`.
    fn name(&self) -> &'static str;
    /// The hosted payment page of `order` (its parameters signed).
    fn payment_url(&self, order: &Order) -> String;
    /// Checks the signature of a feedback (return or notification) and reads it.
    fn verify_feedback(&self, params: &[(String, String)]) -> std::result::Result<Feedback, FeedbackError>;
}

/// The PSP's verdict on a payment, from its `STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 5, 9: the money is the merchant's.
    Paid,
    /// 1, 2, 93: no money.
    Declined,
    /// 51, 52, 91, 92: not known yet.
    Pending,
    /// Anything else (0 invalid, refunds, …): recorded only.
    Other,
}

/// The verdict of a `STATUS` code.
pub fn verdict(status: u32) -> Verdict {
    match status {
        5 | 9 => Verdict::Paid,
        1 | 2 | 93 => Verdict::Declined,
        51 | 52 | 91 | 92 => Verdict::Pending,
        _ => Verdict::Other,
    }
}

/// What a `STATUS` code means, for reasons and logs.
pub fn status_text(status: u32) -> &'static str {
    match status {
        0 => "invalid or incomplete",
        1 => "cancelled by the customer",
        2 => "authorisation refused",
        5 => "authorised",
        9 => "payment requested",
        51 => "authorisation waiting",
        52 => "authorisation not known",
        91 => "payment processing",
        92 => "payment uncertain",
        93 => "payment refused",
        _ => "other status",
    }
}

/// Where the feedback came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The server-to-server post-sale notification.
    Notification,
    /// The customer's browser coming back to the accept/decline/exception/cancel URL.
    Return,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Notification => "NOTIFICATION",
            Channel::Return => "RETURN",
        }
    }
}

/// What [`apply_feedback`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The mint is stored now.
    Minted,
    /// The order was already paid with this PAYID: nothing new.
    AlreadyPaid,
    /// A second, different payment of a paid order: recorded, never minted.
    DuplicatePayment,
    /// The order is REJECTED (the movement ERROR).
    Rejected,
    /// Paid, but the wallet can no longer receive money (unsubscribed, or a
    /// compliance status that forbids it): nothing minted, the order UNAPPLIED
    /// for the operator to refund, the movement ERROR with the reason.
    Unapplied,
    /// The order is waiting for a later notification.
    Processing,
    /// Recorded, nothing changed (a status without effect, or a decline after the payment).
    Ignored,
}

/// The outcome of a feedback, with where to send the customer.
#[derive(Debug, Clone)]
pub struct FeedbackOutcome {
    pub applied: Applied,
    /// The order's status after the feedback.
    pub order_status: String,
    /// The tenant's successUrl (paid or processing) or rejectUrl.
    pub redirect: String,
}

/// Why a feedback changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FeedbackRefused {
    #[error(transparent)]
    Unverified(#[from] FeedbackError),
    #[error("no card payment has order id {0:?}")]
    UnknownOrder(String),
    #[error("the feedback's amount {given} {currency} is not the order's {expected}")]
    AmountMismatch { given: String, currency: String, expected: String },
}

/// A configured PSP, shared.
pub type SharedPsp = Arc<dyn Psp>;

#[derive(sqlx::FromRow)]
struct OrderRow {
    client_id: Uuid,
    wallet_id: Uuid,
    movement_id: Uuid,
    operation_id: Uuid,
    amount: String,
    success_url: String,
    reject_url: String,
    status: String,
    pay_id: Option<String>,
    currency: Option<String>,
}

async fn record(conn: &mut PgConnection, channel: Channel, params: &[(String, String)], feedback: Option<&Feedback>, verified: bool, outcome: &str) -> Result<()> {
    let json: serde_json::Map<String, serde_json::Value> =
        params.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("SHASIGN")).map(|(k, v)| (k.clone(), v.clone().into())).collect();
    let order = feedback.map(|f| f.order_id.clone()).or_else(|| ogone::param(params, "ORDERID").map(|s| s.chars().take(64).collect()));
    sqlx::query(
        "INSERT INTO psp_feedback (id, channel, order_id, pay_id, status, verified, outcome, params)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(channel.as_str())
    .bind(order)
    .bind(feedback.and_then(|f| f.pay_id.clone()))
    .bind(feedback.map(|f| f.status as i32))
    .bind(verified)
    .bind(outcome)
    .bind(serde_json::Value::Object(json))
    .execute(conn)
    .await?;
    Ok(())
}

/// Verifies a feedback and applies it (see the module docs). A refused feedback
/// is recorded and changes nothing else.
pub async fn apply_feedback(
    platform: &Platform,
    psp: &dyn Psp,
    channel: Channel,
    params: &[(String, String)],
) -> Result<std::result::Result<FeedbackOutcome, FeedbackRefused>> {
    let feedback = match psp.verify_feedback(params) {
        Ok(f) => f,
        Err(e) => {
            metrics::counter!("emledger_psp_feedback_refused_total", "reason" => "signature").increment(1);
            tracing::warn!(psp = psp.name(), channel = channel.as_str(), error = %e, "refused a PSP feedback");
            let mut conn = platform.pool().acquire().await?;
            record(&mut conn, channel, params, None, false, &format!("refused: {e}")).await?;
            return Ok(Err(e.into()));
        }
    };
    let token = platform.token().await?;
    let mut tx = platform.pool().begin().await?;
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT client_id, wallet_id, movement_id, operation_id, amount::text AS amount, success_url, reject_url, status, pay_id, currency
         FROM card_payments WHERE token = $1 FOR UPDATE",
    )
    .bind(&feedback.order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = row else {
        let refused = FeedbackRefused::UnknownOrder(feedback.order_id.clone());
        record(&mut tx, channel, params, Some(&feedback), true, &format!("refused: {refused}")).await?;
        tx.commit().await?;
        return Ok(Err(refused));
    };
    let minor: u128 = order.amount.parse().map_err(|_| Error::internal("bad card payment amount"))?;
    let expected = Decimal::from_i128_with_scale(minor as i128, token.decimals);
    let currency_ok = order.currency.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(&feedback.currency));
    if feedback.amount != expected || !currency_ok {
        let refused = FeedbackRefused::AmountMismatch {
            given: feedback.amount.to_string(),
            currency: feedback.currency.clone(),
            expected: format!("{} {}", expected, order.currency.as_deref().unwrap_or("")),
        };
        metrics::counter!("emledger_psp_feedback_refused_total", "reason" => "amount").increment(1);
        tracing::error!(order = %feedback.order_id, error = %refused, "a signed PSP feedback does not match its order");
        record(&mut tx, channel, params, Some(&feedback), true, &format!("refused: {refused}")).await?;
        tx.commit().await?;
        return Ok(Err(refused));
    }
    let reason = || {
        let mut r = format!("card payment declined by the PSP: STATUS={} ({})", feedback.status, status_text(feedback.status));
        if let Some(e) = &feedback.nc_error {
            r.push_str(&format!(", NCERROR={e}"));
        }
        r
    };
    let mut unapplied: Option<String> = None;
    let (applied, status) = match (verdict(feedback.status), order.status.as_str()) {
        (Verdict::Paid, "PAID") if order.pay_id == feedback.pay_id => (Applied::AlreadyPaid, "PAID"),
        (Verdict::Paid, "PAID") => {
            tracing::error!(order = %feedback.order_id, pay_id = ?feedback.pay_id, first = ?order.pay_id, "a second payment of a paid card order: not minted");
            (Applied::DuplicatePayment, "PAID")
        }
        (Verdict::Paid, "UNAPPLIED") => (Applied::Ignored, "UNAPPLIED"),
        (Verdict::Paid, _) => 'paid: {
            // PENDING, PROCESSING, or REJECTED when the PSP let the customer retry after a decline
            let wallet = wallet_facts(&mut tx, order.client_id, order.wallet_id, false).await?;
            // the wallet may have stopped receiving since the payment started
            if let Err(refusal) = money::require_ready(&wallet, "receiving") {
                let why = format!("the card payment arrived but was not applied: {refusal}; it is kept UNAPPLIED for a refund");
                tracing::error!(order = %feedback.order_id, wallet = %order.wallet_id, reason = %refusal, "a paid card order cannot be applied");
                metrics::counter!("emledger_psp_unapplied_total").increment(1);
                sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE id = $1 AND status IN ('PENDING', 'ERROR')")
                    .bind(order.movement_id)
                    .bind(&why)
                    .execute(&mut *tx)
                    .await?;
                unapplied = Some(why);
                break 'paid (Applied::Unapplied, "UNAPPLIED");
            }
            let calldata = EmToken::mintCall {
                operationId: order.operation_id.to_string(),
                to: money::addr(&wallet.dlt_address)?,
                value: alloy::primitives::U256::from(minor),
            }
            .abi_encode();
            money::insert_operation(
                &mut tx,
                NewOperation {
                    id: order.operation_id,
                    client_id: order.client_id,
                    kind: kind::CARD_CASHIN,
                    chain_operation_id: order.operation_id.to_string(),
                    token: &token,
                    calldata,
                    debit: None,
                    wallet_id: Some(order.wallet_id),
                    hold_id: None,
                    payout_id: None,
                },
            )
            .await?;
            // a movement marked ERROR by an earlier decline is pending again: the money arrived
            sqlx::query("UPDATE movements SET status = 'PENDING', error = NULL, updated_at = now() WHERE id = $1 AND status = 'ERROR'")
                .bind(order.movement_id)
                .execute(&mut *tx)
                .await?;
            (Applied::Minted, "PAID")
        }
        (Verdict::Declined, "PENDING" | "PROCESSING") => {
            sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'")
                .bind(order.movement_id)
                .bind(reason())
                .execute(&mut *tx)
                .await?;
            (Applied::Rejected, "REJECTED")
        }
        (Verdict::Pending, "PENDING" | "PROCESSING") => (Applied::Processing, "PROCESSING"),
        (_, current) => (Applied::Ignored, current),
    };
    let status = status.to_owned();
    if applied != Applied::Ignored && applied != Applied::AlreadyPaid && applied != Applied::DuplicatePayment {
        sqlx::query(
            "UPDATE card_payments SET status = $2, pay_id = COALESCE(pay_id, $3), psp_status = $4, psp_error = $5, updated_at = now()
             WHERE token = $1",
        )
        .bind(&feedback.order_id)
        .bind(&status)
        .bind(&feedback.pay_id)
        .bind(feedback.status as i32)
        .bind(if applied == Applied::Rejected { Some(reason()) } else { unapplied.clone() })
        .execute(&mut *tx)
        .await?;
    }
    record(&mut tx, channel, params, Some(&feedback), true, &format!("{applied:?}")).await?;
    tx.commit().await?;
    metrics::counter!("emledger_psp_feedback_total", "applied" => format!("{applied:?}")).increment(1);
    if applied == Applied::Minted {
        platform.stored();
    }
    let redirect = if matches!(status.as_str(), "PAID" | "PROCESSING") { order.success_url } else { order.reject_url };
    Ok(Ok(FeedbackOutcome { applied, order_status: status, redirect }))
}
