//! The round registry's bindings (alloy's `sol!` over the compiled artifact in
//! `contracts/out/`), the connection to a JSON-RPC endpoint, and the conversions
//! between the contract's types and the verifier's [`Record`].

use std::path::Path;
use std::str::FromStr;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, FixedBytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use summa_agg::field::U256 as CoreU256;
use summa_agg::{Error, Result};
use summa_agg_zk::record::{layout_code, layout_of, Record, RecordWords};
use summa_agg_zk::Shape;

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    RoundRegistry,
    "../contracts/out/RoundRegistry.json"
);

pub use RoundRegistry::{Commitment, RoundRegistryErrors, RoundRegistryInstance};

/// The environment variable holding the custodian's signing key (hex), when no
/// keystore is given. A key is never taken from an argument: arguments show in
/// `ps` and in shell histories.
pub const KEY_ENV: &str = "SUMMA_CHAIN_KEY";
/// The environment variable holding the keystore's password.
pub const KEYSTORE_PASSWORD_ENV: &str = "SUMMA_KEYSTORE_PASSWORD";

/// A chain error: the message says what failed. The endpoint's words (an RPC
/// server's message, a revert's data) are escaped: an endpoint is not trusted
/// with the user's terminal.
pub fn chain_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "{what}: {}",
        summa_agg::text::shown(&e.to_string())
    ))
}

/// An error of a registry call, with the contract's custom error named when the
/// call reverted with one.
pub fn call_err(what: &str, e: alloy::contract::Error) -> Error {
    match e.as_decoded_interface_error::<RoundRegistryErrors>() {
        Some(decoded) => Error::Invalid(format!(
            "{what}: the registry refused it: {}",
            describe(&decoded)
        )),
        None => chain_err(what, e),
    }
}

/// A custom error of the registry, named, with its arguments.
pub fn describe(e: &RoundRegistryErrors) -> String {
    use RoundRegistryErrors as E;
    match e {
        E::NotCustodian(x) => format!("NotCustodian({}): only the custodian may commit", x.caller),
        E::VerifierAlreadyRegistered(x) => {
            format!("VerifierAlreadyRegistered({}, {})", x.vkDigest, x.existing)
        }
        E::NotAContract(x) => format!("NotAContract({})", x.verifier),
        E::BadShape(_) => "BadShape()".into(),
        E::RoundAlreadyCommitted(x) => format!(
            "RoundAlreadyCommitted({}): a round id commits once",
            x.roundId
        ),
        E::RoundIdNotIncreasing(x) => format!(
            "RoundIdNotIncreasing(latest {}, given {})",
            x.latestId, x.roundId
        ),
        E::WrongPrevious(x) => format!(
            "WrongPrevious(expected {}, given {}): the commitment must name the latest one",
            x.expected, x.given
        ),
        E::NoVerifier(x) => format!(
            "NoVerifier({}): register the shape's verifier first (summa-agg chain deploy)",
            x.vkDigest
        ),
        E::WrongTotals(x) => format!("WrongTotals(given {}, expected {})", x.given, x.expected),
        E::ResultAlreadyCommitted(x) => format!(
            "ResultAlreadyCommitted({}, round {})",
            x.resultSha256, x.existingRoundId
        ),
        E::ZeroRoot(_) => "ZeroRoot()".into(),
        E::NotAFieldElement(x) => format!("NotAFieldElement({})", x.value),
        E::TotalOutOfRange(x) => format!("TotalOutOfRange(index {}, total {})", x.index, x.total),
        E::OutOfGas(_) => "OutOfGas(): the verifier ran out of gas".into(),
        E::UnknownRound(x) => format!("UnknownRound({})", x.roundId),
        E::NoRounds(_) => "NoRounds(): nothing is committed yet".into(),
    }
}

/// A read-only connection.
pub fn reader(rpc: &str) -> Result<DynProvider> {
    install_tls();
    let url = rpc
        .parse()
        .map_err(|e| chain_err(&format!("--rpc {rpc:?}"), e))?;
    Ok(ProviderBuilder::new().connect_http(url).erased())
}

