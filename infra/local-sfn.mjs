#!/usr/bin/env node
// Runs an ASL state machine locally with aws-local-stepfunctions (installed by
// infra/setup-tools.sh into .tools/node), like its `local-sfn` CLI but made
// for scripts and tests:
//   * prints the result as JSON (local-sfn prints util.inspect output);
//   * an override can fail with a NAMED error, so Retry/Catch can be tested
//     (local-sfn turns every override failure into an error named "Error");
//   * overrides run asynchronously, so Map iterations really run concurrently
//     (local-sfn uses spawnSync);
//   * input comes from the argument, or else (or with "-") from stdin, never
//     both, whether or not stdin is a terminal;
//   * AWS's payload limits, which the emulator does not enforce, are: a state's
//     input and output at most 256 KiB (262,144 bytes of UTF-8 JSON: a larger one
//     fails the execution with States.DataLimitExceeded, as in Step Functions), a
//     synchronous Lambda response at most 6,291,556 bytes (a larger one fails the
//     task with RequestEntityTooLarge, what Lambda's runtime API answers). Task
//     inputs and results are measured as the overrides get and return them, every
//     other state's input and output from the emulator's events, and the
//     execution's input and output;
//   * a Distributed Map with an S3 ItemReader (Resource
//     arn:aws:states:::s3:getObject, ReaderConfig.InputType JSON), which the
//     emulator cannot run (it reads items only from ItemsPath), runs through a
//     shim: a Task state "<Map>.ItemReader" is put before the Map (every
//     transition to the Map goes to it); it evaluates the ItemReader's
//     Parameters (Bucket, Key; ".$" paths against the Map's input), reads that
//     JSON array from S3 (AWS_ENDPOINT_URL, e.g. moto_server; or the directory
//     LOCAL_SFN_S3_DIR, as DIR/bucket/key) and leaves it at $.__itemReader.<Map>,
//     where the Map's ItemsPath then points. Everything else of the definition
//     runs as written. What differs from AWS: the items pass through the state's
//     data (they are not counted against the 256 KiB limit, since on AWS they
//     never are in it), the reader is one more state in --trace, and the items
//     are read once, before the Map (AWS reads them as the Map Run starts).
//
// Usage (needs Node >= 22: `source infra/env.sh` first):
//   node infra/local-sfn.mjs -f DEFINITION.json [-t State:path]... [-r State:ms[,ms...]]...
//        [--context-file F] [--trace] [--allow-aws] [INPUT_JSON]
//   Every Task state needs an override unless --allow-aws is given (then the
//   emulator invokes the Resource's real Lambda with the AWS SDK).
//
// Override protocol (-t State:path; split at the first ':'):
//   the executable gets the Task's input JSON as its first argument AND on
//   stdin. Exit 0: stdout must be one JSON value, the Task's result.
//   Non-zero exit: if stdout is a JSON object with a string "errorType" (the
//   shape of a Lambda function error, e.g. {"errorType":"InvalidInput",
//   "errorMessage":"..."}), the Task fails with Error = errorType and
//   Cause = that JSON text, as a real Lambda failure does in Step Functions.
//   Otherwise Error = "Lambda.Unknown", Cause = stderr (or the exit status).
//
// Output and exit status:
//   0  success; stdout: the execution's output as one line of JSON.
//   2  execution failed; stdout: {"Error": ..., "Cause": ...} as one line.
//   1  could not start (bad arguments, invalid definition); message on stderr.
//   --trace writes one JSON line per execution event to stderr
//   ({"type":"StateEntered","state":"Plan"}, StateRetried, StateCaught,
//   StateFailed with Error/Cause, MapIteration*, Execution*).
import { spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

if (Number(process.versions.node.split(".")[0]) < 22) {
  process.stderr.write(`local-sfn.mjs: needs Node >= 22 (this is ${process.version}); source infra/env.sh first\n`);
  process.exit(1);
}

const here = dirname(fileURLToPath(import.meta.url));
const modulesDir = process.env.LOCAL_SFN_NODE_MODULES ?? resolve(here, "../.tools/node/node_modules");
const require = createRequire(resolve(modulesDir, "noop.js"));

function usage(msg) {
  if (msg) process.stderr.write(`local-sfn.mjs: ${msg}\n`);
  process.stderr.write(
    "usage: node infra/local-sfn.mjs -f DEFINITION.json [-t State:path]... [-r State:ms[,ms...]]... [--context-file F] [--trace] [--allow-aws] [INPUT_JSON]\n",
  );
  process.exit(1);
}

function die(msg) {
  process.stderr.write(`local-sfn.mjs: ${msg}\n`);
  process.exit(1);
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    die(`${what} is not valid JSON: ${e.message}`);
  }
}

