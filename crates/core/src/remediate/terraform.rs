//! Remedies as Terraform: one root module per account and region the fixes go to, in the shape
//! of the seed's module (resources named for the control, literal names, `jsonencode` policies).
//! Existing resources are referenced by name through data sources (a log group, a topic of the
//! same account); an existing resource a fix changes (a trail, an alarm, a filter, a topic) is
//! taken over with an `import` block, and what orgwatch cannot see of it (a trail's bucket) is
//! a variable. The provider's `allowed_account_ids` keeps the module to its account.

use super::cli::{DELIVERY_POLICY_NAME, bucket_policy, cancel_deletion_command, delivery_role_policy, delivery_trust_policy, enable_key_command, history_command, key_policy, test_notification_command, threshold};
use super::{Action, AlarmSpec, CompositeSpec, EMAIL_VARIABLE, Fix, MetricSpec, Remedy, RemedyKind, TopicRef, TrailRef, label};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One module: where it goes and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub account_id: String,
    pub region: String,
    pub text: String,
}

/// The modules of the remedies of one audited account, and the comments on findings that have
/// nothing to apply (passing, waived, errors).
pub fn modules(audited: &str, remedies: &[Remedy]) -> (Vec<Module>, String) {
    let mut groups: BTreeMap<(String, String), Vec<(&Remedy, &Fix)>> = BTreeMap::new();
    let mut comments = String::new();
    for remedy in remedies {
        match &remedy.kind {
            RemedyKind::Fix(fix) if !fix.actions.is_empty() => groups.entry((fix.account_id.clone(), fix.region.clone())).or_default().push((remedy, fix)),
            kind => {
                let _ = writeln!(comments, "# {}: {} / {}", remedy.control_id, remedy.status, remedy.reason);
                line_comments(&mut comments, &remedy.message);
                match kind {
                    RemedyKind::Nothing => line_comments(&mut comments, "Nothing to fix."),
                    RemedyKind::Audit { lines, .. } => lines.iter().for_each(|l| line_comments(&mut comments, l)),
                    RemedyKind::Fix(fix) => fix.notes.iter().for_each(|l| line_comments(&mut comments, l)),
                }
            }
        }
    }
    let modules = groups.into_iter().map(|((account_id, region), fixes)| Module { text: module(audited, &account_id, &region, &fixes), account_id, region }).collect();
    (modules, comments)
}

fn line_comments(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "# {line}");
    }
}

/// A Terraform string literal: quotes, backslashes, control characters escaped and template
/// sequences (`${`, `%{`) doubled so nothing is interpolated.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value as an HCL expression, for `jsonencode(…)`.
fn hcl(value: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(items) => format!("[{}]", items.iter().map(|v| hcl(v, indent)).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            let mut out = String::from("{\n");
            for (k, v) in map {
                let _ = writeln!(out, "{pad}{} = {}", string(k), hcl(v, indent + 1));
            }
            out.push_str(&close);
            out.push('}');
            out
        }
    }
}

/// What a module says about one trail, merged over the fixes that change it.
#[derive(Default)]
struct TrailChange {
    trail: Option<TrailRef>,
    logging: bool,
    multi_region: bool,
    all_events: bool,
    /// (log group reference, role label)
    delivery: Option<(String, String)>,
}

struct Writer<'a> {
    out: String,
    account: &'a str,
    region: &'a str,
    partition: String,
    /// Labels in use, by resource type.
    declared: Vec<(String, String)>,
    variables: BTreeMap<String, String>,
}

