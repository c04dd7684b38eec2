//! Listing the organization and collecting one account's facts.

use crate::errors::{AwsError, CallError, is_throttling};
use crate::stats::ApiStats;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudtrail::types::ReadWriteType;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orgwatch_core::controls::Control;
use orgwatch_core::detect::detect;
use orgwatch_core::facts::{
    AccountFacts, AdvancedEventSelector, AdvancedFieldSelector, Alarm, BasicEventSelector, EventSelectors, LogGroupRef, MetricFilter, MetricRef,
    MetricTransformation, Observed, Subscription, Topic, Trail, TrailStatus, arn_region,
};
use orgwatch_core::pattern::FilterPattern;
use orgwatch_core::Unobserved;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How the collector talks to AWS.
#[derive(Clone, Debug)]
pub struct CollectorSettings {
    /// The region DescribeTrails is called in; multi-region trails are visible from any.
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
    /// Lifetime of the assumed-role session; it must outlast one account's collection.
    pub session_duration: Duration,
}

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

#[derive(Clone, Debug)]
pub struct Organization {
    pub management_account_id: Option<String>,
    pub accounts: Vec<OrgAccount>,
}

/// Builds clients from one base configuration and one shared HTTP client.
#[derive(Clone)]
pub struct Collector {
    base: SdkConfig,
    settings: CollectorSettings,
    stats: Arc<ApiStats>,
}

impl Collector {
    /// Loads the standard AWS environment (credentials chain, `AWS_ENDPOINT_URL`, profile) with
    /// orgwatch's retry and timeout settings and one HTTP client for every account.
    pub async fn new(settings: CollectorSettings) -> Self {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc))
            .build_https();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .http_client(http_client)
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(settings.operation_timeout)
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .build(),
            )
            .load()
            .await;
        Collector { base, settings, stats: Arc::new(ApiStats::default()) }
    }

    /// Counters of failed calls, by service.
    pub fn stats(&self) -> Arc<ApiStats> {
        self.stats.clone()
    }

    fn record<T, E: ProvideErrorMetadata>(&self, service: &'static str, result: &Result<T, E>) {
        let (error, throttled) = match result {
            Ok(_) => (false, false),
            Err(e) => (true, is_throttling(e.code())),
        };
        self.stats.record(service, error, throttled);
    }

    /// Lists the organization: its management account and every account, paginated.
    pub async fn list_organization(&self) -> Result<Organization, AwsError> {
        let client = aws_sdk_organizations::Client::new(&self.base);
        let described = client.describe_organization().send().await;
        self.record("organizations", &described);
        let management_account_id = match described {
            Ok(out) => out.organization().and_then(|o| o.master_account_id()).map(str::to_owned),
            Err(e) => return Err(CallError::from_sdk(&e).into_aws_error("organizations:DescribeOrganization")),
        };
        let mut accounts = Vec::new();
        let mut pages = client.list_accounts().into_paginator().send();
        while let Some(page) = pages.next().await {
            self.record("organizations", &page);
            let page = page.map_err(|e| CallError::from_sdk(&e).into_aws_error("organizations:ListAccounts"))?;
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
        }
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Organization { management_account_id, accounts })
    }

    /// Publishes a message to the operator's own notification topic (`[notify] sns_topic_arn`)
    /// with orgwatch's own identity. This is the one call that writes anything, and it never
    /// uses an audited account's role.
    pub async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let region = arn_region(topic_arn).unwrap_or(&self.settings.region).to_owned();
        let config = aws_sdk_sns::config::Builder::from(&self.base).region(Region::new(region)).build();
        let result = aws_sdk_sns::Client::from_conf(config).publish().topic_arn(topic_arn).subject(subject).message(message).send().await;
        self.record("sns", &result);
        result.map(|_| ()).map_err(|e| CallError::from_sdk(&e).into_aws_error("sns:Publish"))
    }

    /// Assumes the audit role in the account and collects what the chains of `controls` need.
    /// Never fails: what could not be seen is recorded as such in the facts.
    pub async fn collect_account(&self, account_id: &str, controls: &[&Control]) -> AccountFacts {
        let config = match self.assume_role(account_id).await {
            Ok(config) => config,
            Err(message) => return AccountFacts::unreachable(account_id, message),
        };
        AccountCollection { collector: self, config, account_id }.collect(controls).await
    }

    async fn assume_role(&self, account_id: &str) -> Result<SdkConfig, String> {
        let sts = aws_sdk_sts::Client::new(&self.base);
        let role_arn = format!("arn:aws:iam::{account_id}:role/{}", self.settings.audit_role_name);
        let seconds = i32::try_from(self.settings.session_duration.as_secs()).unwrap_or(3600).clamp(900, 43_200);
        let result = sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("orgwatch")
            .set_external_id(self.settings.external_id.clone())
            .duration_seconds(seconds)
            .send()
            .await;
        self.record("sts", &result);
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
        Ok(self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .identity_cache(SharedIdentityCache::new(aws_config::identity::IdentityCache::no_cache()))
            .build())
    }
}

