//! The S3 key layout: a round's keys (`P/...`) and a run's (`P/runs/R/...`).

use crate::error::FnError;

/// Checks a run id: 1 to 80 characters of `A-Za-z0-9-_` (a Step Functions
/// execution name of that alphabet), so that `P/runs/<run>/` is one plain segment.
pub fn check_run(run: &str) -> Result<(), FnError> {
    if run.is_empty()
        || run.len() > 80
        || !run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(FnError::invalid(format!(
            "run {run:?} is not a run id (1 to 80 characters of A-Za-z0-9-_)"
        )));
    }
    Ok(())
}

/// Round-relative object keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundKeys {
    prefix: String,
}

impl RoundKeys {
    /// The keys under `prefix` (trailing `/` removed); an empty prefix is an error.
    pub fn new(prefix: &str) -> Result<RoundKeys, FnError> {
        let p = prefix.trim_end_matches('/');
        if p.is_empty() {
            return Err(FnError::invalid(
                "the round prefix is empty: rounds live under a non-empty prefix P (P/round.json)",
            ));
        }
        Ok(RoundKeys {
            prefix: p.to_string(),
        })
    }

    /// The prefix, without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P/name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// `P/round.json`.
    pub fn manifest(&self) -> String {
        self.key(MANIFEST_FILE)
    }

    /// `P/shards/`.
    pub fn shards_dir(&self) -> String {
        self.key("shards/")
    }

    /// `P/result.json`: the published result (of the latest completed run).
    pub fn result(&self) -> String {
        self.key(summa_agg::round::RESULT_FILE)
    }

    /// `P/lookup.json`: the published run's [`crate::model::LookupFile`], what a
    /// proof reads first (published after `P/result.json`, by the same rule).
    pub fn lookup(&self) -> String {
        self.key(LOOKUP_FILE)
    }

    /// `P/error.json`: the latest failure (of a run, or of the trigger).
    pub fn error(&self) -> String {
        self.key(ERROR_FILE)
    }

    /// The keys of run `run` (checked, see [`check_run`]).
    pub fn run(&self, run: &str) -> Result<RunKeys, FnError> {
        check_run(run)?;
        Ok(RunKeys {
            round: self.clone(),
            dir: self.key(&format!("{RUNS_DIR}/{run}")),
            run: run.to_string(),
        })
    }
}

/// The keys of one run, all under `P/runs/R/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunKeys {
    round: RoundKeys,
    dir: String,
    run: String,
}

impl RunKeys {
    /// The keys of `prefix` and `run`.
    pub fn new(prefix: &str, run: &str) -> Result<RunKeys, FnError> {
        RoundKeys::new(prefix)?.run(run)
    }

    /// The round's keys.
    pub fn round(&self) -> &RoundKeys {
        &self.round
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.run
    }

    /// `P/runs/R/name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// `P/runs/R/plan.json`.
    pub fn plan(&self) -> String {
        self.key(PLAN_FILE)
    }

    /// `P/runs/R/items.json`: the Map's items, one mini-tree input per shard.
    pub fn items(&self) -> String {
        self.key(ITEMS_FILE)
    }

    /// `P/runs/R/mini-trees/NNNNNN.mst`.
    pub fn mini_tree(&self, i: usize) -> String {
        self.key(&summa_agg::round::mini_tree_path(i))
    }

    /// `P/runs/R/mini-trees/NNNNNN.json`.
    pub fn mini_tree_summary(&self, i: usize) -> String {
        self.key(&summa_agg::round::mini_tree_summary_path(i))
    }

    /// `P/runs/R/mini-trees/NNNNNN.names`: the hashed usernames of shard `i`,
    /// sorted (input of the username index).
    pub fn mini_tree_names(&self, i: usize) -> String {
        self.key(&format!("{}/{i:06}.names", summa_agg::round::MINI_TREE_DIR))
    }

    /// `P/runs/R/mini-trees/NNNNNN.error.json`: why shard `i` was rejected.
    pub fn mini_tree_error(&self, i: usize) -> String {
        self.key(&format!(
            "{}/{i:06}{SHARD_ERROR_SUFFIX}",
            summa_agg::round::MINI_TREE_DIR
        ))
    }

    /// `P/runs/R/mini-trees/`.
    pub fn mini_trees_dir(&self) -> String {
        self.key(&format!("{}/", summa_agg::round::MINI_TREE_DIR))
    }

    /// `P/runs/R/aggregation.mst`.
    pub fn aggregation(&self) -> String {
        self.key(summa_agg::round::AGGREGATION_FILE)
    }

    /// `P/runs/R/user-index/`: username -> shard, one file per partition.
    pub fn user_index(&self) -> String {
        self.key(&format!("{USER_INDEX_DIR}/"))
    }

    /// `P/runs/R/user-index/pNNNNN.bin`: partition `p` of the username index.
    pub fn user_index_partition(&self, p: u64) -> String {
        self.key(&format!("{USER_INDEX_DIR}/p{p:05}.bin"))
    }

    /// `P/runs/R/index-items.json`: the `UserIndex` Map's items.
    pub fn index_items(&self) -> String {
        self.key(INDEX_ITEMS_FILE)
    }

    /// `P/runs/R/result.json`: the run's result (written once).
    pub fn result(&self) -> String {
        self.key(summa_agg::round::RESULT_FILE)
    }

    /// `P/runs/R/lookup.json`: the run's [`crate::model::LookupFile`] (written once).
    pub fn lookup(&self) -> String {
        self.key(LOOKUP_FILE)
    }

    /// `P/runs/R/aggregation-paths.bin`: every mini-tree's path above it
    /// (`summa_agg::proof::paths`).
    pub fn aggregation_paths(&self) -> String {
        self.key(AGGREGATION_PATHS_FILE)
    }

    /// `P/runs/R/error.json`.
    pub fn error(&self) -> String {
        self.key(ERROR_FILE)
    }
}

/// The round steps' names, as errors and error records give them (each
/// handler's `STEP`).
pub mod steps {
    /// `trigger`.
    pub const TRIGGER: &str = "trigger";
    /// `plan`.
    pub const PLAN: &str = "plan";
    /// `mini-tree`.
    pub const MINI_TREE: &str = "mini-tree";
    /// `aggregator`.
    pub const AGGREGATOR: &str = "aggregator";
    /// `user-index` (a partition of the username index, run by the aggregator
    /// function).
    pub const USER_INDEX: &str = "user-index";
    /// `proof`.
    pub const PROOF: &str = "proof";
}

/// The folder of the runs under `P`.
pub const RUNS_DIR: &str = "runs";
/// The username index's folder name.
pub const USER_INDEX_DIR: &str = "user-index";
/// The `UserIndex` Map's items file name.
pub const INDEX_ITEMS_FILE: &str = "index-items.json";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "round.json";
/// The plan's file name.
pub const PLAN_FILE: &str = "plan.json";
/// The Map's items file name.
pub const ITEMS_FILE: &str = "items.json";
/// Suffix of a shard's error record under `P/mini-trees/`.
pub const SHARD_ERROR_SUFFIX: &str = ".error.json";
/// The lookup file's name (`P/lookup.json`, `P/runs/R/lookup.json`).
pub const LOOKUP_FILE: &str = "lookup.json";
/// The aggregation paths file's name.
pub const AGGREGATION_PATHS_FILE: &str = "aggregation-paths.bin";
/// The failure record's file name.
pub const ERROR_FILE: &str = "error.json";
