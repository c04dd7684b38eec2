//! Findings in the formats security teams' tools ingest: OCSF Compliance Findings ([`ocsf`]) and
//! Security Hub's ASFF ([`asff`]), for `orgwatch findings` and `orgwatch drift`. Pure
//! presentation: the store's findings in, text out; nothing here judges.

pub mod asff;
pub mod ocsf;

use crate::output::Format;
use chrono::{DateTime, SecondsFormat, Utc};
use orgwatch_core::{Control, Evidence, LinkKind, Reason, Status, controls};
use orgwatch_store::{StoredDrift, StoredFinding};
use serde_json::Value;

/// `--format` of `findings` and `drift`: the tables of [`Format`], or an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    Table,
    Json,
    Csv,
    /// OCSF 1.3 Compliance Findings (class 2003), a JSON array.
    Ocsf,
    /// AWS Security Finding Format for Security Hub's BatchImportFindings, a JSON array.
    Asff,
}

impl FindingsFormat {
    /// The table format, or `None` for an export.
    pub fn table(self) -> Option<Format> {
        match self {
            FindingsFormat::Table => Some(Format::Table),
            FindingsFormat::Json => Some(Format::Json),
            FindingsFormat::Csv => Some(Format::Csv),
            FindingsFormat::Ocsf | FindingsFormat::Asff => None,
        }
    }
}

/// What every exported finding shares: where orgwatch ran and which orgwatch it is.
#[derive(Clone, Debug)]
pub struct Context {
    /// The configuration's `[aws] region`: the finding's region, and a resource's when its id
    /// names none.
    pub region: String,
    pub version: &'static str,
}

impl Context {
    pub fn new(region: &str) -> Context {
        Context { region: region.to_owned(), version: env!("CARGO_PKG_VERSION") }
    }
}

/// Whether an exported finding starts, updates or ends a finding consumers already hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// The first observation of this (account, control).
    Create,
    Update,
    /// The account left the organization's audited accounts.
    Close,
}

/// A drift event's part of an exported finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub change: String,
    pub previous_status: Option<Status>,
    pub previous_reason: Option<Reason>,
}

/// One finding to export, from the latest findings or from a drift event.
#[derive(Clone, Debug)]
pub struct Item {
    pub account_id: String,
    pub account_name: Option<String>,
    pub control_id: String,
    pub control: Option<&'static Control>,
    /// `None` when the account left the organization.
    pub status: Option<Status>,
    pub reason: Option<Reason>,
    pub message: String,
    pub evidence: Evidence,
    pub scan_id: i64,
    pub observed_at: DateTime<Utc>,
    pub first_observed_at: DateTime<Utc>,
    pub activity: Activity,
    pub change: Option<Change>,
}

impl Item {
    pub fn from_finding(stored: &StoredFinding) -> Item {
        let f = &stored.finding;
        Item {
            account_id: f.account_id.clone(),
            account_name: stored.account_name.clone(),
            control_id: f.control_id.clone(),
            control: controls::find(&f.control_id),
            status: Some(f.status),
            reason: Some(f.reason),
            message: f.message.clone(),
            evidence: f.evidence.clone(),
            scan_id: stored.scan_id,
            observed_at: stored.observed_at,
            first_observed_at: stored.first_observed_at,
            activity: if stored.first_observed_at >= stored.observed_at { Activity::Create } else { Activity::Update },
            change: None,
        }
    }

    /// A drift event as a finding of its new status; an account that left the organization as
    /// the end of its finding.
    pub fn from_drift(drift: &StoredDrift) -> Item {
        let found = drift.finding.as_ref();
        let message = match (found, drift.status) {
            (Some(stored), _) => stored.finding.message.clone(),
            (None, None) => format!(
                "Account {} left the organization's audited accounts (it was {} / {}).",
                drift.account_id,
                drift.previous_status.map_or("-", Status::as_str),
                drift.previous_reason.map_or("-", Reason::as_str)
            ),
            (None, Some(status)) => format!(
                "The status changed from {} to {} / {} (the finding itself has been pruned).",
                drift.previous_status.map_or("-", Status::as_str),
                status,
                drift.reason.map_or("-", Reason::as_str)
            ),
        };
        Item {
            account_id: drift.account_id.clone(),
            account_name: drift.account_name.clone(),
            control_id: drift.control_id.clone(),
            control: controls::find(&drift.control_id),
            status: drift.status,
            reason: drift.reason,
            message,
            evidence: found.map(|s| s.finding.evidence.clone()).unwrap_or_default(),
            scan_id: drift.scan_id,
            observed_at: found.map_or(drift.detected_at, |s| s.observed_at),
            first_observed_at: found.map_or(drift.detected_at, |s| s.first_observed_at),
            activity: match (drift.change.as_str(), drift.status) {
                (_, None) | ("LEFT_ORGANIZATION", _) => Activity::Close,
                ("NEW", _) => Activity::Create,
                _ => Activity::Update,
            },
            change: Some(Change { change: drift.change.clone(), previous_status: drift.previous_status, previous_reason: drift.previous_reason }),
        }
    }

