//! Findings: one per (account, control), with a status, a reason code, a sentence and evidence.
//!
//! The reason codes are part of orgwatch's user-facing contract (they are stored in SQLite and
//! printed); their spelling never changes.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pass,
    Fail,
    /// A link could not be seen; never guessed as PASS or FAIL.
    Error,
    /// Waived by configuration.
    NotApplicable,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Pass, Status::Fail, Status::Error, Status::NotApplicable];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::NotApplicable => "NOT_APPLICABLE",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! reasons {
    ($($variant:ident => $code:literal, $status:ident;)*) => {
        /// Why a finding has its status.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum Reason { $($variant,)* }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The status a finding with this reason has.
            pub fn status(self) -> Status {
                match self { $(Reason::$variant => Status::$status,)* }
            }
        }
    };
}

reasons! {
    Compliant => "COMPLIANT", Pass;
    NoMultiRegionTrail => "NO_MULTI_REGION_TRAIL", Fail;
    TrailNotLogging => "TRAIL_NOT_LOGGING", Fail;
    ManagementEventsNotCaptured => "MANAGEMENT_EVENTS_NOT_CAPTURED", Fail;
    TrailNotSendingToCloudwatch => "TRAIL_NOT_SENDING_TO_CLOUDWATCH", Fail;
    CloudwatchDeliveryFailing => "CLOUDWATCH_DELIVERY_FAILING", Fail;
    NoMatchingMetricFilter => "NO_MATCHING_METRIC_FILTER", Fail;
    MetricFilterNeverCounts => "METRIC_FILTER_NEVER_COUNTS", Fail;
    NoAlarmOnMetric => "NO_ALARM_ON_METRIC", Fail;
    AlarmActionsDisabled => "ALARM_ACTIONS_DISABLED", Fail;
    AlarmCannotFire => "ALARM_CANNOT_FIRE", Fail;
    NoAlarmNotification => "NO_ALARM_NOTIFICATION", Fail;
    SnsTopicNotFound => "SNS_TOPIC_NOT_FOUND", Fail;
    NoConfirmedSubscription => "NO_CONFIRMED_SUBSCRIPTION", Fail;
    SnsTopicUnpublishable => "SNS_TOPIC_UNPUBLISHABLE", Fail;
    SnsTopicPolicyDeniesPublish => "SNS_TOPIC_POLICY_DENIES_PUBLISH", Fail;
    AlarmActionFailed => "ALARM_ACTION_FAILED", Fail;
    SubscriberDeliveryFailing => "SUBSCRIBER_DELIVERY_FAILING", Fail;
    RoleAssumptionFailed => "ROLE_ASSUMPTION_FAILED", Error;
    AccessDenied => "ACCESS_DENIED", Error;
    ApiError => "API_ERROR", Error;
    OutsideOrganization => "OUTSIDE_ORGANIZATION", Error;
    PolicyUndecidable => "POLICY_UNDECIDABLE", Error;
    MetricMathUndecidable => "METRIC_MATH_UNDECIDABLE", Error;
    AlarmRuleUndecidable => "ALARM_RULE_UNDECIDABLE", Error;
    MetricFilterUnjudged => "METRIC_FILTER_UNJUDGED", Error;
    NotInPlan => "NOT_IN_PLAN", Error;
    Waived => "WAIVED", NotApplicable;
}