/// One account's collection: its credentials and the calls made with them.
struct AccountCollection<'c> {
    collector: &'c Collector,
    config: SdkConfig,
    account_id: &'c str,
}

/// The retry partition of one account's calls to one service in one region, so that
/// throttling in one account cannot spend the others' retry budget.
fn partition(service: &str, account: &str, region: &str) -> aws_sdk_cloudtrail::config::retry::RetryPartition {
    aws_sdk_cloudtrail::config::retry::RetryPartition::new(format!("{service}-{account}-{region}"))
}

impl AccountCollection<'_> {
    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        let config = aws_sdk_cloudtrail::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .retry_partition(partition("cloudtrail", self.account_id, region))
            .build();
        aws_sdk_cloudtrail::Client::from_conf(config)
    }

    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        let config = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .retry_partition(partition("logs", self.account_id, region))
            .build();
        aws_sdk_cloudwatchlogs::Client::from_conf(config)
    }

    fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let config = aws_sdk_cloudwatch::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .retry_partition(partition("monitoring", self.account_id, region))
            .build();
        aws_sdk_cloudwatch::Client::from_conf(config)
    }

    fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .retry_partition(partition("sns", self.account_id, region))
            .build();
        aws_sdk_sns::Client::from_conf(config)
    }

    async fn collect(self, controls: &[&Control]) -> AccountFacts {
        let mut facts = AccountFacts::empty(self.account_id);
        facts.trails = self.describe_trails().await;
        let trails = facts.trails.clone().unwrap_or_default();
        // Only this account's own multi-region trails are followed here; an organization
        // trail's chain is collected in the management account that owns it.
        let owned: Vec<&Trail> = trails.iter().filter(|t| t.multi_region && t.owner_account() == Some(self.account_id)).collect();
        let mut log_groups = BTreeSet::new();
        for trail in owned {
            let status = self.trail_status(trail).await;
            let logging = status.as_ref().is_ok_and(|s| s.is_logging);
            facts.trail_status.insert(trail.arn.clone(), status);
            if !logging {
                continue; // the chain breaks here; nothing further is needed
            }
            facts.event_selectors.insert(trail.arn.clone(), self.event_selectors(trail).await);
            if let Some(group) = trail.log_group_arn.as_deref().and_then(LogGroupRef::from_arn)
                && group.account_id == self.account_id {
                    log_groups.insert(group);
                }
        }
        let mut metrics = BTreeSet::new();
        for group in log_groups {
            let filters = self.metric_filters(&group).await;
            if let Ok(filters) = &filters {
                for filter in filters.iter().filter(|f| detects_any(f, controls)) {
                    for t in &filter.transformations {
                        metrics.insert(MetricRef { account_id: group.account_id.clone(), region: group.region.clone(), namespace: t.namespace.clone(), name: t.metric_name.clone() });
                    }
                }
            }
            facts.metric_filters.insert(group, filters);
        }
        let mut topics = BTreeSet::new();
        for metric in metrics {
            let alarms = self.alarms_for_metric(&metric).await;
            if let Ok(alarms) = &alarms {
                for alarm in alarms {
                    topics.extend(alarm.alarm_actions.iter().filter(|a| a.split(':').nth(2) == Some("sns")).cloned());
                }
            }
            facts.alarms.insert(metric, alarms);
        }
        for topic in topics {
            let observed = self.topic(&topic).await;
            facts.topics.insert(topic, observed);
        }
        facts
    }

    async fn describe_trails(&self) -> Observed<Vec<Trail>> {
        let region = self.collector.settings.region.clone();
        let result = self.cloudtrail(&region).describe_trails().include_shadow_trails(true).send().await;
        self.collector.record("cloudtrail", &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved("cloudtrail:DescribeTrails"))?;
        Ok(output
            .trail_list()
            .iter()
            .filter_map(|t| {
                let arn = t.trail_arn()?.to_owned();
                Some(Trail {
                    name: t.name().unwrap_or_default().to_owned(),
                    home_region: t.home_region().map(str::to_owned).or_else(|| arn_region(&arn).map(str::to_owned)).unwrap_or_else(|| region.clone()),
                    multi_region: t.is_multi_region_trail().unwrap_or(false),
                    organization_trail: t.is_organization_trail().unwrap_or(false),
                    log_group_arn: t.cloud_watch_logs_log_group_arn().filter(|a| !a.is_empty()).map(str::to_owned),
                    arn,
                })
            })
            .collect())
    }

    async fn trail_status(&self, trail: &Trail) -> Observed<TrailStatus> {
        let result = self.cloudtrail(&trail.home_region).get_trail_status().name(&trail.arn).send().await;
        self.collector.record("cloudtrail", &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved("cloudtrail:GetTrailStatus"))?;
        Ok(TrailStatus {
            is_logging: output.is_logging().unwrap_or(false),
            latest_cloudwatch_logs_delivery_error: output.latest_cloud_watch_logs_delivery_error().filter(|e| !e.is_empty()).map(str::to_owned),
        })
    }

    async fn event_selectors(&self, trail: &Trail) -> Observed<EventSelectors> {
        let result = self.cloudtrail(&trail.home_region).get_event_selectors().trail_name(&trail.arn).send().await;
        self.collector.record("cloudtrail", &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved("cloudtrail:GetEventSelectors"))?;
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

    async fn metric_filters(&self, group: &LogGroupRef) -> Observed<Vec<MetricFilter>> {
        let client = self.logs(&group.region);
        let mut pages = client.describe_metric_filters().log_group_name(&group.name).into_paginator().send();
        let mut filters = Vec::new();
        while let Some(page) = pages.next().await {
            self.collector.record("logs", &page);
            let page = page.map_err(|e| CallError::from_sdk(&e).into_unobserved("logs:DescribeMetricFilters"))?;
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
                        .map(|t| MetricTransformation {
                            metric_name: t.metric_name().to_owned(),
                            namespace: t.metric_namespace().to_owned(),
                            value: t.metric_value().to_owned(),
                            has_dimensions: t.dimensions().is_some_and(|d| !d.is_empty()),
                        })
                        .collect(),
                });
            }
        }
        Ok(filters)
    }

    async fn alarms_for_metric(&self, metric: &MetricRef) -> Observed<Vec<Alarm>> {
        let result = self.cloudwatch(&metric.region).describe_alarms_for_metric().metric_name(&metric.name).namespace(&metric.namespace).send().await;
        self.collector.record("monitoring", &result);
        let output = result.map_err(|e| CallError::from_sdk(&e).into_unobserved("cloudwatch:DescribeAlarmsForMetric"))?;
        Ok(output
            .metric_alarms()
            .iter()
            .map(|a| Alarm {
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
                has_dimensions: !a.dimensions().is_empty(),
            })
            .collect())
    }

    async fn topic(&self, arn: &str) -> Observed<Topic> {
        let region = arn_region(arn).unwrap_or(&self.collector.settings.region).to_owned();
        let client = self.sns(&region);
        let result = client.get_topic_attributes().topic_arn(arn).send().await;
        self.collector.record("sns", &result);
        let attributes = match result {
            Ok(output) => output.attributes().cloned().unwrap_or_default(),
            Err(e) => {
                let error = CallError::from_sdk(&e);
                if matches!(error.code.as_deref(), Some("NotFound" | "NotFoundException")) {
                    return Ok(Topic::NotFound);
                }
                return Err(error.into_unobserved("sns:GetTopicAttributes"));
            }
        };
        let kms_master_key_id = attributes.get("KmsMasterKeyId").filter(|k| !k.is_empty()).cloned();
        let mut subscriptions = Vec::new();
        let mut pages = client.list_subscriptions_by_topic().topic_arn(arn).into_paginator().send();
        let subscriptions = loop {
            match pages.next().await {
                None => break Ok(subscriptions),
                Some(page) => {
                    self.collector.record("sns", &page);
                    match page {
                        Err(e) => break Err(CallError::from_sdk(&e).into_unobserved("sns:ListSubscriptionsByTopic")),
                        Ok(page) => subscriptions.extend(page.subscriptions().iter().map(|s| Subscription {
                            subscription_arn: s.subscription_arn().unwrap_or_default().to_owned(),
                            protocol: s.protocol().unwrap_or_default().to_owned(),
                        })),
                    }
                }
            }
        };
        Ok(Topic::Found { kms_master_key_id, subscriptions })
    }
}

fn detects_any(filter: &MetricFilter, controls: &[&Control]) -> bool {
    match FilterPattern::parse(&filter.pattern) {
        Ok(pattern) => controls.iter().any(|c| detect(&pattern, c).detects()),
        Err(_) => false,
    }
}

/// An account's facts when its collection ran out of time.
pub fn timed_out(account_id: &str, after: Duration) -> AccountFacts {
    AccountFacts { trails: Err(Unobserved::api_error("collection", format!("timed out after {} s", after.as_secs()))), ..AccountFacts::empty(account_id) }
}
