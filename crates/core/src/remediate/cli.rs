//! Remedies as a POSIX shell script of AWS CLI commands. Every section names the account its
//! commands are for and stops the script when the credentials in use are another account's;
//! every command names its region. Values from the evidence are shell-quoted, never interpolated.

use super::{Action, AlarmSpec, CompositeSpec, EMAIL_VARIABLE, Fix, KeyRef, Remedy, RemedyKind, TEST_REASON, TopicRef, audit_policy, grant, label};
use serde_json::json;
use std::fmt::Write;

/// The script for the remedies of one audited account.
pub fn script(audited: &str, remedies: &[Remedy]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#!/bin/sh");
    let _ = writeln!(out, "# orgwatch fix for account {audited}: AWS CLI commands that mend the links its latest findings name.");
    let fixes: Vec<&Remedy> = remedies.iter().filter(|r| has_commands(r)).collect();
    if fixes.is_empty() {
        let _ = writeln!(out, "# Nothing to run.");
    } else {
        let _ = writeln!(out, "# Run it with the credentials of the account each section names; it stops where they differ.");
        let _ = writeln!(out, "set -eu");
        let _ = writeln!(out, "{}", REQUIRE_ACCOUNT.trim_end());
    }
    if fixes.iter().any(|r| matches!(&r.kind, RemedyKind::Fix(f) if f.actions.iter().any(|a| matches!(a, Action::Subscribe { .. })))) {
        let _ = writeln!(out, ": \"${{{EMAIL_VARIABLE}:?set {EMAIL_VARIABLE} to the address that receives the alarms}}\"");
    }
    let mut done: Vec<(String, String, Action)> = Vec::new();
    for remedy in remedies {
        let _ = writeln!(out);
        let _ = writeln!(out, "# {}: {} / {}", remedy.control_id, remedy.status, remedy.reason);
        comment(&mut out, &remedy.message);
        match &remedy.kind {
            RemedyKind::Nothing => comment(&mut out, "Nothing to fix."),
            RemedyKind::Audit { lines, grant } => {
                for line in lines {
                    comment(&mut out, line);
                }
                if let Some(account) = grant {
                    let _ = writeln!(out, "orgwatch_require_account {}", quote(account));
                    let _ = writeln!(out, "aws iam put-role-policy --role-name {} --policy-name OrgwatchReadOnlyAudit \\\n    --policy-document {}", quote(audit_role(lines)), quote(&audit_policy()));
                }
            }
            RemedyKind::Fix(fix) => render_fix(&mut out, fix, &mut done),
        }
    }
    out
}

/// The role name the audit remedy speaks of (its first line names it).
fn audit_role(lines: &[String]) -> &str {
    lines.first().and_then(|l| l.strip_prefix("The audit role ")).and_then(|l| l.split(' ').next()).unwrap_or("OrgwatchAudit")
}

fn has_commands(remedy: &Remedy) -> bool {
    match &remedy.kind {
        RemedyKind::Fix(fix) => !fix.actions.is_empty(),
        RemedyKind::Audit { grant, .. } => grant.is_some(),
        RemedyKind::Nothing => false,
    }
}

const REQUIRE_ACCOUNT: &str = r#"
orgwatch_require_account() {
    caller=$(aws sts get-caller-identity --query Account --output text)
    if [ "$caller" != "$1" ]; then
        echo "The next steps are for account $1; the credentials in use are account $caller's." >&2
        exit 1
    fi
}
"#;

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "# {line}");
    }
}

fn render_fix(out: &mut String, fix: &Fix, done: &mut Vec<(String, String, Action)>) {
    for note in &fix.notes {
        comment(out, note);
    }
    if fix.actions.is_empty() {
        return;
    }
    let fresh: Vec<&Action> = fix.actions.iter().filter(|a| !done.iter().any(|(acc, reg, d)| *acc == fix.account_id && *reg == fix.region && d == *a)).collect();
    if fresh.is_empty() {
        comment(out, "The steps above fix this too.");
    } else {
        let _ = writeln!(out, "orgwatch_require_account {}", quote(&fix.account_id));
        for action in fresh {
            render_action(out, fix, action);
            done.push((fix.account_id.clone(), fix.region.clone(), action.clone()));
        }
    }
    if fix.rescan {
        comment(out, "Then scan again: the links after this one were not judged yet.");
    }
}

