//! `summa-agg proof` and `summa-agg verify`: a user's inclusion proof (the
//! zero-knowledge one through `commands/zk.rs`, or the custodian's Merkle proof),
//! and its verification against what the custodian published.

use summa_agg::round::{self, AGGREGATION_FILE, RESULT_FILE};
use summa_agg::{json, proof, Error, Result};

use crate::args::{ProofArgs, VerifyArgs};
use crate::output::{open_tree, print_json, read_result};

/// `proof`.
pub fn prove(a: ProofArgs) -> Result<()> {
    let (dir, user) = (a.round, a.user);
    let agg = open_tree(&dir.join(AGGREGATION_FILE))?;
    if !dir.join(RESULT_FILE).is_file() {
        return Err(Error::Invalid(format!(
            "{}: no {RESULT_FILE}: the round did not complete",
            dir.display()
        )));
    }
    let p = proof::generate(
        &agg,
        |i| open_tree(&dir.join(round::mini_tree_path(i))),
        &user,
    )?;
    #[cfg(feature = "zk")]
    if let (Some(keys), false) = (&a.keys, a.merkle) {
        return super::zk::prove(&p, keys);
    }
    tell!("summa-agg: a Merkle proof shows other users' balances: the custodian's own tool, never for a user");
    print_json(&p, true)
}

/// `verify`.
pub fn verify(a: VerifyArgs) -> Result<()> {
    let path = &a.proof;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let bad = |e: serde_json::Error| Error::Format {
        path: path.display().to_string(),
        what: "proof",
        problem: e.to_string(),
    };
    // A zero-knowledge proof file has a kind; it is read by the verifier's own
    // parser, the WebAssembly module's.
    let value: serde_json::Value = json::from_slice_strict(&bytes).map_err(bad)?;
    if value.get("kind").is_some() {
        #[cfg(feature = "zk")]
        return super::zk::verify(path, &bytes, &a);
        #[cfg(not(feature = "zk"))]
        return Err(Error::Invalid(format!(
            "{}: a zero-knowledge proof, and this summa-agg was built without them (cargo feature \"zk\")",
            path.display()
        )));
    }
    // A chain flag on a Merkle proof would be dropped silently: the user asked
    // for the chain's record and would get a check against a file.
    #[cfg(feature = "chain")]
    if a.rpc.is_some() || a.evm {
        return Err(Error::Invalid(format!(
            "{}: not a zero-knowledge proof: --rpc (the round registry's record) checks zero-knowledge proofs only; a Merkle proof is the custodian's own tool",
            path.display()
        )));
    }
    if a.keys.is_some() || a.srs.is_some() || a.unsafe_test_srs || a.totals.is_some() {
        return Err(Error::Invalid(format!(
            "{}: not a zero-knowledge proof (--keys, --srs, --unsafe-test-srs and --totals are for those)",
            path.display()
        )));
    }
    let p: proof::Proof = json::from_slice_strict(&bytes).map_err(bad)?;
    let expected = a
        .root
        .as_deref()
        .map(|r| json::parse_fr(r, "--root"))
        .transpose()?;
    let reached = match &a.result {
        Some(rpath) => {
            let published = read_result(rpath)?;
            let reached = proof::verify_with_result(&p, &published)?;
            if let Some(r) = expected {
                if r != reached.hash {
                    return Err(Error::Proof(format!(
                        "--root {} is not the root of {}",
                        summa_agg::field::to_hex(&r),
                        rpath.display()
                    )));
                }
            }
            reached
        }
        None if expected.is_some() => proof::verify(&p, expected.as_ref())?,
        None => {
            return Err(Error::Invalid(
                "give --root or --result: the root the custodian published".into(),
            ))
        }
    };
    check_record(&p.entry, a.user.as_deref(), a.balances.as_deref())?;
    tell!(
        "summa-agg: proof of {:?} (balances {}) verifies: root {} with totals [{}]",
        p.entry.username,
        p.entry.balances.join(", "),
        summa_agg::field::to_hex(&reached.hash),
        reached
            .balances
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// `verify --user/--balances` of a Merkle proof: the entry must be that record.
fn check_record(
    entry: &proof::EntryJson,
    user: Option<&str>,
    balances: Option<&[String]>,
) -> Result<()> {
    if let Some(u) = user {
        proof::check_expected_user(u).map_err(Error::Invalid)?;
        if entry.username != u {
            return Err(Error::Proof(format!(
                "proof is for user {:?}, not {u:?}",
                entry.username
            )));
        }
    }
    if let Some(want) = balances {
        let parse = |b: &String| summa_agg::field::parse_decimal(b.as_bytes()).ok();
        let same = want.len() == entry.balances.len()
            && want
                .iter()
                .zip(&entry.balances)
                .all(|(w, e)| parse(w).is_some() && parse(w) == parse(e));
        if !same {
            return Err(Error::Proof(format!(
                "proof is for balances {}, not {}",
                entry.balances.join(", "),
                want.join(", ")
            )));
        }
    }
    Ok(())
}
