//! What collection observed in an account: the core's own small types, free of SDK types.
//!
//! Every fact that needed an API call is an [`Observed`]: either what the call returned, or an
//! [`Unobserved`] saying why it could not be seen. Evaluation turns an `Unobserved` link into an
//! `ERROR` finding, never a guess.

use serde::{Deserialize, Serialize};

/// A twelve-digit AWS account id.
pub type AccountId = String;

/// The result of looking at one thing through the API.
pub type Observed<T> = Result<T, Unobserved>;

/// Why a fact could not be seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unobserved {
    pub kind: UnobservedKind,
    /// The API operation that failed, e.g. `cloudtrail:GetTrailStatus`.
    pub operation: String,
    /// The service's message or our side's error, without credentials.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnobservedKind {
    /// The service said the audit role may not do this.
    AccessDenied,
    /// Throttled past the retries, a 5xx, a timeout, or an answer we could not read.
    ApiError,
    /// The audit role of the account the request was addressed to could not be assumed.
    RoleAssumptionFailed,
    /// The facts come from a Terraform plan that does not show this (a resource that exists
    /// outside the plan, or a value it cannot name).
    NotInPlan,
}

impl Unobserved {
    pub fn access_denied(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Unobserved { kind: UnobservedKind::AccessDenied, operation: operation.into(), message: message.into() }
    }

    pub fn api_error(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Unobserved { kind: UnobservedKind::ApiError, operation: operation.into(), message: message.into() }
    }

    pub fn not_in_plan(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Unobserved { kind: UnobservedKind::NotInPlan, operation: operation.into(), message: message.into() }
    }

    pub fn role_assumption_failed(message: impl Into<String>) -> Self {
        Unobserved { kind: UnobservedKind::RoleAssumptionFailed, operation: "sts:AssumeRole".into(), message: message.into() }
    }
}

/// A CloudTrail trail as DescribeTrails shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trail {
    pub arn: String,
    pub name: String,
    pub home_region: String,
    pub multi_region: bool,
    pub organization_trail: bool,
    /// `CloudWatchLogsLogGroupArn`; `None` when the trail does not deliver to CloudWatch Logs.
    pub log_group_arn: Option<String>,
}

impl Trail {
    /// The account that owns the trail, read from its ARN.
    pub fn owner_account(&self) -> Option<&str> {
        arn_account(&self.arn)
    }
}

/// The account field of an ARN (`arn:partition:service:region:account:resource`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty()).then_some(account)
}

/// The region field of an ARN.
pub fn arn_region(arn: &str) -> Option<&str> {
    let region = arn.split(':').nth(3)?;
    (!region.is_empty()).then_some(region)
}

/// GetTrailStatus.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrailStatus {
    pub is_logging: bool,
    /// `LatestCloudWatchLogsDeliveryError`: delivery to the log group is failing when set.
    pub latest_cloudwatch_logs_delivery_error: Option<String>,
}

/// GetEventSelectors. Both lists empty means the trail has never been given selectors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventSelectors {
    pub basic: Vec<BasicEventSelector>,
    pub advanced: Vec<AdvancedEventSelector>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BasicEventSelector {
    /// `All`, `ReadOnly` or `WriteOnly`; AWS's default is `All`.
    pub read_write_type: Option<String>,
    /// AWS's default is true.
    pub include_management_events: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvancedEventSelector {
    pub name: Option<String>,
    pub field_selectors: Vec<AdvancedFieldSelector>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdvancedFieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub not_equals: Vec<String>,
}

/// A CloudWatch Logs log group, named by account, region and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogGroupRef {
    pub account_id: AccountId,
    pub region: String,
    pub name: String,
}

impl LogGroupRef {
    /// Reads `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`.
    pub fn from_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(7, ':');
        let (_arn, _partition, service, region, account) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if service != "logs" || parts.next()? != "log-group" {
            return None;
        }
        let rest = parts.next()?;
        let name = rest.strip_suffix(":*").unwrap_or(rest);
        if name.is_empty() || region.is_empty() || account.is_empty() {
            return None;
        }
        Some(LogGroupRef { account_id: account.to_owned(), region: region.to_owned(), name: name.to_owned() })
    }
}

/// A CloudWatch metric, named by account, region, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricRef {
    pub account_id: AccountId,
    pub region: String,
    pub namespace: String,
    pub name: String,
}