    pub fn title(&self) -> String {
        self.control.map_or_else(|| self.control_id.clone(), |c| c.title.to_owned())
    }

    /// The finding's id, the same for an (account, control) in every scan, so a consumer
    /// updates what it holds instead of adding a duplicate.
    pub fn finding_uid(&self) -> String {
        format!("orgwatch/{}/{}", self.account_id, self.control_id)
    }

    /// The id of this observation: the finding in one scan.
    pub fn event_uid(&self) -> String {
        format!("{}/scan/{}", self.finding_uid(), self.scan_id)
    }
}

/// The findings as an export.
pub fn findings(rows: &[StoredFinding], format: FindingsFormat, context: &Context) -> String {
    render(rows.iter().map(Item::from_finding), format, context)
}

/// Drift events as an export: each as a finding of its new status.
pub fn drift(rows: &[StoredDrift], format: FindingsFormat, context: &Context) -> String {
    render(rows.iter().map(Item::from_drift), format, context)
}

fn render(items: impl Iterator<Item = Item>, format: FindingsFormat, context: &Context) -> String {
    let values: Vec<Value> = match format {
        FindingsFormat::Asff => items.map(|item| asff::finding(&item, context)).collect(),
        _ => items.map(|item| ocsf::finding(&item, context)).collect(),
    };
    let mut text = serde_json::to_string_pretty(&Value::Array(values)).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

/// An evidence link as a cloud resource: its id, the account it lives in, its region and
/// partition (read from its ARN, else inherited from the link before it, else the configured
/// region).
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub kind: LinkKind,
    pub id: String,
    pub owner_account: String,
    pub region: String,
    pub partition: String,
    pub detail: Option<String>,
}

/// One resource per evidence link; a finding without links (a pruned one) gets its account.
pub fn resources(item: &Item, context: &Context) -> Vec<Resource> {
    let mut region = context.region.clone();
    let mut partition = "aws".to_owned();
    let mut out: Vec<Resource> = item
        .evidence
        .links
        .iter()
        .map(|link| {
            if let Some(arn) = Arn::parse(&link.id) {
                partition = arn.partition.to_owned();
                if !arn.region.is_empty() {
                    region = arn.region.to_owned();
                }
            }
            let owner = link.account_id.clone().or_else(|| Arn::parse(&link.id).map(|a| a.account.to_owned()).filter(|a| !a.is_empty()));
            Resource {
                kind: link.kind,
                id: link.id.clone(),
                owner_account: owner.unwrap_or_else(|| item.account_id.clone()),
                region: if matches!(link.kind, LinkKind::Account | LinkKind::Waiver) { context.region.clone() } else { region.clone() },
                partition: partition.clone(),
                detail: link.detail.clone(),
            }
        })
        .collect();
    if out.is_empty() {
        out.push(Resource { kind: LinkKind::Account, id: item.account_id.clone(), owner_account: item.account_id.clone(), region: context.region.clone(), partition, detail: None });
    }
    out
}

/// The parts of an ARN that resources need.
struct Arn<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl<'a> Arn<'a> {
    fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account), Some(_)) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        (!partition.is_empty()).then_some(Arn { partition, region, account })
    }
}

/// The kebab-case name of a link kind, as stored in the evidence.
pub fn kind_name(kind: LinkKind) -> &'static str {
    kind.as_str()
}

