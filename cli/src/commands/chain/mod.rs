//! `summa-agg chain ...`: the round's on-chain record. `gen-verifier` writes the
//! Solidity verifier of a shape's keys, `deploy` deploys the round registry and a
//! shape's verifier, `publish` commits a round; `verify --rpc` (in `zk.rs`) reads a
//! round back from [`registry::read_round`].

pub mod registry;

use std::path::Path;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{FixedBytes, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use serde::Serialize;
use sha2::{Digest, Sha256};
use summa_agg::round::RESULT_FILE;
use summa_agg::{Error, Result};
use summa_agg_zk::evm::{solidity_verifier, vk_digest};
use summa_agg_zk::keys::Keys;
use summa_agg_zk::record::Record;

use super::zk::warn_unsafe;
use crate::args::{ChainDeployArgs, ChainGenArgs, ChainPublishArgs};
use registry::{
    address, block_on, call_err, chain_err, code_size, commitment, read_artifact,
    registry_bytecode, shape_of, RoundRegistry, RoundRegistryErrors,
};

/// EIP-170's limit on a contract's code.
const EIP_170: usize = 24_576;

/// How long `publish` and `deploy` wait for a receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn load_keys(dir: &Path) -> Result<Keys> {
    Keys::load(dir).map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))
}

/// The header line of a verifier made on the unsafe test SRS: the source says so.
const UNSAFE_HEADER: &str = "// UNSAFE TEST SRS: a verifier for tests and examples only; anyone can forge proofs it accepts.\n";

/// The Solidity source of the verifier of `keys` (with [`UNSAFE_HEADER`] first when
/// they sit on the unsafe test SRS).
fn verifier_source(keys: &Keys) -> String {
    let code = solidity_verifier(&keys.params, keys.pk.get_vk(), &keys.meta.shape);
    if keys.is_unsafe_test() {
        format!("{UNSAFE_HEADER}{}", code.trim_start())
    } else {
        code.trim_start().to_string()
    }
}

/// `chain gen-verifier --keys KEYS --out FILE.sol`.
pub fn gen_verifier(a: ChainGenArgs) -> Result<()> {
    let keys = load_keys(&a.keys)?;
    let source = verifier_source(&keys);
    std::fs::write(&a.out, &source).map_err(|e| Error::io(a.out.display().to_string(), e))?;
    warn_unsafe(keys.is_unsafe_test());
    tell!(
        "summa-agg: the verifier of shape {} ({} SRS) in {}; compile it with node contracts/build.mjs",
        keys.meta.shape.id(),
        keys.setup.name(),
        a.out.display()
    );
    crate::output::print_json(
        &serde_json::json!({
            "shape": keys.meta.shape.id(),
            "vk_digest": B256::from(vk_digest(keys.pk.get_vk())).to_string(),
            "source_sha256": hex::encode(Sha256::digest(source.as_bytes())),
            "unsafe_test_srs": keys.is_unsafe_test(),
        }),
        false,
    )
}

