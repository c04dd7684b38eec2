//! orgwatch's SQLite history: migrations, scans, findings, drift, and read-only queries.
//!
//! Architecture invariants: only this crate knows sqlx and SQL; it stores the core's findings
//! as they are and never judges anything. One writer: [`Store::open`] holds a single
//! connection in WAL mode, so readers (`orgwatch findings`, `orgwatch query`) never block it.
//! The one `unsafe` is [`readonly`]'s FFI to SQLite, which asks SQLite whether a query may run.
#![deny(unsafe_code)]

mod readonly;

use chrono::{DateTime, SecondsFormat, Utc};
use orgwatch_core::finding::Advice;
use orgwatch_core::{Finding, Status};
use std::collections::BTreeMap;
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, TypeInfo, ValueRef};
use std::sync::Arc;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use std::path::Path;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot bring the database schema up to date")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("the query was refused: {0}")]
    Refused(String),
    #[error("the query is not valid SQL: {0}")]
    Invalid(String),
}

/// A scan's outcome as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    Running,
    Completed,
    Failed,
    Interrupted,
    Abandoned,
}

impl ScanStatus {
    /// Every way a scan can end (all but `Running`).
    pub const OUTCOMES: [ScanStatus; 4] = [ScanStatus::Completed, ScanStatus::Failed, ScanStatus::Interrupted, ScanStatus::Abandoned];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Running => "running",
            ScanStatus::Completed => "completed",
            ScanStatus::Failed => "failed",
            ScanStatus::Interrupted => "interrupted",
            ScanStatus::Abandoned => "abandoned",
        }
    }
}

/// An account as listed in the organization.
#[derive(Clone, Debug)]
pub struct AccountRecord {
    pub account_id: String,
    pub account_name: String,
    pub state: String,
}

/// Counts by status of a scan's findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub pass: i64,
    pub fail: i64,
    pub error: i64,
    pub not_applicable: i64,
}

