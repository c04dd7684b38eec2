//! Remediation, pure and beside the judging: from a [`Finding`] — its reason and the real names
//! in its evidence — to the steps that mend the link that broke, rendered as a shell script of
//! AWS CLI commands ([`cli`]) or as a Terraform module per account and region ([`terraform`]).
//!
//! A fix mends the first broken link and what cannot exist without it (a new log group has no
//! metric filter, a new metric has no alarm), nothing more: links after the broken one that
//! the judgement never reached are not guessed at, and the fix says to scan again. A fix is
//! addressed to the account that owns the broken link — the management account for an
//! organization trail's chain, the topic's owner for a central topic — and says so. An alarm
//! that needs a topic reuses one the judgement saw working for that account and region before
//! a new one is created.
//!
//! A topic's access policy and a key's policy are written whole, so a fix keeps every statement
//! the evidence shows and adds the one CloudWatch needs ([`grant`]); a Deny that refuses
//! CloudWatch is kept and named, never removed.

use crate::controls::{self, Control};
use crate::finding::{EvidenceLink, Finding, LinkKind, Reason, Status, WorkingTopic};

pub mod cli;
pub mod grant;
pub mod terraform;

/// What a fix is rendered with besides the finding.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// The region the scan called DescribeTrails in: where a trail is created when none exists.
    pub region: &'a str,
    /// The audit role's name, for the fixes of `ERROR` findings.
    pub audit_role_name: &'a str,
}

/// The IAM actions of the audit role, as `config/iam/audit-role-policy.json` grants them.
pub const AUDIT_ACTIONS: [&str; crate::request::CHAIN_READS.len()] = crate::request::CHAIN_READS;

/// Names orgwatch gives what it creates.
pub const NAMESPACE: &str = "CISBenchmark";
pub const TOPIC_NAME: &str = "security-alerts";
/// The environment variable the CLI script reads the subscriber's address from.
pub const EMAIL_VARIABLE: &str = "ORGWATCH_NOTIFY_EMAIL";

/// The remedy of one finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Remedy {
    pub account_id: String,
    pub control_id: String,
    pub status: Status,
    pub reason: Reason,
    pub message: String,
    pub kind: RemedyKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RemedyKind {
    /// PASS or NOT_APPLICABLE: nothing to fix.
    Nothing,
    /// FAIL: steps to run in one account and region.
    Fix(Fix),
    /// ERROR: what the audit role is missing (or why nothing is), as sentences; `grant` when
    /// the fix is to give the audit role in that account its read-only policy.
    Audit { lines: Vec<String>, grant: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// The account whose credentials run the fix: the owner of the broken link.
    pub account_id: String,
    pub region: String,
    /// The ARN partition (`aws`, `aws-us-gov`, `aws-cn`).
    pub partition: String,
    /// Sentences printed above the steps: what broke, and where the fix goes and why.
    pub notes: Vec<String>,
    pub actions: Vec<Action>,
    /// Links after the broken one were not judged: scan again once this is applied.
    pub rescan: bool,
}

/// An existing trail, by ARN, name and home region.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailRef {
    pub arn: String,
    pub name: String,
    pub organization_trail: bool,
    pub log_group_arn: Option<String>,
}

/// A metric a filter publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSpec {
    pub namespace: String,
    pub name: String,
}

/// The topic an alarm notifies.
#[derive(Clone, Debug, PartialEq)]
pub enum TopicRef {
    /// An existing topic, by ARN.
    Existing(String),
    /// The topic a [`Action::CreateTopic`] of the same fix creates.
    Created(String),
}

/// The settings an alarm is written with.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub metric: MetricSpec,
    pub statistic: String,
    pub comparison_operator: String,
    pub threshold: f64,
    /// Actions kept from the alarm being rewritten.
    pub kept_actions: Vec<String>,
    pub topic: Option<TopicRef>,
    /// The alarm exists and is rewritten: put-metric-alarm replaces its whole definition.
    pub replaces: bool,
    /// What put-metric-alarm replaces that orgwatch does not read (description, OK actions).
    pub defaults_note: Option<String>,
    /// `Period` in seconds: the alarm's own, else [`AlarmSpec::PERIOD`].
    pub period: u32,
    /// `EvaluationPeriods`: the alarm's own, else [`AlarmSpec::EVALUATION_PERIODS`].
    pub evaluation_periods: u32,
    /// `DatapointsToAlarm`, when the alarm has one.
    pub datapoints_to_alarm: Option<u32>,
    /// `TreatMissingData`: the alarm's own, else `notBreaching`.
    pub treat_missing_data: String,
}

impl AlarmSpec {
    /// What a new alarm is written with.
    pub const PERIOD: u32 = 300;
    pub const EVALUATION_PERIODS: u32 = 1;
    pub const TREAT_MISSING_DATA: &'static str = "notBreaching";
}

