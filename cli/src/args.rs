//! The command line: what `summa-agg` accepts (clap). Each command's arguments
//! are a struct, handed whole to the command's module (`commands/`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use summa_agg::layout::DEFAULT_N_BYTES;
use summa_agg::{Layout, Params};

#[derive(Parser)]
#[command(
    name = "summa-agg",
    version,
    about = "Summa-exact Merkle sum trees over CSV shards"
)]
pub struct Cli {
    /// The engine's threads (default: one per CPU the process may use, affinity
    /// and cgroup aware). With 1 the work runs on the calling thread and no
    /// thread is started.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Builds a round: a mini-tree per shard, then the aggregation tree. The last
    /// line on stdout is the result as one JSON object.
    Round(RoundArgs),
    /// Prints a user's inclusion proof as JSON: the zero-knowledge proof (the only
    /// proof to hand a user), or with --merkle the custodian's own Merkle proof.
    Proof(ProofArgs),
    /// Verifies a proof against what the custodian published: exit 0 only if it
    /// holds. A zero-knowledge proof needs the root and totals (--result, or --root
    /// with --totals); its verifying key is the one pinned in this program for the
    /// shape, or is derived from the circuit and a ceremony's SRS file (--srs, or
    /// --keys).
    Verify(VerifyArgs),
    #[cfg(feature = "zk")]
    /// Makes the zero-knowledge proving and verifying keys of a round's shape (or of
    /// an explicit one) and writes them into --out; prints keys.json. With --check,
    /// confirms that published keys are this circuit's on a ceremony's SRS.
    ZkKeys(ZkKeysArgs),
    /// Benchmarks an incremental round: SHARDS shards of USERS generated users, a
    /// full round, then CHANGED shards changed and the round built again both in
    /// full and with --previous; checks both roots are equal, prints CPU and wall.
    BenchIncremental(BenchIncrementalArgs),
    #[cfg(feature = "zk")]
    /// Benchmarks zero-knowledge proofs of a shape (unsafe test SRS, synthetic path):
    /// key generation, proving (wall and CPU), verifying, sizes, peak memory.
    BenchZk(BenchZkArgs),
    /// Cuts one big CSV into shards of K users.
    Split(SplitArgs),
    /// Benchmarks the engine against summa-solvency's algorithm on generated users:
    /// checks both roots are equal, prints CPU times, the ratio and peak memory.
    Bench(BenchArgs),
    /// Prints a mini-tree in summa-aggregation's mini-tree-generator JSON shape.
    ExportJson(ExportJsonArgs),
    /// Checks this build's field arithmetic and Poseidon against halo2curves and
    /// the generic primitive (edge and pseudo-random values; starts no thread, so
    /// it runs under qemu-user: infra/arm64-test.sh). Prints one JSON line.
    #[command(hide = true)]
    SelfTest(SelfTestArgs),
    #[cfg(feature = "chain")]
    /// The round's on-chain record: the Solidity verifier of a shape's keys, the
    /// deployment of the round registry and a verifier, the commitment of a round.
    #[command(subcommand)]
    Chain(ChainCommand),
    #[cfg(feature = "s3")]
    /// Runs one step of the state machine (plan, mini-tree, aggregator) on its
    /// input JSON (--event, or - for stdin) over a local directory as the storage
    /// (bucket B is DIR/B), in this process; prints its output as one JSON line.
    /// Re-runs a failed step; the scale probe measures each step with it.
    Step(StepArgs),
}

// `Step`'s arguments.
#[cfg(feature = "s3")]
#[derive(Args)]
pub struct StepArgs {
    /// The step: plan, mini-tree or aggregator (its input picks the mode: the
    /// round, an index partition, or a failed execution's event).
    #[arg(value_parser = ["plan", "mini-tree", "aggregator"])]
    pub name: String,
    /// The step's input JSON file (- for stdin).
    #[arg(long)]
    pub event: PathBuf,
    /// The storage: a directory with one sub-directory per bucket.
    #[arg(long)]
    pub dir: PathBuf,
    /// Also print the storage requests and bytes read and written, as one JSON
    /// line on stderr.
    #[arg(long)]
    pub stats: bool,
}

// `SelfTest`'s arguments.
#[derive(Args)]
pub struct SelfTestArgs {
    /// Pseudo-random cases (each: 12 field checks).
    #[arg(long, default_value_t = 20_000)]
    pub cases: usize,
}

