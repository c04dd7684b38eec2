//! The exports end to end: an emulated organization scanned by the `orgwatch` binary, its
//! findings and drift as OCSF validated against the OCSF schema (PyPI `ocsf-json-schema`'s
//! export of the OCSF project's schema, with `jsonschema`), and as ASFF imported into the
//! emulator's Security Hub with boto3 and read back.

use orgwatch_tests::{Emulator, Org, describe, python, repo_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// (account name, setup, expected status): a cross-account topic, failures, a waiver and a
/// refused audit role.
const ACCOUNTS: &[(&str, &str, &str)] = &[
    ("security", "compliant", "PASS"),
    ("app", "compliant", "PASS"),
    ("no-trail", "no-trail", "FAIL"),
    ("no-subscriber", "no-subscription", "FAIL"),
    ("waived", "no-trail", "NOT_APPLICABLE"),
    ("refused", "compliant", "ERROR"),
];

struct Scanned {
    emulator: Emulator,
    org: Org,
    _dir: tempfile::TempDir,
    config: String,
}

impl Scanned {
    fn orgwatch(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--config", self.config.as_str()]);
        let output = self.emulator.run(&all);
        assert!(output.status.success(), "{}", describe(&output));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("orgwatch {args:?} printed no JSON ({e}): {}", describe(&output)))
    }

    fn scan(&self) {
        let output = self.emulator.run(&["scan", "--config", &self.config]);
        assert!(output.status.success(), "{}", describe(&output));
    }

    /// The account's name by id (the management account is `management`).
    fn name(&self, id: &str) -> String {
        if id == self.org.management {
            return "management".into();
        }
        self.org.accounts.iter().find(|(_, v)| v.as_str() == id).map(|(k, _)| k.clone()).unwrap_or_else(|| panic!("unknown account {id}"))
    }
}

/// Builds the organization, refuses `refused`'s audit role, waives `waived`, and scans once.
fn scanned() -> Scanned {
    let emulator = Emulator::start();
    let accounts: Vec<Value> = ACCOUNTS
        .iter()
        .map(|(name, setup, _)| if *name == "app" { json!({"name": name, "setup": setup, "topic_account": "security"}) } else { json!({"name": name, "setup": setup}) })
        .collect();
    let org = emulator.build(json!({"region": "us-east-1", "management": {"setup": "compliant"}, "accounts": accounts}));
    emulator.set_faults(json!([{"account": org.id("refused"), "service": "sts", "operation": "AssumeRole", "fault": "access_denied"}]));
    let dir = tempfile::tempdir().unwrap();
    let waiver = format!("[[waivers]]\naccount_id = \"{}\"\ncontrol = \"unauthorized-api-calls\"\nreason = \"logs go to the SIEM\"\n", org.id("waived"));
    let config = emulator.write_config(dir.path(), "", &waiver).to_str().unwrap().to_owned();
    let scanned = Scanned { emulator, org, _dir: dir, config };
    scanned.scan();
    scanned
}

/// Runs one of tests/emulator's Python tools with `input` on stdin; (exit code, JSON answer).
fn tool(script: &str, args: &[&str], input: &Value) -> (i32, Value) {
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/emulator").join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let answer = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {}", describe(&output)));
    (output.status.code().unwrap_or(-1), answer)
}

fn validate_ocsf(events: &Value) -> (i32, Value) {
    tool("ocsf_validate.py", &["--also", "1.8.0"], events)
}