impl Reason {
    /// The kinds of link of the chain a finding with this reason blames, the one it names first:
    /// a drawing of the chain marks its last link of any of these kinds, or, when the chain has
    /// none, shows the first kind as the missing link (no alarm on the metric, no subscription,
    /// …). Empty for the reasons that blame no link: a pass, a waiver, a read that could not be
    /// made (its evidence names the read instead), a control outside the plan.
    pub fn blamed_links(self) -> &'static [LinkKind] {
        use LinkKind as K;
        match self {
            Reason::NoMultiRegionTrail | Reason::TrailNotLogging | Reason::ManagementEventsNotCaptured | Reason::TrailNotSendingToCloudwatch => &[K::Trail],
            Reason::CloudwatchDeliveryFailing => &[K::LogGroup, K::Trail],
            Reason::NoMatchingMetricFilter | Reason::MetricFilterUnjudged => &[K::MetricFilter],
            Reason::MetricFilterNeverCounts => &[K::MetricFilter, K::Metric],
            Reason::NoAlarmOnMetric | Reason::AlarmActionsDisabled | Reason::AlarmCannotFire | Reason::NoAlarmNotification => &[K::Alarm, K::CompositeAlarm],
            Reason::MetricMathUndecidable => &[K::Alarm],
            Reason::AlarmRuleUndecidable => &[K::CompositeAlarm],
            Reason::SnsTopicNotFound => &[K::Topic],
            Reason::NoConfirmedSubscription => &[K::Subscription],
            Reason::SnsTopicUnpublishable => &[K::KeyPolicy, K::KmsKey, K::Topic],
            Reason::SnsTopicPolicyDeniesPublish => &[K::TopicPolicy],
            Reason::PolicyUndecidable => &[K::TopicPolicy, K::KeyPolicy],
            Reason::AlarmActionFailed => &[K::AlarmHistory],
            Reason::SubscriberDeliveryFailing => &[K::TopicDelivery],
            Reason::RoleAssumptionFailed | Reason::OutsideOrganization => &[K::Account],
            Reason::Compliant | Reason::Waived | Reason::AccessDenied | Reason::ApiError | Reason::NotInPlan => &[],
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one control in one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub account_id: String,
    pub control_id: String,
    pub status: Status,
    pub reason: Reason,
    /// One or two sentences for a person.
    pub message: String,
    pub evidence: Evidence,
}

/// What was examined to reach the verdict: every link of the chain reported, by ARN or name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The links of the reported chain, from the trail down to the subscription.
    pub links: Vec<EvidenceLink>,
    /// How many trail → filter → alarm → topic paths were judged.
    pub chains_examined: usize,
    /// Remarks that do not change the status: an over-broad filter, an expired waiver, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// On a FAIL: the topics this account's judgement saw working (they exist, have a confirmed
    /// subscription and a key CloudWatch can use), so a fix can reuse one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub working_topics: Vec<WorkingTopic>,
    /// On an ERROR: the read that could not be made, and in which account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<UnseenRead>,
    /// On a PASS, on the scans that gather it: the passing chain's alarm, measured (noise,
    /// baseline, a threshold to suggest) and its topic's delivery record. It never changes the
    /// status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
}

/// What was measured of a passing chain's alarm over the advice window, and what it suggests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// The metric alarm on the detecting metric (the one whose threshold is tuned).
    pub alarm_arn: String,
    pub alarm_name: String,
    /// The account and region the alarm lives in.
    pub account_id: String,
    pub region: String,
    /// The alarm that notifies (the metric alarm itself, or a composite above it): whose
    /// state changes are counted.
    pub notifier_arn: String,
    /// The topic the notifier notifies, whose delivery record is read.
    pub topic_arn: String,
    /// The end of the window measured (its start is `window_days` earlier). A scan that does
    /// not gather advice carries the last one measured on the same chain.
    pub measured_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_periods: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_operator: Option<String>,
    /// The rest of the alarm's definition, kept by a command that applies a new threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<crate::facts::Dimension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    pub window_days: u32,
    /// Transitions of the notifying alarm to ALARM in the window; none when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times_in_alarm: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_in_alarm: Option<f64>,
    /// The metric's values per alarm period; none when not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// In ALARM more often than `[advice] noisy_per_day` a day on average.
    pub noisy: bool,
    /// The smallest round threshold above the window's normal periods and below its largest
    /// burst; none when the current threshold already is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_threshold: Option<f64>,
    /// The topic's delivery record (`AWS/SNS`), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// Remarks: several datapoints needed, a failed read, a metric-math alarm not measured, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The per-period values of the alarm's metric over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Periods with data.
    pub periods: u32,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// `AWS/SNS` `NumberOfNotificationsDelivered` and `NumberOfNotificationsFailed` of the topic over
/// the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub topic_arn: String,
    pub delivered: f64,
    pub failed: f64,
}

/// A topic that works: it exists, has a confirmed subscription and is not encrypted with the
/// AWS-managed key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkingTopic {
    pub arn: String,
    /// The account that owns the topic.
    pub account_id: String,
    pub region: String,
    /// Accounts whose enabled alarms already notify it (so CloudWatch there may publish to it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notified_from: Vec<String>,
}