// `Round`'s arguments (the help text is the variant's).
#[derive(Args)]
#[command(
    mut_arg("layout", |a| a.help(
        "Hash layout: v1, agg2023 or legacy (default v1; over S3, the manifest's)"
    )),
    mut_arg("n_bytes", |a| a.help(
        "Every balance and total must be below 2^(8 * n_bytes) (default 14; over S3, \
         the manifest's)"
    ))
)]
pub struct RoundArgs {
    /// Shard files, or directories whose *.csv files are the shards (ordered
    /// by file name).
    #[arg(required_unless_present = "bucket")]
    pub inputs: Vec<PathBuf>,
    /// Where to write the mini-trees, the aggregation tree and result.json.
    #[arg(long, required_unless_present = "bucket")]
    pub out: Option<PathBuf>,
    // --layout and --n-bytes.
    #[command(flatten)]
    pub params: ParamsArgs,
    /// Runs the round over S3 instead: the shards and manifest under
    /// s3://BUCKET/PREFIX (any endpoint set with AWS_ENDPOINT_URL), with the
    /// Lambda functions' handlers in-process.
    #[arg(long, requires = "prefix", conflicts_with_all = ["inputs", "out"])]
    pub bucket: Option<String>,
    /// The round's prefix in the bucket (`P`, holding `P/round.json`).
    #[arg(long, requires = "bucket")]
    pub prefix: Option<String>,
    /// A previous round's output directory: shards whose bytes are unchanged
    /// since it re-use its mini-trees (checked) instead of being rebuilt.
    #[arg(long, conflicts_with = "bucket")]
    pub previous: Option<PathBuf>,
}

/// `--layout` and `--n-bytes`, each optional (the help text is the command's):
/// the round parameters, defaults filled in by [`ParamsArgs::params`].
#[derive(Args)]
pub struct ParamsArgs {
    #[arg(long)]
    pub layout: Option<Layout>,
    #[arg(long)]
    pub n_bytes: Option<u8>,
}

impl ParamsArgs {
    /// Whether either was given.
    pub fn any(&self) -> bool {
        self.layout.is_some() || self.n_bytes.is_some()
    }

    /// The parameters, v1 and [`DEFAULT_N_BYTES`] where not given.
    pub fn params(&self) -> Params {
        Params {
            layout: self.layout.unwrap_or_default(),
            n_bytes: self.n_bytes.unwrap_or(DEFAULT_N_BYTES),
        }
    }
}

// `Proof`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct ProofArgs {
    /// The round's output directory.
    #[arg(long)]
    pub round: PathBuf,
    /// The username.
    #[arg(long)]
    pub user: String,
    /// The keys of the round's shape (from `summa-agg zk-keys`).
    #[cfg(feature = "zk")]
    #[arg(
        long,
        value_name = "KEYS",
        alias = "zk",
        required_unless_present = "merkle"
    )]
    pub keys: Option<PathBuf>,
    /// The Merkle proof instead: it shows the sibling leaf's balances and every
    /// sibling subtree's sums. The custodian's own tool; never for a user.
    #[cfg_attr(feature = "zk", arg(long, conflicts_with = "keys"))]
    #[cfg_attr(not(feature = "zk"), arg(long, required = true))]
    pub merkle: bool,
}