impl Writer<'_> {
    fn declare(&mut self, kind: &str, name: &str) -> bool {
        let key = (kind.to_owned(), name.to_owned());
        if self.declared.contains(&key) {
            return false;
        }
        self.declared.push(key);
        true
    }

    fn variable(&mut self, name: &str, description: &str) -> String {
        self.variables.insert(name.to_owned(), description.to_owned());
        format!("var.{name}")
    }

    fn import(&mut self, to: &str, id: &str) {
        let _ = writeln!(self.out, "import {{\n  to = {to}\n  id = {}\n}}\n", string(id));
    }

    /// A reference to the log group's name: a data source for one that exists, the resource
    /// for one this module creates.
    fn log_group(&mut self, name: &str, created: &[String]) -> String {
        let l = label(name);
        if created.iter().any(|c| c == name) {
            return format!("aws_cloudwatch_log_group.{l}");
        }
        if self.declare("data.aws_cloudwatch_log_group", &l) {
            let _ = writeln!(self.out, "data \"aws_cloudwatch_log_group\" \"{l}\" {{\n  name = {}\n}}\n", string(name));
        }
        format!("data.aws_cloudwatch_log_group.{l}")
    }

    /// An expression for a topic's ARN.
    fn topic(&mut self, topic: &TopicRef) -> String {
        match topic {
            TopicRef::Created(name) => format!("aws_sns_topic.{}.arn", label(name)),
            TopicRef::Existing(arn) => {
                let mut parts = arn.split(':');
                let (region, account, name) = (parts.nth(3), parts.next(), parts.next());
                match (region, account, name) {
                    (Some(r), Some(a), Some(n)) if r == self.region && a == self.account => {
                        let l = label(n);
                        if self.declare("data.aws_sns_topic", &l) {
                            let _ = writeln!(self.out, "data \"aws_sns_topic\" \"{l}\" {{\n  name = {}\n}}\n", string(n));
                        }
                        format!("data.aws_sns_topic.{l}.arn")
                    }
                    // Another account's topic: no data source can read it, so its ARN.
                    _ => string(arn),
                }
            }
        }
    }
}

