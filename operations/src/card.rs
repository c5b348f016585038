//! Card cash-in (seed 003): [`StartCardCashIn`] creates a PENDING `CARD_CASHIN`
//! movement and a card order, and returns the PSP's hosted payment page for it
//! (`paymentUrl`). Nothing is minted here: only the PSP's verified feedback
//! (see [`crate::psp::apply_feedback`]) stores the mint, once per order.

use emledger_ledger::MovementType;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    money::{self, NewMovement, Party},
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
    /// The PSP's hosted payment page for the order.
    pub payment_url: String,
}

/// The shape the OpenAPI states for redirect URLs: http(s), a DNS name whose last
/// label starts with a letter or a dotted IPv4 address, a port 1..=59999, then
/// `/`, `?` or `#` and printable ASCII.
fn url_shape(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &text[8..]
    } else if lower.starts_with("http://") {
        &text[7..]
    } else {
        return false;
    };
    let end = rest.find([':', '/', '?', '#']).unwrap_or(rest.len());
    let (host, mut tail) = rest.split_at(end);
    let labels: Vec<&str> = host.split('.').collect();
    let dns = labels.iter().all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels.last().and_then(|l| l.bytes().next()).is_some_and(|b| b.is_ascii_alphabetic());
    let ipv4 = labels.len() == 4
        && labels.iter().all(|l| (1..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_digit()) && l.parse::<u16>().is_ok_and(|n| n <= 255) && (l.len() == 1 || !l.starts_with('0')));
    if !dns && !ipv4 {
        return false;
    }
    if let Some(after) = tail.strip_prefix(':') {
        let n = after.find(['/', '?', '#']).unwrap_or(after.len());
        let port = &after[..n];
        let ok = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit()) && !port.starts_with('0') && port.parse::<u32>().is_ok_and(|p| p <= 59_999);
        if !ok {
            return false;
        }
        tail = &after[n..];
    }
    tail.is_empty() || (tail.starts_with(['/', '?', '#']) && tail.bytes().all(|b| (b'!'..=b'~').contains(&b)))
}

fn http_url(field: &str, text: &str) -> Result<String> {
    if !url_shape(text.trim()) {
        return Err(Error::invalid(field, "must be an absolute http(s) URL: a DNS name or an IPv4 address, an optional port below 60000, printable ASCII"));
    }
    let u = url::Url::parse(text.trim()).map_err(|_| Error::invalid(field, "must be an absolute http(s) URL"))?;
    if !matches!(u.scheme(), "http" | "https") || text.len() > 2000 {
        return Err(Error::invalid(field, "must be an absolute http(s) URL"));
    }
    Ok(u.to_string())
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn redirect_urls_keep_the_documented_shape() {
        for ok in ["https://shop.example/ok", "HTTP://T", "http://127.0.0.1:8080/health", "https://a.example?x=1", "http://localhost:59999#f"] {
            assert!(super::url_shape(ok), "{ok}");
        }
        for bad in ["HTTP://A*", "ftp://x", "https://", "https://a..b", "https://1.2.3", "http://256.1.1.1", "https://a.example:0", "https://a.example:60000", "https://a.example/ é", "https://a.1", "http://09.1.1.1"] {
            assert!(!super::url_shape(bad), "{bad}");
        }
    }
}

impl Command for StartCardCashIn {
    type Output = CardCashInStarted;
    /// The mint is stored only when the card is paid.
    const STORES_OPERATIONS: bool = false;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<CardCashInStarted> {
        let token = platform.token().await?;
        let psp = platform.psp()?;
        let amount = money::amount("amount", &self.amount, token.decimals)?;
        if token.decimals > 2 && amount.minor() % 10u128.pow(token.decimals - 2) != 0 {
            return Err(Error::invalid("amount", "card payments are in whole cents"));
        }
        let success_url = http_url("successUrl", &self.success_url)?;
        let reject_url = http_url("rejectUrl", &self.reject_url)?;
        let wallet = wallet_facts(conn, client_id, self.wallet_id, false).await?;
        money::require_ready(&wallet, "")?;
        let op_id = Uuid::now_v7();
        let movement_id = Uuid::now_v7();
        // the PSP's ORDERID: the movement's id, 32 hex digits
        let order_id = movement_id.simple().to_string();
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
            "INSERT INTO card_payments (id, token, client_id, wallet_id, movement_id, operation_id, amount, success_url, reject_url, psp, currency)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11)",
        )
        .bind(Uuid::now_v7())
        .bind(&order_id)
        .bind(client_id)
        .bind(self.wallet_id)
        .bind(movement_id)
        .bind(op_id)
        .bind(amount.minor().to_string())
        .bind(&success_url)
        .bind(&reject_url)
        .bind(psp.name())
        .bind(&wallet.currency)
        .execute(&mut *conn)
        .await?;
        let payment_url = psp.payment_url(&crate::psp::Order {
            order_id,
            amount_minor: amount.minor(),
            decimals: token.decimals,
            currency: wallet.currency.clone(),
            description: "Card cash-in".into(),
        });
        Ok(CardCashInStarted {
            wallet_id: self.wallet_id,
            movement_id,
            operation_id: op_id,
            amount: money::wire(amount.minor(), token.decimals),
            payment_url,
        })
    }
}

