//! Verifying keys pinned in code: a user checks a proof of a pinned shape in
//! milliseconds, with no SRS file and no key derivation (seconds).
//!
//! The key is still never the custodian's. Each pinned key is the one
//! [`crate::verifier::derive_vk`] makes from this crate's circuit for one shape over
//! one setup's G1 powers. `make pinned-keys` writes them (`keys.bin`, halo2's
//! compressed encoding) and their SHA-256 (`table.rs`: the digest of halo2's
//! `RawBytes` form, the one the round registry records); `cargo test` re-derives a
//! sample and `make pinned-keys-check` all of them, failing on any drift from the
//! circuit. A circuit change is one `make pinned-keys` (which `make contracts` runs).
//!
//! A KZG verifier needs of the setup only `[1]_1`, `[1]_2` and `[τ]_2`
//! ([`verifier_params`]); `[τ]_2` is the one pinned in [`crate::ceremony`].
//!
//! The set of pinned shapes ([`supported`]) is a choice of size: every key is
//! about 700 bytes in the module, and the shapes a custodian uses are few. A shape
//! outside it falls back to deriving the key from a ceremony's SRS file.

use std::sync::OnceLock;

use halo2_proofs::halo2curves::bn256::{Bn256, G1Affine, G2Affine};
use halo2_proofs::plonk::VerifyingKey;
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use summa_agg::Layout;

use crate::ceremony::{self, Setup, CEREMONIES};
use crate::circuit::InclusionCircuit;
use crate::shape::{Shape, MAX_DEPTH};
use crate::srs::params_from_parts;
use crate::verifier::{derive_vk, vk_bytes, vk_digest};
use crate::{Error, Result};

mod table;

/// The keys' bytes, each deflated (most of a key is its selector columns' bits,
/// which repeat), one after another (offsets in [`table::TABLE`]).
static KEYS: &[u8] = include_bytes!("keys.bin");

/// The longest key inflated (one at the largest `k` is about 40 KB).
const MAX_KEY_BYTES: usize = 1 << 20;

/// One pinned key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The setup's name ([`Setup::name`]).
    pub setup: &'static str,
    /// The shape's id ([`Shape::id`]).
    pub shape: &'static str,
    /// Where its bytes start in `keys.bin`.
    pub at: usize,
    /// How many bytes.
    pub len: usize,
    /// The SHA-256 of the key's `RawBytes` form, hex.
    pub sha256: &'static str,
}

/// The largest number of currencies pinned.
pub const MAX_PINNED_CURRENCIES: usize = 4;

/// The shapes pinned for every setup whose file has enough points: the v1 layout
/// with Summa's `n_bytes` of 14, every depth up to [`MAX_DEPTH`], 1 to
/// [`MAX_PINNED_CURRENCIES`] currencies.
pub fn supported() -> Vec<Shape> {
    let mut shapes = Vec::new();
    for currencies in 1..=MAX_PINNED_CURRENCIES {
        for depth in 1..=MAX_DEPTH {
            shapes.push(Shape {
                layout: Layout::V1,
                depth,
                currencies,
                n_bytes: summa_agg::layout::DEFAULT_N_BYTES,
            });
        }
    }
    shapes
}

/// Every pinned key.
pub fn table() -> &'static [Entry] {
    table::TABLE
}

/// The setups in the order a verifier tries them: the ceremonies, then the unsafe
/// test setup.
fn setups() -> impl Iterator<Item = Setup> {
    CEREMONIES
        .iter()
        .map(Setup::Ceremony)
        .chain([Setup::UnsafeTest])
}

/// The pinned keys of `shape` a verifier may use, in the order it tries them
/// (ceremonies first; the unsafe test setup only when `allow_unsafe_test`).
pub fn entries(shape: &Shape, allow_unsafe_test: bool) -> Vec<(Setup, &'static Entry)> {
    let id = shape.id();
    setups()
        .filter(|s| allow_unsafe_test || !s.is_unsafe_test())
        .filter_map(|s| {
            table()
                .iter()
                .find(|e| e.setup == s.name() && e.shape == id)
                .map(|e| (s, e))
        })
        .collect()
}

