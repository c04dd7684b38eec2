"""The local AWS for orgwatch's tests and demo: moto's server behind thin layers of ours.

1. A protocol adapter for CloudWatch. The current Rust SDK speaks Smithy RPC v2 CBOR to
   CloudWatch (POST /service/GraniteServiceVersion20100801/operation/<Op>); moto speaks JSON 1.0
   there. The adapter decodes the CBOR request into a JSON 1.0 request, lets moto answer, and
   encodes the answer back as CBOR (timestamps as CBOR tag 1).
2. A fault layer, driven over HTTP by the tests: per-account AccessDenied on AssumeRole,
   throttling, 5xx or AccessDenied answers for chosen operations, and added latency.

    POST   /_orgwatch/faults   {"rules": [rule, ...]}  replace the rules
    GET    /_orgwatch/faults   the rules and how often each fired
    DELETE /_orgwatch/faults   no rules

A rule: {"account": "<id>|*", "service": "sts|cloudtrail|logs|monitoring|sns|kms|organizations|*",
"operation": "<Operation>|*", "fault": "throttle|server_error|access_denied|none",
"times": <n or null for always>, "latency_ms": <n>}. For sts:AssumeRole the account is the one
the role belongs to. Rules apply to every operation, ours below (DescribeAlarmHistory, the alarm
operations, the refusals) included, and the fault is answered in the protocol the request spoke
(CBOR, JSON or awsQuery XML).

3. AWS behaviours moto lacks (organization trails and alarms read moto's in-process backends):

   - Organization trails seen by members. When a member account of an organization (any
     account of it but the management account) calls cloudtrail:DescribeTrails, the answer also
     lists the management account's organization trails (created there with
     IsOrganizationTrail=True), as AWS does: their own ARN (owned by the management account),
     IsOrganizationTrail, IsMultiRegionTrail, HomeRegion, CloudWatchLogsLogGroupArn, ... With
     includeShadowTrails true (the default) a multi-region organization trail appears in every
     region and a single-region one in its home region only; with includeShadowTrails false
     none appears (to the member it is always a shadow trail). A trailNameList narrows them to
     the names or ARNs listed. Nothing else changes: a member's GetTrailStatus, GetEventSelectors
     or GetTrail on the management account's trail still fail with TrailNotFoundException (read
     the owner's facts with the owner's credentials).
   - CloudWatch alarm history. moto keeps none worth reading, so cloudwatch:DescribeAlarmHistory
     is answered here, from items the tests record per (account, region, alarm name):

        POST   /_orgwatch/alarm-history  {"account": "<id>", "region": "us-east-1", "alarm": "<name>",
                                          "items": [item, ...]}      add items to that alarm's history
        GET    /_orgwatch/alarm-history  every recorded item
        DELETE /_orgwatch/alarm-history  forget items; a JSON body {"account", "region", "alarm"}
                                         (each optional) forgets only the matching ones

     An item: {"timestamp": "<ISO 8601>" | <epoch seconds> (default: now), "type": "Action"
     (default) | "StateUpdate" | "ConfigurationUpdate", "summary": "...", "data": {...} | "<JSON
     text>", "alarm_type": "MetricAlarm" (default) | "CompositeAlarm"}. A notification item may
     instead be given as {"timestamp", "topic": "<topic ARN>", "state": "Succeeded|Failed",
     "error": "<text, for a failure>"}: the summary ("Successfully executed action <ARN>" /
     "Failed to execute action <ARN>") and HistoryData ({"actionState", "stateUpdateTimestamp"
     (epoch ms), "notificationResource", "publishedMessage" (the message text, null on failure),
     "error"}) are then written as AWS writes them. region defaults to us-east-1.

     DescribeAlarmHistory is answered in Smithy RPC v2 CBOR (the Rust SDK), JSON 1.0 (boto3 and
     the AWS CLI) and awsQuery, as AWS answers: AlarmHistoryItems [{AlarmName, AlarmType,
     Timestamp, HistoryItemType, HistorySummary, HistoryData (JSON text)}] and NextToken, for the
     caller's account (from its access key, as for SNS below) and the region it signed for.
     Honoured: AlarmName (absent: every alarm), AlarmTypes (default MetricAlarm only),
     HistoryItemType, StartDate/EndDate (inclusive), ScanBy (TimestampDescending, the default,
     or TimestampAscending), MaxRecords (1-100, default 100; else ValidationError) and
     NextToken (opaque; a token not from us is InvalidNextToken). The alarm need not exist: AWS
     keeps a deleted alarm's history.
   - The metric filter's newer fields. moto drops fieldSelectionCriteria,
     emitSystemFieldDimensions and applyOnTransformedLogs from PutMetricFilter; they are kept
     here per (account, region, log group, filter), forgotten with DeleteMetricFilter or a
     PutMetricFilter without them, and added to that filter in DescribeMetricFilters' answer.
   - Composite alarms and DescribeAlarms. moto has no composite alarms and its DescribeAlarms
     neither pages nor knows AlarmTypes, ChildrenOfAlarmName or ParentsOfAlarmName, so these are
     answered here, in Smithy RPC v2 CBOR, JSON 1.0 (boto3 and the AWS CLI v1 as pinned speak
     it) and awsQuery, for the caller's account (from its access key) and the region it signed
     for; errors as ValidationError (HTTP 400) unless said otherwise:

     PutCompositeAlarm keeps AlarmName, AlarmRule, ActionsEnabled (default true), AlarmActions,
       OKActions, InsufficientDataActions, AlarmDescription, ActionsSuppressor and its
       WaitPeriod and ExtensionPeriod (both required with it, refused without it); AlarmArn
       arn:aws:cloudwatch:<region>:<account>:alarm:<name>; a new alarm is INSUFFICIENT_DATA
       ("Unchecked: Initial alarm creation"), with StateUpdatedTimestamp,
       StateTransitionedTimestamp and AlarmConfigurationUpdatedTimestamp; putting it again
       replaces its configuration and keeps its state. The rule is not parsed: the alarms it
       names are those inside ALARM(...), OK(...) and INSUFFICIENT_DATA(...), quoted or not,
       by name or by ARN. Refused: a rule longer than 10240 characters or with unbalanced
       parentheses, one naming no alarm (other than TRUE or FALSE), more than 100 alarms or
       5 actions per list, a name a metric alarm has, and, as AWS words it, "Could not save
       the composite alarm as alarms [<references>] in the alarm rule do not exist" when a
       referenced alarm (an ARN of another account or region included) or the suppressor
       does not exist. Tags are not kept.
     PutMetricAlarm goes to moto; its Metrics are also kept here as given (moto drops
       MetricDataQuery.AccountId) and answered in DescribeAlarms. A composite's name is refused.
     DeleteAlarms deletes composites here and passes the request on to moto. Refused, as AWS
       does, before anything is deleted: more than 100 names, more than one composite alarm,
       or an alarm a composite alarm not deleted with it depends on ("Cannot delete <name> as
       there are composite alarm(s) depending on it."). Unknown names are ignored.
     SetAlarmState, EnableAlarmActions and DisableAlarmActions work on composites too.
     DescribeAlarms: metric alarms (read from moto's backend, with every field of MetricAlarm
       moto keeps, and Metrics as PutMetricAlarm gave them) and composites, as one list in
       alarm-name order. AlarmTypes: absent, only metric alarms; CompositeAlarm, MetricAlarm,
       LogAlarm (there are none: LogAlarms is then []). AlarmNames, AlarmNamePrefix (not
       together), StateValue and ActionPrefix (a prefix of one of the AlarmActions) all apply.
       ChildrenOfAlarmName: the alarms the named composite's rule references (not the
       composite; none if it is no composite), with only AlarmName, AlarmArn, StateValue and
       StateUpdatedTimestamp; ParentsOfAlarmName: the composites whose rule references the
       named alarm by name or ARN, with only AlarmName and AlarmArn. Either one (not both) goes
       with MaxRecords and NextToken only, and then both types come back. MaxRecords 1-100
       (default 50); NextToken is opaque (a token not from us is InvalidNextToken) and pages
       resume after the last name given. DescribeAlarmsForMetric stays moto's (metric alarms
       on that metric; not metric-math alarms, as on AWS).
     A shortcut for the tests' filler alarms, bypassing the API (some 5 ms per call):

        POST   /_orgwatch/metric-alarms  {"account": "<id>", "region": "us-east-1",
                                          "alarms": [{PutMetricAlarm parameters}, ...]}

     plain metric alarms only (AlarmName, Namespace, MetricName, Statistic, Period,
     EvaluationPeriods, Threshold, ComparisonOperator required; no Metrics).
   - KMS keys of other accounts. moto looks up every KeyId in the caller's own account, so a
     key or alias ARN of another account is NotFoundException there. AWS answers
     AccessDeniedException when the key's policy grants the caller nothing (and GetKeyPolicy
     never works across accounts): a KMS request whose KeyId is an ARN of another account than
     the caller's is refused with HTTP 400, __type AccessDeniedException, "User: <caller ARN> is
     not authorized to perform: kms:<Operation> on resource: <ARN> because no resource-based
     policy allows the kms:<Operation> action", whether or not the key exists. None of the keys
     build_org.py creates grants another account anything. Read a key with its own account's
     credentials.
   - The default SNS topic policy. sns:GetTopicAttributes and sns:ListSubscriptionsByTopic on a
     TopicArn of another account than the caller's (the caller's account comes from its access
     key, learnt from sts:AssumeRole; unknown keys act in 123456789012) are refused as AWS
     refuses them when the topic's policy grants nothing to the caller: HTTP 403, awsQuery
     error Type Sender, Code AuthorizationError, "User: <caller ARN> is not authorized to
     perform: SNS:<Operation> on resource: <TopicArn> ...". It is refused whether or not the
     topic exists. Reading through the owner account's credentials works as before. The fault
     layer applies first (a rule's latency and counting include refused calls).

   Relied upon as moto 5.2.5 has them, like AWS: the default topic policy (__default_statement_ID,
   AWS:SourceOwner = the owner); SetTopicAttributes Policy and KmsMasterKeyId (any text, kept as
   given; "" removes the key); KMS DescribeKey by key id, key ARN, alias name or alias ARN
   (KeyManager CUSTOMER, KeyState Enabled / Disabled / PendingDeletion); GetKeyPolicy and
   PutKeyPolicy by key id or ARN only (an alias is NotFoundException, as on AWS); the default key
   policy (arn:aws:iam::<account>:root, kms:*); Organizations OUs, MoveAccount and ListParents.
   Not as AWS: DescribeKey on alias/aws/sns is NotFoundException (AWS creates the AWS-managed
   key); DescribeKey is AccessDeniedException whenever the key policy has a Deny of kms:*,
   kms:Describe* or kms:DescribeKey on Resource "*", whatever its principal and conditions.

4. What Security Hub's BatchImportFindings refuses and moto takes (securityhub_rules.py): a
   finding of another account than the caller's or under another product than the caller's
   default one, and values outside ASFF's enumerations and limits, in FailedFindings.

Binds to 127.0.0.1 on a free port (or --port) and prints "READY <port>" when it listens.
It never listens on anything but loopback.
"""

