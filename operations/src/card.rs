//! Card cash-in (seed 003): [`StartCardCashIn`] creates a PENDING `CARD_CASHIN`
//! movement and a one-time payment page token (256 random bits: the token is the
//! page's credential). On that page, [`pay`] stores the mint operation (the
//! platform mints `amount` to the wallet) and [`reject`] marks the movement
//! ERROR. Each page can be used once.

use alloy::sol_types::SolCall;
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use rand::RngCore;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    money::{self, kind, NewMovement, NewOperation, Party},
    wallet::wallet_facts,
    Command, Error, Platform, Result,
};

/// Start a card cash-in of `amount` into `wallet_id`.
#[derive(Debug, Clone)]
pub struct StartCardCashIn {
    pub wallet_id: Uuid,
    /// As given: a decimal string or JSON number.
    pub amount: Value,
    /// Where the payer's browser goes after paying (absolute http(s) URL).
    pub success_url: String,
    /// Where it goes after rejecting.
    pub reject_url: String,
}

/// A started card cash-in.
#[derive(Debug, Clone)]
pub struct CardCashInStarted {
    pub wallet_id: Uuid,
    /// The CARD_CASHIN movement (PENDING until the mint is mined).
    pub movement_id: Uuid,
    /// The mint operation's id (it exists once the payment is made).
    pub operation_id: Uuid,
    /// Decimal string with the token's decimals.
    pub amount: String,
    /// The payment page's token (its path is `/card-payments/{page_token}`).
    pub page_token: String,
}

fn http_url(field: &str, text: &str) -> Result<String> {
    let u = url::Url::parse(text.trim()).map_err(|_| Error::invalid(field, "must be an absolute http(s) URL"))?;
    if !matches!(u.scheme(), "http" | "https") || text.len() > 2000 {
        return Err(Error::invalid(field, "must be an absolute http(s) URL"));
    }
    Ok(u.to_string())
}

impl Command for StartCardCashIn {
    type Output = CardCashInStarted;
    /// The mint is stored only when the card is paid.
    const STORES_OPERATIONS: bool = false;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<CardCashInStarted> {
        let token = platform.token().await?;
        let amount = money::amount("amount", &self.amount, token.decimals)?;
        let success_url = http_url("successUrl", &self.success_url)?;
        let reject_url = http_url("rejectUrl", &self.reject_url)?;
        let wallet = wallet_facts(conn, client_id, self.wallet_id, false).await?;
        money::require_ready(&wallet, "")?;
        let op_id = Uuid::now_v7();
        let movement_id = Uuid::now_v7();
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let page_token = hex::encode(secret);
        money::insert_movement(
            conn,
            platform,
            &token,
            NewMovement {
                id: movement_id,
                client_id,
                kind: MovementType::CARD_CASHIN,
                amount: amount.minor(),
                concept: Some("Card cash-in".into()),
                owner: Party::of(&wallet),
                origin: None,
                target: Some(Party::of(&wallet)),
                operation_id: op_id,
                chain_operation_id: op_id.to_string(),
                hold_operation_id: None,
            },
        )
        .await?;
        sqlx::query(
            "INSERT INTO card_payments (id, token, client_id, wallet_id, movement_id, operation_id, amount, success_url, reject_url)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(&page_token)
        .bind(client_id)
        .bind(self.wallet_id)
        .bind(movement_id)
        .bind(op_id)
        .bind(amount.minor().to_string())
        .bind(&success_url)
        .bind(&reject_url)
        .execute(&mut *conn)
        .await?;
        Ok(CardCashInStarted {
            wallet_id: self.wallet_id,
            movement_id,
            operation_id: op_id,
            amount: money::wire(amount.minor(), token.decimals),
            page_token,
        })
    }
}

/// A card payment page, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Payment {
    pub client_id: Uuid,
    pub wallet_id: Uuid,
    pub movement_id: Uuid,
    pub operation_id: Uuid,
    /// minor units, as text
    pub amount: String,
    pub success_url: String,
    pub reject_url: String,
    /// PENDING, PAID or REJECTED.
    pub status: String,
}

