//! The shared ledger crate: domain types (amounts, statuses, movement types),
//! the Postgres schema (`migrations/`), the private Postgres cluster used when
//! no `DATABASE_URL` is given, and the queries both the indexer and the API use.
//! No HTTP and no chain I/O here.

pub mod amount;
pub mod db;
pub mod postgres;
pub mod types;

pub use amount::{Amount, AmountError};
pub use types::{HoldStatus, MovementStatus, MovementType};
