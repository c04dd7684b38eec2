//! What `orgwatch report` and the daemon's pages show, read from the database in a few
//! statements: the posture now, the posture per scan, the drift, the failures that last, the
//! accounts, and an account's findings with their evidence.

use crate::{Store, StoreError, timestamp};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// The accounts of the latest completed scan (every account when no scan completed yet): the
/// organization as it is now, as `/metrics` counts it.
pub(crate) const NOW: &str = "(NOT EXISTS (SELECT 1 FROM scans WHERE status = 'completed')
    OR account_id IN (SELECT account_id FROM scan_accounts WHERE scan_id = (SELECT MAX(id) FROM scans WHERE status = 'completed')))";

/// Drift events of the report at most; the page says how many there were.
pub const REPORT_DRIFT_EVENTS: i64 = 500;
/// Findings failing longest at most.
pub const REPORT_FAILING: i64 = 200;

/// Everything of a report but the accounts' findings.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overview {
    /// The latest completed scan: (id, started_at, finished_at).
    pub latest_scan: Option<ScanSummary>,
    /// Per control, the accounts by status.
    pub posture: Vec<ControlPosture>,
    /// Per control and reason, how many accounts (statuses other than PASS).
    pub reasons: Vec<ReasonCount>,
    /// Per completed scan since the report's start and control, the share of accounts passing.
    pub history: Vec<ScanPosture>,
    /// Regressions and recoveries per completed scan since the start, newest first.
    pub drift_by_scan: Vec<DriftCount>,
    /// The newest regressions and recoveries since the start, at most [`REPORT_DRIFT_EVENTS`].
    pub drift: Vec<DriftItem>,
    /// How many regressions and recoveries there were since the start.
    pub drift_total: i64,
    /// Failing now, the longest first, at most [`REPORT_FAILING`], with the control's mean time
    /// to fix.
    pub failing: Vec<FailingItem>,
    pub failing_total: i64,
}

#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct ScanSummary {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub accounts: i64,
}

#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct ControlPosture {
    pub control_id: String,
    pub pass: i64,
    pub fail: i64,
    pub error: i64,
    pub not_applicable: i64,
}