/// A composite alarm as it is written again (`put-composite-alarm` replaces its definition).
#[derive(Clone, Debug, PartialEq)]
pub struct CompositeSpec {
    pub name: String,
    pub rule: String,
    /// Actions kept from the composite being rewritten.
    pub kept_actions: Vec<String>,
    pub topic: Option<TopicRef>,
    pub actions_suppressor: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    StartLogging(TrailRef),
    MakeMultiRegion(TrailRef),
    CaptureAllManagementEvents(TrailRef),
    /// An S3 bucket CloudTrail may write to, for a new trail.
    CreateTrailBucket { bucket: String },
    CreateLogGroup { name: String },
    /// A role CloudTrail assumes to write into the log group.
    CreateDeliveryRole { role_name: String, log_group: String },
    /// A new multi-region trail, logging, delivering to the log group with the role.
    CreateTrail { name: String, bucket: String, log_group: String, role_name: String },
    /// An existing trail made to deliver to a log group with a role.
    DeliverToLogs { trail: TrailRef, log_group: String, role_name: String },
    PutMetricFilter { log_group: String, filter_name: String, pattern: String, metric: MetricSpec, replaces: bool },
    CreateTopic { name: String },
    Subscribe { topic: TopicRef },
    PutAlarm(AlarmSpec),
    /// A composite alarm written again with its actions enabled, its rule and its actions.
    PutCompositeAlarm(CompositeSpec),
    /// The alarm's actions enabled; the alarm as the evidence shows it, for Terraform.
    EnableAlarmActions { alarm: AlarmSpec },
    /// A customer-managed key CloudWatch may use, set as the topic's key.
    EncryptTopic { topic_arn: String, key_alias: String },
    /// The topic's access policy replaced by `policy`: its own statements kept, one added that
    /// lets CloudWatch publish.
    SetTopicPolicy { topic_arn: String, policy: serde_json::Value },
    /// The key's policy (`default`, its only one) replaced by `policy`: its own statements
    /// kept, CloudWatch's added.
    PutKeyPolicy { key: KeyRef, policy: serde_json::Value },
    EnableKey(KeyRef),
    /// A key pending deletion kept; it is then disabled, and an [`Action::EnableKey`] follows.
    CancelKeyDeletion(KeyRef),
    /// The alarm set to ALARM by hand: a real notification through the mended path, so that
    /// CloudWatch records one that works (it notifies the alarm's subscribers).
    TestNotification { alarm_name: String },
    /// What CloudWatch recorded of the alarm's notifications, to look into a failure.
    ShowAlarmHistory { alarm_name: String },
    /// The topic's subscribers, to find the one that fails (it changes nothing).
    ShowSubscriptions { topic_arn: String },
}

/// An existing KMS key: its ARN and its id (the last part of the ARN).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRef {
    pub arn: String,
    pub key_id: String,
}

/// The remedy of a finding.
pub fn remedy(finding: &Finding, settings: &Settings<'_>) -> Remedy {
    let kind = match finding.status {
        Status::Pass | Status::NotApplicable => RemedyKind::Nothing,
        Status::Error => audit_remedy(finding, settings),
        Status::Fail => RemedyKind::Fix(fix(finding, settings)),
    };
    Remedy { account_id: finding.account_id.clone(), control_id: finding.control_id.clone(), status: finding.status, reason: finding.reason, message: finding.message.clone(), kind }
}

/// The read-only policy of the audit role, as JSON.
pub fn audit_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "OrgwatchReadOnlyAudit", "Effect": "Allow", "Action": AUDIT_ACTIONS, "Resource": "*"}]
    })
    .to_string()
}

fn audit_remedy(finding: &Finding, settings: &Settings<'_>) -> RemedyKind {
    let role = settings.audit_role_name;
    let unseen = finding.evidence.unseen.as_ref();
    let (operation, owner) = unseen.map_or(("the read", finding.account_id.as_str()), |u| (u.operation.as_str(), u.account_id.as_str()));
    match finding.reason {
        Reason::AccessDenied => RemedyKind::Audit {
            lines: vec![
                format!("The audit role {role} in account {owner} may not call {operation}."),
                format!("Give it orgwatch's read-only policy (config/iam/audit-role-policy.json: {}).", AUDIT_ACTIONS.join(", ")),
                "A service control policy or a permissions boundary that denies the action must allow it too.".into(),
            ],
            grant: Some(owner.to_owned()),
        },
        Reason::RoleAssumptionFailed => RemedyKind::Audit {
            lines: vec![
                format!("The audit role arn:aws:iam::{owner}:role/{role} could not be assumed."),
                format!("Create it in account {owner} with the trust policy config/iam/audit-role-trust-policy.json (orgwatch's identity, the external ID) and the policy config/iam/audit-role-policy.json;"),
                "orgwatch's own identity needs sts:AssumeRole on it (config/iam/orgwatch-identity-policy.json).".into(),
            ],
            grant: None,
        },
        Reason::OutsideOrganization => RemedyKind::Audit {
            lines: vec![
                format!("Account {owner} owns a link of this chain and is outside the organization, so no audit role reads it ({operation})."),
                "Move the link into an account of the organization (a topic of the security account, say), or audit that account too.".into(),
            ],
            grant: None,
        },
        _ => RemedyKind::Audit {
            lines: vec![format!("The audit role is not missing a permission: {operation} in account {owner} failed (throttling, a 5xx or a timeout). Scan again.")],
            grant: None,
        },
    }
}

/// The links of the evidence by kind: the last one of that kind.
struct Links<'f> {
    finding: &'f Finding,
}

impl<'f> Links<'f> {
    fn last(&self, kind: LinkKind) -> Option<&'f EvidenceLink> {
        self.finding.evidence.links.iter().rev().find(|l| l.kind == kind)
    }

    /// The alarm that sends the notification: the last composite alarm above the alarm on the
    /// metric, or that alarm.
    fn notifier(&self) -> Option<&'f EvidenceLink> {
        self.finding.evidence.links.iter().rev().find(|l| matches!(l.kind, LinkKind::CompositeAlarm | LinkKind::Alarm))
    }

    fn account_of(&self, link: &EvidenceLink) -> String {
        link.account_id.clone().or_else(|| arn_field(&link.id, 4).map(str::to_owned)).unwrap_or_else(|| self.finding.account_id.clone())
    }

    fn region_of(&self, link: &EvidenceLink, default: &str) -> String {
        link.region.clone().or_else(|| arn_field(&link.id, 3).map(str::to_owned)).unwrap_or_else(|| default.to_owned())
    }
}

fn arn_field(arn: &str, index: usize) -> Option<&str> {
    arn.strip_prefix("arn:")?;
    arn.split(':').nth(index).filter(|f| !f.is_empty())
}

fn trail_ref(link: &EvidenceLink) -> TrailRef {
    let name = link.attribute("name").map(str::to_owned).unwrap_or_else(|| link.id.rsplit('/').next().unwrap_or(&link.id).to_owned());
    TrailRef {
        arn: link.id.clone(),
        name,
        organization_trail: link.attributes.get("organization_trail").and_then(serde_json::Value::as_bool).unwrap_or(false),
        log_group_arn: link.attribute("log_group_arn").map(str::to_owned),
    }
}

