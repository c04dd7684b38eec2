//! [`AwsReads`] with the official AWS SDK.
//!
//! One base configuration (the standard environment: credentials chain, `AWS_ENDPOINT_URL`,
//! profile) with orgwatch's retry and timeout settings and one HTTP client for every account.
//! Each assumed role gets static credentials and no identity cache, so nothing is shared or
//! evicted between accounts; each (service, account, region) has its own retry partition, so
//! throttling in one account cannot spend the others' retry budget.

use crate::errors::{AwsError, CallError, is_throttling};
use crate::reads::{
    ALARM_HISTORY_PAGE, ALARM_HISTORY_PAGES, ALARM_STATES_PAGES, ALARMS_PAGE, ALARMS_PAGES, AccountsPage, AwsReads, METRIC_DATA_PAGES, METRIC_DATA_QUERIES, ORG_PATH_DEPTH, OrgAccount,
    Organization,
};
use crate::stats::ApiStats;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudtrail::config::retry::RetryPartition;
use aws_sdk_cloudtrail::types::ReadWriteType;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orgwatch_core::Unobserved;
use orgwatch_core::facts::{
    AdvancedEventSelector, AdvancedFieldSelector, Alarm, AlarmHistory, AlarmHistoryItem, Alarms, BasicEventSelector, CompositeAlarm, Dimension, EventSelectors, Key,
    HistoryKind, KeyMetadata, LogGroupRef, MetricDataQuery, MetricFilter, MetricQuery, MetricStat, MetricTransformation, MetricValues, Observed, Subscription, Topic, Trail, TrailStatus,
    arn_region,
};
use aws_sdk_cloudwatch::types::HistoryItemType;
use chrono::{DateTime, Utc};
use crate::pace::Pacer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// How [`SdkReads`] talks to AWS.
#[derive(Clone, Debug)]
pub struct SdkSettings {
    /// The region of orgwatch's own calls (Organizations, STS) and the fallback region.
    pub region: String,
    /// The role assumed in each account: `arn:aws:iam::<id>:role/<audit_role_name>`.
    pub audit_role_name: String,
    /// The external ID the audit role's trust policy requires, if any. Never logged.
    pub external_id: Option<String>,
    /// Attempts per call in standard retry mode (the SDK's default is 3).
    pub max_attempts: u32,
    /// Bound on one call, retries included.
    pub operation_timeout: Duration,
    /// Bound on one attempt of a call.
    pub attempt_timeout: Duration,
    /// Lifetime of the assumed-role session, clamped to what STS accepts (15 min – 12 h); it
    /// must outlast one scan's use of the role.
    pub session_duration: Duration,
}

/// Bound on establishing a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The standard AWS environment with one HTTP client, standard retries and the timeouts.
pub(crate) async fn load_base_config(region: &str, max_attempts: u32, operation_timeout: Duration, attempt_timeout: Duration) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(operation_timeout)
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .load()
        .await
}

/// One API operation: the service's name in the counters, the operation's name, and the IAM
/// name that facts and errors carry.
#[derive(Clone, Copy)]
pub(crate) struct Op {
    pub service: &'static str,
    pub name: &'static str,
    pub iam: &'static str,
}

const DESCRIBE_ORGANIZATION: Op = Op { service: "organizations", name: "DescribeOrganization", iam: "organizations:DescribeOrganization" };
const LIST_ACCOUNTS: Op = Op { service: "organizations", name: "ListAccounts", iam: "organizations:ListAccounts" };
const ASSUME_ROLE: Op = Op { service: "sts", name: "AssumeRole", iam: "sts:AssumeRole" };
const DESCRIBE_TRAILS: Op = Op { service: "cloudtrail", name: "DescribeTrails", iam: "cloudtrail:DescribeTrails" };
const GET_TRAIL_STATUS: Op = Op { service: "cloudtrail", name: "GetTrailStatus", iam: "cloudtrail:GetTrailStatus" };
const GET_EVENT_SELECTORS: Op = Op { service: "cloudtrail", name: "GetEventSelectors", iam: "cloudtrail:GetEventSelectors" };
const DESCRIBE_METRIC_FILTERS: Op = Op { service: "logs", name: "DescribeMetricFilters", iam: "logs:DescribeMetricFilters" };
const DESCRIBE_ALARMS: Op = Op { service: "monitoring", name: "DescribeAlarms", iam: "cloudwatch:DescribeAlarms" };
const GET_TOPIC_ATTRIBUTES: Op = Op { service: "sns", name: "GetTopicAttributes", iam: "sns:GetTopicAttributes" };
const LIST_SUBSCRIPTIONS_BY_TOPIC: Op = Op { service: "sns", name: "ListSubscriptionsByTopic", iam: "sns:ListSubscriptionsByTopic" };
const DESCRIBE_KEY: Op = Op { service: "kms", name: "DescribeKey", iam: "kms:DescribeKey" };
const GET_KEY_POLICY: Op = Op { service: "kms", name: "GetKeyPolicy", iam: "kms:GetKeyPolicy" };
const DESCRIBE_ALARM_HISTORY: Op = Op { service: "monitoring", name: "DescribeAlarmHistory", iam: "cloudwatch:DescribeAlarmHistory" };
const LIST_PARENTS: Op = Op { service: "organizations", name: "ListParents", iam: "organizations:ListParents" };
const GET_METRIC_DATA: Op = Op { service: "monitoring", name: "GetMetricData", iam: "cloudwatch:GetMetricData" };

