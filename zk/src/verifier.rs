//! A user's verification of their zero-knowledge inclusion proof, trusting nothing
//! the custodian chooses.
//!
//! What the verdict rests on:
//! - **the circuit's source**: the verifying key is derived here, from this crate's
//!   circuit for the published shape ([`derive_vk`]); no key file is read;
//! - **a public ceremony**: the SRS file (anyone may hand it over) must have a
//!   pinned ceremony's `[τ]_2` and G1 powers of that τ ([`crate::srs`]); the unsafe
//!   test setup only when the caller says so;
//! - **what the custodian published**: the root hash, the per-currency totals and
//!   the shape come from `result.json` (or are given by the user), never from the
//!   proof file; the totals are public inputs of the circuit, bound to the root's
//!   sums, so a total changed in `result.json` fails;
//! - **the user's own record**: the leaf is recomputed from the username and
//!   balances (canonical username, balances in range), which the report shows with
//!   the published currency labels and which can be checked against what the user
//!   expects.
//!
//! From the proof file the entry, the proof bytes and the labels with their digest
//! are used (the labels must be the published ones, [`check_labels`]); its other
//! fields (public inputs, warning) serve only to explain a failure. This
//! module holds no prover: it is what the command line and the WebAssembly
//! verifier share.

use halo2_proofs::arithmetic::best_multiexp;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr as CircuitFr, G1Affine, G1};
use halo2_proofs::plonk::{verify_proof, VerifyingKey};
use halo2_proofs::poly::commitment::{Blind, Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::msm::MSMKZG;
use halo2_proofs::poly::kzg::multiopen::VerifierSHPLONK;
use halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_proofs::poly::{EvaluationDomain, LagrangeCoeff, Polynomial};
use halo2_proofs::transcript::TranscriptReadBuffer;
use halo2_proofs::SerdeFormat;
use serde::Serialize;
use summa_agg::field::{bound, parse_decimal, to_hex, u256_to_fr, U256};
use summa_agg::json::{labels_digest_hex, parse_fr, RoundResult};
use summa_agg::shard::Currency;
use summa_agg::{poseidon, Fr};

use crate::ceremony::Setup;
use crate::circuit::InclusionCircuit;
use crate::convert::to_circuit;
use crate::proof::{ZkProof, ZK_PROOF_KIND};
use crate::shape::Shape;
use crate::transcript::KeccakTranscript;
use crate::{pinned, srs, Error, Result};

/// The longest proof accepted (a real one is about 2 KiB).
const MAX_PROOF_BYTES: usize = 64 * 1024;

/// The verifying key of `shape`'s circuit over `params` (key generation is
/// deterministic: the same circuit and SRS give the same key, byte for byte). Only
/// the powers `[τ^i]_1` of `params` are used ([`PowersOnly`]): its Lagrange points
/// may be absent ([`srs::read_for_verifier`]).
pub fn derive_vk(params: &ParamsKZG<Bn256>, shape: &Shape) -> Result<VerifyingKey<G1Affine>> {
    shape.validate()?;
    let powers = PowersOnly {
        params,
        domain: EvaluationDomain::new(1, params.k()),
    };
    Ok(InclusionCircuit::keygen(*shape).keygen_vk(&powers)?)
}

/// halo2's `Params` over the powers `[τ^i]_1` alone, for key generation: a
/// polynomial given by its evaluations is interpolated (an inverse FFT in the
/// field) and its coefficients are committed to the powers, which is the same
/// point as its evaluations committed to the Lagrange points `[L_i(τ)]_1`. So a
/// verifier never computes the Lagrange points, an FFT in the group that took
/// nearly all of an SRS check's time (over 2 minutes at k = 14 in WebAssembly).
#[derive(Clone, Debug)]
struct PowersOnly<'a> {
    params: &'a ParamsKZG<Bn256>,
    domain: EvaluationDomain<CircuitFr>,
}

