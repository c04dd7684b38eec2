//! The daemon's Prometheus metrics, kept and encoded by the `prometheus-client` crate (which
//! escapes label values that come from data: control ids, operations).
//!
//! - `orgwatch_build_info{version}`
//! - `orgwatch_scans_total{outcome}`: every outcome a scan can end with, `abandoned` included
//!   (scans a crash left running, marked at start); all at 0 from the start.
//! - `orgwatch_scan_duration_seconds{outcome}`: a histogram of scan wall time (completed,
//!   failed and interrupted scans; an abandoned scan's duration is unknown).
//! - `orgwatch_last_scan_duration_seconds`, `orgwatch_last_scan_timestamp_seconds`,
//!   `orgwatch_last_completed_scan_timestamp_seconds` (0 until there is one).
//! - `orgwatch_accounts{control,status}`: the latest finding's status of each account of the
//!   latest completed scan, per control, as of the end of the last scan (read from the database
//!   at start and after each scan); every status of every configured control is present, at 0
//!   where none.
//! - `orgwatch_noisy_alarms{control}`: passing chains whose alarm went to ALARM more than
//!   `[advice] noisy_per_day` times a day over the window last measured, per control, among
//!   the same accounts; every configured control is present, at 0 where none.
//! - `orgwatch_aws_api_calls_total`, `orgwatch_aws_api_errors_total`,
//!   `orgwatch_aws_api_throttles_total` `{service,operation}`: read at each scrape from the AWS
//!   crate's counters; a call counts once, with its final answer after the SDK's retries.
//! - `orgwatch_drift_events_total{change}`: drift events recorded by this process's scans, by
//!   kind (`NEW`, `REGRESSION`, `RECOVERY`, `CHANGE`, `LEFT_ORGANIZATION`).
//!
//! docs/METRICS.md is the operator's reference, with queries and alert rules.

use orgwatch_aws::ApiStats;
use orgwatch_core::Status;
use orgwatch_store::{DRIFT_CHANGES, DriftEvent, ScanStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the scan-duration buckets, in seconds: a few accounts take seconds, ten
/// thousand take an hour or more.
const DURATION_BUCKETS: [f64; 14] = [1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0];

/// The exposition formats `/metrics` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0 text, for a scraper whose `Accept` asks for it.
    OpenMetrics,
}

impl Format {
    /// The format a request's `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    change: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    control: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    service: &'static str,
    operation: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The registry and the handles the daemon updates.
pub struct Metrics {
    registry: Registry,
    scans: Family<OutcomeLabels, Counter>,
    scan_duration: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    last_duration: Gauge<f64, AtomicU64>,
    last_finished: Gauge<i64>,
    last_completed: Gauge<i64>,
    drift: Family<ChangeLabels, Counter>,
    accounts: Arc<AccountsCollector>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Every family registered, with the scan outcomes and drift kinds at 0 and the AWS calls
    /// read from `api` at each scrape.
    pub fn new(api: Arc<ApiStats>) -> Metrics {
        let mut registry = Registry::with_prefix("orgwatch");
        registry.register("build", "The orgwatch version running", Info::new([("version", env!("CARGO_PKG_VERSION"))]));

        let scans = Family::<OutcomeLabels, Counter>::default();
        let scan_duration = Family::<OutcomeLabels, Histogram, fn() -> Histogram>::new_with_constructor(duration_histogram as fn() -> Histogram);
        for outcome in ScanStatus::OUTCOMES {
            let labels = OutcomeLabels { outcome: outcome.as_str() };
            let _ = scans.get_or_create(&labels);
            // An abandoned scan's duration is unknown: it ended with the process that ran it.
            if outcome != ScanStatus::Abandoned {
                let _ = scan_duration.get_or_create(&labels);
            }
        }
        registry.register("scans", "Scans finished, by outcome (completed, failed, interrupted; abandoned: left running by a stop, marked at start)", scans.clone());
        registry.register_with_unit("scan_duration", "Wall time of finished scans, by outcome (completed, failed, interrupted)", Unit::Seconds, scan_duration.clone());

        let last_duration = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit("last_scan_duration", "Wall time of the last finished scan", Unit::Seconds, last_duration.clone());
        let last_finished = Gauge::<i64>::default();
        registry.register_with_unit("last_scan_timestamp", "When the last scan finished, whatever its outcome (Unix time; 0 before the first)", Unit::Seconds, last_finished.clone());
        let last_completed = Gauge::<i64>::default();
        registry.register_with_unit("last_completed_scan_timestamp", "When the last completed scan finished (Unix time; 0 before the first)", Unit::Seconds, last_completed.clone());

        let drift = Family::<ChangeLabels, Counter>::default();
        for change in DRIFT_CHANGES {
            let _ = drift.get_or_create(&ChangeLabels { change: change.to_owned() });
        }
        registry.register("drift_events", "Drift events recorded by this process's scans, by kind", drift.clone());

        let accounts = Arc::new(AccountsCollector::default());
        registry.register_collector(Box::new(accounts.clone()));
        registry.register_collector(Box::new(ApiCollector { stats: api }));
        Metrics { registry, scans, scan_duration, last_duration, last_finished, last_completed, drift, accounts }
    }

