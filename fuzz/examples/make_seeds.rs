//! Writes the seed corpora `fuzz/seeds/<target>/` from the repository's fixtures
//! (CSV shards, function events) and from small rounds, proofs and keys made with
//! the library. Run from the repository root with `make fuzz-seeds`; the seeds are
//! committed, so this is needed only when a format changes.

use std::fs;
use std::path::{Path, PathBuf};

use summa_agg::format::TreeFile;
use summa_agg::json::{InputRecord, RoundResult, SummaryJson};
use summa_agg::{Layout, Params};
use summa_agg_fuzz::input::put_part;
use summa_agg_fuzz::rounds::{self, Row};
use summa_agg_fuzz::zk::fixture;
use summa_functions::model::{PlanFile, PlannedShard, ShardSummary};

struct Seeds {
    root: PathBuf,
}

impl Seeds {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}

fn read(p: &str) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// A byte that `params_of` maps to `params`.
fn params_byte(p: &Params) -> u8 {
    (0..=255u8)
        .find(|b| summa_agg_fuzz::params_of(*b) == *p)
        .unwrap()
}

fn rows(names: &[&str], n_currencies: usize, seed: u32) -> Vec<Row> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let b = (0..n_currencies)
                .map(|c| ((seed + 7 * i as u32 + 3 * c as u32) % 50).into())
                .collect();
            (n.as_bytes().to_vec(), b)
        })
        .collect()
}

fn csv(s: &Seeds) {
    let files = [
        "tests/fixtures/entry_16.csv",
        "tests/fixtures/entry_16_overflow.csv",
        "examples/shards/entry_16_1.csv",
    ];
    for (i, f) in files.iter().enumerate() {
        let text = read(f);
        // v1, agg2023, legacy, at n_bytes 14; and n_bytes 1 in v1.
        for (j, (sel, n_bytes_byte)) in [(0u8, 13u8), (1, 13), (2, 13), (0, 0)].iter().enumerate() {
            let mut b = vec![*sel, *n_bytes_byte, 7];
            b.extend_from_slice(&text);
            s.put("csv_shard", &format!("fixture-{i}-{j}"), &b);
        }
        let crlf = String::from_utf8(text.clone())
            .unwrap()
            .replace('\n', "\r\n");
        let mut b = vec![8u8, 13, 0, 0xef, 0xbb, 0xbf];
        b.extend_from_slice(crlf.as_bytes());
        s.put("csv_shard", &format!("crlf-bom-{i}"), &b);
    }
    let small: [&[u8]; 6] = [
        b"username,balance_ETH_ETH\nalice,12\nbob,7\n",
        b"username,balance_ETH_ETH,balance_USDT_ETH\na,1,2\nb,3,4\nc,5,6\n",
        b"username,balance_ETH_ETH\n\"q,uoted\",1\nx, 2 \n",
        b"username,balance_ETH_ETH\nalice,1\nalice,2\n",
        b"username,balance_BTC_BTC\nzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz,1\n",
        b"username,balance_ETH_ETH\nbig,99999999999999999999999999999999999999999999999\n",
    ];
    for (i, t) in small.iter().enumerate() {
        let mut b = vec![(i % 3) as u8, 13, 3];
        b.extend_from_slice(t);
        s.put("csv_shard", &format!("small-{i}"), &b);
    }
}