impl<'a> Params<'a, G1Affine> for PowersOnly<'a> {
    type MSM = MSMKZG<Bn256>;

    fn k(&self) -> u32 {
        self.params.k()
    }

    fn n(&self) -> u64 {
        self.params.n()
    }

    fn downsize(&mut self, _: u32) {
        unreachable!("key generation never downsizes its parameters")
    }

    fn empty_msm(&'a self) -> Self::MSM {
        MSMKZG::new()
    }

    fn commit_lagrange(
        &self,
        poly: &Polynomial<CircuitFr, LagrangeCoeff>,
        _: Blind<CircuitFr>,
    ) -> G1 {
        let coeffs = self.domain.lagrange_to_coeff(poly.clone());
        best_multiexp(&coeffs, &self.params.get_g()[..coeffs.len()])
    }

    fn write<W: std::io::Write>(&self, _: &mut W) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    fn read<R: std::io::Read>(_: &mut R) -> std::io::Result<Self> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// A verifying key's bytes (halo2 `RawBytes`, as `vk.bin` holds it).
pub fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.write(&mut out, SerdeFormat::RawBytes)
        .expect("writing to memory");
    out
}

/// The SHA-256 of a verifying key's bytes ([`vk_bytes`]): its digest in the round
/// registry's record.
pub fn vk_digest(vk: &VerifyingKey<G1Affine>) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(vk_bytes(vk)).into()
}

/// Verifies proof bytes for the public inputs `public` (`[leaf, root, totals..]`)
/// with `vk`. The bytes must end exactly where the proof's transcript does.
pub fn check_proof_bytes(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    bytes: &[u8],
    public: &[Fr],
) -> Result<()> {
    if bytes.len() > MAX_PROOF_BYTES {
        return Err(Error::Proof(format!(
            "a proof of {} bytes is too long",
            bytes.len()
        )));
    }
    let instance: Vec<CircuitFr> = public.iter().map(to_circuit).collect();
    let mut rest = bytes;
    {
        let mut transcript = KeccakTranscript::init(&mut rest);
        let strategy = SingleStrategy::new(params);
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            params,
            vk,
            strategy,
            &[&[&instance[..]]],
            &mut transcript,
        )
        .map_err(|e| Error::Proof(format!("the zero-knowledge proof does not verify ({e:?})")))?;
    }
    if !rest.is_empty() {
        return Err(Error::Proof(format!(
            "{} bytes follow the end of the proof's transcript",
            rest.len()
        )));
    }
    Ok(())
}

/// What the custodian published about a round, as the verifier takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The circuit shape of the round (layout, depth, currencies, `n_bytes`).
    pub shape: Shape,
    /// The root hash.
    pub root: Fr,
    /// The per-currency totals (the root's balances).
    pub totals: Vec<U256>,
    /// The currencies, in column order.
    pub currencies: Vec<Currency>,
}

fn input(m: impl Into<String>) -> Error {
    Error::Input(m.into())
}

impl Published {
    /// From a published `result.json`.
    pub fn from_result(r: &RoundResult) -> Result<Published> {
        let shape = Shape {
            layout: r.layout,
            depth: r.depth,
            currencies: r.currencies.len(),
            n_bytes: r.n_bytes,
        };
        shape
            .validate()
            .map_err(|e| input(format!("result.json: {e}")))?;
        let root =
            parse_fr(&r.root.hash, "result.json's root hash").map_err(|e| input(e.to_string()))?;
        if r.root.balances.len() != r.currencies.len() {
            return Err(input(format!(
                "result.json has {} totals for {} currencies",
                r.root.balances.len(),
                r.currencies.len()
            )));
        }
        let totals = parse_amounts(&r.root.balances, shape.n_bytes, "result.json: total")?;
        r.check_labels_digest().map_err(input)?;
        Ok(Published {
            shape,
            root,
            totals,
            currencies: r.currencies.clone(),
        })
    }

