//! `orgwatch` end to end against the emulator: a real binary, a real SQLite file, moto behind
//! our CBOR adapter and fault layer.

use orgwatch_tests::{Emulator, describe, latest};
use serde_json::json;

/// (account name, setup in the emulator, expected status, expected reason)
const ORGANIZATION: &[(&str, &str, &str, &str)] = &[
    ("compliant-1", "compliant", "PASS", "COMPLIANT"),
    ("compliant-2", "compliant", "PASS", "COMPLIANT"),
    ("compliant-3", "compliant", "PASS", "COMPLIANT"),
    ("reordered", "compliant-reordered", "PASS", "COMPLIANT"),
    ("no-trail-1", "no-trail", "FAIL", "NO_MULTI_REGION_TRAIL"),
    ("no-trail-2", "no-trail", "FAIL", "NO_MULTI_REGION_TRAIL"),
    ("single-region", "single-region-trail", "FAIL", "NO_MULTI_REGION_TRAIL"),
    ("stopped", "trail-not-logging", "FAIL", "TRAIL_NOT_LOGGING"),
    ("read-only", "read-only-events", "FAIL", "MANAGEMENT_EVENTS_NOT_CAPTURED"),
    ("no-cloudwatch", "no-cloudwatch", "FAIL", "TRAIL_NOT_SENDING_TO_CLOUDWATCH"),
    ("no-filter", "no-filter", "FAIL", "NO_MATCHING_METRIC_FILTER"),
    ("and-filter", "wrong-filter", "FAIL", "NO_MATCHING_METRIC_FILTER"),
    ("other-region", "filter-other-region", "FAIL", "NO_MATCHING_METRIC_FILTER"),
    ("zero", "filter-value-zero", "FAIL", "METRIC_FILTER_NEVER_COUNTS"),
    ("no-alarm", "no-alarm", "FAIL", "NO_ALARM_ON_METRIC"),
    ("disabled", "alarm-actions-disabled", "FAIL", "ALARM_ACTIONS_DISABLED"),
    ("less-than", "alarm-less-than", "FAIL", "ALARM_CANNOT_FIRE"),
    ("no-sns", "alarm-no-sns", "FAIL", "NO_ALARM_NOTIFICATION"),
    ("deleted-topic", "topic-deleted", "FAIL", "SNS_TOPIC_NOT_FOUND"),
    ("no-subscriber", "no-subscription", "FAIL", "NO_CONFIRMED_SUBSCRIPTION"),
    ("aws-key", "topic-aws-managed-key", "FAIL", "SNS_TOPIC_UNPUBLISHABLE"),
    // Faults injected below turn these compliant accounts into errors.
    ("role-refused", "compliant", "ERROR", "ROLE_ASSUMPTION_FAILED"),
    ("status-throttled", "compliant", "ERROR", "API_ERROR"),
    ("filters-5xx", "compliant", "ERROR", "API_ERROR"),
    ("topic-denied", "compliant", "ERROR", "ACCESS_DENIED"),
    ("flaky", "compliant", "PASS", "COMPLIANT"),
    // A waiver in the configuration.
    ("waived", "no-trail", "NOT_APPLICABLE", "WAIVED"),
    ("expired-waiver", "no-trail", "FAIL", "NO_MULTI_REGION_TRAIL"),
    ("compliant-4", "compliant", "PASS", "COMPLIANT"),
];

