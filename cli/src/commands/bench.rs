//! The benchmarks: `summa-agg bench` (the engine against summa-solvency's
//! algorithm on generated users) and `summa-agg bench-incremental` (a full round
//! against one re-using the previous round's mini-trees), with the process's CPU
//! time and memory from getrusage and /proc.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use summa_agg::layout::DEFAULT_N_BYTES;
use summa_agg::round;
use summa_agg::{Error, Layout, Params, Result};

use crate::args::{BenchArgs, BenchIncrementalArgs, SelfTestArgs};
use crate::output::print_json;

/// `bench`.
pub fn engine(a: BenchArgs) -> Result<()> {
    bench(
        a.users,
        a.currencies,
        a.layout,
        !a.no_reference,
        !a.no_single_thread,
    )
}

/// `self-test`: this build's field arithmetic and Poseidon against halo2curves
/// and the generic primitive; one JSON line, exit 1 on any failure.
pub fn self_test(a: SelfTestArgs) -> Result<()> {
    let r = summa_agg::poseidon::self_test(a.cases);
    let report = serde_json::json!({"field_ops": r.field_ops,
        "checks": r.checks, "failures": r.failures});
    crate::output::say_json(&report.to_string());
    if r.failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "self-test: {} failures",
            r.failures.len()
        )))
    }
}

/// `bench-incremental`.
pub fn incremental(a: BenchIncrementalArgs) -> Result<()> {
    bench_incremental(a.shards, a.users, a.changed)
}

fn bench_incremental(shards: usize, users: u64, changed: usize) -> Result<()> {
    use std::io::Write;
    if shards == 0 || users == 0 || changed > shards {
        return Err(Error::Invalid(
            "--shards and --users must be at least 1 and --changed at most --shards".into(),
        ));
    }
    let dir = std::env::temp_dir().join(format!("summa-agg-bench-inc-{}", std::process::id()));
    let io = |e| Error::io(dir.display().to_string(), e);
    let write = |sub: &str, seed_of: &dyn Fn(usize) -> u64| -> Result<Vec<PathBuf>> {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(io)?;
        (0..shards)
            .map(|i| {
                let p = d.join(format!("shard-{i:04}.csv"));
                let mut w = std::io::BufWriter::new(File::create(&p).map_err(io)?);
                summa_agg::synthetic::write_csv(&mut w, users, 2, seed_of(i)).map_err(io)?;
                w.flush().map_err(io)?;
                Ok(p)
            })
            .collect()
    };
    let params = Params::default();
    let before = write("in1", &|i| i as u64 + 1)?;
    let after = write("in2", &|i| {
        if i < changed {
            1_000_000 + i as u64
        } else {
            i as u64 + 1
        }
    })?;
    let run = |files: &[PathBuf], out: &str, prev: Option<&Path>| {
        measure(|| round::run_local_with(files, &dir.join(out), &params, prev, &|_| {}))
    };
    let (first, _, _) = run(&before, "round1", None);
    first?;
    let (full, full_wall, full_cpu) = run(&after, "full", None);
    let (full, _, _) = full?;
    let (inc, inc_wall, inc_cpu) = run(&after, "incremental", Some(&dir.join("round1")));
    let (inc, inc_t, reuse) = inc?;
    let _ = std::fs::remove_dir_all(&dir);
    if inc.root != full.root {
        return Err(Error::Invalid(
            "the incremental root differs from the full one".into(),
        ));
    }
    let share = changed as f64 / shards as f64;
    let report = serde_json::json!({
        "shards": shards,
        "users_per_shard": users,
        "changed": changed,
        "reused": reuse.reused.len(),
        "full_wall_s": full_wall,
        "full_cpu_s": full_cpu,
        "incremental_wall_s": inc_wall,
        "incremental_cpu_s": inc_cpu,
        "incremental_cpu_vs_changed_share_of_full": inc_cpu / (full_cpu * share),
        "roots_equal": true,
        "incremental_plan_s": inc_t.plan.as_secs_f64(),
        "incremental_mini_trees_s": inc_t.mini_trees.as_secs_f64(),
        "incremental_aggregation_s": inc_t.aggregation.as_secs_f64(),
    });
    tell!(
        "bench-incremental: {shards} shards x {users} users, {changed} changed: full {full_wall:.3} s wall / {full_cpu:.3} s CPU; incremental {inc_wall:.3} s wall / {inc_cpu:.3} s CPU ({} re-used) = {:.2}x the changed shards' share of the full round's CPU; roots equal",
        reuse.reused.len(),
        inc_cpu / (full_cpu * share)
    );
    print_json(&report, false)
}

