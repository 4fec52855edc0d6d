//! The fixed keys of the ZK targets: one small shape (v1, depth 1, one currency,
//! n_bytes 14) on the unsafe test SRS, made once per process, and a valid proof of
//! a two-user round with them.

use std::sync::OnceLock;

use summa_agg::format::TreeFile;
use summa_agg::json::RoundResult;
use summa_agg::{Layout, Params};
use summa_agg_zk::verifier::{Options, Prepared, Published};
use summa_agg_zk::{Keys, Shape, SrsSource, ZkProof};

use crate::rounds;

/// The fixture's shape.
pub const SHAPE: Shape = Shape {
    layout: Layout::V1,
    depth: 1,
    currencies: 1,
    n_bytes: 14,
};

/// Keys, their files and a proof.
pub struct Fixture {
    /// The keys, as generated (prover included).
    pub keys: Keys,
    /// `(name, bytes)` of the keys directory, `keys.json` last.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// What the round published.
    pub published: Published,
    /// The verifier, prepared once over the keys' `srs.bin`.
    pub verifier: Prepared,
    /// A valid proof of user `alice`.
    pub proof: ZkProof,
}

/// The verifier's options of the fixture: its SRS is the unsafe test one.
pub const OPTIONS: Options<'static> = Options {
    expected_user: None,
    expected_balances: None,
    unsafe_test_srs: true,
    clock: None,
};

impl Fixture {
    /// The bytes of a file of the keys directory.
    pub fn file(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

/// The fixture, made on first use (keygen and one proof: a second or two).
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let params = Params {
            layout: SHAPE.layout,
            n_bytes: SHAPE.n_bytes,
        };
        let rows = vec![
            (b"alice".to_vec(), vec![7u32.into()]),
            (b"bob".to_vec(), vec![35u32.into()]),
        ];
        let round = rounds::build(params, 1, vec![rows]).unwrap();
        let agg = TreeFile::open(round.agg_file.clone(), "a").unwrap();
        let merkle = summa_agg::proof::generate(
            &agg,
            |i| TreeFile::open(round.mini_files[i].clone(), "m"),
            "alice",
        )
        .unwrap();
        let mut keys = Keys::generate(SHAPE, &SrsSource::UnsafeTest).unwrap();
        let files = keys.to_files().unwrap();
        let proof = summa_agg_zk::prove(&keys, &merkle).unwrap();
        let published = Published::from_result(&RoundResult::of(&round.agg)).unwrap();
        let srs = &files.iter().find(|(n, _)| *n == "srs.bin").unwrap().1;
        let verifier = Prepared::new(srs, &SHAPE, &OPTIONS).unwrap();
        verifier
            .verify(&proof, &published, &OPTIONS)
            .expect("the fixture's proof verifies");
        Fixture {
            keys,
            files,
            published,
            verifier,
            proof,
        }
    })
}