fn log_group_name(link: &EvidenceLink) -> String {
    link.attribute("name").map(str::to_owned).unwrap_or_else(|| crate::facts::LogGroupRef::from_arn(&link.id).map(|g| g.name).unwrap_or_else(|| link.id.clone()))
}

fn metric_spec(link: &EvidenceLink) -> MetricSpec {
    match (link.attribute("namespace"), link.attribute("name")) {
        (Some(namespace), Some(name)) => MetricSpec { namespace: namespace.into(), name: name.into() },
        _ => {
            let (namespace, name) = link.id.rsplit_once('/').unwrap_or((NAMESPACE, &link.id));
            MetricSpec { namespace: namespace.into(), name: name.into() }
        }
    }
}

fn alarm_name(link: &EvidenceLink) -> String {
    link.attribute("name").map(str::to_owned).unwrap_or_else(|| link.id.splitn(7, ':').nth(6).unwrap_or(&link.id).to_owned())
}

/// A topic that works for an alarm of `account` in `region`: owned there or already notified
/// from there by an enabled alarm.
pub fn reusable_topic<'t>(topics: &'t [WorkingTopic], account: &str, region: &str) -> Option<&'t WorkingTopic> {
    let usable = |t: &&WorkingTopic| t.region == region && (t.account_id == account || t.notified_from.iter().any(|a| a == account));
    topics.iter().filter(usable).find(|t| t.account_id == account).or_else(|| topics.iter().find(usable))
}

/// Where a fix goes and the sentences that say so.
struct Target {
    account_id: String,
    region: String,
    notes: Vec<String>,
}

fn target(finding: &Finding, owner: String, region: String, why: &str) -> Target {
    let mut notes = Vec::new();
    if owner != finding.account_id {
        notes.push(format!("The broken link belongs to account {owner} ({why}), so this fix goes there, not to account {}.", finding.account_id));
    }
    Target { account_id: owner, region, notes }
}

