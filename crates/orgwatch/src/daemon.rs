//! `orgwatch daemon`: scheduled scans, drift announcements, retention, health and metrics, and a
//! clean stop on SIGTERM or SIGINT.

use crate::config::Config;
use crate::metrics::{self, Metrics};
use crate::scan::{self, ScanReport};
use crate::shutdown;
use crate::schedule::{self, Schedule, SystemClock};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use orgwatch_aws::{SdkReads, SnsPublisher};
use orgwatch_store::{DriftEvent, ScanStatus, Store};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// What `/healthz` reports, updated by the loop.
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

    fn record_scan(&self, status: &'static str, at: DateTime<Utc>) {
        self.update(|s| {
            s.last_scan_status = Some(status);
            s.last_scan_finished = Some(at);
        });
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    /// A read-only connection for the pages: they can write nothing.
    pages: Option<Store>,
    /// What `/` read last, while the database is unchanged.
    page_cache: Arc<crate::report::PageCache>,
}

/// The HTTP routes: `/healthz`, `/metrics`, and the pages `/` and `/accounts/{id}`. Every route
/// answers GET (and HEAD) only: there is no write path.
fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(index_page))
        .route("/accounts/{id}", get(account_page))
        .with_state(state)
}

#[derive(serde::Deserialize)]
struct IndexQuery {
    q: Option<String>,
    page: Option<i64>,
    since: Option<String>,
}

/// An HTML page, with the policy that lets it load nothing from anywhere.
fn html(status: StatusCode, body: String) -> axum::response::Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, crate::report::PAGE_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn page_error(what: &str, e: &(dyn std::error::Error + 'static)) -> axum::response::Response {
    error!(page = what, error = %orgwatch_core::error_chain(e), "A page could not be served");
    html(StatusCode::INTERNAL_SERVER_ERROR, format!("<!DOCTYPE html><title>orgwatch</title><p>The {what} page could not be read from the database; the daemon's log says why.</p>"))
}

/// `/`: the posture, the history since `?since=` (default 30 days), and the accounts a page at a
/// time (`?page=`), those whose id or name holds `?q=`.
async fn index_page(State(state): State<AppState>, query: Result<axum::extract::Query<IndexQuery>, axum::extract::rejection::QueryRejection>) -> axum::response::Response {
    let Some(store) = &state.pages else { return html(StatusCode::SERVICE_UNAVAILABLE, "<!DOCTYPE html><title>orgwatch</title><p>No scan has written the database yet.</p>".into()) };
    let query = match query {
        Ok(query) => query.0,
        Err(e) => return html(StatusCode::BAD_REQUEST, format!("<!DOCTYPE html><title>orgwatch</title><p>{}</p>", minijinja::HtmlEscape(&e.body_text()))),
    };
    let now = Utc::now();
    let since = match query.since.as_deref().map(|s| crate::cli::parse_since(s, now)).transpose() {
        Ok(since) => since.unwrap_or(now - chrono::Duration::days(30)),
        Err(e) => return html(StatusCode::BAD_REQUEST, format!("<!DOCTYPE html><title>orgwatch</title><p>since: {}</p>", minijinja::HtmlEscape(&e))),
    };
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    match crate::report::index(store, &state.page_cache, since, now, search, query.page.unwrap_or(1)).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => page_error("posture", &e),
    }
}

/// `/accounts/{id}`: the account's latest findings, each chain drawn.
async fn account_page(State(state): State<AppState>, axum::extract::Path(id): axum::extract::Path<String>) -> axum::response::Response {
    let not_found = || html(StatusCode::NOT_FOUND, "<!DOCTYPE html><title>orgwatch</title><p>No findings of that account. <a href=\"/\">All accounts</a></p>".into());
    let Some(store) = &state.pages else { return not_found() };
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return not_found();
    }
    match crate::report::account(store, &id, Utc::now()).await {
        Ok(Some(body)) => html(StatusCode::OK, body),
        Ok(None) => not_found(),
        Err(e) => page_error("account", &e),
    }
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let (healthy, body) = state.health.check(Utc::now());
    (if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, axum::Json(body))
}

/// `/metrics`: the Prometheus text format, or OpenMetrics when the scraper's `Accept` asks.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let format = metrics::Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    ([(header::CONTENT_TYPE, format.content_type())], state.metrics.render(format))
}

/// The latest findings' counts into `orgwatch_accounts`; a database error leaves the last ones.
async fn refresh_accounts(store: &Store, config: &Config, metrics: &Metrics) {
    match store.latest_counts_by_control().await {
        Ok(counts) => metrics.set_accounts(&config.scan.controls, &counts),
        Err(e) => warn!(error = %orgwatch_core::error_chain(&e), "The account counts for /metrics could not be read"),
    }
    match store.noisy_alarms_by_control().await {
        Ok(counts) => metrics.set_noisy_alarms(&config.scan.controls, &counts),
        Err(e) => warn!(error = %orgwatch_core::error_chain(&e), "The noisy alarms for /metrics could not be read"),
    }
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
    let metrics = Arc::new(Metrics::new(reads.stats()));
    metrics.record_abandoned(abandoned);
    refresh_accounts(&store, &config, &metrics).await;
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
            info!(address = %addr, "Serving /, /accounts/{{id}}, /healthz and /metrics");
            let pages = match Store::open_read_only(&config.store.path).await {
                Ok(pages) => Some(pages),
                Err(e) => {
                    warn!(error = %orgwatch_core::error_chain(&e), "The pages cannot read the database; / and /accounts answer 503");
                    None
                }
            };
            let app = router(AppState { health: health.clone(), metrics: metrics.clone(), pages: pages.clone(), page_cache: Arc::default() });
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
        let (store, config, reads, health, metrics, notifier) = (&store, &config, &reads, &health, &metrics, &notifier);
        async move {
            let started = Instant::now();
            match scan::run_scan(reads, store, config, &SystemClock, shutdown).await {
                Ok(report) => {
                    let now = Utc::now();
                    health.record_scan(report.status.as_str(), now);
                    metrics.record_scan(report.status, report.duration, now.timestamp());
                    metrics.record_drift(&report.drift);
                    after_scan(store, config, &report, notifier).await;
                }
                Err(e) => {
                    let now = Utc::now();
                    health.record_scan(ScanStatus::Failed.as_str(), now);
                    metrics.record_scan(ScanStatus::Failed, started.elapsed(), now.timestamp());
                    error!(error = %orgwatch_core::error_chain(&e), "Scan failed");
                }
            }
            refresh_accounts(store, config, metrics).await;
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
        health.record_scan("completed", t0 + chrono::Duration::minutes(19));
        let (healthy, body) = health.check(t0 + chrono::Duration::minutes(20));
        assert!(healthy);
        assert_eq!(body["last_scan_status"], "completed");
        health.update(|s| s.scheduler_alive = false);
        assert!(!health.check(t0 + chrono::Duration::minutes(20)).0);
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