function splitMapping(value, flag) {
  const i = value.indexOf(":");
  if (i <= 0 || i === value.length - 1) usage(`${flag} expects State:value, got '${value}'`);
  return [value.slice(0, i), value.slice(i + 1)];
}

class TaskError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

// AWS quotas: "Maximum input or output size for a task, state, or execution:
// 256 KiB of data as a UTF-8 encoded string" (Step Functions), and 6 MB for a
// synchronous Lambda invocation's response (6,291,556 bytes, as the runtime API
// reports it).
const STATE_LIMIT = 256 * 1024;
const LAMBDA_RESPONSE_LIMIT = 6291556;

function dataLimit(what, bytes) {
  return new TaskError(
    "States.DataLimitExceeded",
    `${what} is ${bytes} bytes, over the ${STATE_LIMIT}-byte (256 KiB) limit of a Step Functions state`,
  );
}

function bytesOf(value) {
  return Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
}

function runOverride(stateName, path, input) {
  const text = JSON.stringify(input);
  const inputBytes = Buffer.byteLength(text, "utf8");
  if (inputBytes > STATE_LIMIT) return Promise.reject(dataLimit(`the input of state '${stateName}'`, inputBytes));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(path, [text], { stdio: ["pipe", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.stdin.on("error", () => {}); // the override need not read stdin
    child.stdin.end(text);
    child.on("error", (e) =>
      reject(new TaskError("Lambda.Unknown", `override '${path}' for state '${stateName}' could not run: ${e.message}`)),
    );
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString().trim();
      const stderr = Buffer.concat(err).toString().trim();
      if (code === 0) {
        const outBytes = Buffer.byteLength(stdout, "utf8");
        if (outBytes > LAMBDA_RESPONSE_LIMIT) {
          reject(
            new TaskError(
              "RequestEntityTooLarge",
              `Exceeded maximum allowed payload size (${LAMBDA_RESPONSE_LIMIT} bytes): the response of state '${stateName}' is ${outBytes} bytes`,
            ),
          );
          return;
        }
        if (outBytes > STATE_LIMIT) {
          reject(dataLimit(`the result of state '${stateName}'`, outBytes));
          return;
        }
        try {
          resolvePromise(JSON.parse(stdout));
        } catch (e) {
          reject(new TaskError("Lambda.Unknown", `override '${path}' for state '${stateName}' printed non-JSON output: ${stdout}`));
        }
        return;
      }
      let parsed;
      try {
        parsed = JSON.parse(stdout);
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed === "object" && typeof parsed.errorType === "string") {
        reject(new TaskError(parsed.errorType, JSON.stringify(parsed)));
      } else {
        reject(new TaskError("Lambda.Unknown", stderr || `override '${path}' for state '${stateName}' exited with ${signal ?? `status ${code}`}`));
      }
    });
  });
}

const args = process.argv.slice(2);
let definitionFile;
let contextFile;
let trace = false;
let allowAws = false;
const overrides = {};
const retryOverrides = {};
const inputs = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => (i + 1 < args.length ? args[++i] : usage(`${a} needs a value`));
  if (a === "-f" || a === "--definition-file") definitionFile = next();
  else if (a === "-t" || a === "--override-task") {
    const [state, path] = splitMapping(next(), a);
    overrides[state] = (input) => runOverride(state, path, input);
  } else if (a === "-r" || a === "--override-retry") {
    const [state, ms] = splitMapping(next(), a);
    retryOverrides[state] = ms.includes(",") ? ms.split(",").map(Number) : Number(ms);
  } else if (a === "--context-file") contextFile = next();
  else if (a === "--trace") trace = true;
  else if (a === "--allow-aws") allowAws = true;
  else if (a === "-h" || a === "--help") usage();
  else if (a.startsWith("-") && a !== "-") usage(`unknown option ${a}`);
  else inputs.push(a);
}
if (!definitionFile) usage("missing -f DEFINITION.json");
if (inputs.length > 1) usage("give at most one input");

