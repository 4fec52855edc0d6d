#!/usr/bin/env python3
"""The scale probe (`make scale-probe`): every step of a round as its own process,
measured, fitted and extrapolated to 2^28 and 2^30 users against the template's
MemorySize of the function that runs it.

For each shard count S and shard size n it writes S synthetic CSV shards of n
users (two currencies) under a local directory, then runs the state machine's
steps one process each with `summa-agg step NAME --event FILE --dir DIR --stats`
(plan; every mini-tree; every partition of the username index; the aggregator),
and records each process's peak resident memory (its VmHWM, which `step --stats` reads from
/proc/self/status at its end), its
output (the state payload) in bytes, and its storage requests and bytes.

Each step's peak, output and requests are fitted by least squares, with no
negative growth term (the best fit over the subsets of terms), to
    a + b * (users of one shard) + c * (shards) + d * (users of one index partition)
(the growth the design allows: one shard, the shard count, one partition; a
step that grew with the round's users would show it as d for a step that is not
the index, and would extrapolate past its limit), then extrapolated to 1,024 x
2^18 and 4,096 x 2^16 users (2^28) and 4,096 x 2^18 (2^30), with the index
partitions plan would choose for their bytes. A table, then as the last line
one JSON object:
    {"fits": BOOL, "rounds": [{"users", "shards", "steps": {STEP: {"peak_mib",
     "limit_mib", "output_bytes", "requests"}}}], "measured": [...], "fit": {...}}
Exit 1 if an extrapolated peak exceeds 80% of its function's MemorySize or an
output exceeds 256 KiB.

  infra/scale-probe.py [--bin target/release/summa-agg] [--quick] [--keep DIR]
  infra/scale-probe.py --round SxN [--bin ...]

--round SxN: one round of S shards of N users instead, each step under an
address-space cap equal to its function's MemorySize (prlimit --as, with
MALLOC_ARENA_MAX=2 so that glibc's arenas do not reserve what is not used: a
cap at least as strict as the memory Lambda gives), its root compared with
`summa-agg round` over the same shard files; prints each step's wall time and
peak, then one JSON line; exit 1 if a step fails or the roots differ.

--quick: S in {4, 8}, n in {2^8, 2^10} (CI's smoke of the probe itself; its
extrapolation is not meaningful and does not set the exit status).
Standard library only. Measured on this machine with local-directory storage: an
AWS function adds the SDK's and the runtime's own memory (a constant).
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "probe"
STATE_LIMIT = 256 * 1024
# The template's functions for each step (the index partitions run on the
# aggregator function).
FUNCTIONS = {
    "plan": "PlanMemorySize",
    "mini-tree": "MiniTreeMemorySize",
    "user-index": "AggregatorMemorySize",
    "aggregator": "AggregatorMemorySize",
}
TARGETS = [(1024, 1 << 18), (4096, 1 << 16), (4096, 1 << 18)]
# handlers/plan.rs: INDEX_PARTITION_CSV_BYTES, NAME_BITS.
INDEX_PARTITION_CSV_BYTES = 64 << 20
NAME_BITS = 10


def template_memory():
    """Each MemorySize parameter's default, from infra/template.yaml."""
    text = open(os.path.join(REPO, "infra/template.yaml")).read()
    out = {}
    for name in set(FUNCTIONS.values()):
        m = re.search(rf"^  {name}:\n(?:    .*\n)*?    Default: (\d+)", text, re.M)
        if not m:
            sys.exit(f"scale-probe: no default for {name} in infra/template.yaml")
        out[name] = int(m.group(1))
    return out


def write_shards(root, prefix, shards, n, rng):
    d = os.path.join(root, BUCKET, prefix, "shards")
    os.makedirs(d, exist_ok=True)
    csv_bytes = 0
    for s in range(shards):
        rows = [f"u{s}x{i}x{rng.getrandbits(32):08x},{rng.randrange(10**9)},{rng.randrange(10**6)}" for i in range(n)]
        body = "username,balance_ETH_ETH,balance_USDT_ETH\n" + "\n".join(rows) + "\n"
        with open(os.path.join(d, f"s{s:05}.csv"), "w") as f:
            f.write(body)
        csv_bytes += len(body)
    with open(os.path.join(root, BUCKET, prefix, "round.json"), "w") as f:
        f.write("{}")
    return csv_bytes


