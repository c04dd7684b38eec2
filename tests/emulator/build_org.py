"""Builds an organization in the emulator from a JSON description, for tests and the demo.

    python build_org.py --endpoint http://127.0.0.1:PORT < spec.json

spec: {"region": "us-east-1",
       "controls": [{"id": "<control id>", "pattern": "<filter pattern>"}, ...],   # optional
       "management": {"setup": "<setup>", <options>},
       "accounts": [{"name": "dev-1", "setup": "<setup>", <options>}, ...],
       "changes": [{"account_id": "...", "setup": "<setup>", <options>}, ...]}   # optional, for existing accounts

Prints {"management": "<id>", "accounts": {"<name>": "<id>", ...}}.

Each setup builds one state of the CIS 3.1 chain (trail -> log group -> metric filter -> alarm ->
topic -> subscription); see SETUPS. Applying a setup to an account that has one already replaces
the trail, alarm, filter and topic wiring, so a test can break and mend an account between scans.

Organization trails: "compliant-org-trail" and "org-trail-no-alarm" (meant for the management
account) make its trail an organization trail (IsOrganizationTrail=True, multi-region) whose log
group, filter, alarm and topic live in the management account. The emulator (server.py) then
lists that trail in every member's DescribeTrails, so a member with setup "no-trail" is covered
by it, as on AWS. The option "org_trail": true does the same for any other setup of the
management account, e.g. {"setup": "trail-not-logging", "org_trail": true}.

Options of an account entry (management, accounts and changes alike):

- "topic_account": "<name>" | "management" | "<12-digit id>": the alarms notify that account's
  topic, arn:aws:sns:<region>:<its id>:security-alerts (the one its own setup created; name an
  account that comes earlier in the spec), and this account creates no topic of its own. E.g.
  {"name": "app-1", "setup": "compliant", "topic_account": "security"}. With "topic-deleted" the
  alarm notifies <its id>:deleted-topic; setups that shape the topic itself ("no-subscription",
  "topic-aws-managed-key") are refused, give them to the topic's own account instead.
- "family": true | ["<control id>", ...]: instead of the single 3.1 filter and alarm, deploy on
  the same log group one metric filter and one alarm per control of the spec's top-level
  "controls" list (true: every one; a list: those ids), all notifying the same topic. The pattern
  comes from the spec, e.g. `orgwatch controls --format json` (objects with at least "id" and
  "pattern"); only the control "unauthorized-api-calls" takes the 3.1 pattern of
  "wrong-filter" and "compliant-reordered". Names, unique per control: filter "<id>", metric
  "<CamelCaseId>" in namespace CISBenchmark, alarm "CIS-<id>". Every other setup breaks the
  same link of every control's chain (e.g. "no-alarm": no alarm at all).
- "org_trail": true: see above.
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
    "compliant-org-trail": "the whole chain holds; the trail is a multi-region organization trail (management account)",
    "org-trail-no-alarm": "an organization trail and its filter, but no alarm on the metric (management account)",
}

# Setups that are another setup with the trail made an organization trail.
ORG_TRAIL_SETUPS = {"compliant-org-trail": "compliant", "org-trail-no-alarm": "no-alarm"}
# Setups that shape the topic itself, meaningless on another account's topic.
OWN_TOPIC_SETUPS = {"no-subscription", "topic-aws-managed-key"}
TOPIC_NAME = "security-alerts"
NAMESPACE = "CISBenchmark"
UNAUTHORIZED_API_CALLS = "unauthorized-api-calls"


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


def metric_name(control_id):
    """`unauthorized-api-calls` -> `UnauthorizedApiCalls`."""
    return "".join(part[:1].upper() + part[1:] for part in control_id.replace("_", "-").split("-") if part)


def chains(setup, family, controls):
    """(filter name, metric name, alarm name, pattern) of every chain the account gets."""
    pattern_31 = {"wrong-filter": AND_PATTERN, "compliant-reordered": REORDERED_PATTERN}.get(setup, GOOD_PATTERN)
    if not family:
        return [("UnauthorizedAPICalls", "UnauthorizedAPICalls", "CIS-3.1-UnauthorizedAPICalls", pattern_31)]
    if family is not True and not isinstance(family, list):
        raise SystemExit('"family" is true or a list of control ids')
    if not controls:
        raise SystemExit('"family" needs the spec\'s top-level "controls": [{"id": ..., "pattern": ...}, ...]')
    by_id = {c["id"]: c for c in controls}
    wanted = list(by_id) if family is True else family
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise SystemExit(f"family: controls {unknown} are not in the spec's \"controls\"")
    result = []
    for control_id in wanted:
        pattern = by_id[control_id]["pattern"]
        if control_id == UNAUTHORIZED_API_CALLS and setup in ("wrong-filter", "compliant-reordered"):
            pattern = pattern_31
        result.append((control_id, metric_name(control_id), f"CIS-{control_id}", pattern))
    return result


def configure(endpoint, region, account_id, setup, credentials, topic_account=None, family=None, controls=(), org_trail=False):
    """Puts one account into `setup`. topic_account: the id of the account whose topic the alarms
    notify (None: this account's own); family: None, True or a list of control ids."""
    if setup not in SETUPS:
        raise SystemExit(f"unknown setup {setup!r}; known: {', '.join(sorted(SETUPS))}")
    org_trail = org_trail or setup in ORG_TRAIL_SETUPS
    setup = ORG_TRAIL_SETUPS.get(setup, setup)
    if topic_account == account_id:
        topic_account = None
    if topic_account and setup in OWN_TOPIC_SETUPS:
        raise SystemExit(f"setup {setup!r} shapes the account's own topic; it cannot go with topic_account")
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
    if org_trail:
        trail["IsOrganizationTrail"] = True
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
    wired = chains(setup, family, controls)
    if setup != "no-filter":
        target = c("logs", OTHER_REGION) if setup == "filter-other-region" else logs
        for filter_name, metric, _, pattern in wired:
            target.put_metric_filter(
                logGroupName=LOG_GROUP,
                filterName=filter_name,
                filterPattern=pattern,
                metricTransformations=[{
                    "metricName": metric,
                    "metricNamespace": NAMESPACE,
                    "metricValue": "0" if setup == "filter-value-zero" else "1",
                }],
            )

    if topic_account:
        topic_arn = f"arn:aws:sns:{region}:{topic_account}:{TOPIC_NAME}"
    else:
        attributes = {"KmsMasterKeyId": "alias/aws/sns"} if setup == "topic-aws-managed-key" else {}
        topic_arn = sns.create_topic(Name=TOPIC_NAME, Attributes=attributes)["TopicArn"]
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []):
            sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        if setup != "no-subscription":
            sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=f"security+{account_id}@example.com")
    if setup == "topic-deleted":
        topic_arn = f"arn:aws:sns:{region}:{topic_account or account_id}:deleted-topic"
    if setup == "no-alarm":
        return
    for _, metric, alarm_name, _ in wired:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm_name,
            MetricName=metric,
            Namespace=NAMESPACE,
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold" if setup == "alarm-less-than" else "GreaterThanOrEqualToThreshold",
            ActionsEnabled=setup != "alarm-actions-disabled",
            AlarmActions=[] if setup == "alarm-no-sns" else [topic_arn],
            TreatMissingData="notBreaching",
        )


