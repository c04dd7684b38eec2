"""What Security Hub's BatchImportFindings checks and moto 5.2.5 does not, for server.py.

moto stores any finding that has a Resources list, and updates one by its Id. Security Hub also
refuses, per finding (in FailedFindings, the others are imported):

- a finding whose AwsAccountId is not the calling account, or whose ProductArn is not that
  account's default product in the request's region
  (arn:aws:securityhub:<region>:<account>:product/<account>/default): a custom integration
  imports only its own account's findings;
- a SchemaVersion other than 2018-10-08; Types not of the form namespace/category[/classifier]
  with one of ASFF's namespaces; a Severity.Label, Compliance.Status or RecordState outside
  their enumerations; CreatedAt, UpdatedAt, FirstObservedAt or LastObservedAt that is not an
  ISO 8601 time with a zone; more than 32 Resources, 32 RelatedRequirements or 50
  ProductFields; a Title over 256 or a Description over 1024 characters;

and the whole request when it carries more than 100 findings (InvalidInputException).
"""

import datetime
import json

SCHEMA_VERSION = "2018-10-08"
NAMESPACES = {"Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications"}
SEVERITY_LABELS = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
COMPLIANCE_STATUSES = {"PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"}
RECORD_STATES = {"ACTIVE", "ARCHIVED"}
TIMES = ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt")


def is_time(text):
    if not isinstance(text, str):
        return False
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def problems(finding, account, region):
    """Why Security Hub would refuse this finding from `account` in `region`; empty if it would not."""
    found = []
    if finding.get("AwsAccountId") != account:
        found.append(f"AwsAccountId {finding.get('AwsAccountId')!r} is not the calling account {account}")
    expected = f"arn:aws:securityhub:{region}:{account}:product/{account}/default"
    if finding.get("ProductArn") != expected:
        found.append(f"ProductArn {finding.get('ProductArn')!r} is not {expected}")
    if finding.get("SchemaVersion") != SCHEMA_VERSION:
        found.append(f"SchemaVersion must be {SCHEMA_VERSION}")
    for kind in finding.get("Types") or []:
        parts = kind.split("/")
        if not 2 <= len(parts) <= 3 or parts[0] not in NAMESPACES or not all(parts):
            found.append(f"Types value {kind!r} is not namespace/category/classifier")
    label = (finding.get("Severity") or {}).get("Label")
    if label is not None and label not in SEVERITY_LABELS:
        found.append(f"Severity.Label {label!r} is invalid")
    status = (finding.get("Compliance") or {}).get("Status")
    if status is not None and status not in COMPLIANCE_STATUSES:
        found.append(f"Compliance.Status {status!r} is invalid")
    if len((finding.get("Compliance") or {}).get("RelatedRequirements") or []) > 32:
        found.append("more than 32 RelatedRequirements")
    state = finding.get("RecordState")
    if state is not None and state not in RECORD_STATES:
        found.append(f"RecordState {state!r} is invalid")
    for key in TIMES:
        if key in finding and not is_time(finding[key]):
            found.append(f"{key} {finding[key]!r} is not an ISO 8601 time")
    if len(finding.get("Resources") or []) > 32:
        found.append("more than 32 Resources")
    if len(finding.get("ProductFields") or {}) > 50:
        found.append("more than 50 ProductFields")
    if len(finding.get("Title") or "") > 256:
        found.append("Title is longer than 256 characters")
    if len(finding.get("Description") or "") > 1024:
        found.append("Description is longer than 1024 characters")
    return found


def screen(body, account, region):
    """(error, body for moto, refused findings): error is a message when the request itself is
    refused; otherwise moto gets only the findings Security Hub would take."""
    try:
        request = json.loads(body or b"{}")
    except ValueError as error:
        return f"the request is not JSON: {error}", body, []
    findings = request.get("Findings") or []
    if len(findings) > 100:
        return f"Findings has {len(findings)} members; at most 100 are allowed", body, []
    kept, refused = [], []
    for finding in findings:
        reasons = problems(finding, account, region)
        if reasons:
            refused.append({"Id": finding.get("Id", ""), "ErrorCode": "InvalidInput", "ErrorMessage": "; ".join(reasons)})
        else:
            kept.append(finding)
    request["Findings"] = kept
    return None, json.dumps(request).encode(), refused


def merge(payload, refused):
    """moto's answer with the refused findings counted as failed."""
    if not refused:
        return payload
    try:
        answer = json.loads(payload)
    except ValueError:
        return payload
    answer["FailedCount"] = answer.get("FailedCount", 0) + len(refused)
    answer.setdefault("FailedFindings", []).extend(refused)
    return json.dumps(answer).encode()