fn fix(finding: &Finding, settings: &Settings<'_>) -> Fix {
    let links = Links { finding };
    let control = controls::find(&finding.control_id);
    let partition = finding.evidence.links.iter().find_map(|l| arn_field(&l.id, 1).filter(|_| l.id.starts_with("arn:"))).unwrap_or("aws").to_owned();
    let trail = links.last(LinkKind::Trail);
    let owner_why = |link: &EvidenceLink| match link.kind {
        LinkKind::Topic | LinkKind::Subscription | LinkKind::TopicPolicy => "it owns the topic".to_owned(),
        LinkKind::KmsKey | LinkKind::KeyPolicy => "it owns the topic's key".to_owned(),
        _ if trail.and_then(|t| t.attributes.get("organization_trail")).and_then(serde_json::Value::as_bool) == Some(true) => {
            format!("it owns the organization trail {} and its chain", trail.map(|t| t.id.as_str()).unwrap_or_default())
        }
        _ => "it owns that part of the chain".to_owned(),
    };
    let at = |link: &EvidenceLink| target(finding, links.account_of(link), links.region_of(link, settings.region), &owner_why(link));
    // A policy rewritten where it lives, with the notes that go with it.
    let rewrite = |link: &EvidenceLink, notes: Vec<String>, action: Option<Action>| {
        let mut target = at(link);
        target.notes.extend(notes);
        (target, action.into_iter().collect::<Vec<_>>())
    };
    let mut rescan = false;
    // A composite alarm above the alarm is the one that notifies: it is mended, and the alarm
    // it serves is left without actions of its own.
    if let Some(composite) = links.last(LinkKind::CompositeAlarm)
        && matches!(finding.reason, Reason::AlarmActionsDisabled | Reason::AlarmCannotFire | Reason::NoAlarmNotification | Reason::SnsTopicNotFound)
    {
        let child = links.last(LinkKind::Alarm).map(alarm_name).unwrap_or_default();
        let target = at(composite);
        let (target, actions) = composite_fix(finding, composite, &child, target, &links);
        let Target { account_id, region, notes } = target;
        return Fix { account_id, region, partition, notes, actions, rescan: true };
    }
    let (target, actions) = match finding.reason {
        Reason::NoMultiRegionTrail => match trail {
            Some(link) => {
                rescan = true;
                (at(link), vec![Action::MakeMultiRegion(trail_ref(link))])
            }
            None => {
                let target = target(finding, finding.account_id.clone(), settings.region.to_owned(), "");
                let name = "cis-multi-region";
                let bucket = format!("cloudtrail-{}-{}", target.account_id, target.region);
                let log_group = format!("CloudTrail/{name}");
                let role_name = format!("CloudTrailToCloudWatchLogs-{name}");
                let mut actions = vec![
                    Action::CreateTrailBucket { bucket: bucket.clone() },
                    Action::CreateLogGroup { name: log_group.clone() },
                    Action::CreateDeliveryRole { role_name: role_name.clone(), log_group: log_group.clone() },
                    Action::CreateTrail { name: name.into(), bucket, log_group: log_group.clone(), role_name },
                ];
                actions.extend(new_chain(finding, control, &target, &log_group));
                (target, actions)
            }
        },
        Reason::TrailNotLogging => match trail {
            Some(link) => {
                rescan = true;
                (at(link), vec![Action::StartLogging(trail_ref(link))])
            }
            None => return missing(finding, settings, "trail"),
        },
        Reason::ManagementEventsNotCaptured => match trail {
            Some(link) => {
                rescan = true;
                (at(link), vec![Action::CaptureAllManagementEvents(trail_ref(link))])
            }
            None => return missing(finding, settings, "trail"),
        },
        Reason::TrailNotSendingToCloudwatch => match trail {
            Some(link) => {
                let target = at(link);
                let trail = trail_ref(link);
                let log_group = format!("CloudTrail/{}", trail.name);
                let role_name = format!("CloudTrailToCloudWatchLogs-{}", trail.name);
                let mut actions = vec![
                    Action::CreateLogGroup { name: log_group.clone() },
                    Action::CreateDeliveryRole { role_name: role_name.clone(), log_group: log_group.clone() },
                    Action::DeliverToLogs { trail, log_group: log_group.clone(), role_name },
                ];
                actions.extend(new_chain(finding, control, &target, &log_group));
                (target, actions)
            }
            None => return missing(finding, settings, "trail"),
        },
        Reason::CloudwatchDeliveryFailing => match (trail, links.last(LinkKind::LogGroup)) {
            (Some(trail_link), Some(group)) => {
                rescan = true;
                let trail = trail_ref(trail_link);
                let log_group = log_group_name(group);
                let role_name = format!("CloudTrailToCloudWatchLogs-{}", trail.name);
                let mut target = at(group);
                target.notes.push("CloudTrail gets a role that may write into the log group; the role the trail uses now is replaced.".into());
                (target, vec![Action::CreateDeliveryRole { role_name: role_name.clone(), log_group: log_group.clone() }, Action::DeliverToLogs { trail, log_group, role_name }])
            }
            _ => return missing(finding, settings, "log group"),
        },
        Reason::NoMatchingMetricFilter => match links.last(LinkKind::LogGroup) {
            Some(group) => {
                let target = at(group);
                let actions = new_chain(finding, control, &target, &log_group_name(group));
                (target, actions)
            }
            None => return missing(finding, settings, "log group"),
        },
        Reason::MetricFilterNeverCounts => match (links.last(LinkKind::LogGroup), links.last(LinkKind::MetricFilter)) {
            (Some(group), Some(filter)) => {
                let target = at(group);
                let log_group = log_group_name(group);
                match links.last(LinkKind::Metric) {
                    Some(metric) => {
                        rescan = true;
                        let pattern = filter.detail.clone().unwrap_or_default();
                        (target, vec![Action::PutMetricFilter { log_group, filter_name: filter.id.clone(), pattern, metric: metric_spec(metric), replaces: true }])
                    }
                    // The filter publishes no metric: it gets the control's, and an alarm on it.
                    None => {
                        let pattern = filter.detail.clone().unwrap_or_default();
                        let metric = MetricSpec { namespace: NAMESPACE.into(), name: controls::metric_name(&finding.control_id) };
                        let mut actions = vec![Action::PutMetricFilter { log_group, filter_name: filter.id.clone(), pattern, metric: metric.clone(), replaces: true }];
                        actions.extend(alarm_with_topic(finding, &target, new_alarm(finding, control, metric)));
                        (target, actions)
                    }
                }
            }
            _ => return missing(finding, settings, "metric filter"),
        },
        Reason::NoAlarmOnMetric => match links.last(LinkKind::Metric) {
            Some(metric) => {
                let target = at(metric);
                let actions = alarm_with_topic(finding, &target, new_alarm(finding, control, metric_spec(metric)));
                (target, actions)
            }
            None => return missing(finding, settings, "metric"),
        },
        Reason::AlarmActionsDisabled => match links.last(LinkKind::Alarm) {
            Some(alarm) => {
                rescan = true;
                let spec = existing_alarm(alarm, links.last(LinkKind::Metric).map(metric_spec).unwrap_or(MetricSpec { namespace: NAMESPACE.into(), name: String::new() }));
                (at(alarm), vec![Action::EnableAlarmActions { alarm: spec }])
            }
            None => return missing(finding, settings, "alarm"),
        },
        Reason::AlarmCannotFire => match (links.last(LinkKind::Alarm), links.last(LinkKind::Metric)) {
            (Some(alarm), Some(metric)) => {
                rescan = true;
                let mut target = at(alarm);
                let spec = corrected_alarm(alarm, metric_spec(metric));
                if metric.attributes.get("has_dimensions").and_then(serde_json::Value::as_bool) == Some(true) {
                    target.notes.push("The metric filter publishes dimensions: name them in the alarm too (--dimensions), orgwatch does not read their values.".into());
                }
                (target, vec![Action::PutAlarm(spec)])
            }
            _ => return missing(finding, settings, "alarm"),
        },
        Reason::NoAlarmNotification | Reason::SnsTopicNotFound => match (links.last(LinkKind::Alarm), links.last(LinkKind::Metric)) {
            (Some(alarm), Some(metric)) => {
                let dead = (finding.reason == Reason::SnsTopicNotFound).then(|| links.last(LinkKind::Topic)).flatten();
                let target = at(alarm);
                let mut spec = existing_alarm(alarm, metric_spec(metric));
                if let Some(dead) = dead {
                    spec.kept_actions.retain(|a| *a != dead.id);
                }
                let reuse = reusable_topic(&finding.evidence.working_topics, &target.account_id, &target.region).is_some();
                match dead {
                    // The missing topic was the alarm's own account's: recreate it by name and
                    // the alarm notifies it again, unchanged — unless a working topic exists.
                    Some(dead) if !reuse && links.account_of(dead) == target.account_id && links.region_of(dead, &target.region) == target.region => {
                        let name = dead.id.rsplit(':').next().unwrap_or(TOPIC_NAME).to_owned();
                        let topic = TopicRef::Created(name.clone());
                        (target, vec![Action::CreateTopic { name }, Action::Subscribe { topic }])
                    }
                    _ => {
                        let actions = alarm_with_topic(finding, &target, spec);
                        (target, actions)
                    }
                }
            }
            _ => return missing(finding, settings, "alarm"),
        },
        Reason::NoConfirmedSubscription => match links.last(LinkKind::Topic) {
            Some(topic) => (at(topic), vec![Action::Subscribe { topic: TopicRef::Existing(topic.id.clone()) }]),
            None => return missing(finding, settings, "topic"),
        },
        Reason::SnsTopicPolicyDeniesPublish => match topic_policy_fix(&links) {
            Ok((link, notes, action)) => {
                rescan = true;
                rewrite(link, notes, action)
            }
            Err(what) => return missing(finding, settings, what),
        },
        Reason::SnsTopicUnpublishable => {
            match finding.evidence.links.last() {
                Some(last) if last.kind == LinkKind::KeyPolicy => match key_policy_fix(&links) {
                    Ok((link, notes, action)) => {
                        rescan = true;
                        rewrite(link, notes, action)
                    }
                    Err(what) => return missing(finding, settings, what),
                },
                Some(key_link) if key_link.kind == LinkKind::KmsKey => {
                    let key = key_ref(key_link);
                    let state = key_link.attribute("state").unwrap_or_default();
                    let aws_managed = key_link.attribute("manager").is_some_and(|m| m.eq_ignore_ascii_case("AWS"));
                    match (aws_managed, state) {
                        (true, _) => match links.last(LinkKind::Topic) {
                            Some(topic) => {
                                rescan = true;
                                (at(topic), vec![encrypt_topic(topic)])
                            }
                            None => return missing(finding, settings, "topic"),
                        },
                        (false, "Disabled") => {
                            rescan = true;
                            let mut target = at(key_link);
                            target.notes.push(format!("Key {} is disabled: enabling it lets the topic's messages be encrypted again. Its policy is judged once it is enabled.", key.arn));
                            (target, vec![Action::EnableKey(key)])
                        }
                        (false, "PendingDeletion" | "PendingReplicaDeletion") => {
                            rescan = true;
                            let mut target = at(key_link);
                            target.notes.push(format!("Key {} is scheduled for deletion: cancelling the deletion leaves it disabled, so it is enabled after. Its policy is judged once it is enabled.", key.arn));
                            (target, vec![Action::CancelKeyDeletion(key.clone()), Action::EnableKey(key)])
                        }
                        (false, "Enabled") => return missing(finding, settings, "key policy"),
                        (false, state) => {
                            rescan = true;
                            let mut target = at(key_link);
                            target.notes.push(format!(
                                "Key {} is in state {state}, which no command of orgwatch's turns into Enabled (import its key material, or reconnect its custom key store); or give the topic another key CloudWatch may use.",
                                key.arn
                            ));
                            (target, Vec::new())
                        }
                    }
                }
                // The AWS-managed key, or a key that does not exist: a customer-managed one.
                _ => match links.last(LinkKind::Topic) {
                    Some(topic) => {
                        rescan = true;
                        (at(topic), vec![encrypt_topic(topic)])
                    }
                    None => return missing(finding, settings, "topic"),
                },
            }
        }
        Reason::AlarmActionFailed => match action_failed_fix(&links, &at) {
            Ok(fixed) => fixed,
            Err(what) => return missing(finding, settings, what),
        },
        // The subscribers are outside what orgwatch reads: say where to look, change nothing.
        Reason::SubscriberDeliveryFailing => match links.last(LinkKind::Topic) {
            Some(topic) => {
                let mut target = at(topic);
                target.notes.push(format!(
                    "SNS delivered none of topic {}'s notifications in the window measured: every subscriber failed (an HTTPS endpoint that is gone, a forwarding Lambda function that fails, a deleted queue).",
                    topic.id
                ));
                target.notes.push(format!(
                    "Mend or replace the failing endpoint among its subscribers below, and turn on the topic's delivery status logging to see why deliveries fail; then send a test notification (aws cloudwatch set-alarm-state … --state-value ALARM) and watch NumberOfNotificationsDelivered."
                ));
                (target, vec![Action::ShowSubscriptions { topic_arn: topic.id.clone() }])
            }
            None => return missing(finding, settings, "topic"),
        },
        // Not FAIL reasons; a FAIL finding never has them.
        Reason::Compliant
        | Reason::Waived
        | Reason::RoleAssumptionFailed
        | Reason::AccessDenied
        | Reason::ApiError
        | Reason::OutsideOrganization
        | Reason::PolicyUndecidable
        | Reason::MetricMathUndecidable
        | Reason::AlarmRuleUndecidable
        | Reason::MetricFilterUnjudged
        | Reason::NotInPlan => {
            return missing(finding, settings, "link");
        }
    };
    let Target { account_id, region, notes } = target;
    Fix { account_id, region, partition, notes, actions, rescan }
}

