//! Errors of the core library.

use std::io;

/// What went wrong, in words that name the file, the line and the problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem at one line of a CSV shard.
    #[error("{file}:{line}: {problem}")]
    Row {
        /// The shard's file name or key.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// A problem with a shard as a whole (empty, no users, not text, header).
    #[error("{file}: {problem}")]
    Shard {
        /// The shard's file name or key.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// A per-currency total is not below `2^(8 * n_bytes)`.
    #[error("{context}: the total of {currency} is out of range for n_bytes = {n_bytes} (every total must be below 2^{bits})", bits = 8 * (*n_bytes as u32))]
    TotalOutOfRange {
        /// Where: the shard, or the aggregation tree.
        context: String,
        /// The currency, as `NAME_CHAIN`.
        currency: String,
        /// The round's `n_bytes`.
        n_bytes: u8,
    },
    /// Reading or writing a file or object failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or key.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A mini-tree, aggregation or JSON artifact is not what it should be.
    #[error("{path}: not a valid {what}: {problem}")]
    Format {
        /// The file or key.
        path: String,
        /// The kind of artifact.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The user is in none of the round's mini-trees.
    #[error("user {0:?} is not in this round")]
    UnknownUser(String),
    /// A proof does not verify.
    #[error("proof does not verify: {0}")]
    Proof(String),
    /// Invalid arguments or parameters.
    #[error("{0}")]
    Invalid(String),
}

/// The coarse class of an [`Error`], stable for callers that retry or report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong: retrying cannot help.
    InvalidInput,
    /// Something asked for is not there.
    NotFound,
    /// Storage failed: retrying may help.
    Storage,
    /// A stored artifact is corrupt.
    Corrupt,
}

impl Error {
    /// The error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Row { .. }
            | Error::Shard { .. }
            | Error::TotalOutOfRange { .. }
            | Error::Proof(_)
            | Error::Invalid(_) => ErrorKind::InvalidInput,
            Error::UnknownUser(_) => ErrorKind::NotFound,
            Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } => ErrorKind::Storage,
            Error::Format { .. } => ErrorKind::Corrupt,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The shard this error is about, where it is about one.
    pub fn shard(&self) -> Option<&str> {
        match self {
            Error::Row { file, .. } | Error::Shard { file, .. } => Some(file),
            _ => None,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
