//! Failure injection around any [`AwsReads`]: access denied, API errors and calls that never
//! answer, by account and operation.
//!
//! How a call is matched: a call has an operation (its IAM name, e.g.
//! `cloudtrail:GetTrailStatus`) and an account — the session's account for a chain read, the
//! target account for `sts:AssumeRole` and for `organizations:ListParents` (the account whose
//! path is read, with orgwatch's own identity), and *none* for the organization calls
//! (`organizations:DescribeOrganization`, `organizations:ListAccounts`), which are made with
//! orgwatch's own identity. A rule matches when its `account_id` is `None` or names the call's
//! account (so an organization call is matched only by rules without an account), its
//! `operation` is `None` or the call's, and it has not fired `times` times yet. The first
//! matching rule fires, once per call.
//!
//! What a fault does: the call is still made to the wrapped reads (so a
//! [`MemoryOrg`](crate::memory::MemoryOrg) records it and spends its latency), then its answer is
//! replaced: [`Fault::AccessDenied`] and [`Fault::ApiError`] by the corresponding error, and
//! [`Fault::Hang`] by never answering at all (`std::future::pending`).

use crate::errors::AwsError;
use crate::reads::{AccountsPage, AwsReads, Organization};
use chrono::{DateTime, Utc};
use orgwatch_core::facts::{AlarmHistory, Alarms, EventSelectors, Key, LogGroupRef, MetricDataQuery, MetricFilter, MetricValues, Observed, Subscription, Topic, Trail, TrailStatus};
use orgwatch_core::Unobserved;
use std::sync::Mutex;

/// What an injected fault does to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The service refuses: `AccessDenied` for a chain read (an access-denied fact), a refused
    /// role for `AssumeRole`, `AccessDeniedException` for an organization call.
    AccessDenied,
    /// The service fails (`InternalFailure`, as after exhausted retries): an API-error fact, a
    /// failed `AssumeRole`, a failed organization call.
    ApiError,
    /// The call never completes.
    Hang,
}

/// When to inject a fault; see the module documentation.
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// The call's account; `None` matches any call, organization calls included.
    pub account_id: Option<String>,
    /// The IAM name of the operation; `None` matches any.
    pub operation: Option<&'static str>,
    pub fault: Fault,
    /// How many times the rule fires; `None` = every time.
    pub times: Option<usize>,
}

/// Any [`AwsReads`] with faults injected by rules; see the module documentation.
pub struct Faulty<R: AwsReads> {
    inner: R,
    rules: Vec<FaultRule>,
    fired: Mutex<Vec<usize>>,
}

const INJECTED: &str = "injected fault";

impl<R: AwsReads> Faulty<R> {
    pub fn new(inner: R, rules: Vec<FaultRule>) -> Self {
        let fired = Mutex::new(vec![0; rules.len()]);
        Faulty { inner, rules, fired }
    }

    /// The wrapped reads (e.g. to look at a `MemoryOrg`'s records).
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// How many times each rule has fired, in the order of the rules.
    pub fn fired(&self) -> Vec<usize> {
        self.fired.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The fault of the first rule that matches the call, counted as fired.
    fn fault(&self, account_id: Option<&str>, operation: &str) -> Option<Fault> {
        let mut fired = self.fired.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (index, rule) = self.rules.iter().enumerate().find(|(i, rule)| {
            rule.account_id.as_deref().is_none_or(|a| Some(a) == account_id)
                && rule.operation.is_none_or(|o| o == operation)
                && rule.times.is_none_or(|times| fired[*i] < times)
        })?;
        fired[index] += 1;
        Some(rule.fault)
    }

    /// An organization call: the inner call, then the fault if one fires.
    async fn organization_call<T>(&self, operation: &'static str, call: impl Future<Output = Result<T, AwsError>>) -> Result<T, AwsError> {
        let fault = self.fault(None, operation);
        let answer = call.await;
        let code = match fault {
            None => return answer,
            Some(Fault::Hang) => return std::future::pending().await,
            Some(Fault::AccessDenied) => "AccessDeniedException",
            Some(Fault::ApiError) => "ServiceException",
        };
        Err(AwsError::Service { operation, code: Some(code.to_owned()), message: format!("{code}: {INJECTED}") })
    }

    /// A chain read made with the session of `account_id` (or, for an account's path, about
    /// `account_id` with orgwatch's own identity): the inner call, then the fault if one fires.
    async fn chain_read<T>(&self, account_id: &str, operation: &'static str, call: impl Future<Output = Observed<T>>) -> Observed<T> {
        let fault = self.fault(Some(account_id), operation);
        let answer = call.await;
        match fault {
            None => answer,
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::AccessDenied) => {
                Err(Unobserved::access_denied(operation, format!("AccessDenied: {INJECTED}: {account_id} may not call {operation}")))
            }
            Some(Fault::ApiError) => Err(Unobserved::api_error(operation, format!("InternalFailure: {INJECTED}"))),
        }
    }
}

