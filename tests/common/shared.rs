//! Helpers of the integration tests of both the core crate (`tests/common`) and the
//! zk crate (`zk/tests/common`, which includes this file by path).

use std::path::{Path, PathBuf};

/// A fixture of the repository (`tests/fixtures`, which lies at `super::FIXTURES`
/// from the including crate's manifest directory).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(super::FIXTURES)
        .join(name)
}

/// The known answers.
pub fn known_answers() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture("known-answers.json")).unwrap()).unwrap()
}

/// The message of the error of `r`, a result that must be one (the test fails if
/// it is `Ok`).
pub fn error_of<T, E: std::fmt::Display>(r: Result<T, E>) -> String {
    match r {
        Ok(_) => panic!("succeeded where an error was expected"),
        Err(e) => e.to_string(),
    }
}