let input;
if (inputs.length === 1 && inputs[0] !== "-") input = parseJson(inputs[0], "input");
else input = parseJson(readFileSync(0, "utf8"), "stdin input");

const definition = parseJson(readFileSync(definitionFile, "utf8"), definitionFile);

// The ItemReader shim (see the header): the reader states it added, by name.
const ITEMS_FIELD = "__itemReader";
const readerStates = {};
function evalPath(path, data) {
  if (path === "$") return data;
  if (!path.startsWith("$.")) die(`ItemReader shim: only $.a.b paths are supported, not '${path}'`);
  return path
    .slice(2)
    .split(".")
    .reduce((v, k) => (v === undefined || v === null ? undefined : v[k]), data);
}
async function readS3Json(bucket, key) {
  const dir = process.env.LOCAL_SFN_S3_DIR;
  let text;
  if (dir) {
    text = readFileSync(resolve(dir, bucket, key), "utf8");
  } else {
    const endpoint = process.env.AWS_ENDPOINT_URL;
    if (!endpoint) throw new TaskError("States.ItemReaderFailed", "the ItemReader shim needs AWS_ENDPOINT_URL (moto_server) or LOCAL_SFN_S3_DIR");
    const url = new URL(`${endpoint.replace(/\/$/, "")}/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`);
    const res = await fetch(url, { headers: await signedS3Get(url) });
    if (!res.ok) throw new TaskError("States.ItemReaderFailed", `s3://${bucket}/${key}: ${res.status} ${res.statusText}`);
    text = await res.text();
  }
  let items;
  try {
    items = JSON.parse(text);
  } catch (e) {
    throw new TaskError("States.ItemReaderFailed", `s3://${bucket}/${key} is not JSON: ${e.message}`);
  }
  if (!Array.isArray(items)) throw new TaskError("States.ItemReaderFailed", `s3://${bucket}/${key} is not a JSON array`);
  return items;
}
// SigV4 headers of an S3 GET (moto_server checks them), with the environment's
// credentials, by @smithy/signature-v4 (brought by aws-local-stepfunctions' SDK).
class NodeSha256 {
  constructor(secret) {
    this.hash = secret ? createHmac("sha256", secret) : createHash("sha256");
  }
  update(data) {
    this.hash.update(typeof data === "string" ? Buffer.from(data) : data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}
async function signedS3Get(url) {
  const { SignatureV4 } = require("@smithy/signature-v4");
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "test",
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "test",
    },
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    service: "s3",
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: "GET",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers: { host: url.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
  });
  return signed.headers;
}