async fn wait_receipt(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    what: &str,
) -> Result<alloy::rpc::types::TransactionReceipt> {
    let hash = *pending.tx_hash();
    let receipt = pending
        .with_timeout(Some(RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .map_err(|e| chain_err(&format!("{what}: transaction {hash}"), e))?;
    if !receipt.status() {
        return Err(Error::Invalid(format!(
            "{what}: transaction {hash} reverted in block {}",
            receipt.block_number.unwrap_or_default()
        )));
    }
    Ok(receipt)
}

async fn deploy_code(
    provider: &DynProvider,
    code: Vec<u8>,
    what: &str,
) -> Result<alloy::primitives::Address> {
    let tx = TransactionRequest::default().with_deploy_code(code);
    let pending = provider
        .send_transaction(tx)
        .await
        .map_err(|e| chain_err(&format!("deploying {what}"), e))?;
    let receipt = wait_receipt(pending, &format!("deploying {what}")).await?;
    receipt
        .contract_address
        .ok_or_else(|| Error::Invalid(format!("deploying {what}: no contract address")))
}

#[derive(Serialize)]
struct Deployed {
    registry: String,
    verifier: String,
    custodian: String,
    shape: String,
    vk_digest: String,
    registry_bytes: usize,
    verifier_bytes: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unsafe_test_srs: bool,
}

/// `chain deploy`: the registry (unless `--registry` names one), the verifier of
/// the keys' shape from its compiled artifact (which must have been compiled from
/// the source these keys give), and its registration.
pub fn deploy(a: ChainDeployArgs) -> Result<()> {
    let keys = load_keys(&a.keys)?;
    let artifact = read_artifact(&a.verifier_artifact)?;
    let source = verifier_source(&keys);
    let want = hex::encode(Sha256::digest(source.as_bytes()));
    if artifact.source_sha256 != want {
        return Err(Error::Invalid(format!(
            "{}: not compiled from the verifier of the keys in {} (source SHA-256 {}, expected {want}): run summa-agg chain gen-verifier, then node contracts/build.mjs",
            a.verifier_artifact.display(),
            a.keys.display(),
            artifact.source_sha256
        )));
    }
    if artifact.deployed_size > EIP_170 {
        return Err(Error::Invalid(format!(
            "{}: {} bytes of code, over EIP-170's {EIP_170}",
            a.verifier_artifact.display(),
            artifact.deployed_size
        )));
    }
    let digest = vk_digest(keys.pk.get_vk());
    let shape = keys.meta.shape;
    block_on(async {
        let (provider, me) = registry::signer(&a.signer.rpc, a.signer.keystore.as_deref())?;
        let registry_address = match &a.registry {
            Some(r) => address(r, "--registry")?,
            None => deploy_code(&provider, registry_bytecode().to_vec(), "the registry").await?,
        };
        let registry = RoundRegistry::new(registry_address, provider.clone());
        let existing = registry
            .verifierOf(FixedBytes(digest))
            .call()
            .await
            .map_err(|e| call_err("verifierOf", e))?;
        let verifier = if existing.verifier != alloy::primitives::Address::ZERO {
            tell!(
                "summa-agg: the verifier of this key is already registered at {}",
                existing.verifier
            );
            existing.verifier
        } else {
            let verifier =
                deploy_code(&provider, artifact.bytecode.clone(), "the verifier").await?;
            let pending = registry
                .registerVerifier(FixedBytes(digest), shape_of(&shape), verifier)
                .send()
                .await
                .map_err(|e| call_err("registerVerifier", e))?;
            wait_receipt(pending, "registerVerifier").await?;
            verifier
        };
        warn_unsafe(keys.is_unsafe_test());
        crate::output::print_json(
            &Deployed {
                registry: registry_address.to_string(),
                verifier: verifier.to_string(),
                custodian: me.to_string(),
                shape: shape.id(),
                vk_digest: B256::from(digest).to_string(),
                registry_bytes: code_size(&provider, registry_address).await?,
                verifier_bytes: code_size(&provider, verifier).await?,
                unsafe_test_srs: keys.is_unsafe_test(),
            },
            false,
        )
    })
}

#[derive(Serialize)]
struct Published {
    round_id: u64,
    transaction: String,
    block: u64,
    gas_used: u64,
    /// `eth_estimateGas` of the commit (0 when nothing was sent).
    estimated_gas: u64,
    commitment: String,
    result_sha256: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    already_published: bool,
}

/// `chain publish --round DIR`: checks the round, then commits it (once: a result
/// already on the chain is reported, not committed again).
pub fn publish(a: ChainPublishArgs) -> Result<()> {
    // The round's files, checked as a re-used previous round's are.
    let (bytes, result) = summa_agg::round::check_completed(&a.round).map_err(Error::Invalid)?;
    let keys = load_keys(&a.keys)?;
    let record = Record::of_parsed(&bytes, &result, vk_digest(keys.pk.get_vk()))
        .map_err(|e| Error::Invalid(format!("{}: {e}", a.round.join(RESULT_FILE).display())))?;
    if record.shape != keys.meta.shape {
        return Err(Error::Invalid(format!(
            "the keys in {} are for shape {}, the round has shape {}",
            a.keys.display(),
            keys.meta.shape.id(),
            record.shape.id()
        )));
    }
    block_on(async {
        let (provider, _) = registry::signer(&a.signer.rpc, a.signer.keystore.as_deref())?;
        let registry = RoundRegistry::new(address(&a.registry, "--registry")?, provider.clone());
        // Published before (a retry after a timeout): report it, send nothing.
        let committed_as = || async {
            registry
                .roundOfResult(FixedBytes(record.result_sha256))
                .call()
                .await
                .map_err(|e| call_err("roundOfResult", e))
        };
        let found = committed_as().await?;
        if found.found {
            let recorded = registry
                .getRound(found.roundId)
                .call()
                .await
                .map_err(|e| call_err("getRound", e))?;
            if recorded.vkDigest.0 != record.vk_digest {
                return Err(Error::Invalid(format!(
                    "this result.json is committed as round {} with another verifying key ({}) than the keys in {}",
                    found.roundId,
                    recorded.vkDigest,
                    a.keys.display()
                )));
            }
            if a.round_id.is_some_and(|id| id != found.roundId) {
                return Err(Error::Invalid(format!(
                    "this result.json is already committed as round {}, not {}",
                    found.roundId,
                    a.round_id.unwrap_or_default()
                )));
            }
            let hash = registry
                .hashOf(found.roundId)
                .call()
                .await
                .map_err(|e| call_err("hashOf", e))?;
            tell!(
                "summa-agg: this result.json is already published as round {}: nothing sent",
                found.roundId
            );
            return crate::output::print_json(
                &Published {
                    round_id: found.roundId,
                    transaction: String::new(),
                    block: 0,
                    gas_used: 0,
                    estimated_gas: 0,
                    commitment: hash.to_string(),
                    result_sha256: B256::from(record.result_sha256).to_string(),
                    already_published: true,
                },
                false,
            );
        }
        let (next_id, previous) = match registry.latest().call().await {
            Ok(l) => (l.roundId + 1, l.hash),
            Err(e)
                if matches!(
                    e.as_decoded_interface_error::<RoundRegistryErrors>(),
                    Some(RoundRegistryErrors::NoRounds(_))
                ) =>
            {
                (0, B256::ZERO)
            }
            Err(e) => return Err(call_err("latest", e)),
        };
        let id = a.round_id.unwrap_or(next_id);
        let c = commitment(&record, previous);
        let call = registry.commit(id, c);
        let gas = call
            .estimate_gas()
            .await
            .map_err(|e| call_err(&format!("commit of round {id}"), e))?;
        let pending = call
            .gas(gas + gas / 5)
            .send()
            .await
            .map_err(|e| call_err(&format!("commit of round {id}"), e))?;
        let receipt = match wait_receipt(pending, &format!("commit of round {id}")).await {
            Ok(r) => r,
            Err(e) => {
                // Another publisher of the same round (a retry while this one was
                // pending) may have committed it first: say so rather than fail.
                let found = committed_as().await?;
                if found.found {
                    return Err(Error::Invalid(format!(
                        "{e}: this result.json is already committed as round {} (by another transaction): nothing more to do",
                        found.roundId
                    )));
                }
                return Err(e);
            }
        };
        let hash = receipt
            .decoded_log::<RoundRegistry::RoundCommitted>()
            .map(|event| event.commitmentHash)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "commit of round {id}: transaction {} emitted no RoundCommitted",
                    receipt.transaction_hash
                ))
            })?;
        tell!(
            "summa-agg: round {id} committed in block {} by transaction {} ({} gas)",
            receipt.block_number.unwrap_or_default(),
            receipt.transaction_hash,
            receipt.gas_used
        );
        crate::output::print_json(
            &Published {
                round_id: id,
                transaction: receipt.transaction_hash.to_string(),
                block: receipt.block_number.unwrap_or_default(),
                gas_used: receipt.gas_used,
                estimated_gas: gas,
                commitment: hash.to_string(),
                result_sha256: B256::from(record.result_sha256).to_string(),
                already_published: false,
            },
            false,
        )
    })
}

