#!/usr/bin/env python3
"""S3 and Step Functions calls of infra/local/run-round.sh against moto_server.

Runs with the boto3 that moto brings along (.tools/venv: `source infra/env.sh`).
The endpoint, region and credentials come from the environment
(AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).

  moto-client.py init BUCKET NAME DEFINITION ROLE_ARN
      Creates the bucket and the state machine NAME (or updates its
      definition) if needed; prints the state machine's ARN.
  moto-client.py upload-round BUCKET PREFIX SHARDS_DIR MANIFEST_JSON
      Empties PREFIX/, uploads SHARDS_DIR/*.csv (by name) as
      PREFIX/shards/NAME.csv, then the manifest PREFIX/round.json; prints the
      S3 event (one JSON line) that a bucket notification would deliver for
      the manifest upload, with the object's real ETag and size (HEAD).
  moto-client.py execution-input STATE_MACHINE_ARN EXECUTION_ARN
      Prints the input that the execution was started with
      (DescribeExecution), after checking that ListExecutions lists it.
  moto-client.py executions STATE_MACHINE_ARN
      Prints one line per execution: ARN, status and input, tab-separated.
  moto-client.py get BUCKET KEY
      Prints the object; exit 3 if there is no such key.
"""
import datetime
import json
import os
import sys
import urllib.parse

import boto3
from botocore.exceptions import ClientError

NOT_FOUND = 3


def s3():
    return boto3.client("s3")


def sfn():
    return boto3.client("stepfunctions")


def error_code(e):
    return e.response.get("Error", {}).get("Code", "")


def init(bucket, name, definition_file, role_arn):
    client = s3()
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as e:
        if error_code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    with open(definition_file, encoding="utf-8") as f:
        definition = f.read()
    states = sfn()
    for page in states.get_paginator("list_state_machines").paginate():
        for m in page["stateMachines"]:
            if m["name"] == name:
                states.update_state_machine(
                    stateMachineArn=m["stateMachineArn"], definition=definition
                )
                print(m["stateMachineArn"])
                return 0
    created = states.create_state_machine(
        name=name, definition=definition, roleArn=role_arn
    )
    print(created["stateMachineArn"])
    return 0


def upload_round(bucket, prefix, shards_dir, manifest):
    prefix = prefix.strip("/")
    json.loads(manifest)  # must be JSON
    shards = sorted(
        n
        for n in os.listdir(shards_dir)
        if n.endswith(".csv") and os.path.isfile(os.path.join(shards_dir, n))
    )
    if not shards:
        sys.stderr.write(f"moto-client: no *.csv files in {shards_dir}\n")
        return 1
    client = s3()
    old = [
        {"Key": o["Key"]}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/"
        )
        for o in page.get("Contents", [])
    ]
    for i in range(0, len(old), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": old[i : i + 1000]})
    for name in shards:
        client.upload_file(
            os.path.join(shards_dir, name), bucket, f"{prefix}/shards/{name}"
        )
    key = f"{prefix}/round.json"
    put = client.put_object(
        Bucket=bucket, Key=key, Body=manifest.encode(), ContentType="application/json"
    )
    head = client.head_object(Bucket=bucket, Key=key)
    now = datetime.datetime.now(datetime.timezone.utc)
    meta = put.get("ResponseMetadata", {})
    obj = {
        # Event keys are URL-encoded, a space as '+'.
        "key": urllib.parse.quote_plus(key, safe="/"),
        "size": head["ContentLength"],
        "eTag": head["ETag"].strip('"'),
        "sequencer": f"{int(now.timestamp() * 1e6):016X}",
    }
    if head.get("VersionId"):
        obj["versionId"] = head["VersionId"]
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": client.meta.region_name,
                "eventTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": meta.get("RequestId", ""),
                    "x-amz-id-2": meta.get("HostId", ""),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "RoundUploaded",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }
    print(json.dumps(event))
    return 0


def execution_input(state_machine_arn, execution_arn):
    states = sfn()
    listed = [
        e["executionArn"]
        for page in states.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn
        )
        for e in page["executions"]
    ]
    if execution_arn not in listed:
        sys.stderr.write(
            f"moto-client: ListExecutions of {state_machine_arn} does not list {execution_arn}\n"
        )
        return 1
    print(states.describe_execution(executionArn=execution_arn)["input"])
    return 0


def executions(state_machine_arn):
    states = sfn()
    for page in states.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn
    ):
        for e in page["executions"]:
            d = states.describe_execution(executionArn=e["executionArn"])
            print(f"{e['executionArn']}\t{d['status']}\t{d['input']}")
    return 0


def execution_of_prefix(state_machine_arn, prefix):
    """The newest execution of the state machine whose input names PREFIX: its
    ARN and input, tab-separated (run-round.sh --redrive)."""
    states = sfn()
    found = []
    for page in states.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn
    ):
        for e in page["executions"]:
            d = states.describe_execution(executionArn=e["executionArn"])
            if json.loads(d["input"]).get("prefix") == prefix:
                found.append((d["startDate"], e["executionArn"], d["input"]))
    if not found:
        sys.stderr.write(f"moto-client: no execution of {state_machine_arn} for {prefix}\n")
        return 1
    _, arn, given = max(found)
    print(f"{arn}\t{given}")
    return 0


def get(bucket, key):
    try:
        body = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        if error_code(e) in ("NoSuchKey", "404"):
            sys.stderr.write(f"moto-client: no s3://{bucket}/{key}\n")
            return NOT_FOUND
        raise
    sys.stdout.buffer.write(body)
    return 0


COMMANDS = {
    "init": (init, 4),
    "upload-round": (upload_round, 4),
    "execution-input": (execution_input, 2),
    "executions": (executions, 1),
    "execution-of-prefix": (execution_of_prefix, 2),
    "get": (get, 2),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS or len(argv) - 2 != COMMANDS[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    fn, _ = COMMANDS[argv[1]]
    try:
        return fn(*argv[2:])
    except ClientError as e:
        sys.stderr.write(f"moto-client {argv[1]}: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
