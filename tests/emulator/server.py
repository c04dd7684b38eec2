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

A rule: {"account": "<id>|*", "service": "sts|cloudtrail|logs|monitoring|sns|organizations|*",
"operation": "<Operation>|*", "fault": "throttle|server_error|access_denied|none",
"times": <n or null for always>, "latency_ms": <n>}. For sts:AssumeRole the account is the one
the role belongs to.

3. Two AWS behaviours moto lacks, read from moto's in-process backends:

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
   - The default SNS topic policy. sns:GetTopicAttributes and sns:ListSubscriptionsByTopic on a
     TopicArn of another account than the caller's (the caller's account comes from its access
     key, learnt from sts:AssumeRole; unknown keys act in 123456789012) are refused as AWS
     refuses them when the topic's policy grants nothing to the caller: HTTP 403, awsQuery
     error Type Sender, Code AuthorizationError, "User: <caller ARN> is not authorized to
     perform: SNS:<Operation> on resource: <TopicArn> ...". It is refused whether or not the
     topic exists. Reading through the owner account's credentials works as before. The fault
     layer applies first (a rule's latency and counting include refused calls).

4. What Security Hub's BatchImportFindings refuses and moto takes (securityhub_rules.py): a
   finding of another account than the caller's or under another product than the caller's
   default one, and values outside ASFF's enumerations and limits, in FailedFindings.

Binds to 127.0.0.1 on a free port (or --port) and prints "READY <port>" when it listens.
It never listens on anything but loopback.
"""

import argparse
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
JSON_PROTOCOL_SERVICES = {"cloudtrail", "logs", "organizations"}
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
        if not cbor_match and service in ("sts", "sns", "monitoring") and body:
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
                return self.fail(start_response, fault, service, bool(cbor_match))

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
            region = found.group("region") if found else "us-east-1"
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

    def fail(self, start_response, fault, service, cbor):
        code, http, message = {
            "throttle": ("ThrottlingException", "400 Bad Request", "Rate exceeded"),
            "server_error": ("InternalFailure", "503 Service Unavailable", "Service unavailable"),
            "access_denied": ("AccessDeniedException", "403 Forbidden", "User is not authorized to perform this operation"),
        }[fault]
        if cbor:
            payload = cbor2.dumps({"__type": code, "message": message})
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        elif service in JSON_PROTOCOL_SERVICES:
            payload = json.dumps({"__type": code, "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
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

    @staticmethod
    def reply(start_response, status, value, extra_headers=()):
        payload = json.dumps(value).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *extra_headers])
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