import argparse
import base64
import datetime
import io
import json
import re
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape as xml_escape

import botocore.session
import cbor2
import securityhub_rules
from moto.cloudtrail.models import cloudtrail_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.organizations.models import organizations_backends
from werkzeug.serving import WSGIRequestHandler, make_server

CBOR_PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(?P<op>[A-Za-z]+)$")
CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/[^/]+/(?P<region>[^/]+)/(?P<service>[^/]+)/")
DEFAULT_ACCOUNT = "123456789012"
JSON_PROTOCOL_SERVICES = {"cloudtrail", "logs", "organizations", "kms"}
# SNS reads the default topic policy grants to the topic's own account only.
SNS_OWNER_ONLY_OPERATIONS = {"GetTopicAttributes", "ListSubscriptionsByTopic"}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.key_accounts = {}
        self.key_principals = {}

    def replace(self, rules):
        with self.lock:
            self.rules = [dict(rule, fired=0) for rule in rules]

    def snapshot(self):
        with self.lock:
            return [dict(rule) for rule in self.rules]

    def learn(self, access_key, account, principal=None):
        with self.lock:
            self.key_accounts[access_key] = account
            if principal:
                self.key_principals[access_key] = principal

    def account_of(self, access_key):
        with self.lock:
            return self.key_accounts.get(access_key, DEFAULT_ACCOUNT)

    def principal_of(self, access_key):
        """The ARN AWS would name the caller by in an authorization error."""
        with self.lock:
            principal = self.key_principals.get(access_key)
            account = self.key_accounts.get(access_key, DEFAULT_ACCOUNT)
        return principal or f"arn:aws:iam::{account}:root"

    def match(self, account, service, operation):
        """The first rule that applies, counted as fired; None when none does."""
        with self.lock:
            for rule in self.rules:
                if rule.get("account", "*") not in ("*", account):
                    continue
                if rule.get("service", "*") not in ("*", service):
                    continue
                if rule.get("operation", "*") not in ("*", operation):
                    continue
                times = rule.get("times")
                if times is not None and rule["fired"] >= times:
                    continue
                rule["fired"] += 1
                return dict(rule)
        return None


HISTORY_PAGE = 100
HISTORY_ITEM_TYPES = {"ConfigurationUpdate", "StateUpdate", "Action"}
DEFAULT_REGION = "us-east-1"


