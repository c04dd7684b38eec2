//! Every kind of alarm: metric-math alarms judged by the expression that returns data,
//! composite alarms above the alarm on the metric, the metric filter's newer fields, and the
//! alarm history read once per account.

use super::*;

const CHILD: &str = "CIS-3.1-UnauthorizedAPICalls";

fn alarm_arn(name: &str) -> String {
    format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}")
}

fn composite(name: &str, rule: &str, actions: &[&str]) -> CompositeAlarm {
    CompositeAlarm {
        name: name.into(),
        arn: alarm_arn(name),
        rule: rule.into(),
        actions_enabled: true,
        alarm_actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        actions_suppressor: None,
    }
}

/// The compliant account whose alarm on the metric notifies nothing itself, with the
/// composites given and an unrelated alarm `other-signal`.
fn behind_composites(composites: Vec<CompositeAlarm>) -> AccountFacts {
    let mut facts = compliant(ACCOUNT);
    the_alarm(&mut facts).alarm_actions.clear();
    let other = Alarm { name: "other-signal".into(), arn: alarm_arn("other-signal"), metric_name: Some("OtherSignal".into()), namespace: Some("Synthetic".into()), alarm_actions: vec![], ..alarm(ACCOUNT) };
    facts.alarms.insert(MetricRef { name: "OtherSignal".into(), namespace: "Synthetic".into(), ..metric(ACCOUNT) }, Ok(vec![other]));
    facts.composites = composites;
    facts
}

/// The compliant account whose alarm is a metric-math alarm with these queries.
fn with_math(queries: Vec<MetricQuery>) -> AccountFacts {
    let mut facts = compliant(ACCOUNT);
    let alarm = the_alarm(&mut facts);
    alarm.namespace = None;
    alarm.metric_name = None;
    alarm.statistic = None;
    alarm.metrics = queries;
    facts
}

fn stat(id: &str, namespace: &str, name: &str, statistic: &str, returns: bool) -> MetricQuery {
    MetricQuery {
        id: id.into(),
        metric: Some(MetricStat { namespace: namespace.into(), metric_name: name.into(), dimensions: vec![], stat: statistic.into() }),
        expression: None,
        return_data: returns,
        account_id: None,
    }
}

fn on_metric(id: &str, statistic: &str) -> MetricQuery {
    stat(id, "CISBenchmark", "UnauthorizedAPICalls", statistic, false)
}

fn expression(id: &str, text: &str) -> MetricQuery {
    MetricQuery { id: id.into(), metric: None, expression: Some(text.into()), return_data: true, account_id: None }
}

