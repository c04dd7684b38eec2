use super::*;
use crate::finding::{Evidence, UnseenRead};
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const MANAGEMENT: &str = "999988887777";
const REGION: &str = "us-east-1";
const GOOD: &str = r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;

fn settings() -> Settings<'static> {
    Settings { region: REGION, audit_role_name: "OrgwatchAudit" }
}

fn trail(account: &str, organization: bool, log_group: bool) -> EvidenceLink {
    let arn = format!("arn:aws:cloudtrail:{REGION}:{account}:trail/main");
    let group = log_group.then(|| format!("arn:aws:logs:{REGION}:{account}:log-group:CloudTrail/Default:*"));
    EvidenceLink::with_detail(LinkKind::Trail, arn, "multi-region trail")
        .in_account(account)
        .in_region(REGION)
        .with("name", "main")
        .with("organization_trail", organization)
        .with("log_group_arn", group.map_or(serde_json::Value::Null, serde_json::Value::from))
}

fn log_group(account: &str) -> EvidenceLink {
    EvidenceLink::new(LinkKind::LogGroup, format!("arn:aws:logs:{REGION}:{account}:log-group:CloudTrail/Default:*")).in_account(account).in_region(REGION).with("name", "CloudTrail/Default")
}

fn filter(account: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::MetricFilter, "UnauthorizedAPICalls", GOOD).in_account(account).in_region(REGION)
}

fn metric(account: &str, value: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::Metric, "Security/DeniedCalls", format!("value {value}"))
        .in_account(account)
        .in_region(REGION)
        .with("namespace", "Security")
        .with("name", "DeniedCalls")
        .with("value", value)
        .with("has_dimensions", false)
}

fn alarm(account: &str, statistic: &str, operator: &str, threshold: f64, actions: &[String]) -> EvidenceLink {
    EvidenceLink::new(LinkKind::Alarm, format!("arn:aws:cloudwatch:{REGION}:{account}:alarm:denied-calls"))
        .in_account(account)
        .in_region(REGION)
        .with("name", "denied-calls")
        .with("statistic", statistic)
        .with("extended_statistic", serde_json::Value::Null)
        .with("comparison_operator", operator)
        .with("threshold", threshold)
        .with("actions_enabled", true)
        .with("alarm_actions", actions.to_vec())
        .with("has_dimensions", false)
}

fn topic_arn(account: &str, name: &str) -> String {
    format!("arn:aws:sns:{REGION}:{account}:{name}")
}

fn topic(account: &str, name: &str) -> EvidenceLink {
    EvidenceLink::new(LinkKind::Topic, topic_arn(account, name)).in_account(account).in_region(REGION)
}

const ORGANIZATION: &str = "o-a1b2c3d4e5";
const KEY_ID: &str = "0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12";

fn key_arn(account: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:key/{KEY_ID}")
}

/// The topic's access policy as the walk reports a refusal: the decision and the whole text.
fn topic_policy(account: &str, name: &str, decision: &str, policy: &serde_json::Value) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::TopicPolicy, topic_arn(account, name), "no statement allows CloudWatch")
        .in_account(account)
        .in_region(REGION)
        .with("decision", decision)
        .with("policy", policy.to_string())
}

fn topic_policy_allowed(account: &str, name: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::TopicPolicy, topic_arn(account, name), "allowed by statement \"__default_statement_ID\"")
        .in_account(account)
        .in_region(REGION)
        .with("decision", "allowed")
        .with("statements", vec![json!({"Sid": "__default_statement_ID"})])
}

fn key(account: &str, state: &str, manager: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::KmsKey, key_arn(account), format!("{} key, {state}", manager.to_ascii_lowercase()))
        .in_account(account)
        .in_region(REGION)
        .with("named_as", "alias/security-alerts")
        .with("key_id", KEY_ID)
        .with("manager", manager)
        .with("state", state)
}

fn key_policy(account: &str, decision: &str, policy: Option<&serde_json::Value>) -> EvidenceLink {
    let link = EvidenceLink::with_detail(LinkKind::KeyPolicy, key_arn(account), decision).in_account(account).in_region(REGION).with("decision", decision);
    match policy {
        Some(policy) => link.with("policy", policy.to_string()),
        None => link.with("statements", vec![grant::key_statement()]),
    }
}

fn history(account: &str, error: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::AlarmHistory, format!("arn:aws:cloudwatch:{REGION}:{account}:alarm:denied-calls"), "latest notification to the topic failed at 2026-11-02T09:00:00Z")
        .in_account(account)
        .in_region(REGION)
        .with("action_state", "Failed")
        .with("timestamp", "2026-11-02T09:00:00Z")
        .with("notification_resource", topic_arn(ACCOUNT, "alerts"))
        .with("summary", format!("Failed to execute action {}", topic_arn(ACCOUNT, "alerts")))
        .with("error", error)
}

fn delivery(account: &str, topic: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::TopicDelivery, topic_arn(account, topic), "3 failed, none delivered").in_account(account).in_region(REGION).with("delivered", 0.0).with("failed", 3.0)
}

/// An own topic's policy that admits only a role of the account, not CloudWatch.
fn ops_only_policy() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Id": "ops", "Statement": [{"Sid": "OperationsOnly", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/ops")}, "Action": "SNS:Publish", "Resource": topic_arn(ACCOUNT, "alerts")}]})
}

/// The chain down to the confirmed subscription of the account's own topic `alerts`.
fn to_subscription() -> Vec<EvidenceLink> {
    let subscription = EvidenceLink::with_detail(LinkKind::Subscription, format!("{}:8a1b", topic_arn(ACCOUNT, "alerts")), "email (1 confirmed)").in_account(ACCOUNT).in_region(REGION);
    [to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &[topic_arn(ACCOUNT, "alerts")])), vec![topic(ACCOUNT, "alerts"), subscription]].concat()
}

