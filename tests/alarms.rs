//! Every kind of alarm, end to end against the emulator: composite alarms that notify for the
//! alarm on the metric (OR, nested by ARN, AND, actions disabled, a suppressor), metric-math
//! alarms judged by the expression that returns data, and an account whose alarms take several
//! DescribeAlarms pages (tests/emulator/build_org.py's presets).

use orgwatch_tests::{Emulator, counter, describe, latest, python, repo_root};
use serde_json::{Value, json};

/// The latest finding of an account: its message and evidence.
fn finding(emulator: &Emulator, config: &str, account: &str) -> (String, Value) {
    emulator.finding(std::path::Path::new(config), account)
}

fn links_of<'e>(evidence: &'e Value, kind: &str) -> Vec<&'e Value> {
    evidence["links"].as_array().unwrap().iter().filter(|l| l["kind"] == kind).collect()
}

#[tokio::test]
async fn composite_and_metric_math_alarms_are_judged_by_meaning_and_many_alarms_cost_pages_not_verdicts() {
    let emulator = Emulator::start();
    let cases = [
        ("composite-or", "PASS", "COMPLIANT"),
        ("composite-nested", "PASS", "COMPLIANT"),
        ("composite-and", "FAIL", "ALARM_CANNOT_FIRE"),
        ("composite-actions-disabled", "FAIL", "ALARM_ACTIONS_DISABLED"),
        ("composite-suppressed", "PASS", "COMPLIANT"),
        ("math-fill", "PASS", "COMPLIANT"),
        ("math-scaled", "PASS", "COMPLIANT"),
        ("math-other-metric", "FAIL", "NO_ALARM_ON_METRIC"),
        ("math-undecidable", "ERROR", "METRIC_MATH_UNDECIDABLE"),
        ("many-alarms", "PASS", "COMPLIANT"),
    ];
    let accounts: Vec<Value> = cases.iter().map(|(setup, _, _)| json!({"name": setup, "setup": setup})).collect();
    let org = emulator.build(json!({"management": {"setup": "compliant"}, "accounts": accounts}));
    let many = org.id("many-alarms").to_owned();
    emulator.set_faults(json!([counter(&many, "monitoring", "DescribeAlarms"), counter(org.id("composite-or"), "monitoring", "DescribeAlarms")]));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 8", "");
    let config = config.to_str().unwrap();
    let output = emulator.run(&["scan", "--config", config]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    for (name, status, reason) in cases {
        let (message, _) = finding(&emulator, config, org.id(name));
        assert_eq!(found[org.id(name)], (status.to_owned(), reason.to_owned()), "{name}: {message}");
    }

    // The composite that notifies is in the evidence, with the route from the alarm up.
    let (message, evidence) = finding(&emulator, config, org.id("composite-nested"));
    let composites: Vec<&str> = links_of(&evidence, "composite-alarm").iter().map(|l| l["attributes"]["name"].as_str().unwrap()).collect();
    assert_eq!(composites, vec!["cis-unauthorized-composite", "cis-pager"], "{message}");
    assert!(message.starts_with("Composite alarm \"cis-pager\""), "{message}");
    let (message, evidence) = finding(&emulator, config, org.id("composite-and"));
    assert!(message.contains("other-signal"), "the alarm that holds it back is named: {message}");
    assert_eq!(links_of(&evidence, "composite-alarm").len(), 1, "{evidence}");
    let (_, evidence) = finding(&emulator, config, org.id("composite-suppressed"));
    let notes = evidence["notes"].as_array().map(Vec::as_slice).unwrap_or_default();
    assert!(notes.iter().any(|n| n.as_str().unwrap().contains("ActionsSuppressor")), "{evidence}");
    // The alarm's own settings are read, for fix and tune to keep them.
    let (_, evidence) = finding(&emulator, config, org.id("composite-or"));
    let alarm = links_of(&evidence, "alarm")[0];
    assert_eq!((alarm["attributes"]["period"].as_i64(), alarm["attributes"]["evaluation_periods"].as_i64()), (Some(300), Some(1)), "{alarm}");
    assert_eq!(alarm["attributes"]["treat_missing_data"], "notBreaching", "{alarm}");
    let (message, _) = finding(&emulator, config, org.id("math-undecidable"));
    assert!(message.contains("RATE"), "the form not judged is named: {message}");

    // One DescribeAlarms for an account with a handful of alarms; pages of 100 for 120 more.
    assert_eq!(emulator.fired(org.id("composite-or"), "DescribeAlarms"), 1);
    assert_eq!(emulator.fired(&many, "DescribeAlarms"), 2);
}

/// The emulator's composite alarms and DescribeAlarms, through every client CloudWatch has here
/// (boto3 in JSON, CBOR and query, a hand-signed CBOR request, the AWS CLI): AlarmTypes, paging,
/// ParentsOfAlarmName and ChildrenOfAlarmName, metric-math queries kept whole, and the refusals
/// (tests/emulator/check_alarms.py, which starts an emulator of its own).
#[test]
fn the_emulator_answers_describe_alarms_and_keeps_composite_alarms_as_aws_does() {
    let output = std::process::Command::new(python()).arg(repo_root().join("tests/emulator/check_alarms.py")).output().expect("the test venv's Python");
    assert!(output.status.success(), "{}", describe(&output));
}

#[tokio::test]
async fn the_filters_newer_fields_are_read_and_judged() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "selects-itself", "filter_fields": {"fieldSelectionCriteria": "@aws.account IN [\"{account}\"]"}, "setup": "compliant"},
            {"name": "selects-another", "filter_fields": {"fieldSelectionCriteria": "@aws.account = \"000000000000\""}, "setup": "compliant"},
            {"name": "selects-unknown", "filter_fields": {"fieldSelectionCriteria": "@aws.source = \"x\""}, "setup": "compliant"},
            {"name": "transformed", "filter_fields": {"applyOnTransformedLogs": true}, "setup": "compliant"},
            {"name": "system-dimensions", "filter_fields": {"emitSystemFieldDimensions": ["@aws.account"]}, "setup": "compliant"},
        ],
    }));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 8", "");
    let config = config.to_str().unwrap();
    let output = emulator.run(&["scan", "--config", config]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    for (name, status, reason) in [
        ("selects-itself", "PASS", "COMPLIANT"),
        ("selects-another", "FAIL", "METRIC_FILTER_NEVER_COUNTS"),
        ("selects-unknown", "ERROR", "METRIC_FILTER_UNJUDGED"),
        ("transformed", "ERROR", "METRIC_FILTER_UNJUDGED"),
        // The metric carries @aws.account; the alarm names no dimension, so it watches another.
        ("system-dimensions", "FAIL", "ALARM_CANNOT_FIRE"),
    ] {
        let (message, _) = finding(&emulator, config, org.id(name));
        assert_eq!(found[org.id(name)], (status.to_owned(), reason.to_owned()), "{name}: {message}");
    }
    let (_, evidence) = finding(&emulator, config, org.id("selects-itself"));
    let filter = links_of(&evidence, "metric-filter")[0];
    assert!(filter["attributes"]["field_selection_criteria"].as_str().unwrap().contains(org.id("selects-itself")), "{evidence}");
}