/// Every operation [`SdkReads`] calls.
const OPERATIONS: [Op; 15] = [
    DESCRIBE_ORGANIZATION,
    LIST_ACCOUNTS,
    ASSUME_ROLE,
    DESCRIBE_TRAILS,
    GET_TRAIL_STATUS,
    GET_EVENT_SELECTORS,
    DESCRIBE_METRIC_FILTERS,
    DESCRIBE_ALARMS,
    GET_TOPIC_ATTRIBUTES,
    LIST_SUBSCRIPTIONS_BY_TOPIC,
    DESCRIBE_KEY,
    GET_KEY_POLICY,
    DESCRIBE_ALARM_HISTORY,
    LIST_PARENTS,
    GET_METRIC_DATA,
];

/// Counts one call's final answer.
pub(crate) fn record<T, E: ProvideErrorMetadata>(stats: &ApiStats, op: Op, result: &Result<T, E>) {
    let (error, throttled) = match result {
        Ok(_) => (false, false),
        Err(e) => (true, is_throttling(e.code())),
    };
    stats.record(op.service, op.name, error, throttled);
}

/// The audit reads with the official SDK; see the module documentation.
#[derive(Clone)]
pub struct SdkReads {
    base: SdkConfig,
    settings: SdkSettings,
    organizations: aws_sdk_organizations::Client,
    sts: aws_sdk_sts::Client,
    stats: Arc<ApiStats>,
    /// The organization's id, from the first DescribeOrganization that named it: the first
    /// element of every account's path.
    organization_id: Arc<OnceCell<String>>,
    /// CloudWatch's quota per account and region: every CloudWatch call waits for it.
    cloudwatch_pace: Arc<Pacer>,
}

/// The audit role assumed in one account: its static credentials in a configuration of their
/// own, and the clients built from it, one per (service, region), built on first use and kept
/// for the session's life (clones share them).
#[derive(Clone)]
pub struct SdkSession {
    account_id: String,
    config: SdkConfig,
    clients: Arc<Mutex<Clients>>,
}

impl std::fmt::Debug for SdkSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkSession").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Clients {
    cloudtrail: HashMap<String, aws_sdk_cloudtrail::Client>,
    logs: HashMap<String, aws_sdk_cloudwatchlogs::Client>,
    cloudwatch: HashMap<String, aws_sdk_cloudwatch::Client>,
    sns: HashMap<String, aws_sdk_sns::Client>,
    kms: HashMap<String, aws_sdk_kms::Client>,
}

/// The retry partition of one account's calls to one service in one region.
fn partition(service: &str, account: &str, region: &str) -> RetryPartition {
    RetryPartition::new(format!("{service}-{account}-{region}"))
}

impl SdkSession {
    /// The account whose audit role this is.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The client of `map` for `region`, built once.
    fn client<C: Clone>(&self, pick: impl FnOnce(&mut Clients) -> &mut HashMap<String, C>, region: &str, build: impl FnOnce() -> C) -> C {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pick(&mut clients).entry(region.to_owned()).or_insert_with(build).clone()
    }

    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        self.client(|c| &mut c.cloudtrail, region, || {
            let config = aws_sdk_cloudtrail::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_partition(partition("cloudtrail", &self.account_id, region))
                .build();
            aws_sdk_cloudtrail::Client::from_conf(config)
        })
    }

    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        self.client(|c| &mut c.logs, region, || {
            let config = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_partition(partition("logs", &self.account_id, region))
                .build();
            aws_sdk_cloudwatchlogs::Client::from_conf(config)
        })
    }

    fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        self.client(|c| &mut c.cloudwatch, region, || {
            let config = aws_sdk_cloudwatch::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_partition(partition("monitoring", &self.account_id, region))
                .build();
            aws_sdk_cloudwatch::Client::from_conf(config)
        })
    }

    fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        self.client(|c| &mut c.sns, region, || {
            let config = aws_sdk_sns::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_partition(partition("sns", &self.account_id, region))
                .build();
            aws_sdk_sns::Client::from_conf(config)
        })
    }

    fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        self.client(|c| &mut c.kms, region, || {
            let config = aws_sdk_kms::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_partition(partition("kms", &self.account_id, region))
                .build();
            aws_sdk_kms::Client::from_conf(config)
        })
    }
}

