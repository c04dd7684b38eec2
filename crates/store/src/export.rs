//! Findings and drift events as the exports (OCSF, ASFF) need them: typed as the core made them,
//! with the account's name, the scan, when the finding was observed and when its (account,
//! control) was first observed.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use orgwatch_core::{Evidence, Finding, Reason, Status};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// A stored finding with where and when it was observed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFinding {
    pub finding: Finding,
    pub account_name: Option<String>,
    pub scan_id: i64,
    pub observed_at: DateTime<Utc>,
    /// The first observation of this (account, control) still in the history (pruning moves it
    /// forward).
    pub first_observed_at: DateTime<Utc>,
}

/// A drift event with the finding its scan stored (`None` once pruned, or when the account left).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDrift {
    pub account_id: String,
    pub account_name: Option<String>,
    pub control_id: String,
    /// `NEW`, `REGRESSION`, `RECOVERY`, `CHANGE` or `LEFT_ORGANIZATION`.
    pub change: String,
    pub previous_status: Option<Status>,
    pub previous_reason: Option<Reason>,
    /// `None` for `LEFT_ORGANIZATION`.
    pub status: Option<Status>,
    pub reason: Option<Reason>,
    pub scan_id: i64,
    pub detected_at: DateTime<Utc>,
    pub finding: Option<StoredFinding>,
}

impl Store {
    /// The latest finding of each account and control, typed, with optional filters, ordered by
    /// account and control.
    pub async fn latest_stored_findings(&self, status: Option<Status>, account_id: Option<&str>) -> Result<Vec<StoredFinding>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.account_id, l.account_name, l.control_id, l.status, l.reason, l.message, l.evidence, l.scan_id, l.observed_at,
                    (SELECT MIN(f.observed_at) FROM findings f WHERE f.account_id = l.account_id AND f.control_id = l.control_id)
             FROM latest_findings l
             WHERE (?1 IS NULL OR l.status = ?1) AND (?2 IS NULL OR l.account_id = ?2) ORDER BY l.account_id, l.control_id",
        )
        .bind(status.map(Status::as_str))
        .bind(account_id)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter().map(|row| stored_finding(row, 0)).collect()
    }

    /// Drift events detected at or after `since`, oldest first, each with the finding its scan
    /// stored.
    pub async fn stored_drift_since(&self, since: DateTime<Utc>) -> Result<Vec<StoredDrift>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.account_id, a.account_name, d.control_id, f.status, f.reason, f.message, f.evidence, f.scan_id, f.observed_at,
                    (SELECT MIN(f2.observed_at) FROM findings f2 WHERE f2.account_id = d.account_id AND f2.control_id = d.control_id),
                    d.change, d.previous_status, d.previous_reason, d.status, d.reason, d.scan_id, d.detected_at
             FROM drift d
             LEFT JOIN accounts a ON a.account_id = d.account_id
             LEFT JOIN findings f ON f.scan_id = d.scan_id AND f.account_id = d.account_id AND f.control_id = d.control_id
             WHERE d.detected_at >= ?1 ORDER BY d.detected_at, d.id",
        )
        .bind(crate::timestamp(since))
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter()
            .map(|row| {
                let has_finding = row.try_get::<Option<i64>, _>(7)?.is_some();
                Ok(StoredDrift {
                    account_id: row.try_get(0)?,
                    account_name: row.try_get(1)?,
                    control_id: row.try_get(2)?,
                    change: row.try_get(10)?,
                    previous_status: row.try_get::<Option<String>, _>(11)?.map(|s| status(&s)).transpose()?,
                    previous_reason: row.try_get::<Option<String>, _>(12)?.map(|r| reason(&r)).transpose()?,
                    status: row.try_get::<Option<String>, _>(13)?.map(|s| status(&s)).transpose()?,
                    reason: row.try_get::<Option<String>, _>(14)?.map(|r| reason(&r)).transpose()?,
                    scan_id: row.try_get(15)?,
                    detected_at: time(&row.try_get::<String, _>(16)?)?,
                    finding: if has_finding { Some(stored_finding(row, 0)?) } else { None },
                })
            })
            .collect()
    }
}

/// The nine finding columns (account_id, account_name, control_id, status, reason, message,
/// evidence, scan_id, observed_at) and the first observation, from column `at` on.
fn stored_finding(row: &SqliteRow, at: usize) -> Result<StoredFinding, StoreError> {
    let evidence: String = row.try_get(at + 6)?;
    let evidence: Evidence = serde_json::from_str(&evidence).map_err(|e| decode(format!("the evidence of a finding is not the JSON orgwatch writes: {e}")))?;
    let observed_at = time(&row.try_get::<String, _>(at + 8)?)?;
    let first: Option<String> = row.try_get(at + 9)?;
    Ok(StoredFinding {
        finding: Finding {
            account_id: row.try_get(at)?,
            control_id: row.try_get(at + 2)?,
            status: status(&row.try_get::<String, _>(at + 3)?)?,
            reason: reason(&row.try_get::<String, _>(at + 4)?)?,
            message: row.try_get(at + 5)?,
            evidence,
        },
        account_name: row.try_get(at + 1)?,
        scan_id: row.try_get(at + 7)?,
        observed_at,
        first_observed_at: first.map(|t| time(&t)).transpose()?.unwrap_or(observed_at),
    })
}