    /// A scan that ended with `outcome` after `duration`, at `finished` (Unix seconds).
    pub fn record_scan(&self, outcome: ScanStatus, duration: Duration, finished: i64) {
        let labels = OutcomeLabels { outcome: outcome.as_str() };
        self.scans.get_or_create(&labels).inc();
        self.scan_duration.get_or_create(&labels).observe(duration.as_secs_f64());
        self.last_duration.set(duration.as_secs_f64());
        self.last_finished.set(finished);
        if outcome == ScanStatus::Completed {
            self.last_completed.set(finished);
        }
    }

    /// Scans an earlier stop left running, marked `abandoned` at start.
    pub fn record_abandoned(&self, scans: u64) {
        self.scans.get_or_create(&OutcomeLabels { outcome: ScanStatus::Abandoned.as_str() }).inc_by(scans);
    }

    /// A completed scan's drift events.
    pub fn record_drift(&self, events: &[DriftEvent]) {
        for event in events {
            self.drift.get_or_create(&ChangeLabels { change: event.change.clone() }).inc();
        }
    }

    /// Replaces the account counts with the latest findings' `(control, status, accounts)`;
    /// every status of each of `controls` is shown, at 0 where no account has it.
    pub fn set_accounts(&self, controls: &[String], counts: &[(String, String, i64)]) {
        let mut rows: std::collections::BTreeMap<(String, String), i64> = std::collections::BTreeMap::new();
        for control in controls {
            for status in Status::ALL {
                rows.insert((control.clone(), status.as_str().to_owned()), 0);
            }
        }
        for (control, status, n) in counts {
            rows.insert((control.clone(), status.clone()), *n);
        }
        *self.accounts.rows.lock().unwrap_or_else(|p| p.into_inner()) = rows.into_iter().map(|((control, status), n)| (AccountLabels { control, status }, n)).collect();
    }

    /// Replaces the noisy alarms' counts with `(control, alarms)`; each of `controls` is shown,
    /// at 0 where none.
    pub fn set_noisy_alarms(&self, controls: &[String], counts: &[(String, i64)]) {
        let mut rows: std::collections::BTreeMap<String, i64> = controls.iter().map(|c| (c.clone(), 0)).collect();
        rows.extend(counts.iter().cloned());
        *self.accounts.noisy.lock().unwrap_or_else(|p| p.into_inner()) = rows.into_iter().map(|(control, n)| (ControlLabels { control }, n)).collect();
    }

    /// The exposition of every metric in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut text = String::new();
        let encoded = match format {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &self.registry),
        };
        // Encoding into a String fails only if a metric's own encoder does, which ours do not.
        if encoded.is_err() {
            tracing::error!("The metrics could not be encoded");
        }
        text
    }
}