/// The answer to a query: column names and rows of JSON values.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// Formats a time as stored: RFC 3339, UTC, milliseconds.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The database: one connection, shared by clones and used by one statement at a time (one
/// writer, or one reader). A plain connection rather than a pool: nothing in a statement's path
/// waits on a timer, so tests drive scans under tokio's paused clock.
#[derive(Clone)]
pub struct Store {
    /// `None` once closed.
    conn: Arc<Mutex<Option<SqliteConnection>>>,
    /// The file, for [`Store::reader`].
    path: Arc<std::path::PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if needed) the database for writing and applies the migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(parent) {
                return Err(StoreError::Open { path: path.display().to_string(), source: sqlx::Error::Io(e) });
            }
        let options = SqliteConnectOptions::new()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let store = Store::connect(path, options).await?;
        MIGRATOR.run(&mut *store.connection().await?).await?;
        Ok(store)
    }

    /// Opens an existing database read-only: any statement that would write is refused by
    /// SQLite itself.
    pub async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                source: sqlx::Error::Configuration("no such file; run `orgwatch scan` first".into()),
            });
        }
        Store::connect(path, SqliteConnectOptions::new().read_only(true).pragma("query_only", "ON")).await
    }

    /// A second, read-only connection to the same file. The database is in WAL mode, so its
    /// reads see what was committed and neither wait for this store's writes nor hold them up:
    /// a scan reads the last advice of each account through it while its writer records
    /// findings.
    pub async fn reader(&self) -> Result<Store, StoreError> {
        Store::connect(&self.path, SqliteConnectOptions::new().read_only(true).pragma("query_only", "ON")).await
    }

    /// One connection to the file at `path` (one writer, or one reader).
    async fn connect(path: &Path, options: SqliteConnectOptions) -> Result<Store, StoreError> {
        let options = options.filename(path).busy_timeout(Duration::from_secs(10));
        let conn = options.connect().await.map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        Ok(Store { conn: Arc::new(Mutex::new(Some(conn))), path: Arc::new(path.to_path_buf()) })
    }

    /// The connection, for one statement or transaction at a time.
    async fn connection(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>, StoreError> {
        MutexGuard::try_map(self.conn.lock().await, Option::as_mut).map_err(|_| StoreError::Sql(sqlx::Error::PoolClosed))
    }

    /// Closes the connection; later calls on any clone fail.
    pub async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = conn.close().await;
        }
    }

    /// Marks scans left `running` by a crash as `abandoned`; returns how many.
    pub async fn mark_abandoned(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE scans SET status = 'abandoned', finished_at = ?1, error = 'the process stopped while the scan was running' WHERE status = 'running'")
            .bind(timestamp(now))
            .execute(&mut *self.connection().await?)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn begin_scan(&self, started: DateTime<Utc>) -> Result<i64, StoreError> {
        let row = sqlx::query("INSERT INTO scans (started_at, status) VALUES (?1, 'running') RETURNING id")
            .bind(timestamp(started))
            .fetch_one(&mut *self.connection().await?)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Records accounts a scan sets out to judge; called once per page of the listing, so
    /// `scans.accounts_total` counts every account recorded so far.
    pub async fn record_accounts(&self, scan_id: i64, accounts: &[AccountRecord]) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        let mut tx = conn.begin().await?;
        for account in accounts {
            sqlx::query(
                "INSERT INTO accounts (account_id, account_name, state, first_seen_scan_id, last_seen_scan_id) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (account_id) DO UPDATE SET account_name = excluded.account_name, state = excluded.state, last_seen_scan_id = excluded.last_seen_scan_id",
            )
            .bind(&account.account_id)
            .bind(&account.account_name)
            .bind(&account.state)
            .bind(scan_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT OR IGNORE INTO scan_accounts (scan_id, account_id) VALUES (?1, ?2)")
                .bind(scan_id)
                .bind(&account.account_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE scans SET accounts_total = (SELECT COUNT(*) FROM scan_accounts WHERE scan_id = ?1) WHERE id = ?1").bind(scan_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes one account's findings in one transaction.
    pub async fn record_findings(&self, scan_id: i64, findings: &[Finding], observed_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.record_findings_batch(scan_id, &[(findings, observed_at)]).await
    }

    /// Writes the findings of several accounts, each with the time it was judged, in one
    /// transaction: a scan of thousands of accounts commits in batches, not once per account.
    pub async fn record_findings_batch(&self, scan_id: i64, batch: &[(&[Finding], DateTime<Utc>)]) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        let mut tx = conn.begin().await?;
        for (findings, observed_at) in batch {
            let observed_at = timestamp(*observed_at);
            for finding in *findings {
                let evidence = serde_json::to_string(&finding.evidence).unwrap_or_else(|_| "{}".to_owned());
                sqlx::query(
                    "INSERT INTO findings (scan_id, account_id, control_id, status, reason, message, evidence, observed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (scan_id, account_id, control_id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                     message = excluded.message, evidence = excluded.evidence, observed_at = excluded.observed_at",
                )
                .bind(scan_id)
                .bind(&finding.account_id)
                .bind(&finding.control_id)
                .bind(finding.status.as_str())
                .bind(finding.reason.as_str())
                .bind(&finding.message)
                .bind(evidence)
                .bind(&observed_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes every later write of a finding fail with `message`, as a full disk or a broken
    /// file would: for tests of what a scan does when it cannot write.
    #[cfg(feature = "test-support")]
    pub async fn fail_finding_writes(&self, message: &str) -> Result<(), StoreError> {
        let sql = format!("CREATE TEMP TRIGGER refuse_findings BEFORE INSERT ON main.findings BEGIN SELECT RAISE(ABORT, '{}'); END", message.replace('\'', "''"));
        sqlx::query(&sql).execute(&mut *self.connection().await?).await?;
        Ok(())
    }

    /// Closes a scan: its status, counts and, for a completed scan, its drift events.
    pub async fn finish_scan(&self, scan_id: i64, status: ScanStatus, error: Option<&str>, finished: DateTime<Utc>) -> Result<StatusCounts, StoreError> {
        let mut conn = self.connection().await?;
        let mut tx = conn.begin().await?;
        let counts = counts(&mut tx, scan_id).await?;
        sqlx::query(
            "UPDATE scans SET status = ?2, error = ?3, finished_at = ?4, pass_count = ?5, fail_count = ?6, error_count = ?7, not_applicable_count = ?8 WHERE id = ?1",
        )
        .bind(scan_id)
        .bind(status.as_str())
        .bind(error)
        .bind(timestamp(finished))
        .bind(counts.pass)
        .bind(counts.fail)
        .bind(counts.error)
        .bind(counts.not_applicable)
        .execute(&mut *tx)
        .await?;
        if status == ScanStatus::Completed {
            record_drift(&mut tx, scan_id, finished).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Drift events recorded by one scan.
    pub async fn drift_of_scan(&self, scan_id: i64) -> Result<Vec<DriftEvent>, StoreError> {
        let rows = sqlx::query_as::<_, DriftEvent>(
            "SELECT account_id, control_id, previous_status, status, previous_reason, reason, change, scan_id, detected_at FROM drift_events WHERE scan_id = ?1 ORDER BY account_id, control_id",
        )
        .bind(scan_id)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        Ok(rows)
    }

    /// Deletes findings observed before `cutoff`, except those of the latest completed scan.
    /// Drift events are kept. Returns how many findings were deleted.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM findings WHERE observed_at < ?1 AND scan_id <> COALESCE((SELECT MAX(id) FROM scans WHERE status = 'completed'), -1)",
        )
        .bind(timestamp(cutoff))
        .execute(&mut *self.connection().await?)
        .await?;
        Ok(done.rows_affected())
    }

    /// Runs one read-only SQL statement and returns its rows. Before anything runs, SQLite
    /// compiles it and anything it does not report read-only is refused, as are `ATTACH`,
    /// `DETACH`, pragma assignments, temporary objects, transaction control and a second
    /// statement (see [`readonly`]); nothing is written and no file is created.
    pub async fn query(&self, sql: &str) -> Result<Table, StoreError> {
        let mut conn = self.connection().await?;
        let (statement, columns) = match readonly::check(&mut conn, sql).await? {
            readonly::Verdict::Run { statement, columns } => (statement, columns),
            readonly::Verdict::Refused(why) => return Err(StoreError::Refused(why)),
            readonly::Verdict::Invalid(why) => return Err(StoreError::Invalid(why)),
        };
        let statement = statement.trim().trim_end_matches(';').trim_end();
        let rows = sqlx::query(statement).fetch_all(&mut *conn).await.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.message().contains("readonly") || db.message().contains("read-only") => {
                StoreError::Refused(format!("the database is opened read-only, so this statement cannot change it ({})", db.message()))
            }
            _ => StoreError::Sql(e),
        })?;
        let mut table = Table { columns, rows: Vec::with_capacity(rows.len()) };
        for row in rows {
            let mut values = Vec::with_capacity(row.columns().len());
            for i in 0..row.columns().len() {
                values.push(json_value(&row, i));
            }
            table.rows.push(values);
        }
        Ok(table)
    }

    /// `SELECT … FROM latest_findings` with optional filters, ordered by account and control.
    pub async fn latest_findings(&self, status: Option<Status>, account_id: Option<&str>) -> Result<Table, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id, account_name, control_id, status, reason, message, evidence, scan_id, observed_at FROM latest_findings
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR account_id = ?2) ORDER BY account_id, control_id",
        )
        .bind(status.map(Status::as_str))
        .bind(account_id)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        Ok(to_table(&["account_id", "account_name", "control_id", "status", "reason", "message", "evidence", "scan_id", "observed_at"], &rows))
    }

    /// Drift events detected at or after `since`.
    pub async fn drift_since(&self, since: DateTime<Utc>) -> Result<Table, StoreError> {
        let rows = sqlx::query(
            "SELECT detected_at, scan_id, account_id, control_id, change, previous_status, status, previous_reason, reason FROM drift_events
             WHERE detected_at >= ?1 ORDER BY detected_at, account_id, control_id",
        )
        .bind(timestamp(since))
        .fetch_all(&mut *self.connection().await?)
        .await?;
        Ok(to_table(&["detected_at", "scan_id", "account_id", "control_id", "change", "previous_status", "status", "previous_reason", "reason"], &rows))
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let row = sqlx::query("PRAGMA integrity_check").fetch_one(&mut *self.connection().await?).await?;
        Ok(row.try_get(0)?)
    }

    /// Records that a scan measures passing chains' alarms over `window_days`.
    pub async fn mark_advice_scan(&self, scan_id: i64, window_days: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE scans SET advice_window_days = ?2 WHERE id = ?1").bind(scan_id).bind(i64::from(window_days)).execute(&mut *self.connection().await?).await?;
        Ok(())
    }

    /// When the latest completed scan that measured advice started.
    pub async fn last_advice_scan(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query("SELECT MAX(started_at) FROM scans WHERE status = 'completed' AND advice_window_days IS NOT NULL").fetch_one(&mut *self.connection().await?).await?;
        let started: Option<String> = row.try_get(0)?;
        Ok(started.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map(|t| t.to_utc()))
    }

    /// The advice of an account's latest findings, by control: what a scan that does not
    /// measure carries on. Advice that cannot be read (from another version) is left out.
    pub async fn latest_advice(&self, account_id: &str) -> Result<BTreeMap<String, Advice>, StoreError> {
        let rows = sqlx::query(
            "SELECT control_id, json_extract(evidence, '$.advice') FROM findings
             WHERE account_id = ?1 AND scan_id = (SELECT MAX(scan_id) FROM findings WHERE account_id = ?1)
               AND json_extract(evidence, '$.advice') IS NOT NULL",
        )
        .bind(account_id)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        let mut advice = BTreeMap::new();
        for row in rows {
            let control: String = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            if let Ok(parsed) = serde_json::from_str::<Advice>(&text) {
                advice.insert(control, parsed);
            }
        }
        Ok(advice)
    }

    /// The advice of the latest passing findings, for `orgwatch tune`: (account, control,
    /// advice), by account and control, optionally of one account or control.
    pub async fn passing_advice(&self, account_id: Option<&str>, control_id: Option<&str>) -> Result<Vec<(String, String, Advice)>, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id, control_id, json_extract(evidence, '$.advice') FROM latest_findings
             WHERE status = 'PASS' AND json_extract(evidence, '$.advice') IS NOT NULL
               AND (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR control_id = ?2)
             ORDER BY account_id, control_id",
        )
        .bind(account_id)
        .bind(control_id)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let text: String = row.try_get(2)?;
            let advice = serde_json::from_str::<Advice>(&text).map_err(|e| StoreError::Invalid(format!("the advice of a finding cannot be read: {e}")))?;
            out.push((row.try_get(0)?, row.try_get(1)?, advice));
        }
        Ok(out)
    }

    /// Noisy alarms per control among the latest findings, for metrics (the accounts of the
    /// latest completed scan, as [`Store::latest_counts_by_control`] counts them).
    pub async fn noisy_alarms_by_control(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(&format!("SELECT control_id, COALESCE(SUM(noisy), 0) FROM alarm_noise WHERE {} GROUP BY control_id ORDER BY control_id", report::NOW))
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Latest status counts per control, for metrics: the accounts of the latest completed scan
    /// (an account that left the organization no longer counts), or every account seen before
    /// any scan completed.
    pub async fn latest_counts_by_control(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(&format!("SELECT control_id, status, COUNT(*) FROM latest_findings WHERE {} GROUP BY control_id, status ORDER BY control_id, status", report::NOW))
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }
}

