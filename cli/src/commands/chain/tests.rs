//! The round registry's own tests, on a real EVM: anvil (npm's
//! `@foundry-rs/anvil-linux-amd64`, installed by `infra/setup-tools.sh`), the
//! compiled artifacts of `contracts/out/`. Each revert is checked by its custom
//! error's name.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, FixedBytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;

use super::registry::{describe, read_artifact, Commitment, RoundRegistry, RoundRegistryErrors};
use super::registry::{registry_bytecode, RoundRegistryInstance};

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// anvil from the project's tools (`ANVIL` overrides the path). A missing anvil
/// fails the test: run `make tools`.
pub fn anvil() -> AnvilInstance {
    let path = std::env::var_os("ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/node/node_modules/.bin/anvil"));
    assert!(
        path.exists(),
        "no anvil at {}: run `make tools` (bash infra/setup-tools.sh)",
        path.display()
    );
    Anvil::at(path).spawn()
}

fn wallet(anvil: &AnvilInstance, i: usize) -> DynProvider {
    let key = PrivateKeySigner::from(anvil.keys()[i].clone());
    super::registry::signing(key, anvil.endpoint_url())
}

async fn deploy(p: &DynProvider, code: Vec<u8>) -> Address {
    use alloy::network::TransactionBuilder;
    let tx = alloy::rpc::types::TransactionRequest::default().with_deploy_code(code);
    let receipt = p
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    receipt.contract_address.unwrap()
}

/// The name of the custom error a failed call reverted with.
fn error_name(e: alloy::contract::Error) -> String {
    let decoded = e
        .as_decoded_interface_error::<RoundRegistryErrors>()
        .unwrap_or_else(|| panic!("not one of the registry's errors: {e}"));
    describe(&decoded).split('(').next().unwrap().to_string()
}

const DIGEST: [u8; 32] = [0xd1; 32];
/// The example round's shape: v1, depth 6, 2 currencies, n_bytes 14.
const SHAPE_6: RoundRegistry::Shape = RoundRegistry::Shape {
    layout: 0,
    depth: 6,
    currencies: 2,
    nBytes: 14,
};
/// The order of BN254's scalar field.
const R: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

fn round(n: u8, previous: B256) -> Commitment {
    Commitment {
        root: FixedBytes([n; 32]).into_root(),
        totals: vec![U256::from(100 + n), U256::from(200 + n)],
        labelsHash: FixedBytes([0x1a; 32]),
        vkDigest: FixedBytes(DIGEST),
        resultSha256: FixedBytes([n; 32]),
        previous,
    }
}

trait IntoRoot {
    fn into_root(self) -> FixedBytes<32>;
}

impl IntoRoot for FixedBytes<32> {
    /// Below the field's order: the first byte cleared.
    fn into_root(mut self) -> FixedBytes<32> {
        self.0[0] = 0;
        self
    }
}

/// A registry with the example shape's verifier registered under [`DIGEST`].
async fn registry(anvil: &AnvilInstance) -> RoundRegistryInstance<DynProvider> {
    registry_with(anvil, DIGEST).await
}

/// A registry with the example shape's verifier registered under `digest`.
async fn registry_with(
    anvil: &AnvilInstance,
    digest: [u8; 32],
) -> RoundRegistryInstance<DynProvider> {
    let p = wallet(anvil, 0);
    let address = deploy(&p, registry_bytecode().to_vec()).await;
    let verifier = read_artifact(
        &repo().join("contracts/out/Halo2Verifier_v1_d6_c2_b14_UNSAFE_TEST_SRS.json"),
    )
    .unwrap();
    let verifier = deploy(&p, verifier.bytecode).await;
    let r = RoundRegistry::new(address, p);
    r.registerVerifier(FixedBytes(digest), SHAPE_6, verifier)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    r
}

