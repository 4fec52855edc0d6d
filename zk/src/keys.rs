//! The keys of one circuit shape, as the custodian makes and keeps them.
//!
//! A keys directory (`summa-agg zk-keys --out KEYS`) holds:
//!
//! | file | what |
//! | --- | --- |
//! | `keys.json` | shape, `k`, the SRS's setup (a pinned ceremony, or the unsafe test one) and its `[τ]_2`, SHA-256 of each file |
//! | `srs.bin` | the SRS cut to `2^k` points (halo2-axiom `Processed`: compressed points) |
//! | `pk.bin` | the proving key (halo2 `RawBytes`) |
//! | `vk.bin` | the verifying key (halo2 `RawBytes`), for `summa-agg zk-keys --check` |
//!
//! A verifier needs none of them but an SRS file: it derives the verifying key from
//! this crate's circuit for the published shape ([`crate::verifier`]). `srs.bin` is
//! one such file (its `[τ]_2` must be a pinned ceremony's, and its powers are checked
//! against it), so a custodian may publish it beside `result.json`; `pk.bin` stays
//! with the custodian. Keys depend only on the [`Shape`] and the SRS: they are made
//! once per shape and re-used by every round of that shape.
//!
//! SRS: production reads a ceremony's file in halo2's `ParamsKZG` format (`--srs
//! FILE`), e.g. `perpetual-powers-of-tau-raw-<k>`, with at least `2^k` points; it is
//! checked as a verifier would ([`crate::srs`]) and cut to `2^k`. Tests and examples
//! use [`SrsSource::UnsafeTest`]: a setup from a fixed, public seed, so anyone can
//! forge proofs against it; everything made with it says so
//! ([`UNSAFE_TEST_SRS_WARNING`]), and verifiers refuse it unless told otherwise.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_proofs::plonk::{keygen_pk, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ceremony::{Setup, UNSAFE_TEST_SEED};
use crate::circuit::InclusionCircuit;
use crate::shape::Shape;
use crate::verifier;
use crate::{srs, Error, Result};

/// Said by every output made with the unsafe test SRS.
pub const UNSAFE_TEST_SRS_WARNING: &str = "UNSAFE TEST SRS: made from a public seed, so anyone can forge proofs against these keys. For tests and examples only; never publish proofs made with it.";

/// The version of the keys directory's format (2: the totals are public inputs,
/// the verifier derives its key; 3: the circuit with shared output rows, base-4 range
/// checks and compressed selectors: keys of an earlier version are another circuit's).
pub const KEYS_FORMAT: &str = "summa-agg-zk-keys/3";

/// Where the SRS comes from.
#[derive(Clone, Debug)]
pub enum SrsSource {
    /// A file in halo2's `ParamsKZG` format from a pinned public ceremony.
    File(PathBuf),
    /// A deterministic setup from a public seed: for tests and examples only.
    UnsafeTest,
}

/// The SRS of a keys directory, as `keys.json` records it (for people: what
/// counts is the `[τ]_2` of `srs.bin`, which every reader checks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrsInfo {
    /// `"ceremony"` or `"unsafe-test-srs"`.
    pub kind: String,
    /// The ceremony's name (or `UNSAFE TEST SRS`).
    pub setup: String,
    /// The SRS file's name, for a ceremony's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `[τ]_2` of the SRS, compressed, hex.
    pub s_g2: String,
}

impl SrsInfo {
    fn of(setup: Setup, s_g2: &G2Affine, file: Option<String>) -> SrsInfo {
        use halo2_proofs::halo2curves::group::GroupEncoding;
        SrsInfo {
            kind: if setup.is_unsafe_test() {
                "unsafe-test-srs".into()
            } else {
                "ceremony".into()
            },
            setup: setup.name().into(),
            file,
            s_g2: hex::encode(s_g2.to_bytes()),
        }
    }
}

