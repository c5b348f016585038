//! The indexer: the only writer of what the chain says. It follows EmToken's
//! logs (backfill, live tail, reorgs), turns them into movements, holds,
//! clearable transfers and balances, settles the operations the API started,
//! and reconciles the read model against the chain.

pub mod apply;
pub mod decode;
pub mod follow;
pub mod metrics;
pub mod reconcile;
pub mod reorg;
pub mod store;

/// Blocks of history kept for finding a common ancestor; deeper reorgs need a re-index.
pub const REORG_WINDOW: u64 = 64;

pub use follow::{run, FollowConfig};
pub use metrics::Metrics;
pub use store::{Cursor, Target};