#[test]
fn composite_alarms_notify_for_the_alarm_below_them_when_their_rule_fires_with_it_alone() {
    let topic = topic_arn(ACCOUNT);
    let or_rule = format!("ALARM(\"{CHILD}\") OR ALARM(\"other-signal\")");
    type Case = (&'static str, AccountFacts, Reason);
    let cases: Vec<Case> = vec![
        ("OR with another alarm", behind_composites(vec![composite("pager", &or_rule, &[&topic])]), Reason::Compliant),
        ("the child by ARN", behind_composites(vec![composite("pager", &format!("ALARM({})", alarm_arn(CHILD)), &[&topic])]), Reason::Compliant),
        (
            "nested: the inner composite notifies nothing, the outer one by ARN does",
            behind_composites(vec![composite("inner", &or_rule, &[]), composite("outer", &format!("ALARM(\"{}\")", alarm_arn("inner")), &[&topic])]),
            Reason::Compliant,
        ),
        (
            "nested, the outer one also naming the child",
            behind_composites(vec![composite("outer", &format!("ALARM(inner) AND ALARM(\"{CHILD}\")"), &[&topic]), composite("inner", &or_rule, &[])]),
            Reason::Compliant,
        ),
        ("AND with another alarm does not fire on a burst alone", behind_composites(vec![composite("pager", &format!("ALARM(\"{CHILD}\") AND ALARM(\"other-signal\")"), &[&topic])]), Reason::AlarmCannotFire),
        ("NOT of the child's ALARM never fires with it", behind_composites(vec![composite("pager", &format!("NOT ALARM(\"{CHILD}\")"), &[&topic])]), Reason::AlarmCannotFire),
        ("a composite that fires but notifies nothing", behind_composites(vec![composite("pager", &or_rule, &[])]), Reason::NoAlarmNotification),
        ("a composite that notifies through EC2 only", behind_composites(vec![composite("pager", &or_rule, &["arn:aws:automate:us-east-1:ec2:stop"])]), Reason::NoAlarmNotification),
        ("a composite with its actions disabled", behind_composites(vec![CompositeAlarm { actions_enabled: false, ..composite("pager", &or_rule, &[&topic]) }]), Reason::AlarmActionsDisabled),
        (
            "AND and OR without parentheses: CloudWatch documents no precedence",
            behind_composites(vec![composite("pager", &format!("ALARM(\"{CHILD}\") OR ALARM(\"other-signal\") AND FALSE"), &[&topic])]),
            Reason::AlarmRuleUndecidable,
        ),
        ("a rule orgwatch cannot read that names the child", behind_composites(vec![composite("pager", &format!("ALARM(\"{CHILD}\") XOR TRUE"), &[&topic])]), Reason::AlarmRuleUndecidable),
        ("a composite on other alarms only", behind_composites(vec![composite("pager", "ALARM(\"other-signal\")", &[&topic])]), Reason::NoAlarmNotification),
        (
            "a composite notifying a topic that does not exist",
            {
                let gone = format!("arn:aws:sns:{REGION}:{ACCOUNT}:gone");
                let mut f = behind_composites(vec![composite("pager", &or_rule, &[&gone])]);
                f.topics.insert(gone, Ok(Topic::NotFound));
                f
            },
            Reason::SnsTopicNotFound,
        ),
        (
            "the child with its actions disabled still moves the composite",
            {
                let mut f = behind_composites(vec![composite("pager", &or_rule, &[&topic])]);
                the_alarm(&mut f).actions_enabled = false;
                f
            },
            Reason::Compliant,
        ),
        (
            "a child that cannot fire moves no composite",
            {
                let mut f = behind_composites(vec![composite("pager", &or_rule, &[&topic])]);
                the_alarm(&mut f).comparison_operator = Some("LessThanThreshold".into());
                f
            },
            Reason::AlarmCannotFire,
        ),
    ];
    for (what, facts, reason) in cases {
        let finding = judge(facts);
        assert_eq!(finding.reason, reason, "{what}: {}", finding.message);
        // Every composite that watches the alarm is in the evidence of the path it decided.
        if !what.contains("other alarms only") && !what.contains("cannot fire") {
            assert!(finding.evidence.links.iter().any(|l| l.kind == LinkKind::CompositeAlarm), "{what}: the composite is in the evidence: {:?}", finding.evidence.links);
        }
    }
}

#[test]
fn the_composite_that_notifies_is_the_publisher_and_its_history_is_read() {
    let topic = topic_arn(ACCOUNT);
    let mut facts = behind_composites(vec![composite("inner", &format!("ALARM(\"{CHILD}\") OR ALARM(\"other-signal\")"), &[]), composite("outer", "ALARM(inner)", &[&topic])]);
    // A topic policy admitting only the outer composite's ARN as the publisher.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "OuterOnly", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic,
            "Condition": {"ArnEquals": {"aws:SourceArn": alarm_arn("outer")}}}]
    });
    set_topic_policy(&mut facts, &policy.to_string());
    let mut failed = notification(9, "Failed", &topic);
    failed.alarm_name = "outer".into();
    facts.histories.insert("outer".into(), Ok(vec![failed]));
    let finding = judge(facts.clone());
    assert_eq!(finding.reason, Reason::AlarmActionFailed, "{}", finding.message);
    assert!(finding.message.starts_with("Composite alarm \"outer\""), "{}", finding.message);
    let kinds: Vec<(LinkKind, &str)> = finding.evidence.links.iter().map(|l| (l.kind, l.id.as_str())).collect();
    let composites: Vec<&str> = kinds.iter().filter(|(k, _)| *k == LinkKind::CompositeAlarm).map(|(_, id)| *id).collect();
    assert_eq!(composites, vec![alarm_arn("inner"), alarm_arn("outer")], "the route from the child up");
    assert_eq!(finding.evidence.links.last().map(|l| l.kind), Some(LinkKind::AlarmHistory));

    // Its latest notification succeeded: the chain holds.
    facts.histories.insert("outer".into(), Ok(vec![]));
    assert_eq!(judge(facts.clone()).reason, Reason::Compliant);
    // The inner composite is not the publisher the policy admits.
    let composites = vec![composite("inner", &format!("ALARM(\"{CHILD}\") OR ALARM(\"other-signal\")"), &[&topic])];
    facts.composites = composites;
    assert_eq!(judge(facts).reason, Reason::SnsTopicPolicyDeniesPublish);
}