/// `keys.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysMeta {
    /// [`KEYS_FORMAT`].
    pub format: String,
    /// Present, and first, when the SRS is the unsafe test one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The circuit's shape.
    pub shape: Shape,
    /// log2 of the circuit's rows.
    pub k: u32,
    /// The SRS.
    pub srs: SrsInfo,
    /// SHA-256 (hex) of each file of the directory.
    pub sha256: FileHashes,
}

/// SHA-256 of the files of a keys directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHashes {
    /// `vk.bin`.
    pub vk: String,
    /// `pk.bin`.
    pub pk: String,
    /// `srs.bin`.
    pub srs: String,
}

/// The keys of one shape, for proving.
pub struct Keys {
    /// `keys.json`.
    pub meta: KeysMeta,
    /// The SRS, `2^k` points.
    pub params: ParamsKZG<Bn256>,
    /// What the SRS's `[τ]_2` was recognised as.
    pub setup: Setup,
    /// The proving key (holding the verifying key).
    pub pk: ProvingKey<G1Affine>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |e| Error::Keys(format!("{}: {e}", path.display()))
}

/// The SRS with `2^k` points: a ceremony's file, checked as a verifier checks it,
/// or the unsafe test setup.
pub fn load_srs(source: &SrsSource, k: u32) -> Result<(ParamsKZG<Bn256>, SrsInfo)> {
    match source {
        SrsSource::UnsafeTest => {
            let params = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(UNSAFE_TEST_SEED));
            let info = SrsInfo::of(Setup::UnsafeTest, &params.s_g2(), None);
            Ok((params, info))
        }
        SrsSource::File(path) => {
            let bytes = fs::read(path).map_err(io_err(path))?;
            let checked = srs::read(&bytes, k, false).map_err(|e| match e {
                Error::Srs(m) => Error::Srs(format!("{}: {m}", path.display())),
                e => e,
            })?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let info = SrsInfo::of(checked.setup, &checked.params.s_g2(), name);
            Ok((checked.params, info))
        }
    }
}

/// Checks the layout of `pk.bin` before halo2's reader sees it. That reader
/// unwraps every read, asserts that every field element is canonical, and
/// reserves each polynomial's length, a `u32` of the file, before reading it: a
/// short or forged file would panic or allocate up to 128 GiB. Layout (halo2-axiom
/// 0.5 `ProvingKey::write`, `RawBytes`): the verifying key (which must be the one
/// of `vk.bin`), three polynomials (`l0`, `l_last`, `l_active_row`), then four
/// vectors of polynomials (fixed values, fixed polynomials, and the permutation's
/// two); a polynomial is a big-endian `u32` length and that many 32-byte `Fr`s in
/// Montgomery form, a vector a big-endian `u32` count and that many polynomials.
fn check_pk_layout(pk: &[u8], vk: &[u8]) -> std::result::Result<(), String> {
    let mut rest = pk
        .strip_prefix(vk)
        .ok_or("its verifying key is not the one of vk.bin")?;
    let u32_be = |rest: &mut &[u8]| -> std::result::Result<usize, String> {
        let (n, tail) = rest.split_first_chunk::<4>().ok_or("truncated")?;
        *rest = tail;
        Ok(u32::from_be_bytes(*n) as usize)
    };
    let poly = |rest: &mut &[u8]| -> std::result::Result<(), String> {
        let n = u32_be(rest)?;
        let len = n
            .checked_mul(32)
            .filter(|&l| l <= rest.len())
            .ok_or(format!(
                "a polynomial of {n} coefficients, with {} bytes left",
                rest.len()
            ))?;
        let (values, tail) = rest.split_at(len);
        if !values
            .chunks_exact(32)
            .all(|c| Fr::from_raw_bytes(c).is_some())
        {
            return Err("a coefficient is not a canonical field element".into());
        }
        *rest = tail;
        Ok(())
    };
    for _ in 0..3 {
        poly(&mut rest)?;
    }
    for _ in 0..4 {
        let (n, tail) = rest.split_first_chunk::<4>().ok_or("truncated")?;
        rest = tail;
        for _ in 0..u32::from_be_bytes(*n) {
            poly(&mut rest)?;
        }
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the proving key", rest.len()));
    }
    Ok(())
}

