//! The functions' handlers: plain async functions over the [`crate::Storage`]
//! port (and, for `trigger`, the [`crate::executions::Executions`] port), so that they run the same
//! on S3 and on a local directory.

pub mod aggregator;
pub mod artifacts;
pub mod mini_tree;
pub mod plan;
pub mod proof;
pub mod proof_api;
pub mod trigger;
pub mod user_index;

pub use aggregator::{aggregator, publish_error};
pub use artifacts::{read_index_items, read_items, read_plan, write_error_record};
pub use mini_tree::mini_tree;
pub use plan::plan;
pub use proof::proof;
pub use trigger::{execution_name, trigger};

/// Whether the engine runs inline, on the calling thread: on a current-thread
/// tokio runtime (the functions' one-thread mode, [`crate::runtime`]), where
/// nothing may start a thread. Otherwise it runs on tokio's blocking threads.
pub(crate) fn inline_engine() -> bool {
    tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::CurrentThread
}
