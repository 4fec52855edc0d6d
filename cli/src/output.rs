//! What the commands share: opening tree files and result.json, printing lines
//! and JSON, the progress bar.
//!
//! Every line the command line prints goes through [`say`] (stdout) or [`tell`]
//! (stderr), or [`print_json`]: each escapes what a terminal could obey
//! ([`summa_agg::text`]), since names, labels and messages come from files the
//! custodian writes. The crate denies `println!` and `eprintln!` elsewhere
//! (`clippy::print_stdout`, `clippy::print_stderr`).

/// A line on stdout, `format!`-style, escaped ([`say`]).
macro_rules! say {
    ($($t:tt)*) => { $crate::output::say(&format!($($t)*)) };
}

/// A line on stderr, `format!`-style, escaped ([`tell`]).
macro_rules! tell {
    ($($t:tt)*) => { $crate::output::tell(&format!($($t)*)) };
}

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

/// Prints `line` on stdout, escaped ([`summa_agg::text::shown`]).
#[allow(clippy::print_stdout)]
pub fn say(line: &str) {
    println!("{}", summa_agg::text::shown(line));
}

/// Prints `line` on stderr, escaped ([`summa_agg::text::shown`]).
#[allow(clippy::print_stderr)]
pub fn tell(line: &str) {
    eprintln!("{}", summa_agg::text::shown(line));
}

/// Prints JSON text on stdout, its strings escaped for a terminal
/// ([`summa_agg::text::json_shown`]: the same JSON value).
#[allow(clippy::print_stdout)]
pub fn say_json(json: &str) {
    println!("{}", summa_agg::text::json_shown(json));
}

/// Prints a value as JSON on stdout (one line, or pretty), escaped ([`say_json`]).
pub fn print_json<T: serde::Serialize>(v: &T, pretty: bool) -> Result<()> {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    say_json(&s.map_err(|e| Error::Invalid(e.to_string()))?);
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
    json::from_slice_strict(&text).map_err(|e| Error::Format {
        path: path.display().to_string(),
        what: "round result",
        problem: e.to_string(),
    })
}