fn module(audited: &str, account: &str, region: &str, fixes: &[(&Remedy, &Fix)]) -> String {
    let partition = fixes.first().map(|(_, f)| f.partition.clone()).unwrap_or_else(|| "aws".into());
    let mut w = Writer { out: String::new(), account, region, partition, declared: Vec::new(), variables: BTreeMap::new() };
    let _ = writeln!(w.out, "# orgwatch fix for account {audited}: the Terraform module for account {account}, region {region}.");
    for (remedy, fix) in fixes {
        let _ = writeln!(w.out, "# {}: {} / {}", remedy.control_id, remedy.status, remedy.reason);
        line_comments(&mut w.out, &remedy.message);
        fix.notes.iter().for_each(|n| line_comments(&mut w.out, n));
        if fix.rescan {
            line_comments(&mut w.out, "After apply, scan again: the links after this one were not judged yet.");
        }
    }
    let _ = writeln!(
        w.out,
        "\nterraform {{\n  required_version = \">= 1.5\"\n  required_providers {{\n    aws = {{\n      source  = \"hashicorp/aws\"\n      version = \">= 5.0\"\n    }}\n  }}\n}}\n"
    );
    let _ = writeln!(w.out, "provider \"aws\" {{\n  region              = {}\n  allowed_account_ids = [{}]\n}}\n", string(region), string(account));

    let actions: Vec<&Action> = {
        let mut seen: Vec<&Action> = Vec::new();
        for (_, fix) in fixes {
            for action in &fix.actions {
                if !seen.contains(&action) {
                    seen.push(action);
                }
            }
        }
        seen
    };
    let created_groups: Vec<String> = actions.iter().filter_map(|a| if let Action::CreateLogGroup { name } = a { Some(name.clone()) } else { None }).collect();
    let mut trails: BTreeMap<String, TrailChange> = BTreeMap::new();
    for action in &actions {
        match action {
            Action::StartLogging(t) => trail_change(&mut trails, t).logging = true,
            Action::MakeMultiRegion(t) => trail_change(&mut trails, t).multi_region = true,
            Action::CaptureAllManagementEvents(t) => trail_change(&mut trails, t).all_events = true,
            Action::DeliverToLogs { trail, log_group, role_name } => {
                let group = w.log_group(log_group, &created_groups);
                trail_change(&mut trails, trail).delivery = Some((group, label(role_name)));
            }
            Action::CreateTrailBucket { bucket } => {
                let l = label(bucket);
                let policy = hcl(&bucket_policy(&w.partition, account, bucket), 1);
                let _ = writeln!(w.out, "resource \"aws_s3_bucket\" \"{l}\" {{\n  bucket = {}\n}}\n", string(bucket));
                let _ = writeln!(w.out, "resource \"aws_s3_bucket_policy\" \"{l}\" {{\n  bucket = aws_s3_bucket.{l}.id\n  policy = jsonencode({policy})\n}}\n");
            }
            Action::CreateLogGroup { name } => {
                let _ = writeln!(w.out, "resource \"aws_cloudwatch_log_group\" \"{}\" {{\n  name = {}\n}}\n", label(name), string(name));
            }
            Action::CreateDeliveryRole { role_name, log_group } => {
                let l = label(role_name);
                let trust = hcl(&delivery_trust_policy(), 1);
                let policy = hcl(&delivery_role_policy(&w.partition, region, account, log_group), 1);
                let _ = writeln!(w.out, "resource \"aws_iam_role\" \"{l}\" {{\n  name               = {}\n  assume_role_policy = jsonencode({trust})\n}}\n", string(role_name));
                let _ = writeln!(w.out, "resource \"aws_iam_role_policy\" \"{l}\" {{\n  name   = {}\n  role   = aws_iam_role.{l}.id\n  policy = jsonencode({policy})\n}}\n", string(DELIVERY_POLICY_NAME));
            }
            Action::CreateTrail { name, bucket, log_group, role_name } => {
                let (l, b, g, r) = (label(name), label(bucket), label(log_group), label(role_name));
                let _ = writeln!(
                    w.out,
                    "resource \"aws_cloudtrail\" \"{l}\" {{\n  name                          = {}\n  s3_bucket_name                = aws_s3_bucket.{b}.id\n  is_multi_region_trail         = true\n  include_global_service_events = true\n  enable_logging                = true\n  cloud_watch_logs_group_arn    = \"${{aws_cloudwatch_log_group.{g}.arn}}:*\"\n  cloud_watch_logs_role_arn     = aws_iam_role.{r}.arn\n\n  event_selector {{\n    read_write_type           = \"All\"\n    include_management_events = true\n  }}\n\n  depends_on = [aws_s3_bucket_policy.{b}, aws_iam_role_policy.{r}]\n}}\n",
                    string(name)
                );
            }
            Action::PutMetricFilter { log_group, filter_name, pattern, metric, replaces } => {
                let l = label(filter_name);
                if *replaces {
                    w.import(&format!("aws_cloudwatch_log_metric_filter.{l}"), &format!("{log_group}:{filter_name}"));
                }
                let group = w.log_group(log_group, &created_groups);
                let _ = writeln!(
                    w.out,
                    "resource \"aws_cloudwatch_log_metric_filter\" \"{l}\" {{\n  name           = {}\n  log_group_name = {group}.name\n  pattern        = {}\n\n  metric_transformation {{\n    name      = {}\n    namespace = {}\n    value     = \"1\"\n  }}\n}}\n",
                    string(filter_name),
                    string(pattern),
                    string(&metric.name),
                    string(&metric.namespace)
                );
            }
            Action::CreateTopic { name } => {
                let l = label(name);
                if w.declare("aws_sns_topic", &l) {
                    let _ = writeln!(w.out, "resource \"aws_sns_topic\" \"{l}\" {{\n  name = {}\n}}\n", string(name));
                }
            }
            Action::Subscribe { topic } => {
                let arn = w.topic(topic);
                let email = w.variable("notify_email", &format!("The address that receives the alarms (the CLI script reads ${EMAIL_VARIABLE}). AWS mails a confirmation: the subscription counts once it is confirmed."));
                let l = match topic {
                    TopicRef::Created(name) => label(name),
                    TopicRef::Existing(arn) => label(arn.rsplit(':').next().unwrap_or(arn)),
                };
                if w.declare("aws_sns_topic_subscription", &l) {
                    let _ = writeln!(w.out, "resource \"aws_sns_topic_subscription\" \"{l}\" {{\n  topic_arn = {arn}\n  protocol  = \"email\"\n  endpoint  = {email}\n}}\n");
                }
            }
            Action::PutAlarm(alarm) => alarm_resource(&mut w, alarm, true),
            Action::PutCompositeAlarm(composite) => composite_resource(&mut w, composite),
            Action::EnableAlarmActions { alarm } => alarm_resource(&mut w, alarm, false),
            Action::EncryptTopic { topic_arn, key_alias } => {
                let name = topic_arn.rsplit(':').next().unwrap_or(topic_arn);
                let l = label(name);
                let policy = hcl(&key_policy(&w.partition, account), 1);
                let _ = writeln!(
                    w.out,
                    "resource \"aws_kms_key\" \"{l}\" {{\n  description         = \"SNS topics CloudWatch alarms publish to\"\n  enable_key_rotation = true\n  policy              = jsonencode({policy})\n}}\n"
                );
                let _ = writeln!(w.out, "resource \"aws_kms_alias\" \"{l}\" {{\n  name          = {}\n  target_key_id = aws_kms_key.{l}.key_id\n}}\n", string(key_alias));
                w.import(&format!("aws_sns_topic.{l}"), topic_arn);
                let _ = writeln!(w.out, "resource \"aws_sns_topic\" \"{l}\" {{\n  name              = {}\n  kms_master_key_id = aws_kms_key.{l}.arn\n}}\n", string(name));
            }
            Action::SetTopicPolicy { topic_arn, policy } => {
                let l = label(topic_arn.rsplit(':').next().unwrap_or(topic_arn));
                if w.declare("aws_sns_topic_policy", &l) {
                    let arn = w.topic(&TopicRef::Existing(topic_arn.clone()));
                    line_comments(&mut w.out, &format!("Terraform takes topic {topic_arn}'s access policy over: its statements as they are, and one for CloudWatch."));
                    w.import(&format!("aws_sns_topic_policy.{l}"), topic_arn);
                    let _ = writeln!(w.out, "resource \"aws_sns_topic_policy\" \"{l}\" {{\n  arn    = {arn}\n  policy = jsonencode({})\n}}\n", hcl(policy, 1));
                }
            }
            Action::PutKeyPolicy { key, policy } => {
                let l = label(&format!("key_{}", key.key_id));
                if w.declare("aws_kms_key_policy", &l) {
                    line_comments(&mut w.out, &format!("Terraform takes key {}'s policy over: its statements as they are, and one for CloudWatch.", key.arn));
                    w.import(&format!("aws_kms_key_policy.{l}"), &key.key_id);
                    let _ = writeln!(w.out, "resource \"aws_kms_key_policy\" \"{l}\" {{\n  key_id = {}\n  policy = jsonencode({})\n}}\n", string(&key.key_id), hcl(policy, 1));
                }
            }
            Action::EnableKey(key) => {
                if !actions.iter().any(|a| matches!(a, Action::CancelKeyDeletion(k) if k == key)) {
                    line_comments(
                        &mut w.out,
                        &format!("Key {} is disabled, and no Terraform resource enables an existing key by itself: run `{}`, or set is_enabled = true on the aws_kms_key that manages it.", key.arn, enable_key_command(region, key)),
                    );
                    w.out.push('\n');
                }
            }
            Action::CancelKeyDeletion(key) => {
                line_comments(
                    &mut w.out,
                    &format!(
                        "Key {} is scheduled for deletion, and Terraform cannot cancel a deletion: run `{}`, then `{}`. An aws_kms_key that manages it must stay in its configuration, with is_enabled = true.",
                        key.arn,
                        cancel_deletion_command(region, key),
                        enable_key_command(region, key)
                    ),
                );
                w.out.push('\n');
            }
            Action::TestNotification { alarm_name } => {
                line_comments(
                    &mut w.out,
                    &format!("After apply, set alarm {alarm_name} to ALARM once, so that CloudWatch notifies through the mended path and records it (the alarm's subscribers get it): {}", test_notification_command(region, alarm_name)),
                );
                w.out.push('\n');
            }
            Action::ShowAlarmHistory { alarm_name } => {
                line_comments(&mut w.out, &format!("What CloudWatch recorded of alarm {alarm_name}'s latest notifications: {}", history_command(region, alarm_name)));
                w.out.push('\n');
            }
            Action::ShowSubscriptions { topic_arn } => {
                line_comments(&mut w.out, &format!("No Terraform resource mends a subscriber's endpoint: find the failing one with {}", super::cli::subscriptions_command(region, topic_arn)));
                w.out.push('\n');
            }
        }
    }
    for (arn, change) in trails {
        let Some(trail) = change.trail else { continue };
        let l = label(&trail.name);
        w.import(&format!("aws_cloudtrail.{l}"), &arn);
        let bucket = w.variable(&format!("{l}_s3_bucket_name"), &format!("The S3 bucket trail {} delivers to now (orgwatch does not read it).", trail.name));
        let _ = writeln!(
            w.out,
            "# Terraform takes trail {} over: check that `terraform plan` changes only what this fix is for.",
            trail.name
        );
        let _ = writeln!(w.out, "resource \"aws_cloudtrail\" \"{l}\" {{\n  name                          = {}\n  s3_bucket_name                = {bucket}", string(&trail.name));
        let _ = writeln!(w.out, "  is_multi_region_trail         = true\n  include_global_service_events = true");
        if trail.organization_trail {
            let _ = writeln!(w.out, "  is_organization_trail         = true");
        }
        let _ = writeln!(w.out, "  enable_logging                = true");
        match (&change.delivery, &trail.log_group_arn) {
            (Some((group, role)), _) => {
                let _ = writeln!(w.out, "  cloud_watch_logs_group_arn    = \"${{{group}.arn}}:*\"\n  cloud_watch_logs_role_arn     = aws_iam_role.{role}.arn");
            }
            (None, Some(group_arn)) => {
                let role = w.variable(&format!("{l}_cloud_watch_logs_role_arn"), &format!("The role trail {} delivers to CloudWatch Logs with now (orgwatch does not read it).", trail.name));
                let _ = writeln!(w.out, "  cloud_watch_logs_group_arn    = {}\n  cloud_watch_logs_role_arn     = {role}", string(group_arn));
            }
            (None, None) => {}
        }
        if change.all_events {
            let _ = writeln!(w.out, "\n  event_selector {{\n    read_write_type           = \"All\"\n    include_management_events = true\n  }}");
        }
        let _ = writeln!(w.out, "}}\n");
        let _ = (change.logging, change.multi_region);
    }
    let variables = std::mem::take(&mut w.variables);
    for (name, description) in variables {
        let _ = writeln!(w.out, "variable \"{name}\" {{\n  type        = string\n  description = {}\n}}\n", string(&description));
    }
    w.out.trim_end().to_owned() + "\n"
}