function shimItemReaders(machine) {
  const states = machine?.States ?? {};
  for (const [name, state] of Object.entries({ ...states })) {
    for (const sub of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) if (sub) shimItemReaders(sub);
    const reader = state.Type === "Map" ? state.ItemReader : undefined;
    if (!reader) continue;
    if (reader.Resource !== "arn:aws:states:::s3:getObject" || reader.ReaderConfig?.InputType !== "JSON") {
      die(`ItemReader shim: state '${name}' reads ${reader.Resource} as ${reader.ReaderConfig?.InputType}; only s3:getObject of JSON is emulated`);
    }
    if (state.ItemsPath) die(`state '${name}' has both ItemReader and ItemsPath`);
    const readerName = `${name}.ItemReader`;
    const rename = (s) => {
      if (s.Next === name) s.Next = readerName;
      if (s.Default === name) s.Default = readerName;
      for (const c of s.Choices ?? []) if (c.Next === name) c.Next = readerName;
    };
    Object.values(states).forEach(rename);
    if (machine.StartAt === name) machine.StartAt = readerName;
    const params = reader.Parameters ?? {};
    readerStates[readerName] = async (input) => {
      const arg = (field) => (params[`${field}.$`] !== undefined ? evalPath(params[`${field}.$`], input) : params[field]);
      const [bucket, key] = [arg("Bucket"), arg("Key")];
      if (typeof bucket !== "string" || typeof key !== "string") {
        throw new TaskError("States.ItemReaderFailed", `state '${name}': the ItemReader's Bucket and Key are not strings (${bucket}, ${key})`);
      }
      return readS3Json(bucket, key);
    };
    states[readerName] = { Type: "Task", Resource: "arn:aws:lambda:us-east-1:000000000000:function:local-sfn-item-reader", ResultPath: `$.${ITEMS_FIELD}.${name}`, Next: name };
    delete state.ItemReader;
    state.ItemsPath = `$.${ITEMS_FIELD}.${name}`;
  }
}
shimItemReaders(definition);
Object.assign(overrides, readerStates);
// The shim's items are not in the state on AWS: not measured.
function withoutItems(value) {
  if (value && typeof value === "object" && !Array.isArray(value) && ITEMS_FIELD in value) {
    const { [ITEMS_FIELD]: _, ...rest } = value;
    return rest;
  }
  return value;
}
// Every Task needs an override unless --allow-aws: without one the emulator
// would call the real Lambda named in Resource through the AWS SDK.
function taskStates(machine, acc = []) {
  for (const [name, state] of Object.entries(machine?.States ?? {})) {
    if (state.Type === "Task") acc.push(name);
    for (const sub of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) if (sub) taskStates(sub, acc);
  }
  return acc;
}
const unmocked = taskStates(definition).filter((name) => !(name in overrides));
if (unmocked.length && !allowAws) {
  die(`Task states without a -t override: ${unmocked.join(", ")} (--allow-aws lets them call the real Lambda)`);
}

const context = contextFile ? parseJson(readFileSync(contextFile, "utf8"), contextFile) : undefined;

let StateMachine;
try {
  ({ StateMachine } = require("aws-local-stepfunctions"));
} catch (e) {
  die(`cannot load aws-local-stepfunctions from ${modulesDir} (run infra/setup-tools.sh): ${e.message}`);
}

let machine;
try {
  machine = new StateMachine(definition);
} catch (e) {
  die(`invalid definition: ${e.message}`);
}

const inputBytes = bytesOf(input);
if (inputBytes > STATE_LIMIT) {
  process.stdout.write(
    JSON.stringify({ Error: "States.DataLimitExceeded", Cause: `the execution's input is ${inputBytes} bytes, over the ${STATE_LIMIT}-byte (256 KiB) limit` }) + "\n",
  );
  process.exit(2);
}

const execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers: overrides, retryIntervalOverrides: retryOverrides },
  ...(context ? { context } : {}),
});

// Every event is read: those that carry a state's input or output are measured
// (the emulator enforces no payload limit), and --trace prints them.
let overLimit;
const tracing = (async () => {
  for await (const ev of execution.eventLogs) {
    for (const [key, what] of [
      ["input", "input"],
      ["output", "output"],
    ]) {
      const value = withoutItems(ev.state?.[key] ?? ev[key]);
      if (value !== undefined && !overLimit && !(ev.state?.name in readerStates)) {
        const bytes = bytesOf(value);
        if (bytes > STATE_LIMIT) overLimit = dataLimit(`the ${what} of state '${ev.state?.name ?? "?"}'`, bytes);
      }
    }
    if (!trace) continue;
    const line = { type: ev.type };
    if (ev.state) line.state = ev.state.name;
    if (ev.index !== undefined) line.index = ev.index;
    if (ev.parentState) line.parent = ev.parentState.name;
    if (ev.Error !== undefined) line.Error = ev.Error;
    if (ev.Cause !== undefined) line.Cause = typeof ev.Cause === "string" ? ev.Cause : String(ev.Cause?.message ?? ev.Cause);
    process.stderr.write(JSON.stringify(line) + "\n");
  }
})();

try {
  const result = await execution.result;
  await tracing;
  const outBytes = bytesOf(withoutItems(result));
  if (overLimit) throw overLimit;
  if (outBytes > STATE_LIMIT) throw dataLimit("the execution's output", outBytes);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exitCode = 0;
} catch (e) {
  await tracing.catch(() => {});
  const failure = e?.cause instanceof Error ? e.cause : e;
  process.stdout.write(JSON.stringify({ Error: failure?.name ?? "Error", Cause: failure?.message ?? String(e) }) + "\n");
  process.exitCode = 2;
}
