// Compiles contracts/src/*.sol (one compilation unit) and each
// contracts/generated/*.sol (one unit per file: every generated verifier is named
// `Halo2Verifier`) with the pinned solc-js from .tools/node (bash
// infra/setup-tools.sh), and writes contracts/out/<FileStem>.json. The two kinds
// differ in one setting (the Yul optimizer, off for generated verifiers: see
// SETTINGS_GENERATED); each artifact records the settings it was built with.
//
//   .tools/node/node_modules/.bin/node contracts/build.mjs          # write contracts/out/
//   .tools/node/node_modules/.bin/node contracts/build.mjs --check  # compare, write nothing
//
// The output is deterministic (no metadata hash or CBOR in the bytecode, stable key
// order), so `--check` can tell whether the committed artifacts are this source's.
// Exit 1 on a compiler error, a deployed size over EIP-170's 24,576 bytes, or (with
// --check) any drift: a differing, missing or stale file in contracts/out/. Without
// --check, a stale contracts/out/*.json (its source gone) is removed.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOLC_DIR = join(REPO, ".tools", "node", "node_modules", "solc");
const SOLC_VERSION = "0.8.19+commit.7dd6d404.Emscripten.clang";
const EIP170_LIMIT = 24576;
const OUT_DIR = join(REPO, "contracts", "out");
const COMMON = { evmVersion: "paris", metadata: { bytecodeHash: "none", appendCBOR: false } };
// Our own contracts: the standard optimizer.
const SETTINGS_SRC = { optimizer: { enabled: true, runs: 200 }, ...COMMON };
// snark-verifier's verifiers are one huge inline-assembly block: with the Yul
// optimizer on, solc 0.8.19's legacy code generator fails on them with "Stack too
// deep", and via-IR makes them about 2.4 times larger (27 KB for a 3-instance
// circuit, over EIP-170). The opcode-level optimizer alone compiles them, about 5%
// smaller than with the optimizer off.
const SETTINGS_GENERATED = { optimizer: { enabled: true, runs: 200, details: { yul: false } }, ...COMMON };