/// The policy an action of the script sets, read back from the script.
fn policy_set_by(script: &str, option: &str) -> serde_json::Value {
    let command = commands(script).into_iter().find(|c| c.contains(option)).unwrap_or_else(|| panic!("no {option}:\n{script}"));
    let quoted = command.split_once(&format!("{option} '")).map(|(_, rest)| rest).unwrap_or_else(|| panic!("{command}"));
    let text = quoted.rsplit_once('\'').map(|(text, _)| text).unwrap_or(quoted).replace(r"'\''", "'");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn finding(reason: Reason, links: Vec<EvidenceLink>) -> Finding {
    Finding {
        account_id: ACCOUNT.into(),
        control_id: controls::UNAUTHORIZED_API_CALLS.into(),
        status: reason.status(),
        reason,
        message: format!("{reason} happened."),
        evidence: Evidence { links, chains_examined: 1, ..Evidence::default() },
    }
}

/// The chain down to (and including) the alarm, in `account`.
fn to_alarm(account: &str, alarm_link: EvidenceLink) -> Vec<EvidenceLink> {
    vec![trail(account, false, true), log_group(account), filter(account), metric(account, "1"), alarm_link]
}

fn rendered(finding: &Finding) -> (Remedy, String, String) {
    let remedy = remedy(finding, &settings());
    let script = cli::script(ACCOUNT, std::slice::from_ref(&remedy));
    let (modules, comments) = terraform::modules(ACCOUNT, std::slice::from_ref(&remedy));
    let terraform = comments + &modules.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join("\n");
    (remedy, script, terraform)
}

/// The commands of a script: its lines that start with `aws` or assign one's output.
fn commands(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in script.lines().filter(|l| !l.trim_start().starts_with('#')) {
        current.push_str(line.trim_end_matches('\\').trim());
        current.push(' ');
        if !line.ends_with('\\') {
            let c = current.trim().to_owned();
            if c.contains("aws ") {
                out.push(c);
            }
            current.clear();
        }
    }
    out
}

struct Case {
    name: &'static str,
    finding: Finding,
    /// Every command of the script, each by its opening words and something it must name.
    commands: &'static [(&'static str, &'static str)],
    terraform: &'static [&'static str],
}

fn composite(account: &str, rule: &str, enabled: bool, actions: &[String]) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::CompositeAlarm, format!("arn:aws:cloudwatch:{REGION}:{account}:alarm:pager"), "goes to ALARM with it: denied-calls")
        .in_account(account)
        .in_region(REGION)
        .with("name", "pager")
        .with("rule", rule)
        .with("watches", "denied-calls")
        .with("actions_enabled", enabled)
        .with("alarm_actions", actions.to_vec())
        .with("actions_suppressor", serde_json::Value::Null)
}

/// The chain down to a composite above the alarm, which keeps no actions of its own.
fn to_composite(account: &str, composite_link: EvidenceLink) -> Vec<EvidenceLink> {
    let mut links = to_alarm(account, alarm(account, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &[]));
    links.push(composite_link);
    links
}

