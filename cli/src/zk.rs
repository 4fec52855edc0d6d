//! The zero-knowledge commands: `zk-keys`, `proof --zk`, `verify --keys`, `bench-zk`.

use std::path::{Path, PathBuf};

use summa_agg::proof::Proof;
use summa_agg::{json, Error, Layout, Result};
use summa_agg_zk::keys::{Keys, SrsSource};
use summa_agg_zk::{Shape, Witness, ZkProof, UNSAFE_TEST_SRS_WARNING};

fn zk_err(e: summa_agg_zk::Error) -> Error {
    match e {
        summa_agg_zk::Error::Core(e) => e,
        e => Error::Invalid(e.to_string()),
    }
}

fn warn_unsafe(keys: &Keys) {
    if keys.is_unsafe_test() {
        eprintln!("summa-agg: WARNING: {UNSAFE_TEST_SRS_WARNING}");
    }
}

/// The shape of a completed round, from its `result.json`.
pub fn round_shape(dir: &Path) -> Result<Shape> {
    let r = crate::read_result(&dir.join(summa_agg::round::RESULT_FILE))?;
    Ok(Shape {
        layout: r.layout,
        depth: r.depth,
        currencies: r.currencies.len(),
        n_bytes: r.n_bytes,
    })
}

/// `zk-keys`: makes and writes the keys of a shape; prints `keys.json`.
pub fn keys(shape: Shape, srs: Option<PathBuf>, unsafe_test_srs: bool, out: &Path) -> Result<()> {
    let source = match (srs, unsafe_test_srs) {
        (Some(file), false) => SrsSource::File(file),
        (None, true) => SrsSource::UnsafeTest,
        _ => {
            return Err(Error::Invalid(
                "give exactly one of --srs FILE and --unsafe-test-srs".into(),
            ))
        }
    };
    shape.validate().map_err(zk_err)?;
    let start = std::time::Instant::now();
    let mut keys = Keys::generate(shape, &source).map_err(zk_err)?;
    keys.write(out).map_err(zk_err)?;
    warn_unsafe(&keys);
    eprintln!(
        "summa-agg: keys of shape {} (2^{} rows) in {} ({:.2} s); publish keys.json, vk.bin and srs-verifier.bin",
        shape.id(),
        keys.meta.k,
        out.display(),
        start.elapsed().as_secs_f64()
    );
    crate::print_json(&keys.meta, true)
}

/// `proof --zk KEYS`: the user's ZK proof from the custodian's Merkle proof.
pub fn prove(merkle: &Proof, keys_dir: &Path) -> Result<()> {
    let keys = Keys::load(keys_dir, true).map_err(zk_err)?;
    let start = std::time::Instant::now();
    let proof = summa_agg_zk::prove(&keys, merkle).map_err(zk_err)?;
    warn_unsafe(&keys);
    eprintln!(
        "summa-agg: zero-knowledge proof of {:?} in {:.2} s",
        merkle.entry.username,
        start.elapsed().as_secs_f64()
    );
    crate::print_json(&proof, true)
}

/// `verify --keys KEYS PROOF (--root R | --result RESULT)` for a ZK proof file. With
/// `--result`, the root, layout, n_bytes, depth and currency labels are the published
/// round's, never the proof file's.
pub fn verify(
    path: &Path,
    value: serde_json::Value,
    keys: Option<&Path>,
    root: Option<&str>,
    result: Option<&Path>,
) -> Result<()> {
    let keys_dir = keys.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: a zero-knowledge proof is verified with the custodian's published keys: give --keys KEYS",
            path.display()
        ))
    })?;
    let published = result.map(crate::read_result).transpose()?;
    let root = match (root, &published) {
        (Some(r), _) => json::parse_fr(r, "--root")?,
        (None, Some(p)) => json::parse_fr(&p.root.hash, "the result's root")?,
        (None, None) => {
            return Err(Error::Invalid(
                "give --root or --result: the root the custodian published".into(),
            ))
        }
    };
    let proof: ZkProof = serde_json::from_value(value).map_err(|e| Error::Format {
        path: path.display().to_string(),
        what: "zero-knowledge proof",
        problem: e.to_string(),
    })?;
    if let Some(p) = &published {
        let fail = |m: String| Error::Proof(m);
        if json::parse_fr(&p.root.hash, "the result's root")? != root {
            return Err(fail(
                "--root is not the root of the published result".into(),
            ));
        }
        let want = Shape {
            layout: p.layout,
            depth: p.depth,
            currencies: p.currencies.len(),
            n_bytes: p.n_bytes,
        };
        if proof.shape != want {
            return Err(fail(format!(
                "the proof has shape {}, the published round has shape {}",
                proof.shape.id(),
                want.id()
            )));
        }
        if proof.currencies != p.currencies {
            return Err(fail(
                "the proof's currency labels are not the published round's".into(),
            ));
        }
    }
    let keys = Keys::load(keys_dir, false).map_err(zk_err)?;
    let start = std::time::Instant::now();
    let ok = summa_agg_zk::verify(&keys, &proof, &root).map_err(zk_err)?;
    warn_unsafe(&keys);
    eprintln!(
        "summa-agg: zero-knowledge proof of {:?} verifies: leaf {} in root {} ({:.1} ms){}",
        proof.entry.username,
        summa_agg::field::to_hex(&ok.leaf_hash),
        summa_agg::field::to_hex(&ok.root_hash),
        start.elapsed().as_secs_f64() * 1e3,
        if ok.unsafe_test_srs {
            " -- UNSAFE TEST SRS: this proves nothing"
        } else {
            ""
        }
    );
    Ok(())
}