#[tokio::test]
async fn a_varied_organization_gets_the_expected_status_and_reason_for_every_account() {
    let emulator = Emulator::start();
    let accounts: Vec<_> = ORGANIZATION.iter().map(|(name, setup, _, _)| json!({"name": name, "setup": setup})).collect();
    let org = emulator.build(json!({"region": "us-east-1", "management": {"setup": "compliant"}, "accounts": accounts}));
    let answer = emulator.set_faults(json!([
        {"account": org.id("role-refused"), "service": "sts", "operation": "AssumeRole", "fault": "access_denied"},
        {"account": org.id("status-throttled"), "service": "cloudtrail", "operation": "GetTrailStatus", "fault": "throttle"},
        {"account": org.id("filters-5xx"), "service": "logs", "operation": "DescribeMetricFilters", "fault": "server_error"},
        {"account": org.id("topic-denied"), "service": "sns", "operation": "GetTopicAttributes", "fault": "access_denied"},
        // Throttled twice, then answered: the SDK's retries absorb it.
        {"account": org.id("flaky"), "service": "cloudtrail", "operation": "DescribeTrails", "fault": "throttle", "times": 2},
    ]));
    assert_eq!(answer["rules"].as_array().map(Vec::len), Some(5));

    let dir = tempfile::tempdir().unwrap();
    let waivers = format!(
        "[[waivers]]\naccount_id = \"{}\"\ncontrol = \"unauthorized-api-calls\"\nreason = \"logs go to the SIEM\"\n\n\
         [[waivers]]\naccount_id = \"{}\"\ncontrol = \"unauthorized-api-calls\"\nreason = \"was a sandbox\"\nexpires = \"2020-01-01\"\n",
        org.id("waived"),
        org.id("expired-waiver")
    );
    let config = emulator.write_config(dir.path(), "concurrency = 8", &waivers);
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("completed"), "{stdout}");
    assert!(stdout.contains("scan 1 "), "{stdout}");

    let findings = latest(&dir.path().join("orgwatch.db")).await;
    assert_eq!(findings.len(), ORGANIZATION.len() + 1, "{findings:?}");
    for (name, setup, status, reason) in ORGANIZATION {
        let got = &findings[org.id(name)];
        assert_eq!((got.0.as_str(), got.1.as_str()), (*status, *reason), "account {name} ({setup})");
    }
    assert_eq!(findings[&org.management], ("PASS".to_owned(), "COMPLIANT".to_owned()), "the management account is audited too");

    let faults = emulator.faults();
    let flaky = faults["rules"].as_array().unwrap().iter().find(|r| r["account"] == org.id("flaky")).unwrap();
    assert_eq!(flaky["fired"], 2, "the flaky account was throttled twice before it was answered");
    let throttled = faults["rules"].as_array().unwrap().iter().find(|r| r["account"] == org.id("status-throttled")).unwrap();
    assert_eq!(throttled["fired"], 4, "every one of max_attempts = 4 attempts was throttled");

    // The command-line view of the same findings.
    let output = emulator.run(&["findings", "--config", config.to_str().unwrap(), "--status", "ERROR", "--format", "csv"]);
    assert!(output.status.success(), "{}", describe(&output));
    let csv = String::from_utf8_lossy(&output.stdout);
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
    assert!(csv.contains("ROLE_ASSUMPTION_FAILED"), "{csv}");
}

#[tokio::test]
async fn an_organization_that_cannot_be_listed_fails_the_scan_with_a_clear_message() {
    let emulator = Emulator::start();
    emulator.build(json!({"management": {"setup": "compliant"}, "accounts": []}));
    emulator.set_faults(json!([{"service": "organizations", "operation": "ListAccounts", "fault": "access_denied"}]));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not be listed") && stderr.contains("AccessDenied"), "{stderr}");
    let store = orgwatch_store::Store::open_read_only(&dir.path().join("orgwatch.db")).await.unwrap();
    let scans = store.query("SELECT status, error FROM scans").await.unwrap();
    assert_eq!(scans.rows[0][0], "failed");
}

#[test]
fn a_bad_config_exits_2_naming_the_key() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 0", "");
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("[scan] concurrency"), "{}", describe(&output));
    assert!(!dir.path().join("orgwatch.db").exists(), "nothing is written for a bad config");
}

#[test]
fn filter_check_exits_by_verdict() {
    let emulator = Emulator::start();
    let cases = [
        (r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#, 0),
        (r#"{ ($.errorCode = "*UnauthorizedOperation") && ($.errorCode = "AccessDenied*") }"#, 1),
        (r#"{ ($.errorCode = "*UnauthorizedOperation" }"#, 2),
    ];
    for (pattern, code) in cases {
        let output = emulator.run(&["filter-check", pattern]);
        assert_eq!(output.status.code(), Some(code), "{pattern}: {}", describe(&output));
    }
    let output = emulator.run(&["filter-check", "--control", "root-account-usage", r#"{ $.userIdentity.type = "Root" }"#]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}