/// How urgent a finding is: a broken chain is MEDIUM (a denied call reaches nobody), an unseen
/// link LOW (orgwatch is blind there), the rest informational.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Informational,
    Low,
    Medium,
}

pub fn severity(status: Option<Status>) -> Severity {
    match status {
        Some(Status::Fail) => Severity::Medium,
        Some(Status::Error) => Severity::Low,
        Some(Status::Pass | Status::NotApplicable) | None => Severity::Informational,
    }
}

/// What to do about a finding, for FAIL and ERROR.
pub fn remediation(reason: Reason) -> Option<&'static str> {
    Some(match reason {
        Reason::Compliant | Reason::Waived => return None,
        Reason::NoMultiRegionTrail => "Create a multi-region CloudTrail trail that logs all management events and delivers to a CloudWatch Logs group, or cover the account with an organization trail.",
        Reason::TrailNotLogging => "Start logging on the trail (cloudtrail start-logging).",
        Reason::ManagementEventsNotCaptured => "Make the trail's event selectors capture all management events, read and write (ReadWriteType All).",
        Reason::TrailNotSendingToCloudwatch => "Configure the trail to deliver to a CloudWatch Logs group (CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn).",
        Reason::CloudwatchDeliveryFailing => "Fix the trail's delivery to CloudWatch Logs: check its delivery role and log group (GetTrailStatus reports the error).",
        Reason::NoMatchingMetricFilter => "Add a metric filter on the trail's log group whose pattern detects the control; try the pattern with `orgwatch filter-check` first.",
        Reason::MetricFilterNeverCounts => "Set the metric filter's metric value to 1, so that every matching event counts.",
        Reason::NoAlarmOnMetric => "Create a CloudWatch alarm on the filter's metric (same name and namespace, in the same account and region).",
        Reason::AlarmActionsDisabled => "Enable the alarm's actions.",
        Reason::AlarmCannotFire => "Alarm on the Sum statistic with GreaterThanOrEqualToThreshold 1, and the metric filter's dimensions.",
        Reason::NoAlarmNotification => "Add an SNS topic to the alarm's ALARM actions.",
        Reason::SnsTopicNotFound => "Point the alarm's action at an SNS topic that exists.",
        Reason::NoConfirmedSubscription => "Subscribe a person or an on-call system to the topic and confirm the subscription.",
        Reason::SnsTopicUnpublishable => "Encrypt the topic with an enabled customer-managed KMS key whose policy grants cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, instead of alias/aws/sns.",
        Reason::SnsTopicPolicyDeniesPublish => "Add a statement to the topic's access policy that allows sns:Publish to Principal {\"Service\": \"cloudwatch.amazonaws.com\"} for the alarm's account (aws:SourceAccount) or organization (aws:SourceOrgID); `orgwatch fix` prints it.",
        Reason::AlarmActionFailed => "Read the alarm's history (cloudwatch describe-alarm-history --history-item-type Action) and mend what the error names: the topic's policy, its key's policy, or the subscriber.",
        Reason::SubscriberDeliveryFailing => "Find the subscriber that fails every delivery (sns list-subscriptions-by-topic; the topic's delivery status logging says why) and mend or replace its endpoint: a gone HTTPS endpoint, a failing forwarding Lambda function, a deleted queue.",
        Reason::PolicyUndecidable => "Review the statement the finding names by hand: orgwatch does not judge its condition operator, key or variable.",
        Reason::MetricMathUndecidable => "Review the alarm's metric math by hand: orgwatch does not judge the expression or statistic the finding names; an alarm on the metric itself (Sum, GreaterThanOrEqualToThreshold 1), or FILL(m1, 0), is judged.",
        Reason::AlarmRuleUndecidable => "Review the composite alarm's rule by hand: orgwatch could not decide whether it goes to ALARM whenever the alarm on the metric does; parentheses around AND and OR make it decidable.",
        Reason::MetricFilterUnjudged => "Review the metric filter by hand: orgwatch does not judge what it counts through its transformer, field selection criteria or system dimensions as the finding names.",
        Reason::RoleAssumptionFailed => "Deploy the audit role in the account the finding names (config/iam) and let orgwatch's identity assume it with the external ID.",
        Reason::AccessDenied => "Grant the audit role the read-only actions of config/iam/audit-role-policy.json.",
        Reason::ApiError => "Scan again; if the error stays, check the service's quotas and the account's network path.",
        Reason::OutsideOrganization => "Keep the shared trail or topic in an account of the organization, or include that account in the scan.",
        Reason::NotInPlan => "Add the missing link to the plan, or judge the deployed chain with `orgwatch scan`.",
    })
}