def parse_time(value):
    """An aware datetime from ISO 8601 text or epoch seconds (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)
    text = str(value).strip()
    try:
        return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
    except ValueError:
        pass
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class AlarmHistory:
    """The alarm history items the tests recorded, per (account, region, alarm name)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []  # dicts; "seq" keeps insertion order among equal timestamps
        self.seq = 0

    @staticmethod
    def normalize(alarm, raw):
        """One recorded item in the shape AWS answers with, or ValueError."""
        if not isinstance(raw, dict):
            raise ValueError("an item is a JSON object")
        moment = parse_time(raw.get("timestamp")) or datetime.datetime.now(datetime.timezone.utc)
        kind = raw.get("type", "Action")
        if kind not in HISTORY_ITEM_TYPES:
            raise ValueError(f"type {kind!r} is not one of {sorted(HISTORY_ITEM_TYPES)}")
        summary, data = raw.get("summary"), raw.get("data")
        if "topic" in raw or "state" in raw:
            topic, state = raw.get("topic"), raw.get("state")
            if not topic or state not in ("Succeeded", "Failed"):
                raise ValueError('a notification item needs "topic" and "state": "Succeeded" or "Failed"')
            millis = int(moment.timestamp() * 1000)
            if data is None:
                data = {"actionState": state, "stateUpdateTimestamp": millis, "notificationResource": topic}
                if state == "Failed":
                    data["publishedMessage"] = None
                    data["error"] = raw.get("error") or "Failed to publish to the SNS topic."
                else:
                    data["publishedMessage"] = json.dumps({
                        "AlarmName": alarm, "NewStateValue": "ALARM", "OldStateValue": "OK",
                        "StateChangeTime": iso(moment).replace("Z", "+0000"),
                    })
            if summary is None:
                summary = f"Successfully executed action {topic}" if state == "Succeeded" else f"Failed to execute action {topic}"
        if data is None:
            data = {}
        if not isinstance(data, str):
            data = json.dumps(data)
        return {
            "alarm_type": raw.get("alarm_type", "MetricAlarm"),
            "timestamp": moment,
            "type": kind,
            "summary": summary if summary is not None else "",
            "data": data,
        }

    def add(self, account, region, alarm, raw_items):
        normalized = [self.normalize(alarm, raw) for raw in raw_items]
        with self.lock:
            for item in normalized:
                self.seq += 1
                self.items.append(dict(item, account=account, region=region, alarm=alarm, seq=self.seq))
        return len(normalized)

    def forget(self, account=None, region=None, alarm=None):
        with self.lock:
            keep = [
                i for i in self.items
                if not ((account is None or i["account"] == account) and (region is None or i["region"] == region) and (alarm is None or i["alarm"] == alarm))
            ]
            forgotten = len(self.items) - len(keep)
            self.items = keep
        return forgotten

    def snapshot(self):
        with self.lock:
            items = [dict(i) for i in self.items]
        for item in items:
            item["timestamp"] = iso(item["timestamp"])
            item.pop("seq")
        return items

    def query(self, account, region, request):
        """(answer without protocol, or None) and (error code, message) for DescribeAlarmHistory."""
        try:
            start, end = parse_time(request.get("StartDate")), parse_time(request.get("EndDate"))
        except (TypeError, ValueError) as error:
            return None, ("ValidationError", f"Invalid timestamp: {error}")
        scan_by = request.get("ScanBy") or "TimestampDescending"
        if scan_by not in ("TimestampDescending", "TimestampAscending"):
            return None, ("ValidationError", f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]")
        kind = request.get("HistoryItemType")
        if kind is not None and kind not in HISTORY_ITEM_TYPES:
            return None, ("ValidationError", f"1 validation error detected: Value '{kind}' at 'historyItemType' failed to satisfy constraint: Member must satisfy enum value set: [ConfigurationUpdate, StateUpdate, Action, AlarmContributorStateUpdate, AlarmContributorAction]")
        try:
            max_records = HISTORY_PAGE if request.get("MaxRecords") is None else int(request["MaxRecords"])
        except (TypeError, ValueError):
            return None, ("ValidationError", "MaxRecords must be a number")
        if max_records < 1:
            return None, ("ValidationError", f"1 validation error detected: Value '{max_records}' at 'maxRecords' failed to satisfy constraint: Member must have value greater than or equal to 1")
        if max_records > HISTORY_PAGE:
            return None, ("ValidationError", f"1 validation error detected: Value '{max_records}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to {HISTORY_PAGE}")
        offset = 0
        token = request.get("NextToken")
        if token:
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(token.encode()).decode())["offset"])
                if offset < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return None, ("InvalidNextToken", "The service returned an invalid NextToken.")
        alarm = request.get("AlarmName")
        alarm_types = request.get("AlarmTypes") or ["MetricAlarm"]
        with self.lock:
            matching = [
                dict(i) for i in self.items
                if i["account"] == account and i["region"] == region
                and (alarm is None or i["alarm"] == alarm)
                and i["alarm_type"] in alarm_types
                and (kind is None or i["type"] == kind)
                and (start is None or i["timestamp"] >= start)
                and (end is None or i["timestamp"] <= end)
            ]
        matching.sort(key=lambda i: (i["timestamp"], i["seq"]), reverse=scan_by == "TimestampDescending")
        page = matching[offset:offset + max_records]
        answer = {
            "AlarmHistoryItems": [
                {
                    "AlarmName": i["alarm"],
                    "AlarmType": i["alarm_type"],
                    "Timestamp": i["timestamp"],
                    "HistoryItemType": i["type"],
                    "HistorySummary": i["summary"],
                    "HistoryData": i["data"],
                }
                for i in page
            ]
        }
        if offset + max_records < len(matching):
            answer["NextToken"] = base64.urlsafe_b64encode(json.dumps({"offset": offset + max_records}).encode()).decode()
        return answer, None


