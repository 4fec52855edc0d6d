#!/usr/bin/env python3
"""Fill the ${Name} placeholders of an ASL definition, like CloudFormation's
DefinitionSubstitutions do, for local runs and validation.

Usage: infra/render-asl.py DEFINITION.json [Name=Value ...] > rendered.json

Defaults give each *FunctionArn a fake but well-formed Lambda ARN and
MapConcurrency the template's default; Name=Value arguments override them.
Exits non-zero if a placeholder is left unfilled or the result is not JSON.
Standard library only.
"""
import json
import re
import sys

ACCOUNT = "123456789012"
REGION = "us-east-1"

DEFAULTS = {
    "PlanFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:plan",
    "MiniTreeFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mini-tree",
    "AggregatorFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:aggregator",
    "MapConcurrency": "900",
}

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    values = dict(DEFAULTS)
    for arg in argv[2:]:
        name, sep, value = arg.partition("=")
        if not sep:
            sys.stderr.write(f"render-asl: expected Name=Value, got {arg!r}\n")
            return 2
        values[name] = value
    with open(argv[1], encoding="utf-8") as f:
        text = f.read()
    missing = sorted({m for m in PLACEHOLDER.findall(text) if m not in values})
    if missing:
        sys.stderr.write(f"render-asl: no value for {', '.join(missing)}\n")
        return 1
    rendered = PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    try:
        json.loads(rendered)
    except ValueError as e:
        sys.stderr.write(f"render-asl: result is not valid JSON: {e}\n")
        return 1
    sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