impl ControlPosture {
    pub fn total(&self) -> i64 {
        self.pass + self.fail + self.error + self.not_applicable
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ReasonCount {
    pub control_id: String,
    pub status: String,
    pub reason: String,
    pub accounts: i64,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ScanPosture {
    pub scan_id: i64,
    pub started_at: String,
    pub control_id: String,
    pub pass: i64,
    pub total: i64,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct DriftCount {
    pub scan_id: i64,
    pub detected_at: String,
    pub regressions: i64,
    pub recoveries: i64,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct DriftItem {
    pub scan_id: i64,
    pub detected_at: String,
    pub account_id: String,
    pub account_name: Option<String>,
    pub control_id: String,
    pub change: String,
    pub previous_status: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct FailingItem {
    pub account_id: String,
    pub account_name: Option<String>,
    pub control_id: String,
    pub reason: String,
    pub failing_since: Option<String>,
    pub mean_hours_to_fix: Option<f64>,
}

/// One account of the organization now, with its latest findings counted by status.
#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct AccountRow {
    pub account_id: String,
    pub account_name: Option<String>,
    pub pass: i64,
    pub fail: i64,
    pub error: i64,
    pub not_applicable: i64,
}

/// A latest finding, its evidence as stored (JSON), or none when it was not asked for.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct StoredLatest {
    pub account_id: String,
    pub control_id: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub evidence: Option<String>,
    pub observed_at: String,
}

/// What the report's reads depend on, read in a few indexed lookups: when two reads give the
/// same version, the overview and the accounts' rows since the same `since` read the same.
/// Every scan writes findings (a new highest id) or changes a scan's status, drift is only
/// added, and a window moves only when a scan or a drift event leaves it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportVersion {
    pub last_finding: Option<i64>,
    pub last_drift: Option<i64>,
    pub last_scan: Option<i64>,
    /// The scans by status, as `completed:3,interrupted:1`.
    pub scans: Option<String>,
    /// The first scan and the first drift event within the window.
    pub first_scan_since: Option<i64>,
    pub first_drift_since: Option<i64>,
}

impl Store {
    /// The version of what [`Store::report_overview`] and [`Store::report_accounts`] read since
    /// `since`.
    pub async fn report_version(&self, since: DateTime<Utc>) -> Result<ReportVersion, StoreError> {
        Ok(sqlx::query_as::<_, ReportVersion>(
            "SELECT (SELECT MAX(id) FROM findings) AS last_finding, (SELECT MAX(id) FROM drift) AS last_drift,
                    (SELECT MAX(id) FROM scans) AS last_scan,
                    (SELECT group_concat(status || ':' || n) FROM (SELECT status, COUNT(*) AS n FROM scans GROUP BY status ORDER BY status)) AS scans,
                    (SELECT MIN(id) FROM scans WHERE started_at >= ?1) AS first_scan_since,
                    (SELECT MIN(id) FROM drift WHERE detected_at >= ?1) AS first_drift_since",
        )
        .bind(timestamp(since))
        .fetch_one(&mut *self.connection().await?)
        .await?)
    }

    /// The report's overview, with the history, drift and times since `since`.
    pub async fn report_overview(&self, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        let mut conn = self.connection().await?;
        let since = timestamp(since);
        let latest_scan = sqlx::query_as::<_, ScanSummary>(
            "SELECT s.id, s.started_at, s.finished_at, (SELECT COUNT(*) FROM scan_accounts a WHERE a.scan_id = s.id) AS accounts
             FROM scans s WHERE s.status = 'completed' ORDER BY s.id DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let posture = sqlx::query_as::<_, ControlPosture>(&format!(
            "SELECT control_id, SUM(status = 'PASS') AS pass, SUM(status = 'FAIL') AS fail, SUM(status = 'ERROR') AS error,
                    SUM(status = 'NOT_APPLICABLE') AS not_applicable
             FROM latest_findings WHERE {NOW} GROUP BY control_id ORDER BY control_id"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let reasons = sqlx::query_as::<_, ReasonCount>(&format!(
            "SELECT control_id, status, reason, COUNT(*) AS accounts FROM latest_findings WHERE {NOW} AND status != 'PASS'
             GROUP BY control_id, status, reason ORDER BY control_id, COUNT(*) DESC, reason"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let history = sqlx::query_as::<_, ScanPosture>(
            "SELECT s.id AS scan_id, s.started_at, f.control_id, SUM(f.status = 'PASS') AS pass, COUNT(*) AS total
             FROM scans s JOIN findings f ON f.scan_id = s.id
             WHERE s.status = 'completed' AND s.started_at >= ?1
             GROUP BY s.id, f.control_id ORDER BY s.id, f.control_id",
        )
        .bind(&since)
        .fetch_all(&mut *conn)
        .await?;
        let drift_by_scan = sqlx::query_as::<_, DriftCount>(
            "SELECT scan_id, MIN(detected_at) AS detected_at, SUM(change = 'REGRESSION') AS regressions, SUM(change = 'RECOVERY') AS recoveries
             FROM drift WHERE detected_at >= ?1 AND change IN ('REGRESSION', 'RECOVERY')
             GROUP BY scan_id ORDER BY scan_id DESC",
        )
        .bind(&since)
        .fetch_all(&mut *conn)
        .await?;
        let drift_total = drift_by_scan.iter().map(|d| d.regressions + d.recoveries).sum();
        let drift = sqlx::query_as::<_, DriftItem>(
            "SELECT d.scan_id, d.detected_at, d.account_id, a.account_name, d.control_id, d.change, d.previous_status, d.status, d.reason
             FROM drift d LEFT JOIN accounts a ON a.account_id = d.account_id
             WHERE d.detected_at >= ?1 AND d.change IN ('REGRESSION', 'RECOVERY')
             ORDER BY d.id DESC LIMIT ?2",
        )
        .bind(&since)
        .bind(REPORT_DRIFT_EVENTS)
        .fetch_all(&mut *conn)
        .await?;
        let failing_total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM latest_findings WHERE status = 'FAIL' AND {NOW}")).fetch_one(&mut *conn).await?.try_get(0)?;
        let failing = sqlx::query_as::<_, FailingItem>(&format!(
            "SELECT f.account_id, f.account_name, f.control_id, f.reason, f.failing_since, m.mean_hours_to_fix
             FROM failing_longest f LEFT JOIN mean_time_to_fix m ON m.control_id = f.control_id
             WHERE {NOW} ORDER BY f.failing_since ASC, f.account_id, f.control_id LIMIT ?1"
        ))
        .bind(REPORT_FAILING)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Overview { latest_scan, posture, reasons, history, drift_by_scan, drift, drift_total, failing, failing_total })
    }

    /// The accounts now, by id, with their latest findings counted by status. The report and
    /// the daemon's pages search and page them in memory (one read serves every page).
    pub async fn report_accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT account_id, MAX(account_name) AS account_name, SUM(status = 'PASS') AS pass, SUM(status = 'FAIL') AS fail,
                    SUM(status = 'ERROR') AS error, SUM(status = 'NOT_APPLICABLE') AS not_applicable
             FROM latest_findings WHERE {NOW}
             GROUP BY account_id ORDER BY account_id"
        ))
        .fetch_all(&mut *self.connection().await?)
        .await?)
    }

    /// The latest findings of the accounts now (of one account, when given; any account it
    /// names when it is not in the latest scan), by account and control. The evidence is read
    /// for the findings that do not pass, and for every finding of one account.
    pub async fn report_findings(&self, account_id: Option<&str>) -> Result<Vec<StoredLatest>, StoreError> {
        Ok(sqlx::query_as::<_, StoredLatest>(&format!(
            "SELECT account_id, control_id, status, reason, message,
                    CASE WHEN ?1 IS NOT NULL OR status != 'PASS' THEN evidence END AS evidence, observed_at
             FROM latest_findings WHERE (?1 IS NULL AND {NOW}) OR account_id = ?1
             ORDER BY account_id, control_id"
        ))
        .bind(account_id)
        .fetch_all(&mut *self.connection().await?)
        .await?)
    }

    /// An account's name as last listed.
    pub async fn account_name(&self, account_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT account_name FROM accounts WHERE account_id = ?1").bind(account_id).fetch_optional(&mut *self.connection().await?).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