/// A metric filter on a log group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricFilter {
    pub name: String,
    pub pattern: String,
    pub transformations: Vec<MetricTransformation>,
    /// `emitSystemFieldDimensions`: system fields (`@aws.account`, `@aws.region`) the metric
    /// carries as dimensions besides the transformation's own, which an alarm must then name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_dimensions: Vec<String>,
    /// `fieldSelectionCriteria`: which events the filter counts, by system fields
    /// (`@aws.account IN [...]`); `None` counts every event of the log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selection_criteria: Option<String>,
    /// `applyOnTransformedLogs`: the pattern matches the log group's transformed events, not the
    /// CloudTrail records as delivered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub apply_on_transformed_logs: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricTransformation {
    pub metric_name: String,
    pub namespace: String,
    /// `metricValue`: "1" counts events; a `$.field` publishes that field's value.
    pub value: String,
    /// The names of the dimensions the filter publishes (`dimensions`, each from a field of the
    /// event), which an alarm must then name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<String>,
}

impl MetricTransformation {
    pub fn has_dimensions(&self) -> bool {
        !self.dimensions.is_empty()
    }
}

/// A dimension an alarm names: its name and value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// A CloudWatch metric alarm: on one metric (`namespace`, `metric_name`, `statistic`), or on
/// metric math (`metrics`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    pub arn: String,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    /// `Sum`, `Average`, `SampleCount`, `Minimum`, `Maximum`.
    pub statistic: Option<String>,
    /// A percentile such as `p99`.
    pub extended_statistic: Option<String>,
    pub comparison_operator: Option<String>,
    pub threshold: Option<f64>,
    pub actions_enabled: bool,
    /// The actions run on the transition to ALARM.
    pub alarm_actions: Vec<String>,
    /// The dimensions of the metric it watches (a metric alarm on one metric).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// `Period`, in seconds (a metric-math alarm has it on its queries instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    /// `EvaluationPeriods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_periods: Option<i32>,
    /// `DatapointsToAlarm`: how many of the evaluation periods must breach (all when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i32>,
    /// `TreatMissingData`: `missing` (AWS's default), `notBreaching`, `breaching`, `ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    /// `Metrics`: the queries of a metric-math alarm, one of which returns the data alarmed on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricQuery>,
}

impl Alarm {
    pub fn has_dimensions(&self) -> bool {
        !self.dimensions.is_empty()
    }
}

/// One query of a metric-math alarm (`MetricDataQuery`): a metric with its statistic, or an
/// expression over the other queries' ids.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricQuery {
    pub id: String,
    /// `MetricStat`: the metric and statistic this query reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// `ReturnData`: whether the alarm is on this query's values (AWS's default is true).
    pub return_data: bool,
    /// `AccountId`: the account the metric is read in, when another than the alarm's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricStat {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// `Stat`: `Sum`, `Average`, `p99`, …
    pub stat: String,
}

/// A CloudWatch composite alarm: in ALARM when its rule over other alarms' states is true.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompositeAlarm {
    pub name: String,
    pub arn: String,
    /// `AlarmRule`, as written.
    pub rule: String,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    /// `ActionsSuppressor`: the alarm whose ALARM state holds this one's actions back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_suppressor: Option<String>,
}

/// Every alarm of an account and region (`cloudwatch:DescribeAlarms`, metric and composite).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alarms {
    pub metric: Vec<Alarm>,
    pub composite: Vec<CompositeAlarm>,
}

/// An SNS topic as GetTopicAttributes shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Topic {
    /// GetTopicAttributes answered NotFound.
    NotFound,
    Found {
        /// `KmsMasterKeyId`, when the topic is encrypted.
        kms_master_key_id: Option<String>,
        /// `Policy`: the topic's access policy, as JSON text (AWS always has one; `None` when
        /// the answer carried none).
        policy: Option<String>,
    },
}

/// The access policy SNS gives a topic it creates without one: every action a topic has, for
/// principals of the owner account only (`AWS:SourceOwner`). It lets CloudWatch publish for the
/// owner's alarms and refuses every other account's.
pub fn default_topic_policy(topic_arn: &str, owner: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": owner}}
        }]
    })
    .to_string()
}

