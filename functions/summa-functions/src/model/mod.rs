//! The round's types, and nothing that does I/O: its files ([`files`]), the
//! functions' messages ([`messages`]), the EventBridge event of a failed
//! execution ([`events`]), the proof API's requests and responses ([`api`]) and
//! the S3 key layout ([`keys`]).
//!
//! Under a round prefix `P`: `P/round.json` (the custodian's [`Manifest`]) and
//! `P/shards/*.csv`. Each execution (run `R`) writes only under `P/runs/R/`:
//! `plan.json` ([`PlanFile`]), `mini-trees/NNNNNN.{mst,json,names}` (the
//! summary is a [`ShardSummary`]), `mini-trees/NNNNNN.error.json`,
//! `items.json` and `index-items.json` (the Maps' items), `user-index/pNNNNN.bin`,
//! `aggregation.mst`, and `result.json` or `error.json`
//! ([`ErrorRecord`]). A completed run then publishes its result as `P/result.json`
//! with a conditional write; a failed one its error as `P/error.json`.

pub mod api;
pub mod events;
pub mod files;
pub mod keys;
pub mod messages;

pub use api::*;
pub use events::*;
pub use files::*;
pub use keys::*;
pub use messages::*;
