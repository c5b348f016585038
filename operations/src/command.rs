//! [`Command`]: one request of the money domain, run inside the caller's
//! Postgres transaction (which also holds the request's idempotency record).

use std::future::Future;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{Platform, Result};

/// A command of a tenant (`client_id`). It validates, refuses with a domain
/// error (the caller rolls the transaction back), or stores what it changes on
/// `conn` and returns what a caller needs to answer. It never commits.
pub trait Command: Send {
    /// What an accepted command produced (ids, amounts).
    type Output: Send;

    /// True when an accepted command stored operations for the submitter: the
    /// caller wakes it after the commit ([`Platform::stored`]).
    const STORES_OPERATIONS: bool = true;

    fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> impl Future<Output = Result<Self::Output>> + Send;
}
