//! The shared ledger crate: domain types (amounts, statuses, movement types),
//! the Postgres schema (`migrations/`), the private Postgres cluster used when
//! no `DATABASE_URL` is given, the queries both the indexer and the API use, and
//! the process-wide metrics recorder.
//! No HTTP and no chain I/O here.

pub mod amount;
pub mod db;
pub mod metrics;
pub mod postgres;
pub mod rewind;
pub mod rpc;
pub mod types;

pub use amount::{Amount, AmountError};
pub use types::{HoldStatus, MovementStatus, MovementType};