fn cases() -> Vec<Case> {
    let actions = [topic_arn(ACCOUNT, "alerts")];
    let or_rule = r#"ALARM("denied-calls") OR ALARM("other-signal")"#;
    vec![
        Case {
            name: "a composite that notifies nothing gets a topic; the alarm it serves is left alone",
            finding: finding(Reason::NoAlarmNotification, to_composite(ACCOUNT, composite(ACCOUNT, or_rule, true, &[]))),
            commands: &[
                ("topic_security_alerts=$(aws sns create-topic", "security-alerts"),
                ("aws sns subscribe", "$ORGWATCH_NOTIFY_EMAIL"),
                ("aws cloudwatch put-composite-alarm --region us-east-1 --alarm-name pager", "$topic_security_alerts"),
            ],
            terraform: &["resource \"aws_cloudwatch_composite_alarm\" \"pager\"", "to = aws_cloudwatch_composite_alarm.pager", "actions_enabled = true"],
        },
        Case {
            name: "a composite with its actions disabled is written again enabled, its actions kept",
            finding: finding(Reason::AlarmActionsDisabled, to_composite(ACCOUNT, composite(ACCOUNT, or_rule, false, &actions))),
            commands: &[("aws cloudwatch put-composite-alarm --region us-east-1 --alarm-name pager", "arn:aws:sns:us-east-1:111122223333:alerts")],
            terraform: &["resource \"aws_cloudwatch_composite_alarm\" \"pager\"", "arn:aws:sns:us-east-1:111122223333:alerts"],
        },
        Case {
            name: "a composite that cannot fire on the alarm alone has the alarm added to its rule",
            finding: finding(Reason::AlarmCannotFire, to_composite(ACCOUNT, composite(ACCOUNT, r#"ALARM("denied-calls") AND ALARM("other-signal")"#, true, &actions))),
            commands: &[("aws cloudwatch put-composite-alarm --region us-east-1 --alarm-name pager", r#"OR ALARM("denied-calls")"#)],
            terraform: &[r#"OR ALARM(\"denied-calls\")"#],
        },
        Case {
            name: "a single-region trail is made multi-region in its home region",
            finding: finding(Reason::NoMultiRegionTrail, vec![trail(ACCOUNT, false, true)]),
            commands: &[("aws cloudtrail update-trail --region us-east-1 --name arn:aws:cloudtrail:us-east-1:111122223333:trail/main", "--is-multi-region-trail")],
            terraform: &["import {", "to = aws_cloudtrail.main", "is_multi_region_trail         = true", "var.main_s3_bucket_name"],
        },
        Case {
            name: "no trail at all: the whole chain is created",
            finding: finding(Reason::NoMultiRegionTrail, vec![]),
            commands: &[
                ("aws s3api create-bucket --region us-east-1", "cloudtrail-111122223333-us-east-1"),
                ("aws s3api put-bucket-policy", "AWSCloudTrailWrite"),
                ("aws logs describe-log-groups", "CloudTrail/cis-multi-region"),
                ("aws logs create-log-group", "CloudTrail/cis-multi-region"),
                ("aws iam get-role", "cloudtrail.amazonaws.com"),
                ("aws iam put-role-policy", "logs:PutLogEvents"),
                ("aws cloudtrail create-trail", "--is-multi-region-trail"),
                ("aws cloudtrail start-logging", "cis-multi-region"),
                ("aws logs put-metric-filter", "AccessDenied"),
                ("topic_security_alerts=$(aws sns create-topic", "security-alerts"),
                ("aws sns subscribe", "$ORGWATCH_NOTIFY_EMAIL"),
                ("aws cloudwatch put-metric-alarm", "CIS-4.1-UnauthorizedApiCalls"),
            ],
            terraform: &["resource \"aws_s3_bucket\"", "resource \"aws_cloudtrail\" \"cis_multi_region\"", "resource \"aws_cloudwatch_log_group\"", "resource \"aws_cloudwatch_metric_alarm\""],
        },
        Case {
            name: "a trail that is not logging is started, nothing more",
            finding: finding(Reason::TrailNotLogging, vec![trail(ACCOUNT, false, true)]),
            commands: &[("aws cloudtrail start-logging --region us-east-1", "trail/main")],
            terraform: &["enable_logging                = true", "cloud_watch_logs_group_arn    = \"arn:aws:logs:us-east-1:111122223333:log-group:CloudTrail/Default:*\""],
        },
        Case {
            name: "management events: event selectors with ReadWriteType All",
            finding: finding(Reason::ManagementEventsNotCaptured, vec![trail(ACCOUNT, false, true)]),
            commands: &[("aws cloudtrail put-event-selectors --region us-east-1", r#""ReadWriteType":"All""#)],
            terraform: &["event_selector {", "read_write_type           = \"All\""],
        },
        Case {
            name: "a trail without CloudWatch Logs is updated, with a log group, a role and the chain on it",
            finding: finding(Reason::TrailNotSendingToCloudwatch, vec![trail(ACCOUNT, false, false)]),
            commands: &[
                ("aws logs describe-log-groups", "CloudTrail/main"),
                ("aws logs create-log-group", "CloudTrail/main"),
                ("aws iam get-role", "CloudTrailToCloudWatchLogs-main"),
                ("aws iam put-role-policy", "CloudTrailToCloudWatchLogs-main"),
                ("aws cloudtrail update-trail --region us-east-1 --name arn:aws:cloudtrail:us-east-1:111122223333:trail/main", "log-group:CloudTrail/main:*"),
                ("aws logs put-metric-filter", "CloudTrail/main"),
                ("topic_security_alerts=$(aws sns create-topic", "security-alerts"),
                ("aws sns subscribe", "email"),
                ("aws cloudwatch put-metric-alarm", "UnauthorizedApiCalls"),
            ],
            terraform: &["cloud_watch_logs_group_arn    = \"${aws_cloudwatch_log_group.cloudtrail_main.arn}:*\"", "aws_iam_role.cloudtrailtocloudwatchlogs_main.arn"],
        },
        Case {
            name: "delivery failing: a role that may write into the log group",
            finding: finding(Reason::CloudwatchDeliveryFailing, vec![trail(ACCOUNT, false, true), log_group(ACCOUNT)]),
            commands: &[
                ("aws iam get-role", "CloudTrailToCloudWatchLogs-main"),
                ("aws iam put-role-policy", "log-group:CloudTrail/Default:log-stream:*"),
                ("aws cloudtrail update-trail", "--cloud-watch-logs-role-arn arn:aws:iam::111122223333:role/CloudTrailToCloudWatchLogs-main"),
            ],
            terraform: &["data \"aws_cloudwatch_log_group\" \"cloudtrail_default\"", "resource \"aws_iam_role\""],
        },
        Case {
            name: "no detecting filter: the control's pattern on the trail's own log group, an alarm and a topic",
            finding: finding(Reason::NoMatchingMetricFilter, vec![trail(ACCOUNT, false, true), log_group(ACCOUNT)]),
            commands: &[
                ("aws logs put-metric-filter --region us-east-1 --log-group-name CloudTrail/Default", r#"'{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'"#),
                ("topic_security_alerts=$(aws sns create-topic", "security-alerts"),
                ("aws sns subscribe", "email"),
                ("aws cloudwatch put-metric-alarm", "--namespace CISBenchmark"),
            ],
            terraform: &["log_group_name = data.aws_cloudwatch_log_group.cloudtrail_default.name", "pattern        = \"{ ($.errorCode = \\\"*UnauthorizedOperation\\\")"],
        },
        Case {
            name: "a filter that never counts is put again on the same filter with metric value 1",
            finding: finding(Reason::MetricFilterNeverCounts, vec![trail(ACCOUNT, false, true), log_group(ACCOUNT), filter(ACCOUNT), metric(ACCOUNT, "0")]),
            commands: &[("aws logs put-metric-filter --region us-east-1 --log-group-name CloudTrail/Default --filter-name UnauthorizedAPICalls", r#""metricName":"DeniedCalls","metricNamespace":"Security","metricValue":"1""#)],
            terraform: &["id = \"CloudTrail/Default:UnauthorizedAPICalls\"", "value     = \"1\""],
        },
        Case {
            name: "no alarm: put-metric-alarm on the existing metric",
            finding: finding(Reason::NoAlarmOnMetric, vec![trail(ACCOUNT, false, true), log_group(ACCOUNT), filter(ACCOUNT), metric(ACCOUNT, "1")]),
            commands: &[
                ("topic_security_alerts=$(aws sns create-topic", "security-alerts"),
                ("aws sns subscribe", "email"),
                ("aws cloudwatch put-metric-alarm --region us-east-1 --alarm-name CIS-4.1-DeniedCalls", "--metric-name DeniedCalls --namespace Security --statistic Sum"),
            ],
            terraform: &["metric_name         = \"DeniedCalls\"", "alarm_actions       = [aws_sns_topic.security_alerts.arn]"],
        },
        Case {
            name: "alarm actions disabled: enable-alarm-actions",
            finding: finding(Reason::AlarmActionsDisabled, to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &actions))),
            commands: &[("aws cloudwatch enable-alarm-actions --region us-east-1", "--alarm-names denied-calls")],
            terraform: &["id = \"denied-calls\"", "actions_enabled     = true"],
        },
        Case {
            name: "an alarm that cannot fire gets the corrected operator and keeps its actions",
            finding: finding(Reason::AlarmCannotFire, to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "LessThanThreshold", 5.0, &actions))),
            commands: &[("aws cloudwatch put-metric-alarm --region us-east-1 --alarm-name denied-calls", "--statistic Sum --period 300 --evaluation-periods 1 --threshold 5 --comparison-operator GreaterThanOrEqualToThreshold --treat-missing-data notBreaching --alarm-actions arn:aws:sns:us-east-1:111122223333:alerts")],
            terraform: &["comparison_operator = \"GreaterThanOrEqualToThreshold\"", "threshold           = 5"],
        },
        Case {
            name: "an alarm that notifies nobody gets a topic and the alarm action",
            finding: finding(Reason::NoAlarmNotification, to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanThreshold", 0.0, &[]))),
            commands: &[
                ("topic_security_alerts=$(aws sns create-topic", "security-alerts"),
                ("aws sns subscribe", "email"),
                ("aws cloudwatch put-metric-alarm --region us-east-1 --alarm-name denied-calls", "--threshold 0 --comparison-operator GreaterThanThreshold --treat-missing-data notBreaching --alarm-actions \"$topic_security_alerts\""),
            ],
            terraform: &["resource \"aws_sns_topic\" \"security_alerts\"", "alarm_actions       = [aws_sns_topic.security_alerts.arn]"],
        },
        Case {
            name: "a missing topic of the alarm's own account is created again by name, the alarm unchanged",
            finding: finding(Reason::SnsTopicNotFound, [to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &[topic_arn(ACCOUNT, "gone")])), vec![topic(ACCOUNT, "gone")]].concat()),
            commands: &[("topic_gone=$(aws sns create-topic --region us-east-1", "--name gone"), ("aws sns subscribe", "\"$topic_gone\"")],
            terraform: &["resource \"aws_sns_topic\" \"gone\"", "resource \"aws_sns_topic_subscription\" \"gone\""],
        },
        Case {
            name: "no confirmed subscription: subscribe, with a reminder to confirm",
            finding: finding(Reason::NoConfirmedSubscription, [to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &actions)), vec![topic(ACCOUNT, "alerts")]].concat()),
            commands: &[("aws sns subscribe --region us-east-1 --topic-arn arn:aws:sns:us-east-1:111122223333:alerts", "--protocol email")],
            terraform: &["data \"aws_sns_topic\" \"alerts\"", "topic_arn = data.aws_sns_topic.alerts.arn"],
        },
        Case {
            name: "an unpublishable topic gets a customer-managed key CloudWatch may use",
            finding: finding(Reason::SnsTopicUnpublishable, [to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &actions)), vec![topic(ACCOUNT, "alerts")]].concat()),
            commands: &[
                ("key_id=$(aws kms create-key --region us-east-1", "cloudwatch.amazonaws.com"),
                ("aws kms enable-key-rotation", "$key_id"),
                ("aws kms create-alias", "alias/sns-cloudwatch-alarms"),
                ("aws sns set-topic-attributes --region us-east-1 --topic-arn arn:aws:sns:us-east-1:111122223333:alerts", "KmsMasterKeyId"),
            ],
            terraform: &["resource \"aws_kms_key\" \"alerts\"", "\"Service\" = \"cloudwatch.amazonaws.com\"", "kms_master_key_id = aws_kms_key.alerts.arn"],
        },
        Case {
            name: "a topic whose policy admits no alarm gets a statement for the account's alarms, its own kept",
            finding: finding(Reason::SnsTopicPolicyDeniesPublish, [to_subscription(), vec![topic_policy(ACCOUNT, "alerts", "not-allowed", &ops_only_policy())]].concat()),
            commands: &[(
                "aws sns set-topic-attributes --region us-east-1 --topic-arn arn:aws:sns:us-east-1:111122223333:alerts --attribute-name Policy",
                r#""Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#,
            )],
            terraform: &[
                "to = aws_sns_topic_policy.alerts",
                "id = \"arn:aws:sns:us-east-1:111122223333:alerts\"",
                "arn    = data.aws_sns_topic.alerts.arn",
                "\"Sid\" = \"OperationsOnly\"",
                "\"aws:SourceAccount\" = \"111122223333\"",
            ],
        },
        Case {
            name: "a key whose policy lacks CloudWatch gets CloudWatch's statement, its own kept",
            finding: finding(Reason::SnsTopicUnpublishable, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), key(ACCOUNT, "Enabled", "CUSTOMER"), key_policy(ACCOUNT, "not-allowed", Some(&grant::default_key_policy("aws", ACCOUNT)))]].concat()),
            commands: &[("aws kms put-key-policy --region us-east-1 --key-id 0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12 --policy-name default", r#""Action":["kms:Decrypt","kms:GenerateDataKey*"]"#)],
            terraform: &["to = aws_kms_key_policy.key_0d6b4c1e_9a3f_4f4e_8a61_5c2f0e7d9b12", "key_id = \"0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12\"", "\"Sid\" = \"Enable IAM User Permissions\"", "\"Sid\" = \"CloudWatchPublishesAlarms\""],
        },
        Case {
            name: "a disabled key is enabled",
            finding: finding(Reason::SnsTopicUnpublishable, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), key(ACCOUNT, "Disabled", "CUSTOMER")]].concat()),
            commands: &[("aws kms enable-key --region us-east-1", "--key-id 0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12")],
            terraform: &["no Terraform resource enables an existing key by itself: run `aws kms enable-key --region us-east-1 --key-id 0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12`", "is_enabled = true"],
        },
        Case {
            name: "a key pending deletion is kept and enabled",
            finding: finding(Reason::SnsTopicUnpublishable, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), key(ACCOUNT, "PendingDeletion", "CUSTOMER")]].concat()),
            commands: &[("aws kms cancel-key-deletion --region us-east-1", KEY_ID), ("aws kms enable-key --region us-east-1", KEY_ID)],
            terraform: &["Terraform cannot cancel a deletion: run `aws kms cancel-key-deletion --region us-east-1 --key-id 0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12`, then `aws kms enable-key"],
        },
        Case {
            name: "an AWS-managed key found by DescribeKey: a customer-managed key for the topic",
            finding: finding(Reason::SnsTopicUnpublishable, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), key(ACCOUNT, "Enabled", "AWS")]].concat()),
            commands: &[
                ("key_id=$(aws kms create-key --region us-east-1", "CloudWatchPublishesAlarms"),
                ("aws kms enable-key-rotation", "$key_id"),
                ("aws kms create-alias", "alias/sns-cloudwatch-alarms"),
                ("aws sns set-topic-attributes --region us-east-1 --topic-arn arn:aws:sns:us-east-1:111122223333:alerts", "KmsMasterKeyId"),
            ],
            terraform: &["resource \"aws_kms_key\" \"alerts\"", "kms_master_key_id = aws_kms_key.alerts.arn"],
        },
        Case {
            name: "a notification the key refused: the key policy's statement, then a test notification",
            finding: finding(
                Reason::AlarmActionFailed,
                [
                    to_subscription(),
                    vec![
                        topic_policy_allowed(ACCOUNT, "alerts"),
                        key(ACCOUNT, "Enabled", "CUSTOMER"),
                        key_policy(ACCOUNT, "allowed", Some(&grant::default_key_policy("aws", ACCOUNT))),
                        history(ACCOUNT, "CloudWatch Alarms does not have authorization to access the SNS topic encryption key."),
                    ],
                ]
                .concat(),
            ),
            commands: &[("aws kms put-key-policy --region us-east-1 --key-id 0d6b4c1e-9a3f-4f4e-8a61-5c2f0e7d9b12", "cloudwatch.amazonaws.com"), ("aws cloudwatch set-alarm-state --region us-east-1 --alarm-name denied-calls --state-value ALARM", "--state-reason")],
            terraform: &["resource \"aws_kms_key_policy\"", "After apply, set alarm denied-calls to ALARM once", "aws cloudwatch set-alarm-state --region us-east-1 --alarm-name denied-calls"],
        },
        Case {
            name: "a notification SNS refused, the policy allowing it when scanned: a test notification",
            finding: finding(
                Reason::AlarmActionFailed,
                [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), history(ACCOUNT, "User: cloudwatch.amazonaws.com is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:111122223333:alerts")]].concat(),
            ),
            commands: &[("aws cloudwatch set-alarm-state --region us-east-1 --alarm-name denied-calls", "ALARM")],
            terraform: &["After apply, set alarm denied-calls to ALARM once"],
        },
        Case {
            name: "a notification that failed for another reason: its error and the alarm's history",
            finding: finding(Reason::AlarmActionFailed, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), history(ACCOUNT, "Throttling: Rate exceeded")]].concat()),
            commands: &[("aws cloudwatch describe-alarm-history --region us-east-1 --alarm-name denied-calls", "--history-item-type Action")],
            terraform: &["CloudWatch recorded at 2026-11-02T09:00:00Z that the notification of alarm \"denied-calls\" to topic arn:aws:sns:us-east-1:111122223333:alerts failed: Throttling: Rate exceeded", "aws cloudwatch describe-alarm-history"],
        },
        Case {
            name: "a topic whose every delivery failed: its subscribers, to find the failing one",
            finding: finding(Reason::SubscriberDeliveryFailing, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), delivery(ACCOUNT, "alerts")]].concat()),
            commands: &[("aws sns list-subscriptions-by-topic --region us-east-1 --topic-arn arn:aws:sns:us-east-1:111122223333:alerts", "")],
            terraform: &["No Terraform resource mends a subscriber's endpoint", "aws sns list-subscriptions-by-topic --region us-east-1"],
        },
    ]
}