/// `orgwatch_accounts`: a snapshot replaced whole after each scan, so a scrape never sees half
/// of one.
#[derive(Debug, Default)]
struct AccountsCollector {
    rows: Mutex<Vec<(AccountLabels, i64)>>,
    noisy: Mutex<Vec<(ControlLabels, i64)>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControlLabels {
    control: String,
}

impl Collector for AccountsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut metric = encoder.encode_descriptor("accounts", "Accounts by the status of their latest finding, per control, as of the last scan", None, prometheus_client::metrics::MetricType::Gauge)?;
        for (labels, n) in &rows {
            ConstGauge::new(*n).encode(metric.encode_family(labels)?)?;
        }
        let noisy = self.noisy.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut metric = encoder.encode_descriptor(
            "noisy_alarms",
            "Passing chains whose alarm went to ALARM more often than [advice] noisy_per_day over the window last measured, per control",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (labels, n) in &noisy {
            ConstGauge::new(*n).encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Which of an operation's counts a family shows.
type CountOf = fn(&orgwatch_aws::ServiceCounts) -> u64;

/// The AWS calls counted by the AWS crate, read at each scrape.
#[derive(Debug)]
struct ApiCollector {
    stats: Arc<ApiStats>,
}

impl Collector for ApiCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.stats.snapshot_by_operation();
        let families: [(&str, &str, CountOf); 3] = [
            ("aws_api_calls", "AWS API calls, by service and operation; each page of a paginated read is a call, counted once after the SDK's retries", |c| c.calls),
            ("aws_api_errors", "AWS API calls whose final answer was an error, by service and operation", |c| c.errors),
            ("aws_api_throttles", "AWS API calls whose final answer was a throttling error (counted in the errors too), by service and operation", |c| c.throttles),
        ];
        for (name, help, value) in families {
            let mut metric = encoder.encode_descriptor(name, help, None, prometheus_client::metrics::MetricType::Counter)?;
            for ((service, operation), c) in &counts {
                ConstCounter::new(value(c)).encode(metric.encode_family(&OperationLabels { service, operation })?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn assert_lines(text: &str, expected: &[&str]) {
        for line in expected {
            assert!(lines(text).contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn every_family_is_rendered_with_outcomes_and_drift_kinds_at_zero() {
        let metrics = Metrics::new(Arc::new(ApiStats::default()));
        let text = metrics.render(Format::Prometheus);
        assert_lines(&text, &[
            "orgwatch_scans_total{outcome=\"completed\"} 0",
            "orgwatch_scans_total{outcome=\"failed\"} 0",
            "orgwatch_scans_total{outcome=\"interrupted\"} 0",
            "orgwatch_scans_total{outcome=\"abandoned\"} 0",
            "orgwatch_scan_duration_seconds_count{outcome=\"completed\"} 0",
            "orgwatch_drift_events_total{change=\"LEFT_ORGANIZATION\"} 0",
            "orgwatch_last_completed_scan_timestamp_seconds 0",
            "# TYPE orgwatch_accounts gauge",
            "# TYPE orgwatch_aws_api_calls_total counter",
        ]);
        assert!(text.contains(&format!("orgwatch_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))), "{text}");
        assert!(!text.contains("outcome=\"running\""), "running is not an outcome: {text}");
        assert!(!text.contains("orgwatch_scan_duration_seconds_count{outcome=\"abandoned\"}"), "{text}");
        assert!(!text.contains(".."), "help texts end once: {text}");
    }

    #[test]
    fn scans_drift_and_accounts_are_counted_and_label_values_escaped() {
        let metrics = Metrics::new(Arc::new(ApiStats::default()));
        metrics.record_abandoned(2);
        metrics.record_scan(ScanStatus::Completed, Duration::from_millis(3500), 1_790_000_000);
        metrics.record_scan(ScanStatus::Interrupted, Duration::from_secs(700), 1_790_000_100);
        let event = |change: &str| DriftEvent {
            account_id: "1".into(),
            control_id: "c".into(),
            previous_status: None,
            status: None,
            previous_reason: None,
            reason: None,
            change: change.into(),
            scan_id: 1,
            detected_at: String::new(),
        };
        metrics.record_drift(&[event("REGRESSION"), event("REGRESSION"), event("NEW")]);
        metrics.set_accounts(&["unauthorized-api-calls".into()], &[("unauthorized-api-calls".into(), "FAIL".into(), 3), ("odd \"id\" \\ with\nnewline".into(), "PASS".into(), 1)]);
        metrics.set_noisy_alarms(&["unauthorized-api-calls".into(), "root-account-usage".into()], &[("unauthorized-api-calls".into(), 2)]);
        let text = metrics.render(Format::Prometheus);
        assert_lines(&text, &[
            "orgwatch_noisy_alarms{control=\"unauthorized-api-calls\"} 2",
            "orgwatch_noisy_alarms{control=\"root-account-usage\"} 0",
            "orgwatch_scans_total{outcome=\"abandoned\"} 2",
            "orgwatch_scans_total{outcome=\"completed\"} 1",
            "orgwatch_scans_total{outcome=\"interrupted\"} 1",
            "orgwatch_scan_duration_seconds_bucket{outcome=\"completed\",le=\"5\"} 1",
            "orgwatch_scan_duration_seconds_bucket{outcome=\"completed\",le=\"2.5\"} 0",
            "orgwatch_scan_duration_seconds_sum{outcome=\"completed\"} 3.5",
            "orgwatch_scan_duration_seconds_count{outcome=\"completed\"} 1",
            "orgwatch_scan_duration_seconds_bucket{outcome=\"interrupted\",le=\"600\"} 0",
            "orgwatch_scan_duration_seconds_bucket{outcome=\"interrupted\",le=\"1200\"} 1",
            "orgwatch_last_scan_duration_seconds 700.0",
            "orgwatch_last_scan_timestamp_seconds 1790000100",
            "orgwatch_last_completed_scan_timestamp_seconds 1790000000",
            "orgwatch_drift_events_total{change=\"REGRESSION\"} 2",
            "orgwatch_drift_events_total{change=\"NEW\"} 1",
            "orgwatch_drift_events_total{change=\"RECOVERY\"} 0",
            "orgwatch_accounts{control=\"unauthorized-api-calls\",status=\"FAIL\"} 3",
            "orgwatch_accounts{control=\"unauthorized-api-calls\",status=\"PASS\"} 0",
            "orgwatch_accounts{control=\"unauthorized-api-calls\",status=\"NOT_APPLICABLE\"} 0",
            "orgwatch_accounts{control=\"odd \\\"id\\\" \\\\ with\\nnewline\",status=\"PASS\"} 1",
        ]);
        // A later scan's counts replace the earlier ones whole.
        metrics.set_accounts(&[], &[("unauthorized-api-calls".into(), "PASS".into(), 4)]);
        let text = metrics.render(Format::Prometheus);
        assert!(lines(&text).contains(&"orgwatch_accounts{control=\"unauthorized-api-calls\",status=\"PASS\"} 4"), "{text}");
        assert!(!text.contains("status=\"FAIL\""), "{text}");
    }

    #[test]
    fn openmetrics_is_served_when_asked_for_and_ends_with_eof() {
        assert_eq!(Format::from_accept(Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        let metrics = Metrics::new(Arc::new(ApiStats::default()));
        let text = metrics.render(Format::OpenMetrics);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(lines(&text).contains(&"# UNIT orgwatch_scan_duration_seconds seconds"), "{text}");
        assert!(lines(&text).contains(&"orgwatch_scans_total{outcome=\"abandoned\"} 0"), "{text}");
    }
}
