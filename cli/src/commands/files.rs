//! `summa-agg split` (one CSV into shards) and `summa-agg export-json` (a
//! mini-tree in summa-aggregation's JSON shape).

use std::fs::File;
use std::io::BufReader;

use summa_agg::{export, round, split as splitter, Error, Result};

use crate::args::{ExportJsonArgs, SplitArgs};
use crate::output::{open_tree, print_json};

/// `split`.
pub fn split(a: SplitArgs) -> Result<()> {
    let SplitArgs {
        input,
        shard_size,
        out,
    } = a;
    let f = File::open(&input).map_err(|e| Error::io(input.display().to_string(), e))?;
    let paths = splitter::split(
        BufReader::with_capacity(1 << 16, f),
        &input.display().to_string(),
        shard_size,
        &out,
    )?;
    tell!(
        "summa-agg: {} shards of up to {shard_size} users in {}",
        paths.len(),
        out.display()
    );
    Ok(())
}

/// `export-json`.
pub fn export_json(a: ExportJsonArgs) -> Result<()> {
    let f = open_tree(&a.round.join(round::mini_tree_path(a.mini_tree)))?;
    print_json(&export::mini_tree_json(&f)?, true)
}