impl SdkReads {
    /// Loads the standard AWS environment with the settings' retries and timeouts and one HTTP
    /// client for every account.
    pub async fn new(settings: SdkSettings) -> Self {
        let base = load_base_config(&settings.region, settings.max_attempts, settings.operation_timeout, settings.attempt_timeout).await;
        let organizations = aws_sdk_organizations::Client::new(&base);
        let sts = aws_sdk_sts::Client::new(&base);
        let stats = Arc::new(ApiStats::default());
        for op in OPERATIONS {
            stats.expect(op.service, op.name);
        }
        SdkReads { base, settings, organizations, sts, stats, organization_id: Arc::default(), cloudwatch_pace: Arc::new(Pacer::cloudwatch()) }
    }

    /// Counters of calls, errors and throttles, by service and operation (every operation
    /// listed from the start, at zero).
    pub fn stats(&self) -> Arc<ApiStats> {
        self.stats.clone()
    }

    fn record<T, E: ProvideErrorMetadata>(&self, op: Op, result: &Result<T, E>) {
        record(&self.stats, op, result);
    }

    /// The organization's id: the one DescribeOrganization named, or a DescribeOrganization now.
    async fn organization_id(&self) -> Observed<String> {
        let id = self
            .organization_id
            .get_or_try_init(|| async {
                match self.describe_organization().await {
                    Ok(Organization { id: Some(id), .. }) => Ok(id),
                    Ok(Organization { id: None, .. }) => Err(Unobserved::api_error(DESCRIBE_ORGANIZATION.iam, "DescribeOrganization named no organization id")),
                    Err(e) => Err(aws_error_into_unobserved(e)),
                }
            })
            .await?;
        Ok(id.clone())
    }
}

/// An organization call's error as the fact of a chain read that needed it.
fn aws_error_into_unobserved(error: AwsError) -> Unobserved {
    match error {
        AwsError::Service { operation, code, message } => {
            CallError { code, message, service_error: true }.into_unobserved(operation)
        }
        AwsError::Client { operation, message } => Unobserved::api_error(operation, message),
    }
}

/// A CloudWatch timestamp in chrono's terms; `None` outside chrono's range.
fn timestamp(time: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

/// The STS session duration in seconds: what STS accepts, 15 minutes to 12 hours.
fn session_seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX).clamp(900, 43_200)
}

impl SdkReads {
    /// Pages of `DescribeAlarmHistory` of metric and composite alarms, newest first, at most
    /// `pages`: of one alarm or of every alarm, of one kind (`kind`) or of every kind, over a
    /// window (`StartDate`, `EndDate`) or over all that CloudWatch keeps.
    async fn alarm_history_pages(
        &self,
        session: &SdkSession,
        region: &str,
        alarm_name: Option<&str>,
        kind: Option<HistoryItemType>,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
        pages: usize,
    ) -> Observed<AlarmHistory> {
        use aws_sdk_cloudwatch::types::{AlarmType, ScanBy};
        let client = session.cloudwatch(region);
        let mut history = AlarmHistory::default();
        let mut token: Option<String> = None;
        for _ in 0..pages {
            self.cloudwatch_pace.admit(&session.account_id, region).await;
            let result = client
                .describe_alarm_history()
                .set_alarm_name(alarm_name.map(str::to_owned))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .set_history_item_type(kind.clone())
                .set_start_date(window.map(|(start, _)| smithy_time(start)))
                .set_end_date(window.map(|(_, end)| smithy_time(end)))
                .scan_by(ScanBy::TimestampDescending)
                .max_records(ALARM_HISTORY_PAGE as i32)
                .set_next_token(token.take())
                .send()
                .await;
            self.record(DESCRIBE_ALARM_HISTORY, &result);
            let page = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(DESCRIBE_ALARM_HISTORY.iam))?;
            history.items.extend(page.alarm_history_items().iter().filter_map(|item| history_item(item, alarm_name, kind.as_ref())));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => {
                    history.complete = true;
                    break;
                }
            }
        }
        Ok(history)
    }
}

/// An alarm history item as the core sees it. Its kind is its `HistoryItemType`, else the kind
/// asked for. An item without a time cannot be ordered against the others (AWS always gives
/// one): `None`.
fn history_item(item: &aws_sdk_cloudwatch::types::AlarmHistoryItem, alarm_name: Option<&str>, asked: Option<&HistoryItemType>) -> Option<AlarmHistoryItem> {
    let kind = item.history_item_type().or(asked).map_or(HistoryKind::Other, |k| HistoryKind::from_aws(k.as_str()));
    Some(AlarmHistoryItem {
        alarm_name: item.alarm_name().or(alarm_name)?.to_owned(),
        kind,
        timestamp: timestamp(item.timestamp()?)?,
        summary: item.history_summary().unwrap_or_default().to_owned(),
        data: item.history_data().unwrap_or_default().to_owned(),
    })
}

