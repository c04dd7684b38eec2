//! `orgwatch daemon`: scheduled scans, drift announcements, retention, health and metrics, and a
//! clean stop on SIGTERM or SIGINT.

use crate::config::Config;
use crate::scan::{self, ScanReport};
use crate::shutdown;
use crate::schedule::{self, Schedule, SystemClock};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use orgwatch_aws::{ApiStats, SdkReads, SnsPublisher};
use orgwatch_store::{DriftEvent, ScanStatus, Store};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{error, info, warn};

/// What `/healthz` and `/metrics` report, updated by the loop.
#[derive(Default)]
pub struct Health {
    inner: Mutex<HealthState>,
}

#[derive(Default)]
struct HealthState {
    started: Option<DateTime<Utc>>,
    scheduler_alive: bool,
    last_scan_finished: Option<DateTime<Utc>>,
    last_scan_status: Option<&'static str>,
    last_scan_seconds: f64,
    scans_by_outcome: BTreeMap<&'static str, u64>,
    /// Longest time allowed since the last scan (or start) before unhealthy.
    stale_after: Option<chrono::Duration>,
}

impl Health {
    fn update(&self, change: impl FnOnce(&mut HealthState)) {
        change(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// (healthy, JSON body) at `now`.
    pub fn check(&self, now: DateTime<Utc>) -> (bool, serde_json::Value) {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let reference = s.last_scan_finished.or(s.started);
        let fresh = match (reference, s.stale_after) {
            (Some(at), Some(limit)) => now - at <= limit,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let healthy = s.scheduler_alive && fresh;
        let body = serde_json::json!({
            "status": if healthy { "ok" } else { "unhealthy" },
            "scheduler_alive": s.scheduler_alive,
            "last_scan_finished_at": s.last_scan_finished.map(|t| t.to_rfc3339()),
            "last_scan_status": s.last_scan_status,
            "stale_after_seconds": s.stale_after.map(|d| d.num_seconds()),
        });
        (healthy, body)
    }

    fn record_scan(&self, status: &'static str, seconds: f64, at: DateTime<Utc>) {
        self.update(|s| {
            *s.scans_by_outcome.entry(status).or_default() += 1;
            s.last_scan_status = Some(status);
            s.last_scan_seconds = seconds;
            s.last_scan_finished = Some(at);
        });
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    stats: Arc<ApiStats>,
    store: Store,
}

/// The HTTP routes: `/healthz` and `/metrics`.
fn router(state: AppState) -> axum::Router {
    axum::Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics)).with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let (healthy, body) = state.health.check(Utc::now());
    (if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, axum::Json(body))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let by_control = state.store.latest_counts_by_control().await.unwrap_or_default();
    let text = render_metrics(&state.health, &state.stats.snapshot(), &by_control);
    ([("content-type", "text/plain; version=0.0.4")], text)
}

/// The Prometheus text exposition of the daemon's counters.
pub fn render_metrics(health: &Health, api: &BTreeMap<&'static str, orgwatch_aws::ServiceCounts>, by_control: &[(String, String, i64)]) -> String {
    let s = health.inner.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    let _ = writeln!(out, "# HELP orgwatch_scans_total Scans finished, by outcome.\n# TYPE orgwatch_scans_total counter");
    for outcome in ["completed", "failed", "interrupted"] {
        let _ = writeln!(out, "orgwatch_scans_total{{outcome=\"{outcome}\"}} {}", s.scans_by_outcome.get(outcome).copied().unwrap_or(0));
    }
    let _ = writeln!(out, "# HELP orgwatch_last_scan_duration_seconds Wall time of the last scan.\n# TYPE orgwatch_last_scan_duration_seconds gauge");
    let _ = writeln!(out, "orgwatch_last_scan_duration_seconds {}", s.last_scan_seconds);
    let _ = writeln!(out, "# HELP orgwatch_last_scan_timestamp_seconds When the last scan finished.\n# TYPE orgwatch_last_scan_timestamp_seconds gauge");
    let _ = writeln!(out, "orgwatch_last_scan_timestamp_seconds {}", s.last_scan_finished.map_or(0, |t| t.timestamp()));
    let _ = writeln!(out, "# HELP orgwatch_accounts Accounts by latest status, per control.\n# TYPE orgwatch_accounts gauge");
    for (control, status, n) in by_control {
        let _ = writeln!(out, "orgwatch_accounts{{control=\"{control}\",status=\"{status}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP orgwatch_aws_api_calls_total AWS API calls, by service.\n# TYPE orgwatch_aws_api_calls_total counter");
    for (service, c) in api {
        let _ = writeln!(out, "orgwatch_aws_api_calls_total{{service=\"{service}\"}} {}", c.calls);
    }
    let _ = writeln!(out, "# HELP orgwatch_aws_api_errors_total AWS API calls that failed after retries, by service.\n# TYPE orgwatch_aws_api_errors_total counter");
    for (service, c) in api {
        let _ = writeln!(out, "orgwatch_aws_api_errors_total{{service=\"{service}\"}} {}", c.errors);
    }
    let _ = writeln!(out, "# HELP orgwatch_aws_api_throttles_total AWS API calls that ended throttled, by service.\n# TYPE orgwatch_aws_api_throttles_total counter");
    for (service, c) in api {
        let _ = writeln!(out, "orgwatch_aws_api_throttles_total{{service=\"{service}\"}} {}", c.throttles);
    }
    out
}

/// Runs the daemon until a signal; returns once everything is closed.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = Store::open(&config.store.path).await?;
    let abandoned = store.mark_abandoned(Utc::now()).await?;
    if abandoned > 0 {
        warn!(scans = abandoned, "Scans left running by an earlier stop were marked abandoned");
    }
    let reads = SdkReads::new(scan::sdk_settings(&config)).await;
    let health = Arc::new(Health::default());
    let schedule = config.scan.schedule.clone().map(|cron| Schedule { cron, timezone: config.scan.timezone });
    let stale_after = schedule.as_ref().and_then(|s| s.interval_near(Utc::now())).map(|i| {
        let seconds = i.num_seconds() as f64 * config.scan.stale_after_intervals;
        chrono::Duration::seconds(seconds as i64) + chrono::Duration::from_std(config.scan.account_timeout).unwrap_or_default()
    });
    health.update(|s| {
        s.started = Some(Utc::now());
        s.scheduler_alive = true;
        s.stale_after = stale_after;
    });

    let (shutdown, signals) = shutdown::on_signal();

    let http = match config.http_listen {
        None => None,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("[http] listen: cannot listen on {addr}: {e}"))?;
            info!(address = %addr, "Serving /healthz and /metrics");
            let app = router(AppState { health: health.clone(), stats: reads.stats(), store: store.clone() });
            let mut http_shutdown = shutdown.clone();
            Some(tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = http_shutdown.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    error!(error = %e, "The HTTP server stopped");
                }
            }))
        }
    };

    let notifier = Notifier::new(&config).await;
    let step = || {
        let shutdown = shutdown.clone();
        let (store, config, reads, health, notifier) = (&store, &config, &reads, &health, &notifier);
        async move {
            match scan::run_scan(reads, store, config, &SystemClock, shutdown).await {
                Ok(report) => {
                    health.record_scan(report.status.as_str(), report.duration.as_secs_f64(), Utc::now());
                    after_scan(store, config, &report, notifier).await;
                }
                Err(e) => {
                    health.record_scan("failed", 0.0, Utc::now());
                    error!(error = %orgwatch_core::error_chain(&e), "Scan failed");
                }
            }
        }
    };
    match &schedule {
        Some(schedule) => {
            info!(schedule = config.scan.schedule_text.as_deref().unwrap_or(""), timezone = %config.scan.timezone, "Daemon started");
            let summary = schedule::run(schedule, config.scan.run_on_start, &SystemClock, shutdown.clone(), step).await;
            info!(scans = summary.scans, skipped_ticks = summary.skipped_ticks, "Scheduler stopped");
        }
        None => {
            warn!("No [scan] schedule: the daemon scans once at start (if run_on_start) and then serves health and metrics only");
            if config.scan.run_on_start {
                step().await;
            }
            let mut waiting = shutdown.clone();
            let _ = waiting.wait_for(|s| *s).await;
        }
    }
    health.update(|s| s.scheduler_alive = false);
    if let Some(http) = http {
        let _ = http.await;
    }
    signals.abort();
    store.close().await;
    info!("Daemon stopped");
    Ok(())
}