fn import_asff(emulator: &Emulator, findings: &Value) -> Value {
    let endpoint = emulator.endpoint();
    let (code, answer) = tool("securityhub_import.py", &["--endpoint", &endpoint], findings);
    assert_eq!(code, 0, "{answer}");
    answer
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// The evidence links of each account's latest finding, from `findings --format json`.
fn links_by_account(scanned: &Scanned) -> BTreeMap<String, Vec<Value>> {
    let rows = scanned.orgwatch(&["findings", "--format", "json"]);
    rows.as_array().unwrap().iter().map(|r| (r["account_id"].as_str().unwrap().to_owned(), r["evidence"]["links"].as_array().cloned().unwrap_or_default())).collect()
}

#[test]
fn findings_and_drift_as_ocsf_validate_against_the_ocsf_schema() {
    let scanned = scanned();
    let events = scanned.orgwatch(&["findings", "--format", "ocsf"]);
    let events_list = events.as_array().unwrap();
    assert_eq!(events_list.len(), ACCOUNTS.len() + 1, "one event per account and control: {events}");
    let (code, report) = validate_ocsf(&events);
    assert_eq!((code, report["validated"].as_u64()), (0, Some(events_list.len() as u64)), "{report}");
    assert_eq!(strings(&report["versions"]), ["1.3.0", "1.8.0"]);

    let links = links_by_account(&scanned);
    for event in events_list {
        let account = event["cloud"]["account"]["uid"].as_str().unwrap();
        let name = scanned.name(account);
        let expected = ACCOUNTS.iter().find(|a| a.0 == name).map_or("PASS", |a| a.2);
        let (status_id, status) = match expected {
            "PASS" => (1, "Pass"),
            "FAIL" => (3, "Fail"),
            "ERROR" => (2, "Warning"),
            _ => (99, "Not Applicable"),
        };
        assert_eq!((event["compliance"]["status_id"].as_u64(), event["compliance"]["status"].as_str()), (Some(status_id), Some(status)), "{name}: {event}");
        assert_eq!(event["compliance"]["status_code"], expected, "{name}");
        let requirements = strings(&event["compliance"]["requirements"]);
        for id in ["CIS AWS Foundations Benchmark v1.2.0/3.1", "CIS AWS Foundations Benchmark v5.0.0/4.1", "CIS AWS Foundations Benchmark v7.0.0/5.1", "AWS Security Hub CloudWatch.2"] {
            assert!(requirements.contains(&id), "{name}: {requirements:?}");
        }
        assert_eq!(event["finding_info"]["uid"], format!("orgwatch/{account}/unauthorized-api-calls"));
        assert_eq!((event["cloud"]["region"].as_str(), event["metadata"]["product"]["name"].as_str()), (Some("us-east-1"), Some("orgwatch")));
        assert_eq!(event["resources"].as_array().unwrap().len(), links[account].len().max(1), "{name}: one resource per evidence link");
        assert!(event["status_code"].as_str().is_some_and(|r| !r.is_empty()) && event["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}");
    }
    // The alarm of `app` notifies the security account's topic: that resource is the security
    // account's.
    let app = events_list.iter().find(|e| e["cloud"]["account"]["uid"] == scanned.org.id("app")).unwrap();
    let topic = app["resources"].as_array().unwrap().iter().find(|r| r["type"] == "AWS::SNS::Topic").unwrap_or_else(|| panic!("{app}"));
    assert_eq!(topic["owner"]["account"]["uid"], scanned.org.id("security"));
    let refused = events_list.iter().find(|e| e["cloud"]["account"]["uid"] == scanned.org.id("refused")).unwrap();
    assert_eq!(refused["status_code"], "ROLE_ASSUMPTION_FAILED");

    // The validator refuses what the schema does not allow: it can fail.
    let mut broken = events_list[0].clone();
    broken["compliance"]["status_id"] = json!(7);
    broken.as_object_mut().unwrap().remove("cloud");
    broken["finding_info"]["not_an_ocsf_field"] = json!(true);
    let (code, report) = validate_ocsf(&json!([broken]));
    assert_eq!(code, 1, "{report}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("status_id") && errors.contains("'cloud' is a required property") && errors.contains("not_an_ocsf_field"), "{errors}");

    // A second scan in which `app`'s role is refused: its drift event is a finding of its new
    // status, an update of the same finding.
    scanned.emulator.set_faults(json!([{"account": scanned.org.id("app"), "service": "sts", "operation": "AssumeRole", "fault": "access_denied"}]));
    scanned.scan();
    let drift = scanned.orgwatch(&["drift", "--format", "ocsf"]);
    let (code, report) = validate_ocsf(&drift);
    assert_eq!(code, 0, "{report}");
    let regression = drift.as_array().unwrap().iter().find(|e| e["unmapped"]["orgwatch"]["change"]["change"] == "REGRESSION").unwrap_or_else(|| panic!("{drift}"));
    assert_eq!(regression["cloud"]["account"]["uid"], scanned.org.id("app"));
    assert_eq!((regression["activity_name"].as_str(), regression["compliance"]["status"].as_str()), (Some("Update"), Some("Warning")));
    assert_eq!(regression["finding_info"]["uid"], app["finding_info"]["uid"], "the same finding");
    assert_ne!(regression["metadata"]["uid"], app["metadata"]["uid"], "another scan's event");
    // `refused` was recovered by the second scan (its rule was replaced): a recovery.
    assert!(drift.as_array().unwrap().iter().any(|e| e["unmapped"]["orgwatch"]["change"]["change"] == "RECOVERY" && e["compliance"]["status"] == "Pass"), "{drift}");
}

#[test]
fn asff_imports_into_security_hub_reads_back_and_updates_on_reimport() {
    let scanned = scanned();
    let findings = scanned.orgwatch(&["findings", "--format", "asff"]);
    let count = findings.as_array().unwrap().len();
    assert_eq!(count, ACCOUNTS.len() + 1);
    // The refused role was the scan's fault; the importer assumes a role in every account.
    scanned.emulator.set_faults(json!([]));
    let answer = import_asff(&scanned.emulator, &findings);
    let links = links_by_account(&scanned);
    let expected_status = |id: &str| match ACCOUNTS.iter().find(|a| a.0 == scanned.name(id)).map_or("PASS", |a| a.2) {
        "PASS" => "PASSED",
        "FAIL" => "FAILED",
        "ERROR" => "WARNING",
        _ => "NOT_AVAILABLE",
    };
    let read_back = |answer: &Value| -> BTreeMap<String, Vec<Value>> { answer["findings"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_array().unwrap().clone())).collect() };
    for (account, result) in answer["imports"].as_object().unwrap() {
        assert_eq!((result["SuccessCount"].as_u64(), result["FailedCount"].as_u64()), (Some(1), Some(0)), "{account}: {result}");
    }
    let hub = read_back(&answer);
    assert_eq!(hub.len(), count, "each account holds its own finding");
    for (account, got) in &hub {
        assert_eq!(got.len(), 1, "{account}: {got:?}");
        let f = &got[0];
        assert_eq!(f["Id"], format!("orgwatch/{account}/unauthorized-api-calls"));
        assert_eq!(f["AwsAccountId"], account.as_str());
        assert_eq!(f["ProductArn"], format!("arn:aws:securityhub:us-east-1:{account}:product/{account}/default"));
        assert_eq!(f["GeneratorId"], "orgwatch/unauthorized-api-calls");
        assert_eq!(f["Compliance"]["Status"], expected_status(account), "{}", scanned.name(account));
        assert!(strings(&f["Compliance"]["RelatedRequirements"]).contains(&"CIS AWS Foundations Benchmark v1.2.0/3.1"));
        assert_eq!(f["ProductFields"]["orgwatch/SecurityHubControlId"], "CloudWatch.2");
        assert_eq!(f["Resources"].as_array().unwrap().len(), links[account].len().max(1), "one resource per evidence link");
        assert!(f["Compliance"]["StatusReasons"][0]["ReasonCode"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert!(hub[scanned.org.id("no-trail")][0]["Remediation"]["Recommendation"]["Text"].as_str().is_some_and(|t| t.contains("multi-region")));

    // The emulator refuses, as Security Hub does, a finding under another account's product.
    let mut foreign = findings[0].clone();
    foreign["ProductArn"] = json!("arn:aws:securityhub:us-east-1:000000000000:product/000000000000/default");
    let refused = import_asff(&scanned.emulator, &json!([foreign]));
    let result = refused["imports"].as_object().unwrap().values().next().unwrap();
    assert_eq!(result["FailedCount"], 1, "{refused}");

    // A second scan in which `app`'s role is refused, imported again: the same findings,
    // updated.
    scanned.emulator.set_faults(json!([{"account": scanned.org.id("app"), "service": "sts", "operation": "AssumeRole", "fault": "access_denied"}]));
    scanned.scan();
    scanned.emulator.set_faults(json!([]));
    let again = import_asff(&scanned.emulator, &scanned.orgwatch(&["findings", "--format", "asff"]));
    let hub = read_back(&again);
    assert!(hub.values().all(|got| got.len() == 1), "a re-import updates, never duplicates: {hub:?}");
    assert_eq!(hub[scanned.org.id("app")][0]["Compliance"]["Status"], "WARNING");
    assert_eq!(hub[scanned.org.id("refused")][0]["Compliance"]["Status"], "PASSED", "recovered once its role was no longer refused");
    let app = &hub[scanned.org.id("app")][0];
    assert!(app["UpdatedAt"].as_str() > app["CreatedAt"].as_str(), "{app}");

    // Drift as ASFF: the same findings again, each at its new status.
    let drift = scanned.orgwatch(&["drift", "--format", "asff"]);
    let changes: Vec<&str> = drift.as_array().unwrap().iter().filter_map(|f| f["ProductFields"]["orgwatch/Change"].as_str()).collect();
    assert!(changes.contains(&"NEW") && changes.contains(&"REGRESSION") && changes.contains(&"RECOVERY"), "{changes:?}");
    let after_drift = read_back(&import_asff(&scanned.emulator, &drift));
    assert!(after_drift.values().all(|got| got.len() == 1), "{after_drift:?}");
    assert_eq!(after_drift[scanned.org.id("app")][0]["Compliance"]["Status"], "WARNING", "the newest event wins");
}

#[test]
fn an_export_of_an_empty_history_is_an_empty_array() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    orgwatch_store_init(&dir.path().join("orgwatch.db"));
    for format in ["ocsf", "asff"] {
        for command in ["findings", "drift"] {
            let output = emulator.run(&[command, "--config", config.to_str().unwrap(), "--format", format]);
            assert!(output.status.success(), "{}", describe(&output));
            assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "[]", "{command} {format}");
        }
    }
}

/// An empty database with orgwatch's schema.
fn orgwatch_store_init(path: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { orgwatch_store::Store::open(path).await.unwrap().close().await });
}
