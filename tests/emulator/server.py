"""The local AWS for orgwatch's tests and demo: moto's server behind two thin layers of ours.

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

import cbor2
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

CBOR_PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(?P<op>[A-Za-z]+)$")
CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/[^/]+/(?P<region>[^/]+)/(?P<service>[^/]+)/")
DEFAULT_ACCOUNT = "123456789012"
JSON_PROTOCOL_SERVICES = {"cloudtrail", "logs", "organizations"}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.key_accounts = {}

    def replace(self, rules):
        with self.lock:
            self.rules = [dict(rule, fired=0) for rule in rules]

    def snapshot(self):
        with self.lock:
            return [dict(rule) for rule in self.rules]

    def learn(self, access_key, account):
        with self.lock:
            self.key_accounts[access_key] = account

    def account_of(self, access_key):
        with self.lock:
            return self.key_accounts.get(access_key, DEFAULT_ACCOUNT)

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
        status, headers, payload = self.call_moto(environ, body)
        if service == "sts" and operation == "AssumeRole" and status.startswith("200"):
            key = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", payload)
            if key:
                self.faults.learn(key.group(1).decode(), account)
        start_response(status, headers)
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
    def reply(start_response, status, value):
        payload = json.dumps(value).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
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