fn decode(message: String) -> StoreError {
    StoreError::Sql(sqlx::Error::Decode(message.into()))
}

fn status(text: &str) -> Result<Status, StoreError> {
    Status::parse(text).ok_or_else(|| decode(format!("unknown status {text:?} in the database")))
}

fn reason(text: &str) -> Result<Reason, StoreError> {
    Reason::ALL.iter().copied().find(|r| r.as_str() == text).ok_or_else(|| decode(format!("unknown reason {text:?} in the database")))
}

fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| decode(format!("time {text:?} in the database is not RFC 3339: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountRecord, ScanStatus};
    use chrono::TimeZone;
    use orgwatch_core::{EvidenceLink, LinkKind};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, hour, 0, 0).unwrap()
    }

    fn finding(account: &str, reason: Reason) -> Finding {
        let link = EvidenceLink::new(LinkKind::Account, account).in_account(account);
        Finding {
            account_id: account.into(),
            control_id: "unauthorized-api-calls".into(),
            status: reason.status(),
            reason,
            message: format!("{account} is {reason}"),
            evidence: Evidence { links: vec![link], chains_examined: 1, ..Evidence::default() },
        }
    }

    async fn scan(store: &Store, hour: u32, findings: &[Finding]) -> i64 {
        let id = store.begin_scan(at(hour)).await.unwrap();
        let accounts: Vec<AccountRecord> =
            findings.iter().map(|f| AccountRecord { account_id: f.account_id.clone(), account_name: format!("name-{}", f.account_id), state: "ACTIVE".into() }).collect();
        store.record_accounts(id, &accounts).await.unwrap();
        store.record_findings(id, findings, at(hour)).await.unwrap();
        store.finish_scan(id, ScanStatus::Completed, None, at(hour)).await.unwrap();
        id
    }

    #[tokio::test]
    async fn stored_findings_carry_the_first_observation_and_drift_carries_its_scans_finding() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("orgwatch.db")).await.unwrap();
        scan(&store, 1, &[finding("111", Reason::Compliant), finding("222", Reason::NoAlarmOnMetric)]).await;
        let second = scan(&store, 2, &[finding("111", Reason::TrailNotLogging)]).await;

        let latest = store.latest_stored_findings(None, None).await.unwrap();
        assert_eq!(latest.len(), 2);
        assert_eq!(latest[0].finding, finding("111", Reason::TrailNotLogging));
        assert_eq!((latest[0].scan_id, latest[0].observed_at, latest[0].first_observed_at), (second, at(2), at(1)));
        assert_eq!(latest[0].account_name.as_deref(), Some("name-111"));
        assert_eq!((latest[1].observed_at, latest[1].first_observed_at), (at(1), at(1)));
        assert_eq!(store.latest_stored_findings(Some(Status::Fail), Some("222")).await.unwrap().len(), 1);

        let drift = store.stored_drift_since(at(0)).await.unwrap();
        let changes: Vec<(&str, &str)> = drift.iter().map(|d| (d.account_id.as_str(), d.change.as_str())).collect();
        assert_eq!(changes, [("111", "NEW"), ("222", "NEW"), ("111", "REGRESSION"), ("222", "LEFT_ORGANIZATION")]);
        let regression = &drift[2];
        assert_eq!((regression.previous_status, regression.status, regression.reason), (Some(Status::Pass), Some(Status::Fail), Some(Reason::TrailNotLogging)));
        assert_eq!(regression.finding.as_ref().map(|f| f.finding.reason), Some(Reason::TrailNotLogging));
        let left = &drift[3];
        assert_eq!((left.status, left.previous_reason, left.finding.is_none()), (None, Some(Reason::NoAlarmOnMetric), true));
    }

    #[tokio::test]
    async fn a_reason_the_store_does_not_know_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("orgwatch.db")).await.unwrap();
        scan(&store, 1, &[finding("111", Reason::Compliant)]).await;
        sqlx::query("UPDATE findings SET reason = 'FROM_THE_FUTURE'").execute(&mut *store.connection().await.unwrap()).await.unwrap();
        let error = store.latest_stored_findings(None, None).await.unwrap_err();
        assert!(orgwatch_core::error_chain(&error).contains("unknown reason \"FROM_THE_FUTURE\""), "{error}");
    }
}