/// CPU time of the whole process (all threads), user + system.
fn cpu_time() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// A `/proc/self/status` field in bytes (VmRSS, VmHWM); 0 where there is none.
pub fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// Runs `f`, returning its value, wall time and process CPU time.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (w, c) = (std::time::Instant::now(), cpu_time());
    let v = f();
    (v, w.elapsed().as_secs_f64(), cpu_time() - c)
}

fn bench(
    users: u64,
    n_currencies: usize,
    layout: Layout,
    reference: bool,
    single: bool,
) -> Result<()> {
    use std::io::Write;
    if users == 0 || n_currencies == 0 {
        return Err(Error::Invalid(
            "--users and --currencies must be at least 1".into(),
        ));
    }
    let params = Params {
        layout,
        n_bytes: DEFAULT_N_BYTES,
    };
    let path = std::env::temp_dir().join(format!("summa-agg-bench-{}.csv", std::process::id()));
    let io = |e| Error::io(path.display().to_string(), e);
    {
        let mut w = std::io::BufWriter::new(File::create(&path).map_err(io)?);
        summa_agg::synthetic::write_csv(&mut w, users, n_currencies, 42).map_err(io)?;
        w.flush().map_err(io)?;
    }
    let threads = rayon::current_num_threads();
    let name = path.display().to_string();
    let build = || -> Result<summa_agg::tree::Node> {
        let f = File::open(&path).map_err(io)?;
        Ok(
            round::build_mini_tree(BufReader::with_capacity(1 << 16, f), &name, &params, None)?
                .root(),
        )
    };
    say!(
        "bench: {users} users, {n_currencies} currencies, layout {layout}, Poseidon backend {}, {threads} threads",
        summa_agg::poseidon::backend()
    );
    let baseline = proc_status_bytes("VmRSS:");
    let (root, wall, cpu) = measure(build);
    let root = root?;
    let peak = proc_status_bytes("VmHWM:");
    let per_user = |t: f64| t / users as f64 * 1e6;
    say!(
        "  engine, {threads} threads:   wall {wall:8.3} s, cpu {cpu:8.3} s ({:.2} us cpu/user)",
        per_user(cpu)
    );
    let mut report = serde_json::json!({
        "users": users, "currencies": n_currencies, "layout": layout, "threads": threads,
        "backend": summa_agg::poseidon::backend(),
        "root": summa_agg::field::to_hex(&root.hash),
        "engine": {"wall_s": wall, "cpu_s": cpu},
        "peak_rss_bytes": peak, "baseline_rss_bytes": baseline,
        "bytes_per_user": (peak.saturating_sub(baseline)) as f64 / users as f64,
    });
    if single {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let (r1, wall1, cpu1) = measure(|| pool.install(build));
        if r1?.hash != root.hash {
            return Err(Error::Invalid("the single-thread root differs".into()));
        }
        say!(
            "  engine, 1 thread:    wall {wall1:8.3} s, cpu {cpu1:8.3} s; {threads} threads are {:.2}x faster",
            wall1 / wall
        );
        report["engine_1_thread"] =
            serde_json::json!({"wall_s": wall1, "cpu_s": cpu1, "speedup": wall1 / wall});
    }
    if reference {
        let (entries, _, _) = measure(|| -> Result<_> {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            summa_agg::reference::entries_from_csv(&text).ok_or_else(|| {
                Error::Invalid(format!("{}: not a CSV of decimal balances", path.display()))
            })
        });
        let entries = entries?;
        let ((ref_root, _), rwall, rcpu) = measure(|| summa_agg::reference::root(layout, &entries));
        if ref_root.hash != root.hash {
            return Err(Error::Invalid(format!(
                "roots differ: engine {}, reference {}",
                summa_agg::field::to_hex(&root.hash),
                summa_agg::field::to_hex(&ref_root.hash)
            )));
        }
        say!(
            "  reference, 1 thread: wall {rwall:8.3} s, cpu {rcpu:8.3} s ({:.2} us cpu/user); roots equal",
            per_user(rcpu)
        );
        say!("  cpu ratio reference / engine: {:.1}x", rcpu / cpu);
        report["reference"] =
            serde_json::json!({"wall_s": rwall, "cpu_s": rcpu, "cpu_ratio": rcpu / cpu});
    }
    say!(
        "  peak RSS {:.1} MiB (baseline {:.1} MiB): {:.0} bytes/user",
        peak as f64 / 1048576.0,
        baseline as f64 / 1048576.0,
        peak.saturating_sub(baseline) as f64 / users as f64
    );
    say!("  root {}", summa_agg::field::to_hex(&root.hash));
    let _ = std::fs::remove_file(&path);
    print_json(&report, false)
}