/// Quotes a word for the shell: as is when it holds only safe characters, else in single quotes.
pub fn quote(text: &str) -> String {
    let safe = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,%".contains(c));
    if safe { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

/// The `aws cloudwatch put-metric-alarm` that gives a measured alarm a new threshold and keeps
/// every setting orgwatch read of it; none for an alarm not on one metric (metric math) or
/// whose definition was not read whole. put-metric-alarm replaces the whole alarm: its
/// description and its OK and INSUFFICIENT_DATA actions, which orgwatch does not read, are to
/// be added by hand when it has them ([`TUNE_NOTE`]).
pub fn tune_command(advice: &crate::finding::Advice, threshold_value: f64) -> Option<String> {
    let (namespace, metric, statistic, period, evaluation, operator) = (
        advice.namespace.as_deref()?,
        advice.metric_name.as_deref()?,
        advice.statistic.as_deref()?,
        advice.period_seconds?,
        advice.evaluation_periods?,
        advice.comparison_operator.as_deref()?,
    );
    let region = advice.region.as_str();
    let statistic_flag = if statistic.starts_with('p') || statistic.starts_with("tm") || statistic.starts_with("wm") || statistic.starts_with("tc") || statistic.starts_with("ts") { "--extended-statistic" } else { "--statistic" };
    let mut words = vec![
        "aws".to_owned(),
        "cloudwatch".into(),
        "put-metric-alarm".into(),
        "--region".into(),
        w(region),
        "--alarm-name".into(),
        w(&advice.alarm_name),
        "--namespace".into(),
        w(namespace),
        "--metric-name".into(),
        w(metric),
        statistic_flag.into(),
        w(statistic),
        "--period".into(),
        period.to_string(),
        "--evaluation-periods".into(),
        evaluation.to_string(),
        "--threshold".into(),
        threshold(threshold_value),
        "--comparison-operator".into(),
        w(operator),
    ];
    if let Some(datapoints) = advice.datapoints_to_alarm {
        words.extend(["--datapoints-to-alarm".into(), datapoints.to_string()]);
    }
    if let Some(missing) = &advice.treat_missing_data {
        words.extend(["--treat-missing-data".into(), w(missing)]);
    }
    if !advice.dimensions.is_empty() {
        words.push("--dimensions".into());
        words.extend(advice.dimensions.iter().map(|d| w(&format!("Name={},Value={}", d.name, d.value))));
    }
    if !advice.alarm_actions.is_empty() {
        words.push("--alarm-actions".into());
        words.extend(advice.alarm_actions.iter().map(|a| w(a)));
    }
    Some(words.join(" "))
}

/// What a [`tune_command`] does not keep.
pub const TUNE_NOTE: &str = "put-metric-alarm replaces the whole alarm: add --alarm-description, --ok-actions and --insufficient-data-actions if the alarm has them (orgwatch does not read them), or change only `threshold` in the alarm's Terraform or CloudFormation";

/// A command: `aws <words>`, continued over lines per option.
fn command(out: &mut String, words: &[String]) {
    let mut line = String::from("aws");
    let mut first = true;
    for word in words {
        if word.starts_with("--") && !first && line.len() > 60 {
            line.push_str(" \\\n   ");
        }
        line.push(' ');
        line.push_str(word);
        first = false;
    }
    let _ = writeln!(out, "{line}");
}

fn w(text: &str) -> String {
    quote(text)
}

fn topic_variable(name: &str) -> String {
    format!("topic_{}", label(name))
}

fn topic_word(topic: &TopicRef) -> String {
    match topic {
        TopicRef::Existing(arn) => quote(arn),
        TopicRef::Created(name) => format!("\"${}\"", topic_variable(name)),
    }
}

fn log_group_arn(fix: &Fix, name: &str) -> String {
    format!("arn:{}:logs:{}:{}:log-group:{name}:*", fix.partition, fix.region, fix.account_id)
}

fn role_arn(fix: &Fix, name: &str) -> String {
    format!("arn:{}:iam::{}:role/{name}", fix.partition, fix.account_id)
}

/// The policy of a bucket a trail writes to.
pub(crate) fn bucket_policy(partition: &str, account: &str, bucket: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": format!("arn:{partition}:s3:::{bucket}")},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": format!("arn:{partition}:s3:::{bucket}/AWSLogs/{account}/*"), "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}
        ]
    })
}

