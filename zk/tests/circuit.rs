//! The inclusion circuit under halo2's MockProver: every layout proves real paths with
//! Poseidon equal to the native hash (known answers), and each broken rule fails.

mod common;

use common::{known_answers, Round, SHARDS};
use halo2_proofs::dev::MockProver;
use summa_agg::field::from_hex;
use summa_agg::{Fr, Layout};
use summa_agg_zk::circuit::InclusionCircuit;
use summa_agg_zk::{to_circuit, Shape, Witness};

/// Runs the MockProver with public inputs `[leaf, root]`; true if every constraint holds.
fn satisfied(shape: Shape, witness: Witness, public: &[Fr]) -> bool {
    let circuit = InclusionCircuit::new(shape, witness).unwrap();
    let instance = vec![public.iter().map(to_circuit).collect::<Vec<_>>()];
    MockProver::run(shape.k(), &circuit, instance)
        .unwrap()
        .verify()
        .is_ok()
}

#[test]
fn known_answer_roots_and_leaves_in_every_layout() {
    let ka = known_answers();
    for layout in Layout::ALL {
        let round = Round::run(&["entry_16.csv"], layout);
        let want_root = ka["roots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["layout"] == layout.name() && r["csv"] == "entry_16.csv")
            .unwrap();
        let want_root = from_hex(want_root["hash"].as_str().unwrap()).unwrap();
        for leaf in ka["leaves"].as_array().unwrap() {
            if leaf["layout"] != layout.name() {
                continue;
            }
            let merkle = round.merkle_proof(leaf["username"].as_str().unwrap());
            let (shape, witness) = Witness::from_merkle_proof(&merkle).unwrap();
            assert_eq!(shape.depth, 4);
            let want_leaf = from_hex(leaf["hash"].as_str().unwrap()).unwrap();
            // The circuit's hashes equal the known answers: with these public inputs
            // every constraint holds, with any other root none can.
            let mut public = witness.public_inputs(layout);
            assert_eq!(public[..2], [want_leaf, want_root], "{layout}");
            assert!(
                satisfied(shape, witness.clone(), &public.clone()),
                "{layout}"
            );
            public[1] += Fr::from(1u64);
            assert!(!satisfied(shape, witness, &public), "{layout}");
        }
    }
}

#[test]
fn users_of_a_multi_shard_round_in_every_layout() {
    let users = Round::users(&SHARDS);
    for layout in Layout::ALL {
        let round = Round::run(&SHARDS, layout);
        for user in [&users[0], &users[17], &users[42], &users[63]] {
            let merkle = round.merkle_proof(user);
            let (shape, witness) = Witness::from_merkle_proof(&merkle).unwrap();
            assert_eq!(shape.depth, 6);
            let public = witness.public_inputs(layout);
            assert_eq!(public[0], from_hex(&merkle.leaf.hash).unwrap());
            assert_eq!(public[1], from_hex(&merkle.root.hash).unwrap());
            assert_eq!(public.len(), 2 + shape.currencies);
            let totals: Vec<String> = public[2..].iter().map(decimal).collect();
            assert_eq!(totals, merkle.root.balances, "{layout}");
            assert!(satisfied(shape, witness, &public), "{layout} {user}");
        }
    }
}

/// A field element below 2^128 as a decimal string.
fn decimal(f: &Fr) -> String {
    use ff::PrimeField;
    let le = f.to_repr();
    let mut v = 0u128;
    for b in le.as_ref()[..16].iter().rev() {
        v = v << 8 | u128::from(*b);
    }
    assert!(le.as_ref()[16..].iter().all(|&b| b == 0));
    v.to_string()
}

#[test]
fn the_totals_are_public_inputs_bound_to_the_root_sums() {
    for layout in Layout::ALL {
        let (shape, witness, public) = sample(layout);
        assert!(satisfied(shape, witness.clone(), &public.clone()));
        for i in 0..shape.currencies {
            // An understated total, an overstated one.
            for delta in [-Fr::from(1u64), Fr::from(1u64)] {
                let mut bad = public.clone();
                bad[2 + i] += delta;
                assert!(
                    !satisfied(shape, witness.clone(), &bad),
                    "{layout}: total {i}"
                );
            }
        }
        // A missing total.
        let mut short = public.clone();
        short.pop();
        assert!(!satisfied(shape, witness, &short), "{layout}: missing");
    }
}

/// A v1 witness of depth 6 and its true public inputs.
fn sample(layout: Layout) -> (Shape, Witness, Vec<Fr>) {
    let round = Round::run(&SHARDS, layout);
    let merkle = round.merkle_proof(&Round::users(&SHARDS)[21]);
    let (shape, witness) = Witness::from_merkle_proof(&merkle).unwrap();
    let public = witness.public_inputs(layout);
    (shape, witness, public)
}

#[test]
fn a_changed_sibling_fails() {
    for layout in [Layout::V1, Layout::Legacy] {
        let (shape, witness, public) = sample(layout);
        assert!(satisfied(shape, witness.clone(), &public));
        let n_currencies = shape.currencies;
        // A sibling middle node's child hash (v1: last element; legacy: element 0).
        let mut w = witness.clone();
        let hash_at = if layout == Layout::V1 {
            n_currencies + 1
        } else {
            0
        };
        w.siblings[3][hash_at] += Fr::from(1u64);
        assert!(!satisfied(shape, w, &public), "{layout}: sibling hash");
        // A sibling's sum (v1: the preimage's first balance; legacy: a child balance).
        let mut w = witness.clone();
        let sum_at = if layout == Layout::V1 { 0 } else { 1 };
        w.siblings[2][sum_at] += Fr::from(1u64);
        assert!(!satisfied(shape, w, &public), "{layout}: sibling sum");
        // The sibling leaf's balance.
        let mut w = witness.clone();
        w.siblings[0][1] -= Fr::from(1u64);
        assert!(!satisfied(shape, w, &public), "{layout}: sibling leaf");
        // The user's own balance.
        let mut w = witness;
        w.balances[1] += Fr::from(1u64);
        assert!(!satisfied(shape, w, &public), "{layout}: own balance");
    }
}

#[test]
fn a_wrong_root_or_leaf_fails() {
    let (shape, witness, public) = sample(Layout::V1);
    assert!(satisfied(shape, witness.clone(), &public));
    let one = Fr::from(1u64);
    let with = |f: &dyn Fn(&mut Vec<Fr>)| {
        let mut p = public.clone();
        f(&mut p);
        p
    };
    assert!(!satisfied(shape, witness.clone(), &with(&|p| p[1] += one)));
    assert!(!satisfied(shape, witness.clone(), &with(&|p| p[0] += one)));
    assert!(!satisfied(shape, witness, &with(&|p| p.swap(0, 1))));
}

#[test]
fn a_flipped_path_bit_fails() {
    for layout in Layout::ALL {
        let (shape, witness, public) = sample(layout);
        for level in [0, 3, 5] {
            let mut w = witness.clone();
            w.path[level] = !w.path[level];
            assert!(!satisfied(shape, w, &public), "{layout} level {level}");
        }
    }
}

/// `2^bits` as a field element.
fn pow2(bits: u32) -> Fr {
    (0..bits).fold(Fr::from(1u64), |acc, _| acc.double())
}

#[test]
fn a_balance_at_the_range_bound_fails_and_just_below_passes() {
    for layout in [Layout::V1, Layout::Legacy] {
        let (shape, witness, _) = sample(layout);
        let bound = pow2(8 * shape.n_bytes as u32);
        // Consistent witnesses (public inputs computed from them): only the range
        // rule can reject them.
        // The user's balance is half the bound and the sibling leaf's 0, so that the
        // sums up the path (which add the other siblings' small balances) stay in range.
        let room = pow2(8 * shape.n_bytes as u32 - 1);
        let mut below = witness.clone();
        below.balances[0] = room;
        below.siblings[0][1] = Fr::from(0u64);
        let public = below.public_inputs(layout);
        assert!(
            satisfied(shape, below.clone(), &public),
            "{layout}: in range"
        );

        let mut at = below.clone();
        at.balances[0] = bound;
        let public = at.public_inputs(layout);
        assert!(!satisfied(shape, at, &public), "{layout}: balance = 2^112");

        let mut sibling = below.clone();
        sibling.siblings[0][2] = bound + Fr::from(5u64);
        let public = sibling.public_inputs(layout);
        assert!(
            !satisfied(shape, sibling, &public),
            "{layout}: sibling balance"
        );

        // Two in-range halves whose sum is not: the parent's total is out of range.
        let mut total = below;
        total.siblings[0][1] = room;
        let public = total.public_inputs(layout);
        assert!(!satisfied(shape, total, &public), "{layout}: total = 2^112");
    }
}

#[test]
fn a_sum_that_wraps_modulo_p_fails() {
    let (shape, witness, _) = sample(Layout::V1);
    let mut w = witness;
    // balance + sibling balance = 2 (mod p): a wrap-around that hides a liability.
    w.balances[0] = Fr::from(5u64);
    w.siblings[0][1] = -Fr::from(3u64);
    let public = w.public_inputs(Layout::V1);
    assert!(!satisfied(shape, w, &public));
}

/// A witness of zeros of any shape (a valid path in a tree of empty entries).
fn zeros(shape: Shape) -> Witness {
    let zero = Fr::from(0u64);
    Witness {
        username: zero,
        balances: vec![zero; shape.currencies],
        siblings: (0..shape.depth as usize)
            .map(|k| {
                let len = if k == 0 {
                    shape.layout.leaf_len(shape.currencies)
                } else {
                    shape.layout.middle_len(shape.currencies)
                };
                vec![zero; len]
            })
            .collect(),
        path: (0..shape.depth).map(|k| k % 3 == 1).collect(),
    }
}

#[test]
fn the_largest_shapes_fit_their_k() {
    for (layout, depth, currencies) in [
        (Layout::V1, 32, 8),
        (Layout::Legacy, 32, 8),
        (Layout::Agg2023, 28, 2),
        (Layout::V1, 0, 1),
        (Layout::V1, 1, 1),
    ] {
        let shape = Shape {
            layout,
            depth,
            currencies,
            n_bytes: 14,
        };
        let w = zeros(shape);
        let public = w.public_inputs(layout);
        assert!(satisfied(shape, w, &public), "{}", shape.id());
    }
}

#[test]
fn synthetic_witnesses_of_the_benchmark_are_valid() {
    for layout in Layout::ALL {
        let shape = Shape {
            layout,
            depth: 9,
            currencies: 3,
            n_bytes: 14,
        };
        let w = Witness::synthetic(&shape, 42);
        let public = w.public_inputs(layout);
        assert!(satisfied(shape, w, &public), "{layout}");
    }
}
