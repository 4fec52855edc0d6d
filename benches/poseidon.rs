//! Poseidon micro-benchmarks: one field multiplication (halo2curves' and the
//! engine's, which on aarch64 is src/poseidon/aarch64.rs), one permutation (the
//! generic `halo2_poseidon` reference, the plain and the optimised scalar code, the
//! AVX-512 IFMA kernel) and a batch of 1024 leaf hashes through each backend.
//!
//! `cargo bench --bench poseidon -- --warm-up-time 1 --measurement-time 3`.
//! Throughputs are per element: "elem/s" is multiplications, permutations or hashes
//! per second, so the time per one is `1 / throughput`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ff::Field;
use summa_agg::poseidon;
use summa_agg::reference;
use summa_agg::Fr;

fn elements(n: usize) -> Vec<Fr> {
    // Deterministic, full-width field elements.
    let mut x = Fr::from(0x5eed_u64);
    (0..n)
        .map(|i| {
            x = x.square() + Fr::from(i as u64 + 1);
            x
        })
        .collect()
}

fn field_mul(c: &mut Criterion) {
    const CHAIN: usize = 1000;
    const LANES: usize = 8;
    let mut g = c.benchmark_group("field_mul");
    let e = elements(LANES + 1);
    g.throughput(Throughput::Elements(CHAIN as u64));
    g.bench_function("dependent", |bch| {
        bch.iter(|| {
            let (mut x, y) = (black_box(e[0]), black_box(e[1]));
            for _ in 0..CHAIN {
                x *= y;
            }
            x
        })
    });
    // The engine's own multiplication: on aarch64 the assembly of
    // src/poseidon/aarch64.rs, elsewhere halo2curves' (the same as "dependent").
    g.bench_function(
        format!("engine_{}_dependent", poseidon::field_ops()),
        |bch| {
            bch.iter(|| {
                let (mut x, y) = (black_box(e[0]), black_box(e[1]));
                for _ in 0..CHAIN {
                    x = poseidon::field_mul(x, y);
                }
                x
            })
        },
    );
    g.throughput(Throughput::Elements((CHAIN * LANES) as u64));
    g.bench_function("independent_x8", |bch| {
        bch.iter(|| {
            let mut x: [Fr; LANES] = black_box(e[..LANES].try_into().unwrap());
            let y = black_box(e[LANES]);
            for _ in 0..CHAIN {
                for v in &mut x {
                    *v *= y;
                }
            }
            x
        })
    });
    g.finish();
}

fn permutation(c: &mut Criterion) {
    let mut g = c.benchmark_group("permutation");
    let e = elements(64);
    g.throughput(Throughput::Elements(1));
    // `ConstantLength<1>`: one permutation (plus the sponge set-up the reference
    // pays on every hash).
    g.bench_function("reference_halo2_poseidon", |bch| {
        bch.iter(|| reference::poseidon::<1>([black_box(e[0])]))
    });
    g.bench_function("scalar_plain", |bch| {
        let mut s = [e[0], e[1]];
        bch.iter(|| {
            poseidon::permute_plain(black_box(&mut s));
        })
    });
    g.bench_function("scalar_optimized", |bch| {
        let mut s = [e[0], e[1]];
        bch.iter(|| {
            poseidon::permute(black_box(&mut s));
        })
    });
    let backend = poseidon::backend();
    for n in [8usize, 16, 64] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("batch_{n}_{backend}"), |bch| {
            let mut s: Vec<[Fr; 2]> = (0..n).map(|i| [e[i % 64], e[(i + 1) % 64]]).collect();
            bch.iter(|| poseidon::permute_batch(black_box(&mut s)))
        });
    }
    g.finish();
}

fn leaf_batch(c: &mut Criterion) {
    const N: usize = 1024;
    const LEN: usize = 3;
    let mut g = c.benchmark_group("hash_batch_len3_x1024");
    g.throughput(Throughput::Elements(N as u64));
    let msgs = elements(N * LEN);
    let backend = poseidon::backend();
    // On the portable path the two are one (criterion rejects a repeated ID).
    if backend != "scalar" {
        g.bench_function(format!("hash_batch_{backend}"), |bch| {
            bch.iter_batched_ref(
                || vec![Fr::ZERO; N],
                |out| poseidon::hash_batch(black_box(&msgs), LEN, out),
                BatchSize::SmallInput,
            )
        });
    }
    g.bench_function("hash_batch_scalar", |bch| {
        bch.iter_batched_ref(
            || vec![Fr::ZERO; N],
            |out| poseidon::hash_batch_scalar(black_box(&msgs), LEN, out),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Throughput of the instruction the kernel is bound by: `vpmadd52luq` on 512-bit
/// registers, 16 independent accumulators (8 lanes each). The kernel's bound is its
/// count of multiply-adds per permutation (see `src/poseidon/ifma.rs`) times this.
#[cfg(target_arch = "x86_64")]
fn ifma_madd(c: &mut Criterion) {
    use std::arch::x86_64::*;
    const ITERS: usize = 1000;
    const ACC: usize = 16;

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn run(b: __m512i, c: __m512i) -> [__m512i; ACC] {
        let mut a = [_mm512_setzero_si512(); ACC];
        for _ in 0..ITERS {
            for x in &mut a {
                *x = _mm512_madd52lo_epu64(*x, b, c);
            }
            // An optimisation barrier that costs nothing (unlike `black_box(a)`,
            // which would spill the 16 registers every iteration).
            // SAFETY: an empty asm block.
            unsafe { std::arch::asm!("", options(nomem, nostack, preserves_flags)) };
        }
        a
    }

    if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512ifma")) {
        return;
    }
    let mut g = c.benchmark_group("ifma_madd");
    g.throughput(Throughput::Elements((ITERS * ACC) as u64));
    g.bench_function("vpmadd52luq_zmm_independent", |bch| {
        // SAFETY: the CPU has AVX-512 F and IFMA (checked above).
        bch.iter(|| unsafe {
            run(
                black_box(_mm512_set1_epi64(3)),
                black_box(_mm512_set1_epi64(5)),
            )
        })
    });
    g.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn ifma_madd(_: &mut Criterion) {}

criterion_group!(benches, field_mul, permutation, leaf_batch, ifma_madd);
criterion_main!(benches);