pub(crate) fn delivery_trust_policy() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

pub(crate) fn delivery_role_policy(partition: &str, region: &str, account: &str, log_group: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!("arn:{partition}:logs:{region}:{account}:log-group:{log_group}:log-stream:*")}]})
}

/// A key policy: the account administers the key, CloudWatch may use it to publish alarms.
pub(crate) fn key_policy(partition: &str, account: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"},
        grant::key_statement()
    ]})
}

/// The command that reads an alarm's notifications.
pub(crate) fn history_command(region: &str, alarm: &str) -> String {
    format!("aws cloudwatch describe-alarm-history --region {} --alarm-name {} --history-item-type Action --max-records 10", quote(region), quote(alarm))
}

/// The command that lists a topic's subscribers.
pub(crate) fn subscriptions_command(region: &str, topic_arn: &str) -> String {
    format!("aws sns list-subscriptions-by-topic --region {} --topic-arn {}", quote(region), quote(topic_arn))
}

/// The command that sets an alarm to ALARM, so that it notifies.
pub(crate) fn test_notification_command(region: &str, alarm: &str) -> String {
    format!("aws cloudwatch set-alarm-state --region {} --alarm-name {} --state-value ALARM --state-reason {}", quote(region), quote(alarm), quote(TEST_REASON))
}

pub(crate) fn enable_key_command(region: &str, key: &KeyRef) -> String {
    format!("aws kms enable-key --region {} --key-id {}", quote(region), quote(&key.key_id))
}

pub(crate) fn cancel_deletion_command(region: &str, key: &KeyRef) -> String {
    format!("aws kms cancel-key-deletion --region {} --key-id {}", quote(region), quote(&key.key_id))
}

pub(crate) const DELIVERY_POLICY_NAME: &str = "cloudtrail-to-cloudwatch-logs";

