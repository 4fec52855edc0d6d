//! What the two harnesses that start the repository's tools as processes
//! (`tests/local_lambda/`, `tests/fault_campaign/stack.rs`) share: the
//! repository's root, and commands without the variables cargo sets for a test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `c` without the variables that cargo sets for this test (CARGO_PKG_NAME,
/// CARGO_MANIFEST_DIR...): build scripts that declare `rerun-if-env-changed` on
/// them (ring's) would otherwise be rebuilt by a nested `cargo`, here and again
/// in the next `cargo test`.
pub fn without_cargo_vars(mut c: Command) -> Command {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || k.starts_with("CARGO_BIN_")
            || matches!(
                k.as_ref(),
                "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            c.env_remove(k.as_ref());
        }
    }
    c
}