/// The shape of the pinned key whose SHA-256 is `digest`, if one is.
pub fn shape_of_digest(digest: &[u8; 32]) -> Option<Shape> {
    let hex = hex::encode(digest);
    let entry = table().iter().find(|e| e.sha256 == hex)?;
    supported().into_iter().find(|s| s.id() == entry.shape)
}

/// Whether `shape` has a key pinned on the unsafe test setup only.
pub fn only_unsafe_test(shape: &Shape) -> bool {
    entries(shape, false).is_empty() && !entries(shape, true).is_empty()
}

/// The verifying key of a pinned entry, its digest checked against the table.
pub fn load(entry: &Entry) -> Result<VerifyingKey<G1Affine>> {
    let deflated = KEYS
        .get(entry.at..entry.at + entry.len)
        .ok_or_else(|| Error::Keys(format!("pinned key {}: out of keys.bin", entry.shape)))?;
    let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, MAX_KEY_BYTES)
        .map_err(|e| Error::Keys(format!("pinned key {}: {e}", entry.shape)))?;
    let mut rest = &bytes[..];
    let vk = VerifyingKey::<G1Affine>::read::<_, InclusionCircuit>(
        &mut rest,
        SerdeFormat::Processed,
        (),
    )
    .map_err(|e| Error::Keys(format!("pinned key {}: {e}", entry.shape)))?;
    if !rest.is_empty() || hex::encode(vk_digest(&vk)) != entry.sha256 {
        return Err(Error::Keys(format!(
            "pinned key {} on the {} setup is not the one its digest pins",
            entry.shape, entry.setup
        )));
    }
    Ok(vk)
}

/// What a KZG verifier needs of `setup` for a circuit of `2^k` rows: `[1]_1`,
/// `[1]_2` and the pinned `[τ]_2`, and no other point.
pub fn verifier_params(setup: Setup, k: u32) -> ParamsKZG<Bn256> {
    params_from_parts(
        k,
        vec![G1Affine::generator()],
        Some(Vec::new()),
        ceremony::g2_generator(),
        s_g2(setup),
    )
}

/// `[τ]_2` of `setup`, decoded (and checked to be in G2's subgroup) once per setup.
fn s_g2(setup: Setup) -> G2Affine {
    static CEREMONY_TAUS: OnceLock<Vec<G2Affine>> = OnceLock::new();
    static TEST_TAU: OnceLock<G2Affine> = OnceLock::new();
    match setup {
        Setup::Ceremony(c) => {
            let taus = CEREMONY_TAUS.get_or_init(|| {
                CEREMONIES
                    .iter()
                    .map(|c| c.s_g2().expect("every pinned [τ]_2 is a point (tested)"))
                    .collect()
            });
            let at = CEREMONIES
                .iter()
                .position(|x| x == c)
                .expect("a pinned ceremony");
            taus[at]
        }
        Setup::UnsafeTest => *TEST_TAU.get_or_init(ceremony::unsafe_test_s_g2),
    }
}

/// Runs once the code a check spends its time in: a pinned key read (inflated,
/// decoded, its digest checked), each setup's `[τ]_2`, an MSM, a pairing check and
/// a Poseidon hash. A WebAssembly engine compiles a module's functions in a quick
/// baseline tier and optimises them once they run hot, so a page that calls this
/// after loading, while the user picks a file, makes the first check as fast as the
/// next ones. Checks nothing; returns whether the pairing identity held (it does).
pub fn warm_up() -> bool {
    use halo2_proofs::arithmetic::best_multiexp;
    use halo2_proofs::halo2curves::bn256::{multi_miller_loop, Fr, G2Prepared, Gt};
    use halo2_proofs::halo2curves::pairing::MillerLoopResult;
    if let Some(entry) = table().first() {
        let _ = load(entry);
    }
    for setup in setups() {
        let _ = s_g2(setup);
    }
    let base = Fr::from(0x9e37_79b9_7f4a_7c15);
    let scalars: Vec<Fr> = (1..=64u64).map(|i| base * Fr::from(i)).collect();
    let bases = vec![G1Affine::generator(); scalars.len()];
    let sum: G1Affine = best_multiexp(&scalars, &bases).into();
    let g2 = G2Prepared::from(ceremony::g2_generator());
    let held =
        multi_miller_loop(&[(&sum, &g2), (&-sum, &g2)]).final_exponentiation() == Gt::identity();
    let _ = summa_agg::poseidon::hash(&[summa_agg::Fr::from(1u64), summa_agg::Fr::from(2u64)]);
    held
}

