//! Keys directories that are corrupt or forged: errors, never a panic or an
//! allocation that the files' length cannot justify. The cases were found by the
//! fuzzer (fuzz/, target `zk_keys`).

use sha2::{Digest, Sha256};
use summa_agg::Layout;
use summa_agg_zk::keys::{Keys, SrsSource};
use summa_agg_zk::Shape;

const SHAPE: Shape = Shape {
    layout: Layout::V1,
    depth: 1,
    currencies: 1,
    n_bytes: 14,
};

/// The files of a keys directory of `SHAPE`.
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut keys = Keys::generate(SHAPE, &SrsSource::UnsafeTest).unwrap();
    keys.to_files().unwrap()
}

/// Loads `files` with `name` replaced by `bytes`, and `keys.json` recording the
/// replaced file's SHA-256 (whoever publishes the keys writes both).
fn load_with_file(
    files: &[(&'static str, Vec<u8>)],
    name: &str,
    bytes: &[u8],
) -> summa_agg_zk::Result<Keys> {
    let mut files = files.to_vec();
    files.iter_mut().find(|(n, _)| *n == name).unwrap().1 = bytes.to_vec();
    let field = match name {
        "vk.bin" => "vk",
        "pk.bin" => "pk",
        "srs.bin" => "srs",
        _ => unreachable!(),
    };
    let meta = &mut files.iter_mut().find(|(n, _)| *n == "keys.json").unwrap().1;
    let mut json: serde_json::Value = serde_json::from_slice(meta).unwrap();
    json["sha256"][field] = hex::encode(Sha256::digest(bytes)).into();
    *meta = serde_json::to_vec(&json).unwrap();
    Keys::load_with(|n| Ok(files.iter().find(|(f, _)| *f == n).unwrap().1.clone()))
}

fn file<'a>(files: &'a [(&'static str, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn the_files_as_written_load() {
    let files = files();
    let pk = file(&files, "pk.bin").to_vec();
    assert!(load_with_file(&files, "pk.bin", &pk).is_ok());
}

/// A G2 point (`[1]_2`, `[τ]_2`) whose coordinate is not below the base field's
/// modulus: halo2curves' `Fq2::from_bytes` unwraps each coordinate, so reading it
/// panicked (also in release builds) instead of failing.
#[test]
fn fuzz_a_non_canonical_g2_coordinate_is_an_error_not_a_panic() {
    let files = files();
    let good = file(&files, "srs.bin").to_vec();
    // The file ends with [1]_2 and [τ]_2, compressed (64 bytes each): x.c0, x.c1.
    let tail = good.len() - 128;
    for at in [tail, tail + 32, tail + 64, tail + 96] {
        let mut bad = good.clone();
        bad[at..at + 31].fill(0xff);
        bad[at + 31] = 0x3f; // the top bits are flags
        let err = refused(&files, "srs.bin", &bad);
        assert!(
            err.contains("srs.bin") && err.contains("not a point"),
            "{err}"
        );
    }
}

/// `srs.bin` claiming 2^64 or more points: halo2's reader computed `1 << k` (an
/// overflow) and allocated the points before reading them.
#[test]
fn fuzz_an_srs_with_an_absurd_k_is_an_error_not_a_panic() {
    let files = files();
    let good = file(&files, "srs.bin").to_vec();
    for k in [64u32, 40, 200, u32::MAX, 0] {
        let mut bad = good.clone();
        bad[..4].copy_from_slice(&k.to_le_bytes());
        let err = refused(&files, "srs.bin", &bad);
        assert!(err.contains("srs.bin: "), "{err}");
    }
}

/// Runs `load_with_file`, failing the test on a panic; the error's text.
fn refused(files: &[(&'static str, Vec<u8>)], name: &str, bytes: &[u8]) -> String {
    std::panic::catch_unwind(|| load_with_file(files, name, bytes).map(|_| ()))
        .unwrap_or_else(|_| panic!("{name} panicked"))
        .unwrap_err()
        .to_string()
}

/// `vk.bin` with another `k`: halo2's reader builds a domain of 2^k before
/// reading anything else.
#[test]
fn a_verifying_key_of_another_k_is_refused_before_halo2_reads_it() {
    let files = files();
    let good = file(&files, "vk.bin").to_vec();
    for k in [0u32, 40, u32::MAX] {
        let mut bad = good.clone();
        bad[1..5].copy_from_slice(&k.to_le_bytes());
        let err = refused(&files, "vk.bin", &bad);
        assert!(err.contains("vk.bin: not a verifying key of k = "), "{err}");
    }
    let err = refused(&files, "vk.bin", &good[..3]);
    assert!(err.contains("vk.bin"), "{err}");
}

/// `vk.bin` with bytes after the verifying key (found by the fuzzer, target
/// zk_keys): halo2's reader stops at the key's end, so the file loaded.
#[test]
fn fuzz_a_verifying_key_with_trailing_bytes_is_refused() {
    let files = files();
    let good = file(&files, "vk.bin").to_vec();
    for extra in [&[0u8][..], &[1, 2, 3], &good[..64]] {
        let mut bad = good.clone();
        bad.extend_from_slice(extra);
        let err = refused(&files, "vk.bin", &bad);
        assert!(
            err.contains(&format!(
                "vk.bin: {} bytes after the verifying key",
                extra.len()
            )),
            "{err}"
        );
    }
    assert!(load_with_file(&files, "vk.bin", &good).is_ok());
}

/// `pk.bin` that is cut short, claims a polynomial longer than the file, holds a
/// coefficient ≥ p, has trailing bytes, or carries another verifying key:
/// halo2's reader would panic (it unwraps its reads and asserts on coefficients)
/// or reserve up to 128 GiB for the claimed length.
#[test]
fn a_forged_proving_key_is_an_error_not_a_panic_or_a_huge_allocation() {
    let files = files();
    let good = file(&files, "pk.bin").to_vec();
    let vk = file(&files, "vk.bin").to_vec();
    let first_poly = vk.len();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() - 1].to_vec(), "pk.bin: "),
        (
            "cut at a length",
            good[..first_poly + 2].to_vec(),
            "truncated",
        ),
        (
            "a length of 2^32 - 1",
            {
                let mut b = good.clone();
                b[first_poly..first_poly + 4].copy_from_slice(&u32::MAX.to_be_bytes());
                b
            },
            "a polynomial of 4294967295 coefficients",
        ),
        (
            "a coefficient ≥ p",
            {
                let mut b = good.clone();
                b[first_poly + 4..first_poly + 36].fill(0xff);
                b
            },
            "not a canonical field element",
        ),
        (
            "trailing bytes",
            {
                let mut b = good.clone();
                b.push(0);
                b
            },
            "1 bytes after the proving key",
        ),
        (
            "another verifying key",
            {
                let mut b = good.clone();
                b[vk.len() - 1] ^= 1;
                b
            },
            "its verifying key is not the one of vk.bin",
        ),
    ];
    for (what, bad, want) in cases {
        let err = refused(&files, "pk.bin", &bad);
        assert!(err.contains(want), "{what}: {err}");
    }
}