/// Security Hub's documentation of its control (`CloudWatch.2` → its section).
pub fn security_hub_url(control: &Control) -> Option<String> {
    control.references.security_hub.map(|id| format!("https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#{}", id.to_ascii_lowercase().replace('.', "-")))
}

/// RFC 3339 UTC with milliseconds, as Security Hub and OCSF's `_dt` fields take it.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// At most `max` characters, cut at a character boundary with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Leaves out null members, which neither format accepts.
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().filter(|v| !v.is_null()).map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use orgwatch_core::{EvidenceLink, Finding};

    pub fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, hour, 0, 0).unwrap()
    }

    /// A failing CIS 3.1 finding whose chain runs through the management account's trail and a
    /// security account's topic.
    pub fn stored(reason: Reason, first: u32, observed: u32) -> StoredFinding {
        let links = vec![
            EvidenceLink::new(LinkKind::Account, "111122223333").in_account("111122223333"),
            EvidenceLink::with_detail(LinkKind::Trail, "arn:aws:cloudtrail:eu-west-1:999988887777:trail/org", "organization trail").in_account("999988887777"),
            EvidenceLink::new(LinkKind::LogGroup, "arn:aws:logs:eu-west-1:999988887777:log-group:org-trail:*").in_account("999988887777"),
            EvidenceLink::with_detail(LinkKind::MetricFilter, "unauthorized", "{ $.errorCode = \"AccessDenied*\" }").in_account("999988887777"),
            EvidenceLink::with_detail(LinkKind::Metric, "CIS/UnauthorizedApiCalls", "value 1").in_account("999988887777"),
            EvidenceLink::new(LinkKind::Alarm, "arn:aws:cloudwatch:eu-west-1:999988887777:alarm:unauthorized").in_account("999988887777"),
            EvidenceLink::new(LinkKind::Topic, "arn:aws:sns:us-east-2:444455556666:security").in_account("444455556666"),
        ];
        StoredFinding {
            finding: Finding {
                account_id: "111122223333".into(),
                control_id: controls::UNAUTHORIZED_API_CALLS.into(),
                status: reason.status(),
                reason,
                message: format!("the chain broke: {reason}"),
                evidence: Evidence { links, chains_examined: 1, notes: vec!["a note".into()], ..Evidence::default() },
            },
            account_name: Some("payments".into()),
            scan_id: 7,
            observed_at: at(observed),
            first_observed_at: at(first),
        }
    }

    pub fn context() -> Context {
        Context { region: "us-east-1".into(), version: "9.9.9" }
    }

    #[test]
    fn resources_name_their_owner_region_and_partition() {
        let item = Item::from_finding(&stored(Reason::NoConfirmedSubscription, 1, 2));
        let resources = resources(&item, &context());
        assert_eq!(resources.len(), item.evidence.links.len(), "one resource per evidence link");
        let by_kind = |kind| resources.iter().find(|r| r.kind == kind).unwrap();
        assert_eq!((by_kind(LinkKind::Account).region.as_str(), by_kind(LinkKind::Account).owner_account.as_str()), ("us-east-1", "111122223333"));
        assert_eq!((by_kind(LinkKind::Trail).region.as_str(), by_kind(LinkKind::Trail).owner_account.as_str()), ("eu-west-1", "999988887777"));
        // A metric filter has no ARN: it is where its log group is.
        assert_eq!(by_kind(LinkKind::MetricFilter).region, "eu-west-1");
        assert_eq!((by_kind(LinkKind::Topic).region.as_str(), by_kind(LinkKind::Topic).owner_account.as_str()), ("us-east-2", "444455556666"));
        assert!(resources.iter().all(|r| r.partition == "aws"));

        let mut bare = item.clone();
        bare.evidence = Evidence::default();
        let only = super::resources(&bare, &context());
        assert_eq!(only, [Resource { kind: LinkKind::Account, id: "111122223333".into(), owner_account: "111122223333".into(), region: "us-east-1".into(), partition: "aws".into(), detail: None }]);
    }

    #[test]
    fn arns_are_read_and_other_ids_are_not() {
        let arn = Arn::parse("arn:aws-us-gov:sns:us-gov-west-1:123456789012:topic").unwrap();
        assert_eq!((arn.partition, arn.region, arn.account), ("aws-us-gov", "us-gov-west-1", "123456789012"));
        assert!(Arn::parse("CIS/UnauthorizedApiCalls").is_none());
        assert!(Arn::parse("arn:aws:sns").is_none());
        assert!(Arn::parse("arn::sns:r:a:x").is_none());
    }

    #[test]
    fn a_finding_is_created_once_and_updated_after() {
        assert_eq!(Item::from_finding(&stored(Reason::Compliant, 3, 3)).activity, Activity::Create);
        assert_eq!(Item::from_finding(&stored(Reason::Compliant, 1, 3)).activity, Activity::Update);
        let a = Item::from_finding(&stored(Reason::Compliant, 1, 3));
        let mut b = Item::from_finding(&stored(Reason::TrailNotLogging, 1, 5));
        assert_eq!(a.finding_uid(), b.finding_uid(), "stable per (account, control)");
        b.scan_id = 8;
        assert_ne!(a.event_uid(), b.event_uid(), "one event per scan");
    }

    #[test]
    fn drift_events_are_findings_of_their_new_status() {
        let drift = |change: &str, status: Option<Status>, finding: Option<StoredFinding>| StoredDrift {
            account_id: "111122223333".into(),
            account_name: None,
            control_id: controls::UNAUTHORIZED_API_CALLS.into(),
            change: change.into(),
            previous_status: Some(Status::Pass),
            previous_reason: Some(Reason::Compliant),
            status,
            reason: status.map(|_| Reason::TrailNotLogging),
            scan_id: 9,
            detected_at: at(6),
            finding,
        };
        let regression = Item::from_drift(&drift("REGRESSION", Some(Status::Fail), Some(stored(Reason::TrailNotLogging, 1, 5))));
        assert_eq!((regression.activity, regression.status, regression.observed_at, regression.evidence.links.len()), (Activity::Update, Some(Status::Fail), at(5), 7));
        assert_eq!(regression.change.as_ref().map(|c| c.change.as_str()), Some("REGRESSION"));
        let pruned = Item::from_drift(&drift("REGRESSION", Some(Status::Fail), None));
        assert_eq!((pruned.observed_at, pruned.evidence.links.len()), (at(6), 0));
        assert!(pruned.message.contains("from PASS to FAIL / TRAIL_NOT_LOGGING"), "{}", pruned.message);
        let left = Item::from_drift(&drift("LEFT_ORGANIZATION", None, None));
        assert_eq!((left.activity, left.status), (Activity::Close, None));
        assert!(left.message.contains("left the organization") && left.message.contains("PASS / COMPLIANT"), "{}", left.message);
        assert_eq!(Item::from_drift(&drift("NEW", Some(Status::Fail), None)).activity, Activity::Create);
    }

    #[test]
    fn every_broken_or_unseen_link_says_what_to_do() {
        for reason in Reason::ALL {
            let advice = remediation(*reason);
            assert_eq!(advice.is_some(), matches!(reason.status(), Status::Fail | Status::Error), "{reason}");
            assert!(advice.is_none_or(|text| text.chars().count() <= 512), "{reason}: Security Hub takes 512 characters");
        }
        let control = controls::find(controls::UNAUTHORIZED_API_CALLS).unwrap();
        assert_eq!(security_hub_url(control).as_deref(), Some("https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-2"));
        assert_eq!(security_hub_url(controls::find("organizations-changes").unwrap()), None);
    }

    #[test]
    fn severity_follows_the_status() {
        assert_eq!(severity(Some(Status::Fail)), Severity::Medium);
        assert_eq!(severity(Some(Status::Error)), Severity::Low);
        assert_eq!(severity(Some(Status::Pass)), Severity::Informational);
        assert_eq!(severity(Some(Status::NotApplicable)), Severity::Informational);
        assert_eq!(severity(None), Severity::Informational);
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(without_nulls(serde_json::json!({"a": null, "b": [1, null], "c": {"d": null}})), serde_json::json!({"b": [1], "c": {}}));
    }
}
