//! The structured reference string (SRS) and the keys of one circuit shape.
//!
//! A keys directory (`summa-agg zk-keys --out KEYS`) holds:
//!
//! | file | who needs it | what |
//! | --- | --- | --- |
//! | `keys.json` | everyone | shape, `k`, where the SRS came from, SHA-256 of each file |
//! | `vk.bin` | verifiers | the verifying key (halo2 `RawBytes`) |
//! | `srs-verifier.bin` | verifiers | the SRS part a KZG verifier uses: `k`, `[1]_1`, `[1]_2`, `[τ]_2` (164 bytes) |
//! | `pk.bin` | the prover | the proving key (halo2 `RawBytes`) |
//! | `srs.bin` | the prover | the SRS cut to `2^k` points (halo2-axiom `Processed`: compressed points) |
//!
//! The verifier files are small and are published beside the round's `result.json`;
//! the prover files stay with the custodian. Keys depend only on the [`Shape`] and
//! the SRS: they are made once per shape and re-used by every round of that shape.
//!
//! SRS: production reads a file in halo2's `ParamsKZG` format (`--srs FILE`), e.g. a
//! file of the perpetual powers-of-tau ceremony converted to that format, with at
//! least `2^k` points (it is cut to `2^k`). Tests and examples use
//! [`SrsSource::UnsafeTest`]: a setup from a fixed, public seed, so anyone can forge
//! proofs against it; everything made with it says so ([`UNSAFE_TEST_SRS_WARNING`]).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_proofs::plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::{SerdeCurveAffine, SerdeFormat};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::circuit::InclusionCircuit;
use crate::shape::Shape;
use crate::{Error, Result};

/// Said by every output made with the unsafe test SRS.
pub const UNSAFE_TEST_SRS_WARNING: &str = "UNSAFE TEST SRS: made from a public seed, so anyone can forge proofs against these keys. For tests and examples only; never publish proofs made with it.";

/// The version of the keys directory's format.
pub const KEYS_FORMAT: &str = "summa-agg-zk-keys/1";

/// The largest `k` an SRS file may claim (2^28 points, far above any shape's need).
const MAX_SRS_K: u32 = 28;

/// The seed of the unsafe test SRS (public: that is what makes it unsafe).
const UNSAFE_TEST_SEED: [u8; 32] = *b"summa-agg UNSAFE TEST SRS seed!!";

/// Where the SRS comes from.
#[derive(Clone, Debug)]
pub enum SrsSource {
    /// A file in halo2's `ParamsKZG` format (`RawBytes`), from a public ceremony.
    File(PathBuf),
    /// A deterministic setup from a public seed: for tests and examples only.
    UnsafeTest,
}

/// Where a keys directory's SRS came from, as `keys.json` records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrsInfo {
    /// `"file"` or `"unsafe-test-srs"`.
    pub kind: String,
    /// The SRS file's name, for `"file"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `[τ]_2` of the SRS, compressed, hex: compare it with the ceremony's.
    pub s_g2: String,
}