/// What a pay or reject did.
#[derive(Debug, Clone)]
pub enum PageOutcome {
    /// No such page (or a malformed token).
    NotFound,
    /// The page was used already: its status.
    AlreadyProcessed(String),
    /// Go to this URL (the success URL after a payment, the reject URL otherwise).
    Redirect(String),
}

/// A page token is 64 hex digits.
pub fn valid_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn load(conn: &mut PgConnection, token: &str, lock: bool) -> Result<Option<Payment>> {
    let sql = format!(
        "SELECT client_id, wallet_id, movement_id, operation_id, amount::text AS amount, success_url, reject_url, status
         FROM card_payments WHERE token = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(&sql).bind(token).fetch_optional(&mut *conn).await?)
}

/// The page behind `token`, if any.
pub async fn payment(platform: &Platform, token: &str) -> Result<Option<Payment>> {
    if !valid_token(token) {
        return Ok(None);
    }
    let mut conn = platform.pool().acquire().await?;
    load(&mut conn, token, false).await
}

/// Pay: stores the mint operation (once) and sends the payer to the success URL.
pub async fn pay(platform: &Platform, token: &str) -> Result<PageOutcome> {
    if !valid_token(token) {
        return Ok(PageOutcome::NotFound);
    }
    let chain = platform.token().await?;
    let mut tx = platform.pool().begin().await?;
    let Some(p) = load(&mut tx, token, true).await? else { return Ok(PageOutcome::NotFound) };
    if p.status != "PENDING" {
        return Ok(PageOutcome::AlreadyProcessed(p.status));
    }
    let wallet = wallet_facts(&mut tx, p.client_id, p.wallet_id, false).await?;
    if money::require_ready(&wallet, "").is_err() {
        finish_rejected(&mut tx, token, p.movement_id, "the wallet is not READY").await?;
        tx.commit().await?;
        return Ok(PageOutcome::Redirect(p.reject_url));
    }
    let amount: u128 = p.amount.parse().map_err(|_| Error::internal("bad card payment amount"))?;
    let calldata = EmToken::mintCall {
        operationId: p.operation_id.to_string(),
        to: money::addr(&wallet.dlt_address)?,
        value: alloy::primitives::U256::from(amount),
    }
    .abi_encode();
    money::insert_operation(
        &mut tx,
        NewOperation {
            id: p.operation_id,
            client_id: p.client_id,
            kind: kind::CARD_CASHIN,
            chain_operation_id: p.operation_id.to_string(),
            token: &chain,
            calldata,
            debit: None,
            wallet_id: Some(p.wallet_id),
            hold_id: None,
            payout_id: None,
        },
    )
    .await?;
    sqlx::query("UPDATE card_payments SET status = 'PAID', updated_at = now() WHERE token = $1")
        .bind(token)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    platform.stored();
    Ok(PageOutcome::Redirect(p.success_url))
}

async fn finish_rejected(conn: &mut PgConnection, token: &str, movement_id: Uuid, reason: &str) -> Result<()> {
    sqlx::query("UPDATE card_payments SET status = 'REJECTED', updated_at = now() WHERE token = $1")
        .bind(token)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'")
        .bind(movement_id)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Reject: the movement turns ERROR; the payer goes to the reject URL.
pub async fn reject(platform: &Platform, token: &str) -> Result<PageOutcome> {
    if !valid_token(token) {
        return Ok(PageOutcome::NotFound);
    }
    let mut tx = platform.pool().begin().await?;
    let Some(p) = load(&mut tx, token, true).await? else { return Ok(PageOutcome::NotFound) };
    if p.status != "PENDING" {
        return Ok(PageOutcome::AlreadyProcessed(p.status));
    }
    finish_rejected(&mut tx, token, p.movement_id, "card payment rejected").await?;
    tx.commit().await?;
    Ok(PageOutcome::Redirect(p.reject_url))
}