// `Verify`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct VerifyArgs {
    /// The proof, as printed by `summa-agg proof`.
    pub proof: PathBuf,
    /// The custodian's published result.json: the root hash, totals,
    /// currencies, layout, depth and n_bytes are taken from it, not from the
    /// proof.
    #[arg(long)]
    pub result: Option<PathBuf>,
    /// The published root hash the proof must reach.
    #[arg(long)]
    pub root: Option<String>,
    /// With --root, for a zero-knowledge proof: the published per-currency
    /// totals, in the round's currency order.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "root",
        conflicts_with = "result"
    )]
    pub totals: Option<Vec<String>>,
    /// An SRS file of a public ceremony in halo2's format with at least 2^k
    /// points (a ceremony's raw file, or the custodian's srs.bin): checked
    /// against the ceremonies pinned in this program, and the verifying key
    /// derived from it (seconds). Without it (nor --keys), the key pinned in this
    /// program for the shape (milliseconds; a shape not pinned needs the file).
    #[arg(long, value_name = "FILE")]
    pub srs: Option<PathBuf>,
    /// A keys directory: its srs.bin is the SRS (unless --srs), and its vk.bin
    /// must be the verifying key derived from the circuit.
    #[arg(long, value_name = "KEYS")]
    pub keys: Option<PathBuf>,
    /// Accepts the unsafe test setup: the result then proves nothing.
    #[arg(long)]
    pub unsafe_test_srs: bool,
    /// The username the proof must be for.
    #[arg(long)]
    pub user: Option<String>,
    /// The balances the proof must be for, in the published currency order.
    #[arg(long, value_delimiter = ',')]
    pub balances: Option<Vec<String>>,
    /// An Ethereum JSON-RPC endpoint: the round's root, totals, shape, labels and
    /// verifying key come from the round registry's record (with --registry and
    /// --round-id); a --result given too must be the recorded one.
    #[cfg(feature = "chain")]
    #[arg(long, value_name = "URL", requires_all = ["registry", "round_id"], conflicts_with_all = ["root", "totals"])]
    pub rpc: Option<String>,
    /// The round registry's address.
    #[cfg(feature = "chain")]
    #[arg(long, value_name = "ADDR", requires = "rpc")]
    pub registry: Option<String>,
    /// The round's id in the registry.
    #[cfg(feature = "chain")]
    #[arg(long, value_name = "N", requires = "rpc")]
    pub round_id: Option<u64>,
    /// Also asks the registry's verifyInclusion (the EVM verifier generated from
    /// the circuit) and prints both verdicts; exit 0 only if both accept.
    #[cfg(feature = "chain")]
    #[arg(long, requires = "rpc")]
    pub evm: bool,
}

#[cfg(feature = "chain")]
#[derive(clap::Subcommand)]
pub enum ChainCommand {
    /// Writes the Solidity verifier of a keys directory's shape and SRS (generated
    /// by snark-verifier from the verifying key); prints its key's digest.
    GenVerifier(ChainGenArgs),
    /// Deploys the round registry (unless --registry) and the verifier of the
    /// keys' shape (from its compiled artifact), registers the verifier; prints
    /// the addresses as one JSON line. Signs with $SUMMA_CHAIN_KEY or --keystore.
    Deploy(ChainDeployArgs),
    /// Checks a round's result.json against its files and commits it to the
    /// registry; prints the round id, transaction, block and gas used. A result
    /// already committed is reported, never committed twice.
    Publish(ChainPublishArgs),
}

#[cfg(feature = "chain")]
#[derive(Args)]
pub struct ChainGenArgs {
    /// The keys directory (summa-agg zk-keys).
    #[arg(long)]
    pub keys: PathBuf,
    /// Where to write the Solidity source.
    #[arg(long)]
    pub out: PathBuf,
}

#[cfg(feature = "chain")]
#[derive(Args)]
pub struct ChainSigner {
    /// The Ethereum JSON-RPC endpoint.
    #[arg(long, value_name = "URL")]
    pub rpc: String,
    /// A keystore file (its password in $SUMMA_KEYSTORE_PASSWORD) instead of
    /// $SUMMA_CHAIN_KEY.
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
}

#[cfg(feature = "chain")]
#[derive(Args)]
pub struct ChainDeployArgs {
    #[command(flatten)]
    pub signer: ChainSigner,
    /// The keys directory of the shape.
    #[arg(long)]
    pub keys: PathBuf,
    /// The verifier's compiled artifact (contracts/out/*.json), compiled from the
    /// source `gen-verifier` writes for these keys.
    #[arg(long, value_name = "FILE")]
    pub verifier_artifact: PathBuf,
    /// An existing registry: only the verifier is deployed and registered.
    #[arg(long, value_name = "ADDR")]
    pub registry: Option<String>,
}

#[cfg(feature = "chain")]
#[derive(Args)]
pub struct ChainPublishArgs {
    #[command(flatten)]
    pub signer: ChainSigner,
    /// The round's output directory (result.json and its files).
    #[arg(long)]
    pub round: PathBuf,
    /// The round registry's address.
    #[arg(long, value_name = "ADDR")]
    pub registry: String,
    /// The keys of the round's shape: the digest of their verifying key is
    /// committed.
    #[arg(long)]
    pub keys: PathBuf,
    /// The round id (default: the latest plus one, or 0).
    #[arg(long, value_name = "N")]
    pub round_id: Option<u64>,
}