fn manifest(s: &Seeds) {
    let manifests: [&[u8]; 4] = [
        br#"{"layout": "v1", "n_bytes": 14}"#,
        br#"{"layout": "legacy", "n_bytes": 8, "shards": ["rounds/r1/shards/a.csv", "rounds/r1/shards/b.csv"]}"#,
        br#"{"previous": "rounds/2026-11-22T10", "layout": "agg2023"}"#,
        br#"{}"#,
    ];
    for (i, m) in manifests.iter().enumerate() {
        let mut b = vec![0u8];
        b.extend_from_slice(m);
        s.put("manifest", &format!("manifest-{i}"), &b);
    }
    let plan = PlanFile {
        index_bits: 0,
        run: "r1".into(),
        planned_at_ms: 1_795_262_400_000,
        manifest_etag: "\"abc\"".into(),
        layout: Layout::V1,
        n_bytes: 14,
        currencies: rounds::currencies(2),
        shards: vec![PlannedShard {
            key: "rounds/r1/shards/a.csv".into(),
            size: 376,
            etag: "\"956241b8ce6fbb6ef64fb2df67a38a13\"".into(),
            reuse: None,
        }],
        previous: None,
    };
    let mut b = vec![1u8];
    b.extend_from_slice(&serde_json::to_vec_pretty(&plan).unwrap());
    s.put("manifest", "plan", &b);
    for e in [
        "functions/aggregator/events/aggregate.json",
        "functions/aggregator/events/execution-failed.json",
        "functions/aggregator/events/failure.json",
        "functions/aggregator/events/failure-map.json",
    ] {
        let mut b = vec![2u8];
        b.extend_from_slice(&read(e));
        let name = Path::new(e)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        s.put("manifest", &format!("aggregator-{name}"), &b);
    }
}

/// Small rounds in every layout: (params, currencies, shards).
fn sample_rounds() -> Vec<rounds::Round> {
    let mut out = Vec::new();
    for (k, layout) in Layout::ALL.into_iter().enumerate() {
        let params = Params {
            layout,
            n_bytes: 14,
        };
        let shards = vec![
            rows(&["alice", "bob", "carol"], 2, k as u32),
            rows(&["dave", "erin"], 2, 11),
            rows(&["frank"], 2, 5),
        ];
        out.push(rounds::build(params, 2, shards).unwrap());
    }
    // One user: a tree of depth 0.
    out.push(rounds::build(Params::default(), 1, vec![rows(&["solo"], 1, 1)]).unwrap());
    out
}

fn tree_file(s: &Seeds, rs: &[rounds::Round]) {
    for (k, r) in rs.iter().enumerate() {
        for (name, file) in [("mini", &r.mini_files[0]), ("agg", &r.agg_file)] {
            let mut b = vec![0u8];
            b.extend_from_slice(&7u16.to_le_bytes());
            put_part(&mut b, file);
            b.extend_from_slice(&[1, 0, 0, 0, 0, 1, 3]);
            s.put("tree_file", &format!("{name}-{k}"), &b);
        }
        let user = String::from_utf8(r.shards[0][0].0.clone()).unwrap();
        let mut b = vec![1u8];
        put_part(&mut b, &r.agg_file);
        put_part(&mut b, &r.mini_files[0]);
        b.push(0);
        put_part(&mut b, user.as_bytes());
        s.put("tree_file", &format!("pair-{k}"), &b);
        let mut names = Vec::new();
        for t in &r.trees {
            names.push(
                (0..t.entries() as usize)
                    .map(|u| (summa_functions::index::user_key(t.username(u)), u as u32))
                    .collect(),
            );
        }
        let mut b = vec![3u8];
        put_part(&mut b, &summa_functions::index::build(&names).unwrap());
        b.extend_from_slice(user.as_bytes());
        s.put("tree_file", &format!("index-{k}"), &b);
    }
    // Built rounds: shape bytes (see rounds::shape_of), then user and flips.
    let shapes: [&[u8]; 4] = [
        &[2, 0, 1, 2, 3, 5, 9, 1, 40, 2, 3, 4, 5, 0, 0, 0, 0],
        &[2, 40, 1, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 1, 0],
        &[
            2, 41, 2, 3, 1, 8, 2, 2, 2, 2, 3, 1, 1, 9, 9, 9, 1, 1, 1, 1, 1, 0, 0, 0,
        ],
        &[
            2, 42, 0, 1, 2, 1, 100, 2, 3, 0, 1, 1, 2, 1, 0, 0, 0, 1, 0, 0x10, 0, 0x21, 0,
        ],
    ];
    for (i, b) in shapes.iter().enumerate() {
        s.put("tree_file", &format!("built-{i}"), b);
    }
}