fn encrypt_topic(topic: &EvidenceLink) -> Action {
    Action::EncryptTopic { topic_arn: topic.id.clone(), key_alias: "alias/sns-cloudwatch-alarms".into() }
}

fn key_ref(link: &EvidenceLink) -> KeyRef {
    let key_id = link.attribute("key_id").map(str::to_owned).unwrap_or_else(|| link.id.rsplit_once("key/").map_or(link.id.as_str(), |(_, id)| id).to_owned());
    KeyRef { arn: link.id.clone(), key_id }
}

/// The first letter in upper case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// A note on the Deny that refuses CloudWatch, kept in the policy printed.
fn deny_note(link: &EvidenceLink, document: &serde_json::Value, policy_of: &str, call: &str) -> Option<String> {
    if link.attribute("decision") != Some("denied") {
        return None;
    }
    let label = match link.attributes.get("statement") {
        Some(statement) => grant::statement_label(statement, Some(document)),
        None => link.detail.as_deref().and_then(|d| d.strip_prefix("denied by ")).unwrap_or("a statement").to_owned(),
    };
    Some(format!(
        "{} of {policy_of} denies {call}, and an explicit Deny outweighs every Allow. orgwatch does not remove a Deny: it is kept in the policy below, so this alone does not mend the link. Narrow that statement so that it spares CloudWatch's call (or remove it), then scan again.",
        capitalize(&label)
    ))
}

