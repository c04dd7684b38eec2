"""Checks the emulator's composite alarms and DescribeAlarms (server.py) and build_org.py's
composite, metric-math and many-alarms setups, through every client CloudWatch has here:
boto3 in JSON 1.0 (what the pinned botocore speaks), boto3 forced to Smithy RPC v2 CBOR (what
the Rust SDK speaks) and to awsQuery, a hand-signed CBOR request read with cbor2 (the wire
types the Rust SDK decodes), and the AWS CLI v1 of this venv.

    python check_alarms.py [--endpoint http://127.0.0.1:PORT]

Without --endpoint it starts server.py as the Rust tests do (this Python, a free port, "READY
<port>" on its stdout) and stops it at the end. Prints each check; exits 1 if any failed.
"""

import argparse
import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import boto3
import botocore.session
import cbor2
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build_org  # noqa: E402

REGION = "us-east-1"
CIS_ALARM = "CIS-3.1-UnauthorizedAPICalls"
EXTRA = 250
SETUPS = [
    "composite-or", "composite-nested", "composite-and", "composite-actions-disabled", "composite-suppressed",
    "math-fill", "math-other-metric", "math-undecidable", "math-scaled",
]
BOTH = ["CompositeAlarm", "MetricAlarm"]
failures = []
MODELS = {}  # protocol -> a botocore data directory (removed at the end)


def check(what, condition, detail=""):
    print(("ok    " if condition else "FAIL  ") + what + ("" if condition or not detail else f": {detail}"))
    if not condition:
        failures.append(what)


def start_emulator():
    process = subprocess.Popen([sys.executable, str(HERE / "server.py")], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}"


def build(endpoint, spec):
    done = subprocess.run([sys.executable, str(HERE / "build_org.py"), "--endpoint", endpoint], input=json.dumps(spec), capture_output=True, text=True)
    return done


def model_path(protocol):
    """A botocore data directory whose CloudWatch model speaks only `protocol`."""
    if protocol in MODELS:
        return MODELS[protocol]
    source = pathlib.Path(botocore.__file__).parent / "data/cloudwatch/2010-08-01/service-2.json.gz"
    model = json.load(gzip.open(source))
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    root = pathlib.Path(tempfile.mkdtemp(prefix=f"cw-{protocol}-"))
    target = root / "cloudwatch/2010-08-01"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    MODELS[protocol] = str(root)
    return str(root)


def cloudwatch(endpoint, credentials, protocol=None):
    session = botocore.session.Session()
    if protocol:
        session.set_config_variable("data_path", model_path(protocol))
    client = boto3.Session(botocore_session=session).client("cloudwatch", region_name=REGION, endpoint_url=endpoint, **credentials)
    return client


def all_names(client, **params):
    """(every alarm name over all pages, page count) of DescribeAlarms with `params`."""
    names, pages, token = [], 0, None
    while True:
        page = client.describe_alarms(**params, **({"NextToken": token} if token else {}))
        pages += 1
        names += [a["AlarmName"] for a in page.get("MetricAlarms", [])] + [a["AlarmName"] for a in page.get("CompositeAlarms", [])]
        token = page.get("NextToken")
        if not token:
            return names, pages


def error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"].get("Message", "")
    return None, ""