fn summary_json(s: &Seeds, rs: &[rounds::Round]) {
    for (k, r) in rs.iter().enumerate() {
        let pb = params_byte(&r.params);
        let sums: Vec<SummaryJson> = r.trees.iter().map(|t| (&t.summary()).into()).collect();
        let mut b = vec![0u8, pb];
        b.extend_from_slice(&serde_json::to_vec(&sums[0]).unwrap());
        s.put("summary_json", &format!("summary-{k}"), &b);
        let mut b = vec![1u8, pb];
        b.extend_from_slice(&serde_json::to_vec(&sums).unwrap());
        s.put("summary_json", &format!("list-{k}"), &b);
        let shard = ShardSummary {
            run: "r1".into(),
            layout: r.params.layout,
            n_bytes: r.params.n_bytes,
            currencies: r.currencies.clone(),
            input: InputRecord {
                key: "rounds/r1/shards/a.csv".into(),
                size: 40,
                etag: "\"0123\"".into(),
                sha256: "00".repeat(32),
                mini_tree: "rounds/r1/runs/r1/mini-trees/000000.mst".into(),
                mini_tree_sha256: "11".repeat(32),
            },
            summary: sums[0].clone(),
            reused_from: None,
            build: None,
        };
        let mut b = vec![2u8, pb];
        b.extend_from_slice(&serde_json::to_vec_pretty(&shard).unwrap());
        s.put("summary_json", &format!("shard-summary-{k}"), &b);
        let mut result = RoundResult::of(&r.agg);
        result.run = Some("r1".into());
        let mut b = vec![3u8, pb];
        b.extend_from_slice(&serde_json::to_vec_pretty(&result).unwrap());
        s.put("summary_json", &format!("result-{k}"), &b);
    }
}

fn merkle_proof(s: &Seeds, rs: &[rounds::Round]) {
    for (k, r) in rs.iter().enumerate() {
        let agg = TreeFile::open(r.agg_file.clone(), "a").unwrap();
        let last = r.shards.last().unwrap().last().unwrap();
        for (u, user) in [&r.shards[0][0], last].into_iter().enumerate() {
            let name = String::from_utf8(user.0.clone()).unwrap();
            let p = summa_agg::proof::generate(
                &agg,
                |i| TreeFile::open(r.mini_files[i].clone(), "m"),
                &name,
            )
            .unwrap();
            let json = serde_json::to_vec_pretty(&p).unwrap();
            for mode in [0u8, 1] {
                let mut b = vec![mode];
                put_part(&mut b, &json);
                s.put("merkle_proof", &format!("proof-{k}-{u}-{mode}"), &b);
            }
            let result = RoundResult::of(&r.agg);
            let mut b = vec![2u8];
            put_part(&mut b, &json);
            b.extend_from_slice(&serde_json::to_vec(&result).unwrap());
            s.put("merkle_proof", &format!("with-result-{k}-{u}"), &b);
        }
    }
}

fn zk(s: &Seeds) {
    let f = fixture();
    for mode in [0u8, 1] {
        let mut b = vec![mode];
        put_part(&mut b, f.file("keys.json"));
        put_part(&mut b, f.file("vk.bin"));
        // The prover's files are large: only their first bytes.
        put_part(&mut b, &f.file("pk.bin")[..f.file("vk.bin").len() + 64]);
        b.extend_from_slice(&f.file("srs.bin")[..64]);
        s.put("zk_keys", &format!("keys-{mode}"), &b);
    }
    let json = serde_json::to_vec_pretty(&f.proof).unwrap();
    for mode in [0u8, 1] {
        let mut b = vec![mode];
        b.extend_from_slice(&json);
        s.put("zk_proof", &format!("proof-{mode}"), &b);
    }
    let bytes = hex::decode(f.proof.proof.trim_start_matches("0x")).unwrap();
    let mut b = vec![2u8];
    b.extend_from_slice(&bytes);
    s.put("zk_proof", "proof-bytes", &b);
}

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let s = Seeds { root };
    csv(&s);
    manifest(&s);
    let rs = sample_rounds();
    tree_file(&s, &rs);
    summary_json(&s, &rs);
    merkle_proof(&s, &rs);
    zk(&s);
    eprintln!("seeds written to {}", s.root.display());
}
