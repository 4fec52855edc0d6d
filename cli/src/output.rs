//! What the commands share: opening tree files and result.json, printing JSON,
//! the progress bar.

use std::fs::File;
use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use summa_agg::format::TreeFile;
use summa_agg::{json, Error, Result};

/// A tree file (mini-tree or aggregation) opened for reading.
pub fn open_tree(path: &Path) -> Result<TreeFile<File>> {
    let f = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    TreeFile::open(f, path.display().to_string())
}

/// Prints a value as JSON on stdout (one line, or pretty).
pub fn print_json<T: serde::Serialize>(v: &T, pretty: bool) -> Result<()> {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    println!("{}", s.map_err(|e| Error::Invalid(e.to_string()))?);
    Ok(())
}

/// The mini-trees' progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} mini-trees {bar:40} {pos}/{len} [{elapsed_precise}, eta {eta}]",
        )
        .expect("template"),
    );
    b
}

/// A published `result.json`.
pub fn read_result(path: &Path) -> Result<json::RoundResult> {
    let text = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    serde_json::from_slice(&text).map_err(|e| Error::Format {
        path: path.display().to_string(),
        what: "round result",
        problem: e.to_string(),
    })
}