function fail(msg) {
  process.stderr.write(`build.mjs: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
const check = args.includes("--check");
for (const a of args) if (a !== "--check") fail(`unknown argument ${a} (usage: build.mjs [--check])`);

if (!existsSync(join(SOLC_DIR, "package.json"))) {
  fail(`no solc-js at ${relative(REPO, SOLC_DIR)}: run bash infra/setup-tools.sh`);
}
const solc = createRequire(import.meta.url)(SOLC_DIR);
if (solc.version() !== SOLC_VERSION) {
  fail(`solc ${solc.version()} is not the pinned ${SOLC_VERSION}: run bash infra/setup-tools.sh`);
}

const rel = (p) => relative(REPO, p).split(sep).join("/");
const solFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".sol"))
        .sort()
        .map((f) => join(dir, f))
    : [];

// Imports resolve against the repo root (source unit names are repo-relative) and
// must stay inside it.
function findImports(path) {
  const abs = resolve(REPO, path);
  if (!abs.startsWith(REPO + sep) || !existsSync(abs)) return { error: `not found: ${path}` };
  return { contents: readFileSync(abs, "utf8") };
}

// One compilation unit: `files` compiled together with `settings`; returns solc's
// output.
function compile(files, settings) {
  const sources = {};
  for (const f of files) sources[rel(f)] = { content: readFileSync(f, "utf8") };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...settings,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  let errors = false;
  for (const e of output.errors ?? []) {
    process.stderr.write(`${e.formattedMessage ?? e.message}\n`);
    if (e.severity === "error") errors = true;
  }
  if (errors) fail(`compilation of ${files.map(rel).join(", ")} failed`);
  return output;
}

// The deployable contract of `file`: the one named like the file's stem, or else
// its only contract with code (a generated verifier's `Halo2Verifier`); null for a
// file of interfaces, libraries without code or abstract contracts only.
function pickContract(output, file) {
  const stem = basename(file, ".sol");
  const contracts = output.contracts?.[rel(file)] ?? {};
  if (contracts[stem]?.evm.bytecode.object.length > 0) return [stem, contracts[stem]];
  const withCode = Object.entries(contracts).filter(([, c]) => c.evm.bytecode.object.length > 0);
  if (withCode.length > 1) {
    fail(`${rel(file)}: no contract named ${stem} and ${withCode.length} deployable contracts`);
  }
  return withCode[0] ?? null;
}

function artifact(file, name, c, settings) {
  const source = readFileSync(file);
  const deployed = c.evm.deployedBytecode.object;
  return {
    contractName: name,
    sourceFile: rel(file),
    sourceSha256: createHash("sha256").update(source).digest("hex"),
    compiler: { solc: solc.version(), settings },
    abi: c.abi,
    bytecode: { object: `0x${c.evm.bytecode.object}` },
    deployedBytecode: { object: `0x${deployed}` },
    deployedSize: deployed.length / 2,
  };
}

const srcFiles = solFiles(join(REPO, "contracts", "src"));
const genFiles = solFiles(join(REPO, "contracts", "generated"));
const units = []; // [files, settings]
if (srcFiles.length) units.push([srcFiles, SETTINGS_SRC]);
for (const f of genFiles) units.push([[f], SETTINGS_GENERATED]);

const artifacts = new Map(); // out file name -> JSON text
let tooBig = false;
for (const [files, settings] of units) {
  const output = compile(files, settings);
  for (const file of files) {
    const picked = pickContract(output, file);
    if (!picked) {
      if (genFiles.includes(file)) fail(`${rel(file)}: no deployable contract`);
      continue; // nothing to deploy: no artifact
    }
    const [name, c] = picked;
    const a = artifact(file, name, c, settings);
    const outName = `${basename(file, ".sol")}.json`;
    if (artifacts.has(outName)) fail(`two sources would write contracts/out/${outName}`);
    artifacts.set(outName, `${JSON.stringify(a, null, 2)}\n`);
    if (a.deployedSize > EIP170_LIMIT) {
      process.stderr.write(
        `build.mjs: ${name} (${a.sourceFile}) deploys ${a.deployedSize} bytes, over EIP-170's ${EIP170_LIMIT}\n`,
      );
      tooBig = true;
    }
  }
}
if (tooBig) process.exit(1);

const sizes = [...artifacts].map(([f, t]) => `${f.replace(/\.json$/, "")} ${JSON.parse(t).deployedSize} B`).join(", ");
const committed = existsSync(OUT_DIR) ? readdirSync(OUT_DIR).filter((f) => f.endsWith(".json")) : [];
if (check) {
  const drift = [];
  for (const [f, text] of artifacts) {
    const p = join(OUT_DIR, f);
    if (!existsSync(p)) drift.push(`missing: contracts/out/${f}`);
    else if (readFileSync(p, "utf8") !== text) drift.push(`differs: contracts/out/${f}`);
  }
  for (const f of committed) if (!artifacts.has(f)) drift.push(`stale (no source): contracts/out/${f}`);
  if (drift.length) {
    for (const d of drift) process.stderr.write(`build.mjs --check: ${d}\n`);
    fail(`contracts/out/ is not what the sources compile to: run node contracts/build.mjs`);
  }
  console.log(`contracts/out/ up to date: ${artifacts.size} contract(s) (${sizes}), solc ${solc.version()}`);
} else {
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [f, text] of artifacts) writeFileSync(join(OUT_DIR, f), text);
  // An artifact whose source is gone would otherwise look deployable.
  for (const f of committed) {
    if (!artifacts.has(f)) {
      rmSync(join(OUT_DIR, f));
      process.stderr.write(`build.mjs: removed stale contracts/out/${f} (no source)\n`);
    }
  }
  console.log(`wrote ${artifacts.size} contract(s) to contracts/out/ (${sizes}), solc ${solc.version()}`);
}
