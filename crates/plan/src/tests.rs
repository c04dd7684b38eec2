use super::*;
use orgwatch_core::controls::{self, UNAUTHORIZED_API_CALLS};
use serde_json::json;

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
        ("central-topic-default-policy.json", Status::Fail, Reason::SnsTopicPolicyDeniesPublish, &["aws_sns_topic.central"]),
        // Without --organization-id a statement on aws:SourceOrgID cannot be judged.
        ("central-topic-org-policy.json", Status::Error, Reason::PolicyUndecidable, &["aws_sns_topic_policy.central"]),
        ("topic-policy-after-apply.json", Status::Error, Reason::NotInPlan, &["aws_sns_topic.central"]),
        ("cmk-without-cloudwatch.json", Status::Fail, Reason::SnsTopicUnpublishable, &["aws_kms_key.alerts"]),
        // The alarm keeps no actions; a composite above it notifies.
        ("composite-over-alarm.json", Status::Pass, Reason::Compliant, &[]),
        ("composite-and.json", Status::Fail, Reason::AlarmCannotFire, &["aws_cloudwatch_composite_alarm.pager"]),
        ("metric-math-fill.json", Status::Pass, Reason::Compliant, &[]),
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

const ORGANIZATION: &str = "o-a1b2c3d4e5";

fn with_organization(text: &str) -> Report {
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    check_with(text, &[control], &Options { organization_id: Some(ORGANIZATION) }).unwrap()
}

/// A fixture with its JSON changed by `edit`.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut plan: Value = serde_json::from_str(&fixture(name)).unwrap();
    edit(&mut plan);
    plan.to_string()
}

/// The planned values, change and configuration of one resource.
fn parts<'v>(plan: &'v mut Value, address: &str) -> [&'v mut Value; 3] {
    let Value::Object(top) = plan else { panic!("a plan") };
    let mut planned = None;
    let mut change = None;
    let mut config = None;
    for (key, value) in top.iter_mut() {
        let list = match key.as_str() {
            "planned_values" => value.pointer_mut("/root_module/resources"),
            "resource_changes" => Some(value),
            "configuration" => value.pointer_mut("/root_module/resources"),
            _ => None,
        };
        let Some(found) = list.and_then(Value::as_array_mut).and_then(|l| l.iter_mut().find(|r| r["address"] == address)) else { continue };
        match key.as_str() {
            "planned_values" => planned = Some(found),
            "resource_changes" => change = Some(found),
            _ => config = Some(found),
        }
    }
    [planned.expect("planned"), change.expect("change"), config.expect("configuration")]
}

fn verdict(report: &Report) -> (Status, Reason) {
    let f = &report.checked[0].finding;
    (f.status, f.reason)
}

#[test]
fn a_central_topic_whose_policy_admits_the_organization_holds_with_its_id() {
    let report = with_organization(&fixture("central-topic-org-policy.json"));
    assert_eq!(verdict(&report), (Status::Pass, Reason::Compliant), "{}", report.checked[0].finding.message);
    let chain: Vec<&str> = report.checked[0].chain.iter().flatten().map(String::as_str).collect();
    assert!(chain.ends_with(&["aws_sns_topic.central", "aws_sns_topic_subscription.security_queue", "aws_sns_topic_policy.central"]), "{chain:?}");
    // The topic lives in the account of the provider it is made with.
    let topic = report.checked[0].finding.evidence.links.iter().find(|l| l.kind == LinkKind::Topic).unwrap();
    assert_eq!(topic.id, "arn:aws:sns:us-east-1:444455556666:central-security-alerts");
    assert_eq!(topic.account_id.as_deref(), Some("444455556666"));

    // Without the id the statement is undecidable, and it is named.
    let report = run("central-topic-org-policy.json");
    assert!(report.checked[0].finding.message.contains("AllowOrganizationAlarms"), "{}", report.checked[0].finding.message);
    // Another organization's id: refused.
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    let other = check_with(&fixture("central-topic-org-policy.json"), &[control], &Options { organization_id: Some("o-zzzzzzzzzz") }).unwrap();
    assert_eq!(verdict(&other), (Status::Fail, Reason::SnsTopicPolicyDeniesPublish));
}

#[test]
fn a_central_topic_left_with_snss_default_refuses_another_accounts_alarm() {
    let report = with_organization(&fixture("central-topic-default-policy.json"));
    let f = &report.checked[0].finding;
    assert_eq!((f.status, f.reason), (Status::Fail, Reason::SnsTopicPolicyDeniesPublish), "{}", f.message);
    assert!(f.message.contains("SNS's default statement admits only alarms of the topic's own account 444455556666"), "{}", f.message);
    let policy = f.evidence.links.last().and_then(|l| l.attribute("policy")).unwrap();
    assert!(policy.contains("__default_statement_ID"), "the evidence carries SNS's default policy: {policy}");
    assert!(report.not_in_plan.is_empty(), "{:?}", report.not_in_plan);
}

