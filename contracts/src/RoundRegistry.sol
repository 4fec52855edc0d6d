// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.19;

/// @title RoundRegistry
/// @notice An append-only, hash-chained record of a custodian's published solvency
/// rounds (Summa Merkle sum trees), and the zero-knowledge verifiers that check a
/// user's inclusion in one of them.
/// @dev Why it exists: a custodian that publishes `result.json` off-chain can show
/// different users different roots. Once a round is committed here, every user reads
/// the same root and totals, no round can be changed or removed, and each round
/// names the hash of the one before it, so a rewritten history cannot be chained on.
/// The registry trusts the custodian (only it commits) for what a round says; it
/// does not trust callers of `verifyInclusion`, which takes the root and totals
/// from storage only.
contract RoundRegistry {
    /// @notice The circuit's shape, as the verifying key it is registered with was
    /// made for.
    /// @param layout 0 = v1, 1 = agg2023, 2 = legacy.
    /// @param depth The Merkle sum tree's depth (1..32).
    /// @param currencies The number of currencies, hence of totals (1..16).
    /// @param nBytes The byte width of a balance (1..31: a balance stays below the
    /// BN254 scalar field's modulus).
    struct Shape {
        uint8 layout;
        uint8 depth;
        uint8 currencies;
        uint8 nBytes;
    }

    /// @notice What a round commits to.
    /// @param root The Merkle sum tree's root hash (a BN254 scalar, 32 bytes big-endian).
    /// @param totals The per-currency totals, in the order of the currency labels.
    /// @param labelsHash The SHA-256 digest of the currency labels.
    /// @param vkDigest The SHA-256 of the verifying key's bytes; its registered Shape
    /// is the round's circuit shape.
    /// @param resultSha256 The SHA-256 of the round's `result.json`.
    /// @param previous The commitment hash of the previous round (zero for the first).
    struct Commitment {
        bytes32 root;
        uint256[] totals;
        bytes32 labelsHash;
        bytes32 vkDigest;
        bytes32 resultSha256;
        bytes32 previous;
    }

    /// @dev A verifier and the shape of its circuit: one storage slot.
    struct Registered {
        address verifier;
        Shape shape;
    }

    /// @dev Where a `result.json` digest was committed; `found` because round 0 is a
    /// valid id.
    struct ResultRound {
        bool found;
        uint64 roundId;
    }

    /// @notice The only account that may register verifiers and commit rounds: the
    /// deployer. Immutable, so the trust anchor cannot be handed over silently.
    /// @dev Set once by the constructor and never written again (no function does).
    /// Not `immutable` on purpose: an immutable is patched into the deployed code, and a
    /// user's verifier compares the code at the registry's address with the compiled
    /// artifact byte for byte, to know it reads this contract and not a look-alike.
    address public custodian;

    mapping(bytes32 => Registered) private _verifiers;
    mapping(uint64 => Commitment) private _rounds;
    /// @dev Nonzero exactly for committed rounds (a keccak256 output is never zero
    /// in practice), so it doubles as the existence flag.
    mapping(uint64 => bytes32) private _hashes;
    mapping(bytes32 => ResultRound) private _resultRounds;
    uint64 private _count;
    uint64 private _latestId;
    bytes32 private _latestHash;

    /// @notice A verifier was registered for a verifying key, once and for good.
    event VerifierRegistered(bytes32 indexed vkDigest, address verifier, Shape shape);
    /// @notice A round was appended to the chain.
    event RoundCommitted(
        uint64 indexed roundId,
        bytes32 indexed commitmentHash,
        bytes32 previous,
        bytes32 root,
        bytes32 resultSha256,
        bytes32 vkDigest
    );

    /// @notice The caller is not the custodian.
    error NotCustodian(address caller);
    /// @notice The verifying key already has a verifier: it is never replaced, so a
    /// round's verifier cannot change after the fact.
    error VerifierAlreadyRegistered(bytes32 vkDigest, address existing);
    /// @notice The verifier address has no code (a call to it would always succeed).
    error NotAContract(address verifier);
    /// @notice The shape is out of the ranges the circuit supports.
    error BadShape();
    /// @notice The round id is already committed.
    error RoundAlreadyCommitted(uint64 roundId);
    /// @notice Round ids only increase.
    error RoundIdNotIncreasing(uint64 latestId, uint64 roundId);
    /// @notice `previous` is not the latest commitment's hash (zero when none).
    error WrongPrevious(bytes32 expected, bytes32 given);
    /// @notice No verifier is registered for the verifying key.
    error NoVerifier(bytes32 vkDigest);
    /// @notice The number of totals is not the registered shape's currencies.
    error WrongTotals(uint256 given, uint256 expected);
    /// @notice This `result.json` is already committed (so a re-publish after a
    /// timeout cannot commit it twice).
    error ResultAlreadyCommitted(bytes32 resultSha256, uint64 existingRoundId);
    /// @notice The root is zero.
    error ZeroRoot();
    /// @notice A root that is not a BN254 scalar (at or above the field's order):
    /// the verifier would read it modulo that order, as another root.
    error NotAFieldElement(bytes32 value);
    /// @notice A total at or above `2^(8 * nBytes)`, the range every sum of the
    /// tree is proven to lie in.
    error TotalOutOfRange(uint256 index, uint256 total);
    /// @notice Less gas than the verifier's budget was left: call again with more.
    error OutOfGas();
    /// @notice No round has this id.
    error UnknownRound(uint64 roundId);
    /// @notice No round is committed yet.
    error NoRounds();

    /// @dev The gas a verifier may use: an accepting call costs about 350,000
    /// (docs/chain.md), well within it.
    uint256 private constant VERIFIER_GAS = 1_500_000;

    /// @dev The order of BN254's scalar field: public inputs are scalars below it.
    uint256 private constant R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;

    modifier onlyCustodian() {
        if (msg.sender != custodian) revert NotCustodian(msg.sender);
        _;
    }

    constructor() {
        custodian = msg.sender;
    }

    /// @notice Registers `verifier` (a contract generated from the verifying key
    /// whose SHA-256 is `vkDigest`) and its circuit's `shape`. Once per digest.
    function registerVerifier(bytes32 vkDigest, Shape calldata shape, address verifier)
        external
        onlyCustodian
    {
        address existing = _verifiers[vkDigest].verifier;
        if (existing != address(0)) revert VerifierAlreadyRegistered(vkDigest, existing);
        if (verifier.code.length == 0) revert NotAContract(verifier);
        if (
            shape.currencies == 0 || shape.currencies > 16 || shape.layout > 2 || shape.depth == 0
                || shape.depth > 32 || shape.nBytes == 0 || shape.nBytes > 31
        ) revert BadShape();
        _verifiers[vkDigest] = Registered(verifier, shape);
        emit VerifierRegistered(vkDigest, verifier, shape);
    }

    /// @notice The verifier registered for `vkDigest` and its shape (address zero
    /// and an all-zero shape when none).
    function verifierOf(bytes32 vkDigest) external view returns (address verifier, Shape memory shape) {
        Registered storage r = _verifiers[vkDigest];
        return (r.verifier, r.shape);
    }

    /// @notice The hash that chains rounds: `keccak256(abi.encode(roundId, c))`.
    function commitmentHash(uint64 roundId, Commitment calldata c) public pure returns (bytes32) {
        return keccak256(abi.encode(roundId, c));
    }

    /// @notice Appends round `roundId`, which must follow the latest round (larger
    /// id, `previous` = its hash) and use a registered verifying key. Nothing ever
    /// changes or deletes a committed round.
    /// @return The round's commitment hash.
    function commit(uint64 roundId, Commitment calldata c) external onlyCustodian returns (bytes32) {
        if (_hashes[roundId] != 0) revert RoundAlreadyCommitted(roundId);
        uint64 latestId = _latestId;
        if (_count != 0 && roundId <= latestId) revert RoundIdNotIncreasing(latestId, roundId);
        if (c.previous != _latestHash) revert WrongPrevious(_latestHash, c.previous);
        Registered storage v = _verifiers[c.vkDigest];
        if (v.verifier == address(0)) revert NoVerifier(c.vkDigest);
        if (c.totals.length != v.shape.currencies) revert WrongTotals(c.totals.length, v.shape.currencies);
        ResultRound memory dup = _resultRounds[c.resultSha256];
        if (dup.found) revert ResultAlreadyCommitted(c.resultSha256, dup.roundId);
        if (c.root == 0) revert ZeroRoot();
        if (uint256(c.root) >= R) revert NotAFieldElement(c.root);
        uint256 bound = uint256(1) << (8 * uint256(v.shape.nBytes));
        for (uint256 i = 0; i < c.totals.length; i++) {
            if (c.totals[i] >= bound) revert TotalOutOfRange(i, c.totals[i]);
        }

        bytes32 h = commitmentHash(roundId, c);
        _rounds[roundId] = c;
        _hashes[roundId] = h;
        _resultRounds[c.resultSha256] = ResultRound(true, roundId);
        _count += 1;
        _latestId = roundId;
        _latestHash = h;
        emit RoundCommitted(roundId, h, c.previous, c.root, c.resultSha256, c.vkDigest);
        return h;
    }

    /// @notice Round `roundId`'s commitment.
    function getRound(uint64 roundId) external view returns (Commitment memory) {
        _requireRound(roundId);
        return _rounds[roundId];
    }

    /// @notice The latest round: its id, commitment hash and commitment.
    function latest() external view returns (uint64 roundId, bytes32 hash, Commitment memory c) {
        if (_count == 0) revert NoRounds();
        roundId = _latestId;
        return (roundId, _latestHash, _rounds[roundId]);
    }

    /// @notice The number of committed rounds.
    function roundCount() external view returns (uint64) {
        return _count;
    }

    /// @notice The round that committed the `result.json` whose SHA-256 is
    /// `resultSha256`, if any: a publisher retrying after a timeout asks this first.
    function roundOfResult(bytes32 resultSha256) external view returns (bool found, uint64 roundId) {
        ResultRound memory r = _resultRounds[resultSha256];
        return (r.found, r.roundId);
    }

    /// @notice Round `roundId`'s commitment hash.
    function hashOf(uint64 roundId) external view returns (bytes32) {
        _requireRound(roundId);
        return _hashes[roundId];
    }

    /// @notice Whether `proof` shows that the leaf hash `leaf` is in round
    /// `roundId`'s tree. The root and totals are the round's stored ones, never the
    /// caller's, so a proof against any other tree fails. Never reverts on a bad
    /// proof (returns false); reverts only for an unknown round.
    /// @dev Calls the round's verifier (snark-verifier's `Halo2Verifier`) with its
    /// calling convention: `leaf, root, totals[0..n]` as 32-byte words, then the
    /// proof; its fallback reverts on a bad proof and returns on a good one.
    function verifyInclusion(uint64 roundId, bytes calldata proof, bytes32 leaf) external view returns (bool) {
        _requireRound(roundId);
        // The verifier reads its inputs modulo the field's order: only the
        // canonical leaf is the user's.
        if (uint256(leaf) >= R) return false;
        Commitment storage r = _rounds[roundId];
        address verifier = _verifiers[r.vkDigest].verifier;
        // A verifier without code (self-destructed) would "succeed" on any input.
        if (verifier.code.length == 0) return false;
        bytes memory input = abi.encodePacked(leaf, r.root, r.totals, proof);
        // The verifier gets a fixed budget, several times what a good proof costs: a
        // bad proof may burn all the gas it is given (a failed precompile call takes
        // all of it), so a failure within the budget is a refusal, and a call with
        // less gas than the budget is no verdict at all (it reverts: it must never
        // read a good proof as refused).
        if (gasleft() < VERIFIER_GAS + 10_000) revert OutOfGas();
        bool ok;
        assembly {
            // No return data is copied: the verifier returns nothing on success.
            ok := staticcall(VERIFIER_GAS, verifier, add(input, 0x20), mload(input), 0, 0)
        }
        return ok;
    }

    function _requireRound(uint64 roundId) private view {
        if (_hashes[roundId] == 0) revert UnknownRound(roundId);
    }
}