/// `params` cut to `2^k` powers, without Lagrange points (halo2's `downsize` would
/// compute them: an FFT in the group that key derivation does not need).
fn cut(params: &ParamsKZG<Bn256>, k: u32) -> ParamsKZG<Bn256> {
    params_from_parts(
        k,
        params.get_g()[..1 << k].to_vec(),
        Some(Vec::new()),
        params.g2(),
        params.s_g2(),
    )
}

/// The table and the keys' bytes of `make pinned-keys`.
pub struct Generated {
    /// `table.rs`.
    pub table_rs: String,
    /// `keys.bin`.
    pub keys_bin: Vec<u8>,
}

/// Derives the key of every supported shape over each setup's parameters (a shape
/// whose `k` is above a file's is left out for that setup) and writes the table.
/// `progress` is told each shape's id as its key is made.
pub fn generate(
    setups: &[(Setup, &ParamsKZG<Bn256>)],
    mut progress: impl FnMut(&str),
) -> Result<Generated> {
    let mut keys_bin = Vec::new();
    let mut rows = String::new();
    for (setup, params) in setups {
        for shape in supported() {
            if shape.k() > params.k() {
                continue;
            }
            let vk = derive_vk(&cut(params, shape.k()), &shape)?;
            let mut raw = Vec::new();
            vk.write(&mut raw, SerdeFormat::Processed)?;
            let bytes = miniz_oxide::deflate::compress_to_vec(&raw, 10);
            rows.push_str(&format!(
                "    Entry {{ setup: {:?}, shape: {:?}, at: {}, len: {}, sha256: {:?} }},\n",
                setup.name(),
                shape.id(),
                keys_bin.len(),
                bytes.len(),
                hex::encode(vk_digest(&vk)),
            ));
            keys_bin.extend_from_slice(&bytes);
            progress(&shape.id());
        }
    }
    let table_rs = format!(
        "// @generated by `make pinned-keys` (zk/examples/pin-keys.rs): the verifying keys\n\
         // derived from the circuit for each supported shape and setup, and the SHA-256 of\n\
         // each key's RawBytes form. Do not edit: `make pinned-keys-check` fails on drift.\n\n\
         use super::Entry;\n\n\
         #[rustfmt::skip]\n\
         pub(super) static TABLE: &[Entry] = &[\n{rows}];\n"
    );
    Ok(Generated { table_rs, keys_bin })
}

/// Re-derives the pinned key of `shape` on `setup` from `params` and compares it,
/// byte for byte and by digest, with the pinned one.
pub fn check(setup: Setup, params: &ParamsKZG<Bn256>, shape: &Shape) -> Result<()> {
    let entry = entries(shape, true)
        .into_iter()
        .find(|(s, _)| *s == setup)
        .map(|(_, e)| e)
        .ok_or_else(|| {
            Error::Keys(format!(
                "no key is pinned for shape {} on the {} setup",
                shape.id(),
                setup.name()
            ))
        })?;
    let derived = derive_vk(&cut(params, shape.k()), shape)?;
    if vk_bytes(&derived) != vk_bytes(&load(entry)?) {
        return Err(Error::Keys(format!(
            "the pinned key of shape {} on the {} setup is not the circuit's: run make pinned-keys",
            shape.id(),
            setup.name()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