fn trail_change<'m>(trails: &'m mut BTreeMap<String, TrailChange>, trail: &TrailRef) -> &'m mut TrailChange {
    let change = trails.entry(trail.arn.clone()).or_default();
    change.trail.get_or_insert_with(|| trail.clone());
    change
}

fn composite_resource(w: &mut Writer<'_>, composite: &CompositeSpec) {
    let l = label(&composite.name);
    if !w.declare("aws_cloudwatch_composite_alarm", &l) {
        return;
    }
    w.import(&format!("aws_cloudwatch_composite_alarm.{l}"), &composite.name);
    line_comments(&mut w.out, "Terraform manages the composite alarm's whole definition; orgwatch does not read its description or OK and INSUFFICIENT_DATA actions: keep yours.");
    let mut actions: Vec<String> = composite.kept_actions.iter().map(|a| string(a)).collect();
    if let Some(topic) = &composite.topic {
        actions.push(w.topic(topic));
    }
    let _ = writeln!(
        w.out,
        "resource \"aws_cloudwatch_composite_alarm\" \"{l}\" {{\n  alarm_name      = {}\n  alarm_rule      = {}\n  actions_enabled = true\n  alarm_actions   = [{}]",
        string(&composite.name),
        string(&composite.rule),
        actions.join(", ")
    );
    if let Some(suppressor) = &composite.actions_suppressor {
        let _ = writeln!(w.out, "  # It keeps its actions suppressor {}: add an actions_suppressor block with its periods if you had one.", suppressor.replace('\n', " "));
    }
    let _ = writeln!(w.out, "}}\n");
}