/// Every kind of drift event (`drift.change`), as the drift computation writes them.
pub const DRIFT_CHANGES: [&str; 5] = ["NEW", "REGRESSION", "RECOVERY", "CHANGE", "LEFT_ORGANIZATION"];

/// One drift event.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct DriftEvent {
    pub account_id: String,
    pub control_id: String,
    pub previous_status: Option<String>,
    pub status: Option<String>,
    pub previous_reason: Option<String>,
    pub reason: Option<String>,
    pub change: String,
    pub scan_id: i64,
    pub detected_at: String,
}

async fn counts(tx: &mut sqlx::SqliteConnection, scan_id: i64) -> Result<StatusCounts, StoreError> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(status = 'PASS'), 0), COALESCE(SUM(status = 'FAIL'), 0), COALESCE(SUM(status = 'ERROR'), 0), COALESCE(SUM(status = 'NOT_APPLICABLE'), 0)
         FROM findings WHERE scan_id = ?1",
    )
    .bind(scan_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(StatusCounts { pass: row.try_get(0)?, fail: row.try_get(1)?, error: row.try_get(2)?, not_applicable: row.try_get(3)? })
}

/// Compares a completed scan with the previous completed scan in which each (account, control)
/// was judged, and records every change of status or reason.
async fn record_drift(tx: &mut sqlx::SqliteConnection, scan_id: i64, detected: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO drift (scan_id, previous_scan_id, account_id, control_id, previous_status, previous_reason, status, reason, change, detected_at)
         SELECT f.scan_id, p.scan_id, f.account_id, f.control_id, p.status, p.reason, f.status, f.reason,
                CASE WHEN p.status IS NULL THEN 'NEW'
                     WHEN p.status = 'PASS' AND f.status IN ('FAIL', 'ERROR') THEN 'REGRESSION'
                     WHEN f.status = 'PASS' AND p.status IN ('FAIL', 'ERROR') THEN 'RECOVERY'
                     ELSE 'CHANGE' END,
                ?2
         FROM findings f
         LEFT JOIN findings p ON p.account_id = f.account_id AND p.control_id = f.control_id AND p.scan_id = (
             SELECT MAX(p2.scan_id) FROM findings p2 JOIN scans s2 ON s2.id = p2.scan_id
             WHERE s2.status = 'completed' AND p2.scan_id < f.scan_id AND p2.account_id = f.account_id AND p2.control_id = f.control_id)
         WHERE f.scan_id = ?1 AND (p.scan_id IS NULL OR p.status <> f.status OR p.reason <> f.reason)",
    )
    .bind(scan_id)
    .bind(timestamp(detected))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO drift (scan_id, previous_scan_id, account_id, control_id, previous_status, previous_reason, status, reason, change, detected_at)
         SELECT ?1, p.scan_id, p.account_id, p.control_id, p.status, p.reason, NULL, NULL, 'LEFT_ORGANIZATION', ?2
         FROM findings p
         WHERE p.scan_id = (SELECT MAX(id) FROM scans WHERE status = 'completed' AND id < ?1)
           AND p.account_id NOT IN (SELECT account_id FROM scan_accounts WHERE scan_id = ?1)",
    )
    .bind(scan_id)
    .bind(timestamp(detected))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Rows of a statement whose columns are known, as a [`Table`].
