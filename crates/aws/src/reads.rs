//! The reads orgwatch makes, behind one narrow trait with three implementations: the SDK
//! ([`crate::SdkReads`]), an in-memory organization ([`crate::memory::MemoryOrg`]) and a
//! failure-injecting wrapper ([`crate::faults::Faulty`]). The scan is generic over it.

use crate::errors::AwsError;
use chrono::{DateTime, Utc};
use orgwatch_core::facts::{AlarmHistory, Alarms, EventSelectors, Key, LogGroupRef, MetricDataQuery, MetricFilter, MetricValues, Observed, Subscription, Topic, Trail, TrailStatus};
use orgwatch_core::request::{CHAIN_READS, ORGANIZATION_CHAIN_READS};
use std::future::Future;

/// An account of the organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED`, …
    pub state: String,
}

impl OrgAccount {
    pub fn is_active(&self) -> bool {
        self.state == "ACTIVE"
    }
}

/// The organization, as `organizations:DescribeOrganization` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Organization {
    /// `o-…`, for `aws:SourceOrgID` in a topic's or key's policy.
    pub id: Option<String>,
    pub management_account_id: Option<String>,
}

/// Items of one page of `cloudwatch:DescribeAlarmHistory` (`MaxRecords`, its largest).
pub const ALARM_HISTORY_PAGE: usize = 100;

/// Pages of one alarm's history read at most: the newest thousand items. The history comes
/// newest first, so what is left unread is older than the latest notification it holds. The
/// history of every alarm of an account and region is read one page deep.
pub const ALARM_HISTORY_PAGES: usize = 10;

/// Pages of one alarm's `StateUpdate` history read at most over an advice window: five thousand
/// state changes, far more than a noisy alarm makes in a month. What is left is said
/// (`complete` false), never hidden.
pub const ALARM_STATES_PAGES: usize = 50;

/// Queries of one `cloudwatch:GetMetricData` call, its largest.
pub const METRIC_DATA_QUERIES: usize = 500;

/// Pages of one `cloudwatch:GetMetricData` call followed at most (each page holds up to 100,800
/// datapoints); more is an error, never a partial answer.
pub const METRIC_DATA_PAGES: usize = 100;

/// Alarms of one page of `cloudwatch:DescribeAlarms` (`MaxRecords`, its largest).
pub const ALARMS_PAGE: usize = 100;

/// Pages of `cloudwatch:DescribeAlarms` read at most per account and region: 100,000 alarms,
/// past CloudWatch's quota of alarms per region. More is an error, never a partial verdict.
pub const ALARMS_PAGES: usize = 1000;

/// Levels of `organizations:ListParents` climbed at most from an account to the root (AWS
/// nests OUs five deep), so a malformed answer cannot loop.
pub const ORG_PATH_DEPTH: usize = 8;

/// One page of `organizations:ListAccounts` (AWS answers at most 20 accounts a page).
#[derive(Clone, Debug, Default)]
pub struct AccountsPage {
    pub accounts: Vec<OrgAccount>,
    /// Where the next page starts; `None` on the last page.
    pub next_token: Option<String>,
}

/// Every API operation orgwatch calls to audit, as IAM names it. Nothing here changes an
/// audited account.
pub const AUDIT_OPERATIONS: &[&str] = &ALL_OPERATIONS;

/// The organization's listing and the role, then the core's chain reads: those of the audit
/// role, then those of orgwatch's own identity (an account's path in the organization).
const ALL_OPERATIONS: [&str; 3 + CHAIN_READS.len() + ORGANIZATION_CHAIN_READS.len()] = {
    let mut all = [""; 3 + CHAIN_READS.len() + ORGANIZATION_CHAIN_READS.len()];
    all[0] = "organizations:DescribeOrganization";
    all[1] = "organizations:ListAccounts";
    all[2] = "sts:AssumeRole";
    let mut i = 0;
    while i < CHAIN_READS.len() {
        all[3 + i] = CHAIN_READS[i];
        i += 1;
    }
    let mut j = 0;
    while j < ORGANIZATION_CHAIN_READS.len() {
        all[3 + i + j] = ORGANIZATION_CHAIN_READS[j];
        j += 1;
    }
    all
};

/// The reads of an audit. Organization-level reads use orgwatch's own identity; chain reads use
/// a [`AwsReads::Session`], the audit role assumed in the account that owns what is read.
///
/// Chain reads never fail as such: what could not be seen is an `Err(Unobserved)` fact that
/// the core judges as `ERROR`.
pub trait AwsReads: Send + Sync {
    /// The audit role assumed in one account.
    type Session: Clone + Send + Sync + 'static;

    /// `organizations:DescribeOrganization`: the organization's id and its management account's.
    fn describe_organization(&self) -> impl Future<Output = Result<Organization, AwsError>> + Send;

    /// `organizations:ListAccounts`, the page that starts at `next_token` (the first page
    /// with `None`). A scan judges the accounts of a page while the next one is read.
    fn list_accounts_page(&self, next_token: Option<String>) -> impl Future<Output = Result<AccountsPage, AwsError>> + Send;

