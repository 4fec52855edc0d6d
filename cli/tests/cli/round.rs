//! `summa-agg round` (and `split`, `export-json`): results, bad input reported by file and line, arguments, incremental rounds, threads, build records.

use super::*;

#[test]
fn round_on_the_shipped_example() {
    let out = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shards");
    let o = run_round(&dir, out.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = last_json_line(&o);
    assert_eq!(r["root"]["hash"], V1_ROOT_64);
    assert_eq!(
        r["root"]["balances"],
        serde_json::json!(["2227448", "2227448"])
    );
    assert_eq!(
        (r["depth"].as_u64(), r["mini_tree_depth"].as_u64()),
        (Some(6), Some(4))
    );
    assert_eq!(
        (r["mini_trees"].as_u64(), r["entries"].as_u64()),
        (Some(4), Some(64))
    );
    assert_eq!(r["layout"], "v1");
    assert_eq!(r["n_bytes"], 14);
    assert_eq!(
        r["currencies"][1],
        serde_json::json!({"name": "USDT", "chain": "ETH"})
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("result.json")).unwrap()).unwrap();
    assert_eq!(written, r);
    for i in 0..4 {
        assert!(out.path().join(format!("mini-trees/{i:06}.mst")).is_file());
    }
    assert!(out.path().join("aggregation.mst").is_file());
    assert!(
        stderr(&o).contains("mini-trees"),
        "a summary with timings on stderr"
    );
}

/// Runs `split` of the fixture `csv` into shards of `size` users in `out`.
fn split(csv: &str, size: &str, out: &Path) -> Output {
    let csv = fixture(csv);
    let (csv, out) = (csv.to_str().unwrap(), out.to_str().unwrap());
    summa(&["split", csv, "--shard-size", size, "--out", out])
}

#[test]
fn split_then_round_equals_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    let o = split("entry_64.csv", "16", &shards);
    assert!(o.status.success(), "{}", stderr(&o));
    let names: Vec<_> = std::fs::read_dir(&shards)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 4);
    assert_eq!(
        std::fs::read(shards.join("shard-000001.csv")).unwrap(),
        std::fs::read(fixture("entry_16_2.csv")).unwrap()
    );
    let out = dir.path().join("out");
    let o = run_round(&shards, &out, &[]);
    assert_eq!(last_json_line(&o)["root"]["hash"], V1_ROOT_64);
    // Uneven shards: 7 shards of up to 10 users.
    let o = split("entry_64.csv", "10", &dir.path().join("s10"));
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_dir(dir.path().join("s10")).unwrap().count(),
        7
    );
}

