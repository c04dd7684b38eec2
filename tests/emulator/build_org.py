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

The last hops (what orgwatch judges after a confirmed subscription): the topic's access policy,
its KMS key, and what CloudWatch recorded of the alarm's notifications. A central topic is
shared: an option that shapes it (topic_policy, kms) rewrites it for every account notifying it,
so give each such case its own central account (the last entry applied wins).

- Cross-account alarms. An entry with "topic_account" (and no "topic_policy") gives the central
  topic the policy "org" below, so that CloudWatch may publish there for the organization's
  alarms: SNS's default policy admits only alarms of the topic's own account (AWS:SourceOwner).
  Re-applying a setup to the topic's own account keeps that statement.
- "topic_policy": the whole access policy of the topic the alarms notify (own or central):
    "default"          SNS's default policy: only the owner's statement (__default_statement_ID,
                       Principal AWS *, Condition StringEquals AWS:SourceOwner = owner).
    "org"              the owner's statement + Allow Service cloudwatch.amazonaws.com sns:Publish
                       on the topic, Condition StringEquals aws:SourceOrgID = the organization's
                       id (as moto's DescribeOrganization gives it); Sid AllowOrganizationAlarms.
    "other-accounts"   the owner's statement + Allow cloudwatch sns:Publish with StringEquals
                       aws:SourceAccount = every account of the organization but this one
                       (those that exist when the entry is applied).
    "org-deny-others"  "org" + Deny cloudwatch sns:Publish with StringNotEquals
                       aws:SourceAccount = this account: every account but this one is denied,
                       the topic's owner too (its own alarm then FAILs, the Deny outweighing
                       the default statement).
    "org-deny-this"    "org" + the same Deny sparing only the topic's owner: this account (of a
                       central topic) is denied.
    "ops-role-only"    one statement: Allow AWS arn:aws:iam::<owner>:role/ops sns:Publish (and
                       the owner's management actions); nothing for CloudWatch, no default.
    "undecidable"      one statement, the only Allow: cloudwatch sns:Publish with StringEquals
                       aws:SourceAccount = this account and NumericLessThan aws:EpochTime.
    "ou-path"          the owner's statement + Allow cloudwatch sns:Publish with
                       ForAnyValue:StringLike aws:SourceOrgPaths = "<o-id>/<r-id>/<ou-id>/*" of
                       the OU named by "policy_ou" (default: this entry's "ou").
  Without topic_policy an own topic gets SNS's default policy (plus AllowOrganizationAlarms when
  it had it, see above).
- "ou": "<name>": the account is moved into that organizational unit, directly under the root
  (created when missing). Without it the account stays where it is (new accounts: the root).
- "policy_ou": "<name>": the OU whose path "ou-path" admits (created when missing).
- "kms": the topic the alarms notify is encrypted with a new customer-managed key of the topic's
  own account, aliased alias/security-alerts (the alias moves to the new key):
    "cmk-no-grant"          moto's default key policy: only arn:aws:iam::<owner>:root, kms:*.
    "cmk-decrypt-only"      that + Allow Service cloudwatch.amazonaws.com kms:Decrypt.
    "cmk-ok"                that + Allow cloudwatch kms:Decrypt and kms:GenerateDataKey* (the
                            statement the SNS developer guide gives).
    "cmk-disabled"          "cmk-ok", then DisableKey (KeyState Disabled).
    "cmk-pending-deletion"  "cmk-ok", then ScheduleKeyDeletion, 7 days (KeyState PendingDeletion).
  Without kms an own topic is left unencrypted (except with "topic-aws-managed-key"); a central
  topic keeps whatever key it has.
- "kms_ref": how the topic's KmsMasterKeyId names the key: "alias" (default,
  alias/security-alerts), "alias-arn", "key-arn" or "key-id".
