//! Tests that could catch a free cell or a circuit whose public inputs bind nothing:
//! a "hollow" circuit (the same configuration without its `constrain_instance`
//! calls) and a mutation test of every advice cell of an honest witness.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Bn256;
use halo2_proofs::plonk::{create_proof, keygen_pk};
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_proofs::transcript::TranscriptWriterBuffer;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use summa_agg::{Fr, Layout};

use crate::ceremony::UNSAFE_TEST_SEED;
use crate::circuit::{Hooks, InclusionCircuit};
use crate::convert::to_circuit;
use crate::shape::Shape;
use crate::transcript::KeccakTranscript;
use crate::verifier::{check_proof_bytes, derive_vk, vk_bytes};
use crate::witness::Witness;

fn shape(layout: Layout, depth: u32) -> Shape {
    Shape {
        layout,
        depth,
        currencies: 2,
        n_bytes: 2,
    }
}

/// A witness whose balances fit `n_bytes = 2`.
fn witness(shape: &Shape) -> Witness {
    let mut w = Witness::synthetic(shape, 7);
    let small = |f: &mut Fr, i: u64| *f = Fr::from(100 + i);
    for (i, b) in w.balances.iter_mut().enumerate() {
        small(b, i as u64);
    }
    let n_currencies = shape.currencies;
    for (level, s) in w.siblings.iter_mut().enumerate() {
        let at: Vec<usize> = match (level, shape.layout) {
            (0, _) => (1..=n_currencies).collect(),
            (_, Layout::Legacy) => (1..=n_currencies)
                .chain(n_currencies + 2..2 * n_currencies + 2)
                .collect(),
            _ => (0..n_currencies).collect(),
        };
        for (j, i) in at.into_iter().enumerate() {
            small(&mut s[i], (level * 10 + j) as u64);
        }
    }
    w
}

fn instance(public: &[Fr]) -> Vec<Vec<halo2_proofs::halo2curves::bn256::Fr>> {
    vec![public.iter().map(to_circuit).collect()]
}

fn test_params(k: u32) -> ParamsKZG<Bn256> {
    ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(UNSAFE_TEST_SEED))
}

#[test]
fn a_hollow_circuits_key_is_refused_and_its_forged_proof_fails() {
    let shape = shape(Layout::V1, 2);
    let params = test_params(shape.k());
    let honest = derive_vk(&params, &shape).unwrap();
    let hollow_circuit = InclusionCircuit::keygen(shape).with_hooks(Hooks {
        hollow: true,
        ..Hooks::default()
    });
    let hollow_vk = hollow_circuit.keygen_vk(&params).unwrap();
    // The verifier derives its key: the hollow one is not it.
    assert_ne!(vk_bytes(&hollow_vk), vk_bytes(&honest));

    // The custodian proves an honest path with understated totals under the hollow
    // key: that proof verifies under the hollow key (the attack is real)...
    let w = witness(&shape);
    let mut forged = w.public_inputs(shape.layout);
    forged[2] -= Fr::from(50u64);
    let pk = keygen_pk(&params, hollow_vk.clone(), &hollow_circuit).unwrap();
    let circuit = InclusionCircuit::new(shape, w).unwrap().with_hooks(Hooks {
        hollow: true,
        ..Hooks::default()
    });
    let mut transcript = KeccakTranscript::init(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        &params,
        &pk,
        &[circuit],
        &[&[&instance(&forged)[0][..]]],
        ChaCha20Rng::from_seed([3; 32]),
        &mut transcript,
    )
    .unwrap();
    let bytes = transcript.finalize();
    check_proof_bytes(&params, &hollow_vk, &bytes, &forged).unwrap();
    // ...and fails under the key derived from the circuit.
    let e = check_proof_bytes(&params, &honest, &bytes, &forged)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not verify"), "{e}");
}

/// How many advice cells the honest layout of `shape` assigns.
fn advice_cells(shape: Shape, w: &Witness) -> usize {
    let count = Arc::new(AtomicUsize::new(0));
    let circuit = InclusionCircuit::new(shape, w.clone())
        .unwrap()
        .with_hooks(Hooks {
            count: Some(count.clone()),
            ..Hooks::default()
        });
    let public = w.public_inputs(shape.layout);
    let prover = MockProver::run(shape.k(), &circuit, instance(&public)).unwrap();
    assert!(
        prover.verify().is_ok(),
        "the honest witness of {}",
        shape.id()
    );
    count.load(Ordering::Relaxed)
}

#[test]
fn every_advice_cell_re_assigned_alone_fails_the_circuit() {
    for (layout, depth) in [(Layout::V1, 1), (Layout::Legacy, 2)] {
        let shape = shape(layout, depth);
        let w = witness(&shape);
        let public = w.public_inputs(layout);
        let cells = advice_cells(shape, &w);
        assert!(cells > 500, "{}: {cells} cells", shape.id());
        let free: Vec<usize> = (0..cells)
            .into_par_iter()
            .filter(|&i| {
                let circuit = InclusionCircuit::new(shape, w.clone())
                    .unwrap()
                    .with_hooks(Hooks {
                        tamper: Some(i),
                        ..Hooks::default()
                    });
                MockProver::run(shape.k(), &circuit, instance(&public))
                    .unwrap()
                    .verify()
                    .is_ok()
            })
            .collect();
        assert!(
            free.is_empty(),
            "{}: advice cells that no gate or copy constrains (assignment order): {free:?}",
            shape.id()
        );
    }
}