async fn after_scan(store: &Store, config: &Config, report: &ScanReport, notifier: &Notifier) {
    if report.status == ScanStatus::Completed {
        announce(report, notifier).await;
    }
    if let Some(days) = config.store.retention_days {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        match store.prune(cutoff).await {
            Ok(0) => {}
            Ok(n) => info!(findings = n, retention_days = days, "Old findings pruned"),
            Err(e) => warn!(error = %e, "Old findings could not be pruned"),
        }
    }
}

/// Regressions and recoveries of one scan, for the log and the notification channels.
pub fn drift_summary(scan_id: i64, drift: &[DriftEvent]) -> Option<serde_json::Value> {
    let pick = |change: &str| drift.iter().filter(|d| d.change == change).collect::<Vec<_>>();
    let (regressions, recoveries) = (pick("REGRESSION"), pick("RECOVERY"));
    if regressions.is_empty() && recoveries.is_empty() {
        return None;
    }
    Some(serde_json::json!({
        "source": "orgwatch",
        "scan_id": scan_id,
        "regressions": regressions,
        "recoveries": recoveries,
    }))
}

async fn announce(report: &ScanReport, notifier: &Notifier) {
    for d in report.drift.iter().filter(|d| d.change == "REGRESSION" || d.change == "RECOVERY") {
        info!(
            event = "drift",
            change = %d.change,
            account_id = %d.account_id,
            control_id = %d.control_id,
            previous_status = d.previous_status.as_deref().unwrap_or(""),
            status = d.status.as_deref().unwrap_or(""),
            reason = d.reason.as_deref().unwrap_or(""),
            "Drift detected"
        );
    }
    let Some(summary) = drift_summary(report.scan_id, &report.drift) else { return };
    info!(event = "drift_summary", scan_id = report.scan_id, regressions = summary["regressions"].as_array().map_or(0, Vec::len), recoveries = summary["recoveries"].as_array().map_or(0, Vec::len), "Drift in this scan");
    notifier.send(&summary).await;
}