/// A KMS key as `kms:DescribeKey` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Key {
    /// DescribeKey answered NotFoundException.
    NotFound,
    Found(KeyMetadata),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyMetadata {
    /// The key's ARN, which names the account that owns it.
    pub arn: String,
    pub key_id: String,
    /// `KeyManager`: `AWS` for an AWS-managed key, `CUSTOMER` for a customer-managed one.
    pub manager: String,
    /// `KeyState`: `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`, `Unavailable`, …
    pub state: String,
}

impl KeyMetadata {
    pub fn is_aws_managed(&self) -> bool {
        self.manager.eq_ignore_ascii_case("AWS")
    }
}

/// What `cloudwatch:DescribeAlarmHistory` gave: `Action` items (and, when asked for, every
/// other kind), newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlarmHistory {
    pub items: Vec<AlarmHistoryItem>,
    /// Whether the items are the whole history CloudWatch keeps, rather than its newest pages.
    pub complete: bool,
}

/// One item of an alarm's history (`cloudwatch:DescribeAlarmHistory`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmHistoryItem {
    pub alarm_name: String,
    /// `HistoryItemType`: `Action` unless said otherwise.
    #[serde(default, skip_serializing_if = "HistoryKind::is_action")]
    pub kind: HistoryKind,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// `HistorySummary`, e.g. "Failed to execute action arn:aws:sns:…".
    pub summary: String,
    /// `HistoryData`: JSON text as AWS wrote it (`actionState`, `notificationResource`,
    /// `error`, …); the core reads it.
    pub data: String,
}

/// `HistoryItemType` of an alarm history item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryKind {
    /// An action run (a notification), `HistoryData` with `actionState`.
    #[default]
    Action,
    /// A change of state, `HistoryData` with `oldState` and `newState` and their `stateValue`.
    StateUpdate,
    /// `ConfigurationUpdate`, `AlarmContributorStateUpdate`, …: not read.
    Other,
}

impl HistoryKind {
    pub fn is_action(&self) -> bool {
        *self == HistoryKind::Action
    }

    /// From AWS's `HistoryItemType`.
    pub fn from_aws(text: &str) -> HistoryKind {
        match text {
            "Action" => HistoryKind::Action,
            "StateUpdate" => HistoryKind::StateUpdate,
            _ => HistoryKind::Other,
        }
    }
}

/// One metric and statistic asked of `cloudwatch:GetMetricData`, per `period_seconds`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricDataQuery {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// `Sum`, `Average`, `SampleCount`, `Minimum`, `Maximum`, or a percentile such as `p99`.
    pub stat: String,
    pub period_seconds: i32,
}

/// What `cloudwatch:GetMetricData` gave for one [`MetricDataQuery`]: its value in every period
/// that had data, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricValues {
    pub timestamps: Vec<chrono::DateTime<chrono::Utc>>,
    pub values: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// A real ARN once confirmed; `PendingConfirmation` or `Deleted` otherwise.
    pub subscription_arn: String,
    pub protocol: String,
}

impl Subscription {
    pub fn is_confirmed(&self) -> bool {
        self.subscription_arn.starts_with("arn:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_group_arns_are_read_with_and_without_the_trailing_star() {
        let expected = LogGroupRef { account_id: "111122223333".into(), region: "eu-west-1".into(), name: "CloudTrail/Default".into() };
        assert_eq!(LogGroupRef::from_arn("arn:aws:logs:eu-west-1:111122223333:log-group:CloudTrail/Default:*"), Some(expected.clone()));
        assert_eq!(LogGroupRef::from_arn("arn:aws:logs:eu-west-1:111122223333:log-group:CloudTrail/Default"), Some(expected));
        assert_eq!(LogGroupRef::from_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(LogGroupRef::from_arn("garbage"), None);
        assert_eq!(LogGroupRef::from_arn("arn:aws:logs:eu-west-1:111122223333:log-group::*"), None);
    }

    #[test]
    fn subscriptions_are_confirmed_only_with_a_real_arn() {
        let sub = |arn: &str| Subscription { subscription_arn: arn.into(), protocol: "email".into() };
        assert!(sub("arn:aws:sns:us-east-1:111122223333:alerts:3f1c").is_confirmed());
        assert!(!sub("PendingConfirmation").is_confirmed());
        assert!(!sub("Deleted").is_confirmed());
    }
}