#[test]
fn every_fail_reason_has_a_cli_and_a_terraform_fix() {
    let cases = cases();
    for reason in Reason::ALL.iter().filter(|r| r.status() == Status::Fail) {
        assert!(cases.iter().any(|c| c.finding.reason == *reason), "no case for {reason}");
    }
    for case in &cases {
        let (remedy, script, terraform) = rendered(&case.finding);
        let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{}: {:?}", case.name, remedy.kind) };
        assert_eq!((fix.account_id.as_str(), fix.region.as_str()), (ACCOUNT, REGION), "{}", case.name);
        let got = commands(&script);
        // Exactly the commands of the case, in order: nothing more.
        let expected: Vec<(&str, &str)> = case.commands.iter().map(|(a, b)| (*a, *b)).collect();
        let got_filtered: Vec<&String> = got.iter().filter(|c| !c.contains("sts get-caller-identity")).collect();
        assert_eq!(got_filtered.len(), expected.len(), "{}:\n{script}", case.name);
        for (command, (start, names)) in got_filtered.iter().zip(&expected) {
            let command = command.strip_prefix("if ! ").unwrap_or(command);
            assert!(command.starts_with(start), "{}: {command:?} does not start with {start:?}\n{script}", case.name);
            assert!(command.contains(names), "{}: {command:?} does not name {names:?}\n{script}", case.name);
        }
        assert!(script.contains(&format!("orgwatch_require_account {ACCOUNT}")), "{}", case.name);
        assert!(terraform.contains(&format!("allowed_account_ids = [\"{ACCOUNT}\"]")), "{}:\n{terraform}", case.name);
        for needle in case.terraform {
            assert!(terraform.contains(needle), "{}: the Terraform lacks {needle:?}\n{terraform}", case.name);
        }
        assert_eq!(terraform.matches('{').count(), terraform.matches('}').count(), "{}: unbalanced braces\n{terraform}", case.name);
    }
}