/// A signing connection: the key from [`KEY_ENV`], or from a keystore file whose
/// password is in [`KEYSTORE_PASSWORD_ENV`].
pub fn signer(rpc: &str, keystore: Option<&Path>) -> Result<(DynProvider, Address)> {
    install_tls();
    let key = match keystore {
        Some(path) => {
            let password = std::env::var(KEYSTORE_PASSWORD_ENV).map_err(|_| {
                Error::Invalid(format!(
                    "--keystore {}: set {KEYSTORE_PASSWORD_ENV} to its password",
                    path.display()
                ))
            })?;
            PrivateKeySigner::decrypt_keystore(path, password)
                .map_err(|e| chain_err(&format!("keystore {}", path.display()), e))?
        }
        None => {
            let hex = std::env::var(KEY_ENV).map_err(|_| {
                Error::Invalid(format!(
                    "no signing key: set {KEY_ENV} to the custodian's private key (hex), or give --keystore FILE"
                ))
            })?;
            PrivateKeySigner::from_str(hex.trim())
                .map_err(|_| Error::Invalid(format!("{KEY_ENV} is not a private key")))?
        }
    };
    let address = key.address();
    let url = rpc
        .parse()
        .map_err(|e| chain_err(&format!("--rpc {rpc:?}"), e))?;
    Ok((signing(key, url), address))
}

/// A provider that signs with `key`. The nonce is asked of the node for each
/// transaction (alloy's default caches it, and a transaction refused before it was
/// sent would leave a gap that stalls the next one).
pub fn signing(key: PrivateKeySigner, url: reqwest::Url) -> DynProvider {
    install_tls();
    ProviderBuilder::default()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(key))
        .connect_http(url)
        .erased()
}

/// rustls' process-wide crypto provider: ring (reqwest is built without one).
pub(crate) fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An address argument.
pub fn address(text: &str, what: &str) -> Result<Address> {
    Address::from_str(text).map_err(|e| chain_err(&format!("{what} {text:?}"), e))
}

/// The registry's `Shape` of a circuit shape.
pub fn shape_of(s: &Shape) -> RoundRegistry::Shape {
    RoundRegistry::Shape {
        layout: layout_code(s.layout),
        depth: s.depth as u8,
        currencies: s.currencies as u8,
        nBytes: s.n_bytes,
    }
}

fn shape_from(s: &RoundRegistry::Shape) -> Result<Shape> {
    let shape = Shape {
        layout: layout_of(s.layout).map_err(|e| Error::Invalid(e.to_string()))?,
        depth: u32::from(s.depth),
        currencies: usize::from(s.currencies),
        n_bytes: s.nBytes,
    };
    shape
        .validate()
        .map_err(|e| Error::Invalid(format!("the registered shape: {e}")))?;
    Ok(shape)
}

fn to_u256(v: &CoreU256) -> U256 {
    U256::from_be_bytes(v.to_be_bytes::<32>())
}

fn from_u256(v: &U256) -> CoreU256 {
    CoreU256::from_be_bytes(v.to_be_bytes::<32>())
}

/// The contract's `Commitment` of a record, naming `previous`.
pub fn commitment(r: &Record, previous: B256) -> Commitment {
    Commitment {
        root: FixedBytes(r.root_bytes()),
        totals: r.totals.iter().map(to_u256).collect(),
        labelsHash: FixedBytes(r.labels),
        vkDigest: FixedBytes(r.vk_digest),
        resultSha256: FixedBytes(r.result_sha256),
        previous,
    }
}

/// A round as the registry records it: its commitment, and the shape registered
/// with the commitment's verifying key.
pub struct OnChain {
    /// The record, as the verifier takes it.
    pub record: Record,
    /// The verifier contract registered for the record's key.
    pub verifier: Address,
    /// The round's commitment hash.
    pub hash: B256,
    /// The latest round's id and the number of rounds.
    pub latest: u64,
    /// The number of committed rounds.
    pub rounds: u64,
    /// The custodian's address.
    pub custodian: Address,
    /// The block all of it was read at.
    pub block: u64,
}