impl<R: AwsReads> AwsReads for Faulty<R> {
    /// The session's account, and the wrapped reads' session.
    type Session = (String, R::Session);

    async fn describe_organization(&self) -> Result<Organization, AwsError> {
        self.organization_call("organizations:DescribeOrganization", self.inner.describe_organization()).await
    }

    async fn list_accounts_page(&self, next_token: Option<String>) -> Result<AccountsPage, AwsError> {
        self.organization_call("organizations:ListAccounts", self.inner.list_accounts_page(next_token)).await
    }

    async fn assume_role(&self, account_id: &str) -> Result<Self::Session, String> {
        let fault = self.fault(Some(account_id), "sts:AssumeRole");
        let answer = self.inner.assume_role(account_id).await;
        match fault {
            None => answer.map(|session| (account_id.to_owned(), session)),
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::AccessDenied) => Err(format!("audit role of {account_id}: AccessDenied: {INJECTED}: not authorized to perform sts:AssumeRole")),
            Some(Fault::ApiError) => Err(format!("audit role of {account_id}: InternalFailure: {INJECTED}")),
        }
    }

    async fn describe_trails(&self, session: &Self::Session, region: &str) -> Observed<Vec<Trail>> {
        self.chain_read(&session.0, "cloudtrail:DescribeTrails", self.inner.describe_trails(&session.1, region)).await
    }

    async fn get_trail_status(&self, session: &Self::Session, region: &str, trail_arn: &str) -> Observed<TrailStatus> {
        self.chain_read(&session.0, "cloudtrail:GetTrailStatus", self.inner.get_trail_status(&session.1, region, trail_arn)).await
    }

    async fn get_event_selectors(&self, session: &Self::Session, region: &str, trail_arn: &str) -> Observed<EventSelectors> {
        self.chain_read(&session.0, "cloudtrail:GetEventSelectors", self.inner.get_event_selectors(&session.1, region, trail_arn)).await
    }

    async fn describe_metric_filters(&self, session: &Self::Session, group: &LogGroupRef) -> Observed<Vec<MetricFilter>> {
        self.chain_read(&session.0, "logs:DescribeMetricFilters", self.inner.describe_metric_filters(&session.1, group)).await
    }

    async fn describe_alarms(&self, session: &Self::Session, region: &str) -> Observed<Alarms> {
        self.chain_read(&session.0, "cloudwatch:DescribeAlarms", self.inner.describe_alarms(&session.1, region)).await
    }

    async fn get_topic_attributes(&self, session: &Self::Session, region: &str, topic_arn: &str) -> Observed<Topic> {
        self.chain_read(&session.0, "sns:GetTopicAttributes", self.inner.get_topic_attributes(&session.1, region, topic_arn)).await
    }

    async fn list_subscriptions_by_topic(&self, session: &Self::Session, region: &str, topic_arn: &str) -> Observed<Vec<Subscription>> {
        self.chain_read(&session.0, "sns:ListSubscriptionsByTopic", self.inner.list_subscriptions_by_topic(&session.1, region, topic_arn)).await
    }

    async fn describe_key(&self, session: &Self::Session, region: &str, key_id: &str) -> Observed<Key> {
        self.chain_read(&session.0, "kms:DescribeKey", self.inner.describe_key(&session.1, region, key_id)).await
    }

    async fn get_key_policy(&self, session: &Self::Session, region: &str, key_id: &str) -> Observed<String> {
        self.chain_read(&session.0, "kms:GetKeyPolicy", self.inner.get_key_policy(&session.1, region, key_id)).await
    }

    async fn describe_alarm_history(&self, session: &Self::Session, region: &str, alarm_name: Option<&str>, every_kind: bool) -> Observed<AlarmHistory> {
        self.chain_read(&session.0, "cloudwatch:DescribeAlarmHistory", self.inner.describe_alarm_history(&session.1, region, alarm_name, every_kind)).await
    }

    async fn describe_alarm_states(&self, session: &Self::Session, region: &str, alarm_name: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Observed<AlarmHistory> {
        self.chain_read(&session.0, "cloudwatch:DescribeAlarmHistory", self.inner.describe_alarm_states(&session.1, region, alarm_name, start, end)).await
    }

    async fn get_metric_data(&self, session: &Self::Session, region: &str, start: DateTime<Utc>, end: DateTime<Utc>, queries: &[MetricDataQuery]) -> Observed<Vec<MetricValues>> {
        self.chain_read(&session.0, "cloudwatch:GetMetricData", self.inner.get_metric_data(&session.1, region, start, end, queries)).await
    }

    async fn org_path(&self, account_id: &str) -> Observed<String> {
        self.chain_read(account_id, "organizations:ListParents", self.inner.org_path(account_id)).await
    }
}

#[cfg(test)]
mod tests;