/// `bench-zk`: key generation, proving, verifying, proof size and rows of a shape,
/// on a synthetic path, with the unsafe test SRS, on the engine's threads
/// (`--threads`).
pub fn bench(shape: Shape, proofs: usize) -> Result<()> {
    shape.validate().map_err(zk_err)?;
    bench_in_pool(shape, proofs, rayon::current_num_threads())
}

fn bench_in_pool(shape: Shape, proofs: usize, threads: usize) -> Result<()> {
    use crate::measure;
    let (srs, srs_wall, _) =
        measure(|| summa_agg_zk::keys::load_srs(&SrsSource::UnsafeTest, shape.k()));
    drop(srs.map_err(zk_err)?);
    let (keys, keygen_wall, keygen_cpu) = measure(|| Keys::generate(shape, &SrsSource::UnsafeTest));
    let mut keys = keys.map_err(zk_err)?;
    let files = keys.to_files().map_err(zk_err)?;
    let size = |name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, b)| b.len())
    };
    let (mut prove_wall, mut prove_cpu, mut verify_wall, mut proof_len) = (0.0, 0.0, 0.0, 0);
    for i in 0..proofs {
        let witness = Witness::synthetic(&shape, i as u64 + 1);
        let (out, w, c) = measure(|| summa_agg_zk::proof::prove_raw(&keys, shape, witness));
        let (bytes, [leaf, root]) = out.map_err(zk_err)?;
        prove_wall += w;
        prove_cpu += c;
        proof_len = bytes.len();
        let (ok, w, _) = measure(|| summa_agg_zk::proof::verify_raw(&keys, &bytes, &leaf, &root));
        ok.map_err(zk_err)?;
        verify_wall += w;
    }
    let n = proofs.max(1) as f64;
    let report = serde_json::json!({
        "shape": shape.id(),
        "k": shape.k(),
        "threads": threads,
        "srs_setup_s": srs_wall,
        "keygen_s": keygen_wall,
        "keygen_cpu_s": keygen_cpu,
        "prove_s": prove_wall / n,
        "prove_cpu_s": prove_cpu / n,
        "verify_ms": verify_wall / n * 1e3,
        "proof_bytes": proof_len,
        "pk_bytes": size("pk.bin"),
        "vk_bytes": size("vk.bin"),
        "srs_bytes": size("srs.bin"),
        "srs_verifier_bytes": size("srs-verifier.bin"),
        "peak_rss_mib": crate::proc_status_bytes("VmHWM:") as f64 / (1 << 20) as f64,
        "proofs": proofs,
        "srs": "unsafe-test-srs (benchmark only)",
    });
    eprintln!(
        "summa-agg: {} (k = {}) on {threads} threads: keygen {:.2} s, prove {:.3} s wall / {:.3} s CPU, verify {:.2} ms, proof {} bytes, peak RSS {:.0} MiB",
        shape.id(),
        shape.k(),
        keygen_wall,
        prove_wall / n,
        prove_cpu / n,
        verify_wall / n * 1e3,
        proof_len,
        report["peak_rss_mib"].as_f64().unwrap_or(0.0)
    );
    crate::print_json(&report, false)
}

/// A layout argument's shape, for `zk-keys` and `bench-zk` without a round.
pub fn explicit_shape(layout: Layout, depth: u32, currencies: usize, n_bytes: u8) -> Shape {
    Shape {
        layout,
        depth,
        currencies,
        n_bytes,
    }
}