/// Reads round `id` from the registry, all at one block, after checking that the
/// code at the registry's address is this project's `RoundRegistry`, byte for byte
/// (a look-alike contract could answer each user with another round).
pub async fn read_round(registry: &RoundRegistryInstance<DynProvider>, id: u64) -> Result<OnChain> {
    let provider = registry.provider();
    let block = provider
        .get_block_number()
        .await
        .map_err(|e| chain_err("eth_blockNumber", e))?;
    let at = alloy::eips::BlockId::number(block);
    let code = provider
        .get_code_at(*registry.address())
        .block_id(at)
        .await
        .map_err(|e| chain_err("eth_getCode", e))?;
    if code != RoundRegistry::DEPLOYED_BYTECODE {
        return Err(Error::Invalid(format!(
            "the contract at {} is not this project's RoundRegistry ({} bytes of other code): its record cannot be trusted",
            registry.address(),
            code.len()
        )));
    }
    let c = registry
        .getRound(id)
        .block(at)
        .call()
        .await
        .map_err(|e| call_err(&format!("round {id} of registry {}", registry.address()), e))?;
    let latest = registry
        .latest()
        .block(at)
        .call()
        .await
        .map_err(|e| call_err("latest", e))?;
    let rounds = registry
        .roundCount()
        .block(at)
        .call()
        .await
        .map_err(|e| call_err("roundCount", e))?;
    let hash = registry
        .hashOf(id)
        .block(at)
        .call()
        .await
        .map_err(|e| call_err("hashOf", e))?;
    let custodian = registry
        .custodian()
        .block(at)
        .call()
        .await
        .map_err(|e| call_err("custodian", e))?;
    let v = registry
        .verifierOf(c.vkDigest)
        .block(at)
        .call()
        .await
        .map_err(|e| call_err("the round's verifier", e))?;
    if v.verifier == Address::ZERO {
        return Err(Error::Invalid(format!(
            "round {id}: no verifier is registered for its verifying key {}",
            c.vkDigest
        )));
    }
    let shape = shape_from(&v.shape)?;
    let words = RecordWords {
        root: c.root.0,
        totals: c.totals.iter().map(from_u256).collect(),
        labels: c.labelsHash.0,
        vk_digest: c.vkDigest.0,
        result_sha256: c.resultSha256.0,
    };
    Ok(OnChain {
        record: Record::recorded(id, shape, words).map_err(|e| Error::Invalid(e.to_string()))?,
        verifier: v.verifier,
        hash,
        latest: latest.roundId,
        rounds,
        custodian,
        block,
    })
}

/// Runs a future on a current-thread runtime (the chain commands are a few
/// requests in a row).
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| chain_err("tokio", e))?
        .block_on(f)
}

/// The bytes of a compiled artifact's `bytecode.object`, with its `sourceSha256`.
pub struct Artifact {
    /// The creation code.
    pub bytecode: Vec<u8>,
    /// The deployed code's size.
    pub deployed_size: usize,
    /// The SHA-256 of the source it was compiled from (hex).
    pub source_sha256: String,
}

/// Reads an artifact written by `contracts/build.mjs`.
pub fn read_artifact(path: &Path) -> Result<Artifact> {
    let text = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let bad = |problem: String| Error::Format {
        path: path.display().to_string(),
        what: "contract artifact",
        problem,
    };
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let code = |field: &str| -> Result<Vec<u8>> {
        v[field]["object"]
            .as_str()
            .and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad(format!("no {field}.object")))
    };
    Ok(Artifact {
        bytecode: code("bytecode")?,
        deployed_size: code("deployedBytecode")?.len(),
        source_sha256: v["sourceSha256"]
            .as_str()
            .ok_or_else(|| bad("no sourceSha256".into()))?
            .to_string(),
    })
}

/// The registry's creation code, compiled from `contracts/src/RoundRegistry.sol`.
pub fn registry_bytecode() -> &'static alloy::primitives::Bytes {
    &RoundRegistry::BYTECODE
}

/// The runtime code's size at `address`.
pub async fn code_size(provider: &DynProvider, address: Address) -> Result<usize> {
    Ok(provider
        .get_code_at(address)
        .await
        .map_err(|e| chain_err("eth_getCode", e))?
        .len())
}