/// Where drift summaries go besides the log.
struct Notifier {
    webhook_url: Option<String>,
    http: reqwest::Client,
    /// `[notify] sns_topic_arn` and the publisher for it, with orgwatch's own identity, never
    /// an audit role.
    sns: Option<(String, SnsPublisher)>,
}

impl Notifier {
    async fn new(config: &Config) -> Notifier {
        let sns = match &config.notify.sns_topic_arn {
            Some(topic) => Some((topic.clone(), SnsPublisher::new(&config.aws.region).await)),
            None => None,
        };
        Notifier {
            webhook_url: config.notify.webhook_url.clone(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap_or_default(),
            sns,
        }
    }

    async fn send(&self, summary: &serde_json::Value) {
        if let Some(url) = &self.webhook_url {
            match self.http.post(url).json(summary).send().await {
                Ok(r) if r.status().is_success() => info!("Drift summary posted to the webhook"),
                Ok(r) => warn!(status = r.status().as_u16(), "The webhook refused the drift summary"),
                Err(e) => warn!(error = %e.without_url(), "The drift summary could not be posted to the webhook"),
            }
        }
        if let Some((topic, publisher)) = &self.sns {
            match publisher.publish(topic, "orgwatch: compliance drift", &summary.to_string()).await {
                Ok(()) => info!(topic_arn = %topic, "Drift summary published to SNS"),
                Err(e) => warn!(topic_arn = %topic, error = %e, "The drift summary could not be published to SNS"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_turns_unhealthy_when_the_last_scan_is_stale_or_the_scheduler_stops() {
        let health = Health::default();
        let t0 = Utc::now();
        health.update(|s| {
            s.started = Some(t0);
            s.scheduler_alive = true;
            s.stale_after = Some(chrono::Duration::minutes(15));
        });
        assert!(health.check(t0 + chrono::Duration::minutes(10)).0, "fresh after start");
        assert!(!health.check(t0 + chrono::Duration::minutes(20)).0, "no scan for too long");
        health.record_scan("completed", 1.5, t0 + chrono::Duration::minutes(19));
        let (healthy, body) = health.check(t0 + chrono::Duration::minutes(20));
        assert!(healthy);
        assert_eq!(body["last_scan_status"], "completed");
        health.update(|s| s.scheduler_alive = false);
        assert!(!health.check(t0 + chrono::Duration::minutes(20)).0);
    }

    #[test]
    fn metrics_are_prometheus_text_with_every_family() {
        let health = Health::default();
        health.record_scan("completed", 2.5, Utc::now());
        let mut api = BTreeMap::new();
        api.insert("cloudtrail", orgwatch_aws::ServiceCounts { calls: 10, errors: 2, throttles: 1 });
        let text = render_metrics(&health, &api, &[("unauthorized-api-calls".into(), "FAIL".into(), 3)]);
        for line in [
            "orgwatch_scans_total{outcome=\"completed\"} 1",
            "orgwatch_scans_total{outcome=\"interrupted\"} 0",
            "orgwatch_last_scan_duration_seconds 2.5",
            "orgwatch_accounts{control=\"unauthorized-api-calls\",status=\"FAIL\"} 3",
            "orgwatch_aws_api_errors_total{service=\"cloudtrail\"} 2",
            "orgwatch_aws_api_throttles_total{service=\"cloudtrail\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_drift_summary_lists_regressions_and_recoveries_only() {
        let event = |account: &str, change: &str| DriftEvent {
            account_id: account.into(),
            control_id: "unauthorized-api-calls".into(),
            previous_status: Some("PASS".into()),
            status: Some("FAIL".into()),
            previous_reason: Some("COMPLIANT".into()),
            reason: Some("NO_ALARM_ON_METRIC".into()),
            change: change.into(),
            scan_id: 3,
            detected_at: "2026-11-21T10:00:00.000Z".into(),
        };
        assert!(drift_summary(3, &[event("1", "NEW")]).is_none());
        let summary = drift_summary(3, &[event("1", "REGRESSION"), event("2", "NEW"), event("3", "RECOVERY")]).unwrap();
        assert_eq!(summary["regressions"].as_array().unwrap().len(), 1);
        assert_eq!(summary["recoveries"][0]["account_id"], "3");
    }
}