/// Runs one of halo2's readers with a panic turned into an error, for bytes that
/// the checks above let through. (Under the fuzzer a panic still aborts: the
/// checks, not this, are what it tests.)
fn guarded<T>(what: &str, read: impl FnOnce() -> io::Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Keys(format!("{what}: {e}"))),
        Err(_) => Err(Error::Keys(format!(
            "{what}: malformed (halo2's reader failed on it)"
        ))),
    }
}

impl Keys {
    /// Makes the keys of `shape` over the SRS of `source`.
    pub fn generate(shape: Shape, source: &SrsSource) -> Result<Keys> {
        shape.validate()?;
        let k = shape.k();
        let (params, srs) = load_srs(source, k)?;
        let setup = match source {
            SrsSource::UnsafeTest => Setup::UnsafeTest,
            SrsSource::File(_) => {
                crate::ceremony::identify(&params.s_g2()).expect("load_srs checked it")
            }
        };
        let circuit = InclusionCircuit::keygen(shape);
        let vk = circuit.keygen_vk(&params)?;
        let pk = keygen_pk(&params, vk, &circuit)?;
        let meta = KeysMeta {
            format: KEYS_FORMAT.into(),
            warning: setup
                .is_unsafe_test()
                .then(|| UNSAFE_TEST_SRS_WARNING.to_string()),
            shape,
            k,
            srs,
            sha256: FileHashes::default(),
        };
        Ok(Keys {
            meta,
            params,
            setup,
            pk,
        })
    }

    /// Whether these keys sit on the unsafe test SRS.
    pub fn is_unsafe_test(&self) -> bool {
        self.setup.is_unsafe_test()
    }

    /// The files of the directory, as bytes: `(name, bytes)`, `keys.json` last.
    pub fn to_files(&mut self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let vk = verifier::vk_bytes(self.pk.get_vk());
        let mut pk_bytes = Vec::new();
        self.pk.write(&mut pk_bytes, SerdeFormat::RawBytes)?;
        let mut srs = Vec::new();
        self.params.write_custom(&mut srs, SerdeFormat::Processed)?;
        self.meta.sha256 = FileHashes {
            vk: sha256_hex(&vk),
            pk: sha256_hex(&pk_bytes),
            srs: sha256_hex(&srs),
        };
        let meta = serde_json::to_vec_pretty(&self.meta).expect("keys.json serializes");
        Ok(vec![
            ("vk.bin", vk),
            ("pk.bin", pk_bytes),
            ("srs.bin", srs),
            ("keys.json", meta),
        ])
    }