/// The topic's policy with a statement that lets CloudWatch publish for the alarm: the link
/// the fix goes to, its notes, and the action (none when the policy already holds it).
fn topic_policy_fix<'f>(links: &Links<'f>) -> Result<(&'f EvidenceLink, Vec<String>, Option<Action>), &'static str> {
    let topic = links.last(LinkKind::Topic).ok_or("topic")?;
    let alarm = links.notifier().ok_or("alarm")?;
    let link = links.last(LinkKind::TopicPolicy);
    let owner = links.account_of(topic);
    let alarm_account = links.account_of(alarm);
    let mut notes = Vec::new();
    let document = match link.and_then(|l| l.attribute("policy")) {
        Some(text) => grant::document(text).ok_or("topic's access policy")?,
        // The topic showed no policy at all: SNS's default is what it has.
        None if link.is_none() => {
            notes.push(format!("Topic {} showed no access policy: the policy below is SNS's default for it, with the statement CloudWatch needs.", topic.id));
            grant::document(&crate::facts::default_topic_policy(&topic.id, &owner)).ok_or("topic's access policy")?
        }
        None => return Err("topic's access policy"),
    };
    let admits = if alarm_account == owner {
        grant::Admits::Account(alarm_account.clone())
    } else {
        match link.and_then(|l| l.attribute("organization_id")) {
            Some(id) => {
                notes.push(format!("The statement admits the alarms of every account of organization {id} (aws:SourceOrgID), so one statement serves each account whose alarms notify topic {}.", topic.id));
                grant::Admits::Organization(id.to_owned())
            }
            None => {
                notes.push(format!(
                    "The organization's id is not in the finding's evidence, so the statement admits the alarms of account {alarm_account} only (aws:SourceAccount). The command writes the whole policy: run another account's fix for this topic from a scan made after this one, or admit the whole organization with aws:SourceOrgID instead."
                ));
                grant::Admits::Account(alarm_account.clone())
            }
        }
    };
    let alarm_label = alarm_name(alarm);
    if let Some(note) = link.and_then(|l| deny_note(l, &document, "the topic's policy", &format!("CloudWatch's publish for alarm {alarm_label:?}"))) {
        notes.push(note);
    }
    let action = match grant::merged(&document, grant::topic_statement(&topic.id, &admits)) {
        Some(policy) => {
            notes.push(format!("The command replaces topic {}'s whole access policy: every statement it has now is kept, and one is added for CloudWatch.", topic.id));
            Some(Action::SetTopicPolicy { topic_arn: topic.id.clone(), policy })
        }
        None => {
            notes.push(format!("Topic {}'s policy already has the statement CloudWatch needs.", topic.id));
            None
        }
    };
    Ok((link.unwrap_or(topic), notes, action))
}

/// The key's policy with CloudWatch's statement: the link the fix goes to, its notes, and the
/// action (none when the policy already holds it).
fn key_policy_fix<'f>(links: &Links<'f>) -> Result<(&'f EvidenceLink, Vec<String>, Option<Action>), &'static str> {
    let link = links.last(LinkKind::KeyPolicy).ok_or("key policy")?;
    let text = link.attribute("policy").ok_or("key policy")?;
    let document = grant::document(text).ok_or("key policy")?;
    let key = match links.last(LinkKind::KmsKey) {
        Some(key) => key_ref(key),
        None => key_ref(link),
    };
    let mut notes = Vec::new();
    if let Some(note) = deny_note(link, &document, &format!("key {}'s policy", key.arn), "CloudWatch's use of the key") {
        notes.push(note);
    }
    let action = match grant::merged(&document, grant::key_statement()) {
        Some(policy) => {
            notes.push(format!(
                "The command replaces key {}'s policy: every statement it has now is kept, and one is added that lets {} use the key (kms:Decrypt, kms:GenerateDataKey*). A service principal gets nothing from IAM policies: it must be the key policy.",
                key.arn,
                grant::CLOUDWATCH
            ));
            Some(Action::PutKeyPolicy { key, policy })
        }
        None => {
            notes.push(format!("Key {}'s policy already has the statement CloudWatch needs.", key.arn));
            None
        }
    };
    Ok((link, notes, action))
}

/// What an alarm's failed notification says went wrong.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The topic's key: KMS refused CloudWatch.
    Key,
    /// SNS refused the publish.
    TopicPolicy,
    Other,
}

fn failure(error: &str) -> Failure {
    let e = error.to_ascii_lowercase();
    if e.contains("kms") || e.contains("encryption key") || e.contains("key policy") {
        Failure::Key
    } else if e.contains("sns:publish") || e.contains("authoriz") || e.contains("accessdenied") || e.contains("access denied") {
        Failure::TopicPolicy
    } else {
        Failure::Other
    }
}