fn alarm_resource(w: &mut Writer<'_>, alarm: &AlarmSpec, with_topic: bool) {
    let l = label(&alarm.name);
    if !w.declare("aws_cloudwatch_metric_alarm", &l) {
        return;
    }
    if alarm.replaces || !with_topic {
        w.import(&format!("aws_cloudwatch_metric_alarm.{l}"), &alarm.name);
        if let Some(note) = &alarm.defaults_note {
            line_comments(&mut w.out, &note.replace("put-metric-alarm replaces the alarm's whole definition", "Terraform manages the alarm's whole definition"));
        }
    }
    let MetricSpec { namespace, name } = &alarm.metric;
    let statistic = if alarm.statistic.starts_with('p') || alarm.statistic.starts_with("tm") { "extended_statistic" } else { "statistic" };
    let mut actions: Vec<String> = alarm.kept_actions.iter().map(|a| string(a)).collect();
    if with_topic && let Some(topic) = &alarm.topic {
        actions.push(w.topic(topic));
    }
    let _ = writeln!(w.out, "resource \"aws_cloudwatch_metric_alarm\" \"{l}\" {{\n  alarm_name          = {}", string(&alarm.name));
    if !alarm.description.is_empty() {
        let _ = writeln!(w.out, "  alarm_description   = {}", string(&alarm.description));
    }
    let _ = writeln!(
        w.out,
        "  namespace           = {}\n  metric_name         = {}\n  {statistic:<19} = {}\n  period              = {}\n  evaluation_periods  = {}\n{}  threshold           = {}\n  comparison_operator = {}\n  treat_missing_data  = {}\n  actions_enabled     = true\n  alarm_actions       = [{}]\n}}\n",
        string(namespace),
        string(name),
        string(&alarm.statistic),
        alarm.period,
        alarm.evaluation_periods,
        alarm.datapoints_to_alarm.map_or_else(String::new, |d| format!("  datapoints_to_alarm = {d}\n")),
        threshold(alarm.threshold),
        string(&alarm.comparison_operator),
        string(&alarm.treat_missing_data),
        actions.join(", ")
    );
}
