//! `threads::configure(Some(1))`: a whole round on the calling thread, no thread
//! started (its own test binary: the setting is per process).

mod common;

use summa_agg::round::run_local;
use summa_agg::{threads, Params};

/// The process's threads, from /proc.
fn threads_now() -> usize {
    summa_agg::host::threads_of("self").expect("/proc/self/status")
}

#[test]
fn one_thread_starts_no_thread_and_builds_the_known_root() {
    let before = threads_now();
    assert_eq!(threads::configure(Some(1)).unwrap(), 1);
    let out = tempfile::tempdir().unwrap();
    let files: Vec<_> = (1..=4)
        .map(|i| common::fixture(&format!("entry_16_{i}.csv")))
        .collect();
    let (result, _) = run_local(&files, out.path(), &Params::default(), &|_| {}).unwrap();
    assert_eq!(
        result.root.hash,
        "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da"
    );
    assert_eq!(rayon::current_num_threads(), 1);
    // Every shard's build record says one thread, this backend and CPU.
    let build = result.build.expect("a round that built records it");
    assert_eq!(build.shards.len(), 4);
    for (i, s) in build.shards.iter().enumerate() {
        assert_eq!(s.shard, i as u64);
        assert_eq!(s.record.threads, 1);
        assert_eq!(s.record.backend, summa_agg::poseidon::backend());
        assert_eq!(s.record.cpu, summa_agg::host::cpu_model());
    }
    assert_eq!(build.backends, [summa_agg::poseidon::backend()]);
    // rayon's default pool would have started a worker per CPU.
    assert_eq!(threads_now(), before);
    // Set once: a second setting is refused.
    assert!(threads::configure(Some(2)).is_err());
    assert!(threads::configure(Some(0)).is_err());
}
