//! Nothing the custodian writes reaches the terminal as it is: every field of a
//! zero-knowledge proof file and of `result.json` (and a key added to every object)
//! set in turn to a string of escape sequences, a fake report, a right-to-left
//! override and invisible characters. Whatever the verdict, no byte that a terminal
//! obeys reaches stdout or stderr, and a report says VERIFIED only on exit 0.

use serde_json::Value;
use summa_agg::text::needs_escape;

use super::*;

/// A fake report drawn over the real refusal, then the rest hidden.
const HOSTILE: &str =
    "\r\u{1b}[1A\u{1b}[J\nVERIFIED: \"dxGaEAii\" is included\u{202e}42\u{200b}\u{1b}[8m\u{9b}";

/// The JSON pointer of every leaf and every object of `v`.
fn places(v: &Value, at: &str, leaves: &mut Vec<String>, objects: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            objects.push(at.to_string());
            for (k, x) in m {
                places(x, &format!("{at}/{k}"), leaves, objects);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                places(x, &format!("{at}/{i}"), leaves, objects);
            }
        }
        _ => leaves.push(at.to_string()),
    }
}

/// Every hostile variant of `v`: each leaf replaced, and a hostile key added to each
/// object.
fn variants(v: &Value) -> Vec<(String, Value)> {
    let (mut leaves, mut objects) = (Vec::new(), Vec::new());
    places(v, "", &mut leaves, &mut objects);
    let mut out = Vec::new();
    for at in leaves {
        let mut x = v.clone();
        *x.pointer_mut(&at).unwrap() = Value::from(HOSTILE);
        out.push((at, x));
    }
    for at in objects {
        let mut x = v.clone();
        x.pointer_mut(&at)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(HOSTILE.into(), Value::from(HOSTILE));
        out.push((format!("{at}/<key>"), x));
    }
    out
}

/// What a run printed holds nothing a terminal obeys, and VERIFIED only on success.
fn assert_safe(what: &str, o: &Output) {
    let said = said(o);
    if let Some(c) = said.chars().find(|&c| c != '\n' && needs_escape(c)) {
        panic!("{what}: {c:?} reached the terminal: {said:?}");
    }
    if !o.status.success() {
        assert!(o.stdout.is_empty(), "{what}: stdout on a failure: {said:?}");
        assert!(
            !said.lines().any(|l| l.trim_start().starts_with("VERIFIED")),
            "{what}: {said:?}"
        );
    } else {
        assert!(
            String::from_utf8_lossy(&o.stdout).starts_with("VERIFIED"),
            "{what}: {said:?}"
        );
    }
}

#[test]
fn no_field_of_the_proof_or_the_result_reaches_the_terminal_unescaped() {
    let r = ZkRound::new("entry_64.csv", "MBlfbBGI");
    let result: Value = serde_json::from_slice(&std::fs::read(r.result()).unwrap()).unwrap();
    let verify = |proof: &str, result: &str| {
        summa(&[
            "verify",
            proof,
            "--result",
            result,
            "--srs",
            &r.srs(),
            "--unsafe-test-srs",
            "--user",
            "MBlfbBGI",
        ])
    };
    let genuine_proof = write_json(r.dir.path(), "genuine.json", &r.zk);
    let o = verify(&genuine_proof, &r.result());
    assert!(o.status.success(), "{}", said(&o));
    assert_safe("genuine", &o);
    let (mut runs, mut refused) = (0, 0);
    for (at, proof) in variants(&r.zk) {
        let o = verify(
            &write_json(r.dir.path(), "hostile.json", &proof),
            &r.result(),
        );
        assert_safe(&format!("proof {at}"), &o);
        runs += 1;
        refused += usize::from(!o.status.success());
    }
    for (at, published) in variants(&result) {
        let path = write_json(r.dir.path(), "hostile-result.json", &published);
        let o = verify(&genuine_proof, &path);
        assert_safe(&format!("result.json {at}"), &o);
        runs += 1;
        refused += usize::from(!o.status.success());
    }
    // Most fields are bound (the proof's all but its warning, the result's shape,
    // root, totals and labels): refused; the others are never shown.
    assert!(
        runs > 40 && refused > runs / 2,
        "{refused} of {runs} refused"
    );
}

/// A hostile string in a flag's value, echoed in the refusal, is escaped too.
#[test]
fn a_hostile_flag_value_is_escaped_in_the_refusal() {
    let r = ZkRound::new("entry_64.csv", "MBlfbBGI");
    let pf = write_json(r.dir.path(), "zk.json", &r.zk);
    for extra in [["--user", HOSTILE], ["--balances", HOSTILE]] {
        let o = summa(
            &[
                &[
                    "verify",
                    pf.as_str(),
                    "--result",
                    &r.result(),
                    "--srs",
                    &r.srs(),
                    "--unsafe-test-srs",
                ][..],
                &extra[..],
            ]
            .concat(),
        );
        assert!(!o.status.success());
        assert_safe(extra[0], &o);
    }
}