fn to_table(columns: &[&str], rows: &[sqlx::sqlite::SqliteRow]) -> Table {
    Table {
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: rows.iter().map(|row| (0..columns.len()).map(|i| json_value(row, i)).collect()).collect(),
    }
}

fn json_value(row: &sqlx::sqlite::SqliteRow, index: usize) -> serde_json::Value {
    let Ok(raw) = row.try_get_raw(index) else { return serde_json::Value::Null };
    if raw.is_null() {
        return serde_json::Value::Null;
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    match type_name.as_str() {
        "INTEGER" | "INT8" | "BIGINT" | "INT" | "BOOLEAN" => row.try_get::<i64, _>(index).map(Into::into).unwrap_or(serde_json::Value::Null),
        "REAL" | "FLOAT" | "DOUBLE" | "NUMERIC" => row.try_get::<f64, _>(index).map(Into::into).unwrap_or(serde_json::Value::Null),
        "BLOB" => row.try_get::<Vec<u8>, _>(index).map(|b| format!("<{} bytes>", b.len()).into()).unwrap_or(serde_json::Value::Null),
        _ => row.try_get::<String, _>(index).map(Into::into).unwrap_or(serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests;

mod export;
pub use export::{StoredDrift, StoredFinding};
mod report;
pub use report::{AccountRow, ControlPosture, DriftCount, DriftItem, FailingItem, Overview, REPORT_DRIFT_EVENTS, REPORT_FAILING, ReasonCount, ReportVersion, ScanPosture, ScanSummary, StoredLatest};