def measure(binary, root, prefix, run):
    """Runs the round's steps; per step the worst invocation's figures."""
    steps = {}

    def step(name, label, event):
        t = time.time()
        out, raw, stats = run_step(binary, root, name, event, CAPS.get(label))
        s = steps.setdefault(label, {"peak_kib": 0, "output_bytes": 0, "requests": 0,
                                     "bytes_read": 0, "count": 0, "seconds": 0.0})
        s["peak_kib"] = max(s["peak_kib"], stats["vm_hwm_kib"])
        s["output_bytes"] = max(s["output_bytes"], len(raw))
        s["requests"] = max(s["requests"], stats["storage"]["requests"])
        s["bytes_read"] = max(s["bytes_read"], stats["storage"]["bytes_read"])
        s["count"] += 1
        s["seconds"] += time.time() - t
        return out

    plan = step("plan", "plan", {"bucket": BUCKET, "prefix": prefix, "run": run})
    items = json.load(open(os.path.join(root, BUCKET, plan["items_key"])))
    for item in items:
        step("mini-tree", "mini-tree", item)
    index_items = json.load(open(os.path.join(root, BUCKET, plan["index_items_key"])))
    for item in index_items:
        step("aggregator", "user-index", item)
    step("aggregator", "aggregator", {"bucket": BUCKET, "prefix": prefix, "run": run})
    return plan, steps


# With --round: each step's cap, MB by step (prlimit --as).
CAPS = {}