    /// From the bytes of a published `result.json`.
    pub fn from_result_json(bytes: &[u8]) -> Result<Published> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(input("the published result (result.json) is empty"));
        }
        let r: RoundResult = summa_agg::json::from_slice_strict(bytes).map_err(|e| {
            input(format!(
                "the published result is not a round's result.json: {e}"
            ))
        })?;
        Published::from_result(&r)
    }
}

/// Decimal amounts, each below `2^(8 n_bytes)` (`what` names them in an error).
pub fn parse_amounts(texts: &[String], n_bytes: u8, what: &str) -> Result<Vec<U256>> {
    let limit = bound(n_bytes);
    texts
        .iter()
        .map(|t| {
            let v = parse_decimal(t.as_bytes()).map_err(|p| input(format!("{what} {t:?}: {p}")))?;
            if v >= limit {
                return Err(input(format!(
                    "{what} {t} is not below 2^{} (n_bytes = {n_bytes})",
                    8 * u32::from(n_bytes)
                )));
            }
            Ok(v)
        })
        .collect()
}

/// What the verifier is asked besides the proof: the user's expectations and
/// whether the unsafe test setup may be accepted.
#[derive(Default)]
pub struct Options<'a> {
    /// The username the proof must be for.
    pub expected_user: Option<&'a str>,
    /// The balances the proof must be for, decimal, in the published currency order.
    pub expected_balances: Option<&'a [String]>,
    /// Accept the unsafe test setup (the result then proves nothing).
    pub unsafe_test_srs: bool,
    /// A clock in milliseconds, to report where the time went (none on targets
    /// without one, e.g. WebAssembly in a browser: the caller passes its own).
    pub clock: Option<&'a dyn Fn() -> f64>,
}

/// An amount of one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// The currency's name.
    pub currency: String,
    /// Its chain.
    pub chain: String,
    /// The amount, decimal.
    pub amount: String,
}

/// Where a verification spent its time, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Reading and checking the SRS.
    pub srs: f64,
    /// Deriving the verifying key.
    pub vk: f64,
    /// Verifying the proof.
    pub proof: f64,
}

/// What a verified proof established.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The user's username.
    pub username: String,
    /// The user's balances, with the published currency labels.
    pub balances: Vec<Amount>,
    /// The published root hash the proof reaches.
    pub root: String,
    /// The published totals the proof is bound to.
    pub totals: Vec<Amount>,
    /// The round's shape, e.g. `v1-d28-c2-b14`.
    pub shape: String,
    /// The setup of the SRS: a ceremony's name, or `UNSAFE TEST SRS`.
    pub setup: String,
    /// Whether the SRS is the unsafe test one: the result then proves nothing.
    pub unsafe_test_srs: bool,
    /// Whether the verifying key was the one pinned in this program
    /// ([`crate::pinned`]) rather than derived from an SRS file.
    pub pinned_key: bool,
    /// Where the time went, when a clock was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings_ms: Option<Timings>,
}

fn amounts(currencies: &[Currency], values: &[U256]) -> Vec<Amount> {
    currencies
        .iter()
        .zip(values)
        .map(|(c, v)| Amount {
            currency: c.name.clone(),
            chain: c.chain.clone(),
            amount: v.to_string(),
        })
        .collect()
}

