//! The zero-knowledge commands: `zk-keys` (and `--check`), `proof` (ZK by default),
//! `verify` of a ZK proof, `bench-zk`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use summa_agg::proof::Proof;
use summa_agg::{json, Error, Layout, Result};
use summa_agg_zk::keys::{self, Keys, SrsSource};
use summa_agg_zk::verifier::{self, Options, Published, Report};
use summa_agg_zk::{Shape, Witness, ZkProof, UNSAFE_TEST_SRS_WARNING};

fn zk_err(e: summa_agg_zk::Error) -> Error {
    match e {
        summa_agg_zk::Error::Core(e) => e,
        summa_agg_zk::Error::Proof(m) => Error::Proof(m),
        e => Error::Invalid(e.to_string()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))
}

pub(crate) fn warn_unsafe(unsafe_test: bool) {
    if unsafe_test {
        tell!("summa-agg: WARNING: {UNSAFE_TEST_SRS_WARNING}");
    }
}

/// The shape of a completed round, from its `result.json`.
pub fn round_shape(dir: &Path) -> Result<Shape> {
    let r = crate::output::read_result(&dir.join(summa_agg::round::RESULT_FILE))?;
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
    let start = Instant::now();
    let mut keys = Keys::generate(shape, &source).map_err(zk_err)?;
    keys.write(out).map_err(zk_err)?;
    warn_unsafe(keys.is_unsafe_test());
    tell!(
        "summa-agg: keys of shape {} (2^{} rows, SRS: {}) in {} ({:.2} s); publish srs.bin (and vk.bin) beside result.json, keep pk.bin",
        shape.id(),
        keys.meta.k,
        keys.setup.name(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    crate::output::print_json(&keys.meta, true)
}

/// `zk-keys --check KEYS --srs FILE`: whether published keys are this circuit's on
/// a pinned ceremony's SRS (`FILE`, or `KEYS/srs.bin` when none is given), and
/// whether `keys.json` claims what was checked.
pub fn check_keys(dir: &Path, srs: Option<&Path>, unsafe_test_srs: bool) -> Result<()> {
    let srs_path = srs.map_or_else(|| dir.join("srs.bin"), Path::to_path_buf);
    let optional = |name: &str| -> Result<Option<Vec<u8>>> {
        let path = dir.join(name);
        if path.exists() {
            read(&path).map(Some)
        } else {
            Ok(None)
        }
    };
    let (pk, srs_bin) = (optional("pk.bin")?, optional("srs.bin")?);
    let checked = keys::check_published(
        &keys::PublishedKeys {
            keys_json: &read(&dir.join("keys.json"))?,
            vk_bin: &read(&dir.join("vk.bin"))?,
            pk_bin: pk.as_deref(),
            srs_bin: srs_bin.as_deref(),
        },
        &read(&srs_path)?,
        unsafe_test_srs,
    )
    .map_err(|e| Error::Invalid(format!("{}: {}", dir.display(), zk_err(e))))?;
    warn_unsafe(checked.setup.is_unsafe_test());
    say!(
        "keys in {} are this circuit's for shape {} on the SRS of {} ({}), and keys.json claims what was checked",
        dir.display(),
        checked.shape.id(),
        checked.setup.name(),
        srs_path.display()
    );
    for name in checked.unchecked {
        say!("  {name}: not published here, its SHA-256 in keys.json not checked");
    }
    Ok(())
}

/// `proof --keys KEYS`: the user's ZK proof from the custodian's Merkle proof.
pub fn prove(merkle: &Proof, keys_dir: &Path) -> Result<()> {
    let keys = Keys::load(keys_dir).map_err(zk_err)?;
    let start = Instant::now();
    let proof = summa_agg_zk::prove(&keys, merkle).map_err(zk_err)?;
    warn_unsafe(keys.is_unsafe_test());
    tell!(
        "summa-agg: zero-knowledge proof of {} in {:.2} s",
        summa_agg::text::quoted(&merkle.entry.username),
        start.elapsed().as_secs_f64()
    );
    crate::output::print_json(&proof, true)
}

/// `verify` of a ZK proof file: the verifying key derived from the circuit and a
/// pinned ceremony's SRS, the root and totals from what the custodian published
/// (`--result`, or `--root` with `--totals`), never from the proof file.
pub fn verify(path: &Path, bytes: &[u8], a: &crate::args::VerifyArgs) -> Result<()> {
    let proof = verifier::parse_proof(bytes)
        .map_err(|e| Error::Invalid(format!("{}: {}", path.display(), zk_err(e))))?;
    #[cfg(feature = "chain")]
    if let Some(rpc) = a.rpc.as_deref() {
        return verify_on_chain(&proof, a, rpc);
    }
    let published = published_from_args(&proof, a)?;
    if published.totals.len() != published.shape.currencies {
        return Err(Error::Invalid(format!(
            "{} totals given for {} currencies",
            published.totals.len(),
            published.shape.currencies
        )));
    }
    let srs_path = srs_path(a);
    let srs = srs_bytes(srs_path.as_deref())?;
    let clock_start = Instant::now();
    let clock = move || clock_start.elapsed().as_secs_f64() * 1e3;
    let opts = options(a, &clock);
    // With --keys, the custodian's vk.bin must be the key derived for the published
    // shape (one SRS check and one key derivation serve both).
    let report = match &a.keys {
        Some(dir) => verifier::verify_with_vk_file(
            &proof,
            &published,
            &srs,
            &read(&dir.join("vk.bin"))?,
            &opts,
        ),
        None => verifier::verify(&proof, &published, &srs, &opts),
    }
    .map_err(|e| with_file(e, srs_path.as_deref()))?;
    warn_unsafe(report.unsafe_test_srs);
    print_report(&report, a.result.is_none());
    Ok(())
}

/// What the proof is checked against without a chain: `--result`, or `--root` with
/// `--totals`.
fn published_from_args(proof: &ZkProof, a: &crate::args::VerifyArgs) -> Result<Published> {
    let published = match (a.result.as_deref(), a.root.as_deref(), a.totals.as_deref()) {
        (Some(result), _, _) => {
            let p = Published::from_result_json(&read(result)?).map_err(|e| {
                Error::Invalid(format!("{}: {}", result.display(), zk_err(e)))
            })?;
            if let Some(root) = a.root.as_deref() {
                if json::parse_fr(root, "--root")? != p.root {
                    return Err(Error::Proof(format!(
                        "--root is not the root of {}",
                        result.display()
                    )));
                }
            }
            p
        }
        // Each total below 2^(8 n_bytes) of the proof's shape, as a result.json's.
        (None, Some(root), Some(totals)) => Published {
            // The proof file's shape, checked before its n_bytes bounds the totals.
            shape: {
                proof.shape.validate().map_err(zk_err)?;
                proof.shape
            },
            root: json::parse_fr(root, "--root")?,
            totals: verifier::parse_amounts(totals, proof.shape.n_bytes, "--totals")
                .map_err(zk_err)?,
            currencies: proof.currencies.clone(),
        },
        (None, Some(_), None) => {
            return Err(Error::Invalid(
                "a zero-knowledge proof is bound to the round's totals too: give --result result.json, or --root with --totals T1,T2,..".into(),
            ))
        }
        (None, None, _) => {
            return Err(Error::Invalid(
                "give --result (the custodian's published result.json), or --root with --totals".into(),
            ))
        }
    };
    Ok(published)
}

/// The verifier's options from `verify`'s arguments.
fn options<'a>(a: &'a crate::args::VerifyArgs, clock: &'a dyn Fn() -> f64) -> Options<'a> {
    Options {
        expected_user: a.user.as_deref(),
        expected_balances: a.balances.as_deref(),
        unsafe_test_srs: a.unsafe_test_srs,
        clock: Some(clock),
    }
}

/// The SRS file: --srs, or the srs.bin of --keys; none: the key pinned for the
/// shape ([`summa_agg_zk::pinned`]).
fn srs_path(a: &crate::args::VerifyArgs) -> Option<PathBuf> {
    match (a.srs.as_deref(), a.keys.as_deref()) {
        (Some(file), _) => Some(file.to_path_buf()),
        (None, Some(dir)) => Some(dir.join("srs.bin")),
        (None, None) => None,
    }
}

/// The SRS file's bytes; none (empty) when no file is given.
fn srs_bytes(path: Option<&Path>) -> Result<Vec<u8>> {
    path.map_or_else(|| Ok(Vec::new()), read)
}

/// `verify --rpc URL --registry ADDR --round-id N`: the root, totals, shape,
/// labels and verifying key's digest from the registry's record of round N; a
/// `--result` must be the recorded one; with `--evm`, the registry's
/// `verifyInclusion` is asked too, and both verdicts are printed.
#[cfg(feature = "chain")]
fn verify_on_chain(proof: &ZkProof, a: &crate::args::VerifyArgs, rpc: &str) -> Result<()> {
    let registry = a.registry.as_deref().expect("clap requires --registry");
    let id = a.round_id.expect("clap requires --round-id");
    let srs_path = srs_path(a);
    let srs = srs_bytes(srs_path.as_deref())?;
    let vk_file = a
        .keys
        .as_ref()
        .map(|d| read(&d.join("vk.bin")))
        .transpose()?;
    let on = super::chain::read_round(rpc, registry, id)?;
    let record = &on.record;
    if let Some(result) = a.result.as_deref() {
        record
            .check_result(&read(result)?, &result.display().to_string())
            .map_err(zk_err)?;
    }
    // A proof of another shape is refused by `leaf_and_bytes` (before the EVM is
    // asked) and by `verify_record`.
    let published = record
        .published(&proof.currencies, "the proof file")
        .map_err(zk_err)?;
    let clock_start = Instant::now();
    let clock = move || clock_start.elapsed().as_secs_f64() * 1e3;
    let opts = options(a, &clock);
    let (leaf, bytes) = verifier::leaf_and_bytes(proof, &published, &opts).map_err(zk_err)?;
    let evm = if a.evm {
        let mut public = vec![leaf, record.root];
        public.extend(record.totals.iter().map(summa_agg::field::u256_to_fr));
        Some(super::chain::evm_verdict(
            rpc, &on, registry, id, &bytes, &public,
        )?)
    } else {
        None
    };
    let here = (|| {
        let (prepared, report) =
            summa_agg_zk::record::verify_record(proof, record, id, &srs, &opts)?;
        if let Some(vk) = &vk_file {
            prepared.check_vk_file(vk)?;
        }
        Ok(report)
    })()
    .map_err(|e| with_file(e, srs_path.as_deref()));
    let evm_line = |(accepted, gas): (bool, Option<u64>)| {
        format!(
            "the EVM verifier ({registry}.verifyInclusion, verifier {}, whose code is the custodian's choice) {}{}",
            on.verifier,
            if accepted { "accepts it" } else { "REFUSES it" },
            gas.map(|g| format!(" (the verifier's gas: eth_estimateGas {g})")).unwrap_or_default()
        )
    };
    match (here, evm) {
        (Ok(report), None | Some((true, _))) => {
            warn_unsafe(report.unsafe_test_srs);
            print_report(&report, false);
            say!(
                "  round     {id} of registry {registry} (custodian {}), commitment {}, block {} of {rpc}",
                on.custodian, on.hash, on.block
            );
            if on.latest == id {
                say!("            the latest of its {} rounds", on.rounds);
            } else {
                say!(
                    "            NOT the latest round: the registry holds {} rounds, the latest is round {}",
                    on.rounds, on.latest
                );
            }
            if let Some(v) = evm {
                say!("  EVM       {}", evm_line(v));
            }
            Ok(())
        }
        (Ok(_), Some(v)) => Err(Error::Proof(format!(
            "the proof verifies here, but {}: the round's on-chain verifier does not match this circuit",
            evm_line(v)
        ))),
        (Err(e), Some((accepted, _))) => Err(Error::Invalid(format!(
            "{e}; the on-chain verifier was asked too and returned {accepted}, which does not change this verdict"
        ))),
        (Err(e), None) => Err(e),
    }
}

fn with_file(e: summa_agg_zk::Error, srs: Option<&Path>) -> Error {
    match (e, srs) {
        (summa_agg_zk::Error::Srs(m), Some(srs)) => {
            Error::Invalid(format!("{}: SRS: {m}", srs.display()))
        }
        (summa_agg_zk::Error::Srs(m), None) => Error::Invalid(m),
        (e, _) => zk_err(e),
    }
}

/// Labels and names come from files the custodian writes: [`say!`] escapes them
/// (control characters, escape sequences, invisible formatting) before the terminal.
fn amounts(a: &[verifier::Amount]) -> String {
    a.iter()
        .map(|a| format!("{} ({}) {}", a.currency, a.chain, a.amount))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(r: &Report, labels_from_proof: bool) {
    if r.unsafe_test_srs {
        say!("VERIFIED ONLY AGAINST THE UNSAFE TEST SRS: this proves nothing (anyone can forge such proofs)");
    } else {
        say!(
            "VERIFIED: {} is included with these balances in the published round",
            summa_agg::text::quoted(&r.username)
        );
    }
    say!("  user      {}", r.username);
    say!("  balances  {}", amounts(&r.balances));
    say!("  root      {}", r.root);
    say!("  totals    {}", amounts(&r.totals));
    if labels_from_proof {
        say!("            (currency labels from the proof file: compare them with the published round)");
    }
    say!("  shape     {}", r.shape);
    if r.pinned_key {
        say!(
            "  SRS       {} (the verifying key pinned in this program for the shape)",
            r.setup
        );
    } else {
        say!("  SRS       {}", r.setup);
    }
    if let Some(t) = &r.timings_ms {
        if r.pinned_key {
            tell!(
                "summa-agg: pinned verifying key read in {:.1} ms, proof verified in {:.1} ms (no SRS file)",
                t.vk, t.proof
            );
        } else {
            tell!(
                "summa-agg: SRS checked in {:.0} ms, verifying key derived in {:.0} ms, proof verified in {:.1} ms",
                t.srs, t.vk, t.proof
            );
        }
    }
}

/// `bench-zk`: key generation, proving, verifying, proof size and rows of a shape,
/// on a synthetic path, with the unsafe test SRS, on the engine's threads
/// (`--threads`).
pub fn bench(shape: Shape, proofs: usize) -> Result<()> {
    shape.validate().map_err(zk_err)?;
    let threads = rayon::current_num_threads();
    use super::bench::measure;
    let (srs, srs_wall, _) = measure(|| keys::load_srs(&SrsSource::UnsafeTest, shape.k()));
    let (params, _) = srs.map_err(zk_err)?;
    let (vk, derive_wall, _) = measure(|| verifier::derive_vk(&params, &shape));
    drop(vk.map_err(zk_err)?);
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
        let (bytes, public) = out.map_err(zk_err)?;
        prove_wall += w;
        prove_cpu += c;
        proof_len = bytes.len();
        let (ok, w, _) = measure(|| {
            verifier::check_proof_bytes(&keys.params, keys.pk.get_vk(), &bytes, &public)
        });
        ok.map_err(zk_err)?;
        verify_wall += w;
    }
    let n = proofs.max(1) as f64;
    let report = serde_json::json!({
        "shape": shape.id(),
        "k": shape.k(),
        "threads": threads,
        "srs_setup_s": srs_wall,
        "derive_vk_s": derive_wall,
        "keygen_s": keygen_wall,
        "keygen_cpu_s": keygen_cpu,
        "prove_s": prove_wall / n,
        "prove_cpu_s": prove_cpu / n,
        "verify_ms": verify_wall / n * 1e3,
        "proof_bytes": proof_len,
        "public_inputs": 2 + shape.currencies,
        "pk_bytes": size("pk.bin"),
        "vk_bytes": size("vk.bin"),
        "srs_bytes": size("srs.bin"),
        "peak_rss_mib": super::bench::proc_status_bytes("VmHWM:") as f64 / (1 << 20) as f64,
        "proofs": proofs,
        "srs": "unsafe-test-srs (benchmark only)",
    });
    tell!(
        "summa-agg: {} (k = {}) on {threads} threads: keygen {:.2} s, verifying key derived in {:.2} s, prove {:.3} s wall / {:.3} s CPU, verify {:.2} ms, proof {} bytes, peak RSS {:.0} MiB",
        shape.id(),
        shape.k(),
        keygen_wall,
        derive_wall,
        prove_wall / n,
        prove_cpu / n,
        verify_wall / n * 1e3,
        proof_len,
        report["peak_rss_mib"].as_f64().unwrap_or(0.0)
    );
    crate::output::print_json(&report, false)
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

/// `zk-keys`: the keys of a round's shape or of an explicit one, or `--check`.
pub fn keys_command(a: crate::args::ZkKeysArgs) -> Result<()> {
    if let Some(dir) = &a.check {
        return check_keys(dir, a.srs.as_deref(), a.unsafe_test_srs);
    }
    let shape = match &a.round {
        Some(dir) => round_shape(dir)?,
        None => a.shape.shape(a.params.params()),
    };
    keys(
        shape,
        a.srs,
        a.unsafe_test_srs,
        &a.out.expect("clap requires --out without --check"),
    )
}

/// `bench-zk`.
pub fn bench_command(a: crate::args::BenchZkArgs) -> Result<()> {
    bench(
        explicit_shape(a.layout, a.depth, a.currencies, a.n_bytes),
        a.proofs,
    )
}