def validate(spec):
    """Refuses a spec that could not be built whole, before anything is created."""
    controls = spec.get("controls") or []
    known = {"management"}
    entries = [("management", spec["management"])] if spec.get("management", {}).get("setup") else []
    entries += [(a.get("name"), a) for a in spec.get("accounts", [])]
    entries += [(c.get("account_id"), c) for c in spec.get("changes", [])]
    for name, entry in entries:
        setup = entry.get("setup")
        if setup not in SETUPS:
            raise SystemExit(f"{name}: unknown setup {setup!r}; known: {', '.join(sorted(SETUPS))}")
        topic_account = entry.get("topic_account")
        if topic_account is not None and topic_account != name:
            if topic_account not in known and not (len(topic_account) == 12 and topic_account.isdigit()):
                raise SystemExit(f"{name}: topic_account {topic_account!r} is neither an earlier account of the spec, \"management\" nor an account id")
            if ORG_TRAIL_SETUPS.get(setup, setup) in OWN_TOPIC_SETUPS:
                raise SystemExit(f"{name}: setup {setup!r} shapes the account's own topic; it cannot go with topic_account")
        if entry.get("family"):
            chains(ORG_TRAIL_SETUPS.get(setup, setup), entry["family"], controls)
        known.add(name)


def apply(endpoint, region, account_id, entry, names, controls):
    """Configures one account from its spec entry; names maps account names to ids."""
    topic_account = entry.get("topic_account")
    if topic_account is not None:
        if topic_account in names:
            topic_account = names[topic_account]
        elif not (len(topic_account) == 12 and topic_account.isdigit()):
            raise SystemExit(f"topic_account {topic_account!r} is neither an earlier account of the spec, \"management\" nor an account id")
    configure(
        endpoint,
        region,
        account_id,
        entry["setup"],
        account_credentials(endpoint, region, account_id),
        topic_account=topic_account,
        family=entry.get("family") or None,
        controls=controls,
        org_trail=bool(entry.get("org_trail")),
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
    validate(spec)
    region = spec.get("region", "us-east-1")
    controls = spec.get("controls") or []
    endpoint = args.endpoint
    org = client("organizations", region, endpoint, root_credentials())
    result = {"accounts": {}}
    names = {}
    if "accounts" in spec or "management" in spec:
        try:
            org.create_organization(FeatureSet="ALL")
        except org.exceptions.AlreadyInOrganizationException:
            pass
        management = org.describe_organization()["Organization"]["MasterAccountId"]
        result["management"] = management
        names["management"] = management
        if spec.get("management", {}).get("setup"):
            apply(endpoint, region, management, spec["management"], names, controls)
        for account in spec.get("accounts", []):
            created = org.create_account(Email=f"{account['name']}@example.com", AccountName=account["name"])
            account_id = created["CreateAccountStatus"]["AccountId"]
            result["accounts"][account["name"]] = account_id
            apply(endpoint, region, account_id, account, names, controls)
            names[account["name"]] = account_id
    for change in spec.get("changes", []):
        apply(endpoint, region, change["account_id"], change, names, controls)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