def run_step(binary, root, name, event, cap_mb=None):
    """One step as its own process, under an address-space cap of `cap_mb` if
    given: (output JSON, raw output, its --stats line). The stats' `vm_hwm_kib`
    is the step's own peak resident memory (a parent's wait4 ru_maxrss would
    also count this Python process's, which exec carries over)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
        path = f.name
    argv = [binary, "step", name, "--event", path, "--dir", root, "--stats"]
    env = None
    if cap_mb:
        argv = ["prlimit", f"--as={cap_mb << 20}", "--"] + argv
        env = dict(os.environ, MALLOC_ARENA_MAX="2")
    try:
        p = subprocess.run(argv, capture_output=True, env=env)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        sys.exit(f"scale-probe: step {name} failed: {p.stderr.decode(errors='replace')[-2000:]}")
    stats = [json.loads(line) for line in p.stderr.decode().splitlines()
             if line.startswith("{") and '"storage"' in line]
    if not stats:
        sys.exit(f"scale-probe: step {name} printed no --stats line")
    raw = p.stdout.strip()
    return json.loads(raw), raw, stats[-1]


def solve(rows, ys):
    """Least squares of ys on rows (each [1, x1, x2, ...]) by the normal equations,
    with a small ridge so that a predictor that does not vary gets 0."""
    k = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) + (1e-9 if i == j else 0) for j in range(k)] for i in range(k)]
    b = [sum(r[i] * y for r, y in zip(rows, ys)) for i in range(k)]
    # Gaussian elimination with partial pivoting.
    for c in range(k):
        p = max(range(c, k), key=lambda r: abs(a[r][c]))
        a[c], a[p] = a[p], a[c]
        b[c], b[p] = b[p], b[c]
        if abs(a[c][c]) < 1e-30:
            continue
        for r in range(k):
            if r != c:
                f = a[r][c] / a[c][c]
                a[r] = [x - f * y for x, y in zip(a[r], a[c])]
                b[r] -= f * b[c]
    return [b[i] / a[i][i] if abs(a[i][i]) > 1e-30 else 0.0 for i in range(k)]


def fit_nonnegative(rows, ys):
    """Least squares with every growth term (all but the constant) at least 0:
    the best fit over the subsets of terms whose solution has no negative
    slope (a memory does not shrink as a round grows; a negative slope is noise,
    and extrapolating it would hide growth elsewhere)."""
    k = len(rows[0])
    best = None
    for mask in range(1 << (k - 1)):
        cols = [0] + [i + 1 for i in range(k - 1) if mask >> i & 1]
        coef = solve([[r[c] for c in cols] for r in rows], ys)
        if any(coef[i] < 0 for i in range(1, len(cols))):
            continue
        full = [0.0] * k
        for c, v in zip(cols, coef):
            full[c] = v
        sse = sum((sum(f * x for f, x in zip(full, r)) - y) ** 2 for r, y in zip(rows, ys))
        if best is None or sse < best[0] - 1e-9:
            best = (sse, full)
    return best[1]


def features(n, shards, users_per_partition):
    return [1.0, float(n), float(shards), float(users_per_partition)]


def index_bits(csv_bytes):
    parts = max(1, -(-csv_bytes // INDEX_PARTITION_CSV_BYTES))
    return min((parts - 1).bit_length(), NAME_BITS)


def capped_round(args):
    shards, n = (int(x) for x in args.round.lower().split("x"))
    limits = template_memory()
    for step, param in FUNCTIONS.items():
        CAPS[step] = limits[param]
    root = args.keep or tempfile.mkdtemp(prefix="scale-probe.")
    os.makedirs(root, exist_ok=True)
    prefix = f"round-{shards}x{n}"
    try:
        t = time.time()
        csv_bytes = write_shards(root, prefix, shards, n, random.Random(2))
        print(f"scale-probe: wrote {shards} x {n} users ({csv_bytes} bytes of CSV) in {time.time() - t:.1f} s", file=sys.stderr)
        t = time.time()
        plan, steps = measure(args.bin, root, prefix, "run-1")
        wall = time.time() - t
        brief = json.load(open(os.path.join(root, BUCKET, prefix, "result.json")))
        t = time.time()
        out = os.path.join(root, "cli-round")
        # The CLI's own peak resident memory: wait4's ru_maxrss of this child alone.
        with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
            cli = subprocess.Popen([args.bin, "round", os.path.join(root, BUCKET, prefix, "shards"), "--out", out],
                                   stdout=so, stderr=se)
            _, status, usage = os.wait4(cli.pid, 0)
            cli_wall = time.time() - t
            so.seek(0)
            se.seek(0)
            cli_out, cli_err = so.read().decode(), se.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"scale-probe: summa-agg round failed: {cli_err[-2000:]}")
        cli_peak_mib = usage.ru_maxrss / 1024
        cli_root = json.loads(cli_out.strip().splitlines()[-1])["root"]["hash"]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    same = brief["root"]["hash"] == cli_root
    for step, v in steps.items():
        print(f"{step:>11}: {v['count']:>5} invocation(s), peak {v['peak_kib'] / 1024:8.1f} MiB (cap {CAPS[step]} MB), "
              f"{v['seconds']:8.1f} s in all, output <= {v['output_bytes']} B, <= {v['requests']} requests")
    print(f"steps one at a time: {wall:.1f} s; summa-agg round on the same files: {cli_wall:.1f} s, "
          f"peak {cli_peak_mib:.1f} MiB; "
          f"roots {'equal' if same else 'DIFFER'}: {brief['root']['hash']}")
    print(json.dumps({"users": shards * n, "shards": shards, "index_partitions": 1 << plan["index_bits"],
                      "root": brief["root"]["hash"], "cli_root": cli_root, "equal": same,
                      "seconds": round(wall, 1), "cli_seconds": round(cli_wall, 1),
                      "cli_peak_mib": round(cli_peak_mib, 1),
                      "steps": {k: {"peak_mib": round(v["peak_kib"] / 1024, 1), "cap_mb": CAPS[k],
                                    "seconds": round(v["seconds"], 1), "invocations": v["count"]}
                                for k, v in steps.items()}}, separators=(",", ":")))
    return 0 if same else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target/release/summa-agg"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep")
    ap.add_argument("--round", help="SxN: one round under the functions' memory caps")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"scale-probe: {args.bin} is not an executable (cargo build --release -p summa-agg-cli)")
    if args.round:
        return capped_round(args)
    sizes = [(s, n) for s in (4, 8) for n in (1 << 8, 1 << 10)] if args.quick else [
        (s, n) for s in (8, 32, 128) for n in (1 << 10, 1 << 12, 1 << 14)
    ]
    limits = template_memory()
    root = args.keep or tempfile.mkdtemp(prefix="scale-probe.")
    os.makedirs(root, exist_ok=True)
    rng = random.Random(1)
    measured = []
    csv_per_user = []
    try:
        for shards, n in sizes:
            prefix = f"probe-{shards}x{n}"
            csv_bytes = write_shards(root, prefix, shards, n, rng)
            csv_per_user.append(csv_bytes / (shards * n))
            t = time.time()
            plan, steps = measure(args.bin, root, prefix, "run-1")
            parts = 1 << plan["index_bits"]
            measured.append({
                "shards": shards, "users_per_shard": n, "users": shards * n,
                "index_partitions": parts, "seconds": round(time.time() - t, 2),
                "steps": steps,
            })
            print(f"scale-probe: {shards} x {n} users: " + ", ".join(
                f"{k} {v['peak_kib'] / 1024:.1f} MiB / {v['output_bytes']} B / {v['requests']} req"
                for k, v in steps.items()), file=sys.stderr)
            if not args.keep:
                shutil.rmtree(os.path.join(root, BUCKET, prefix))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    fit = {}
    for step in FUNCTIONS:
        rows = [features(m["users_per_shard"], m["shards"], m["users"] / m["index_partitions"]) for m in measured]
        fit[step] = {
            what: fit_nonnegative(rows, [m["steps"][step][key] for m in measured])
            for what, key in (("peak_kib", "peak_kib"), ("output_bytes", "output_bytes"), ("requests", "requests"))
        }
    bytes_per_user = sum(csv_per_user) / len(csv_per_user)
    rounds = []
    fits = True
    for shards, n in TARGETS:
        users = shards * n
        parts = 1 << index_bits(int(users * bytes_per_user))
        x = features(n, shards, users / parts)
        steps = {}
        for step, coef in fit.items():
            peak = sum(c * v for c, v in zip(coef["peak_kib"], x)) / 1024
            out = sum(c * v for c, v in zip(coef["output_bytes"], x))
            req = sum(c * v for c, v in zip(coef["requests"], x))
            limit = limits[FUNCTIONS[step]]
            steps[step] = {"peak_mib": round(peak, 1), "limit_mib": limit,
                           "output_bytes": int(round(out)), "requests": int(round(req))}
            if peak > 0.8 * limit or out > STATE_LIMIT:
                fits = False
        rounds.append({"users": users, "shards": shards, "users_per_shard": n,
                       "index_partitions": parts, "steps": steps})

    print(f"{'round':>22} {'step':>11} {'peak MiB':>9} {'limit':>6} {'use':>5} {'output B':>9} {'requests':>9}")
    for r in rounds:
        for step, s in r["steps"].items():
            print(f"{r['shards']:>6} x {r['users_per_shard']:>7} = 2^{r['users'].bit_length() - 1:<2} "
                  f"{step:>11} {s['peak_mib']:>9.1f} {s['limit_mib']:>6} {s['peak_mib'] / s['limit_mib']:>5.0%} "
                  f"{s['output_bytes']:>9} {s['requests']:>9}")
    slopes = {step: {"bytes_per_shard_user": round(c["peak_kib"][1] * 1024, 1),
                     "bytes_per_shard": round(c["peak_kib"][2] * 1024, 1),
                     "bytes_per_partition_user": round(c["peak_kib"][3] * 1024, 1),
                     "base_mib": round(c["peak_kib"][0] / 1024, 1)} for step, c in fit.items()}
    print(json.dumps({"fits": fits, "quick": args.quick, "rounds": rounds, "fit": slopes,
                      "csv_bytes_per_user": round(bytes_per_user, 1), "measured": measured},
                     separators=(",", ":")))
    return 0 if fits or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