#[test]
fn a_policy_known_only_after_apply_is_not_in_the_plan() {
    let report = with_organization(&fixture("topic-policy-after-apply.json"));
    assert_eq!(verdict(&report), (Status::Error, Reason::NotInPlan));
    assert_eq!(
        report.not_in_plan,
        ["the access policy of topic arn:aws:sns:us-east-1:444455556666:central-security-alerts (aws_sns_topic_policy.central) is known only after apply, so whether it lets CloudWatch publish cannot be seen"]
    );
    assert!(!report.holds());
}

#[test]
fn a_planned_key_is_judged_by_its_state_and_its_policy() {
    let report = run("cmk-without-cloudwatch.json");
    let f = &report.checked[0].finding;
    assert_eq!((f.status, f.reason), (Status::Fail, Reason::SnsTopicUnpublishable), "{}", f.message);
    let kinds: Vec<LinkKind> = f.evidence.links.iter().rev().take(3).map(|l| l.kind).collect();
    assert_eq!(kinds, [LinkKind::KeyPolicy, LinkKind::KmsKey, LinkKind::TopicPolicy], "the topic names the key by alias, resolved to the planned key");
    assert_eq!(f.evidence.links.iter().find(|l| l.kind == LinkKind::KmsKey).and_then(|l| l.attribute("manager")), Some("CUSTOMER"));

    let cloudwatch = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Sid":"CloudWatch","Effect":"Allow","Principal":{"Service":"cloudwatch.amazonaws.com"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}]}"#;
    let granting = edited("cmk-without-cloudwatch.json", |plan| {
        let [planned, change, config] = parts(plan, "aws_kms_key.alerts");
        planned["values"]["policy"] = cloudwatch.into();
        change["change"]["after"]["policy"] = cloudwatch.into();
        config["expressions"]["policy"] = json!({"constant_value": cloudwatch});
    });
    assert_eq!(verdict(&run_text(&granting)), (Status::Pass, Reason::Compliant));

    // is_enabled = false: the key is Disabled.
    let disabled = edit_text(&granting, |plan| {
        let [planned, _, _] = parts(plan, "aws_kms_key.alerts");
        planned["values"]["is_enabled"] = false.into();
    });
    let report = run_text(&disabled);
    assert_eq!(verdict(&report), (Status::Fail, Reason::SnsTopicUnpublishable));
    assert!(report.checked[0].finding.message.contains("whose state is Disabled"), "{}", report.checked[0].finding.message);

    // An aws_kms_key_policy outweighs the key's own policy argument, and is where a finding points.
    let attached = edit_text(&fixture("cmk-without-cloudwatch.json"), |plan| attach_key_policy(plan, Some(cloudwatch)));
    assert_eq!(verdict(&run_text(&attached)), (Status::Pass, Reason::Compliant));
    let attached = edit_text(&granting, |plan| attach_key_policy(plan, Some(r#"{"Version":"2012-10-17","Statement":[]}"#)));
    let report = run_text(&attached);
    assert_eq!(verdict(&report), (Status::Fail, Reason::SnsTopicUnpublishable));
    assert_eq!(report.checked[0].at, ["aws_kms_key_policy.alerts"]);
    // … and known only after apply, it is not in the plan.
    let after_apply = edit_text(&granting, |plan| attach_key_policy(plan, None));
    let report = run_text(&after_apply);
    assert_eq!(verdict(&report), (Status::Error, Reason::NotInPlan));
    assert!(report.not_in_plan[0].contains("(aws_kms_key_policy.alerts) is known only after apply"), "{:?}", report.not_in_plan);

    // A key with no policy at all has KMS's default, which serves no service principal.
    let no_policy = edit_text(&fixture("cmk-without-cloudwatch.json"), |plan| {
        let [planned, change, config] = parts(plan, "aws_kms_key.alerts");
        planned["values"].as_object_mut().unwrap().remove("policy");
        change["change"]["after"].as_object_mut().unwrap().remove("policy");
        change["change"]["after_unknown"]["policy"] = true.into();
        config["expressions"].as_object_mut().unwrap().remove("policy");
    });
    let report = run_text(&no_policy);
    assert_eq!(verdict(&report), (Status::Fail, Reason::SnsTopicUnpublishable));
    let policy = report.checked[0].finding.evidence.links.last().and_then(|l| l.attribute("policy")).unwrap();
    assert!(policy.contains("Enable IAM User Permissions"), "{policy}");
}

#[test]
fn a_key_outside_the_plan_is_not_in_the_plan() {
    let outside = "arn:aws:kms:us-east-1:111122223333:key/4f1c2d3e-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
    let text = edited("cmk-without-cloudwatch.json", |plan| {
        let [planned, change, config] = parts(plan, "aws_sns_topic.security_alerts");
        planned["values"]["kms_master_key_id"] = outside.into();
        change["change"]["after"]["kms_master_key_id"] = outside.into();
        config["expressions"]["kms_master_key_id"] = json!({"constant_value": outside});
    });
    let report = run_text(&text);
    assert_eq!(verdict(&report), (Status::Error, Reason::NotInPlan), "{}", report.checked[0].finding.message);
    assert!(report.not_in_plan.iter().any(|n| n.starts_with(&format!("key {outside} is no aws_kms_key of the plan"))), "{:?}", report.not_in_plan);
}

#[test]
fn an_existing_alarms_history_is_said_to_be_outside_the_plan() {
    let text = edited("seed-chain.json", |plan| {
        let [planned, change, _] = parts(plan, "aws_cloudwatch_metric_alarm.unauthorized_api");
        planned["values"]["arn"] = "arn:aws:cloudwatch:us-east-1:111122223333:alarm:CIS-3.1-UnauthorizedAPICalls".into();
        change["change"]["actions"] = json!(["update"]);
    });
    let report = run_text(&text);
    assert_eq!(verdict(&report), (Status::Pass, Reason::Compliant), "{}", report.checked[0].finding.message);
    let notes = &report.checked[0].finding.evidence.notes;
    assert!(notes.iter().any(|n| n.starts_with("aws_cloudwatch_metric_alarm.unauthorized_api exists already: what CloudWatch recorded of its notifications is not in the plan")), "{notes:?}");
    // A new alarm has no history: nothing to say.
    assert!(!run("seed-chain.json").checked[0].finding.evidence.notes.iter().any(|n| n.contains("exists already")));
}

#[test]
fn organization_ids_are_checked_for_their_shape() {
    assert!(is_organization_id("o-a1b2c3d4e5"));
    assert!(!is_organization_id("o-short") && !is_organization_id("a1b2c3d4e5f6") && !is_organization_id("o-A1B2C3D4E5"));
}

fn run_text(text: &str) -> Report {
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    check(text, &[control]).unwrap()
}

fn edit_text(text: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut plan: Value = serde_json::from_str(text).unwrap();
    edit(&mut plan);
    plan.to_string()
}

/// An `aws_kms_key_policy` on the planned key: this policy, or one known only after apply.
fn attach_key_policy(plan: &mut Value, policy: Option<&str>) {
    let values = match policy {
        Some(text) => json!({"policy": text, "bypass_policy_lockout_safety_check": false}),
        None => json!({"bypass_policy_lockout_safety_check": false}),
    };
    let unknown = if policy.is_some() { json!({"id": true, "key_id": true}) } else { json!({"id": true, "key_id": true, "policy": true}) };
    let expression = match policy {
        Some(text) => json!({"constant_value": text}),
        None => json!({"references": ["aws_kms_key.alerts.arn", "aws_kms_key.alerts"]}),
    };
    let provider = "registry.terraform.io/hashicorp/aws";
    let push = |pointer: &str, entry: Value, plan: &mut Value| plan.pointer_mut(pointer).and_then(Value::as_array_mut).unwrap().push(entry);
    push("/planned_values/root_module/resources", json!({"address": "aws_kms_key_policy.alerts", "mode": "managed", "type": "aws_kms_key_policy", "name": "alerts", "provider_name": provider, "schema_version": 0, "values": values.clone(), "sensitive_values": {}}), plan);
    push("/resource_changes", json!({"address": "aws_kms_key_policy.alerts", "mode": "managed", "type": "aws_kms_key_policy", "name": "alerts", "provider_name": provider,
        "change": {"actions": ["create"], "before": null, "after": values, "after_unknown": unknown, "before_sensitive": false, "after_sensitive": {}}}), plan);
    push("/configuration/root_module/resources", json!({"address": "aws_kms_key_policy.alerts", "mode": "managed", "type": "aws_kms_key_policy", "name": "alerts", "provider_config_key": "aws",
        "expressions": {"key_id": {"references": ["aws_kms_key.alerts.id", "aws_kms_key.alerts"]}, "policy": expression}, "schema_version": 0}), plan);
}