/// A time in the SDK's terms.
fn smithy_time(time: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(time.timestamp(), time.timestamp_subsec_nanos())
}

/// A query as an error names it: `AWS/SNS NumberOfNotificationsFailed [TopicName=alerts] Sum per 3600 s`.
fn describe_query(query: &MetricDataQuery) -> String {
    let dimensions: Vec<String> = query.dimensions.iter().map(|d| format!("{}={}", d.name, d.value)).collect();
    let dimensions = if dimensions.is_empty() { String::new() } else { format!(" [{}]", dimensions.join(", ")) };
    format!("{} {}{} {} per {} s", query.namespace, query.metric_name, dimensions, query.stat, query.period_seconds)
}

/// `Code: Value` of each message, joined.
fn messages_text(messages: &[aws_sdk_cloudwatch::types::MessageData]) -> String {
    let texts: Vec<String> = messages
        .iter()
        .map(|m| match (m.code(), m.value()) {
            (Some(code), Some(value)) => format!("{code}: {value}"),
            (Some(text), None) | (None, Some(text)) => text.to_owned(),
            (None, None) => "a message without text".to_owned(),
        })
        .collect();
    texts.join("; ")
}

/// The queries of one `GetMetricData` call (at most [`METRIC_DATA_QUERIES`]) and what its pages
/// answered so far, by position: the query with id `q<i>` is `queries[i]`.
struct MetricDataCall<'q> {
    queries: &'q [MetricDataQuery],
    /// The call's `MetricDataQueries`, built once and sent with every page.
    built: Vec<aws_sdk_cloudwatch::types::MetricDataQuery>,
    values: Vec<MetricValues>,
    /// The `StatusCode` of each query's latest result: `Complete` once every value is in.
    status: Vec<Option<aws_sdk_cloudwatch::types::StatusCode>>,
}

/// The calls that read `queries`: [`METRIC_DATA_QUERIES`] a call, in their order.
fn metric_data_calls(queries: &[MetricDataQuery]) -> Vec<MetricDataCall<'_>> {
    queries.chunks(METRIC_DATA_QUERIES).map(MetricDataCall::new).collect()
}

impl<'q> MetricDataCall<'q> {
    fn new(queries: &'q [MetricDataQuery]) -> Self {
        use aws_sdk_cloudwatch::types as cw;
        let built = queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let dimensions: Vec<cw::Dimension> = q.dimensions.iter().map(|d| cw::Dimension::builder().name(&d.name).value(&d.value).build()).collect();
                let metric = cw::Metric::builder().namespace(&q.namespace).metric_name(&q.metric_name).set_dimensions(Some(dimensions)).build();
                let stat = cw::MetricStat::builder().metric(metric).period(q.period_seconds).stat(&q.stat).build();
                cw::MetricDataQuery::builder().id(format!("q{i}")).metric_stat(stat).return_data(true).build()
            })
            .collect();
        MetricDataCall { queries, built, values: vec![MetricValues::default(); queries.len()], status: vec![None; queries.len()] }
    }

    /// Adds one page's values to each query's, by id. A message of the call, a result of an id
    /// no query has, or a result that failed (`Forbidden`, `InternalError`) or carries a
    /// message is an error naming it: CloudWatch writes a message when part of the answer is
    /// missing or wrong.
    fn add_page(&mut self, page: &aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput) -> Result<(), String> {
        use aws_sdk_cloudwatch::types::StatusCode;
        if !page.messages().is_empty() {
            return Err(format!("GetMetricData answered {}", messages_text(page.messages())));
        }
        for result in page.metric_data_results() {
            let id = result.id().unwrap_or_default();
            let Some(i) = id.strip_prefix('q').and_then(|n| n.parse::<usize>().ok()).filter(|i| *i < self.queries.len()) else {
                return Err(format!("GetMetricData answered a result with id {id:?}, which no query has"));
            };
            let failed = matches!(result.status_code(), Some(StatusCode::Forbidden | StatusCode::InternalError));
            if failed || !result.messages().is_empty() {
                let status = result.status_code().map_or("without a status", |s| s.as_str());
                let messages = if result.messages().is_empty() { String::new() } else { format!(": {}", messages_text(result.messages())) };
                return Err(format!("{} was answered {status}{messages}", describe_query(&self.queries[i])));
            }
            let values = &mut self.values[i];
            for (time, value) in result.timestamps().iter().zip(result.values()) {
                if let Some(time) = timestamp(time) {
                    values.timestamps.push(time);
                    values.values.push(*value);
                }
            }
            self.status[i] = result.status_code().cloned();
        }
        Ok(())
    }

    /// Each query's values, oldest first, once the last page is in. A query whose latest result
    /// is not `Complete` (or that had none) is an error naming it.
    fn finish(self) -> Result<Vec<MetricValues>, String> {
        use aws_sdk_cloudwatch::types::StatusCode;
        let MetricDataCall { queries, values, status, .. } = self;
        if let Some((query, status)) = queries.iter().zip(&status).find(|(_, s)| !matches!(s, Some(StatusCode::Complete))) {
            let status = status.as_ref().map_or("no result", |s| s.as_str());
            return Err(format!("{} was answered {status} after the last page", describe_query(query)));
        }
        Ok(values.into_iter().map(oldest_first).collect())
    }
}

