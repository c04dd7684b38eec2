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
the role belongs to. Rules apply to every operation, ours below (DescribeAlarmHistory, the
refusals) included, and the fault is answered in the protocol the request spoke (CBOR, JSON or
awsQuery XML).

3. AWS behaviours moto lacks (the first read from moto's in-process backends):

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

import cbor2
import securityhub_rules
from moto.cloudtrail.models import cloudtrail_backends
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


class Emulator:
    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.faults = Faults()
        self.history = AlarmHistory()

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
        start_response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("Content-Length", str(len(encoded)))])
        return [encoded]

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
        if path != "/_orgwatch/faults":
            return self.reply(start_response, "404 Not Found", {"error": f"no control {path}; known: /_orgwatch/faults, /_orgwatch/alarm-history"})
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