/// ALARM_ACTION_FAILED: what CloudWatch recorded, and the fix of what its error names.
fn action_failed_fix(links: &Links<'_>, at: &dyn Fn(&EvidenceLink) -> Target) -> Result<(Target, Vec<Action>), &'static str> {
    let history = links.last(LinkKind::AlarmHistory).ok_or("alarm history")?;
    let alarm = links.notifier().ok_or("alarm")?;
    let name = alarm_name(alarm);
    let error = history.attribute("error").filter(|e| !e.trim().is_empty());
    let when = history.attribute("timestamp").unwrap_or("an unknown time");
    let topic = history.attribute("notification_resource").map(str::to_owned).or_else(|| links.last(LinkKind::Topic).map(|t| t.id.clone())).unwrap_or_default();
    let recorded = format!("CloudWatch recorded at {when} that the notification of alarm {name:?} to topic {topic} failed: {}", error.unwrap_or("it wrote no error text."));
    let kind = error.map_or(Failure::Other, failure);
    let (mut target, mut actions, mends) = match kind {
        Failure::Key => match links.last(LinkKind::KeyPolicy) {
            Some(link) => {
                let mut target = at(link);
                target.notes.push(recorded);
                target.notes.push("The error names the topic's encryption key.".into());
                if link.attribute("decision") == Some("allowed") {
                    target.notes.push(format!(
                        "The scan found key {}'s policy letting CloudWatch use it ({}), so the failure may be older than the policy, or a condition orgwatch took to hold does not: the statement below grants it without conditions.",
                        link.id,
                        link.detail.as_deref().unwrap_or("allowed")
                    ));
                }
                match key_policy_fix(links) {
                    Ok((_, notes, action)) => {
                        target.notes.extend(notes);
                        (target, action.into_iter().collect(), true)
                    }
                    Err(_) => {
                        target.notes.push(format!("Look at the key policy: aws kms get-key-policy --key-id {} --policy-name default.", link.id));
                        (target, Vec::new(), true)
                    }
                }
            }
            None => {
                let mut target = at(alarm);
                target.notes.push(recorded);
                target.notes.push(format!(
                    "The error names an encryption key, but the scan saw no customer-managed key on topic {topic}: look at the topic's KmsMasterKeyId (aws sns get-topic-attributes) and the history below."
                ));
                (target, vec![Action::ShowAlarmHistory { alarm_name: name.clone() }], false)
            }
        },
        Failure::TopicPolicy => match topic_policy_fix(links) {
            Ok((link, notes, action)) => {
                let mut target = at(link);
                target.notes.push(recorded);
                target.notes.push("The error says SNS refused CloudWatch's publish.".into());
                target.notes.extend(notes);
                (target, action.into_iter().collect(), true)
            }
            // The policy allowed CloudWatch when scanned; its text is not in the evidence.
            Err(_) => {
                let link = links.last(LinkKind::TopicPolicy).unwrap_or(alarm);
                let mut target = at(link);
                target.notes.push(recorded);
                target.notes.push(format!(
                    "The error says SNS refused CloudWatch's publish, but the scan found topic {topic}'s policy letting CloudWatch publish for this alarm ({}), so the failure may be older than the policy: look at it (aws sns get-topic-attributes --topic-arn {topic}).",
                    link.detail.as_deref().unwrap_or("allowed")
                ));
                (target, Vec::new(), true)
            }
        },
        Failure::Other => {
            let mut target = at(alarm);
            target.notes.push(recorded);
            target.notes.push("orgwatch does not know what mends this error: look into it with the alarm's history below. Until a notification to the topic succeeds, the finding stays.".into());
            (target, vec![Action::ShowAlarmHistory { alarm_name: name.clone() }], false)
        }
    };
    if mends {
        let alarm_account = links.account_of(alarm);
        let alarm_region = links.region_of(alarm, &target.region);
        if alarm_account == target.account_id && alarm_region == target.region {
            actions.push(Action::TestNotification { alarm_name: name });
        } else {
            target.notes.push(format!(
                "The finding stays until a notification to the topic succeeds. Then, with account {alarm_account}'s credentials, have the alarm notify once more (its subscribers get it): aws cloudwatch set-alarm-state --region {alarm_region} --alarm-name {} --state-value ALARM --state-reason {}",
                cli::quote(&name),
                cli::quote(TEST_REASON)
            ));
        }
    }
    Ok((target, actions))
}

/// The state reason of a test notification.
pub const TEST_REASON: &str = "orgwatch fix: a test notification through the mended path";

/// A FAIL finding whose evidence lacks the link its fix is addressed to (stored by an older
/// orgwatch, say): no steps, a sentence.
fn missing(finding: &Finding, settings: &Settings<'_>, what: &str) -> Fix {
    Fix {
        account_id: finding.account_id.clone(),
        region: settings.region.to_owned(),
        partition: "aws".into(),
        notes: vec![format!("The finding's evidence does not name the {what} to fix; scan again with this orgwatch and fix from the new finding.")],
        actions: Vec::new(),
        rescan: true,
    }
}

/// The composite alarm that notifies for the alarm below it, mended: actions enabled, a rule
/// that goes to ALARM with the alarm alone, a topic that exists and works.
fn composite_fix(finding: &Finding, composite: &EvidenceLink, child: &str, mut target: Target, links: &Links<'_>) -> (Target, Vec<Action>) {
    let mut spec = CompositeSpec {
        name: alarm_name(composite),
        rule: composite.attribute("rule").unwrap_or_default().to_owned(),
        kept_actions: composite.attributes.get("alarm_actions").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
        topic: None,
        actions_suppressor: composite.attribute("actions_suppressor").map(str::to_owned),
    };
    target.notes.push(format!(
        "Composite alarm {} notifies for alarm {child:?}, which keeps no actions of its own; put-composite-alarm replaces the composite's definition, and orgwatch does not read its description or OK and INSUFFICIENT_DATA actions: keep yours.",
        spec.name
    ));
    let dead = (finding.reason == Reason::SnsTopicNotFound).then(|| links.last(LinkKind::Topic)).flatten();
    if let Some(dead) = dead {
        spec.kept_actions.retain(|a| *a != dead.id);
    }
    if finding.reason == Reason::AlarmCannotFire {
        target.notes.push(format!(
            "Its rule does not go to ALARM on alarm {child:?}'s ALARM alone, so a burst of denied calls does not reach anyone; the rule below adds OR ALARM(\"{child}\"). To cut noise, raise the alarm's threshold rather than narrow the rule."
        ));
        spec.rule = format!("({}) OR ALARM(\"{child}\")", spec.rule);
    }
    let notifies = spec.kept_actions.iter().any(|a| a.split(':').nth(2) == Some("sns"));
    let mut actions = Vec::new();
    if !notifies {
        match reusable_topic(&finding.evidence.working_topics, &target.account_id, &target.region) {
            Some(topic) => spec.topic = Some(TopicRef::Existing(topic.arn.clone())),
            None => {
                actions.push(Action::CreateTopic { name: TOPIC_NAME.into() });
                actions.push(Action::Subscribe { topic: TopicRef::Created(TOPIC_NAME.into()) });
                spec.topic = Some(TopicRef::Created(TOPIC_NAME.into()));
            }
        }
    }
    actions.push(Action::PutCompositeAlarm(spec));
    (target, actions)
}

/// The control's filter on the log group, an alarm on its metric and a topic for the alarm.
fn new_chain(finding: &Finding, control: Option<&Control>, target: &Target, log_group: &str) -> Vec<Action> {
    let pattern = control.and_then(|c| c.published_patterns.first()).map(|p| p.pattern.clone()).unwrap_or_default();
    let metric = MetricSpec { namespace: NAMESPACE.into(), name: controls::metric_name(&finding.control_id) };
    let mut actions = vec![Action::PutMetricFilter { log_group: log_group.into(), filter_name: metric.name.clone(), pattern, metric: metric.clone(), replaces: false }];
    actions.extend(alarm_with_topic(finding, target, new_alarm(finding, control, metric)));
    actions
}

fn new_alarm(finding: &Finding, control: Option<&Control>, metric: MetricSpec) -> AlarmSpec {
    let reference = control.map_or("", |c| c.references.cis_v1_4_to_v5_0);
    let title = control.map_or(finding.control_id.as_str(), |c| c.title);
    AlarmSpec {
        name: if reference.is_empty() { format!("CIS-{}", metric.name) } else { format!("CIS-{reference}-{}", metric.name) },
        description: format!("{title} (CIS {reference})").replace(" (CIS )", ""),
        metric,
        statistic: "Sum".into(),
        comparison_operator: "GreaterThanOrEqualToThreshold".into(),
        threshold: 1.0,
        kept_actions: Vec::new(),
        topic: None,
        replaces: false,
        defaults_note: None,
        period: AlarmSpec::PERIOD,
        evaluation_periods: AlarmSpec::EVALUATION_PERIODS,
        datapoints_to_alarm: None,
        treat_missing_data: AlarmSpec::TREAT_MISSING_DATA.into(),
    }
}

/// An alarm as the evidence shows it, to be written again.
fn existing_alarm(link: &EvidenceLink, metric: MetricSpec) -> AlarmSpec {
    let text = |key: &str| link.attribute(key).map(str::to_owned);
    let statistic = text("extended_statistic").or_else(|| text("statistic")).unwrap_or_else(|| "Sum".into());
    let math = link.attributes.get("metrics").and_then(serde_json::Value::as_array).is_some_and(|queries| !queries.is_empty());
    let number = |key: &str| link.attributes.get(key).and_then(serde_json::Value::as_u64).and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
    let mut spec = AlarmSpec {
        name: alarm_name(link),
        description: String::new(),
        metric,
        statistic,
        comparison_operator: text("comparison_operator").unwrap_or_else(|| "GreaterThanOrEqualToThreshold".into()),
        threshold: link.attributes.get("threshold").and_then(serde_json::Value::as_f64).unwrap_or(1.0),
        kept_actions: link.attributes.get("alarm_actions").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
        topic: None,
        replaces: true,
        defaults_note: None,
        period: number("period").unwrap_or(AlarmSpec::PERIOD),
        evaluation_periods: number("evaluation_periods").unwrap_or(AlarmSpec::EVALUATION_PERIODS),
        datapoints_to_alarm: number("datapoints_to_alarm"),
        treat_missing_data: text("treat_missing_data").unwrap_or_else(|| AlarmSpec::TREAT_MISSING_DATA.into()),
    };
    // What the alarm's evidence did not show is written with orgwatch's defaults, and said.
    let unread = if link.attributes.contains_key("period") {
        String::new()
    } else {
        format!("; its period and evaluation periods were not read, so {} s × {} and {} are written", AlarmSpec::PERIOD, AlarmSpec::EVALUATION_PERIODS, AlarmSpec::TREAT_MISSING_DATA)
    };
    spec.defaults_note = Some(format!(
        "put-metric-alarm replaces the alarm's whole definition; orgwatch keeps its period ({} s), evaluation periods and missing-data treatment, but does not read its description or OK actions{unread}: keep yours if they differ.",
        spec.period
    ));
    if math && let Some(note) = &mut spec.defaults_note {
        note.push_str(" It is a metric-math alarm: this alarms on the filter's metric itself instead of its queries (FILL(m1, 0) of it is judged the same, should you keep the math).");
    }
    spec
}

/// The alarm with what keeps it from firing corrected: the operator (a count that grows must
/// be compared with `GreaterThan…`), the statistic (`Sum` grows with every call), the threshold.
fn corrected_alarm(link: &EvidenceLink, metric: MetricSpec) -> AlarmSpec {
    let mut spec = existing_alarm(link, metric);
    if !spec.comparison_operator.starts_with("GreaterThan") {
        spec.comparison_operator = "GreaterThanOrEqualToThreshold".into();
    }
    if !matches!(spec.statistic.as_str(), "Sum" | "SampleCount") {
        spec.statistic = "Sum".into();
    }
    if link.attributes.get("threshold").and_then(serde_json::Value::as_f64).is_none_or(|t| !t.is_finite() || t < 1.0) {
        spec.threshold = 1.0;
    }
    spec
}

/// The alarm, notifying a topic that works for its account and region, else a new topic with a
/// subscription.
fn alarm_with_topic(finding: &Finding, target: &Target, mut spec: AlarmSpec) -> Vec<Action> {
    let mut actions = Vec::new();
    let topic = match reusable_topic(&finding.evidence.working_topics, &target.account_id, &target.region) {
        Some(topic) => TopicRef::Existing(topic.arn.clone()),
        None => {
            actions.push(Action::CreateTopic { name: TOPIC_NAME.into() });
            actions.push(Action::Subscribe { topic: TopicRef::Created(TOPIC_NAME.into()) });
            TopicRef::Created(TOPIC_NAME.into())
        }
    };
    spec.topic = Some(topic);
    actions.push(Action::PutAlarm(spec));
    actions
}

/// A name usable as a Terraform label or shell variable: letters, digits and `_`.
pub(crate) fn label(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'x');
    }
    out
}

#[cfg(test)]
mod tests;
