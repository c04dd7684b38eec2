"""Imports ASFF findings (a JSON array on stdin) into the emulator's Security Hub and reads them back.

As with a custom integration on AWS, each account's findings are imported by that account: for
every AwsAccountId the script assumes a role in it, enables Security Hub there, calls
BatchImportFindings (boto3 checks each finding against the service model first) in batches of
at most 100, then reads the account's findings back with GetFindings.

Prints {"imports": {account: {"SuccessCount", "FailedCount", "FailedFindings"}},
"findings": {account: [finding, ...]}}. A finding boto3 refuses to send is an error (exit 1).
"""

import argparse
import json
import sys
from collections import defaultdict

import boto3
from botocore.exceptions import ClientError, ParamValidationError


def client(service, endpoint, region, credentials=None):
    keys = credentials or {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": None}
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    by_account = defaultdict(list)
    for finding in json.load(sys.stdin):
        by_account[finding.get("AwsAccountId", "")].append(finding)
    sts = client("sts", args.endpoint, args.region)
    imports, read_back = {}, {}
    for account, findings in sorted(by_account.items()):
        role = f"arn:aws:iam::{account}:role/SecurityHubImport"
        credentials = sts.assume_role(RoleArn=role, RoleSessionName="asff-import")["Credentials"]
        hub = client("securityhub", args.endpoint, args.region, credentials)
        try:
            hub.enable_security_hub()
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceConflictException":
                raise
        totals = {"SuccessCount": 0, "FailedCount": 0, "FailedFindings": []}
        for start in range(0, len(findings), 100):
            try:
                answer = hub.batch_import_findings(Findings=findings[start : start + 100])
            except ParamValidationError as error:
                print(json.dumps({"error": f"boto3 refused the findings of {account}: {error}"}))
                return 1
            totals["SuccessCount"] += answer["SuccessCount"]
            totals["FailedCount"] += answer["FailedCount"]
            totals["FailedFindings"].extend(answer["FailedFindings"])
        imports[account] = totals
        got = []
        for page in hub.get_paginator("get_findings").paginate():
            got.extend(page["Findings"])
        read_back[account] = got
    print(json.dumps({"imports": imports, "findings": read_back}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