async fn commit(
    r: &RoundRegistryInstance<DynProvider>,
    id: u64,
    c: Commitment,
) -> Result<B256, String> {
    match r.commit(id, c.clone()).send().await {
        Ok(pending) => {
            let receipt = pending.get_receipt().await.unwrap();
            assert!(receipt.status());
            Ok(r.hashOf(id).call().await.unwrap())
        }
        Err(e) => Err(error_name(e)),
    }
}

#[test]
fn the_registry_is_append_only_chained_and_only_the_custodian_commits() {
    let anvil = anvil();
    super::registry::block_on(async {
        let r = registry(&anvil).await;
        assert_eq!(error_name(r.latest().call().await.unwrap_err()), "NoRounds");
        let receipt = r
            .commit(0, round(1, B256::ZERO))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let h0 = r.hashOf(0).call().await.unwrap();
        assert_eq!(
            h0,
            r.commitmentHash(0, round(1, B256::ZERO))
                .call()
                .await
                .unwrap()
        );
        // The event records the round.
        let event = receipt
            .decoded_log::<RoundRegistry::RoundCommitted>()
            .expect("a RoundCommitted event");
        assert_eq!(event.roundId, 0);
        assert_eq!(event.commitmentHash, h0);
        assert_eq!(event.root, round(1, B256::ZERO).root);

        // Overwriting a round, a wrong previous hash, an id that goes back.
        assert_eq!(
            commit(&r, 0, round(2, h0)).await.unwrap_err(),
            "RoundAlreadyCommitted"
        );
        assert_eq!(
            commit(&r, 1, round(2, B256::ZERO)).await.unwrap_err(),
            "WrongPrevious"
        );
        assert_eq!(
            commit(&r, 1, round(2, FixedBytes([9; 32])))
                .await
                .unwrap_err(),
            "WrongPrevious"
        );
        // The same result.json twice (a retry after a timeout) commits once.
        assert_eq!(
            commit(&r, 1, round(1, h0)).await.unwrap_err(),
            "ResultAlreadyCommitted"
        );
        // A key with no registered verifier, totals of another count or range, a
        // root that is not a field element.
        let mut c = round(2, h0);
        c.vkDigest = FixedBytes([7; 32]);
        assert_eq!(commit(&r, 1, c).await.unwrap_err(), "NoVerifier");
        let mut c = round(2, h0);
        c.totals.push(U256::from(1));
        assert_eq!(commit(&r, 1, c).await.unwrap_err(), "WrongTotals");
        let mut c = round(2, h0);
        c.totals[1] = U256::from(1) << 112;
        assert_eq!(commit(&r, 1, c).await.unwrap_err(), "TotalOutOfRange");
        let mut c = round(2, h0);
        c.root = FixedBytes(hex::decode(R).unwrap().try_into().unwrap());
        assert_eq!(commit(&r, 1, c).await.unwrap_err(), "NotAFieldElement");

        // Only the custodian commits or registers.
        let stranger = RoundRegistry::new(*r.address(), wallet(&anvil, 1));
        assert_eq!(
            error_name(stranger.commit(1, round(2, h0)).send().await.unwrap_err()),
            "NotCustodian"
        );
        assert_eq!(
            error_name(
                stranger
                    .registerVerifier(FixedBytes([3; 32]), SHAPE_6, *r.address())
                    .send()
                    .await
                    .unwrap_err()
            ),
            "NotCustodian"
        );
        // A verifier is registered once per key.
        assert_eq!(
            error_name(
                r.registerVerifier(FixedBytes(DIGEST), SHAPE_6, *r.address())
                    .send()
                    .await
                    .unwrap_err()
            ),
            "VerifierAlreadyRegistered"
        );

        // The next round chains to the first; the getters read it back.
        let h1 = commit(&r, 5, round(2, h0)).await.unwrap();
        let latest = r.latest().call().await.unwrap();
        assert_eq!((latest.roundId, latest.hash), (5, h1));
        assert_eq!(latest.c.previous, h0);
        assert_eq!(r.roundCount().call().await.unwrap(), 2);
        assert_eq!(
            r.getRound(0).call().await.unwrap().root,
            round(1, B256::ZERO).root
        );
        let found = r.roundOfResult(FixedBytes([2; 32])).call().await.unwrap();
        assert!(found.found && found.roundId == 5);
        assert_eq!(
            commit(&r, 3, round(3, h1)).await.unwrap_err(),
            "RoundIdNotIncreasing"
        );
        assert_eq!(
            error_name(r.getRound(1).call().await.unwrap_err()),
            "UnknownRound"
        );

        // verifyInclusion: false for a junk proof and for a leaf that is not a
        // field element; an unknown round reverts.
        let ok = r
            .verifyInclusion(0, vec![0u8; 64].into(), FixedBytes([1; 32]))
            .call()
            .await
            .unwrap();
        assert!(!ok);
        let leaf = FixedBytes::<32>(hex::decode(R).unwrap().try_into().unwrap());
        assert!(!r
            .verifyInclusion(0, vec![].into(), leaf)
            .call()
            .await
            .unwrap());
        assert_eq!(
            error_name(
                r.verifyInclusion(9, vec![].into(), FixedBytes([1; 32]))
                    .call()
                    .await
                    .unwrap_err()
            ),
            "UnknownRound"
        );
        Ok(())
    })
    .unwrap();
}