def timestamps_to_cbor(value, key=""):
    """JSON 1.0 timestamps (epoch numbers or ISO text) become CBOR tag 1."""
    if isinstance(value, dict):
        return {k: timestamps_to_cbor(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [timestamps_to_cbor(v, key) for v in value]
    if key.endswith("Timestamp") or key.endswith("Timestamps") or key in ("StartDate", "EndDate"):
        if isinstance(value, (int, float)):
            return cbor2.CBORTag(1, float(value))
        if isinstance(value, str):
            try:
                parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
                return cbor2.CBORTag(1, parsed.timestamp())
            except ValueError:
                return value
    return value


def cbor_to_json(value):
    if isinstance(value, dict):
        return {k: cbor_to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cbor_to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        return float(value.value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


CLOUDWATCH_XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"
CLOUDWATCH_MODEL = botocore.session.get_session().get_service_model("cloudwatch")
# The CloudWatch operations our layer answers or watches (the rest go to moto untouched).
ALARM_OPERATIONS = {"PutCompositeAlarm", "PutMetricAlarm", "DescribeAlarms", "DeleteAlarms", "SetAlarmState", "EnableAlarmActions", "DisableAlarmActions"}
ALARM_TYPES = ("CompositeAlarm", "MetricAlarm", "LogAlarm")
ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
ALARMS_PAGE = 50
ALARMS_PAGE_MAX = 100
# ALARM("name"), OK(name), INSUFFICIENT_DATA("arn:aws:cloudwatch:...:alarm:name"), quoted or not.
RULE_REFERENCE = re.compile(r'(?<![A-Za-z0-9_])(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"((?:[^"\\]|\\.)*)"|([^()"]*?))\s*\)')
ALARM_ARN = re.compile(r"^arn:[^:]+:cloudwatch:(?P<region>[^:]*):(?P<account>[^:]*):alarm:(?P<name>.+)$")


class MonitoringError(Exception):
    """A CloudWatch client error: code, message, HTTP status."""

    def __init__(self, code, message, status="400 Bad Request"):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def validation_error(message):
    return MonitoringError("ValidationError", message)


def shaped(shape, value):
    """`value` (decoded JSON or CBOR) as `shape` has it: members the shape does not know are
    dropped, numbers, booleans and timestamps (as aware datetimes) made their shape's type."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise validation_error(f"{shape.name} must be a structure")
        out = {}
        for name, member in shape.members.items():
            if name in value:
                item = shaped(member, value[name])
                if item is not None:
                    out[name] = item
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise validation_error(f"{shape.name} must be a list")
        return [shaped(shape.member, v) for v in value]
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("double", "float"):
            return float(value)
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        if kind == "timestamp":
            return parse_time(value)
    except (TypeError, ValueError) as error:
        raise validation_error(f"Invalid value for {shape.name}: {error}") from None
    return value if isinstance(value, str) else str(value)


def query_value(shape, form, prefix):
    """The value of `shape` under `prefix` in an awsQuery form (None when absent)."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            key = f"{prefix}.{name}" if prefix else name
            item = query_value(member, form, key)
            if item is not None:
                out[name] = item
        return out if out or not prefix else None
    if kind == "list":
        if prefix in form and form[prefix] == "":
            return []
        items, index = [], 1
        while True:
            item = query_value(shape.member, form, f"{prefix}.member.{index}")
            if item is None:
                break
            items.append(item)
            index += 1
        return items or None
    if prefix not in form:
        return None
    return shaped(shape, form[prefix])


def to_json_value(value):
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def to_cbor_value(value):
    if isinstance(value, dict):
        return {k: to_cbor_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_cbor_value(v) for v in value]
    if isinstance(value, datetime.datetime):
        return cbor2.CBORTag(1, value.timestamp())
    return value


def to_query_xml(value):
    """awsQuery XML of an answer: lists as <member>s (CloudWatch has no flattened lists)."""
    if isinstance(value, dict):
        return "".join(f"<{k}>{to_query_xml(v)}</{k}>" for k, v in value.items())
    if isinstance(value, list):
        return "".join(f"<member>{to_query_xml(v)}</member>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return iso(value)
    return xml_escape(str(value))


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def rule_references(rule):
    """The alarm names or ARNs a composite alarm's rule refers to, in order, each once."""
    found = []
    for match in RULE_REFERENCE.finditer(rule or ""):
        quoted, bare = match.group(1), match.group(2)
        reference = re.sub(r'\\(.)', r"\1", quoted) if quoted is not None else bare
        if reference and reference not in found:
            found.append(reference)
    return found


def referenced_name(reference, account, region):
    """The alarm name a rule's reference designates in (account, region); None when it is an
    ARN of another account or region."""
    arn = ALARM_ARN.match(reference)
    if not arn:
        return reference
    if arn.group("account") != account or arn.group("region") != region:
        return None
    return arn.group("name")


def moto_metric_alarms(account, region):
    """The metric alarms moto holds for (account, region)."""
    try:
        backend = cloudwatch_backends[account][region]
    except KeyError:
        return []
    for _ in range(3):  # moto's dict may change under us while another request writes
        try:
            return list(backend.alarms.values())
        except RuntimeError:
            continue
    return list(backend.alarms.values())


def moto_query(query):
    """A MetricDataQuery as moto keeps it, in the shape DescribeAlarms answers with."""
    described = {"Id": query.id, "Expression": query.expression, "Label": query.label, "ReturnData": query.return_data, "Period": query.period}
    stat = query.metric_stat
    if stat is not None:
        metric = {"Namespace": stat.metric.namespace, "MetricName": stat.metric.metric_name, "Dimensions": [{"Name": d.name, "Value": d.value} for d in stat.metric.dimensions]}
        described["MetricStat"] = {"Metric": metric, "Period": stat.period, "Stat": stat.stat, "Unit": stat.unit}
    return described


class Alarms:
    """What CloudWatch holds of alarms beyond moto: composite alarms, and the Metrics of the
    metric alarms as PutMetricAlarm gave them (moto drops MetricDataQuery.AccountId)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.composites = {}  # (account, region) -> {name: description}
        self.metrics = {}  # (account, region, name) -> [MetricDataQuery]

    def metric_alarms(self, account, region):
        """{name: description} of the metric alarms of (account, region), as DescribeAlarms
        answers them."""
        shape = CLOUDWATCH_MODEL.shape_for("MetricAlarm")
        with self.lock:
            raw = {name: queries for (a, r, name), queries in self.metrics.items() if a == account and r == region}
        described = {}
        for alarm in moto_metric_alarms(account, region):
            queries = raw.get(alarm.name)
            if queries is None and alarm.metric_data_queries:
                queries = [moto_query(q) for q in alarm.metric_data_queries]
            value = {
                "AlarmName": alarm.name,
                "AlarmArn": alarm.alarm_arn,
                "AlarmDescription": alarm.description,
                "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp,
                "ActionsEnabled": alarm.actions_enabled,
                "OKActions": list(alarm.ok_actions or []),
                "AlarmActions": list(alarm.alarm_actions or []),
                "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
                "StateValue": alarm.state_value,
                "StateReason": alarm.state_reason,
                "StateReasonData": alarm.state_reason_data,
                "StateUpdatedTimestamp": alarm.state_updated_timestamp,
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "Statistic": alarm.statistic,
                "ExtendedStatistic": alarm.extended_statistic,
                "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
                "Period": alarm.period,
                "Unit": alarm.unit,
                "EvaluationPeriods": alarm.evaluation_periods,
                "DatapointsToAlarm": alarm.datapoints_to_alarm,
                "Threshold": alarm.threshold,
                "ComparisonOperator": alarm.comparison_operator,
                "TreatMissingData": alarm.treat_missing_data,
                "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
                "Metrics": queries,
                "ThresholdMetricId": alarm.threshold_metric_id,
            }
            described[alarm.name] = shaped(shape, {k: v for k, v in value.items() if v is not None})
        return described

    def composite_alarms(self, account, region):
        with self.lock:
            return {name: dict(c) for name, c in self.composites.get((account, region), {}).items()}

    def all_alarms(self, account, region):
        """{name: ("MetricAlarm" | "CompositeAlarm", description)}."""
        alarms = {name: ("MetricAlarm", d) for name, d in self.metric_alarms(account, region).items()}
        alarms.update({name: ("CompositeAlarm", d) for name, d in self.composite_alarms(account, region).items()})
        return alarms

    def remember_metrics(self, account, region, name, metrics):
        with self.lock:
            if metrics:
                self.metrics[(account, region, name)] = metrics
            else:
                self.metrics.pop((account, region, name), None)

    @staticmethod
    def parents(composites, name, account, region):
        return sorted(
            c["AlarmName"] for c in composites.values()
            if name in {referenced_name(r, account, region) for r in rule_references(c["AlarmRule"])}
        )

    def put_composite(self, account, region, request):
        name, rule = request.get("AlarmName"), request.get("AlarmRule")
        for field, value, low, high in (("alarmName", name, 1, 255), ("alarmRule", rule, 1, 10240)):
            if value is None:
                raise validation_error(f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null")
            if len(value) < low:
                raise validation_error(f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {low}")
            if len(value) > high:
                raise validation_error(f"1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {high}")
        for field in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            if len(request.get(field) or []) > 5:
                raise validation_error(f"1 validation error detected: Value at '{field[0].lower() + field[1:]}' failed to satisfy constraint: Member must have length less than or equal to 5")
        if rule.count("(") != rule.count(")"):
            raise validation_error(f"Error in AlarmRule [Unbalanced parentheses in '{rule}']")
        references = rule_references(rule)
        if not references and rule.strip().upper() not in ("TRUE", "FALSE"):
            raise validation_error(f"Error in AlarmRule [No alarm function (ALARM, OK, INSUFFICIENT_DATA), TRUE or FALSE in '{rule}']")
        if len(references) > 100:
            raise validation_error("An alarm rule can reference at most 100 alarms.")
        suppressor = request.get("ActionsSuppressor")
        if suppressor is not None and (request.get("ActionsSuppressorWaitPeriod") is None or request.get("ActionsSuppressorExtensionPeriod") is None):
            raise validation_error("ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod are required when ActionsSuppressor is specified.")
        if suppressor is None and (request.get("ActionsSuppressorWaitPeriod") is not None or request.get("ActionsSuppressorExtensionPeriod") is not None):
            raise validation_error("ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod are only valid with ActionsSuppressor.")
        metric_names = {a.name for a in moto_metric_alarms(account, region)}
        if name in metric_names:
            raise validation_error(f"An alarm named {name} already exists as a metric alarm; alarm names are unique within the Region.")
        with self.lock:
            composites = self.composites.setdefault((account, region), {})
            existing = set(metric_names) | set(composites)
            missing = [r for r in references if referenced_name(r, account, region) not in existing]
            if missing:
                raise validation_error(f"Could not save the composite alarm as alarms [{', '.join(missing)}] in the alarm rule do not exist")
            if suppressor is not None and referenced_name(suppressor, account, region) not in existing:
                raise validation_error(f"Could not save the composite alarm as the actions suppressor alarm [{suppressor}] does not exist")
            moment = now_utc()
            previous = composites.get(name)
            state = {
                "StateValue": "INSUFFICIENT_DATA",
                "StateReason": "Unchecked: Initial alarm creation",
                "StateUpdatedTimestamp": moment,
                "StateTransitionedTimestamp": moment,
            }
            if previous:  # an update leaves the state as it was
                state = {k: previous[k] for k in state if k in previous}
                state.update({k: previous[k] for k in ("StateReasonData",) if k in previous})
            composite = {
                "AlarmName": name,
                "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
                "AlarmRule": rule,
                "ActionsEnabled": True if request.get("ActionsEnabled") is None else bool(request["ActionsEnabled"]),
                "AlarmActions": list(request.get("AlarmActions") or []),
                "OKActions": list(request.get("OKActions") or []),
                "InsufficientDataActions": list(request.get("InsufficientDataActions") or []),
                "AlarmConfigurationUpdatedTimestamp": moment,
                **state,
            }
            for field in ("AlarmDescription", "ActionsSuppressor", "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod"):
                if request.get(field) is not None:
                    composite[field] = request[field]
            composites[name] = composite
        return {}

    def put_metric_alarms_directly(self, account, region, alarms):
        """Puts plain metric alarms (PutMetricAlarm parameters, no Metrics) into moto's backend,
        bypassing the API: for the tests' filler alarms. Returns how many were put."""
        shape = CLOUDWATCH_MODEL.operation_model("PutMetricAlarm").input_shape
        requests = [shaped(shape, alarm) for alarm in alarms]
        for request in requests:
            for field in ("AlarmName", "Namespace", "MetricName", "ComparisonOperator", "EvaluationPeriods", "Period", "Threshold", "Statistic"):
                if request.get(field) is None:
                    raise ValueError(f"an alarm needs {field} (and no Metrics): {request}")
            if request.get("Metrics"):
                raise ValueError("Metrics are not for this shortcut: put metric-math alarms through PutMetricAlarm")
            self.check_metric_alarm_name(account, region, request["AlarmName"])
        backend = cloudwatch_backends[account][region]
        for r in requests:
            backend.put_metric_alarm(
                name=r["AlarmName"], namespace=r["Namespace"], metric_name=r["MetricName"], comparison_operator=r["ComparisonOperator"],
                evaluation_periods=r["EvaluationPeriods"], period=r["Period"], threshold=r["Threshold"], statistic=r["Statistic"],
                description=r.get("AlarmDescription"), dimensions=r.get("Dimensions", []), alarm_actions=r.get("AlarmActions", []),
                ok_actions=r.get("OKActions", []), insufficient_data_actions=r.get("InsufficientDataActions", []), unit=r.get("Unit"),
                actions_enabled=r.get("ActionsEnabled", True), treat_missing_data=r.get("TreatMissingData"),
                datapoints_to_alarm=r.get("DatapointsToAlarm"),
            )
            self.remember_metrics(account, region, r["AlarmName"], None)
        return len(requests)

    def check_metric_alarm_name(self, account, region, name):
        with self.lock:
            if name in self.composites.get((account, region), {}):
                raise validation_error(f"An alarm named {name} already exists as a composite alarm; alarm names are unique within the Region.")

    def check_delete(self, account, region, names):
        """Refuses a DeleteAlarms that AWS refuses: more than one composite alarm, or an alarm
        another composite alarm (not deleted with it) depends on."""
        if len(names) > 100:
            raise validation_error("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100")
        composites = self.composite_alarms(account, region)
        doomed = set(names)
        if len([n for n in doomed if n in composites]) > 1:
            raise validation_error("You can delete at most one composite alarm in one DeleteAlarms operation.")
        for name in names:
            depending = [p for p in self.parents(composites, name, account, region) if p not in doomed]
            if depending:
                raise validation_error(f"Cannot delete {name} as there are composite alarm(s) depending on it.")

    def delete(self, account, region, names):
        with self.lock:
            composites = self.composites.get((account, region), {})
            for name in names:
                composites.pop(name, None)
                self.metrics.pop((account, region, name), None)

    def set_composite_state(self, account, region, request):
        """SetAlarmState of a composite alarm (True), or False when it names none."""
        name = request.get("AlarmName")
        with self.lock:
            composite = self.composites.get((account, region), {}).get(name)
            if composite is None:
                return False
            state = request.get("StateValue")
            if state not in ALARM_STATES:
                raise validation_error(f"1 validation error detected: Value '{state}' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]")
            data = request.get("StateReasonData")
            if data is not None:
                try:
                    json.loads(data)
                except ValueError:
                    raise MonitoringError("InvalidFormat", "Unknown") from None
            moment = now_utc()
            if composite.get("StateValue") != state:
                composite["StateTransitionedTimestamp"] = moment
            composite.update(StateValue=state, StateReason=request.get("StateReason") or "", StateUpdatedTimestamp=moment)
            if data is not None:
                composite["StateReasonData"] = data
        return True

    def set_actions_enabled(self, account, region, names, enabled):
        with self.lock:
            for name in names:
                composite = self.composites.get((account, region), {}).get(name)
                if composite is not None:
                    composite["ActionsEnabled"] = enabled

    def describe(self, account, region, request):
        """DescribeAlarms' answer (before its protocol) for (account, region)."""
        max_records = request.get("MaxRecords")
        max_records = ALARMS_PAGE if max_records is None else max_records
        if max_records < 1:
            raise validation_error(f"1 validation error detected: Value '{max_records}' at 'maxRecords' failed to satisfy constraint: Member must have value greater than or equal to 1")
        if max_records > ALARMS_PAGE_MAX:
            raise validation_error(f"1 validation error detected: Value '{max_records}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to {ALARMS_PAGE_MAX}")
        after = None
        if request.get("NextToken"):
            try:
                after = json.loads(base64.urlsafe_b64decode(request["NextToken"].encode()).decode())["after"]
                if not isinstance(after, str):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise MonitoringError("InvalidNextToken", "The service couldn't process your request because the next token is invalid.") from None
        children, parents = request.get("ChildrenOfAlarmName"), request.get("ParentsOfAlarmName")
        if children is not None and parents is not None:
            raise validation_error("ChildrenOfAlarmName and ParentsOfAlarmName cannot be used together.")
        family = children if children is not None else parents
        if family is not None:
            others = sorted(k for k, v in request.items() if v is not None and k not in ("ChildrenOfAlarmName", "ParentsOfAlarmName", "MaxRecords", "NextToken"))
            if others:
                which = "ChildrenOfAlarmName" if children is not None else "ParentsOfAlarmName"
                raise validation_error(f"{which} cannot be used with other filters than MaxRecords and NextToken (given: {', '.join(others)}).")
        if request.get("AlarmNames") and request.get("AlarmNamePrefix") is not None:
            raise validation_error("AlarmNames and AlarmNamePrefix cannot be used together.")
        types = request.get("AlarmTypes") or ["MetricAlarm"]
        for kind in types:
            if kind not in ALARM_TYPES:
                raise validation_error(f"1 validation error detected: Value '[{', '.join(types)}]' at 'alarmTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{', '.join(ALARM_TYPES)}]]")
        state = request.get("StateValue")
        if state is not None and state not in ALARM_STATES:
            raise validation_error(f"1 validation error detected: Value '{state}' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]")

        alarms = self.all_alarms(account, region)
        if children is not None:
            composite = alarms.get(children)
            names = []
            if composite and composite[0] == "CompositeAlarm":
                names = [referenced_name(r, account, region) for r in rule_references(composite[1]["AlarmRule"])]
            fields = ("AlarmName", "AlarmArn", "StateValue", "StateUpdatedTimestamp")
            rows = [(n, alarms[n][0], {f: alarms[n][1][f] for f in fields if f in alarms[n][1]}) for n in set(names) if n in alarms]
        elif parents is not None:
            composites = {n: d for n, (kind, d) in alarms.items() if kind == "CompositeAlarm"}
            rows = [(n, "CompositeAlarm", {f: composites[n][f] for f in ("AlarmName", "AlarmArn")}) for n in self.parents(composites, parents, account, region)]
        else:
            names, prefix, action = request.get("AlarmNames") or None, request.get("AlarmNamePrefix"), request.get("ActionPrefix")
            rows = [
                (n, kind, d) for n, (kind, d) in alarms.items()
                if kind in types
                and (names is None or n in names)
                and (prefix is None or n.startswith(prefix))
                and (state is None or d.get("StateValue") == state)
                and (action is None or any(a.startswith(action) for a in d.get("AlarmActions", [])))
            ]
        rows.sort(key=lambda row: row[0])
        if after is not None:
            rows = [row for row in rows if row[0] > after]
        page = rows[:max_records]
        answer = {
            "MetricAlarms": [d for _, kind, d in page if kind == "MetricAlarm"],
            "CompositeAlarms": [d for _, kind, d in page if kind == "CompositeAlarm"],
        }
        if "LogAlarm" in types and family is None:
            answer["LogAlarms"] = []
        if len(rows) > max_records:
            answer["NextToken"] = base64.urlsafe_b64encode(json.dumps({"after": page[-1][0]}).encode()).decode()
        return answer


class Emulator:
    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.faults = Faults()
        self.history = AlarmHistory()
        self.alarms = Alarms()
        # (account, region, log group, filter) -> the newer fields PutMetricFilter was given.
        self.filter_fields = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if path.startswith("/_orgwatch/"):
            return self.control(environ, body, start_response)

        auth = environ.get("HTTP_AUTHORIZATION", "")
        found = CREDENTIAL.search(auth)
        access_key = found.group("key") if found else ""
        service = found.group("service") if found else ""
        cbor_match = CBOR_PATH.match(path)
        form = {}
        region = found.group("region") if found else DEFAULT_REGION
        protocol = self.protocol(environ, cbor_match)
        if protocol == "query" and service in ("sts", "sns", "monitoring") and body:
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        operation = self.operation(environ, form, cbor_match)
        account = self.faults.account_of(access_key)
        if service == "sts" and operation == "AssumeRole":
            role_arn = form.get("RoleArn", "")
            parts = role_arn.split(":")
            if len(parts) > 4:
                account = parts[4]

        rule = self.faults.match(account, service, operation)
        if rule:
            if rule.get("latency_ms"):
                time.sleep(rule["latency_ms"] / 1000.0)
            fault = rule.get("fault", "none")
            if fault != "none":
                return self.fail(start_response, fault, service, protocol)

        if service == "monitoring" and operation == "DescribeAlarmHistory":
            return self.describe_alarm_history(start_response, protocol, account, region, body, form)
        if service == "monitoring" and operation in ALARM_OPERATIONS:
            return self.alarm_operation(environ, start_response, protocol, operation, account, region, body, form)
        if service == "kms" and protocol == "json":
            denied = self.kms_other_account(access_key, account, operation, body)
            if denied:
                return self.reply(start_response, "400 Bad Request", {"__type": "AccessDeniedException", "message": denied}, [("x-amzn-ErrorType", "AccessDeniedException")], "application/x-amz-json-1.1")
        if cbor_match:
            return self.cbor(environ, body, cbor_match.group("op"), start_response)
        if service == "sns" and operation in SNS_OWNER_ONLY_OPERATIONS:
            topic_arn = form.get("TopicArn", "")
            parts = topic_arn.split(":")
            if len(parts) > 4 and parts[4] != account:
                return self.sns_not_authorized(start_response, self.faults.principal_of(access_key), operation, topic_arn)
        refused = []
        if service == "securityhub" and path.rstrip("/") == "/findings/import":
            error, body, refused = securityhub_rules.screen(body, account, found.group("region") if found else "us-east-1")
            if error:
                return self.reply(start_response, "400 Bad Request", {"Code": "InvalidInputException", "Message": error}, [("x-amzn-ErrorType", "InvalidInputException")])
        status, headers, payload = self.call_moto(environ, body)
        if service == "logs" and operation in ("PutMetricFilter", "DeleteMetricFilter") and status.startswith("200"):
            self.remember_filter_fields(account, region, operation, body)
        if service == "logs" and operation == "DescribeMetricFilters" and status.startswith("200"):
            payload = self.with_filter_fields(account, region, payload)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(payload)))]
        if refused and status.startswith("200"):
            payload = securityhub_rules.merge(payload, refused)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(payload)))]
        if service == "sts" and operation == "AssumeRole" and status.startswith("200"):
            key = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", payload)
            principal = re.search(rb"<AssumedRoleUser>.*?<Arn>([^<]+)</Arn>", payload, re.S)
            if key:
                self.faults.learn(key.group(1).decode(), account, principal.group(1).decode() if principal else None)
        if service == "cloudtrail" and operation == "DescribeTrails" and status.startswith("200"):
            payload = self.with_organization_trails(account, region, body, payload)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]

    FILTER_FIELDS = ("fieldSelectionCriteria", "emitSystemFieldDimensions", "applyOnTransformedLogs")

    def remember_filter_fields(self, account, region, operation, body):
        try:
            request = json.loads(body) if body.strip() else {}
        except ValueError:
            return
        key = (account, region, request.get("logGroupName"), request.get("filterName"))
        fields = {k: request[k] for k in self.FILTER_FIELDS if k in request} if operation == "PutMetricFilter" else {}
        if fields:
            self.filter_fields[key] = fields
        else:
            self.filter_fields.pop(key, None)

    def with_filter_fields(self, account, region, payload):
        try:
            answer = json.loads(payload)
        except ValueError:
            return payload
        for f in answer.get("metricFilters", []):
            f.update(self.filter_fields.get((account, region, f.get("logGroupName"), f.get("filterName")), {}))
        return json.dumps(answer).encode()

    @staticmethod
    def organization_trails(member, region, include_shadow_trails):
        """Descriptions of the organization trails `member` sees in `region`: those of its
        organization's management account, as shadow trails (none unless they are included)."""
        owner = organizations_backends.master_accounts.get(member)
        if not owner or owner[0] == member or not include_shadow_trails:
            return []
        management = owner[0]
        trails = []
        for _ in range(3):  # moto's dicts may change under us while another request writes
            try:
                trails = [
                    trail
                    for backend in list(cloudtrail_backends[management].values())
                    for trail in list(backend.trails.values())
                    if trail.is_org_trail and (trail.is_multi_region or trail.region_name == region)
                ]
                break
            except RuntimeError:
                continue
        return [trail.description(include_region=True) for trail in trails]

    def with_organization_trails(self, account, region, body, payload):
        try:
            request = json.loads(body) if body.strip() else {}
            answer = json.loads(payload)
        except ValueError:
            return payload
        include_shadow = request.get("includeShadowTrails")
        extra = self.organization_trails(account, region, include_shadow is None or bool(include_shadow))
        names = request.get("trailNameList") or []
        if names:
            extra = [t for t in extra if t["Name"] in names or t["TrailARN"] in names]
        if not extra:
            return payload
        listed = answer.setdefault("trailList", [])
        known = {t.get("TrailARN") for t in listed}
        listed.extend(t for t in extra if t["TrailARN"] not in known)
        return json.dumps(answer).encode()

    @staticmethod
    def sns_not_authorized(start_response, principal, operation, topic_arn):
        message = (
            f"User: {principal} is not authorized to perform: SNS:{operation} on resource: {topic_arn} "
            f"because no resource-based policy allows the SNS:{operation} action"
        )
        payload = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            f"<Code>AuthorizationError</Code><Message>{xml_escape(message)}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()
        start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
        return [payload]

    @staticmethod
    def protocol(environ, cbor_match):
        """How the request was spoken: "cbor" (Smithy RPC v2), "json" (JSON 1.0/1.1 with an
        X-Amz-Target) or "query" (awsQuery, and anything else)."""
        if cbor_match:
            return "cbor"
        if environ.get("HTTP_X_AMZ_TARGET") or environ.get("CONTENT_TYPE", "").startswith("application/x-amz-json"):
            return "json"
        return "query"

    def describe_alarm_history(self, start_response, protocol, account, region, body, form):
        """cloudwatch:DescribeAlarmHistory from the recorded items, in the request's protocol."""
        if protocol == "cbor":
            request = cbor_to_json(cbor2.loads(body)) if body else {}
        elif protocol == "json":
            try:
                request = json.loads(body) if body.strip() else {}
            except ValueError:
                request = {}
        else:
            request = {k: v for k, v in form.items() if k != "Action" and k != "Version" and not k.startswith("AlarmTypes.")}
            types = sorted((k for k in form if k.startswith("AlarmTypes.member.")), key=lambda k: int(k.rsplit(".", 1)[-1]))
            if types:
                request["AlarmTypes"] = [form[k] for k in types]
        answer, error = self.history.query(account, region, request if isinstance(request, dict) else {})
        if error:
            return self.monitoring_error(start_response, protocol, *error)
        if protocol == "cbor":
            encoded = cbor2.dumps({**answer, "AlarmHistoryItems": [dict(i, Timestamp=cbor2.CBORTag(1, i["Timestamp"].timestamp())) for i in answer["AlarmHistoryItems"]]})
            start_response("200 OK", [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("Content-Length", str(len(encoded)))])
            return [encoded]
        if protocol == "json":
            return self.reply(start_response, "200 OK", {**answer, "AlarmHistoryItems": [dict(i, Timestamp=i["Timestamp"].timestamp()) for i in answer["AlarmHistoryItems"]]}, (), "application/x-amz-json-1.0")
        members = "".join(
            "<member>"
            + "".join(
                f"<{field}>{xml_escape(iso(item[field]) if field == 'Timestamp' else item[field])}</{field}>"
                for field in ("AlarmName", "AlarmType", "Timestamp", "HistoryItemType", "HistorySummary", "HistoryData")
            )
            + "</member>"
            for item in answer["AlarmHistoryItems"]
        )
        token = f"<NextToken>{xml_escape(answer['NextToken'])}</NextToken>" if "NextToken" in answer else ""
        payload = (
            '<DescribeAlarmHistoryResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmHistoryResult>'
            f"<AlarmHistoryItems>{members}</AlarmHistoryItems>{token}</DescribeAlarmHistoryResult>"
            "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></DescribeAlarmHistoryResponse>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
        return [payload]

    def monitoring_error(self, start_response, protocol, code, message, status="400 Bad Request"):
        """A CloudWatch client error in the request's protocol."""
        if protocol == "cbor":
            payload = cbor2.dumps({"__type": code, "message": message})
            start_response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-query-error", f"{code};Sender"), ("Content-Length", str(len(payload)))])
            return [payload]
        if protocol == "json":
            return self.reply(start_response, status, {"__type": code, "message": message}, [("x-amzn-query-error", f"{code};Sender")], "application/x-amz-json-1.0")
        payload = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{xml_escape(code)}</Code><Message>{xml_escape(message)}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
        return [payload]

    def kms_other_account(self, access_key, account, operation, body):
        """The AccessDenied message for a KMS request naming by ARN a key or alias of another
        account than the caller's; None for any other request."""
        try:
            request = json.loads(body) if body.strip() else {}
        except ValueError:
            return None
        key_id = request.get("KeyId") if isinstance(request, dict) else None
        if not isinstance(key_id, str) or not key_id.startswith("arn:"):
            return None
        parts = key_id.split(":")
        if len(parts) < 6 or parts[4] == account:
            return None
        return (
            f"User: {self.faults.principal_of(access_key)} is not authorized to perform: kms:{operation} on resource: {key_id} "
            f"because no resource-based policy allows the kms:{operation} action"
        )

    @staticmethod
    def operation(environ, form, cbor_match):
        if cbor_match:
            return cbor_match.group("op")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            return target.rsplit(".", 1)[-1]
        return form.get("Action", "")

    def call_moto(self, environ, body, overrides=None):
        environ = dict(environ)
        environ.update(overrides or {})
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        chunks = self.moto(environ, capture)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured.get("status", "500 INTERNAL SERVER ERROR"), captured.get("headers", []), payload

    def cbor(self, environ, body, operation, start_response):
        status, headers, payload = self.cbor_moto(environ, body, operation)
        start_response(status, headers)
        return [payload]

    def cbor_moto(self, environ, body, operation):
        """moto's answer to a Smithy RPC v2 CBOR request, asked in JSON 1.0 and told in CBOR."""
        request = cbor_to_json(cbor2.loads(body)) if body else {}
        json_body = json.dumps(request).encode()
        status, headers, payload = self.call_moto(
            environ,
            json_body,
            {
                "PATH_INFO": "/",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "HTTP_X_AMZ_TARGET": f"GraniteServiceVersion20100801.{operation}",
            },
        )
        try:
            answer = json.loads(payload) if payload.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": payload.decode("utf-8", "replace")[:500]}
        if not status.startswith("2") and isinstance(answer, dict):
            code = answer.get("__type") or answer.get("Code") or "InternalFailure"
            answer = {"__type": code.split("#")[-1], "message": answer.get("message") or answer.get("Message") or ""}
        encoded = cbor2.dumps(timestamps_to_cbor(answer))
        return status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("Content-Length", str(len(encoded)))], encoded

    @staticmethod
    def monitoring_request(protocol, operation, body, form):
        """A CloudWatch request's parameters, whatever its protocol, as its input shape has them."""
        shape = CLOUDWATCH_MODEL.operation_model(operation).input_shape
        if protocol == "query":
            return query_value(shape, form, "") or {}
        try:
            if protocol == "cbor":
                request = cbor_to_json(cbor2.loads(body)) if body else {}
            else:
                request = json.loads(body) if body.strip() else {}
        except ValueError as error:
            raise MonitoringError("SerializationException", f"The request body could not be read: {error}") from None
        return shaped(shape, request if isinstance(request, dict) else {}) or {}

    @staticmethod
    def monitoring_answer(start_response, protocol, operation, answer):
        """A CloudWatch answer (datetimes for timestamps) in the request's protocol."""
        if protocol == "cbor":
            payload = cbor2.dumps(to_cbor_value(answer))
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        elif protocol == "json":
            payload = json.dumps(to_json_value(answer)).encode()
            headers = [("Content-Type", "application/x-amz-json-1.0")]
        else:
            result = f"<{operation}Result>{to_query_xml(answer)}</{operation}Result>" if answer else ""
            payload = (
                f'<{operation}Response xmlns="{CLOUDWATCH_XMLNS}">{result}'
                f"<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></{operation}Response>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        headers.append(("Content-Length", str(len(payload))))
        start_response("200 OK", headers)
        return [payload]

    def alarm_operation(self, environ, start_response, protocol, operation, account, region, body, form):
        """The alarm operations of ALARM_OPERATIONS: composite alarms and DescribeAlarms here,
        metric alarms in moto (their Metrics remembered here too)."""
        try:
            request = self.monitoring_request(protocol, operation, body, form)
            if operation == "DescribeAlarms":
                return self.monitoring_answer(start_response, protocol, operation, self.alarms.describe(account, region, request))
            if operation == "PutCompositeAlarm":
                return self.monitoring_answer(start_response, protocol, operation, self.alarms.put_composite(account, region, request))
            if operation == "PutMetricAlarm":
                self.alarms.check_metric_alarm_name(account, region, request.get("AlarmName"))
            if operation == "DeleteAlarms":
                self.alarms.check_delete(account, region, request.get("AlarmNames") or [])
            if operation == "SetAlarmState" and self.alarms.set_composite_state(account, region, request):
                return self.monitoring_answer(start_response, protocol, operation, {})
        except MonitoringError as error:
            return self.monitoring_error(start_response, protocol, error.code, error.message, error.status)
        if protocol == "cbor":
            status, headers, payload = self.cbor_moto(environ, body, operation)
        else:
            status, headers, payload = self.call_moto(environ, body)
        if status.startswith("2"):
            if operation == "PutMetricAlarm":
                self.alarms.remember_metrics(account, region, request.get("AlarmName"), request.get("Metrics"))
            elif operation == "DeleteAlarms":
                self.alarms.delete(account, region, request.get("AlarmNames") or [])
            elif operation in ("EnableAlarmActions", "DisableAlarmActions"):
                self.alarms.set_actions_enabled(account, region, request.get("AlarmNames") or [], operation == "EnableAlarmActions")
        start_response(status, headers)
        return [payload]

    def fail(self, start_response, fault, service, protocol):
        code, http, message = {
            "throttle": ("ThrottlingException", "400 Bad Request", "Rate exceeded"),
            "server_error": ("InternalFailure", "503 Service Unavailable", "Service unavailable"),
            "access_denied": ("AccessDeniedException", "403 Forbidden", "User is not authorized to perform this operation"),
        }[fault]
        if protocol == "cbor":
            payload = cbor2.dumps({"__type": code, "message": message})
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        elif service in JSON_PROTOCOL_SERVICES or protocol == "json":
            payload = json.dumps({"__type": code, "message": message}).encode()
            content_type = "application/x-amz-json-1.0" if service == "monitoring" else "application/x-amz-json-1.1"
            headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
        else:
            query_code = {"ThrottlingException": "Throttling", "AccessDeniedException": "AccessDenied"}.get(code, code)
            payload = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        headers.append(("Content-Length", str(len(payload))))
        start_response(http, headers)
        return [payload]

    def control(self, environ, body, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path == "/_orgwatch/alarm-history":
            return self.control_history(environ, body, start_response)
        if path == "/_orgwatch/metric-alarms":
            return self.control_metric_alarms(environ, body, start_response)
        if path != "/_orgwatch/faults":
            return self.reply(start_response, "404 Not Found", {"error": f"no control {path}; known: /_orgwatch/faults, /_orgwatch/alarm-history, /_orgwatch/metric-alarms"})
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST":
            try:
                rules = json.loads(body or b"{}").get("rules", [])
            except ValueError as error:
                return self.reply(start_response, "400 Bad Request", {"error": str(error)})
            self.faults.replace(rules)
        elif method == "DELETE":
            self.faults.replace([])
        return self.reply(start_response, "200 OK", {"rules": self.faults.snapshot()})

    def control_history(self, environ, body, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            request = json.loads(body) if body.strip() else {}
            if not isinstance(request, dict):
                raise ValueError("the body is a JSON object")
            if method == "POST":
                account, alarm, items = request.get("account"), request.get("alarm"), request.get("items", [])
                if not account or not alarm or not isinstance(items, list):
                    raise ValueError('POST needs {"account": "<id>", "alarm": "<name>", "items": [...]} (and "region", default us-east-1)')
                added = self.history.add(str(account), request.get("region") or DEFAULT_REGION, alarm, items)
                return self.reply(start_response, "200 OK", {"added": added, "items": self.history.snapshot()})
            if method == "DELETE":
                forgotten = self.history.forget(request.get("account"), request.get("region"), request.get("alarm"))
                return self.reply(start_response, "200 OK", {"forgotten": forgotten, "items": self.history.snapshot()})
        except ValueError as error:
            return self.reply(start_response, "400 Bad Request", {"error": str(error)})
        return self.reply(start_response, "200 OK", {"items": self.history.snapshot()})

    def control_metric_alarms(self, environ, body, start_response):
        if environ.get("REQUEST_METHOD", "GET") != "POST":
            return self.reply(start_response, "405 Method Not Allowed", {"error": "POST {\"account\", \"region\", \"alarms\": [...]}"})
        try:
            request = json.loads(body) if body.strip() else {}
            if not isinstance(request, dict) or not request.get("account") or not isinstance(request.get("alarms"), list):
                raise ValueError('POST needs {"account": "<id>", "alarms": [{PutMetricAlarm parameters}, ...]} (and "region", default us-east-1)')
            put = self.alarms.put_metric_alarms_directly(str(request["account"]), request.get("region") or DEFAULT_REGION, request["alarms"])
        except (ValueError, MonitoringError) as error:
            return self.reply(start_response, "400 Bad Request", {"error": str(error)})
        return self.reply(start_response, "200 OK", {"put": put})

    @staticmethod
    def reply(start_response, status, value, extra_headers=(), content_type="application/json"):
        payload = json.dumps(value).encode()
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload))), *extra_headers])
        return [payload]


class QuietHandler(WSGIRequestHandler):
    """No line per request: the tests read this process's output."""

    def log_request(self, *args, **kwargs):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args()
    server = make_server("127.0.0.1", args.port, Emulator(), threaded=True, request_handler=QuietHandler)
    print(f"READY {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