fn oldest_first(values: MetricValues) -> MetricValues {
    let mut pairs: Vec<(DateTime<Utc>, f64)> = values.timestamps.into_iter().zip(values.values).collect();
    pairs.sort_by_key(|(time, _)| *time);
    let (timestamps, values) = pairs.into_iter().unzip();
    MetricValues { timestamps, values }
}

impl AwsReads for SdkReads {
    type Session = SdkSession;

    async fn describe_organization(&self) -> Result<Organization, AwsError> {
        let result = self.organizations.describe_organization().send().await;
        self.record(DESCRIBE_ORGANIZATION, &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_aws_error(DESCRIBE_ORGANIZATION.iam))?;
        let organization = output.organization();
        let id = organization.and_then(|o| o.id()).filter(|id| !id.is_empty()).map(str::to_owned);
        if let Some(id) = &id {
            let _ = self.organization_id.set(id.clone());
        }
        Ok(Organization { id, management_account_id: organization.and_then(|o| o.master_account_id()).map(str::to_owned) })
    }

    async fn list_accounts_page(&self, next_token: Option<String>) -> Result<AccountsPage, AwsError> {
        let page = self.organizations.list_accounts().set_next_token(next_token).send().await;
        self.record(LIST_ACCOUNTS, &page);
        let page = page.map_err(|e| CallError::from_sdk(&e).into_aws_error(LIST_ACCOUNTS.iam))?;
        let mut accounts = Vec::with_capacity(page.accounts().len());
        for account in page.accounts() {
            let Some(id) = account.id() else { continue };
            // `Status` is retired; `State` replaces it. Read `Status` only where `State`
            // is absent (older emulators).
            #[allow(deprecated)]
            let state = match (account.state(), account.status()) {
                (Some(state), _) => state.as_str().to_owned(),
                (None, Some(status)) => status.as_str().to_owned(),
                (None, None) => "UNKNOWN".to_owned(),
            };
            accounts.push(OrgAccount { id: id.to_owned(), name: account.name().unwrap_or_default().to_owned(), state });
        }
        Ok(AccountsPage { accounts, next_token: page.next_token().filter(|t| !t.is_empty()).map(str::to_owned) })
    }

