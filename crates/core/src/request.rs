//! What the core asks collection for, and what collection answers.
//!
//! Evaluation is demand-driven: given the [`Facts`] known so far, the core either judges, or
//! names the next [`Request`]s it needs. A request is a plain value addressed to the account
//! that owns the resource (an organization trail's chain to the management account, a central
//! topic to the security account), so the carrier reads it with that account's audit role and
//! can share one answer between every account that asks.

use crate::facts::{AccountId, AlarmHistory, Alarms, EventSelectors, Key, LogGroupRef, MetricDataQuery, MetricFilter, MetricValues, Observed, Subscription, Topic, Trail, TrailStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// One read, addressed to the account that owns what is read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Request {
    /// `cloudtrail:DescribeTrails` in one region, shadow and organization trails included.
    Trails { account_id: AccountId, region: String },
    /// `cloudtrail:GetTrailStatus` of a trail, in its home region.
    TrailStatus { account_id: AccountId, region: String, trail_arn: String },
    /// `cloudtrail:GetEventSelectors` of a trail, in its home region.
    EventSelectors { account_id: AccountId, region: String, trail_arn: String },
    /// `logs:DescribeMetricFilters` of a log group.
    MetricFilters(LogGroupRef),
    /// `cloudwatch:DescribeAlarms` of an account and region, metric and composite alarms, every
    /// page: every alarm there, for every control, and the only read that shows metric-math and
    /// composite alarms.
    Alarms { account_id: AccountId, region: String },
    /// `sns:GetTopicAttributes` of a topic.
    Topic { account_id: AccountId, region: String, topic_arn: String },
    /// `sns:ListSubscriptionsByTopic` of a topic.
    Subscriptions { account_id: AccountId, region: String, topic_arn: String },
    /// `kms:DescribeKey` of the key a topic is encrypted with, as the topic names it (alias
    /// name, alias ARN, key id or key ARN), in the account and region that name resolves in.
    Key { account_id: AccountId, region: String, key_id: String },
    /// `kms:GetKeyPolicy` (policy name `default`) of a key, by key id or key ARN, in the key's
    /// own account: a key policy cannot be read from another account.
    KeyPolicy { account_id: AccountId, region: String, key_id: String },
    /// `cloudwatch:DescribeAlarmHistory`, `Action` items of metric and composite alarms, newest
    /// first: of one alarm, its newest pages; of every alarm of the account and region
    /// (`alarm_name` `None`), the newest page, which holds the latest notification of most.
    /// `every_kind`: items of every kind, not only `Action` (on the scans that gather advice, so
    /// the same page shows the alarms' state changes).
    AlarmHistory { account_id: AccountId, region: String, alarm_name: Option<String>, every_kind: bool },
    /// `cloudwatch:DescribeAlarmHistory`, `StateUpdate` items of one alarm from `start` to `end`,
    /// every page: how often it went to ALARM, for advice.
    AlarmStates { account_id: AccountId, region: String, alarm_name: String, start: DateTime<Utc>, end: DateTime<Utc> },
    /// `cloudwatch:GetMetricData` of every query, from `start` to `end`, batched (up to 500
    /// queries a call): every alarmed metric of an account and region, and the `AWS/SNS`
    /// delivery metrics of its topics there, for advice.
    MetricData { account_id: AccountId, region: String, start: DateTime<Utc>, end: DateTime<Utc>, queries: Vec<MetricDataQuery> },
    /// `organizations:ListParents` from the account up to the root: its path in the
    /// organization (`o-…/r-…/ou-…/`), for `aws:SourceOrgPaths`. Read with orgwatch's own
    /// identity, not an audit role, and only when a policy names that key.
    OrgPath { account_id: AccountId },
}

impl Request {
    /// The account whose audit role reads this.
    pub fn account_id(&self) -> &str {
        match self {
            Request::Trails { account_id, .. }
            | Request::TrailStatus { account_id, .. }
            | Request::EventSelectors { account_id, .. }
            | Request::Topic { account_id, .. }
            | Request::Subscriptions { account_id, .. }
            | Request::Key { account_id, .. }
            | Request::KeyPolicy { account_id, .. }
            | Request::AlarmHistory { account_id, .. }
            | Request::AlarmStates { account_id, .. }
            | Request::MetricData { account_id, .. }
            | Request::Alarms { account_id, .. }
            | Request::OrgPath { account_id } => account_id,
            Request::MetricFilters(group) => &group.account_id,
        }
    }

