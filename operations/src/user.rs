//! Users in the domain: creating one creates its first wallet with it (a fresh
//! address whose key is discarded: the platform acts for it as default operator).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    error::unique_violation,
    wallet::{duplicate_external_id, insert_wallet, wallet_currency, NewWallet},
    Command, Platform, Result,
};

/// Create a user (fields validated by the caller).
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub name: String,
    /// E.164
    pub phone_number: String,
    /// ISO 3166 alpha-2
    pub country: String,
    pub email: Option<String>,
    /// Unique per tenant.
    pub external_id: Option<String>,
}

/// A created user.
#[derive(Debug, Clone, Copy)]
pub struct UserCreated {
    pub client_id: Uuid,
    pub user_id: Uuid,
}

impl Command for CreateUser {
    type Output = UserCreated;
    const STORES_OPERATIONS: bool = false;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<UserCreated> {
        if let Some(ext) = &self.external_id {
            let dup: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE client_id = $1 AND external_id = $2")
                .bind(client_id)
                .bind(ext)
                .fetch_optional(&mut *conn)
                .await?;
            if dup.is_some() {
                return Err(duplicate_external_id("user"));
            }
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO users (id, client_id, name, phone_number, country, email, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(client_id)
        .bind(&self.name)
        .bind(&self.phone_number)
        .bind(&self.country)
        .bind(&self.email)
        .bind(&self.external_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| if unique_violation(&e).is_some() { duplicate_external_id("user") } else { e.into() })?;
        // the first wallet is in the token's currency
        let currency = wallet_currency(&platform.chain().await, None)?;
        insert_wallet(&mut *conn, client_id, id, NewWallet { currency: Some(currency), ..NewWallet::default() }).await?;
        Ok(UserCreated { client_id, user_id: id })
    }
}