    async fn assume_role(&self, account_id: &str) -> Result<SdkSession, String> {
        let role_arn = format!("arn:aws:iam::{account_id}:role/{}", self.settings.audit_role_name);
        let result = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("orgwatch")
            .set_external_id(self.settings.external_id.clone())
            .duration_seconds(session_seconds(self.settings.session_duration))
            .send()
            .await;
        self.record(ASSUME_ROLE, &result);
        let output = result.map_err(|e| format!("{role_arn}: {}", CallError::from_sdk(&e).message))?;
        let Some(credentials) = output.credentials() else {
            return Err(format!("{role_arn}: AssumeRole returned no credentials"));
        };
        let credentials = Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            std::time::SystemTime::try_from(*credentials.expiration()).ok(),
            "orgwatch-assume-role",
        );
        // Static credentials need no cache; each account has its own identity, so nothing is
        // shared (or evicted) between accounts.
        let config = self.base.to_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).identity_cache(IdentityCache::no_cache()).build();
        Ok(SdkSession { account_id: account_id.to_owned(), config, clients: Arc::default() })
    }

    async fn describe_trails(&self, session: &SdkSession, region: &str) -> Observed<Vec<Trail>> {
        let result = session.cloudtrail(region).describe_trails().include_shadow_trails(true).send().await;
        self.record(DESCRIBE_TRAILS, &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(DESCRIBE_TRAILS.iam))?;
        Ok(output
            .trail_list()
            .iter()
            .filter_map(|t| {
                let arn = t.trail_arn()?.to_owned();
                Some(Trail {
                    name: t.name().unwrap_or_default().to_owned(),
                    home_region: t.home_region().map(str::to_owned).or_else(|| arn_region(&arn).map(str::to_owned)).unwrap_or_else(|| region.to_owned()),
                    multi_region: t.is_multi_region_trail().unwrap_or(false),
                    organization_trail: t.is_organization_trail().unwrap_or(false),
                    log_group_arn: t.cloud_watch_logs_log_group_arn().filter(|a| !a.is_empty()).map(str::to_owned),
                    arn,
                })
            })
            .collect())
    }

    async fn get_trail_status(&self, session: &SdkSession, region: &str, trail_arn: &str) -> Observed<TrailStatus> {
        let result = session.cloudtrail(region).get_trail_status().name(trail_arn).send().await;
        self.record(GET_TRAIL_STATUS, &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(GET_TRAIL_STATUS.iam))?;
        Ok(TrailStatus {
            is_logging: output.is_logging().unwrap_or(false),
            latest_cloudwatch_logs_delivery_error: output.latest_cloud_watch_logs_delivery_error().filter(|e| !e.is_empty()).map(str::to_owned),
        })
    }

    async fn get_event_selectors(&self, session: &SdkSession, region: &str, trail_arn: &str) -> Observed<EventSelectors> {
        let result = session.cloudtrail(region).get_event_selectors().trail_name(trail_arn).send().await;
        self.record(GET_EVENT_SELECTORS, &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(GET_EVENT_SELECTORS.iam))?;
        Ok(EventSelectors {
            basic: output
                .event_selectors()
                .iter()
                .map(|s| BasicEventSelector {
                    read_write_type: s.read_write_type().map(|rw| match rw {
                        ReadWriteType::ReadOnly => "ReadOnly".to_owned(),
                        ReadWriteType::WriteOnly => "WriteOnly".to_owned(),
                        ReadWriteType::All => "All".to_owned(),
                        other => other.as_str().to_owned(),
                    }),
                    include_management_events: s.include_management_events(),
                })
                .collect(),
            advanced: output
                .advanced_event_selectors()
                .iter()
                .map(|s| AdvancedEventSelector {
                    name: s.name().map(str::to_owned),
                    field_selectors: s
                        .field_selectors()
                        .iter()
                        .map(|f| AdvancedFieldSelector { field: f.field().to_owned(), equals: f.equals().to_vec(), not_equals: f.not_equals().to_vec() })
                        .collect(),
                })
                .collect(),
        })
    }

    async fn describe_metric_filters(&self, session: &SdkSession, group: &LogGroupRef) -> Observed<Vec<MetricFilter>> {
        let mut pages = session.logs(&group.region).describe_metric_filters().log_group_name(&group.name).into_paginator().send();
        let mut filters = Vec::new();
        while let Some(page) = pages.next().await {
            self.record(DESCRIBE_METRIC_FILTERS, &page);
            let page = page.map_err(|e| CallError::from_sdk(&e).into_unobserved(DESCRIBE_METRIC_FILTERS.iam))?;
            for f in page.metric_filters() {
                // DescribeMetricFilters matches by name prefix; keep this log group's own.
                if f.log_group_name().is_some_and(|name| name != group.name) {
                    continue;
                }
                filters.push(MetricFilter {
                    name: f.filter_name().unwrap_or_default().to_owned(),
                    pattern: f.filter_pattern().unwrap_or_default().to_owned(),
                    transformations: f
                        .metric_transformations()
                        .iter()
                        .map(|t| {
                            let mut dimensions: Vec<String> = t.dimensions().map(|d| d.keys().cloned().collect()).unwrap_or_default();
                            dimensions.sort();
                            MetricTransformation {
                                metric_name: t.metric_name().to_owned(),
                                namespace: t.metric_namespace().to_owned(),
                                value: t.metric_value().to_owned(),
                                dimensions,
                            }
                        })
                        .collect(),
                    system_dimensions: f.emit_system_field_dimensions().to_vec(),
                    field_selection_criteria: f.field_selection_criteria().filter(|c| !c.is_empty()).map(str::to_owned),
                    apply_on_transformed_logs: f.apply_on_transformed_logs(),
                });
            }
        }
        Ok(filters)
    }

    async fn describe_alarms(&self, session: &SdkSession, region: &str) -> Observed<Alarms> {
        use aws_sdk_cloudwatch::types::AlarmType;
        let client = session.cloudwatch(region);
        let mut alarms = Alarms::default();
        let mut token: Option<String> = None;
        for _ in 0..ALARMS_PAGES {
            self.cloudwatch_pace.admit(&session.account_id, region).await;
            let result = client
                .describe_alarms()
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .max_records(ALARMS_PAGE as i32)
                .set_next_token(token.take())
                .send()
                .await;
            self.record(DESCRIBE_ALARMS, &result);
            let page = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(DESCRIBE_ALARMS.iam))?;
            alarms.metric.extend(page.metric_alarms().iter().map(metric_alarm));
            alarms.composite.extend(page.composite_alarms().iter().map(|a| CompositeAlarm {
                name: a.alarm_name().unwrap_or_default().to_owned(),
                arn: a.alarm_arn().unwrap_or_default().to_owned(),
                rule: a.alarm_rule().unwrap_or_default().to_owned(),
                actions_enabled: a.actions_enabled().unwrap_or(true),
                alarm_actions: a.alarm_actions().to_vec(),
                actions_suppressor: a.actions_suppressor().filter(|s| !s.is_empty()).map(str::to_owned),
            }));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(alarms),
            }
        }
        // Not every alarm was read: a verdict on what was would be a guess.
        Err(Unobserved::api_error(DESCRIBE_ALARMS.iam, format!("more than {} alarms in {region}; orgwatch reads at most {ALARMS_PAGES} pages", ALARMS_PAGES * ALARMS_PAGE)))
    }

    async fn get_topic_attributes(&self, session: &SdkSession, region: &str, topic_arn: &str) -> Observed<Topic> {
        let result = session.sns(region).get_topic_attributes().topic_arn(topic_arn).send().await;
        self.record(GET_TOPIC_ATTRIBUTES, &result);
        match result {
            Ok(output) => {
                let attribute = |name: &str| output.attributes().and_then(|a| a.get(name)).filter(|v| !v.is_empty()).cloned();
                Ok(Topic::Found { kms_master_key_id: attribute("KmsMasterKeyId"), policy: attribute("Policy") })
            }
            Err(e) => {
                let error = CallError::from_sdk(&e);
                if error.is_not_found() {
                    return Ok(Topic::NotFound);
                }
                Err(error.into_unobserved(GET_TOPIC_ATTRIBUTES.iam))
            }
        }
    }

    async fn list_subscriptions_by_topic(&self, session: &SdkSession, region: &str, topic_arn: &str) -> Observed<Vec<Subscription>> {
        let mut pages = session.sns(region).list_subscriptions_by_topic().topic_arn(topic_arn).into_paginator().send();
        let mut subscriptions = Vec::new();
        while let Some(page) = pages.next().await {
            self.record(LIST_SUBSCRIPTIONS_BY_TOPIC, &page);
            let page = page.map_err(|e| CallError::from_sdk(&e).into_unobserved(LIST_SUBSCRIPTIONS_BY_TOPIC.iam))?;
            subscriptions.extend(page.subscriptions().iter().map(|s| Subscription {
                subscription_arn: s.subscription_arn().unwrap_or_default().to_owned(),
                protocol: s.protocol().unwrap_or_default().to_owned(),
            }));
        }
        Ok(subscriptions)
    }

    async fn describe_key(&self, session: &SdkSession, region: &str, key_id: &str) -> Observed<Key> {
        let result = session.kms(region).describe_key().key_id(key_id).send().await;
        self.record(DESCRIBE_KEY, &result);
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                let error = CallError::from_sdk(&e);
                if error.is_not_found() {
                    return Ok(Key::NotFound);
                }
                return Err(error.into_unobserved(DESCRIBE_KEY.iam));
            }
        };
        let Some(metadata) = output.key_metadata() else {
            return Err(Unobserved::api_error(DESCRIBE_KEY.iam, format!("DescribeKey of {key_id} returned no key metadata")));
        };
        Ok(Key::Found(KeyMetadata {
            arn: metadata.arn().unwrap_or_default().to_owned(),
            key_id: metadata.key_id().to_owned(),
            manager: metadata.key_manager().map(|m| m.as_str().to_owned()).unwrap_or_default(),
            state: metadata.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        }))
    }

    async fn get_key_policy(&self, session: &SdkSession, region: &str, key_id: &str) -> Observed<String> {
        let result = session.kms(region).get_key_policy().key_id(key_id).policy_name("default").send().await;
        self.record(GET_KEY_POLICY, &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(GET_KEY_POLICY.iam))?;
        output.policy().map(str::to_owned).ok_or_else(|| Unobserved::api_error(GET_KEY_POLICY.iam, format!("GetKeyPolicy of {key_id} returned no policy")))
    }

    async fn describe_alarm_history(&self, session: &SdkSession, region: &str, alarm_name: Option<&str>, every_kind: bool) -> Observed<AlarmHistory> {
        // Every alarm's newest page, or one alarm's newest pages.
        let pages = if alarm_name.is_some() { ALARM_HISTORY_PAGES } else { 1 };
        let kind = (!every_kind).then_some(HistoryItemType::Action);
        self.alarm_history_pages(session, region, alarm_name, kind, None, pages).await
    }

    async fn describe_alarm_states(&self, session: &SdkSession, region: &str, alarm_name: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Observed<AlarmHistory> {
        self.alarm_history_pages(session, region, Some(alarm_name), Some(HistoryItemType::StateUpdate), Some((start, end)), ALARM_STATES_PAGES).await
    }

    async fn get_metric_data(&self, session: &SdkSession, region: &str, start: DateTime<Utc>, end: DateTime<Utc>, queries: &[MetricDataQuery]) -> Observed<Vec<MetricValues>> {
        use aws_sdk_cloudwatch::types::ScanBy;
        let client = session.cloudwatch(region);
        let mut answer = Vec::with_capacity(queries.len());
        for mut call in metric_data_calls(queries) {
            let mut token: Option<String> = None;
            let mut last_page = false;
            for _ in 0..METRIC_DATA_PAGES {
                self.cloudwatch_pace.admit(&session.account_id, region).await;
                let result = client
                    .get_metric_data()
                    .set_metric_data_queries(Some(call.built.clone()))
                    .start_time(smithy_time(start))
                    .end_time(smithy_time(end))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token.take())
                    .send()
                    .await;
                self.record(GET_METRIC_DATA, &result);
                let page = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(GET_METRIC_DATA.iam))?;
                call.add_page(&page).map_err(|why| Unobserved::api_error(GET_METRIC_DATA.iam, why))?;
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                    _ => {
                        last_page = true;
                        break;
                    }
                }
            }
            // Values left unread: a partial answer would be a guess.
            if !last_page {
                return Err(Unobserved::api_error(GET_METRIC_DATA.iam, format!("more than {METRIC_DATA_PAGES} pages of values in {region}; orgwatch reads at most that many")));
            }
            answer.extend(call.finish().map_err(|why| Unobserved::api_error(GET_METRIC_DATA.iam, why))?);
        }
        Ok(answer)
    }

    async fn org_path(&self, account_id: &str) -> Observed<String> {
        let organization_id = self.organization_id().await?;
        // Child to root, then written root first.
        let mut parents = Vec::new();
        let mut child = account_id.to_owned();
        for _ in 0..ORG_PATH_DEPTH {
            let result = self.organizations.list_parents().child_id(&child).send().await;
            self.record(LIST_PARENTS, &result);
            let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved(LIST_PARENTS.iam))?;
            let Some((id, kind)) = output.parents().first().and_then(|p| Some((p.id()?.to_owned(), p.r#type()?.clone()))) else {
                return Err(Unobserved::api_error(LIST_PARENTS.iam, format!("ListParents of {child} named no parent")));
            };
            parents.push(id.clone());
            if kind == aws_sdk_organizations::types::ParentType::Root {
                let path: String = std::iter::once(organization_id).chain(parents.into_iter().rev()).map(|id| id + "/").collect();
                return Ok(path);
            }
            child = id;
        }
        Err(Unobserved::api_error(LIST_PARENTS.iam, format!("no root within {ORG_PATH_DEPTH} levels above account {account_id}")))
    }
}