    /// The region the read is made in (Organizations has one endpoint: `us-east-1`).
    pub fn region(&self) -> &str {
        match self {
            Request::Trails { region, .. }
            | Request::TrailStatus { region, .. }
            | Request::EventSelectors { region, .. }
            | Request::Topic { region, .. }
            | Request::Subscriptions { region, .. }
            | Request::Key { region, .. }
            | Request::KeyPolicy { region, .. }
            | Request::AlarmHistory { region, .. }
            | Request::AlarmStates { region, .. }
            | Request::MetricData { region, .. }
            | Request::Alarms { region, .. } => region,
            Request::OrgPath { .. } => "us-east-1",
            Request::MetricFilters(group) => &group.region,
        }
    }

    /// The API operation that answers it, as IAM names it (one of [`CHAIN_READS`]).
    pub fn operation(&self) -> &'static str {
        match self {
            Request::Trails { .. } => "cloudtrail:DescribeTrails",
            Request::TrailStatus { .. } => "cloudtrail:GetTrailStatus",
            Request::EventSelectors { .. } => "cloudtrail:GetEventSelectors",
            Request::MetricFilters(_) => "logs:DescribeMetricFilters",
            Request::Alarms { .. } => "cloudwatch:DescribeAlarms",
            Request::Topic { .. } => "sns:GetTopicAttributes",
            Request::Subscriptions { .. } => "sns:ListSubscriptionsByTopic",
            Request::Key { .. } => "kms:DescribeKey",
            Request::KeyPolicy { .. } => "kms:GetKeyPolicy",
            Request::AlarmHistory { .. } | Request::AlarmStates { .. } => "cloudwatch:DescribeAlarmHistory",
            Request::MetricData { .. } => "cloudwatch:GetMetricData",
            Request::OrgPath { .. } => "organizations:ListParents",
        }
    }

    /// Whether the read is made with orgwatch's own identity rather than an audit role.
    pub fn is_organization_read(&self) -> bool {
        matches!(self, Request::OrgPath { .. })
    }
}

/// Every operation a [`Request`] read with an audit role is answered by, as IAM names them: the
/// audit role's actions.
pub const CHAIN_READS: [&str; 11] = [
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "logs:DescribeMetricFilters",
    "cloudwatch:DescribeAlarms",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:GetMetricData",
];

/// The operation a [`Request`] read with orgwatch's own identity is answered by
/// ([`Request::is_organization_read`]).
pub const ORGANIZATION_CHAIN_READS: [&str; 1] = ["organizations:ListParents"];

/// What a [`Request`] was answered with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Answer {
    Trails(Vec<Trail>),
    TrailStatus(TrailStatus),
    EventSelectors(EventSelectors),
    MetricFilters(Vec<MetricFilter>),
    Alarms(Alarms),
    Topic(Topic),
    Subscriptions(Vec<Subscription>),
    Key(Key),
    /// The key policy's JSON text.
    KeyPolicy(String),
    AlarmHistory(AlarmHistory),
    /// One [`MetricValues`] per query of [`Request::MetricData`], in its order.
    MetricData(Vec<MetricValues>),
    /// The account's path in the organization, `o-…/r-…/ou-…/…/`.
    OrgPath(String),
}

/// The answers known so far for one account's judgement, own and borrowed alike.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    answers: HashMap<Request, Observed<Answer>>,
}

impl Facts {
    pub fn new() -> Self {
        Facts::default()
    }

    pub fn insert(&mut self, request: Request, answer: Observed<Answer>) {
        self.answers.insert(request, answer);
    }

    pub fn get(&self, request: &Request) -> Option<&Observed<Answer>> {
        self.answers.get(request)
    }

    /// Every answer known, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Request, &Observed<Answer>)> {
        self.answers.iter()
    }

}

impl FromIterator<(Request, Observed<Answer>)> for Facts {
    fn from_iter<I: IntoIterator<Item = (Request, Observed<Answer>)>>(iter: I) -> Self {
        Facts { answers: iter.into_iter().collect() }
    }
}

impl Extend<(Request, Observed<Answer>)> for Facts {
    fn extend<I: IntoIterator<Item = (Request, Observed<Answer>)>>(&mut self, iter: I) {
        self.answers.extend(iter);
    }
}
