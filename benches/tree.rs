//! A whole 2^16-user mini-tree (2 currencies, v1): CSV parsing, leaves, levels.
//! `cargo bench -p summa-agg --bench tree`. The engine is compared with
//! summa-solvency's algorithm by `summa-agg bench` (the reference takes ~50 s
//! for this size, too long for criterion's repetitions).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use summa_agg::round::build_mini_tree;
use summa_agg::Params;

fn tree(c: &mut Criterion) {
    let users = 1u64 << 16;
    let mut csv = Vec::new();
    summa_agg::synthetic::write_csv(&mut csv, users, 2, 42).unwrap();
    let params = Params::default();
    let mut g = c.benchmark_group("tree");
    g.sample_size(10);
    g.throughput(Throughput::Elements(users));
    g.bench_function(
        format!("mini-tree 2^16 users ({})", summa_agg::poseidon::backend()),
        |b| {
            b.iter(|| {
                build_mini_tree(&csv[..], "bench.csv", &params, None)
                    .unwrap()
                    .root()
            })
        },
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    g.bench_function("mini-tree 2^16 users, 1 thread", |b| {
        b.iter(|| {
            one.install(|| {
                build_mini_tree(&csv[..], "bench.csv", &params, None)
                    .unwrap()
                    .root()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, tree);
criterion_main!(benches);
