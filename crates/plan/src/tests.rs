use super::*;
use orgwatch_core::controls::{self, UNAUTHORIZED_API_CALLS};

fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/plans/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(name: &str) -> Report {
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    check(&fixture(name), &[control]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (fixture, status, reason, where it breaks)
#[test]
fn each_fixture_plan_has_the_scans_verdict() {
    let cases: &[(&str, Status, Reason, &[&str])] = &[
        ("seed-chain.json", Status::Pass, Reason::Compliant, &[]),
        ("and-pattern.json", Status::Fail, Reason::NoMatchingMetricFilter, &["aws_cloudwatch_log_metric_filter.unauthorized_api"]),
        ("wrong-namespace.json", Status::Fail, Reason::NoAlarmOnMetric, &["aws_cloudwatch_log_metric_filter.unauthorized_api"]),
        ("topic-without-subscription.json", Status::Fail, Reason::NoConfirmedSubscription, &["aws_sns_topic.security_alerts"]),
        ("single-region-trail.json", Status::Fail, Reason::NoMultiRegionTrail, &["aws_cloudtrail.main"]),
        ("module-topic-same-plan.json", Status::Pass, Reason::Compliant, &[]),
        ("seed-terraform-only.json", Status::Fail, Reason::NoConfirmedSubscription, &["aws_sns_topic.security_alerts"]),
        ("central-topic-outside-plan.json", Status::Error, Reason::NotInPlan, &["aws_cloudwatch_metric_alarm.unauthorized_api"]),
    ];
    for (name, status, reason, at) in cases {
        let report = run(name);
        let checked = &report.checked[0];
        let f = &checked.finding;
        assert_eq!((f.status, f.reason), (*status, *reason), "{name}: {}", f.message);
        assert_eq!(checked.at, *at, "{name}");
        assert_eq!(report.holds(), *status == Status::Pass, "{name}");
    }
}

#[test]
fn a_passing_plan_links_every_resource_of_the_chain_through_references_known_after_apply() {
    let report = run("seed-chain.json");
    let chain: Vec<&str> = report.checked[0].chain.iter().flatten().map(String::as_str).collect();
    assert_eq!(
        chain,
        [
            "aws_cloudtrail.main",
            "aws_cloudwatch_log_group.trail",
            "aws_cloudwatch_log_metric_filter.unauthorized_api",
            "aws_cloudwatch_log_metric_filter.unauthorized_api",
            "aws_cloudwatch_metric_alarm.unauthorized_api",
            "aws_sns_topic.security_alerts",
            "aws_sns_topic_subscription.security_email",
        ]
    );
    assert!(report.not_in_plan.is_empty(), "{:?}", report.not_in_plan);
    let notes = &report.checked[0].finding.evidence.notes;
    assert!(notes.iter().any(|n| n.contains("aws_sns_topic_subscription.security_email is confirmed by its recipient after apply")), "{notes:?}");
}

#[test]
fn an_alarm_on_another_namespace_is_named() {
    let report = run("wrong-namespace.json");
    let notes = &report.checked[0].finding.evidence.notes;
    assert_eq!(notes, &["aws_cloudwatch_metric_alarm.unauthorized_api watches Security/UnauthorizedAPICalls, not CISBenchmark/UnauthorizedAPICalls"]);
}

#[test]
fn a_topic_reached_through_a_module_output_is_the_modules_topic() {
    let report = run("module-topic-same-plan.json");
    let chain = &report.checked[0].chain;
    assert!(chain.iter().flatten().any(|a| a == "module.alerts.aws_sns_topic.this"), "{chain:?}");
    assert!(chain.iter().flatten().any(|a| a == "module.alerts.aws_sns_topic_subscription.pager"), "{chain:?}");
    // An https endpoint that confirms itself needs no reminder.
    assert!(report.checked[0].finding.evidence.notes.is_empty(), "{:?}", report.checked[0].finding.evidence.notes);
}

#[test]
fn what_the_plan_cannot_see_is_said_and_never_passes() {
    let report = run("central-topic-outside-plan.json");
    let f = &report.checked[0].finding;
    assert!(f.message.contains("arn:aws:sns:us-east-1:444455556666:central-security-alerts"), "{}", f.message);
    assert_eq!(report.not_in_plan, ["topic arn:aws:sns:us-east-1:444455556666:central-security-alerts is no aws_sns_topic of the plan, so whether it exists and who subscribes to it cannot be seen"]);
    // The existing trail and log group are read from the plan's known values.
    assert_eq!(report.checked[0].chain.first().cloned().flatten().as_deref(), Some("aws_cloudtrail.main"));

    let report = run("seed-terraform-only.json");
    assert_eq!(report.not_in_plan.first().map(String::as_str), Some("the plan manages no aws_cloudtrail, and a trail outside it cannot be seen"));
    let notes = &report.checked[0].finding.evidence.notes;
    assert!(notes.iter().any(|n| n.contains("as if a trail outside the plan delivered to it")), "{notes:?}");
    assert!(report.checked[0].finding.evidence.links.iter().all(|l| l.kind != LinkKind::Trail));
}

#[test]
fn a_plan_without_a_trail_whose_chain_holds_is_not_in_plan_rather_than_a_pass() {
    // The seed's Terraform with the subscription its step 1 makes by hand.
    let mut plan: Value = serde_json::from_str(&fixture("seed-terraform-only.json")).unwrap();
    let subscription: Value = serde_json::from_str(&fixture("seed-chain.json")).unwrap();
    let pick = |doc: &Value, pointer: &str| doc.pointer(pointer).and_then(Value::as_array).unwrap().iter().find(|r| r["type"] == "aws_sns_topic_subscription").cloned().unwrap();
    for pointer in ["/planned_values/root_module/resources", "/configuration/root_module/resources", "/resource_changes"] {
        let entry = pick(&subscription, pointer);
        plan.pointer_mut(pointer).and_then(Value::as_array_mut).unwrap().push(entry);
    }
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    let report = check(&plan.to_string(), &[control]).unwrap();
    let f = &report.checked[0].finding;
    assert_eq!((f.status, f.reason), (Status::Error, Reason::NotInPlan), "{}", f.message);
    assert!(f.message.contains("log group CloudTrail/DefaultLogGroup cannot be seen. The rest of the chain holds"), "{}", f.message);
    assert!(!report.holds());
}

#[test]
fn every_control_asked_for_is_judged() {
    let all: Vec<&Control> = controls::all().iter().collect();
    let report = check(&fixture("seed-chain.json"), &all).unwrap();
    assert_eq!(report.checked.len(), all.len());
    assert_eq!(report.checked[0].finding.status, Status::Pass);
    // The plan has no filter for root-account usage: its chain breaks at the metric filter.
    let root = report.checked.iter().find(|c| c.finding.control_id == "root-account-usage").unwrap();
    assert_eq!(root.finding.reason, Reason::NoMatchingMetricFilter, "{}", root.finding.message);
    assert!(!report.holds());
}

#[test]
fn sarif_results_name_the_reason_rule_and_the_resource() {
    let text = fixture("and-pattern.json");
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    let report = check(&text, &[control]).unwrap();
    let log = sarif::render(&report, "plans/and-pattern.json", &text, "0.1.0");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "NO_MATCHING_METRIC_FILTER");
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "NO_MATCHING_METRIC_FILTER");
    assert_eq!(result["level"], "error");
    let location = &result["locations"][0];
    assert_eq!(location["logicalLocations"][0]["fullyQualifiedName"], "aws_cloudwatch_log_metric_filter.unauthorized_api");
    assert_eq!(location["physicalLocation"]["artifactLocation"]["uri"], "plans/and-pattern.json");
    let line = location["physicalLocation"]["region"]["startLine"].as_u64().unwrap() as usize;
    assert!(text.lines().nth(line - 1).unwrap().contains("\"aws_cloudwatch_log_metric_filter.unauthorized_api\""));

    let passing = check(&fixture("seed-chain.json"), &[control]).unwrap();
    assert_eq!(sarif::render(&passing, "p.json", "", "0.1.0")["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn hostile_plans_are_judged_or_refused_without_panicking() {
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    for text in [
        r#"{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"aws_cloudtrail.x","mode":"managed","type":"aws_cloudtrail","values":null}]}}}"#,
        r#"{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"aws_sns_topic.t","mode":"managed","type":"aws_sns_topic","values":{}}]}},"configuration":{"root_module":{"resources":[{"address":"aws_sns_topic.t","expressions":{"name":{"references":["aws_sns_topic.t.name"]}}}]}}}"#,
        r#"{"format_version":"1.2","planned_values":{"root_module":{"child_modules":[{"address":"module.a[\"x.y\"]","resources":[]}]}},"resource_changes":[{"address":"aws_sns_topic.gone","mode":"managed","change":{"actions":["delete"]}}]}"#,
    ] {
        let report = check(text, &[control]).unwrap();
        assert!(!report.holds());
    }
    let deleted = check(r#"{"format_version":"1.2","planned_values":{},"resource_changes":[{"address":"aws_sns_topic.gone","mode":"managed","change":{"actions":["delete"]}}]}"#, &[control]).unwrap();
    assert_eq!(deleted.deleted, ["aws_sns_topic.gone"]);
}