    /// `organizations:ListAccounts`, every page, sorted by id.
    fn list_accounts(&self) -> impl Future<Output = Result<Vec<OrgAccount>, AwsError>> + Send {
        async move {
            let mut accounts = Vec::new();
            let mut token = None;
            loop {
                let page = self.list_accounts_page(token).await?;
                accounts.extend(page.accounts);
                match page.next_token {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            accounts.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(accounts)
        }
    }

    /// `sts:AssumeRole` into the account's audit role; the error says why, without secrets.
    fn assume_role(&self, account_id: &str) -> impl Future<Output = Result<Self::Session, String>> + Send;

    /// `cloudtrail:DescribeTrails` in `region`, shadow and organization trails included.
    fn describe_trails(&self, session: &Self::Session, region: &str) -> impl Future<Output = Observed<Vec<Trail>>> + Send;

    /// `cloudtrail:GetTrailStatus` in the trail's home region.
    fn get_trail_status(&self, session: &Self::Session, region: &str, trail_arn: &str) -> impl Future<Output = Observed<TrailStatus>> + Send;

    /// `cloudtrail:GetEventSelectors` in the trail's home region.
    fn get_event_selectors(&self, session: &Self::Session, region: &str, trail_arn: &str) -> impl Future<Output = Observed<EventSelectors>> + Send;

    /// `logs:DescribeMetricFilters` of one log group, every page, that group's own filters only.
    fn describe_metric_filters(&self, session: &Self::Session, group: &LogGroupRef) -> impl Future<Output = Observed<Vec<MetricFilter>>> + Send;

    /// `cloudwatch:DescribeAlarms` of every metric and composite alarm in `region`, every page
    /// ([`ALARMS_PAGE`] a page, at most [`ALARMS_PAGES`]).
    fn describe_alarms(&self, session: &Self::Session, region: &str) -> impl Future<Output = Observed<Alarms>> + Send;

    /// `sns:GetTopicAttributes`; a topic that does not exist is `Ok(Topic::NotFound)`.
    fn get_topic_attributes(&self, session: &Self::Session, region: &str, topic_arn: &str) -> impl Future<Output = Observed<Topic>> + Send;

    /// `sns:ListSubscriptionsByTopic`, every page.
    fn list_subscriptions_by_topic(&self, session: &Self::Session, region: &str, topic_arn: &str) -> impl Future<Output = Observed<Vec<Subscription>>> + Send;

    /// `kms:DescribeKey` of a key named by alias name, alias ARN, key id or key ARN, resolved
    /// in the session's account and `region`; a key that does not exist is `Ok(Key::NotFound)`.
    fn describe_key(&self, session: &Self::Session, region: &str, key_id: &str) -> impl Future<Output = Observed<Key>> + Send;

    /// `kms:GetKeyPolicy` (policy name `default`) of a key named by key id or key ARN: the
    /// policy's JSON text. Only the key's own account can read it.
    fn get_key_policy(&self, session: &Self::Session, region: &str, key_id: &str) -> impl Future<Output = Observed<String>> + Send;

    /// `cloudwatch:DescribeAlarmHistory`, `Action` items of metric and composite alarms (items
    /// of every kind with `every_kind`: no `HistoryItemType`), newest first
    /// (`ScanBy=TimestampDescending`), [`ALARM_HISTORY_PAGE`] a page: of one alarm, at most
    /// [`ALARM_HISTORY_PAGES`] pages; of every alarm in `region` (`alarm_name` `None`), one page.
    /// `complete` says whether nothing older is left.
    fn describe_alarm_history(&self, session: &Self::Session, region: &str, alarm_name: Option<&str>, every_kind: bool) -> impl Future<Output = Observed<AlarmHistory>> + Send;

    /// `cloudwatch:DescribeAlarmHistory` of one alarm (metric or composite), `StateUpdate` items
    /// from `start` to `end`, newest first, at most [`ALARM_STATES_PAGES`] pages; `complete`
    /// says whether nothing older within the window is left.
    fn describe_alarm_states(&self, session: &Self::Session, region: &str, alarm_name: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> impl Future<Output = Observed<AlarmHistory>> + Send;

    /// `cloudwatch:GetMetricData` of every query from `start` to `end`, [`METRIC_DATA_QUERIES`] a
    /// call, every page: one [`MetricValues`] per query, in their order, oldest first.
    fn get_metric_data(&self, session: &Self::Session, region: &str, start: DateTime<Utc>, end: DateTime<Utc>, queries: &[MetricDataQuery]) -> impl Future<Output = Observed<Vec<MetricValues>>> + Send;

    /// `organizations:ListParents` from the account up to the root, with orgwatch's own
    /// identity (no audit role): the account's path as `aws:SourceOrgPaths` spells it,
    /// `o-…/r-…/ou-…/…/`, root first, with a trailing slash. At most [`ORG_PATH_DEPTH`] levels.
    fn org_path(&self, account_id: &str) -> impl Future<Output = Observed<String>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_audit_operations_are_the_organization_listing_the_role_and_every_chain_read_once() {
        let listed: BTreeSet<&str> = AUDIT_OPERATIONS.iter().copied().collect();
        assert_eq!(listed.len(), AUDIT_OPERATIONS.len(), "each once: {AUDIT_OPERATIONS:?}");
        let mut expected: BTreeSet<&str> = CHAIN_READS.iter().chain(&ORGANIZATION_CHAIN_READS).copied().collect();
        expected.extend(["organizations:DescribeOrganization", "organizations:ListAccounts", "sts:AssumeRole"]);
        assert_eq!(listed, expected);
    }
}