impl SrsInfo {
    /// Whether the SRS is the unsafe test one.
    pub fn is_unsafe_test(&self) -> bool {
        self.kind == "unsafe-test-srs"
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHashes {
    /// `vk.bin`.
    pub vk: String,
    /// `srs-verifier.bin`.
    pub srs_verifier: String,
    /// `pk.bin`.
    pub pk: String,
    /// `srs.bin`.
    pub srs: String,
}

/// The keys of one shape.
pub struct Keys {
    /// `keys.json`.
    pub meta: KeysMeta,
    /// The verifier's SRS (`k`, `[1]_1`, `[1]_2`, `[τ]_2`).
    pub verifier_params: ParamsKZG<Bn256>,
    /// The verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// The prover's SRS and proving key, when loaded for proving.
    pub prover: Option<(ParamsKZG<Bn256>, ProvingKey<G1Affine>)>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |e| Error::Keys(format!("{}: {e}", path.display()))
}

/// The SRS with `2^k` points.
pub fn load_srs(source: &SrsSource, k: u32) -> Result<(ParamsKZG<Bn256>, SrsInfo)> {
    let (params, file) = match source {
        SrsSource::UnsafeTest => (
            ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(UNSAFE_TEST_SEED)),
            None,
        ),
        SrsSource::File(path) => {
            let bytes = fs::read(path).map_err(io_err(path))?;
            let file_k = bytes
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                .ok_or_else(|| Error::Keys(format!("{}: not an SRS file", path.display())))?;
            if file_k > MAX_SRS_K {
                return Err(Error::Keys(format!(
                    "{}: an SRS of 2^{file_k} points is not plausible",
                    path.display()
                )));
            }
            if file_k < k {
                return Err(Error::Keys(format!(
                    "{}: the SRS has 2^{file_k} points, the circuit needs 2^{k}",
                    path.display()
                )));
            }
            let expected = 4 + 2 * (1usize << file_k) * 64 + 2 * 128;
            if bytes.len() != expected {
                return Err(Error::Keys(format!(
                    "{}: {} bytes, but an SRS of 2^{file_k} points in halo2's format has {expected}",
                    path.display(),
                    bytes.len()
                )));
            }
            let mut params = ParamsKZG::<Bn256>::read(&mut &bytes[..]).map_err(io_err(path))?;
            if file_k > k {
                params.downsize(k);
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            (params, name)
        }
    };
    let info = SrsInfo {
        kind: match source {
            SrsSource::UnsafeTest => "unsafe-test-srs".into(),
            SrsSource::File(_) => "file".into(),
        },
        file,
        s_g2: hex::encode(point_bytes(&params.s_g2())),
    };
    Ok((params, info))
}

fn point_bytes<P: SerdeCurveAffine>(p: &P) -> Vec<u8> {
    let mut out = Vec::new();
    p.write(&mut out, SerdeFormat::Processed)
        .expect("writing to memory");
    out
}

/// Whether a compressed G2 point (halo2curves' encoding: `x = c0 + c1·u`, each
/// 32 bytes little-endian, the two flag bits on top of the last byte) has both
/// halves of `x` below q. halo2curves-axiom 0.7's `G2Affine::from_bytes` unwraps
/// them and panics otherwise (found by the fuzzer, target `zk_keys`), so every
/// G2 point is checked here before it reaches it.
fn g2_x_canonical(bytes: &[u8]) -> bool {
    let Ok(mut x) = <[u8; 64]>::try_from(bytes) else {
        return false;
    };
    x[63] &= 0b0011_1111;
    x.chunks_exact(32).all(|c| {
        let c: &[u8; 32] = c.try_into().expect("32 bytes");
        bool::from(Fq::from_bytes(c).is_some())
    })
}

/// Checks `k` and the length of `srs.bin` (halo2-axiom `Processed`: `k`, then
/// `2^k` compressed G1 points twice, then two compressed G2 points) before
/// halo2's reader sees it: that reader allocates `2^k` points from the header
/// (`1 << k` overflows past 31) and panics on a non-canonical G2 point.
fn check_prover_srs(srs: &[u8], k: u32) -> std::result::Result<(), String> {
    let file_k = srs
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or("not an SRS file")?;
    if file_k != k {
        return Err(format!("k = {file_k}, keys.json says {k}"));
    }
    let expected = 4 + 2 * (1usize << k) * 32 + 2 * 64;
    if srs.len() != expected {
        return Err(format!(
            "{} bytes, but an SRS of 2^{k} points has {expected}",
            srs.len()
        ));
    }
    let g2s = &srs[expected - 128..];
    if !g2_x_canonical(&g2s[..64]) || !g2_x_canonical(&g2s[64..]) {
        return Err("a G2 point's x is not a canonical field element".into());
    }
    Ok(())
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

/// The verifier's part of the SRS: `k`, `[1]_1`, `[1]_2`, `[τ]_2`.
fn write_verifier_params(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut out = params.k().to_le_bytes().to_vec();
    out.extend(point_bytes(&params.get_g()[0]));
    out.extend(point_bytes(&params.g2()));
    out.extend(point_bytes(&params.s_g2()));
    out
}

fn read_verifier_params(mut bytes: &[u8]) -> io::Result<ParamsKZG<Bn256>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if bytes.len() != 4 + 32 + 64 + 64 {
        return Err(bad("the verifier SRS has 164 bytes"));
    }
    if !g2_x_canonical(&bytes[36..100]) || !g2_x_canonical(&bytes[100..164]) {
        return Err(bad("a G2 point's x is not a canonical field element"));
    }
    let mut k = [0u8; 4];
    bytes.read_exact(&mut k)?;
    let k = u32::from_le_bytes(k);
    if !(1..=MAX_SRS_K).contains(&k) {
        return Err(bad("implausible k"));
    }
    let g = G1Affine::read(&mut bytes, SerdeFormat::Processed)?;
    let g2 = G2Affine::read(&mut bytes, SerdeFormat::Processed)?;
    let s_g2 = G2Affine::read(&mut bytes, SerdeFormat::Processed)?;
    // `from_parts` builds a new value; it only borrows an instance for its type.
    let template = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::from_seed([0; 32]));
    Ok(template.from_parts(k, vec![g], Some(vec![]), g2, s_g2))
}

impl Keys {
    /// Makes the keys of `shape` over the SRS of `source`.
    pub fn generate(shape: Shape, source: &SrsSource) -> Result<Keys> {
        shape.validate()?;
        let k = shape.k();
        let (params, srs) = load_srs(source, k)?;
        let circuit = InclusionCircuit::keygen(shape);
        let vk = keygen_vk(&params, &circuit)?;
        let pk = keygen_pk(&params, vk.clone(), &circuit)?;
        let verifier_params = read_verifier_params(&write_verifier_params(&params))?;
        let meta = KeysMeta {
            format: KEYS_FORMAT.into(),
            warning: srs
                .is_unsafe_test()
                .then(|| UNSAFE_TEST_SRS_WARNING.to_string()),
            shape,
            k,
            srs,
            sha256: FileHashes {
                vk: String::new(),
                srs_verifier: String::new(),
                pk: String::new(),
                srs: String::new(),
            },
        };
        Ok(Keys {
            meta,
            verifier_params,
            vk,
            prover: Some((params, pk)),
        })
    }