/// A genuine proof: `verifyInclusion` accepts it with the root and totals of the
/// registry's storage; the same leaf plus the field's order (the same value modulo
/// it, for the verifier) is refused; less gas than the verifier's budget reverts
/// rather than answering false.
#[test]
fn verify_inclusion_accepts_a_genuine_proof_and_nothing_near_it() {
    use summa_agg::field::fr_to_u256;
    use summa_agg_zk::keys::{Keys, SrsSource};
    use summa_agg_zk::{Shape, Witness};

    let shape = Shape {
        layout: summa_agg::Layout::V1,
        depth: 6,
        currencies: 2,
        n_bytes: 14,
    };
    let keys = Keys::generate(shape, &SrsSource::UnsafeTest).unwrap();
    let (proof, public) =
        summa_agg_zk::proof::prove_raw(&keys, shape, Witness::synthetic(&shape, 3)).unwrap();
    let word = |x: &summa_agg::Fr| fr_to_u256(x).to_be_bytes::<32>();
    let digest = summa_agg_zk::evm::vk_digest(keys.pk.get_vk());

    let anvil = anvil();
    super::registry::block_on(async {
        let r = registry_with(&anvil, digest).await;
        let c = Commitment {
            root: FixedBytes(word(&public[1])),
            totals: public[2..]
                .iter()
                .map(|t| U256::from_be_bytes(word(t)))
                .collect(),
            labelsHash: FixedBytes([0x1a; 32]),
            vkDigest: FixedBytes(digest),
            resultSha256: FixedBytes([1; 32]),
            previous: B256::ZERO,
        };
        commit(&r, 0, c).await.unwrap();
        let leaf = FixedBytes(word(&public[0]));
        let ask = |leaf: FixedBytes<32>, proof: Vec<u8>| r.verifyInclusion(0, proof.into(), leaf);
        assert!(ask(leaf, proof.clone()).call().await.unwrap());
        let r_plus = U256::from_be_bytes::<32>(hex::decode(R).unwrap().try_into().unwrap())
            + U256::from_be_bytes(leaf.0);
        assert!(!ask(FixedBytes(r_plus.to_be_bytes()), proof.clone())
            .call()
            .await
            .unwrap());
        let mut tampered = proof.clone();
        tampered[100] ^= 1;
        assert!(!ask(leaf, tampered).call().await.unwrap());
        assert_eq!(
            error_name(
                ask(leaf, proof.clone())
                    .gas(1_000_000)
                    .call()
                    .await
                    .unwrap_err()
            ),
            "OutOfGas"
        );
        Ok(())
    })
    .unwrap();
}
