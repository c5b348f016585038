//! The money domain of emledger. It knows no HTTP: the API parses a request,
//! calls one command here, and renders what it returns.
//!
//! - **Commands** ([`Command`]): transfer, hold and its actions, card and SEPA
//!   cash-in, cash-out, schedules — each a plain function over one Postgres
//!   transaction that validates, refuses with a domain [`Error`], or stores an
//!   `operations` row with its PENDING movements for the submitter.
//! - **Idempotency** ([`idempotency`]): the record claimed in the same
//!   transaction as the command.
//! - **Workers**: the [`submitter`] (signs as the platform, nonces from the
//!   database, crash-safe re-sends, cash-out payouts) and the [`scheduler`]
//!   (scheduled and recurring operations).
//!
//! Everything shares the [`Platform`]: the pool, the followed token's facts, the
//! platform's address and the submitter's wake-up.

pub mod audit;
pub mod bank;
pub mod card;
pub mod clearing;
pub mod compliance;
pub mod crossledger;
pub mod cashout;
mod command;
pub mod error;
pub mod expiry;
pub mod hold;
pub mod idempotency;
pub mod iso20022;
pub mod money;
pub mod pipeline;
mod platform;
pub mod psp;
pub mod reconcile;
pub mod revert;
pub mod schedule;
pub mod scheduler;
pub mod submitter;
pub mod transfer;
pub mod user;
pub mod validate;
pub mod wallet;
pub mod watchdog;
pub mod workers;
pub mod webhooks;

pub use command::Command;
pub use error::{Error, Result};
pub use platform::{ChainInfo, Platform};