/// A metric alarm as the core sees it.
fn metric_alarm(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> Alarm {
    let dimensions = |d: &[aws_sdk_cloudwatch::types::Dimension]| {
        d.iter().map(|d| Dimension { name: d.name().unwrap_or_default().to_owned(), value: d.value().unwrap_or_default().to_owned() }).collect::<Vec<_>>()
    };
    Alarm {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        arn: a.alarm_arn().unwrap_or_default().to_owned(),
        namespace: a.namespace().map(str::to_owned),
        metric_name: a.metric_name().map(str::to_owned),
        statistic: a.statistic().map(|s| s.as_str().to_owned()),
        extended_statistic: a.extended_statistic().map(str::to_owned),
        comparison_operator: a.comparison_operator().map(|c| c.as_str().to_owned()),
        threshold: a.threshold(),
        actions_enabled: a.actions_enabled().unwrap_or(true),
        alarm_actions: a.alarm_actions().to_vec(),
        dimensions: dimensions(a.dimensions()),
        period: a.period(),
        evaluation_periods: a.evaluation_periods(),
        datapoints_to_alarm: a.datapoints_to_alarm(),
        treat_missing_data: a.treat_missing_data().map(str::to_owned),
        metrics: a
            .metrics()
            .iter()
            .map(|q| MetricQuery {
                id: q.id().unwrap_or_default().to_owned(),
                metric: q.metric_stat().map(|stat| MetricStat {
                    namespace: stat.metric().and_then(|m| m.namespace()).unwrap_or_default().to_owned(),
                    metric_name: stat.metric().and_then(|m| m.metric_name()).unwrap_or_default().to_owned(),
                    dimensions: stat.metric().map(|m| dimensions(m.dimensions())).unwrap_or_default(),
                    stat: stat.stat().unwrap_or_default().to_owned(),
                }),
                expression: q.expression().map(str::to_owned),
                // AWS's default is true.
                return_data: q.return_data().unwrap_or(true),
                account_id: q.account_id().map(str::to_owned),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_durations_are_clamped_to_what_sts_accepts() {
        assert_eq!(session_seconds(Duration::from_secs(60)), 900);
        assert_eq!(session_seconds(Duration::from_secs(3600)), 3600);
        assert_eq!(session_seconds(Duration::from_secs(86_400)), 43_200);
        assert_eq!(session_seconds(Duration::from_secs(u64::MAX)), 43_200);
    }

    #[test]
    fn every_operation_called_is_an_audit_operation() {
        // Every operation called, listed once (and so counted from the start).
        for op in OPERATIONS {
            assert!(crate::reads::AUDIT_OPERATIONS.contains(&op.iam), "{}", op.iam);
            assert!(op.iam.ends_with(op.name), "{}", op.iam);
        }
        assert_eq!(OPERATIONS.len(), crate::reads::AUDIT_OPERATIONS.len());
    }
}