#[test]
fn a_composites_actions_suppressor_is_noted() {
    let topic = topic_arn(ACCOUNT);
    let pager = CompositeAlarm { actions_suppressor: Some("maintenance-window".into()), ..composite("pager", &format!("ALARM(\"{CHILD}\") OR ALARM(\"other-signal\")"), &[&topic]) };
    let finding = judge(behind_composites(vec![pager]));
    assert_eq!(finding.reason, Reason::Compliant, "{}", finding.message);
    assert!(finding.evidence.notes.iter().any(|n| n.contains("maintenance-window") && n.contains("ActionsSuppressor")), "{:?}", finding.evidence.notes);
}

#[test]
fn metric_math_alarms_are_judged_by_the_expression_that_returns_data() {
    type Case = (&'static str, Vec<MetricQuery>, Option<(&'static str, f64)>, Reason);
    let other = |id: &str| stat(id, "Synthetic", "OtherSignal", "Sum", false);
    let cases: Vec<Case> = vec![
        ("FILL(m1, 0)", vec![on_metric("m1", "Sum"), expression("e1", "FILL(m1, 0)")], None, Reason::Compliant),
        ("the metric itself, returned", vec![MetricQuery { return_data: true, ..on_metric("m1", "Sum") }], None, Reason::Compliant),
        ("a positive constant times it", vec![on_metric("m1", "Sum"), expression("e1", "2 * m1")], None, Reason::Compliant),
        ("SUM of a list with another metric, doubled", vec![on_metric("m1", "Sum"), other("m2"), expression("e1", "SUM([m1, m2]) * 2")], None, Reason::Compliant),
        ("MAX of a list", vec![on_metric("m1", "Sum"), other("m2"), expression("e1", "MAX([m1, m2])")], None, Reason::Compliant),
        ("a comparison against the threshold", vec![on_metric("m1", "Sum"), expression("e1", "m1 > 0")], Some(("GreaterThanOrEqualToThreshold", 1.0)), Reason::Compliant),
        ("a comparison that stays below the threshold", vec![on_metric("m1", "Sum"), expression("e1", "m1 > 0")], Some(("GreaterThanThreshold", 1.0)), Reason::AlarmCannotFire),
        ("through a second expression", vec![on_metric("m1", "Sum"), MetricQuery { return_data: false, ..expression("e1", "FILL(m1, 0)") }, expression("e2", "e1 * 60")], None, Reason::Compliant),
        ("on another metric only", vec![on_metric("m1", "Sum"), other("m2"), expression("e1", "FILL(m2, 0)")], None, Reason::NoAlarmOnMetric),
        ("an Average that never reaches 5", vec![on_metric("m1", "Average"), expression("e1", "FILL(m1, 0)")], Some(("GreaterThanOrEqualToThreshold", 5.0)), Reason::AlarmCannotFire),
        ("LessThan on a rising count", vec![on_metric("m1", "Sum"), expression("e1", "FILL(m1, 0)")], Some(("LessThanThreshold", 1.0)), Reason::AlarmCannotFire),
        ("RATE is not judged", vec![on_metric("m1", "Sum"), expression("e1", "RATE(m1)")], None, Reason::MetricMathUndecidable),
        ("the count subtracted", vec![on_metric("m1", "Sum"), other("m2"), expression("e1", "m2 - m1")], None, Reason::MetricMathUndecidable),
        ("an expression orgwatch cannot read", vec![on_metric("m1", "Sum"), expression("e1", "FILL(m1, ")], None, Reason::MetricMathUndecidable),
        ("two queries return data", vec![MetricQuery { return_data: true, ..on_metric("m1", "Sum") }, expression("e1", "FILL(m1, 0)")], None, Reason::MetricMathUndecidable),
        ("an id no query defines", vec![on_metric("m1", "Sum"), expression("e1", "FILL(m9, 0)")], None, Reason::MetricMathUndecidable),
        ("the metric read in another account", vec![MetricQuery { account_id: Some(SECURITY.into()), ..on_metric("m1", "Sum") }, expression("e1", "FILL(m1, 0)")], None, Reason::NoAlarmOnMetric),
    ];
    for (what, queries, comparison, reason) in cases {
        let mut facts = with_math(queries);
        if let Some((operator, threshold)) = comparison {
            the_alarm(&mut facts).comparison_operator = Some(operator.into());
            the_alarm(&mut facts).threshold = Some(threshold);
        }
        let finding = judge(facts);
        assert_eq!(finding.reason, reason, "{what}: {}", finding.message);
        if reason == Reason::MetricMathUndecidable {
            assert_eq!(finding.status, Status::Error, "{what}");
        }
    }
}