/// A read an `ERROR` finding could not make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnseenRead {
    /// The IAM action, e.g. `cloudtrail:GetTrailStatus` (`sts:AssumeRole` when the role could
    /// not be assumed).
    pub operation: String,
    /// The account the read was addressed to.
    pub account_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceLink {
    pub kind: LinkKind,
    /// The ARN, or the name where the thing has no ARN (a metric filter, a metric).
    pub id: String,
    /// The account the link lives in (and whose audit role read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The region the link lives in (a trail's home region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What a fix needs to address the link by name: a trail's `name`, a log group's `name`, a
    /// metric's `namespace`, `name` and `value`, an alarm's `name`, `statistic`, … (README).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    Account,
    Trail,
    LogGroup,
    MetricFilter,
    Metric,
    Alarm,
    /// A composite alarm whose rule goes to ALARM with the alarm below it, and notifies.
    CompositeAlarm,
    Topic,
    Subscription,
    /// The topic's access policy, as judged for the alarm's publish.
    TopicPolicy,
    /// The KMS key the topic is encrypted with.
    KmsKey,
    /// The key's policy, as judged for CloudWatch's use of the key.
    KeyPolicy,
    /// What CloudWatch recorded of the alarm's latest notification.
    AlarmHistory,
    /// What SNS recorded of the topic's deliveries to its subscribers (`AWS/SNS` metrics).
    TopicDelivery,
    Waiver,
}

impl LinkKind {
    /// The kind as the evidence JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Account => "account",
            LinkKind::Trail => "trail",
            LinkKind::LogGroup => "log-group",
            LinkKind::MetricFilter => "metric-filter",
            LinkKind::Metric => "metric",
            LinkKind::Alarm => "alarm",
            LinkKind::CompositeAlarm => "composite-alarm",
            LinkKind::Topic => "topic",
            LinkKind::Subscription => "subscription",
            LinkKind::TopicPolicy => "topic-policy",
            LinkKind::KmsKey => "kms-key",
            LinkKind::KeyPolicy => "key-policy",
            LinkKind::AlarmHistory => "alarm-history",
            LinkKind::TopicDelivery => "topic-delivery",
            LinkKind::Waiver => "waiver",
        }
    }
}

impl EvidenceLink {
    pub fn new(kind: LinkKind, id: impl Into<String>) -> Self {
        EvidenceLink { kind, id: id.into(), account_id: None, detail: None, region: None, attributes: serde_json::Map::new() }
    }

    pub fn with_detail(kind: LinkKind, id: impl Into<String>, detail: impl Into<String>) -> Self {
        EvidenceLink { kind, id: id.into(), account_id: None, detail: Some(detail.into()), region: None, attributes: serde_json::Map::new() }
    }

    /// The same link, naming the account it lives in.
    pub fn in_account(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// The same link, naming the region it lives in.
    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The same link with one more attribute.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.attributes.insert(key.to_owned(), value.into());
        self
    }

    /// A text attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(serde_json::Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_serialize_as_their_contract_spelling() {
        for reason in Reason::ALL {
            let json = serde_json::to_string(reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(serde_json::to_string(&Status::NotApplicable).unwrap(), "\"NOT_APPLICABLE\"");
        for kind in [
            LinkKind::Account,
            LinkKind::Trail,
            LinkKind::LogGroup,
            LinkKind::MetricFilter,
            LinkKind::Metric,
            LinkKind::Alarm,
            LinkKind::Topic,
            LinkKind::Subscription,
            LinkKind::TopicPolicy,
            LinkKind::KmsKey,
            LinkKind::KeyPolicy,
            LinkKind::AlarmHistory,
            LinkKind::TopicDelivery,
            LinkKind::Waiver,
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(Status::parse("fail"), Some(Status::Fail));
        assert_eq!(Status::parse("nope"), None);
    }

    #[test]
    fn every_failing_reason_blames_a_link_and_a_pass_or_a_waiver_none() {
        use LinkKind as K;
        for reason in Reason::ALL {
            if reason.status() == Status::Fail {
                assert!(!reason.blamed_links().is_empty(), "{reason}");
            }
        }
        let cases: &[(Reason, &[LinkKind])] = &[
            (Reason::Compliant, &[]),
            (Reason::Waived, &[]),
            (Reason::TrailNotLogging, &[K::Trail]),
            (Reason::NoAlarmOnMetric, &[K::Alarm, K::CompositeAlarm]),
            (Reason::NoConfirmedSubscription, &[K::Subscription]),
            (Reason::SnsTopicUnpublishable, &[K::KeyPolicy, K::KmsKey, K::Topic]),
            (Reason::SnsTopicPolicyDeniesPublish, &[K::TopicPolicy]),
            (Reason::AlarmActionFailed, &[K::AlarmHistory]),
            (Reason::SubscriberDeliveryFailing, &[K::TopicDelivery]),
            (Reason::RoleAssumptionFailed, &[K::Account]),
            (Reason::ApiError, &[]),
        ];
        for (reason, kinds) in cases {
            assert_eq!(reason.blamed_links(), *kinds, "{reason}");
        }
    }
}