#[test]
fn an_organization_trail_members_fix_goes_to_the_owner_and_says_so() {
    let links = vec![trail(MANAGEMENT, true, true), log_group(MANAGEMENT), filter(MANAGEMENT), metric(MANAGEMENT, "1")];
    let (remedy, script, terraform) = rendered(&finding(Reason::NoAlarmOnMetric, links));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert_eq!(fix.account_id, MANAGEMENT);
    assert!(fix.notes[0].contains(&format!("belongs to account {MANAGEMENT}")) && fix.notes[0].contains("organization trail"), "{:?}", fix.notes);
    assert!(script.contains(&format!("orgwatch_require_account {MANAGEMENT}")) && !script.contains(&format!("orgwatch_require_account {ACCOUNT}")), "{script}");
    assert!(terraform.contains(&format!("allowed_account_ids = [\"{MANAGEMENT}\"]")), "{terraform}");
}

#[test]
fn an_alarm_reuses_a_topic_that_works_for_its_account_and_region() {
    let links = vec![trail(ACCOUNT, false, true), log_group(ACCOUNT), filter(ACCOUNT), metric(ACCOUNT, "1")];
    let mut no_alarm = finding(Reason::NoAlarmOnMetric, links);
    let central = WorkingTopic { arn: topic_arn(MANAGEMENT, "central"), account_id: MANAGEMENT.into(), region: REGION.into(), notified_from: vec![ACCOUNT.into()] };
    let elsewhere = WorkingTopic { arn: "arn:aws:sns:eu-west-1:111122223333:alerts".into(), account_id: ACCOUNT.into(), region: "eu-west-1".into(), notified_from: vec![] };
    let unrelated = WorkingTopic { arn: topic_arn("444455556666", "theirs"), account_id: "444455556666".into(), region: REGION.into(), notified_from: vec![] };
    no_alarm.evidence.working_topics = vec![elsewhere.clone(), unrelated.clone(), central.clone()];
    let (_, script, terraform) = rendered(&no_alarm);
    assert!(!script.contains("create-topic") && !script.contains("sns subscribe"), "{script}");
    assert!(script.contains(&format!("--alarm-actions {}", central.arn)), "{script}");
    assert!(terraform.contains(&format!("alarm_actions       = [\"{}\"]", central.arn)) && !terraform.contains("aws_sns_topic\""), "{terraform}");

    // The account's own topic comes first, through a data source.
    let own = WorkingTopic { arn: topic_arn(ACCOUNT, "own"), account_id: ACCOUNT.into(), region: REGION.into(), notified_from: vec![] };
    no_alarm.evidence.working_topics.push(own.clone());
    let (_, script, terraform) = rendered(&no_alarm);
    assert!(script.contains(&format!("--alarm-actions {}", own.arn)), "{script}");
    assert!(terraform.contains("data \"aws_sns_topic\" \"own\"") && terraform.contains("alarm_actions       = [data.aws_sns_topic.own.arn]"), "{terraform}");

    // Only topics of another region or account that this account's alarms do not use: a new one.
    no_alarm.evidence.working_topics = vec![elsewhere, unrelated];
    let (_, script, _) = rendered(&no_alarm);
    assert!(script.contains("aws sns create-topic") && script.contains("--alarm-actions \"$topic_security_alerts\""), "{script}");

    // A deleted topic is not recreated when another topic works: the alarm is pointed at it.
    let alarm_link = alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &[topic_arn(ACCOUNT, "gone")]);
    let mut deleted = finding(Reason::SnsTopicNotFound, [to_alarm(ACCOUNT, alarm_link), vec![topic(ACCOUNT, "gone")]].concat());
    deleted.evidence.working_topics = vec![own.clone()];
    let (_, script, _) = rendered(&deleted);
    assert!(!script.contains("create-topic") && !script.contains(&topic_arn(ACCOUNT, "gone")), "{script}");
    assert!(script.contains(&format!("--alarm-actions {}", own.arn)), "{script}");
}