/// Round `id` as the registry at `registry` records it.
pub fn read_round(rpc: &str, registry: &str, id: u64) -> Result<registry::OnChain> {
    block_on(async {
        let provider = registry::reader(rpc)?;
        let r = RoundRegistry::new(address(registry, "--registry")?, provider);
        registry::read_round(&r, id).await
    })
}

/// The EVM's verdict: the registry's `verifyInclusion(id, proof, leaf)`, with the
/// root and totals from the registry's storage; when it accepts, also the gas that
/// the verifier contract itself uses for the proof (`eth_estimateGas` of a direct
/// call with the same calldata). `public` is `[leaf, root, totals..]`.
pub fn evm_verdict(
    rpc: &str,
    on: &registry::OnChain,
    registry: &str,
    id: u64,
    proof: &[u8],
    public: &[summa_agg::Fr],
) -> Result<(bool, Option<u64>)> {
    let input = summa_agg_zk::evm::calldata(public, proof);
    let leaf = B256::from_slice(&input[..32]);
    block_on(async {
        let provider = registry::reader(rpc)?;
        let r = RoundRegistry::new(address(registry, "--registry")?, provider.clone());
        let accepted = r
            .verifyInclusion(id, proof.to_vec().into(), leaf)
            .call()
            .await
            .map_err(|e| call_err("verifyInclusion", e))?;
        if !accepted {
            return Ok((false, None));
        }
        let tx = TransactionRequest::default()
            .to(on.verifier)
            .input(input.into());
        let gas = provider
            .estimate_gas(tx)
            .await
            .map_err(|e| chain_err("eth_estimateGas of the verifier", e))?;
        Ok((true, Some(gas)))
    })
}

#[cfg(test)]
mod tests;