def raw_cbor(endpoint, credentials, operation, request):
    """A hand-made Smithy RPC v2 CBOR request, signed; (HTTP status, decoded answer)."""
    body = cbor2.dumps(request)
    aws_request = AWSRequest(
        method="POST", url=f"{endpoint}/service/GraniteServiceVersion20100801/operation/{operation}", data=body,
        headers={"Content-Type": "application/cbor", "Accept": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
    )
    creds = Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"], credentials.get("aws_session_token"))
    SigV4Auth(creds, "monitoring", REGION).add_auth(aws_request)
    http = urllib.request.Request(aws_request.url, data=body, headers=dict(aws_request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(http, timeout=30) as answer:
            return answer.status, cbor2.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, cbor2.loads(error.read())


def cli(endpoint, credentials, *args):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": credentials["aws_session_token"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    aws = pathlib.Path(sys.executable).parent / "aws"
    done = subprocess.run([str(aws), "cloudwatch", *args, "--endpoint-url", endpoint, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout or "{}")


def check_refusals(endpoint):
    spec = {"accounts": [{"name": "x", "setup": "composite-or", "family": True}], "controls": [{"id": "unauthorized-api-calls", "pattern": "{}"}]}
    done = build(endpoint, spec)
    check("build_org refuses composite with family", done.returncode != 0 and "family" in done.stderr, done.stderr.strip())
    done = build(endpoint, {"accounts": [{"name": "x", "setup": "no-alarm", "math": "fill"}]})
    check("build_org refuses math with no-alarm", done.returncode != 0 and "shapes the alarm" in done.stderr, done.stderr.strip())
    done = build(endpoint, {"accounts": [{"name": "x", "setup": "compliant", "composite": "or", "math": "fill"}]})
    check("build_org refuses composite with math", done.returncode != 0, done.stderr.strip())
    done = build(endpoint, {"accounts": [{"name": "x", "setup": "compliant", "extra_alarms": 5000}]})
    check("build_org refuses extra_alarms 5000", done.returncode != 0, done.stderr.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="a running emulator (default: start one)")
    args = parser.parse_args()
    process = None
    endpoint = args.endpoint
    if not endpoint:
        process, endpoint = start_emulator()
    try:
        run(endpoint)
    finally:
        if process:
            process.terminate()
            process.wait(timeout=10)
        for path in MODELS.values():
            shutil.rmtree(path, ignore_errors=True)
    print(f"\n{'FAILED: ' + str(len(failures)) + ' check(s)' if failures else 'all checks passed'}")
    return 1 if failures else 0


def run(endpoint):
    print(f"emulator at {endpoint}")
    check_refusals(endpoint)
    spec = {
        "management": {"setup": "compliant"},
        "accounts": [{"name": s, "setup": s} for s in SETUPS] + [{"name": "many", "setup": "many-alarms", "extra_alarms": EXTRA}],
    }
    done = build(endpoint, spec)
    if done.returncode != 0:
        raise SystemExit(f"build_org.py failed: {done.stderr}")
    org = json.loads(done.stdout)
    ids = org["accounts"]
    print(f"built {len(ids)} accounts: {', '.join(f'{k}={v}' for k, v in ids.items())}")
    creds = {name: build_org.account_credentials(endpoint, REGION, account) for name, account in ids.items()}
    clients = {name: cloudwatch(endpoint, c) for name, c in creds.items()}
    arn = lambda name, alarm: f"arn:aws:cloudwatch:{REGION}:{ids[name]}:alarm:{alarm}"  # noqa: E731

    # AlarmTypes
    cw = clients["composite-or"]
    plain = cw.describe_alarms()
    check("no AlarmTypes: metric alarms only", not plain["CompositeAlarms"] and sorted(a["AlarmName"] for a in plain["MetricAlarms"]) == [CIS_ALARM, "other-signal"], plain)
    metric_only = cw.describe_alarms(AlarmTypes=["MetricAlarm"])
    check("AlarmTypes [MetricAlarm]: no composites", not metric_only["CompositeAlarms"] and len(metric_only["MetricAlarms"]) == 2)
    composite_only = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])
    check("AlarmTypes [CompositeAlarm]: the composite only", not composite_only["MetricAlarms"] and [c["AlarmName"] for c in composite_only["CompositeAlarms"]] == ["cis-unauthorized-composite"])
    both = cw.describe_alarms(AlarmTypes=BOTH)
    check("AlarmTypes both: 2 metric alarms + 1 composite", len(both["MetricAlarms"]) == 2 and len(both["CompositeAlarms"]) == 1)
    composite = composite_only["CompositeAlarms"][0]
    topic = f"arn:aws:sns:{REGION}:{ids['composite-or']}:security-alerts"
    check("composite-or: rule, actions, ARN, state", composite["AlarmRule"] == f'ALARM("{CIS_ALARM}") OR ALARM("other-signal")'
          and composite["AlarmActions"] == [topic] and composite["ActionsEnabled"] is True and composite["AlarmArn"] == arn("composite-or", "cis-unauthorized-composite")
          and composite["StateValue"] == "INSUFFICIENT_DATA" and "StateUpdatedTimestamp" in composite and "AlarmConfigurationUpdatedTimestamp" in composite, composite)
    metric = next(a for a in both["MetricAlarms"] if a["AlarmName"] == CIS_ALARM)
    check("composite-or: the metric alarm has actions enabled and no AlarmActions", metric["ActionsEnabled"] is True and metric["AlarmActions"] == [] and metric["MetricName"] == "UnauthorizedAPICalls", metric)
    for_metric = cw.describe_alarms_for_metric(Namespace="CISBenchmark", MetricName="UnauthorizedAPICalls")["MetricAlarms"]
    check("DescribeAlarmsForMetric still answers (moto)", [a["AlarmName"] for a in for_metric] == [CIS_ALARM])
    check("ActionPrefix filters on AlarmActions", [c["AlarmName"] for c in cw.describe_alarms(AlarmTypes=BOTH, ActionPrefix=topic)["CompositeAlarms"]] == ["cis-unauthorized-composite"]
          and not cw.describe_alarms(AlarmTypes=BOTH, ActionPrefix=topic)["MetricAlarms"])
    check("AlarmNamePrefix", [a["AlarmName"] for a in cw.describe_alarms(AlarmTypes=BOTH, AlarmNamePrefix="cis-")["CompositeAlarms"]] == ["cis-unauthorized-composite"])
    check("StateValue INSUFFICIENT_DATA: the composite (moto's metric alarms are OK)", [a["AlarmName"] for a in cw.describe_alarms(AlarmTypes=BOTH, StateValue="INSUFFICIENT_DATA")["CompositeAlarms"]] == ["cis-unauthorized-composite"])

    # The other composite set-ups
    def composites(name):
        return {c["AlarmName"]: c for c in clients[name].describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]}
    c = composites("composite-and")["cis-unauthorized-composite"]
    check("composite-and: AND rule, notifies", " AND " in c["AlarmRule"] and c["AlarmActions"] and c["ActionsEnabled"], c)
    c = composites("composite-actions-disabled")["cis-unauthorized-composite"]
    check("composite-actions-disabled: ActionsEnabled false", c["ActionsEnabled"] is False and c["AlarmActions"], c)
    c = composites("composite-suppressed")["cis-unauthorized-composite"]
    check("composite-suppressed: suppressor other-signal 60/60", c.get("ActionsSuppressor") == "other-signal" and c.get("ActionsSuppressorWaitPeriod") == 60 and c.get("ActionsSuppressorExtensionPeriod") == 60, c)
    nested = composites("composite-nested")
    check("composite-nested: inner without actions, cis-pager over its ARN notifies",
          nested["cis-unauthorized-composite"]["AlarmActions"] == [] and nested["cis-pager"]["AlarmActions"]
          and arn("composite-nested", "cis-unauthorized-composite") in nested["cis-pager"]["AlarmRule"], nested)

    # Parents and children
    cw = clients["composite-nested"]
    parents = cw.describe_alarms(ParentsOfAlarmName=CIS_ALARM)
    check("ParentsOfAlarmName(metric alarm): the inner composite only", [c["AlarmName"] for c in parents["CompositeAlarms"]] == ["cis-unauthorized-composite"] and not parents["MetricAlarms"], parents)
    check("ParentsOfAlarmName rows: AlarmName and AlarmArn only", set(parents["CompositeAlarms"][0]) == {"AlarmName", "AlarmArn"}, parents["CompositeAlarms"])
    parents = cw.describe_alarms(ParentsOfAlarmName="cis-unauthorized-composite")
    check("ParentsOfAlarmName(inner composite, referenced by ARN): cis-pager", [c["AlarmName"] for c in parents["CompositeAlarms"]] == ["cis-pager"], parents)
    children = cw.describe_alarms(ChildrenOfAlarmName="cis-pager")
    check("ChildrenOfAlarmName(cis-pager): the inner composite and other-signal",
          [c["AlarmName"] for c in children["CompositeAlarms"]] == ["cis-unauthorized-composite"] and [a["AlarmName"] for a in children["MetricAlarms"]] == ["other-signal"], children)
    check("ChildrenOfAlarmName rows: name, ARN, state, state timestamp", all(set(r) <= {"AlarmName", "AlarmArn", "StateValue", "StateUpdatedTimestamp"} for r in children["CompositeAlarms"] + children["MetricAlarms"]))
    code, _ = error_code(lambda: cw.describe_alarms(ChildrenOfAlarmName="cis-pager", AlarmTypes=BOTH))
    check("ChildrenOfAlarmName with AlarmTypes: ValidationError", code == "ValidationError", code)
    code, _ = error_code(lambda: cw.describe_alarms(ChildrenOfAlarmName="cis-pager", ParentsOfAlarmName=CIS_ALARM))
    check("ChildrenOfAlarmName with ParentsOfAlarmName: ValidationError", code == "ValidationError", code)

    # Math alarms
    expected = [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "CISBenchmark", "MetricName": "UnauthorizedAPICalls"}, "Period": 300, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "e1", "Expression": "FILL(m1, 0)", "Label": "denied calls", "ReturnData": True},
    ]
    fill = clients["math-fill"].describe_alarms(AlarmNames=[CIS_ALARM])["MetricAlarms"]
    check("math-fill: Metrics come back whole (Id, MetricStat with Period and Stat, Expression, Label, ReturnData)", len(fill) == 1 and fill[0].get("Metrics") == expected, fill)
    check("math-fill: threshold, operator, periods, actions", fill and fill[0]["Threshold"] == 1.0 and fill[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
          and fill[0]["EvaluationPeriods"] == 1 and fill[0]["AlarmActions"] and "MetricName" not in fill[0], fill)
    check("math-fill: DescribeAlarmsForMetric does not list the math alarm (as on AWS)", not clients["math-fill"].describe_alarms_for_metric(Namespace="CISBenchmark", MetricName="UnauthorizedAPICalls")["MetricAlarms"])
    for name, expression, ids_wanted in (("math-other-metric", "FILL(m2, 0)", ["m1", "m2", "e1"]), ("math-undecidable", "RATE(m1)", ["m1", "e1"]), ("math-scaled", "SUM([m1, m2]) * 2", ["m1", "m2", "e1"])):
        metrics = clients[name].describe_alarms(AlarmNames=[CIS_ALARM])["MetricAlarms"][0]["Metrics"]
        returned = [q for q in metrics if q.get("ReturnData")]
        check(f"{name}: queries {ids_wanted}, returns {expression}", [q["Id"] for q in metrics] == ids_wanted and len(returned) == 1 and returned[0]["Expression"] == expression, metrics)
    raw = clients["math-fill"]
    raw.put_metric_alarm(AlarmName="cross-account-math", ComparisonOperator="GreaterThanThreshold", Threshold=0.0, EvaluationPeriods=1, Metrics=[
        {"Id": "m1", "AccountId": "111122223333", "Period": 60, "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M", "Dimensions": [{"Name": "a", "Value": "b"}]}, "Period": 60, "Stat": "Sum", "Unit": "Count"}, "ReturnData": True}])
    kept = raw.describe_alarms(AlarmNames=["cross-account-math"])["MetricAlarms"][0]["Metrics"][0]
    check("Metrics keep AccountId, query Period, Unit and Dimensions (moto drops AccountId)", kept.get("AccountId") == "111122223333" and kept.get("Period") == 60 and kept["MetricStat"].get("Unit") == "Count" and kept["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "a", "Value": "b"}], kept)
    raw.delete_alarms(AlarmNames=["cross-account-math"])

    # Paging over the many alarms
    cw = clients["many"]
    wanted = sorted(build_org.filler_names(EXTRA) + [CIS_ALARM])
    names, pages = all_names(cw, AlarmTypes=BOTH, MaxRecords=100)
    check(f"paging MaxRecords 100: {len(wanted)} alarms, each once, in {pages} pages", sorted(names) == wanted and len(names) == len(set(names)) and pages == 3, (len(names), pages))
    names, pages = all_names(cw)
    check(f"paging default (50): every alarm once, {pages} pages", sorted(names) == wanted and pages == 6, (len(names), pages))
    check("pages come in alarm-name order", names == wanted)
    first = cw.describe_alarms(MaxRecords=100)
    check("a first page of 100 has a NextToken", len(first["MetricAlarms"]) == 100 and first.get("NextToken"))
    code, _ = error_code(lambda: cw.describe_alarms(NextToken="not-ours"))
    check("a foreign NextToken: InvalidNextToken", code == "InvalidNextToken", code)
    code, _ = error_code(lambda: cw.describe_alarms(MaxRecords=101))
    check("MaxRecords 101: ValidationError", code == "ValidationError", code)

    # PutCompositeAlarm and DeleteAlarms refusals
    cw = clients["composite-or"]
    code, message = error_code(lambda: cw.put_composite_alarm(AlarmName="broken", AlarmRule='ALARM("no-such-alarm") OR ALARM(other-signal)'))
    check("PutCompositeAlarm naming a missing alarm: ValidationError", code == "ValidationError" and "[no-such-alarm]" in message, (code, message))
    other = f"arn:aws:cloudwatch:{REGION}:{ids['composite-and']}:alarm:other-signal"
    code, message = error_code(lambda: cw.put_composite_alarm(AlarmName="broken", AlarmRule=f'ALARM("{other}")'))
    check("PutCompositeAlarm naming another account's alarm by ARN: ValidationError", code == "ValidationError", (code, message))
    code, _ = error_code(lambda: cw.put_composite_alarm(AlarmName="broken", AlarmRule="ALARM(other-signal) OR " * 600 + "ALARM(other-signal)"))
    check("PutCompositeAlarm with a rule over 10240 characters: ValidationError", code == "ValidationError", code)
    code, message = error_code(lambda: cw.delete_alarms(AlarmNames=[CIS_ALARM]))
    check("DeleteAlarms of an alarm a composite depends on: ValidationError", code == "ValidationError" and "depending on it" in message, (code, message))
    cw.put_composite_alarm(AlarmName="unquoted", AlarmRule="ALARM(other-signal) AND NOT OK(cis-unauthorized-composite)")
    check("an unquoted rule is accepted and its children found", sorted(a["AlarmName"] for part in ("MetricAlarms", "CompositeAlarms") for a in cw.describe_alarms(ChildrenOfAlarmName="unquoted")[part]) == ["cis-unauthorized-composite", "other-signal"])
    code, _ = error_code(lambda: cw.delete_alarms(AlarmNames=["unquoted", "cis-unauthorized-composite"]))
    check("DeleteAlarms of two composites at once: ValidationError", code == "ValidationError", code)
    cw.delete_alarms(AlarmNames=["unquoted"])
    check("DeleteAlarms of a composite", "unquoted" not in [c["AlarmName"] for c in cw.describe_alarms(AlarmTypes=BOTH)["CompositeAlarms"]])

    # The same through CBOR and awsQuery (botocore's own serializers and parsers)
    for protocol in ("smithy-rpc-v2-cbor", "query"):
        client = cloudwatch(endpoint, creds["composite-nested"], protocol)
        answer = client.describe_alarms(AlarmTypes=BOTH)
        check(f"{protocol}: DescribeAlarms both types", sorted(c["AlarmName"] for c in answer["CompositeAlarms"]) == ["cis-pager", "cis-unauthorized-composite"] and len(answer["MetricAlarms"]) == 2, answer)
        check(f"{protocol}: no AlarmTypes, no composites", not client.describe_alarms()["CompositeAlarms"])
        parents = client.describe_alarms(ParentsOfAlarmName=CIS_ALARM)["CompositeAlarms"]
        check(f"{protocol}: ParentsOfAlarmName", [c["AlarmName"] for c in parents] == ["cis-unauthorized-composite"], parents)
        math = cloudwatch(endpoint, creds["math-fill"], protocol).describe_alarms(AlarmNames=[CIS_ALARM])["MetricAlarms"]
        check(f"{protocol}: math-fill Metrics whole", math and math[0].get("Metrics") == expected, math)
        names, pages = all_names(cloudwatch(endpoint, creds["many"], protocol), AlarmTypes=BOTH, MaxRecords=100)
        check(f"{protocol}: paging, every alarm once", sorted(names) == wanted and pages == 3, (len(names), pages))
        code, message = error_code(lambda: client.put_composite_alarm(AlarmName="broken", AlarmRule='ALARM("missing")'))
        check(f"{protocol}: PutCompositeAlarm naming a missing alarm refused", code == "ValidationError" and "do not exist" in message, (code, message))
        client.put_composite_alarm(AlarmName=f"via-{protocol}", AlarmRule='ALARM("other-signal")', ActionsEnabled=False, OKActions=["arn:aws:sns:us-east-1:000000000000:x"])
        put = client.describe_alarms(AlarmNames=[f"via-{protocol}"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
        check(f"{protocol}: PutCompositeAlarm stores ActionsEnabled false and OKActions", put and put[0]["ActionsEnabled"] is False and put[0]["OKActions"] == ["arn:aws:sns:us-east-1:000000000000:x"], put)
        client.delete_alarms(AlarmNames=[f"via-{protocol}"])

    # The wire as the Rust SDK decodes it: a hand-made CBOR request
    status, answer = raw_cbor(endpoint, creds["math-fill"], "DescribeAlarms", {"AlarmNames": [CIS_ALARM], "MaxRecords": 10})
    alarm = (answer.get("MetricAlarms") or [{}])[0]
    check("raw CBOR: 200, Threshold a float, Period and EvaluationPeriods ints, timestamps CBOR tag 1 (datetimes)",
          status == 200 and isinstance(alarm.get("Threshold"), float) and isinstance(alarm.get("EvaluationPeriods"), int)
          and alarm["Metrics"][0]["MetricStat"]["Period"] == 300 and alarm["Metrics"][0]["ReturnData"] is False
          and type(alarm.get("StateUpdatedTimestamp")).__name__ == "datetime" and type(alarm.get("AlarmConfigurationUpdatedTimestamp")).__name__ == "datetime", (status, alarm))
    status, answer = raw_cbor(endpoint, creds["composite-nested"], "DescribeAlarms", {"AlarmTypes": ["CompositeAlarm"]})
    check("raw CBOR: composites with tag-1 timestamps", status == 200 and len(answer.get("CompositeAlarms", [])) == 2 and type(answer["CompositeAlarms"][0].get("StateUpdatedTimestamp")).__name__ == "datetime", answer)
    status, answer = raw_cbor(endpoint, creds["composite-nested"], "PutCompositeAlarm", {"AlarmName": "x", "AlarmRule": "ALARM(nope)"})
    check("raw CBOR: a refusal is __type ValidationError, HTTP 400", status == 400 and answer.get("__type") == "ValidationError", (status, answer))

    # The AWS CLI v1 of the venv (JSON 1.0, auto-paging)
    try:
        out = cli(endpoint, creds["many"], "describe-alarms", "--alarm-types", "CompositeAlarm", "MetricAlarm")
        names = [a["AlarmName"] for a in out.get("MetricAlarms", [])] + [a["AlarmName"] for a in out.get("CompositeAlarms", [])]
        check(f"aws cli: describe-alarms pages through all {len(wanted)} alarms, each once", sorted(names) == wanted and len(names) == len(set(names)), len(names))
        out = cli(endpoint, creds["many"], "describe-alarms", "--alarm-types", "CompositeAlarm", "MetricAlarm", "--page-size", "100")
        names = [a["AlarmName"] for a in out.get("MetricAlarms", [])]
        check("aws cli: --page-size 100, each alarm once", sorted(names) == wanted, len(names))
        out = cli(endpoint, creds["composite-nested"], "describe-alarms", "--alarm-types", "CompositeAlarm", "MetricAlarm")
        check("aws cli: composites with --alarm-types CompositeAlarm MetricAlarm", sorted(c["AlarmName"] for c in out["CompositeAlarms"]) == ["cis-pager", "cis-unauthorized-composite"] and len(out["MetricAlarms"]) == 2, out)
        out = cli(endpoint, creds["composite-nested"], "describe-alarms")
        check("aws cli: no composites without --alarm-types", not out.get("CompositeAlarms") and len(out["MetricAlarms"]) == 2)
        out = cli(endpoint, creds["composite-nested"], "describe-alarms", "--parents-of-alarm-name", CIS_ALARM)
        check("aws cli: --parents-of-alarm-name", [c["AlarmName"] for c in out["CompositeAlarms"]] == ["cis-unauthorized-composite"], out)
        out = cli(endpoint, creds["composite-nested"], "describe-alarms", "--children-of-alarm-name", "cis-pager")
        check("aws cli: --children-of-alarm-name", [c["AlarmName"] for c in out["CompositeAlarms"]] == ["cis-unauthorized-composite"] and [a["AlarmName"] for a in out["MetricAlarms"]] == ["other-signal"], out)
        out = cli(endpoint, creds["math-fill"], "describe-alarms", "--alarm-names", CIS_ALARM)
        check("aws cli: math-fill Metrics whole", out["MetricAlarms"][0].get("Metrics") == expected, out)
        try:
            cli(endpoint, creds["composite-or"], "put-composite-alarm", "--alarm-name", "broken", "--alarm-rule", 'ALARM("missing")')
            check("aws cli: put-composite-alarm naming a missing alarm refused", False)
        except AssertionError as error:
            check("aws cli: put-composite-alarm naming a missing alarm refused", "ValidationError" in str(error) and "do not exist" in str(error), str(error))
    except AssertionError as error:
        check("aws cli", False, str(error))

    # build_org again over the same accounts: the clean slate removes composites in order
    done = build(endpoint, {"changes": [{"account_id": ids["composite-nested"], "setup": "compliant"}, {"account_id": ids["many"], "setup": "compliant"}]})
    check("build_org re-applies compliant over composite-nested and many-alarms", done.returncode == 0, done.stderr.strip())
    left = clients["composite-nested"].describe_alarms(AlarmTypes=BOTH)
    check("  ... leaving only the compliant alarm", not left["CompositeAlarms"] and [a["AlarmName"] for a in left["MetricAlarms"]] == [CIS_ALARM], left)
    check("  ... and no fillers", all_names(clients["many"], AlarmTypes=BOTH)[0] == [CIS_ALARM])


if __name__ == "__main__":
    sys.exit(main())