#[test]
fn the_filters_newer_fields_are_judged_as_cloudwatch_applies_them_or_said_not_judged() {
    type Case = (&'static str, fn(&mut AccountFacts), Reason);
    let cases: Vec<Case> = vec![
        ("applied on transformed logs", |f| the_filter(f).apply_on_transformed_logs = true, Reason::MetricFilterUnjudged),
        ("a filter on transformed logs whose pattern misses raw records", |f| {
            the_filter(f).apply_on_transformed_logs = true;
            the_filter(f).pattern = "{ $.eventName = HeadBucket }".into();
        }, Reason::MetricFilterUnjudged),
        ("field selection criteria that select the account", |f| the_filter(f).field_selection_criteria = Some("@aws.account IN [\"111122223333\", \"444455556666\"]".into()), Reason::Compliant),
        ("field selection criteria of another account", |f| the_filter(f).field_selection_criteria = Some("@aws.account = \"444455556666\"".into()), Reason::MetricFilterNeverCounts),
        ("field selection criteria of another region", |f| the_filter(f).field_selection_criteria = Some("@aws.region = \"eu-west-1\" OR @aws.account NOT IN [\"111122223333\"]".into()), Reason::MetricFilterNeverCounts),
        ("field selection criteria on a field orgwatch does not know", |f| the_filter(f).field_selection_criteria = Some("@aws.source = \"x\"".into()), Reason::MetricFilterUnjudged),
        ("field selection criteria orgwatch cannot read", |f| the_filter(f).field_selection_criteria = Some("@aws.account LIKE \"1111%\"".into()), Reason::MetricFilterUnjudged),
        ("system dimensions the alarm does not name", |f| the_filter(f).system_dimensions = vec!["@aws.account".into()], Reason::AlarmCannotFire),
        ("system dimensions the alarm names with the log group's account", |f| {
            the_filter(f).system_dimensions = vec!["@aws.account".into(), "@aws.region".into()];
            the_alarm(f).dimensions = vec![Dimension { name: "@aws.account".into(), value: ACCOUNT.into() }, Dimension { name: "@aws.region".into(), value: REGION.into() }];
        }, Reason::Compliant),
        ("a system dimension pinned to another account", |f| {
            the_filter(f).system_dimensions = vec!["@aws.account".into()];
            the_alarm(f).dimensions = vec![Dimension { name: "@aws.account".into(), value: SECURITY.into() }];
        }, Reason::MetricFilterUnjudged),
        ("dimensions by name", |f| {
            the_filter(f).transformations[0].dimensions = vec!["EventSource".into()];
            the_alarm(f).dimensions = vec![Dimension { name: "EventSource".into(), value: "ec2.amazonaws.com".into() }];
        }, Reason::Compliant),
        ("other dimensions than the filter's", |f| {
            the_filter(f).transformations[0].dimensions = vec!["EventSource".into()];
            the_alarm(f).dimensions = vec![Dimension { name: "UserName".into(), value: "root".into() }];
        }, Reason::AlarmCannotFire),
    ];
    for (what, mutate, reason) in cases {
        let mut facts = compliant(ACCOUNT);
        mutate(&mut facts);
        let finding = judge(facts);
        assert_eq!(finding.reason, reason, "{what}: {}", finding.message);
    }
}

#[test]
fn the_accounts_history_page_is_read_once_and_an_alarms_own_only_when_that_page_cannot_tell() {
    // The account's newest page answers for every alarm of the family.
    let family: Vec<&Control> = controls::all().iter().collect();
    let driven = drive(&[compliant_family(ACCOUNT)], ACCOUNT, &family, &[]);
    let histories: Vec<&Request> = driven.rounds.iter().flatten().map(|n| &n.request).filter(|r| matches!(r, Request::AlarmHistory { .. })).collect();
    assert_eq!(histories, vec![&Request::AlarmHistory { account_id: ACCOUNT.into(), region: REGION.into(), alarm_name: None, every_kind: false }]);

    // A full page without the alarm's notification: its own history is read, and judged.
    let mut facts = compliant(ACCOUNT);
    facts.history_truncated = true;
    set_history(&mut facts, vec![notification(10, "Failed", &topic_arn(ACCOUNT))]);
    let driven = drive(&[facts], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert_eq!(driven.findings[0].reason, Reason::AlarmActionFailed, "{}", driven.findings[0].message);
    let histories: Vec<Option<String>> = driven
        .rounds
        .iter()
        .flatten()
        .filter_map(|n| if let Request::AlarmHistory { alarm_name, .. } = &n.request { Some(alarm_name.clone()) } else { None })
        .collect();
    assert_eq!(histories, vec![None, Some(CHILD.to_owned())]);
}

#[test]
fn system_field_dimensions_of_an_organization_trails_log_group_are_not_judged() {
    let mut management = management_with_org_trail();
    let filters = management.metric_filters.get_mut(&log_group(MANAGEMENT)).unwrap().as_mut().unwrap();
    filters[0].system_dimensions = vec!["@aws.account".into()];
    let alarm = &mut management.alarms.get_mut(&metric(MANAGEMENT)).unwrap().as_mut().unwrap()[0];
    alarm.dimensions = vec![Dimension { name: "@aws.account".into(), value: MANAGEMENT.into() }];
    // The member's events reach the management account's log group: which account they carry
    // is not known, whatever the alarm names.
    let finding = judge_with(vec![member_with_org_trail(ACCOUNT), management.clone()], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::MetricFilterUnjudged, "{}", finding.message);
    assert!(finding.message.contains("organization trail"), "{}", finding.message);
    // Without the dimension on the alarm, the alarm watches another metric: that is certain.
    let alarm = &mut management.alarms.get_mut(&metric(MANAGEMENT)).unwrap().as_mut().unwrap()[0];
    alarm.dimensions.clear();
    assert_eq!(judge_with(vec![member_with_org_trail(ACCOUNT), management], ACCOUNT, &[]).reason, Reason::AlarmCannotFire);
}

#[test]
fn field_selection_criteria_on_an_organization_trails_log_group_are_not_judged() {
    let mut management = management_with_org_trail();
    let filters = management.metric_filters.get_mut(&log_group(MANAGEMENT)).unwrap().as_mut().unwrap();
    filters[0].field_selection_criteria = Some(format!("@aws.account IN [\"{MANAGEMENT}\"]"));
    let finding = judge_with(vec![member_with_org_trail(ACCOUNT), management], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::MetricFilterUnjudged, "{}", finding.message);
    assert!(finding.message.contains("organization trail"), "{}", finding.message);
}