#[test]
fn passing_and_waived_findings_print_nothing_to_run() {
    for reason in [Reason::Compliant, Reason::Waived] {
        let (remedy, script, terraform) = rendered(&finding(reason, vec![]));
        assert_eq!(remedy.kind, RemedyKind::Nothing);
        assert!(commands(&script).is_empty() && script.contains("Nothing to run."), "{script}");
        assert!(!terraform.contains("resource"), "{terraform}");
    }
}

#[test]
fn error_findings_say_what_the_audit_role_is_missing() {
    let unseen = |operation: &str, account: &str| Some(UnseenRead { operation: operation.into(), account_id: account.into() });
    let mut denied = finding(Reason::AccessDenied, vec![]);
    denied.evidence.unseen = unseen("sns:GetTopicAttributes", MANAGEMENT);
    let (_, script, _) = rendered(&denied);
    assert!(script.contains(&format!("The audit role OrgwatchAudit in account {MANAGEMENT} may not call sns:GetTopicAttributes.")), "{script}");
    assert!(script.contains(&format!("orgwatch_require_account {MANAGEMENT}")) && script.contains("aws iam put-role-policy --role-name OrgwatchAudit"), "{script}");
    for action in AUDIT_ACTIONS {
        assert!(script.contains(action), "{action}: {script}");
    }

    let mut refused = finding(Reason::RoleAssumptionFailed, vec![]);
    refused.evidence.unseen = unseen("sts:AssumeRole", MANAGEMENT);
    let (_, script, _) = rendered(&refused);
    assert!(script.contains(&format!("arn:aws:iam::{MANAGEMENT}:role/OrgwatchAudit could not be assumed")) && script.contains("audit-role-trust-policy.json"), "{script}");
    assert!(commands(&script).is_empty(), "{script}");

    let mut throttled = finding(Reason::ApiError, vec![]);
    throttled.evidence.unseen = unseen("cloudtrail:GetTrailStatus", ACCOUNT);
    let (_, script, _) = rendered(&throttled);
    assert!(script.contains("not missing a permission") && commands(&script).is_empty(), "{script}");

    let mut outside = finding(Reason::OutsideOrganization, vec![]);
    outside.evidence.unseen = unseen("sns:GetTopicAttributes", "444455556666");
    let (_, script, _) = rendered(&outside);
    assert!(script.contains("444455556666 owns a link") && commands(&script).is_empty(), "{script}");
}

