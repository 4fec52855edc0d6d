#!/usr/bin/env python3
"""Translate infra/template.yaml (SAM) into plain CloudFormation JSON with the
AWS SAM translator, offline, so that cfn-lint can check what CloudFormation
will really get: the S3 notification SAM adds to the bucket, the Lambda
permission, the generated IAM roles, dependency cycles (E3004) and the state
machine definition (inlined here from its DefinitionUri file, as DefinitionString
with DefinitionSubstitutions, which cfn-lint validates as ASL).

cfn-lint >= 1.4x no longer runs the SAM transform itself (it checks the SAM
template against SAM schemas only), so without this step a cycle created by
the transform goes unnoticed.

Usage: infra/sam-translate.py infra/template.yaml > out.json
Needs the .tools venv (cfn-lint for its YAML loader, aws-sam-translator).
Local CodeUri paths become a placeholder S3 location, as `sam package` would
make them.
"""
import json
import os
import sys

from cfnlint.decode import decode
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

PLACEHOLDER_CODE = {"Bucket": "placeholder-artifacts", "Key": "placeholder.zip"}


class OfflinePolicyLoader(ManagedPolicyLoader):
    """The template names no managed policy by name; fail loudly if it does."""

    def __init__(self):  # no IAM client
        pass

    def load(self):
        raise SystemExit("sam-translate: a managed policy is named; give its ARN instead")


def main(path):
    template, matches = decode(path)
    if matches:
        for m in matches:
            sys.stderr.write(f"{m}\n")
        return 1
    base = os.path.dirname(os.path.abspath(path))
    for name, res in template.get("Resources", {}).items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function":
            props["CodeUri"] = dict(PLACEHOLDER_CODE)
        if res.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            with open(os.path.join(base, props.pop("DefinitionUri")), encoding="utf-8") as f:
                props["Definition"] = json.load(f)
    globals_fn = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_fn.get("CodeUri"), str):
        globals_fn["CodeUri"] = dict(PLACEHOLDER_CODE)
    # The translator asks boto3 for a region; no credentials or network used.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    params = {}
    out = transform(json.loads(json.dumps(template)), params, OfflinePolicyLoader())
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