fn join(values: &[impl ToString]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement a proof file claims, checked against what was published and what
/// the user expects, before any cryptography: the user's leaf and balances, and
/// the proof bytes.
struct Statement {
    leaf: Fr,
    balances: Vec<U256>,
    bytes: Vec<u8>,
}

/// The user's own record: the proof's kind and shape, the canonical username, the
/// balances in range, the expected user and balances; its leaf hash and balances.
fn own_record(proof: &ZkProof, published: &Published, opts: &Options) -> Result<(Fr, Vec<U256>)> {
    let fail = |m: String| Error::Proof(m);
    if proof.kind != ZK_PROOF_KIND {
        return Err(other_version(&proof.kind));
    }
    let shape = published.shape;
    if proof.shape != shape {
        return Err(fail(format!(
            "the proof is for a round of shape {}, the published round has shape {}",
            proof.shape.id(),
            shape.id()
        )));
    }
    check_labels(proof, published)?;
    // The user's own record.
    let entry = &proof.entry;
    shape
        .layout
        .check_username(entry.username.as_bytes())
        .map_err(fail)?;
    if let Some(want) = opts.expected_user {
        summa_agg::proof::check_expected_user(want).map_err(input)?;
        if entry.username != want {
            return Err(fail(format!(
                "proof is for user {:?}, not {want:?}",
                entry.username
            )));
        }
    }
    if entry.balances.len() != shape.currencies {
        return Err(fail(format!(
            "the entry has {} balances, the round has {} currencies",
            entry.balances.len(),
            shape.currencies
        )));
    }
    let balances = parse_amounts(&entry.balances, shape.n_bytes, "the entry's balance")?;
    if let Some(want) = opts.expected_balances {
        let want_values = parse_amounts(want, shape.n_bytes, "expected balance")?;
        if want_values.len() != shape.currencies {
            let names: Vec<&str> = published
                .currencies
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            return Err(input(format!(
                "{} expected balances given, the round has {} currencies ({})",
                want_values.len(),
                shape.currencies,
                names.join(", ")
            )));
        }
        if want_values != balances {
            return Err(fail(format!(
                "proof is for balances {}, not {}",
                join(&balances),
                join(&want_values)
            )));
        }
    }
    let mut pre = vec![shape.layout.username_fe(entry.username.as_bytes())];
    pre.extend(balances.iter().map(u256_to_fr));
    let leaf = poseidon::hash(&pre);
    Ok((leaf, balances))
}

/// The currency labels: the proof file's `labels_digest` must be the digest of its
/// own labels and of the published ones, so a label swapped or renamed in
/// `result.json` (or in the proof file) after the proof was made is refused.
///
/// A label is shown beside an amount, so it must be a plain name (letters, digits,
/// `.`, `-`; 1 to 32 characters): a label such as `BTC) 0, ETH (ETH` would
/// otherwise print as two currencies where there is one.
fn check_labels(proof: &ZkProof, published: &Published) -> Result<()> {
    for c in &published.currencies {
        for label in [&c.name, &c.chain] {
            let plain = (1..=32).contains(&label.chars().count())
                && label
                    .chars()
                    .all(|ch| ch.is_alphanumeric() || ch == '.' || ch == '-');
            if !plain {
                return Err(Error::Proof(format!(
                    "the currency label {:?} is not a plain name (letters, digits, '.', '-'; at most 32): a label could pass for another currency's amount",
                    label
                )));
            }
        }
    }
    let names = |c: &[Currency]| {
        c.iter()
            .map(|c| format!("{} ({})", c.name, c.chain))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if labels_digest_hex(&proof.currencies) != proof.labels_digest {
        return Err(Error::Proof(format!(
            "the proof file's currency labels ({}) are not the ones its labels_digest {} commits to",
            names(&proof.currencies),
            proof.labels_digest
        )));
    }
    if labels_digest_hex(&published.currencies) != proof.labels_digest {
        return Err(Error::Proof(format!(
            "the published currency labels ({}) are not the ones this proof was made for ({}): a label was swapped or renamed",
            names(&published.currencies),
            names(&proof.currencies)
        )));
    }
    Ok(())
}

/// The proof bytes of the file's `0x` + hex.
fn proof_bytes(proof: &ZkProof) -> Result<Vec<u8>> {
    proof
        .proof
        .strip_prefix("0x")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| Error::Proof("the proof bytes are not 0x-prefixed hex".into()))
}

fn statement(proof: &ZkProof, published: &Published, opts: &Options) -> Result<Statement> {
    let fail = |m: String| Error::Proof(m);
    let (leaf, balances) = own_record(proof, published, opts)?;
    let entry = &proof.entry;

    // The proof file's own claims, compared only to say what differs: the
    // verdict uses the published values alone.
    let stated = &proof.public_inputs;
    if parse_fr(&stated.leaf_hash, "leaf").ok() != Some(leaf) {
        return Err(fail(format!(
            "the entry ({}: {}) hashes to {}, not to the leaf {} the proof was made for",
            entry.username,
            join(&entry.balances),
            to_hex(&leaf),
            stated.leaf_hash
        )));
    }
    if parse_fr(&stated.root_hash, "root").ok() != Some(published.root) {
        return Err(fail(format!(
            "the proof is for root {}, not the published root {}",
            stated.root_hash,
            to_hex(&published.root)
        )));
    }
    for (i, c) in published.currencies.iter().enumerate() {
        let said = stated.totals.get(i).map(String::as_str).unwrap_or("none");
        let want = published.totals[i].to_string();
        if said != want {
            return Err(fail(format!(
                "total of {} differs from the published result: the proof was made for {said}, result.json says {want}",
                c.name
            )));
        }
    }
    let bytes = proof_bytes(proof)?;
    Ok(Statement {
        leaf,
        balances,
        bytes,
    })
}

/// The user's leaf hash and the proof bytes, once the proof file's entry checks out
/// against `published` and `opts` (canonical username, balances in range, the
/// expected record), whatever the file claims of its public inputs: what an EVM
/// verifier is asked with.
pub fn leaf_and_bytes(
    proof: &ZkProof,
    published: &Published,
    opts: &Options,
) -> Result<(Fr, Vec<u8>)> {
    let (leaf, _) = own_record(proof, published, opts)?;
    Ok((leaf, proof_bytes(proof)?))
}

/// What verifying proofs of one shape needs: a checked SRS and the verifying key
/// derived from the circuit. Made once, it checks any number of proofs.
pub struct Prepared {
    shape: Shape,
    params: ParamsKZG<Bn256>,
    vk: VerifyingKey<G1Affine>,
    setup: Setup,
    timings: Option<(f64, f64)>,
    pinned: bool,
}

impl Prepared {
    /// Checks `srs_file` ([`crate::srs::read_for_verifier`]) and derives the verifying key of
    /// `shape`'s circuit over it.
    pub fn new(srs_file: &[u8], shape: &Shape, opts: &Options) -> Result<Prepared> {
        shape.validate()?;
        let now = || opts.clock.map(|c| c());
        let t0 = now();
        let checked = srs::read_for_verifier(srs_file, shape.k(), opts.unsafe_test_srs)?;
        let t1 = now();
        let vk = derive_vk(&checked.params, shape)?;
        let t2 = now();
        let timings = match (t0, t1, t2) {
            (Some(a), Some(b), Some(c)) => Some((b - a, c - b)),
            _ => None,
        };
        Ok(Prepared {
            shape: *shape,
            params: checked.params,
            vk,
            setup: checked.setup,
            timings,
            pinned: false,
        })
    }

    /// The pinned key of `entry` (of `setup`, for `shape`): no SRS file is read and
    /// no key derived.
    pub fn from_pinned(
        shape: &Shape,
        setup: Setup,
        entry: &pinned::Entry,
        opts: &Options,
    ) -> Result<Prepared> {
        shape.validate()?;
        let t0 = opts.clock.map(|c| c());
        let vk = pinned::load(entry)?;
        let t1 = opts.clock.map(|c| c());
        Ok(Prepared {
            shape: *shape,
            params: pinned::verifier_params(setup, shape.k()),
            vk,
            setup,
            timings: t0.zip(t1).map(|(a, b)| (0.0, b - a)),
            pinned: true,
        })
    }

    /// The setup of the SRS.
    pub fn setup(&self) -> Setup {
        self.setup
    }

    /// The SHA-256 of the derived verifying key's bytes: what the round registry
    /// records as the round's `vkDigest`.
    pub fn vk_digest(&self) -> [u8; 32] {
        vk_digest(&self.vk)
    }

    /// Refuses a published `vk.bin` that is not, byte for byte, the key derived here.
    pub fn check_vk_file(&self, vk_bin: &[u8]) -> Result<()> {
        if vk_bytes(&self.vk) != vk_bin {
            return Err(Error::Keys(format!(
                "keys are not this circuit's for shape {} (vk.bin differs from the verifying key derived from the circuit and the {} SRS)",
                self.shape.id(),
                self.setup.name()
            )));
        }
        Ok(())
    }

    /// Verifies a user's proof against what the custodian published.
    pub fn verify(&self, proof: &ZkProof, published: &Published, opts: &Options) -> Result<Report> {
        if published.shape != self.shape {
            return Err(Error::Shape(format!(
                "prepared for shape {}, the published round has shape {}",
                self.shape.id(),
                published.shape.id()
            )));
        }
        let st = statement(proof, published, opts)?;
        let t0 = opts.clock.map(|c| c());
        let mut public = vec![st.leaf, published.root];
        public.extend(published.totals.iter().map(u256_to_fr));
        check_proof_bytes(&self.params, &self.vk, &st.bytes, &public)?;
        let t1 = opts.clock.map(|c| c());
        let timings_ms = match (self.timings, t0, t1) {
            (Some((srs, vk)), Some(a), Some(b)) => Some(Timings {
                srs,
                vk,
                proof: b - a,
            }),
            _ => None,
        };
        Ok(Report {
            username: proof.entry.username.clone(),
            balances: amounts(&published.currencies, &st.balances),
            root: to_hex(&published.root),
            totals: amounts(&published.currencies, &published.totals),
            shape: self.shape.id(),
            setup: self.setup.name().into(),
            unsafe_test_srs: self.setup.is_unsafe_test(),
            pinned_key: self.pinned,
            timings_ms,
        })
    }
}

/// The pinned keys of `shape` a verifier may use ([`pinned::entries`]), in the order
/// it tries them; an error says why there is none (a shape that is not pinned falls
/// back to an SRS file).
fn pinned_entries(shape: &Shape, opts: &Options) -> Result<Vec<(Setup, &'static pinned::Entry)>> {
    let entries = pinned::entries(shape, opts.unsafe_test_srs);
    if entries.is_empty() {
        return Err(Error::Srs(if pinned::only_unsafe_test(shape) {
            format!("no ceremony's verifying key is pinned for shape {} (only the UNSAFE TEST SRS's, which is refused unless accepted: anyone can forge proofs against it): give the ceremony's SRS file, from which the key is derived (this takes seconds)", shape.id())
        } else {
            format!("no verifying key is pinned for shape {}: give a ceremony's SRS file, from which the key is derived (this takes seconds)", shape.id())
        }));
    }
    Ok(entries)
}

/// The proof checked with the key derived from `srs_file`, or with none (empty), with
/// the pinned keys of its shape, each read only if the one before did not verify it
/// (the first one's error is the answer); the key used, and the report.
fn prepare_and_verify(
    srs_file: &[u8],
    proof: &ZkProof,
    published: &Published,
    opts: &Options,
) -> Result<(Prepared, Report)> {
    if !srs_file.is_empty() {
        let prepared = Prepared::new(srs_file, &published.shape, opts)?;
        let report = prepared.verify(proof, published, opts)?;
        return Ok((prepared, report));
    }
    let mut first = None;
    for (setup, entry) in pinned_entries(&published.shape, opts)? {
        let prepared = Prepared::from_pinned(&published.shape, setup, entry, opts)?;
        match prepared.verify(proof, published, opts) {
            Ok(report) => return Ok((prepared, report)),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.expect("pinned_entries names at least one key"))
}

/// Verifies a user's proof against what the custodian published, with the key
/// pinned for its shape (`srs_file` empty) or derived from an SRS file. Every
/// failure is an error whose message says what was wrong. The proof file's
/// claims are checked first (cheap, and the clearest errors), then the SRS, then
/// the proof.
pub fn verify(
    proof: &ZkProof,
    published: &Published,
    srs_file: &[u8],
    opts: &Options,
) -> Result<Report> {
    statement(proof, published, opts)?;
    Ok(prepare_and_verify(srs_file, proof, published, opts)?.1)
}

/// [`verify`], and the custodian's published `vk.bin` must be the key the proof
/// verified with ([`Prepared::check_vk_file`]).
pub fn verify_with_vk_file(
    proof: &ZkProof,
    published: &Published,
    srs_file: &[u8],
    vk_bin: &[u8],
    opts: &Options,
) -> Result<Report> {
    statement(proof, published, opts)?;
    let (used, report) = prepare_and_verify(srs_file, proof, published, opts)?;
    used.check_vk_file(vk_bin)?;
    Ok(report)
}

/// A user's proof file, read as the command line and the WebAssembly module both
/// read it ([`summa_agg::json::from_slice_strict`]: a key given twice refused).
pub fn parse_proof(proof_json: &[u8]) -> Result<ZkProof> {
    if proof_json.iter().all(u8::is_ascii_whitespace) {
        return Err(input("the proof file is empty"));
    }
    summa_agg::json::from_slice_strict(proof_json).map_err(|e| {
        // A file of another version says so, not which field it lacks.
        #[derive(serde::Deserialize)]
        struct Kind {
            kind: Option<String>,
        }
        match serde_json::from_slice::<Kind>(proof_json) {
            Ok(Kind { kind: Some(kind) }) if kind != ZK_PROOF_KIND => other_version(&kind),
            _ => input(format!("the proof file is not a zero-knowledge proof: {e}")),
        }
    })
}

/// The refusal of a proof file of another version.
fn other_version(kind: &str) -> Error {
    Error::Proof(format!(
        "not a zero-knowledge proof of this version (kind {kind:?}, expected {ZK_PROOF_KIND:?})"
    ))
}

/// [`verify`] on the files as bytes: the user's proof, the published
/// `result.json` and an SRS file (empty: the pinned key).
pub fn verify_files(
    proof_json: &[u8],
    result_json: &[u8],
    srs_file: &[u8],
    opts: &Options,
) -> Result<Report> {
    let proof = parse_proof(proof_json)?;
    let published = Published::from_result_json(result_json)?;
    verify(&proof, &published, srs_file, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::poly::commitment::ParamsProver;
    use rand_chacha::rand_core::SeedableRng;
    use summa_agg::Layout;

    /// The key derived with the powers alone is halo2's own key generation over the
    /// Lagrange points, byte for byte, for parameters with or without those points.
    #[test]
    fn derive_vk_equals_keygen_vk_over_the_lagrange_points() {
        for layout in [Layout::V1, Layout::Legacy] {
            let shape = Shape {
                layout,
                depth: 6,
                currencies: 2,
                n_bytes: 14,
            };
            let params =
                ParamsKZG::<Bn256>::setup(shape.k(), rand_chacha::ChaCha20Rng::from_seed([7; 32]));
            let halo2 = InclusionCircuit::keygen(shape).keygen_vk(&params).unwrap();
            assert_eq!(
                vk_bytes(&derive_vk(&params, &shape).unwrap()),
                vk_bytes(&halo2)
            );
            let powers_only = params.from_parts(
                params.k(),
                params.get_g().to_vec(),
                Some(Vec::new()),
                params.g2(),
                params.s_g2(),
            );
            assert_eq!(
                vk_bytes(&derive_vk(&powers_only, &shape).unwrap()),
                vk_bytes(&halo2)
            );
        }
    }
}