pub(crate) fn threshold(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

fn render_action(out: &mut String, fix: &Fix, action: &Action) {
    let region = || vec!["--region".to_owned(), w(&fix.region)];
    let args = |words: &[&str]| -> Vec<String> { words.iter().map(|s| (*s).to_owned()).collect() };
    match action {
        Action::StartLogging(trail) => {
            comment(out, &format!("Start logging on trail {}, in its home region.", trail.name));
            command(out, &[args(&["cloudtrail", "start-logging"]), region(), vec!["--name".into(), w(&trail.arn)]].concat());
        }
        Action::MakeMultiRegion(trail) => {
            comment(out, &format!("Make trail {} log every region (a multi-region trail includes global service events).", trail.name));
            command(out, &[args(&["cloudtrail", "update-trail"]), region(), vec!["--name".into(), w(&trail.arn), "--is-multi-region-trail".into(), "--include-global-service-events".into()]].concat());
        }
        Action::CaptureAllManagementEvents(trail) => {
            comment(out, &format!("Log all management events, read and write, on trail {}.", trail.name));
            comment(out, "This replaces the trail's event selectors: add the data events it also logs, if any, to this selector.");
            let selectors = json!([{"ReadWriteType": "All", "IncludeManagementEvents": true}]).to_string();
            command(out, &[args(&["cloudtrail", "put-event-selectors"]), region(), vec!["--trail-name".into(), w(&trail.arn), "--event-selectors".into(), w(&selectors)]].concat());
        }
        Action::CreateTrailBucket { bucket } => {
            comment(out, "An S3 bucket the new trail writes to, with the policy CloudTrail needs.");
            let mut words = [args(&["s3api", "create-bucket"]), region(), vec!["--bucket".into(), w(bucket)]].concat();
            if fix.region != "us-east-1" {
                words.extend(["--create-bucket-configuration".into(), w(&format!("LocationConstraint={}", fix.region))]);
            }
            command(out, &words);
            let policy = bucket_policy(&fix.partition, &fix.account_id, bucket).to_string();
            command(out, &[args(&["s3api", "put-bucket-policy"]), region(), vec!["--bucket".into(), w(bucket), "--policy".into(), w(&policy)]].concat());
        }
        Action::CreateLogGroup { name } => {
            comment(out, &format!("The CloudWatch Logs group {name}, unless it exists."));
            let query = format!("logGroups[?logGroupName=='{}'].logGroupName", name.replace('\'', "\\'"));
            let _ = writeln!(
                out,
                "if ! aws logs describe-log-groups --region {} --log-group-name-prefix {} --query {} --output text | grep -qxF {}; then",
                w(&fix.region),
                w(name),
                w(&query),
                w(name)
            );
            let _ = writeln!(out, "    aws logs create-log-group --region {} --log-group-name {}", w(&fix.region), w(name));
            let _ = writeln!(out, "fi");
        }
        Action::CreateDeliveryRole { role_name, log_group } => {
            comment(out, &format!("A role CloudTrail assumes to write into {log_group}."));
            let trust = delivery_trust_policy().to_string();
            let _ = writeln!(out, "aws iam get-role --role-name {} >/dev/null 2>&1 || \\", w(role_name));
            command(out, &[args(&["iam", "create-role"]), vec!["--role-name".into(), w(role_name), "--assume-role-policy-document".into(), w(&trust)]].concat());
            let policy = delivery_role_policy(&fix.partition, &fix.region, &fix.account_id, log_group).to_string();
            command(out, &[args(&["iam", "put-role-policy"]), vec!["--role-name".into(), w(role_name), "--policy-name".into(), DELIVERY_POLICY_NAME.into(), "--policy-document".into(), w(&policy)]].concat());
            comment(out, "A new role can take a few seconds to be usable: if CloudTrail calls it invalid, run the next command again.");
        }
        Action::CreateTrail { name, bucket, log_group, role_name } => {
            comment(out, &format!("A multi-region trail {name} that logs all management events into {log_group}."));
            command(
                out,
                &[
                    args(&["cloudtrail", "create-trail"]),
                    region(),
                    vec![
                        "--name".into(),
                        w(name),
                        "--s3-bucket-name".into(),
                        w(bucket),
                        "--is-multi-region-trail".into(),
                        "--include-global-service-events".into(),
                        "--cloud-watch-logs-log-group-arn".into(),
                        w(&log_group_arn(fix, log_group)),
                        "--cloud-watch-logs-role-arn".into(),
                        w(&role_arn(fix, role_name)),
                    ],
                ]
                .concat(),
            );
            command(out, &[args(&["cloudtrail", "start-logging"]), region(), vec!["--name".into(), w(name)]].concat());
        }
        Action::DeliverToLogs { trail, log_group, role_name } => {
            comment(out, &format!("Trail {} delivers to {log_group}, through the role.", trail.name));
            command(
                out,
                &[
                    args(&["cloudtrail", "update-trail"]),
                    region(),
                    vec!["--name".into(), w(&trail.arn), "--cloud-watch-logs-log-group-arn".into(), w(&log_group_arn(fix, log_group)), "--cloud-watch-logs-role-arn".into(), w(&role_arn(fix, role_name))],
                ]
                .concat(),
            );
        }
        Action::PutMetricFilter { log_group, filter_name, pattern, metric, replaces } => {
            if *replaces {
                comment(out, &format!("Metric filter {filter_name} on {log_group} again, publishing 1 per match to {}/{}.", metric.namespace, metric.name));
                comment(out, "put-metric-filter replaces the filter: add its dimensions, default value or unit here if it had any.");
            } else {
                comment(out, &format!("A metric filter on {log_group} with the control's pattern, counting 1 per match in {}/{}.", metric.namespace, metric.name));
            }
            let transformations = json!([{"metricName": metric.name, "metricNamespace": metric.namespace, "metricValue": "1"}]).to_string();
            command(
                out,
                &[
                    args(&["logs", "put-metric-filter"]),
                    region(),
                    vec!["--log-group-name".into(), w(log_group), "--filter-name".into(), w(filter_name), "--filter-pattern".into(), w(pattern), "--metric-transformations".into(), w(&transformations)],
                ]
                .concat(),
            );
        }
        Action::CreateTopic { name } => {
            comment(out, &format!("The SNS topic {name} (create-topic returns the existing one when it exists)."));
            let _ = writeln!(out, "{}=$(aws sns create-topic --region {} --name {} --query TopicArn --output text)", topic_variable(name), w(&fix.region), w(name));
        }
        Action::Subscribe { topic } => {
            comment(out, &format!("Subscribe ${EMAIL_VARIABLE} to the topic. AWS mails a confirmation: the subscription counts only once it is confirmed."));
            command(out, &[args(&["sns", "subscribe"]), region(), vec!["--topic-arn".into(), topic_word(topic), "--protocol".into(), "email".into(), "--notification-endpoint".into(), format!("\"${EMAIL_VARIABLE}\"")]].concat());
        }
        Action::PutAlarm(alarm) => render_alarm(out, fix, alarm),
        Action::PutCompositeAlarm(composite) => render_composite(out, fix, composite),
        Action::EnableAlarmActions { alarm } => {
            comment(out, &format!("Enable the actions of alarm {}.", alarm.name));
            command(out, &[args(&["cloudwatch", "enable-alarm-actions"]), region(), vec!["--alarm-names".into(), w(&alarm.name)]].concat());
        }
        Action::EncryptTopic { topic_arn, key_alias } => {
            comment(out, &format!("A customer-managed KMS key whose policy lets cloudwatch.amazonaws.com use it, as the key of {topic_arn}."));
            let policy = key_policy(&fix.partition, &fix.account_id).to_string();
            let _ = writeln!(
                out,
                "key_id=$(aws kms create-key --region {} --description {} --policy {} --query KeyMetadata.KeyId --output text)",
                w(&fix.region),
                w("SNS topics CloudWatch alarms publish to"),
                w(&policy)
            );
            let _ = writeln!(out, "aws kms enable-key-rotation --region {} --key-id \"$key_id\"", w(&fix.region));
            let _ = writeln!(out, "aws kms create-alias --region {} --alias-name {} --target-key-id \"$key_id\"", w(&fix.region), w(key_alias));
            command(out, &[args(&["sns", "set-topic-attributes"]), region(), vec!["--topic-arn".into(), w(topic_arn), "--attribute-name".into(), "KmsMasterKeyId".into(), "--attribute-value".into(), "\"$key_id\"".into()]].concat());
        }
        Action::SetTopicPolicy { topic_arn, policy } => {
            comment(out, &format!("The access policy of topic {topic_arn}: its statements as they are, and one that lets {} publish the alarms.", grant::CLOUDWATCH));
            let text = policy.to_string();
            command(out, &[args(&["sns", "set-topic-attributes"]), region(), vec!["--topic-arn".into(), w(topic_arn), "--attribute-name".into(), "Policy".into(), "--attribute-value".into(), w(&text)]].concat());
        }
        Action::PutKeyPolicy { key, policy } => {
            comment(out, &format!("The policy of key {}: its statements as they are, and one that lets {} use the key.", key.arn, grant::CLOUDWATCH));
            let text = policy.to_string();
            command(out, &[args(&["kms", "put-key-policy"]), region(), vec!["--key-id".into(), w(&key.key_id), "--policy-name".into(), "default".into(), "--policy".into(), w(&text)]].concat());
        }
        Action::EnableKey(key) => {
            comment(out, &format!("Enable key {}.", key.arn));
            let _ = writeln!(out, "{}", enable_key_command(&fix.region, key));
        }
        Action::CancelKeyDeletion(key) => {
            comment(out, &format!("Cancel the deletion of key {} (it is then disabled).", key.arn));
            let _ = writeln!(out, "{}", cancel_deletion_command(&fix.region, key));
        }
        Action::TestNotification { alarm_name } => {
            comment(out, &format!("Set alarm {alarm_name} to ALARM once, so that CloudWatch notifies through the mended path and records it; the alarm's subscribers get this notification, and the alarm goes back to its state at its next evaluation."));
            let _ = writeln!(out, "{}", test_notification_command(&fix.region, alarm_name));
        }
        Action::ShowAlarmHistory { alarm_name } => {
            comment(out, &format!("What CloudWatch recorded of alarm {alarm_name}'s latest notifications (it changes nothing)."));
            let _ = writeln!(out, "{}", history_command(&fix.region, alarm_name));
        }
        Action::ShowSubscriptions { topic_arn } => {
            comment(out, &format!("Topic {topic_arn}'s subscribers, one of which fails every delivery (it changes nothing)."));
            let _ = writeln!(out, "{}", subscriptions_command(&fix.region, topic_arn));
        }
    }
}

fn render_composite(out: &mut String, fix: &Fix, composite: &CompositeSpec) {
    comment(out, &format!("Composite alarm {} again, its actions enabled, with rule {}.", composite.name, composite.rule));
    let mut words = vec!["cloudwatch".to_owned(), "put-composite-alarm".into(), "--region".into(), w(&fix.region), "--alarm-name".into(), w(&composite.name), "--alarm-rule".into(), w(&composite.rule), "--actions-enabled".into()];
    let mut actions: Vec<String> = composite.kept_actions.iter().map(|a| w(a)).collect();
    if let Some(topic) = &composite.topic {
        actions.push(topic_word(topic));
    }
    if !actions.is_empty() {
        words.push("--alarm-actions".into());
        words.extend(actions);
    }
    if let Some(suppressor) = &composite.actions_suppressor {
        comment(out, &format!("It keeps its actions suppressor {suppressor}: add --actions-suppressor and its periods to the command if you had them."));
    }
    command(out, &words);
}

fn render_alarm(out: &mut String, fix: &Fix, alarm: &AlarmSpec) {
    let topic = alarm.topic.as_ref();
    let what = match (alarm.replaces, topic) {
        (false, Some(TopicRef::Existing(arn))) => format!("An alarm {} on {}/{} that notifies {arn}, a topic that works.", alarm.name, alarm.metric.namespace, alarm.metric.name),
        (false, _) => format!("An alarm {} on {}/{} that notifies the topic.", alarm.name, alarm.metric.namespace, alarm.metric.name),
        (true, _) => format!("Alarm {} again, with {} {} {}.", alarm.name, alarm.statistic, alarm.comparison_operator, threshold(alarm.threshold)),
    };
    comment(out, &what);
    if let Some(note) = &alarm.defaults_note {
        comment(out, note);
    }
    let statistic = if alarm.statistic.starts_with('p') || alarm.statistic.starts_with("tm") { "--extended-statistic" } else { "--statistic" };
    let mut words = vec!["cloudwatch".to_owned(), "put-metric-alarm".into(), "--region".into(), w(&fix.region), "--alarm-name".into(), w(&alarm.name)];
    if !alarm.description.is_empty() {
        words.extend(["--alarm-description".into(), w(&alarm.description)]);
    }
    words.extend([
        "--metric-name".into(),
        w(&alarm.metric.name),
        "--namespace".into(),
        w(&alarm.metric.namespace),
        statistic.into(),
        w(&alarm.statistic),
        "--period".into(),
        alarm.period.to_string(),
        "--evaluation-periods".into(),
        alarm.evaluation_periods.to_string(),
        "--threshold".into(),
        threshold(alarm.threshold),
        "--comparison-operator".into(),
        w(&alarm.comparison_operator),
        "--treat-missing-data".into(),
        w(&alarm.treat_missing_data),
    ]);
    if let Some(datapoints) = alarm.datapoints_to_alarm {
        words.extend(["--datapoints-to-alarm".into(), datapoints.to_string()]);
    }
    let mut actions: Vec<String> = alarm.kept_actions.iter().map(|a| w(a)).collect();
    if let Some(topic) = topic {
        actions.push(topic_word(topic));
    }
    if !actions.is_empty() {
        words.push("--alarm-actions".into());
        words.extend(actions);
    }
    command(out, &words);
}