    /// Writes the directory; `keys.json` is written last, so a directory with a
    /// `keys.json` is complete.
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let _ = fs::remove_file(dir.join("keys.json"));
        for (name, bytes) in self.to_files()? {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp"));
            let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&bytes).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
            fs::rename(&tmp, &path).map_err(io_err(&path))?;
        }
        Ok(())
    }

    /// Loads a keys directory for proving from its files, given by a reader of
    /// each file name (a directory, an S3 prefix). Every file is checked against
    /// the SHA-256 that `keys.json` records before it is parsed, and `srs.bin` as
    /// a verifier checks an SRS (its setup is what it is, whatever `keys.json`
    /// says).
    pub fn load_with(mut read: impl FnMut(&str) -> Result<Vec<u8>>) -> Result<Keys> {
        let meta = read_meta(&read("keys.json")?)?;
        let mut checked = |name: &str, want: &str| -> Result<Vec<u8>> {
            let bytes = read(name)?;
            if sha256_hex(&bytes) != want {
                return Err(Error::Keys(format!(
                    "{name}: its SHA-256 is not the one keys.json records (corrupt or replaced)"
                )));
            }
            Ok(bytes)
        };
        let srs_bytes = checked("srs.bin", &meta.sha256.srs)?;
        let srs = srs::read(&srs_bytes, meta.k, true).map_err(|e| match e {
            Error::Srs(m) => Error::Keys(format!("srs.bin: {m}")),
            e => e,
        })?;
        if srs.params.k() != meta.k {
            return Err(Error::Keys(format!(
                "srs.bin: 2^{} points, keys.json says 2^{}",
                srs.params.k(),
                meta.k
            )));
        }
        if srs.setup.is_unsafe_test() != meta.srs.is_unsafe_test() {
            return Err(Error::Keys(format!(
                "keys.json says the SRS is {}, but srs.bin is {}",
                meta.srs.setup,
                srs.setup.name()
            )));
        }
        // vk.bin is read by halo2 only after its `k` (which sizes halo2's domain)
        // is checked; the verifying key inside pk.bin must be vk.bin's.
        let vk_bytes = checked("vk.bin", &meta.sha256.vk)?;
        read_vk(&vk_bytes, &meta)?;
        let pk_bytes = checked("pk.bin", &meta.sha256.pk)?;
        check_pk_layout(&pk_bytes, &vk_bytes).map_err(|e| Error::Keys(format!("pk.bin: {e}")))?;
        let pk = guarded("pk.bin", || {
            ProvingKey::<G1Affine>::read::<_, InclusionCircuit>(
                &mut &pk_bytes[..],
                SerdeFormat::RawBytes,
                (),
            )
        })?;
        Ok(Keys {
            meta,
            params: srs.params,
            setup: srs.setup,
            pk,
        })
    }

    /// Loads a keys directory for proving.
    pub fn load(dir: &Path) -> Result<Keys> {
        Keys::load_with(|name| {
            let path = dir.join(name);
            fs::read(&path).map_err(io_err(&path))
        })
    }
}

impl SrsInfo {
    /// Whether `keys.json` says the SRS is the unsafe test one.
    pub fn is_unsafe_test(&self) -> bool {
        self.kind == "unsafe-test-srs"
    }
}

/// `keys.json`, checked: its format, its shape and the `k` of that shape.
pub fn read_meta(bytes: &[u8]) -> Result<KeysMeta> {
    let meta: KeysMeta = summa_agg::json::from_slice_strict(bytes)
        .map_err(|e| Error::Keys(format!("keys.json: {e}")))?;
    if meta.format != KEYS_FORMAT {
        return Err(Error::Keys(format!(
            "keys.json: format {:?}, expected {KEYS_FORMAT:?} (keys of another version are \
             another circuit's: make them again with summa-agg zk-keys)",
            meta.format
        )));
    }
    meta.shape.validate()?;
    if meta.k != meta.shape.k() {
        return Err(Error::Keys(format!(
            "keys.json: k = {} but the circuit of shape {} has k = {}",
            meta.k,
            meta.shape.id(),
            meta.shape.k()
        )));
    }
    Ok(meta)
}

/// `vk.bin`: one verifying key of `keys.json`'s `k`, and nothing after it.
fn read_vk(vk_bytes: &[u8], meta: &KeysMeta) -> Result<VerifyingKey<G1Affine>> {
    // halo2's reader builds the evaluation domain of the `k` it reads (bytes 1..5,
    // after the version byte) before anything else: 2^k of anything is checked
    // against keys.json first.
    let vk_k = vk_bytes
        .get(1..5)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    if vk_k != Some(meta.k) {
        return Err(Error::Keys(format!(
            "vk.bin: not a verifying key of k = {} (keys.json)",
            meta.k
        )));
    }
    // halo2's reader stops at the key's end: bytes appended to vk.bin would
    // otherwise load unnoticed.
    let (vk, trailing) = guarded("vk.bin", || {
        let mut rest = vk_bytes;
        let vk = VerifyingKey::<G1Affine>::read::<_, InclusionCircuit>(
            &mut rest,
            SerdeFormat::RawBytes,
            (),
        )?;
        Ok((vk, rest.len()))
    })?;
    if trailing != 0 {
        return Err(Error::Keys(format!(
            "vk.bin: {trailing} bytes after the verifying key"
        )));
    }
    Ok(vk)
}

