"""Builds an organization in the emulator from a JSON description, for tests and the demo.

    python build_org.py --endpoint http://127.0.0.1:PORT < spec.json

spec: {"region": "us-east-1",
       "management": {"setup": "<setup>"},
       "accounts": [{"name": "dev-1", "setup": "<setup>"}, ...],
       "changes": [{"account_id": "...", "setup": "<setup>"}, ...]}   # optional, for existing accounts

Prints {"management": "<id>", "accounts": {"<name>": "<id>", ...}}.

Each setup builds one state of the CIS 3.1 chain (trail -> log group -> metric filter -> alarm ->
topic -> subscription); see SETUPS. Applying a setup to an account that has one already replaces
the alarm, filter and topic wiring, so a test can break and mend an account between scans.
"""

import argparse
import json
import sys

import boto3
from botocore.config import Config

GOOD_PATTERN = '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'
REORDERED_PATTERN = '{($.errorCode="AccessDenied*")||($.errorCode="*UnauthorizedOperation")}'
AND_PATTERN = '{ ($.errorCode = "*UnauthorizedOperation") && ($.errorCode = "AccessDenied*") }'
LOG_GROUP = "CloudTrail/Default"
OTHER_REGION = "eu-west-1"

SETUPS = {
    "compliant": "the whole chain holds",
    "compliant-reordered": "the whole chain holds; the pattern's clauses are reordered and unspaced",
    "no-trail": "no trail at all",
    "single-region-trail": "only a single-region trail",
    "trail-not-logging": "the trail exists but was never started",
    "read-only-events": "the trail captures only read-only management events",
    "no-cloudwatch": "the trail does not deliver to CloudWatch Logs",
    "no-filter": "no metric filter on the trail's log group",
    "wrong-filter": "a filter with && where || was meant",
    "filter-other-region": "the filter sits on a log group of the same name in another region",
    "filter-value-zero": "the filter publishes 0 per match",
    "no-alarm": "no alarm on the metric",
    "alarm-actions-disabled": "the alarm's actions are disabled",
    "alarm-less-than": "the alarm fires when the count is below its threshold",
    "alarm-no-sns": "the alarm notifies nobody",
    "topic-deleted": "the alarm notifies a topic that does not exist",
    "no-subscription": "the topic has no subscription",
    "topic-aws-managed-key": "the topic is encrypted with alias/aws/sns",
}


def client(service, region, endpoint, credentials):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 2}),
        **credentials,
    )


def root_credentials():
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


def account_credentials(endpoint, region, account_id):
    sts = client("sts", region, endpoint, root_credentials())
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="setup")["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def configure(endpoint, region, account_id, setup, credentials):
    if setup not in SETUPS:
        raise SystemExit(f"unknown setup {setup!r}; known: {', '.join(sorted(SETUPS))}")
    c = lambda service, r=region: client(service, r, endpoint, credentials)  # noqa: E731
    cloudtrail, logs, cloudwatch, sns = c("cloudtrail"), c("logs"), c("cloudwatch"), c("sns")

    # Start from a clean slate for the parts a setup changes.
    for trail in cloudtrail.describe_trails(includeShadowTrails=False).get("trailList", []):
        cloudtrail.delete_trail(Name=trail["Name"])
    for alarm in cloudwatch.describe_alarms().get("MetricAlarms", []):
        cloudwatch.delete_alarms(AlarmNames=[alarm["AlarmName"]])
    if setup == "no-trail":
        return

    bucket = f"orgwatch-trail-{account_id}"
    s3 = c("s3")
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for r in (region, OTHER_REGION):
        try:
            c("logs", r).create_log_group(logGroupName=LOG_GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
    log_group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{LOG_GROUP}:*"
    trail = {"Name": "main", "S3BucketName": bucket, "IsMultiRegionTrail": setup != "single-region-trail"}
    if setup != "no-cloudwatch":
        trail["CloudWatchLogsLogGroupArn"] = log_group_arn
        trail["CloudWatchLogsRoleArn"] = f"arn:aws:iam::{account_id}:role/CloudTrailToCloudWatchLogs"
    cloudtrail.create_trail(**trail)
    if setup != "trail-not-logging":
        cloudtrail.start_logging(Name="main")
    if setup == "read-only-events":
        cloudtrail.put_event_selectors(TrailName="main", EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}])

    for r in (region, OTHER_REGION):
        regional = c("logs", r)
        for f in regional.describe_metric_filters(logGroupName=LOG_GROUP).get("metricFilters", []):
            regional.delete_metric_filter(logGroupName=LOG_GROUP, filterName=f["filterName"])
    if setup != "no-filter":
        pattern = {"wrong-filter": AND_PATTERN, "compliant-reordered": REORDERED_PATTERN}.get(setup, GOOD_PATTERN)
        target = c("logs", OTHER_REGION) if setup == "filter-other-region" else logs
        target.put_metric_filter(
            logGroupName=LOG_GROUP,
            filterName="UnauthorizedAPICalls",
            filterPattern=pattern,
            metricTransformations=[{
                "metricName": "UnauthorizedAPICalls",
                "metricNamespace": "CISBenchmark",
                "metricValue": "0" if setup == "filter-value-zero" else "1",
            }],
        )

    attributes = {"KmsMasterKeyId": "alias/aws/sns"} if setup == "topic-aws-managed-key" else {}
    topic_arn = sns.create_topic(Name="security-alerts", Attributes=attributes)["TopicArn"]
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []):
        sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    if setup != "no-subscription":
        sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=f"security+{account_id}@example.com")
    if setup == "topic-deleted":
        topic_arn = f"arn:aws:sns:{region}:{account_id}:deleted-topic"
    if setup == "no-alarm":
        return
    cloudwatch.put_metric_alarm(
        AlarmName="CIS-3.1-UnauthorizedAPICalls",
        MetricName="UnauthorizedAPICalls",
        Namespace="CISBenchmark",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="LessThanThreshold" if setup == "alarm-less-than" else "GreaterThanOrEqualToThreshold",
        ActionsEnabled=setup != "alarm-actions-disabled",
        AlarmActions=[] if setup == "alarm-no-sns" else [topic_arn],
        TreatMissingData="notBreaching",
    )


def main():
    parser = argparse.ArgumentParser(description="Build an organization in the emulator")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--list-setups", action="store_true")
    args = parser.parse_args()
    if args.list_setups:
        print(json.dumps(SETUPS, indent=2))
        return
    if not args.endpoint.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("the emulator must be on loopback")
    spec = json.load(sys.stdin)
    region = spec.get("region", "us-east-1")
    endpoint = args.endpoint
    org = client("organizations", region, endpoint, root_credentials())
    result = {"accounts": {}}
    if "accounts" in spec or "management" in spec:
        try:
            org.create_organization(FeatureSet="ALL")
        except org.exceptions.AlreadyInOrganizationException:
            pass
        management = org.describe_organization()["Organization"]["MasterAccountId"]
        result["management"] = management
        if spec.get("management", {}).get("setup"):
            configure(endpoint, region, management, spec["management"]["setup"], account_credentials(endpoint, region, management))
        for account in spec.get("accounts", []):
            created = org.create_account(Email=f"{account['name']}@example.com", AccountName=account["name"])
            account_id = created["CreateAccountStatus"]["AccountId"]
            result["accounts"][account["name"]] = account_id
            configure(endpoint, region, account_id, account["setup"], account_credentials(endpoint, region, account_id))
    for change in spec.get("changes", []):
        configure(endpoint, region, change["account_id"], change["setup"], account_credentials(endpoint, region, change["account_id"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