#[test]
fn export_json_has_the_mini_tree_generator_shape() {
    let out = tempfile::tempdir().unwrap();
    let o = run_round(
        &fixture("entry_16.csv"),
        out.path(),
        &["--layout", "legacy"],
    );
    assert!(o.status.success());
    let o = summa(&[
        "export-json",
        "--round",
        out.path().to_str().unwrap(),
        "--mini-tree",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The legacy root of entry_16 (summa-aggregation's README response shape).
    assert_eq!(
        j["root"]["hash"],
        "0x02e021d9bf99c5bd7267488b6a7a5cf5f7d00222a41b6a9b971899c44089e0c5"
    );
    assert_eq!(j["root"]["balances"][0], format!("0x{:064x}", 556862));
    assert_eq!(j["depth"], 4);
    assert_eq!(j["is_sorted"], false);
    assert_eq!(j["entries"].as_array().unwrap().len(), 16);
    assert_eq!(j["entries"][0]["username"], "dxGaEAii");
    let nodes = j["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    assert_eq!(nodes[0].as_array().unwrap().len(), 16);
    assert_eq!(nodes[4][0], j["root"]);
}

/// Runs a round over the given shard files (name, bytes) and expects it to fail
/// with every `expected` fragment in the error, leaving no result.json.
fn expect_failure(shards: &[(&str, &[u8])], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for (name, bytes) in shards {
        std::fs::write(input.join(name), bytes).unwrap();
    }
    let out = dir.path().join("out");
    // A previous good round's result must not survive a failed one.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("result.json"), "{}").unwrap();
    let o = run_round(&input, &out, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{shards:?}: {err}");
    assert!(o.stdout.is_empty());
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in {err:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.join("result.json").exists(),
        "no result.json after a failed round"
    );
}

const H: &str = "username,balance_ETH_ETH,balance_USDT_ETH\n";

#[test]
fn bad_input_is_reported_with_file_line_and_problem() {
    let row = |r: &str| format!("{H}alice,1,2\n{r}\n");
    expect_failure(&[("a.csv", b"")], &["a.csv: empty file"]);
    expect_failure(&[("a.csv", H.as_bytes())], &["a.csv: no users"]);
    expect_failure(
        &[("a.csv", row("bob,12x,3").as_bytes())],
        &[
            "a.csv:3:",
            "balance_ETH_ETH",
            "\"bob\"",
            "not a non-negative decimal",
        ],
    );
    expect_failure(
        &[("a.csv", row("bob,-5,3").as_bytes())],
        &["a.csv:3:", "negative balance"],
    );
    expect_failure(
        &[("a.csv", row("bob,1").as_bytes())],
        &["a.csv:3:", "expected 3 cells", "found 2"],
    );
    expect_failure(
        &[("a.csv", row("bob,1,2,3").as_bytes())],
        &["a.csv:3:", "found 4"],
    );
    expect_failure(
        &[("a.csv", row(",1,2").as_bytes())],
        &["a.csv:3: empty username"],
    );
    expect_failure(
        &[("a.csv", row("alice,3,4").as_bytes())],
        &["a.csv:3: duplicate username \"alice\" (first at line 2)"],
    );
    // A user in two shards: the second shard's line, and the first's
    // (as the serverless round's index step refuses it, naming both shards).
    let b = format!("{H}carol,5,6\nbob,1,1\ndave,7,8\n");
    expect_failure(
        &[
            ("a.csv", row("bob,3,4").as_bytes()),
            ("b.csv", b.as_bytes()),
        ],
        &[
            "b.csv:3: username \"bob\" is also in ",
            "a.csv (line 3): each user must be in one shard only",
        ],
    );
    expect_failure(
        &[("a.csv", b"name,balance_ETH_ETH\nbob,1\n")],
        &["a.csv:1: invalid header"],
    );
    expect_failure(
        &[("a.csv", b"username,balance_ETH\nbob,1\n")],
        &["a.csv:1: invalid header", "balance_<NAME>_<CHAIN>"],
    );
    expect_failure(
        &[
            ("a.csv", row("bob,1,2").as_bytes()),
            (
                "b.csv",
                b"username,balance_BTC_BTC,balance_USDT_ETH\nx,1,2\n",
            ),
        ],
        &["b.csv:1: header differs from", "a.csv"],
    );
    expect_failure(
        &[("a.csv", row(&format!("bob,{},1", 1u128 << 112)).as_bytes())],
        &[
            "a.csv:3:",
            "balance_ETH_ETH",
            "\"bob\"",
            "out of range for n_bytes = 14",
        ],
    );
    expect_failure(
        &[("a.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\xff\xfe")],
        &["a.csv:1:", "not valid UTF-8"],
    );
    let mut latin1 = H.as_bytes().to_vec();
    latin1.extend_from_slice(b"b\xf6b,1,2\n");
    expect_failure(
        &[("a.csv", &latin1)],
        &["a.csv:2: the username is not valid UTF-8"],
    );
    expect_failure(&[("notes.txt", b"hello")], &["no CSV shard"]);
    // Totals out of range: each balance fits, their sum does not.
    let half = 1u128 << 111;
    expect_failure(
        &[("a.csv", format!("{H}a,{half},0\nb,{half},0\n").as_bytes())],
        &["a.csv", "total of ETH_ETH", "out of range for n_bytes = 14"],
    );
    // ...across shards: each shard fits, the aggregation does not.
    expect_failure(
        &[
            ("a.csv", format!("{H}a,{half},0\n").as_bytes()),
            ("b.csv", format!("{H}b,{half},0\n").as_bytes()),
        ],
        &["aggregation tree", "total of ETH_ETH"],
    );
}

#[test]
fn crlf_bom_and_spaces_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    let messy = dir.path().join("messy.csv");
    std::fs::write(&plain, format!("{H}alice,1,2\nbob,30,4\n")).unwrap();
    std::fs::write(
        &messy,
        "\u{feff}username,balance_ETH_ETH,balance_USDT_ETH\r\nalice, 1 ,2\r\nbob,30,  4\r\n",
    )
    .unwrap();
    let a = run_round(&plain, &dir.path().join("a"), &[]);
    let b = run_round(&messy, &dir.path().join("b"), &[]);
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(last_json_line(&a)["root"], last_json_line(&b)["root"]);
}

#[test]
fn bad_arguments_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_round(&fixture("entry_16.csv"), dir.path(), &["--n-bytes", "0"]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "n_bytes must be between 1 and 31");
    let o = run_round(&fixture("entry_16.csv"), dir.path(), &["--layout", "v9"]);
    assert!(!o.status.success());
    let o = run_round(Path::new("/nonexistent/dir"), dir.path(), &[]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "/nonexistent/dir");
}

#[test]
fn agg2023_refuses_usernames_at_or_above_p_and_v1_accepts_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let long = "z".repeat(32);
    std::fs::write(&csv, format!("username,balance_ETH_ETH\nann,5\n{long},7\n")).unwrap();
    for layout in ["agg2023", "legacy"] {
        let out = dir.path().join(format!("out-{layout}"));
        let o = run_round(&csv, &out, &["--layout", layout]);
        assert_eq!(o.status.code(), Some(1), "{layout}");
        let e = stderr(&o);
        assert!(
            e.contains(&format!("{}:3: username \"{long}\"", csv.display()))
                && e.contains("modulus p"),
            "{e}"
        );
        assert!(!out.join("result.json").exists());
    }
    let out = dir.path().join("out-v1");
    let o = run_round(&csv, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = merkle_proof(&out, &long);
    assert!(o.status.success(), "{}", stderr(&o));
    // verify refuses the name in agg2023 even when the proof is otherwise whole.
    let mut p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    p["layout"] = serde_json::json!("agg2023");
    let f = dir.path().join("p.json");
    std::fs::write(&f, p.to_string()).unwrap();
    let o = summa(&[
        "verify",
        f.to_str().unwrap(),
        "--root",
        p["root"]["hash"].as_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "modulus p");
}

#[test]
fn local_round_lists_its_inputs() {
    let (out, _) = round_and_proof("entry_64.csv", "MBlfbBGI");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("result.json")).unwrap()).unwrap();
    let inputs = r["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1);
    let bytes = std::fs::read(fixture("entry_64.csv")).unwrap();
    let i = &inputs[0];
    assert_eq!(i["key"], fixture("entry_64.csv").display().to_string());
    assert_eq!(i["size"], bytes.len() as u64);
    assert_eq!(i["sha256"], hex_sha256(&bytes));
    assert_eq!(i["mini_tree"], "mini-trees/000000.mst");
    let mt = std::fs::read(out.path().join("mini-trees/000000.mst")).unwrap();
    assert_eq!(i["mini_tree_sha256"], hex_sha256(&mt));
    assert_eq!(i["etag"], format!("\"{}\"", &hex_sha256(&bytes)[..32]));
}

#[test]
fn round_with_previous_reuses_unchanged_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = tmp.path().join("shards");
    four_shards_in(&shards);
    let dir = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    let s = shards.to_str().unwrap();
    let o = summa(&["round", s, "--out", &dir("r1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One shard changes: a user's balance.
    let p = shards.join("entry_16_3.csv");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let cells: Vec<&str> = lines[2].split(',').collect();
    lines[2] = format!("{},{},1", cells[0], cells[1]);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    let o = summa(&["round", s, "--out", &dir("r2"), "--previous", &dir("r1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inc = last_json_line(&o);
    assert_eq!(inc["reused_mini_trees"], 3);
    assert_eq!(inc["previous"], dir("r1"));
    let err = stderr(&o);
    assert!(
        err.contains("3 mini-trees re-used from the previous round, 1 rebuilt"),
        "{err}"
    );
    assert!(
        err.contains("rebuilt 2 (") && err.contains("entry_16_3.csv"),
        "{err}"
    );
    let o = summa(&["round", s, "--out", &dir("full")]);
    let full = last_json_line(&o);
    assert_eq!(inc["root"], full["root"]);
    assert_ne!(inc["root"]["hash"], V1_ROOT_64);
    // Another layout: nothing re-used, and said.
    let o = summa(&[
        "round",
        s,
        "--out",
        &dir("r3"),
        "--previous",
        &dir("r1"),
        "--layout",
        "legacy",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(last_json_line(&o)["reused_mini_trees"], 0);
    assert_stderr_has(&o, "previous round not trusted");
}

#[test]
fn threads_one_runs_the_round_and_zero_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shards");
    let o = summa(&[
        "--threads",
        "1",
        "round",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(last_json_line(&o)["root"]["hash"], V1_ROOT_64);
    let o = run_round(&dir, out.path(), &["--threads", "0"]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "--threads must be at least 1");
}

/// `result.json`'s `build`: one record per shard built, with the process's
/// Poseidon backend, CPU, architecture and threads (`--threads 2`), and the
/// summary of them; `SUMMA_AGG_NO_SIMD=1` shows as the scalar backend.
#[test]
fn result_records_what_built_each_shard() {
    let files: Vec<String> = (1..=4)
        .map(|i| fixture(&format!("entry_16_{i}.csv")).display().to_string())
        .collect();
    for no_simd in [false, true] {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_summa-agg"));
        cmd.args(["--threads", "2", "round"])
            .args(&files)
            .args(["--out", out.path().to_str().unwrap()]);
        if no_simd {
            cmd.env("SUMMA_AGG_NO_SIMD", "1");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("result.json")).unwrap())
                .unwrap();
        assert_eq!(r["root"]["hash"], V1_ROOT_64);
        let backend = if no_simd {
            "scalar"
        } else {
            summa_agg::poseidon::backend()
        };
        let cpu = summa_agg::host::cpu_model();
        let b = &r["build"];
        assert_eq!(b["backends"], serde_json::json!([backend]), "{b}");
        assert_eq!(b["cpus"], serde_json::json!([cpu]), "{b}");
        let shards = b["shards"].as_array().unwrap();
        assert_eq!(shards.len(), 4, "{b}");
        let mut total = 0;
        for (i, s) in shards.iter().enumerate() {
            assert_eq!(s["shard"], i as u64, "{s}");
            assert_eq!(s["backend"], backend, "{s}");
            assert_eq!(s["cpu"], cpu, "{s}");
            assert_eq!(s["arch"], std::env::consts::ARCH, "{s}");
            assert_eq!(s["threads"], 2, "{s}");
            total += s["build_ms"].as_u64().unwrap();
        }
        assert_eq!(b["total_build_ms"], total);
        // The published result is the same on stdout.
        assert_eq!(
            last_json_line(&o)["build"]["shards"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }
}

#[test]
fn self_test_names_this_build_s_field_arithmetic_and_passes() {
    let o = summa(&["--threads", "1", "self-test", "--cases", "200"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = last_json_line(&o);
    let expected = if cfg!(target_arch = "aarch64") {
        "aarch64-asm"
    } else {
        "halo2curves"
    };
    assert_eq!(r["field_ops"], expected);
    assert_eq!(r["failures"], serde_json::json!([]));
    assert!(r["checks"].as_u64().unwrap() > 200 * 12);
    // Hidden from the help: a check for the build, not a user's command.
    let help = summa(&["--help"]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("self-test"));
}