/// A keys directory as the custodian published it, for [`check_published`].
#[derive(Clone, Copy)]
pub struct PublishedKeys<'a> {
    /// `keys.json`.
    pub keys_json: &'a [u8],
    /// `vk.bin`.
    pub vk_bin: &'a [u8],
    /// `pk.bin`, when published (a verifier does not need it).
    pub pk_bin: Option<&'a [u8]>,
    /// `srs.bin`, when published.
    pub srs_bin: Option<&'a [u8]>,
}

/// What [`check_published`] established.
#[derive(Debug)]
pub struct CheckedKeys {
    /// The shape of the keys.
    pub shape: Shape,
    /// The setup of the SRS they were checked on.
    pub setup: Setup,
    /// The claims of `keys.json` about files that were not there to check.
    pub unchecked: Vec<&'static str>,
}

/// `summa-agg zk-keys --check`: whether published keys are this circuit's, on a
/// pinned ceremony's SRS (`srs`, any ceremony file or a keys directory's
/// `srs.bin`). The verifying key is derived from the circuit of `keys.json`'s
/// shape and compared with `vk.bin` byte for byte; then every claim of
/// `keys.json` is compared with what was checked: the setup's kind and name, its
/// `[τ]_2`, the test-SRS warning, and each file's SHA-256 (those of files not
/// given are listed as unchecked).
pub fn check_published(
    keys: &PublishedKeys,
    srs_bytes: &[u8],
    allow_unsafe_test: bool,
) -> Result<CheckedKeys> {
    let meta = read_meta(keys.keys_json)?;
    let opts = verifier::Options {
        unsafe_test_srs: allow_unsafe_test,
        ..verifier::Options::default()
    };
    let prepared = verifier::Prepared::new(srs_bytes, &meta.shape, &opts)?;
    prepared.check_vk_file(keys.vk_bin)?;
    let setup = prepared.setup();
    let claim = |what: &str, said: &str, is: &str| -> Result<()> {
        if said != is {
            return Err(Error::Keys(format!(
                "keys.json claims {what} {said:?}, but the keys were checked with {is:?}"
            )));
        }
        Ok(())
    };
    let truth = SrsInfo::of(setup, &crate::srs::s_g2_of(srs_bytes)?, None);
    claim("the SRS kind", &meta.srs.kind, &truth.kind)?;
    claim("the setup", &meta.srs.setup, &truth.setup)?;
    claim("[τ]_2 =", &meta.srs.s_g2, &truth.s_g2)?;
    let warning = setup
        .is_unsafe_test()
        .then(|| UNSAFE_TEST_SRS_WARNING.to_string());
    if meta.warning != warning {
        return Err(Error::Keys(format!(
            "keys.json's warning ({:?}) is not the one of the {} setup ({warning:?})",
            meta.warning,
            setup.name()
        )));
    }
    claim(
        "vk.bin's SHA-256",
        &meta.sha256.vk,
        &sha256_hex(keys.vk_bin),
    )?;
    let mut unchecked = Vec::new();
    for (name, said, file) in [
        ("pk.bin", &meta.sha256.pk, keys.pk_bin),
        ("srs.bin", &meta.sha256.srs, keys.srs_bin),
    ] {
        match file {
            Some(bytes) => claim(&format!("{name}'s SHA-256"), said, &sha256_hex(bytes))?,
            None => unchecked.push(name),
        }
    }
    Ok(CheckedKeys {
        shape: meta.shape,
        setup,
        unchecked,
    })
}