#[test]
fn the_audit_actions_are_those_of_the_shipped_policy() {
    let text = include_str!("../../../../config/iam/audit-role-policy.json");
    let policy: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut shipped: Vec<&str> = policy["Statement"][0]["Action"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
    let mut ours = AUDIT_ACTIONS.to_vec();
    shipped.sort_unstable();
    ours.sort_unstable();
    assert_eq!(ours, shipped);
}

#[test]
fn hostile_names_are_quoted_for_the_shell_and_escaped_for_terraform() {
    let pattern = r#"{ $.errorCode = "x'; rm -rf / #" } ${path.module} %{ if true }"#;
    let hostile = EvidenceLink::with_detail(LinkKind::MetricFilter, "it's", pattern).in_account(ACCOUNT).in_region(REGION);
    let links = vec![trail(ACCOUNT, false, true), log_group(ACCOUNT), hostile, metric(ACCOUNT, "0")];
    let (_, script, terraform) = rendered(&finding(Reason::MetricFilterNeverCounts, links));
    assert!(script.contains(r#"--filter-name 'it'\''s'"#), "{script}");
    assert!(script.contains(r#"--filter-pattern '{ $.errorCode = "x'\''; rm -rf / #" } ${path.module} %{ if true }'"#), "{script}");
    assert!(terraform.contains(r#"pattern        = "{ $.errorCode = \"x'; rm -rf / #\" } $${path.module} %%{ if true }""#), "{terraform}");
    assert_eq!(cli::quote("plain-Name_1/x"), "plain-Name_1/x");
    assert_eq!(cli::quote(""), "''");
    assert_eq!(terraform::string("a\nb\\"), r#""a\nb\\""#);
}

#[test]
fn the_same_step_for_several_controls_is_printed_once() {
    let stopped = |control: &str| Finding { control_id: control.into(), ..finding(Reason::TrailNotLogging, vec![trail(ACCOUNT, false, true)]) };
    let remedies: Vec<Remedy> = ["unauthorized-api-calls", "root-account-usage"].iter().map(|c| remedy(&stopped(c), &settings())).collect();
    let script = cli::script(ACCOUNT, &remedies);
    assert_eq!(commands(&script).iter().filter(|c| c.contains("start-logging")).count(), 1, "{script}");
    assert!(script.contains("The steps above fix this too."), "{script}");
    let (modules, _) = terraform::modules(ACCOUNT, &remedies);
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].text.matches("resource \"aws_cloudtrail\"").count(), 1, "{}", modules[0].text);
}

#[test]
fn evidence_with_the_new_fields_reads_back_and_old_evidence_still_reads() {
    let old: Evidence = serde_json::from_value(json!({"links": [{"kind": "trail", "id": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}], "chains_examined": 1})).unwrap();
    let (remedy, script, _) = rendered(&Finding { evidence: old, ..finding(Reason::TrailNotLogging, vec![]) });
    assert!(matches!(remedy.kind, RemedyKind::Fix(_)), "{remedy:?}");
    assert!(script.contains("start-logging --region us-east-1 --name arn:aws:cloudtrail:us-east-1:111122223333:trail/main"), "{script}");
}

/// The central topic of the management account, left behind SNS's default policy, notified by
/// an alarm of the account.
fn central_topic_refusal(organization: Option<&str>, policy: serde_json::Value) -> Finding {
    let subscription = EvidenceLink::with_detail(LinkKind::Subscription, format!("{}:77aa", topic_arn(MANAGEMENT, "central")), "email (1 confirmed)").in_account(MANAGEMENT).in_region(REGION);
    let mut refusal = topic_policy(MANAGEMENT, "central", "not-allowed", &policy);
    if let Some(id) = organization {
        refusal = refusal.with("organization_id", id);
    }
    let links = [to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, &[topic_arn(MANAGEMENT, "central")])), vec![topic(MANAGEMENT, "central"), subscription, refusal]].concat();
    finding(Reason::SnsTopicPolicyDeniesPublish, links)
}

#[test]
fn a_central_topic_admits_the_organization_and_keeps_its_statements() {
    let default = serde_json::from_str(&crate::facts::default_topic_policy(&topic_arn(MANAGEMENT, "central"), MANAGEMENT)).unwrap();
    let (remedy, script, terraform) = rendered(&central_topic_refusal(Some(ORGANIZATION), default));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert_eq!(fix.account_id, MANAGEMENT, "the topic's owner changes its policy");
    assert!(fix.notes[0].contains(&format!("belongs to account {MANAGEMENT} (it owns the topic)")), "{:?}", fix.notes);
    assert!(script.contains(&format!("orgwatch_require_account {MANAGEMENT}")), "{script}");
    let policy = policy_set_by(&script, "--attribute-value");
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{policy:#}");
    assert_eq!(statements[0]["Sid"], "__default_statement_ID", "the default statement is kept as it was");
    assert_eq!(policy["Version"], "2008-10-17");
    assert_eq!(
        statements[1],
        json!({"Sid": "AllowCloudWatchAlarmsOfTheOrganization", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
               "Resource": topic_arn(MANAGEMENT, "central"), "Condition": {"StringEquals": {"aws:SourceOrgID": ORGANIZATION}}})
    );
    // The module is the owner's, so the topic is read there by name.
    assert!(terraform.contains(&format!("allowed_account_ids = [\"{MANAGEMENT}\"]")) && terraform.contains("arn    = data.aws_sns_topic.central.arn"), "{terraform}");
    assert!(terraform.contains("\"aws:SourceOrgID\" = \"o-a1b2c3d4e5\""), "{terraform}");
    assert!(fix.rescan, "the key and the history come after the policy");

    // Without the organization's id, the account's alarms, with a warning about the others.
    let default = serde_json::from_str(&crate::facts::default_topic_policy(&topic_arn(MANAGEMENT, "central"), MANAGEMENT)).unwrap();
    let (remedy, script, _) = rendered(&central_topic_refusal(None, default));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert_eq!(policy_set_by(&script, "--attribute-value")["Statement"][1]["Condition"], json!({"StringEquals": {"aws:SourceAccount": ACCOUNT}}));
    assert!(fix.notes.iter().any(|n| n.contains("organization's id is not in the finding's evidence")), "{:?}", fix.notes);
}

#[test]
fn a_deny_is_kept_and_named() {
    let central = topic_arn(MANAGEMENT, "central");
    let deny = json!({"Sid": "DenyAlarmsOfOtherAccounts", "Effect": "Deny", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": central, "Condition": {"StringNotEquals": {"aws:SourceAccount": MANAGEMENT}}});
    let allow = grant::topic_statement(&central, &grant::Admits::Organization(ORGANIZATION.into()));
    let policy = json!({"Version": "2012-10-17", "Statement": [allow, deny]});
    let mut refused = central_topic_refusal(Some(ORGANIZATION), policy.clone());
    let link = refused.evidence.links.last_mut().unwrap();
    link.attributes.insert("decision".into(), "denied".into());
    link.attributes.insert("statement".into(), deny.clone());
    let (remedy, script, terraform) = rendered(&refused);
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    let note = fix.notes.iter().find(|n| n.contains("DenyAlarmsOfOtherAccounts")).unwrap_or_else(|| panic!("{:?}", fix.notes));
    assert!(note.starts_with("Statement \"DenyAlarmsOfOtherAccounts\" of the topic's policy denies") && note.contains("does not remove a Deny"), "{note}");
    // The organization's statement is there already: nothing to run, the Deny is the user's to narrow.
    assert!(fix.actions.is_empty() && fix.notes.iter().any(|n| n.contains("already has the statement")), "{fix:?}");
    assert!(commands(&script).iter().all(|c| c.contains("get-caller-identity")), "{script}");
    assert!(terraform.contains("does not remove a Deny"), "{terraform}");

    // Without the Allow, it is added beside the Deny, which stays.
    let mut refused = central_topic_refusal(Some(ORGANIZATION), json!({"Version": "2012-10-17", "Statement": deny.clone()}));
    let link = refused.evidence.links.last_mut().unwrap();
    link.attributes.insert("decision".into(), "denied".into());
    link.attributes.insert("statement".into(), deny.clone());
    let (_, script, _) = rendered(&refused);
    let set = policy_set_by(&script, "--attribute-value");
    assert_eq!(set["Statement"][0], deny, "the Deny is kept");
    assert_eq!(set["Statement"][1]["Sid"], "AllowCloudWatchAlarmsOfTheOrganization");
}

#[test]
fn a_topic_without_a_policy_starts_from_snss_default_and_a_taken_sid_gets_a_number() {
    // The walk saw no Policy attribute at all: no topic-policy link.
    let (remedy, script, _) = rendered(&finding(Reason::SnsTopicPolicyDeniesPublish, to_subscription()));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert!(fix.notes.iter().any(|n| n.contains("showed no access policy")), "{:?}", fix.notes);
    let set = policy_set_by(&script, "--attribute-value");
    assert_eq!(set["Statement"][0]["Sid"], "__default_statement_ID");
    assert_eq!(set["Statement"][1]["Sid"], format!("AllowCloudWatchAlarmsOf{ACCOUNT}"));

    let mut taken = ops_only_policy();
    taken["Statement"][0]["Sid"] = json!(format!("AllowCloudWatchAlarmsOf{ACCOUNT}"));
    let merged = grant::merged(&taken, grant::topic_statement(&topic_arn(ACCOUNT, "alerts"), &grant::Admits::Account(ACCOUNT.into()))).unwrap();
    assert_eq!(merged["Statement"][1]["Sid"], format!("AllowCloudWatchAlarmsOf{ACCOUNT}2"));
    // A bare statement is read as a list of one; text that is no policy is refused.
    let bare = grant::document(r#"{"Statement": {"Effect": "Allow"}}"#).unwrap();
    assert_eq!(bare["Statement"].as_array().map(Vec::len), Some(1));
    assert!(grant::document("[1]").is_none() && grant::document(r#"{"Statement": 5}"#).is_none());
}

#[test]
fn a_key_of_another_account_is_mended_there_and_the_test_notification_is_left_to_the_alarms_account() {
    let central = topic_arn(MANAGEMENT, "central");
    let subscription = EvidenceLink::with_detail(LinkKind::Subscription, format!("{central}:77aa"), "email (1 confirmed)").in_account(MANAGEMENT).in_region(REGION);
    let links = [
        to_alarm(ACCOUNT, alarm(ACCOUNT, "Sum", "GreaterThanOrEqualToThreshold", 1.0, std::slice::from_ref(&central))),
        vec![
            topic(MANAGEMENT, "central"),
            subscription,
            topic_policy_allowed(MANAGEMENT, "central"),
            key(MANAGEMENT, "Enabled", "CUSTOMER"),
            key_policy(MANAGEMENT, "allowed", Some(&grant::default_key_policy("aws", MANAGEMENT))),
            history(ACCOUNT, "KMS key is disabled (KMS.DisabledException)"),
        ],
    ]
    .concat();
    let (remedy, script, _) = rendered(&finding(Reason::AlarmActionFailed, links));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert_eq!(fix.account_id, MANAGEMENT);
    assert!(fix.notes.iter().any(|n| n.contains("it owns the topic's key")), "{:?}", fix.notes);
    assert!(matches!(fix.actions.as_slice(), [Action::PutKeyPolicy { .. }]), "{:?}", fix.actions);
    let note = fix.notes.iter().find(|n| n.contains("set-alarm-state")).unwrap_or_else(|| panic!("{:?}", fix.notes));
    assert!(note.contains(&format!("with account {ACCOUNT}'s credentials")), "{note}");
    assert!(!commands(&script).iter().any(|c| c.contains("set-alarm-state")), "{script}");
}

#[test]
fn the_key_policy_keeps_a_deny_and_an_unknown_state_says_what_to_do() {
    let deny = json!({"Sid": "NoServices", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}});
    let mut policy = grant::default_key_policy("aws", ACCOUNT);
    policy["Statement"].as_array_mut().unwrap().push(deny.clone());
    let denied = key_policy(ACCOUNT, "denied", Some(&policy)).with("statement", deny.clone());
    let (remedy, script, _) = rendered(&finding(Reason::SnsTopicUnpublishable, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), key(ACCOUNT, "Enabled", "CUSTOMER"), denied]].concat()));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert!(fix.notes.iter().any(|n| n.starts_with(&format!("Statement \"NoServices\" of key {}'s policy denies", key_arn(ACCOUNT)))), "{:?}", fix.notes);
    let set = policy_set_by(&script, "--policy");
    assert_eq!(set["Statement"][1], deny);
    assert_eq!(set["Statement"][2], grant::key_statement());

    let (remedy, script, _) = rendered(&finding(Reason::SnsTopicUnpublishable, [to_subscription(), vec![topic_policy_allowed(ACCOUNT, "alerts"), key(ACCOUNT, "PendingImport", "CUSTOMER")]].concat()));
    let RemedyKind::Fix(fix) = &remedy.kind else { panic!("{:?}", remedy.kind) };
    assert!(fix.actions.is_empty() && fix.notes.iter().any(|n| n.contains("state PendingImport")), "{fix:?}");
    assert!(!script.contains("aws kms"), "{script}");
}

#[test]
fn a_metric_math_alarm_rewritten_on_the_metric_says_so() {
    let math = alarm(ACCOUNT, "Sum", "LessThanThreshold", 1.0, &[topic_arn(ACCOUNT, "alerts")]).with("metrics", json!([{"id": "m1"}, {"id": "e1", "expression": "FILL(m1, 0)", "return_data": true}]));
    let (_, script, _) = rendered(&finding(Reason::AlarmCannotFire, to_alarm(ACCOUNT, math)));
    assert!(script.contains("It is a metric-math alarm"), "{script}");
    let plain = alarm(ACCOUNT, "Sum", "LessThanThreshold", 1.0, &[topic_arn(ACCOUNT, "alerts")]);
    let (_, script, _) = rendered(&finding(Reason::AlarmCannotFire, to_alarm(ACCOUNT, plain)));
    assert!(!script.contains("metric-math"), "{script}");
}

#[test]
fn a_rewritten_alarm_keeps_its_own_period_evaluation_periods_datapoints_and_missing_data() {
    let own = alarm(ACCOUNT, "Sum", "LessThanThreshold", 1.0, &[topic_arn(ACCOUNT, "alerts")])
        .with("period", 60)
        .with("evaluation_periods", 3)
        .with("datapoints_to_alarm", 2)
        .with("treat_missing_data", "breaching");
    let (_, script, terraform) = rendered(&finding(Reason::AlarmCannotFire, to_alarm(ACCOUNT, own)));
    let put = commands(&script).into_iter().find(|c| c.contains("put-metric-alarm")).unwrap();
    for words in ["--period 60", "--evaluation-periods 3", "--datapoints-to-alarm 2", "--treat-missing-data breaching"] {
        assert!(put.contains(words), "{words}: {put}");
    }
    assert!(!script.contains("were not read"), "{script}");
    for line in ["period              = 60", "evaluation_periods  = 3", "datapoints_to_alarm = 2", "treat_missing_data  = \"breaching\""] {
        assert!(terraform.contains(line), "{line}:\n{terraform}");
    }
    // Evidence from before these were read: orgwatch's defaults, and it says so.
    let old = alarm(ACCOUNT, "Sum", "LessThanThreshold", 1.0, &[topic_arn(ACCOUNT, "alerts")]);
    let (_, script, _) = rendered(&finding(Reason::AlarmCannotFire, to_alarm(ACCOUNT, old)));
    assert!(script.contains("--period 300") && script.contains("were not read"), "{script}");
}

#[test]
fn a_tuned_threshold_keeps_every_setting_read_of_the_alarm() {
    let advice = crate::finding::Advice {
        alarm_name: "it's denied".into(),
        region: "eu-west-1".into(),
        namespace: Some("CISBenchmark".into()),
        metric_name: Some("UnauthorizedAPICalls".into()),
        statistic: Some("Sum".into()),
        period_seconds: Some(60),
        evaluation_periods: Some(5),
        datapoints_to_alarm: Some(3),
        comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
        treat_missing_data: Some("notBreaching".into()),
        dimensions: vec![crate::facts::Dimension { name: "Account".into(), value: "111122223333".into() }],
        alarm_actions: vec!["arn:aws:sns:eu-west-1:111122223333:alerts".into()],
        ..Default::default()
    };
    let command = cli::tune_command(&advice, 10.0).unwrap();
    assert_eq!(
        command,
        "aws cloudwatch put-metric-alarm --region eu-west-1 --alarm-name 'it'\\''s denied' --namespace CISBenchmark --metric-name UnauthorizedAPICalls --statistic Sum --period 60 --evaluation-periods 5 --threshold 10 --comparison-operator GreaterThanOrEqualToThreshold --datapoints-to-alarm 3 --treat-missing-data notBreaching --dimensions Name=Account,Value=111122223333 --alarm-actions arn:aws:sns:eu-west-1:111122223333:alerts"
    );
    let percentile = crate::finding::Advice { statistic: Some("p99".into()), ..advice.clone() };
    assert!(cli::tune_command(&percentile, 2.5).unwrap().contains("--extended-statistic p99 --period 60 --evaluation-periods 5 --threshold 2.5"));
    // A metric-math alarm has no metric of its own to name.
    assert_eq!(cli::tune_command(&crate::finding::Advice { namespace: None, metric_name: None, ..advice }, 10.0), None);
}