    /// Whether these keys sit on the unsafe test SRS.
    pub fn is_unsafe_test(&self) -> bool {
        self.meta.srs.is_unsafe_test()
    }

    /// The files of the directory, as bytes: `(name, bytes)`, `keys.json` last.
    pub fn to_files(&mut self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let (params, pk) = self
            .prover
            .as_ref()
            .ok_or_else(|| Error::Keys("only keys loaded for proving can be written".into()))?;
        let mut vk = Vec::new();
        self.vk.write(&mut vk, SerdeFormat::RawBytes)?;
        let mut pk_bytes = Vec::new();
        pk.write(&mut pk_bytes, SerdeFormat::RawBytes)?;
        let mut srs = Vec::new();
        params.write_custom(&mut srs, SerdeFormat::Processed)?;
        let srs_verifier = write_verifier_params(params);
        self.meta.sha256 = FileHashes {
            vk: sha256_hex(&vk),
            srs_verifier: sha256_hex(&srs_verifier),
            pk: sha256_hex(&pk_bytes),
            srs: sha256_hex(&srs),
        };
        let meta = serde_json::to_vec_pretty(&self.meta).expect("keys.json serializes");
        Ok(vec![
            ("vk.bin", vk),
            ("srs-verifier.bin", srs_verifier),
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

    /// Loads a keys directory from its files, given by a reader of each file name
    /// (a directory, an S3 prefix). With `for_proving`, the prover's files too.
    /// Every file is checked against the SHA-256 that `keys.json` records before it
    /// is parsed.
    pub fn load_with(
        mut read: impl FnMut(&str) -> Result<Vec<u8>>,
        for_proving: bool,
    ) -> Result<Keys> {
        let meta_bytes = read("keys.json")?;
        let meta: KeysMeta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| Error::Keys(format!("keys.json: {e}")))?;
        if meta.format != KEYS_FORMAT {
            return Err(Error::Keys(format!(
                "keys.json: format {:?}, expected {KEYS_FORMAT:?}",
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
        let mut checked = |name: &str, want: &str| -> Result<Vec<u8>> {
            let bytes = read(name)?;
            if sha256_hex(&bytes) != want {
                return Err(Error::Keys(format!(
                    "{name}: its SHA-256 is not the one keys.json records (corrupt or replaced)"
                )));
            }
            Ok(bytes)
        };
        let vk_bytes = checked("vk.bin", &meta.sha256.vk)?;
        let srs_verifier = checked("srs-verifier.bin", &meta.sha256.srs_verifier)?;
        let verifier_params = read_verifier_params(&srs_verifier)
            .map_err(|e| Error::Keys(format!("srs-verifier.bin: {e}")))?;
        if verifier_params.k() != meta.k {
            return Err(Error::Keys(format!(
                "srs-verifier.bin: k = {}, keys.json says {}",
                verifier_params.k(),
                meta.k
            )));
        }
        // halo2's reader builds the evaluation domain of the `k` it reads (byte 1..5,
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
        // One verifying key and nothing after it: halo2's reader stops at the
        // key's end, so bytes appended to vk.bin would otherwise load unnoticed.
        let (vk, trailing) = guarded("vk.bin", || {
            let mut rest = &vk_bytes[..];
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
        let prover = if for_proving {
            let srs = checked("srs.bin", &meta.sha256.srs)?;
            check_prover_srs(&srs, meta.k).map_err(|e| Error::Keys(format!("srs.bin: {e}")))?;
            let params = guarded("srs.bin", || {
                ParamsKZG::<Bn256>::read_custom(&mut &srs[..], SerdeFormat::Processed)
            })?;
            let pk_bytes = checked("pk.bin", &meta.sha256.pk)?;
            check_pk_layout(&pk_bytes, &vk_bytes)
                .map_err(|e| Error::Keys(format!("pk.bin: {e}")))?;
            let pk = guarded("pk.bin", || {
                ProvingKey::<G1Affine>::read::<_, InclusionCircuit>(
                    &mut &pk_bytes[..],
                    SerdeFormat::RawBytes,
                    (),
                )
            })?;
            Some((params, pk))
        } else {
            None
        };
        Ok(Keys {
            meta,
            verifier_params,
            vk,
            prover,
        })
    }

    /// Loads a keys directory.
    pub fn load(dir: &Path, for_proving: bool) -> Result<Keys> {
        Keys::load_with(
            |name| {
                let path = dir.join(name);
                fs::read(&path).map_err(io_err(&path))
            },
            for_proving,
        )
    }
}
