use super::*;
use chrono::TimeZone;
use orgwatch_core::{Evidence, Reason};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, hour, 0, 0).unwrap()
}

fn finding(account: &str, reason: Reason) -> Finding {
    Finding {
        account_id: account.into(),
        control_id: "unauthorized-api-calls".into(),
        status: reason.status(),
        reason,
        message: format!("{account} is {reason}"),
        evidence: Evidence::default(),
    }
}

fn accounts(ids: &[&str]) -> Vec<AccountRecord> {
    ids.iter().map(|id| AccountRecord { account_id: (*id).into(), account_name: format!("name-{id}"), state: "ACTIVE".into() }).collect()
}

async fn scan(store: &Store, hour: u32, findings: &[Finding], status: ScanStatus) -> i64 {
    let id = store.begin_scan(at(hour)).await.unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f.account_id.as_str()).collect();
    store.record_accounts(id, &accounts(&ids)).await.unwrap();
    store.record_findings(id, findings, at(hour)).await.unwrap();
    store.finish_scan(id, status, None, at(hour)).await.unwrap();
    id
}

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    // A '?' and a '#' in the path: the file name is never read as a URL.
    let path = dir.path().join("nested ?#").join("orgwatch.db");
    (dir, path)
}

#[tokio::test]
async fn latest_findings_shows_the_newest_finding_of_each_account_and_control() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    scan(&store, 1, &[finding("111", Reason::Compliant), finding("222", Reason::NoAlarmOnMetric)], ScanStatus::Completed).await;
    let second = scan(&store, 2, &[finding("111", Reason::TrailNotLogging)], ScanStatus::Completed).await;
    let table = store.latest_findings(None, None).await.unwrap();
    assert_eq!(table.rows.len(), 2);
    assert_eq!(table.rows[0][0], "111");
    assert_eq!(table.rows[0][1], "name-111");
    assert_eq!(table.rows[0][4], "TRAIL_NOT_LOGGING");
    assert_eq!(table.rows[0][7], second);
    let failing = store.latest_findings(Some(Status::Fail), Some("222")).await.unwrap();
    assert_eq!(failing.rows.len(), 1);
    assert_eq!(failing.rows[0][4], "NO_ALARM_ON_METRIC");
}

#[tokio::test]
async fn drift_records_new_regressions_recoveries_and_departures() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    let first = scan(&store, 1, &[finding("111", Reason::Compliant), finding("222", Reason::Compliant)], ScanStatus::Completed).await;
    let events = store.drift_of_scan(first).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.change == "NEW" && e.previous_status.is_none()));

    // An interrupted scan in between is not compared against.
    scan(&store, 2, &[finding("111", Reason::ApiError)], ScanStatus::Interrupted).await;

    let second = scan(&store, 3, &[finding("111", Reason::NoAlarmOnMetric), finding("222", Reason::Compliant)], ScanStatus::Completed).await;
    let events = store.drift_of_scan(second).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].account_id.as_str(), events[0].change.as_str()), ("111", "REGRESSION"));
    assert_eq!(events[0].previous_status.as_deref(), Some("PASS"));
    assert_eq!(events[0].reason.as_deref(), Some("NO_ALARM_ON_METRIC"));

    let third = scan(&store, 4, &[finding("111", Reason::Compliant)], ScanStatus::Completed).await;
    let events = store.drift_of_scan(third).await.unwrap();
    let changes: Vec<(&str, &str)> = events.iter().map(|e| (e.account_id.as_str(), e.change.as_str())).collect();
    assert_eq!(changes, vec![("111", "RECOVERY"), ("222", "LEFT_ORGANIZATION")]);

    let fixes = store.query("SELECT control_id, fixes, mean_hours_to_fix FROM mean_time_to_fix").await.unwrap();
    assert_eq!(fixes.rows, vec![vec![serde_json::json!("unauthorized-api-calls"), serde_json::json!(1), serde_json::json!(1.0)]]);
}

#[tokio::test]
async fn a_read_only_store_refuses_writes_and_changes_nothing() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    scan(&store, 1, &[finding("111", Reason::Compliant)], ScanStatus::Completed).await;
    store.close().await;

    let reader = Store::open_read_only(&path).await.unwrap();
    for statement in ["DELETE FROM findings", "UPDATE scans SET status = 'failed'", "DROP TABLE findings", "INSERT INTO scans (started_at, status) VALUES ('x', 'running')"] {
        let err = reader.query(statement).await.unwrap_err();
        assert!(err.to_string().contains("read-only") || err.to_string().contains("readonly"), "{statement}: {err}");
    }
    let count = reader.query("SELECT COUNT(*) AS n FROM findings").await.unwrap();
    assert_eq!(count.columns, vec!["n"]);
    assert_eq!(count.rows, vec![vec![serde_json::json!(1)]]);
    let err = reader.query("SELEKT nonsense").await.unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    let empty = reader.query("SELECT account_id FROM latest_findings WHERE 0").await.unwrap();
    assert_eq!(empty.columns, vec!["account_id"]);
    assert!(empty.rows.is_empty());
}

#[tokio::test]
async fn a_scan_left_running_is_marked_abandoned() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    let id = store.begin_scan(at(1)).await.unwrap();
    store.record_findings(id, &[finding("111", Reason::Compliant)], at(1)).await.unwrap();
    assert_eq!(store.mark_abandoned(at(2)).await.unwrap(), 1);
    let row = store.query(&format!("SELECT status FROM scans WHERE id = {id}")).await.unwrap();
    assert_eq!(row.rows[0][0], "abandoned");
    // What was judged before the crash is kept.
    assert_eq!(store.latest_findings(None, None).await.unwrap().rows.len(), 1);
}

#[tokio::test]
async fn pruning_removes_old_findings_but_keeps_drift_and_the_latest_scan() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    scan(&store, 1, &[finding("111", Reason::Compliant)], ScanStatus::Completed).await;
    scan(&store, 2, &[finding("111", Reason::NoAlarmOnMetric)], ScanStatus::Completed).await;
    let deleted = store.prune(at(10)).await.unwrap();
    assert_eq!(deleted, 1);
    let drift = store.query("SELECT COUNT(*) FROM drift_events").await.unwrap();
    assert_eq!(drift.rows[0][0], 2);
    assert_eq!(store.latest_findings(None, None).await.unwrap().rows.len(), 1);
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}