#[cfg(feature = "zk")]
// `ZkKeys`'s arguments (the help text is the variant's).
#[derive(Args)]
#[command(
    mut_arg("layout", |a| a.help("Explicit shape: the hash layout (default v1)")),
    mut_arg("n_bytes", |a| a.help("Explicit shape: n_bytes (default 14)"))
)]
pub struct ZkKeysArgs {
    /// The round's output directory: the shape comes from its result.json.
    #[arg(long, required_unless_present_any = ["depth", "check"], conflicts_with_all = ["depth", "currencies", "layout", "n_bytes"])]
    pub round: Option<PathBuf>,
    // The explicit shape instead: --depth and --currencies, then --layout and
    // --n-bytes.
    #[command(flatten)]
    pub shape: ShapeArgs,
    #[command(flatten)]
    pub params: ParamsArgs,
    /// The structured reference string: a pinned public ceremony's file in
    /// halo2's `ParamsKZG` format (e.g. perpetual-powers-of-tau-raw-<k>,
    /// hermez-raw-<k>) with >= 2^k points.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["unsafe_test_srs", "check"])]
    pub srs: Option<PathBuf>,
    /// Uses a deterministic SRS from a public seed: anyone can forge proofs
    /// against such keys. For tests and examples only.
    #[arg(long)]
    pub unsafe_test_srs: bool,
    /// Where to write the keys.
    #[arg(long, required_unless_present = "check")]
    pub out: Option<PathBuf>,
    /// Checks the keys directory KEYS instead: its vk.bin must be the key
    /// derived from the circuit of its shape over --srs (default KEYS/srs.bin).
    #[arg(long, value_name = "KEYS", conflicts_with_all = ["round", "depth", "out"])]
    pub check: Option<PathBuf>,
}

#[cfg(feature = "zk")]
/// `zk-keys`' explicit shape: `--depth` and `--currencies`, each requiring the
/// other.
#[derive(Args)]
pub struct ShapeArgs {
    /// Explicit shape: the tree's depth.
    #[arg(long, requires = "currencies")]
    pub depth: Option<u32>,
    /// Explicit shape: the number of currencies.
    #[arg(long, requires = "depth")]
    pub currencies: Option<usize>,
}

#[cfg(feature = "zk")]
impl ShapeArgs {
    /// The explicit shape with `params` (clap requires --depth and --currencies
    /// without --round or --check).
    pub fn shape(&self, params: Params) -> summa_agg_zk::Shape {
        crate::commands::zk::explicit_shape(
            params.layout,
            self.depth.expect("clap requires --depth"),
            self.currencies.expect("clap requires --currencies"),
            params.n_bytes,
        )
    }
}

// `BenchIncremental`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct BenchIncrementalArgs {
    /// Shards in the round.
    #[arg(long, default_value_t = 16)]
    pub shards: usize,
    /// Users per shard.
    #[arg(long, default_value_t = 1 << 16)]
    pub users: u64,
    /// Shards changed between the two rounds.
    #[arg(long, default_value_t = 1)]
    pub changed: usize,
}

#[cfg(feature = "zk")]
// `BenchZk`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct BenchZkArgs {
    /// The tree's depth.
    #[arg(long, default_value_t = 20)]
    pub depth: u32,
    /// The number of currencies.
    #[arg(long, default_value_t = 2)]
    pub currencies: usize,
    /// The hash layout.
    #[arg(long, default_value = "v1")]
    pub layout: Layout,
    /// n_bytes.
    #[arg(long, default_value_t = DEFAULT_N_BYTES)]
    pub n_bytes: u8,
    /// Proofs to make and verify (times are averaged).
    #[arg(long, default_value_t = 3)]
    pub proofs: usize,
}

// `Split`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct SplitArgs {
    /// The CSV file.
    pub input: PathBuf,
    /// Users per shard.
    #[arg(long)]
    pub shard_size: u64,
    /// The output directory.
    #[arg(long)]
    pub out: PathBuf,
}

// `Bench`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct BenchArgs {
    /// Number of users (one mini-tree).
    #[arg(long, default_value_t = 1 << 16)]
    pub users: u64,
    /// Number of currencies.
    #[arg(long, default_value_t = 2)]
    pub currencies: usize,
    /// Hash layout.
    #[arg(long, default_value = "v1")]
    pub layout: Layout,
    /// Skip the (slow) reference algorithm.
    #[arg(long)]
    pub no_reference: bool,
    /// Skip the single-thread run of the engine.
    #[arg(long)]
    pub no_single_thread: bool,
}

// `ExportJson`'s arguments (the help text is the variant's).
#[derive(Args)]
pub struct ExportJsonArgs {
    /// The round's output directory.
    #[arg(long)]
    pub round: PathBuf,
    /// The mini-tree's index (0-based, in shard order).
    #[arg(long)]
    pub mini_tree: usize,
}
