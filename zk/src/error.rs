//! The errors of this crate. Each message is a sentence for the person who runs
//! the verifier: it names what was wrong (a file, a total, a balance).

/// What went wrong while making or checking keys and proofs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A shape no circuit is made for, or keys and proof of different shapes.
    #[error("{0}")]
    Shape(String),
    /// A keys file is missing, corrupt, of another shape or not this circuit's.
    #[error("keys: {0}")]
    Keys(String),
    /// An SRS file is malformed, or not a known ceremony's.
    #[error("SRS: {0}")]
    Srs(String),
    /// An input file is empty or not what it should be (the proof file, the
    /// published result, an argument).
    #[error("{0}")]
    Input(String),
    /// A proof does not verify, or is not for what the verifier expects.
    #[error("proof does not verify: {0}")]
    Proof(String),
    /// The proving system failed.
    #[error("halo2: {0}")]
    Halo2(#[from] halo2_proofs::plonk::Error),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An error of the core library (a Merkle proof, a round).
    #[error(transparent)]
    Core(#[from] summa_agg::Error),
}

/// A result of this crate.
pub type Result<T> = std::result::Result<T, Error>;