- "history": what CloudWatch recorded of every alarm's notifications (server.py's
  /_orgwatch/alarm-history; each configure first forgets the account's history in the region):
    "failed"              a success a day ago, then (an hour ago) the state change to ALARM and a
                          failed Action to the alarm's topic, with the error of "history_error"
                          (default: CloudWatch's "does not have authorization to access the SNS
                          topic encryption key").
    "recovered"           a failure two hours ago, then a success an hour ago.
    "other-topic-failed"  a success to the alarm's topic a day ago, then a failure an hour ago to
                          arn:aws:sns:<region>:<account>:retired-alerts, a topic it no longer
                          notifies.

How the alarm notifies (the trail, log group, metric filter, topic and its confirmed
subscription stay as the base setup makes them; single chain only: refused with "family", and
with the setups that shape the alarm themselves: no-trail, no-alarm, org-trail-no-alarm,
alarm-actions-disabled, alarm-less-than, alarm-no-sns). Alarm names: the metric alarm
"CIS-3.1-UnauthorizedAPICalls" on CISBenchmark/UnauthorizedAPICalls as in "compliant"; the
other alarm "other-signal" on CISBenchmark/OtherSignal (Sum, 300 s, >= 1, no actions).

- "composite": the metric alarm keeps ActionsEnabled but has no actions; "other-signal" exists;
  the composite alarm "cis-unauthorized-composite" notifies the topic:
    "or"                rule ALARM("CIS-3.1-UnauthorizedAPICalls") OR ALARM("other-signal").
    "and"               rule ALARM("CIS-3.1-UnauthorizedAPICalls") AND ALARM("other-signal").
    "actions-disabled"  "or" with the composite's ActionsEnabled false.
    "suppressed"        "or" with ActionsSuppressor "other-signal", wait and extension periods
                        60 s each.
    "nested"            "or" without actions, and a second composite "cis-pager" with rule
                        ALARM("arn:aws:cloudwatch:<region>:<account>:alarm:cis-unauthorized-composite")
                        OR ALARM("other-signal") (the inner composite by ARN) notifies the topic.
  "history" then goes on the composite that notifies (AlarmType CompositeAlarm).
- "math": no alarm on the metric itself; the metric-math alarm "CIS-3.1-UnauthorizedAPICalls"
  (GreaterThanOrEqualToThreshold 1, EvaluationPeriods 1, TreatMissingData notBreaching,
  AlarmActions the topic) with Metrics m1 = MetricStat CISBenchmark/UnauthorizedAPICalls, Period
  300, Stat Sum, ReturnData false, then, as the only ReturnData true, e1 labelled "denied calls":
    "fill"          e1 = FILL(m1, 0).
    "other-metric"  m2 = CISBenchmark/OtherSignal (300, Sum, ReturnData false); e1 = FILL(m2, 0)
                    (m1 unused).
    "undecidable"   e1 = RATE(m1).
    "scaled"        m2 as above; e1 = SUM([m1, m2]) * 2.
  "composite" and "math" do not go together.
- "noise": what the chain's metric (CISBenchmark/<metric>, no dimensions) and its alarm's
  history held over the last week, put with past timestamps (PutMetricData) and as StateUpdate
  items (server.py's /_orgwatch/alarm-history), single chain only:
    "noisy"  every 5-minute period at 3 to 8 (pseudo-random, seeded by the account id) but one
             thirty hours ago at 200; 400 transitions OK -> ALARM spread over the week, each back
             to OK ten minutes later.
    "quiet"  three periods at 1, nothing else; three transitions to ALARM.
  moto keeps metric data for good: applying it twice to an account adds the points again.
- "delivery": SNS's record of the topic's deliveries (AWS/SNS NumberOfNotificationsDelivered and
  NumberOfNotificationsFailed, dimension TopicName), one point a day over the last six days, in
  the account's own topic: "failing" (2 failed a day, none delivered: SUBSCRIBER_DELIVERY_FAILING),
  "delivered" (3 delivered a day), "partial" (3 delivered and 1 failed a day).
- "filter_fields": {"fieldSelectionCriteria": "...", "emitSystemFieldDimensions": [...],
  "applyOnTransformedLogs": true}: given to PutMetricFilter with the chain's filters ("{account}"
  in a string stands for the account's id); server.py keeps them, as moto drops them.
- "extra_alarms": N (0-1000): N unrelated metric alarms besides the chain's, half named before
  the CIS alarm ("aaa-filler-0001", ...) and half after ("zzz-filler-0001", ...), on metric
  OrgwatchFiller/Filler<NNNN> (Sum, 300 s, >= 1, no actions), so that DescribeAlarms takes
  several pages. Any setup may have them (no-trail too). They go straight into moto's backend
  (server.py's /_orgwatch/metric-alarms), not through PutMetricAlarm: 500 take a fraction of a second.

Named setups for these (PRESETS: a base setup and options; an entry's own options override
them). Names starting with "compliant" are meant to PASS (so are "composite-or",
"composite-nested", "composite-suppressed", "math-fill", "math-scaled" and "many-alarms");
EXPECTED (--expectations) gives the status and reason orgwatch should give every setup (null:
not named yet). "central-topic-*" need "topic_account".
"""

import argparse
import datetime
import json
import random
import re
import sys
import urllib.request

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
    # Presets (PRESETS below): "compliant" with options of the last hops.
    "central-topic-default-policy": "the alarm notifies another account's topic left behind SNS's default policy (needs topic_account)",
    "central-topic-admits-other-accounts": "the central topic's policy admits other accounts' alarms (aws:SourceAccount) but not this one's (needs topic_account)",
    "compliant-central-topic-org-deny-others": "the central topic admits the organization's alarms and denies every account but this one (needs topic_account)",
    "central-topic-org-deny-this": "the central topic admits the organization's alarms but denies every account but its owner (needs topic_account)",
    "topic-policy-ops-role-only": "the account's own topic admits only its role ops, not CloudWatch",
    "topic-policy-undecidable": "the own topic's only Allow for CloudWatch has a NumericLessThan condition on aws:EpochTime",
    "compliant-central-topic-ou-path": "the central topic admits the OU path o-/r-/ou-workloads/* and the account is in OU workloads (needs topic_account)",
    "central-topic-ou-path-other-ou": "the central topic admits the OU path of OU workloads; the account is in OU sandbox (needs topic_account)",
    "cmk-no-grant": "the topic is encrypted with a customer-managed key (by alias) whose policy is moto's default: the account's IAM only",
    "cmk-decrypt-only": "the topic's customer-managed key grants cloudwatch.amazonaws.com kms:Decrypt only",
    "compliant-cmk-by-key-arn": "the topic's customer-managed key, named by key ARN, grants CloudWatch kms:Decrypt and kms:GenerateDataKey*",
    "compliant-cmk-by-alias": "the topic's customer-managed key, named by alias, grants CloudWatch kms:Decrypt and kms:GenerateDataKey*",
    "cmk-disabled": "the topic's key grants CloudWatch what it needs but is disabled",
    "cmk-pending-deletion": "the topic's key grants CloudWatch what it needs but is pending deletion",
    "compliant-noisy": "the whole chain holds; a week of 3 to 8 denied calls every five minutes and one burst of 200, and the alarm at threshold 1 went to ALARM 400 times",
    "compliant-quiet": "the whole chain holds; three denied calls in the week and three alarms",
    "delivery-failing": "the whole chain holds but SNS failed every delivery of the topic in the last week and delivered none",
    "compliant-delivered": "the whole chain holds and SNS delivered the topic's notifications in the last week",
    "compliant-delivery-partial": "the whole chain holds; SNS delivered most of the topic's notifications and failed some",
    "alarm-action-failed": "the whole chain holds but the alarm's latest notification to its topic failed",
    "compliant-action-recovered": "the alarm's notification failed once, then a later one succeeded",
    "compliant-other-topic-failed": "the alarm's latest failure was to a topic it no longer notifies",
    # Presets: "compliant" notified through composite or metric-math alarms, or among many alarms.
    "composite-or": "the metric alarm has no actions; a composite ALARM(it) OR ALARM(other-signal) notifies the topic",
    "composite-nested": "a composite ALARM(it) OR ALARM(other-signal) without actions; a second composite over the first (by ARN) notifies the topic",
    "composite-and": "the metric alarm has no actions; a composite ALARM(it) AND ALARM(other-signal) notifies the topic",
    "composite-actions-disabled": "composite-or with the composite's actions disabled",
    "composite-suppressed": "composite-or with the composite's actions suppressed by other-signal (60 s wait and extension)",
    "math-fill": "no alarm on the metric itself; a metric-math alarm on FILL(m1, 0) of the metric notifies the topic",
    "math-other-metric": "a metric-math alarm returning FILL(m2, 0) of another metric; the filter's metric m1 is defined but unused",
    "math-undecidable": "a metric-math alarm returning RATE(m1) of the metric",
    "math-scaled": "a metric-math alarm returning SUM([m1, m2]) * 2, m1 the metric, m2 another",
    "many-alarms": "the whole chain holds among 120 unrelated alarms (extra_alarms), sorted before and after it",
}

# Named setups that are a base setup with options (an entry's own options override them).
PRESETS = {
    "central-topic-default-policy": ("compliant", {"topic_policy": "default"}),
    "central-topic-admits-other-accounts": ("compliant", {"topic_policy": "other-accounts"}),
    "compliant-central-topic-org-deny-others": ("compliant", {"topic_policy": "org-deny-others"}),
    "central-topic-org-deny-this": ("compliant", {"topic_policy": "org-deny-this"}),
    "topic-policy-ops-role-only": ("compliant", {"topic_policy": "ops-role-only"}),
    "topic-policy-undecidable": ("compliant", {"topic_policy": "undecidable"}),
    "compliant-central-topic-ou-path": ("compliant", {"topic_policy": "ou-path", "ou": "workloads", "policy_ou": "workloads"}),
    "central-topic-ou-path-other-ou": ("compliant", {"topic_policy": "ou-path", "ou": "sandbox", "policy_ou": "workloads"}),
    "cmk-no-grant": ("compliant", {"kms": "cmk-no-grant"}),
    "cmk-decrypt-only": ("compliant", {"kms": "cmk-decrypt-only"}),
    "compliant-cmk-by-key-arn": ("compliant", {"kms": "cmk-ok", "kms_ref": "key-arn"}),
    "compliant-cmk-by-alias": ("compliant", {"kms": "cmk-ok", "kms_ref": "alias"}),
    "cmk-disabled": ("compliant", {"kms": "cmk-disabled"}),
    "cmk-pending-deletion": ("compliant", {"kms": "cmk-pending-deletion"}),
    "compliant-noisy": ("compliant", {"noise": "noisy"}),
    "compliant-quiet": ("compliant", {"noise": "quiet"}),
    "delivery-failing": ("compliant", {"delivery": "failing"}),
    "compliant-delivered": ("compliant", {"delivery": "delivered"}),
    "compliant-delivery-partial": ("compliant", {"delivery": "partial"}),
    "alarm-action-failed": ("compliant", {"history": "failed"}),
    "compliant-action-recovered": ("compliant", {"history": "recovered"}),
    "compliant-other-topic-failed": ("compliant", {"history": "other-topic-failed"}),
    "composite-or": ("compliant", {"composite": "or"}),
    "composite-nested": ("compliant", {"composite": "nested"}),
    "composite-and": ("compliant", {"composite": "and"}),
    "composite-actions-disabled": ("compliant", {"composite": "actions-disabled"}),
    "composite-suppressed": ("compliant", {"composite": "suppressed"}),
    "math-fill": ("compliant", {"math": "fill"}),
    "math-other-metric": ("compliant", {"math": "other-metric"}),
    "math-undecidable": ("compliant", {"math": "undecidable"}),
    "math-scaled": ("compliant", {"math": "scaled"}),
    "many-alarms": ("compliant", {"extra_alarms": 120}),
}
# Presets meaningful only for an alarm that notifies another account's topic.
CENTRAL_TOPIC_PRESETS = {name for name in PRESETS if name.startswith(("central-topic-", "compliant-central-topic-"))}

# (status, reason) orgwatch is meant to give an account in each setup, alone (no options).
POLICY_DENIES = ("FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH")
UNPUBLISHABLE = ("FAIL", "SNS_TOPIC_UNPUBLISHABLE")
PASS = ("PASS", "COMPLIANT")
EXPECTED = {
    "compliant": PASS,
    "compliant-noisy": PASS,
    "compliant-quiet": PASS,
    "delivery-failing": ("FAIL", "SUBSCRIBER_DELIVERY_FAILING"),
    "compliant-delivered": PASS,
    "compliant-delivery-partial": PASS,
    "compliant-reordered": PASS,
    "no-trail": ("FAIL", "NO_MULTI_REGION_TRAIL"),
    "single-region-trail": ("FAIL", "NO_MULTI_REGION_TRAIL"),
    "trail-not-logging": ("FAIL", "TRAIL_NOT_LOGGING"),
    "read-only-events": ("FAIL", "MANAGEMENT_EVENTS_NOT_CAPTURED"),
    "no-cloudwatch": ("FAIL", "TRAIL_NOT_SENDING_TO_CLOUDWATCH"),
    "no-filter": ("FAIL", "NO_MATCHING_METRIC_FILTER"),
    "wrong-filter": ("FAIL", "NO_MATCHING_METRIC_FILTER"),
    "filter-other-region": ("FAIL", "NO_MATCHING_METRIC_FILTER"),
    "filter-value-zero": ("FAIL", "METRIC_FILTER_NEVER_COUNTS"),
    "no-alarm": ("FAIL", "NO_ALARM_ON_METRIC"),
    "alarm-actions-disabled": ("FAIL", "ALARM_ACTIONS_DISABLED"),
    "alarm-less-than": ("FAIL", "ALARM_CANNOT_FIRE"),
    "alarm-no-sns": ("FAIL", "NO_ALARM_NOTIFICATION"),
    "topic-deleted": ("FAIL", "SNS_TOPIC_NOT_FOUND"),
    "no-subscription": ("FAIL", "NO_CONFIRMED_SUBSCRIPTION"),
    "topic-aws-managed-key": UNPUBLISHABLE,
    "compliant-org-trail": PASS,
    "org-trail-no-alarm": ("FAIL", "NO_ALARM_ON_METRIC"),
    "central-topic-default-policy": POLICY_DENIES,
    "central-topic-admits-other-accounts": POLICY_DENIES,
    "compliant-central-topic-org-deny-others": PASS,
    "central-topic-org-deny-this": POLICY_DENIES,
    "topic-policy-ops-role-only": POLICY_DENIES,
    "topic-policy-undecidable": ("ERROR", "POLICY_UNDECIDABLE"),
    "compliant-central-topic-ou-path": PASS,
    "central-topic-ou-path-other-ou": POLICY_DENIES,
    "cmk-no-grant": UNPUBLISHABLE,
    "cmk-decrypt-only": UNPUBLISHABLE,
    "compliant-cmk-by-key-arn": PASS,
    "compliant-cmk-by-alias": PASS,
    "cmk-disabled": UNPUBLISHABLE,
    "cmk-pending-deletion": UNPUBLISHABLE,
    "alarm-action-failed": ("FAIL", "ALARM_ACTION_FAILED"),
    "compliant-action-recovered": PASS,
    "compliant-other-topic-failed": PASS,
    "composite-or": PASS,
    "composite-nested": PASS,
    "composite-and": ("FAIL", "ALARM_CANNOT_FIRE"),
    "composite-actions-disabled": ("FAIL", "ALARM_ACTIONS_DISABLED"),
    "composite-suppressed": PASS,  # with a note about the suppressor
    "math-fill": PASS,
    "math-other-metric": ("FAIL", "NO_ALARM_ON_METRIC"),
    "math-undecidable": ("ERROR", None),  # the reason is orgwatch's to name
    "math-scaled": PASS,
    "many-alarms": PASS,
}

TOPIC_POLICIES = {"default", "org", "other-accounts", "org-deny-others", "org-deny-this", "ops-role-only", "undecidable", "ou-path"}
KMS_KINDS = {"cmk-no-grant", "cmk-decrypt-only", "cmk-ok", "cmk-disabled", "cmk-pending-deletion"}
KMS_REFS = {"alias", "alias-arn", "key-arn", "key-id"}
HISTORIES = {"failed", "recovered", "other-topic-failed"}
COMPOSITES = {"or", "nested", "and", "actions-disabled", "suppressed"}
MATHS = {"fill", "other-metric", "undecidable", "scaled"}
MAX_EXTRA_ALARMS = 1000
# The options an entry may carry besides its name or account id and its setup.
OPTIONS = {"topic_account", "family", "org_trail", "topic_policy", "ou", "policy_ou", "kms", "kms_ref", "history", "history_error", "composite", "math", "extra_alarms", "filter_fields", "noise", "delivery"}
NOISES = {"noisy", "quiet"}
DELIVERIES = {"failing", "delivered", "partial"}
# Setups that shape the alarm themselves (or have none): no "composite" or "math" with them.
ALARM_SETUPS = {"no-trail", "no-alarm", "alarm-actions-disabled", "alarm-less-than", "alarm-no-sns"}
COMPOSITE_ALARM = "cis-unauthorized-composite"
PAGER_ALARM = "cis-pager"
OTHER_SIGNAL_ALARM = "other-signal"
OTHER_SIGNAL_METRIC = "OtherSignal"
FILLER_NAMESPACE = "OrgwatchFiller"
MATH_EXPRESSIONS = {"fill": "FILL(m1, 0)", "other-metric": "FILL(m2, 0)", "undecidable": "RATE(m1)", "scaled": "SUM([m1, m2]) * 2"}
CLOUDWATCH = "cloudwatch.amazonaws.com"
KEY_ALIAS = "alias/security-alerts"
ORG_STATEMENT_SID = "AllowOrganizationAlarms"
KMS_ERROR = "CloudWatch Alarms does not have authorization to access the SNS topic encryption key."

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


class Organization:
    """What the builder reads of the organization (with the management account's credentials),
    read once: its id, its root, its OUs by name, its accounts."""

    def __init__(self, endpoint, region):
        self.endpoint = endpoint
        self.region = region
        self.org = client("organizations", region, endpoint, root_credentials())
        self._described = None
        self._root = None
        self._ous = {}
        self._credentials = {}

    def described(self):
        if self._described is None:
            self._described = self.org.describe_organization()["Organization"]
        return self._described

    @property
    def id(self):
        return self.described()["Id"]

    @property
    def root_id(self):
        if self._root is None:
            self._root = self.org.list_roots()["Roots"][0]["Id"]
        return self._root

    def ou_id(self, name):
        """The id of the OU `name` directly under the root, created when missing."""
        if name not in self._ous:
            for page in self.org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=self.root_id):
                for unit in page["OrganizationalUnits"]:
                    self._ous.setdefault(unit["Name"], unit["Id"])
            if name not in self._ous:
                self._ous[name] = self.org.create_organizational_unit(ParentId=self.root_id, Name=name)["OrganizationalUnit"]["Id"]
        return self._ous[name]

    def ou_path(self, name):
        """The aws:SourceOrgPaths pattern of the accounts of OU `name`: o-…/r-…/ou-…/*."""
        return f"{self.id}/{self.root_id}/{self.ou_id(name)}/*"

    def move(self, account_id, ou_name):
        target = self.ou_id(ou_name)
        parent = self.org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        if parent != target:
            self.org.move_account(AccountId=account_id, SourceParentId=parent, DestinationParentId=target)

    def account_ids(self):
        return [a["Id"] for page in self.org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]

    def credentials(self, account_id):
        if account_id not in self._credentials:
            self._credentials[account_id] = account_credentials(self.endpoint, self.region, account_id)
        return self._credentials[account_id]


def default_statement(topic_arn, owner):
    """SNS's default statement, as AWS and moto write it."""
    return {
        "Effect": "Allow",
        "Sid": "__default_statement_ID",
        "Principal": {"AWS": "*"},
        "Action": [
            "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
            "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish",
        ],
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": owner}},
    }


def cloudwatch_publish(sid, topic_arn, condition, effect="Allow"):
    return {"Sid": sid, "Effect": effect, "Principal": {"Service": CLOUDWATCH}, "Action": "sns:Publish", "Resource": topic_arn, "Condition": condition}


def topic_policy_document(kind, topic_arn, owner, account_id, org):
    """The access policy `kind` (see the module's docstring) of a topic of `owner` notified by
    alarms of `account_id`."""
    if kind == "default":
        return {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [default_statement(topic_arn, owner)]}
    organization = cloudwatch_publish(ORG_STATEMENT_SID, topic_arn, {"StringEquals": {"aws:SourceOrgID": org.id}})
    statements = {
        "org": lambda: [default_statement(topic_arn, owner), organization],
        "other-accounts": lambda: [
            default_statement(topic_arn, owner),
            cloudwatch_publish("AllowOtherAccountsAlarms", topic_arn, {"StringEquals": {"aws:SourceAccount": [a for a in org.account_ids() if a != account_id]}}),
        ],
        "org-deny-others": lambda: [
            default_statement(topic_arn, owner),
            organization,
            cloudwatch_publish("DenyAlarmsOfOtherAccounts", topic_arn, {"StringNotEquals": {"aws:SourceAccount": account_id}}, "Deny"),
        ],
        "org-deny-this": lambda: [
            default_statement(topic_arn, owner),
            organization,
            cloudwatch_publish("DenyAlarmsOfOtherAccounts", topic_arn, {"StringNotEquals": {"aws:SourceAccount": owner}}, "Deny"),
        ],
        "ops-role-only": lambda: [{
            "Sid": "OperationsOnly",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{owner}:role/ops"},
            "Action": ["SNS:Publish", "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic"],
            "Resource": topic_arn,
        }],
        "undecidable": lambda: [
            cloudwatch_publish("AllowAlarmsUntil2100", topic_arn, {"StringEquals": {"aws:SourceAccount": account_id}, "NumericLessThan": {"aws:EpochTime": "4102444800"}}),
        ],
    }
    if kind == "ou-path":
        raise ValueError("ou-path needs the OU; see ou_path_document")
    return {"Version": "2012-10-17", "Id": "orgwatch-test-policy", "Statement": statements[kind]()}


def ou_path_document(topic_arn, owner, path):
    return {"Version": "2012-10-17", "Id": "orgwatch-test-policy", "Statement": [
        default_statement(topic_arn, owner),
        cloudwatch_publish("AllowAlarmsOfTheOU", topic_arn, {"ForAnyValue:StringLike": {"aws:SourceOrgPaths": [path]}}),
    ]}


def set_topic_policy(sns, topic_arn, document):
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(document))


def key_policy_document(kind, owner):
    """The key policy of `kind` (see the module's docstring); None: moto's default."""
    if kind == "cmk-no-grant":
        return None
    root = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{owner}:root"}, "Action": "kms:*", "Resource": "*"}
    actions = ["kms:Decrypt"] if kind == "cmk-decrypt-only" else ["kms:Decrypt", "kms:GenerateDataKey*"]
    cloudwatch = {"Sid": "Allow_CloudWatch_for_CMK", "Effect": "Allow", "Principal": {"Service": CLOUDWATCH}, "Action": actions, "Resource": "*"}
    return {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [root, cloudwatch]}


def encrypt_topic(kms, sns, topic_arn, owner, region, kind, ref):
    """A new key of `kind` for the topic, aliased KEY_ALIAS; the topic names it by `ref`."""
    policy = key_policy_document(kind, owner)
    arguments = {"Description": f"orgwatch test key ({kind}) of {topic_arn}"}
    if policy is not None:
        arguments["Policy"] = json.dumps(policy)
    key = kms.create_key(**arguments)["KeyMetadata"]
    aliases = [a["AliasName"] for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]]
    if KEY_ALIAS in aliases:
        kms.update_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])
    else:
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])
    if kind == "cmk-disabled":
        kms.disable_key(KeyId=key["KeyId"])
    elif kind == "cmk-pending-deletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    named = {
        "alias": KEY_ALIAS,
        "alias-arn": f"arn:aws:kms:{region}:{owner}:{KEY_ALIAS}",
        "key-arn": key["Arn"],
        "key-id": key["KeyId"],
    }[ref]
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=named)
    return key


def control(endpoint, method, path, body):
    """A call of the emulator's control API (server.py)."""
    request = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def history_items(kind, topic_arn, region, account_id, error):
    """The items of alarm history `kind` (see the module's docstring), oldest first."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    at = lambda delta: (now - delta).isoformat().replace("+00:00", "Z")  # noqa: E731
    hour, day = datetime.timedelta(hours=1), datetime.timedelta(days=1)
    state_change = {
        "timestamp": at(hour + datetime.timedelta(seconds=1)),
        "type": "StateUpdate",
        "summary": "Alarm updated from OK to ALARM",
        "data": {"version": "1.0", "oldState": {"stateValue": "OK"}, "newState": {"stateValue": "ALARM", "stateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0)."}},
    }
    if kind == "failed":
        return [
            {"timestamp": at(day), "topic": topic_arn, "state": "Succeeded"},
            state_change,
            {"timestamp": at(hour), "topic": topic_arn, "state": "Failed", "error": error},
        ]
    if kind == "recovered":
        return [
            {"timestamp": at(2 * hour), "topic": topic_arn, "state": "Failed", "error": error},
            state_change,
            {"timestamp": at(hour), "topic": topic_arn, "state": "Succeeded"},
        ]
    retired = f"arn:aws:sns:{region}:{account_id}:retired-alerts"
    return [
        {"timestamp": at(day), "topic": topic_arn, "state": "Succeeded"},
        state_change,
        {"timestamp": at(hour), "topic": retired, "state": "Failed", "error": error},
    ]


def resolve(setup, options):
    """(base setup, options): a preset's options under the entry's own."""
    if setup in PRESETS:
        base, preset = PRESETS[setup]
        return base, {**preset, **{k: v for k, v in options.items() if v is not None}}
    return setup, options


def configure(endpoint, region, account_id, setup, credentials, topic_account=None, family=None, controls=(), org_trail=False, org=None, **options):
    """Puts one account into `setup`. topic_account: the id of the account whose topic the alarms
    notify (None: this account's own); family: None, True or a list of control ids; org: an
    Organization (one is made when needed); options: topic_policy, ou, policy_ou, kms, kms_ref,
    history, history_error, composite, math, extra_alarms, filter_fields (see the module's docstring)."""
    if setup not in SETUPS:
        raise SystemExit(f"unknown setup {setup!r}; known: {', '.join(sorted(SETUPS))}")
    preset = setup
    setup, options = resolve(setup, options)
    org_trail = org_trail or setup in ORG_TRAIL_SETUPS
    setup = ORG_TRAIL_SETUPS.get(setup, setup)
    if topic_account == account_id:
        topic_account = None
    if topic_account and setup in OWN_TOPIC_SETUPS:
        raise SystemExit(f"setup {setup!r} shapes the account's own topic; it cannot go with topic_account")
    if not topic_account and preset in CENTRAL_TOPIC_PRESETS:
        raise SystemExit(f"setup {preset!r} is about another account's topic; give it topic_account")
    org = org or Organization(endpoint, region)
    if options.get("ou"):
        org.move(account_id, options["ou"])
    c = lambda service, r=region: client(service, r, endpoint, credentials)  # noqa: E731
    control(endpoint, "DELETE", "/_orgwatch/alarm-history", {"account": account_id, "region": region})
    cloudtrail, logs, cloudwatch, sns = c("cloudtrail"), c("logs"), c("cloudwatch"), c("sns")

    # Start from a clean slate for the parts a setup changes.
    for trail in cloudtrail.describe_trails(includeShadowTrails=False).get("trailList", []):
        cloudtrail.delete_trail(Name=trail["Name"])
    clear_alarms(cloudwatch)
    if options.get("extra_alarms"):
        put_filler_alarms(endpoint, region, account_id, int(options["extra_alarms"]))
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
        # The filter's newer fields, "{account}" in a criterion standing for this account's id.
        extra = {k: (v.replace("{account}", account_id) if isinstance(v, str) else v) for k, v in (options.get("filter_fields") or {}).items()}
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
                **extra,
            )

    topic_policy, kms_kind = options.get("topic_policy"), options.get("kms")
    if topic_account:
        topic_arn = f"arn:aws:sns:{region}:{topic_account}:{TOPIC_NAME}"
        if setup != "topic-deleted":
            # The central topic, shaped with its owner's credentials.
            owner_credentials = org.credentials(topic_account)
            owner_sns = client("sns", region, endpoint, owner_credentials)
            shape_topic_policy(owner_sns, topic_arn, topic_account, account_id, topic_policy or "org", org, options)
            if kms_kind:
                encrypt_topic(client("kms", region, endpoint, owner_credentials), owner_sns, topic_arn, topic_account, region, kms_kind, options.get("kms_ref") or "alias")
    else:
        topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        if topic_policy:
            shape_topic_policy(sns, topic_arn, account_id, account_id, topic_policy, org, options)
        else:
            # SNS's default, keeping the admission of the organization's alarms when it had it.
            current = json.loads(attributes.get("Policy") or "{}")
            kind = "org" if any(st.get("Sid") == ORG_STATEMENT_SID for st in current.get("Statement", [])) else "default"
            document = topic_policy_document(kind, topic_arn, account_id, account_id, org)
            if current != document:
                set_topic_policy(sns, topic_arn, document)
        if kms_kind:
            encrypt_topic(c("kms"), sns, topic_arn, account_id, region, kms_kind, options.get("kms_ref") or "alias")
        else:
            wanted = "alias/aws/sns" if setup == "topic-aws-managed-key" else ""
            if attributes.get("KmsMasterKeyId", "") != wanted:
                sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=wanted)
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []):
            sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        if setup != "no-subscription":
            sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=f"security+{account_id}@example.com")
    if setup == "topic-deleted":
        topic_arn = f"arn:aws:sns:{region}:{topic_account or account_id}:deleted-topic"
    if setup == "no-alarm":
        return
    shape = options.get("composite") or options.get("math")
    if shape:
        if family:
            raise SystemExit('"composite" and "math" shape the single 3.1 chain; they cannot go with "family"')
        if setup in ALARM_SETUPS:
            raise SystemExit(f'setup {setup!r} shapes the alarm itself; it cannot go with "composite" or "math"')
        _, metric, alarm_name, _ = wired[0]
        if options.get("composite"):
            notifying = put_composite_chain(cloudwatch, region, account_id, metric, alarm_name, topic_arn, options["composite"])
            alarm_type = "CompositeAlarm"
        else:
            put_math_alarm(cloudwatch, metric, alarm_name, topic_arn, options["math"])
            notifying, alarm_type = alarm_name, "MetricAlarm"
        if options.get("history"):
            items = history_items(options["history"], topic_arn, region, account_id, options.get("history_error") or KMS_ERROR)
            items = [dict(item, alarm_type=alarm_type) for item in items]
            control(endpoint, "POST", "/_orgwatch/alarm-history", {"account": account_id, "region": region, "alarm": notifying, "items": items})
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
        if options.get("history"):
            items = history_items(options["history"], topic_arn, region, account_id, options.get("history_error") or KMS_ERROR)
            control(endpoint, "POST", "/_orgwatch/alarm-history", {"account": account_id, "region": region, "alarm": alarm_name, "items": items})
        if options.get("noise"):
            put_noise(cloudwatch, endpoint, region, account_id, metric, alarm_name, options["noise"])
    if options.get("delivery"):
        if topic_account:
            raise SystemExit('"delivery" is recorded in the account of the topic: give it to that account')
        put_delivery(cloudwatch, topic_arn, options["delivery"])


def put_points(cloudwatch, namespace, metric, dimensions, points):
    """PutMetricData of (datetime, value) points, a thousand a call (AWS's most)."""
    for i in range(0, len(points), 1000):
        data = [{"MetricName": metric, "Dimensions": dimensions, "Timestamp": t, "Value": v} for t, v in points[i : i + 1000]]
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)


def state_changes(times, days=7):
    """`times` transitions OK -> ALARM spread over the last `days` days, each back to OK ten
    minutes later, as StateUpdate items in AWS's shape."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    step = datetime.timedelta(days=days) / (times + 1)
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    item = lambda t, old, new: {  # noqa: E731
        "timestamp": iso(t),
        "type": "StateUpdate",
        "summary": f"Alarm updated from {old} to {new}",
        "data": {"version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": new, "stateReason": "Threshold Crossed"}},
    }
    start = now - datetime.timedelta(days=days)
    items = []
    for k in range(1, times + 1):
        at = start + step * k
        items += [item(at, "OK", "ALARM"), item(at + datetime.timedelta(minutes=10), "ALARM", "OK")]
    return items


def put_noise(cloudwatch, endpoint, region, account_id, metric, alarm_name, kind):
    """A week of the chain's metric and its alarm's state changes (see "noise")."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    now -= datetime.timedelta(minutes=now.minute % 5)
    periods = 7 * 24 * 12
    at = lambda i: now - datetime.timedelta(minutes=5 * i)  # noqa: E731
    if kind == "noisy":
        rng = random.Random(account_id)
        points = [(at(i), 200.0 if i == 30 * 12 else float(rng.randint(3, 8))) for i in range(1, periods)]
        times = 400
    else:
        points = [(at(i), 1.0) for i in (100, 900, 1700)]
        times = 3
    put_points(cloudwatch, NAMESPACE, metric, [], points)
    control(endpoint, "POST", "/_orgwatch/alarm-history", {"account": account_id, "region": region, "alarm": alarm_name, "items": state_changes(times)})


def put_delivery(cloudwatch, topic_arn, kind):
    """A week of SNS's daily delivery record of the topic (see "delivery")."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    days = [now - datetime.timedelta(days=d, hours=1) for d in range(0, 6)]
    dimensions = [{"Name": "TopicName", "Value": topic_arn.rsplit(":", 1)[-1]}]
    delivered = {"failing": 0.0, "delivered": 3.0, "partial": 3.0}[kind]
    failed = {"failing": 2.0, "delivered": 0.0, "partial": 1.0}[kind]
    if delivered:
        put_points(cloudwatch, "AWS/SNS", "NumberOfNotificationsDelivered", dimensions, [(d, delivered) for d in days])
    if failed:
        put_points(cloudwatch, "AWS/SNS", "NumberOfNotificationsFailed", dimensions, [(d, failed) for d in days])


def rule_alarm_names(rule):
    """The alarm names a composite rule refers to (an ARN counts by its name)."""
    names = set()
    for quoted, bare in re.findall(r'(?<![A-Za-z0-9_])(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"([^"]*)"|([^()"]*?))\s*\)', rule or ""):
        reference = quoted or bare
        names.add(reference.split(":alarm:", 1)[1] if reference.startswith("arn:") and ":alarm:" in reference else reference)
    return names


def clear_alarms(cloudwatch):
    """Deletes every alarm of the account in the region: composites one at a time, parents
    first (as DeleteAlarms requires), then the metric alarms a hundred at a time."""
    composites, metrics = {}, []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["CompositeAlarm", "MetricAlarm"], PaginationConfig={"PageSize": 100}):
        composites.update({c["AlarmName"]: c.get("AlarmRule", "") for c in page.get("CompositeAlarms", [])})
        metrics += [a["AlarmName"] for a in page.get("MetricAlarms", [])]
    while composites:
        referenced = set().union(*(rule_alarm_names(rule) for rule in composites.values()))
        free = [name for name in composites if name not in referenced]
        if not free:  # a cycle: break it as the CloudWatch guide says, with the rule FALSE
            free = [sorted(composites)[0]]
            cloudwatch.put_composite_alarm(AlarmName=free[0], AlarmRule="FALSE")
        for name in free:
            cloudwatch.delete_alarms(AlarmNames=[name])
            del composites[name]
    for start in range(0, len(metrics), 100):
        cloudwatch.delete_alarms(AlarmNames=metrics[start:start + 100])


def filler_names(count):
    """The names of `count` filler alarms: half before the CIS alarm's, half after."""
    before = (count + 1) // 2
    return [f"aaa-filler-{i:04d}" for i in range(1, before + 1)] + [f"zzz-filler-{i:04d}" for i in range(1, count - before + 1)]


def put_filler_alarms(endpoint, region, account_id, count):
    """The filler alarms, straight into moto's backend (server.py's /_orgwatch/metric-alarms):
    through the API each would take some 5 ms."""
    alarms = [
        {"AlarmName": name, "Namespace": FILLER_NAMESPACE, "MetricName": f"Filler{index:04d}", "Statistic": "Sum", "Period": 300,
         "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}
        for index, name in enumerate(filler_names(count), 1)
    ]
    control(endpoint, "POST", "/_orgwatch/metric-alarms", {"account": account_id, "region": region, "alarms": alarms})


def put_other_signal(cloudwatch):
    cloudwatch.put_metric_alarm(
        AlarmName=OTHER_SIGNAL_ALARM, Namespace=NAMESPACE, MetricName=OTHER_SIGNAL_METRIC, Statistic="Sum", Period=300,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
    )


def put_composite_chain(cloudwatch, region, account_id, metric, alarm_name, topic_arn, kind):
    """The alarms of "composite" `kind` (see the module's docstring); the name of the composite
    that notifies the topic."""
    cloudwatch.put_metric_alarm(
        AlarmName=alarm_name, MetricName=metric, Namespace=NAMESPACE, Statistic="Sum", Period=300, EvaluationPeriods=1,
        Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold", ActionsEnabled=True, AlarmActions=[],
        TreatMissingData="notBreaching",
    )
    put_other_signal(cloudwatch)
    operator = "AND" if kind == "and" else "OR"
    composite = {
        "AlarmName": COMPOSITE_ALARM,
        "AlarmRule": f'ALARM("{alarm_name}") {operator} ALARM("{OTHER_SIGNAL_ALARM}")',
        "ActionsEnabled": kind != "actions-disabled",
        "AlarmActions": [] if kind == "nested" else [topic_arn],
        "AlarmDescription": "CIS 3.1 unauthorized API calls, through a composite alarm",
    }
    if kind == "suppressed":
        composite.update(ActionsSuppressor=OTHER_SIGNAL_ALARM, ActionsSuppressorWaitPeriod=60, ActionsSuppressorExtensionPeriod=60)
    cloudwatch.put_composite_alarm(**composite)
    if kind != "nested":
        return COMPOSITE_ALARM
    inner_arn = f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{COMPOSITE_ALARM}"
    cloudwatch.put_composite_alarm(
        AlarmName=PAGER_ALARM,
        AlarmRule=f'ALARM("{inner_arn}") OR ALARM("{OTHER_SIGNAL_ALARM}")',
        ActionsEnabled=True,
        AlarmActions=[topic_arn],
    )
    return PAGER_ALARM


def put_math_alarm(cloudwatch, metric, alarm_name, topic_arn, kind):
    """The metric-math alarm of "math" `kind` (see the module's docstring)."""
    def stat(query_id, metric_name):
        return {"Id": query_id, "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric_name}, "Period": 300, "Stat": "Sum"}, "ReturnData": False}

    queries = [stat("m1", metric)]
    if kind in ("other-metric", "scaled"):
        queries.append(stat("m2", OTHER_SIGNAL_METRIC))
    queries.append({"Id": "e1", "Expression": MATH_EXPRESSIONS[kind], "Label": "denied calls", "ReturnData": True})
    cloudwatch.put_metric_alarm(
        AlarmName=alarm_name, Metrics=queries, ComparisonOperator="GreaterThanOrEqualToThreshold", Threshold=1.0,
        EvaluationPeriods=1, ActionsEnabled=True, AlarmActions=[topic_arn], TreatMissingData="notBreaching",
    )


def shape_topic_policy(sns, topic_arn, owner, account_id, kind, org, options):
    """Gives the topic of `owner`, notified by alarms of `account_id`, the policy `kind`."""
    if kind == "ou-path":
        document = ou_path_document(topic_arn, owner, org.ou_path(options.get("policy_ou") or options.get("ou")))
    else:
        document = topic_policy_document(kind, topic_arn, owner, account_id, org)
    set_topic_policy(sns, topic_arn, document)


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
        validate_options(name, setup, entry)
        known.add(name)


def validate_options(name, setup, entry):
    unknown = set(entry) - OPTIONS - {"name", "account_id", "setup"}
    if unknown:
        raise SystemExit(f"{name}: unknown options {sorted(unknown)}; known: {', '.join(sorted(OPTIONS))}")
    base, options = resolve(setup, {k: entry.get(k) for k in OPTIONS if k in entry})
    central = entry.get("topic_account") not in (None, name)
    for option, allowed in (("topic_policy", TOPIC_POLICIES), ("kms", KMS_KINDS), ("kms_ref", KMS_REFS), ("history", HISTORIES), ("noise", NOISES), ("delivery", DELIVERIES)):
        if options.get(option) is not None and options[option] not in allowed:
            raise SystemExit(f"{name}: {option} {options[option]!r} is not one of {', '.join(sorted(allowed))}")
    if setup in CENTRAL_TOPIC_PRESETS and not central:
        raise SystemExit(f"{name}: setup {setup!r} is about another account's topic; give it topic_account")
    if options.get("topic_policy") == "ou-path" and not (options.get("policy_ou") or options.get("ou")):
        raise SystemExit(f'{name}: topic_policy "ou-path" needs "policy_ou" (or "ou")')
    if options.get("kms") and base == "topic-aws-managed-key":
        raise SystemExit(f'{name}: "kms" and setup "topic-aws-managed-key" both choose the topic\'s key')
    if options.get("kms_ref") and not options.get("kms"):
        raise SystemExit(f'{name}: "kms_ref" goes with "kms"')
    if options.get("history") and ORG_TRAIL_SETUPS.get(base, base) in ("no-trail", "no-alarm"):
        raise SystemExit(f'{name}: setup {setup!r} has no alarm to give a "history"')
    for option, allowed in (("composite", COMPOSITES), ("math", MATHS)):
        if options.get(option) is not None and options[option] not in allowed:
            raise SystemExit(f"{name}: {option} {options[option]!r} is not one of {', '.join(sorted(allowed))}")
    if options.get("composite") and options.get("math"):
        raise SystemExit(f'{name}: "composite" and "math" both shape the alarm; give one')
    if options.get("composite") or options.get("math"):
        if entry.get("family"):
            raise SystemExit(f'{name}: "composite" and "math" shape the single 3.1 chain; they cannot go with "family"')
        if ORG_TRAIL_SETUPS.get(base, base) in ALARM_SETUPS:
            raise SystemExit(f'{name}: setup {setup!r} shapes the alarm itself; it cannot go with "composite" or "math"')
    extra = options.get("extra_alarms")
    if extra is not None and (isinstance(extra, bool) or not isinstance(extra, int) or not 0 <= extra <= MAX_EXTRA_ALARMS):
        raise SystemExit(f'{name}: "extra_alarms" is a number of alarms, 0 to {MAX_EXTRA_ALARMS}')


def apply(endpoint, region, account_id, entry, names, controls, org=None):
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
        org=org,
        **{k: entry[k] for k in OPTIONS - {"topic_account", "family", "org_trail"} if entry.get(k) is not None},
    )


def main():
    parser = argparse.ArgumentParser(description="Build an organization in the emulator")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--list-setups", action="store_true")
    parser.add_argument("--expectations", action="store_true", help="print the (status, reason) meant for each setup")
    args = parser.parse_args()
    if args.list_setups:
        print(json.dumps(SETUPS, indent=2))
        return
    if args.expectations:
        print(json.dumps(EXPECTED, indent=2))
        return
    if not args.endpoint.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("the emulator must be on loopback")
    spec = json.load(sys.stdin)
    validate(spec)
    region = spec.get("region", "us-east-1")
    controls = spec.get("controls") or []
    endpoint = args.endpoint
    org = client("organizations", region, endpoint, root_credentials())
    organization = Organization(endpoint, region)
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
            apply(endpoint, region, management, spec["management"], names, controls, organization)
        for account in spec.get("accounts", []):
            created = org.create_account(Email=f"{account['name']}@example.com", AccountName=account["name"])
            account_id = created["CreateAccountStatus"]["AccountId"]
            result["accounts"][account["name"]] = account_id
            apply(endpoint, region, account_id, account, names, controls, organization)
            names[account["name"]] = account_id
    for change in spec.get("changes", []):
        apply(endpoint, region, change["account_id"], change, names, controls, organization)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
