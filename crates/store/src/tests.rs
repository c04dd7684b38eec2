use super::*;
use chrono::TimeZone;
use orgwatch_core::finding::Advice;
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

/// A database with two completed scans, an alarm in the passing account's evidence, closed by
/// its writer.
async fn history(path: &std::path::Path) {
    let store = Store::open(path).await.unwrap();
    let mut passing = finding("111", Reason::Compliant);
    passing.evidence.links = vec![
        orgwatch_core::EvidenceLink::new(orgwatch_core::LinkKind::Trail, "arn:aws:cloudtrail:us-east-1:111:trail/org"),
        orgwatch_core::EvidenceLink::new(orgwatch_core::LinkKind::Alarm, "arn:aws:cloudwatch:us-east-1:111:alarm:unauthorized"),
    ];
    scan(&store, 1, &[passing.clone(), finding("222", Reason::Compliant)], ScanStatus::Completed).await;
    scan(&store, 2, &[passing, finding("222", Reason::NoAlarmOnMetric)], ScanStatus::Completed).await;
    store.close().await;
}

/// The names in a directory.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_read_only_query_refuses_before_it_runs_every_statement_that_could_write_or_create_a_file() {
    let (_dir, path) = temp_db();
    history(&path).await;
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = |name: &str| outside.path().join(name).display().to_string().replace('\'', "''");
    let reader = Store::open_read_only(&path).await.unwrap();
    // A first read sets up SQLite's WAL index (the -shm and -wal files a reader of a WAL database
    // uses); nothing else may appear.
    assert_eq!(reader.query("SELECT COUNT(*) FROM scans").await.unwrap().rows, vec![vec![serde_json::json!(2)]]);
    let before = std::fs::read(&path).unwrap();
    let files_before = listing(path.parent().unwrap());

    let refused: Vec<(String, &str)> = vec![
        (format!("VACUUM INTO '{}'", elsewhere("copy.db")), "VACUUM statement can write"),
        (format!("vacuum main into '{}';", elsewhere("copy2.db")), "VACUUM statement can write"),
        ("VACUUM".into(), "can write"),
        (format!("ATTACH DATABASE '{}' AS other", elsewhere("attached.db")), "ATTACH opens another database file"),
        (format!("ATTACH 'file:{}?mode=rwc' AS other", elsewhere("uri.db")), "ATTACH"),
        ("DETACH DATABASE main".into(), "DETACH"),
        ("PRAGMA query_only = OFF".into(), "PRAGMA query_only with a value"),
        ("PRAGMA journal_mode = DELETE".into(), "PRAGMA journal_mode with a value"),
        ("PRAGMA user_version = 7".into(), "PRAGMA user_version with a value"),
        ("pragma main.synchronous=0".into(), "PRAGMA synchronous with a value"),
        ("PRAGMA wal_checkpoint(TRUNCATE)".into(), "PRAGMA wal_checkpoint with a value"),
        ("PRAGMA optimize".into(), "PRAGMA optimize is not an introspection pragma"),
        ("PRAGMA journal_mode".into(), "PRAGMA journal_mode is not an introspection pragma"),
        ("CREATE TEMP TABLE t (x)".into(), "temporary objects"),
        ("CREATE TEMPORARY TABLE t AS SELECT * FROM findings".into(), "temporary objects"),
        ("CREATE TEMP VIEW v AS SELECT 1".into(), "temporary objects"),
        ("CREATE TEMP TRIGGER tr AFTER INSERT ON findings BEGIN SELECT 1; END".into(), "temporary objects"),
        ("CREATE INDEX i ON findings (reason)".into(), "CREATE statement can write"),
        ("CREATE TABLE t (x)".into(), "CREATE statement can write"),
        ("DELETE FROM findings".into(), "DELETE statement can write"),
        ("WITH old AS (SELECT id FROM scans) DELETE FROM findings WHERE scan_id IN old".into(), "WITH statement can write"),
        ("UPDATE scans SET status = 'failed'".into(), "can write"),
        ("INSERT INTO scans (started_at, status) VALUES ('x', 'running')".into(), "can write"),
        ("REPLACE INTO accounts VALUES ('1', 'x', 'ACTIVE', 1, 1)".into(), "can write"),
        ("DROP VIEW latest_findings".into(), "can write"),
        ("ALTER TABLE findings ADD COLUMN x".into(), "can write"),
        ("REINDEX".into(), "can write"),
        ("ANALYZE".into(), "can write"),
        ("/* a comment first */ DELETE FROM drift".into(), "DELETE statement can write"),
        ("BEGIN".into(), "transaction control"),
        ("BEGIN IMMEDIATE".into(), "transaction control"),
        ("SAVEPOINT s".into(), "transaction control"),
        ("COMMIT".into(), "transaction control"),
        ("SELECT 1; DELETE FROM findings".into(), "one statement at a time: more follows the first one, at character 11"),
        ("SELECT 1; SELECT 2".into(), "one statement at a time"),
        (format!("SELECT 1; ATTACH '{}' AS x", elsewhere("second.db")), "one statement at a time"),
        (format!("SELECT 1;; VACUUM INTO '{}'", elsewhere("third.db")), "one statement at a time"),
        ("SELECT 1; not sql at all".into(), "one statement at a time"),
        ("SELECT 1\0; DELETE FROM findings".into(), "NUL character"),
        ("".into(), "the query is empty"),
        ("  ;; -- nothing\n".into(), "the query is empty"),
    ];
    for (statement, expected) in &refused {
        let err = reader.query(statement).await.unwrap_err();
        assert!(matches!(err, StoreError::Refused(_)), "{statement:?}: {err:?}");
        let message = err.to_string();
        assert!(message.starts_with("the query was refused: "), "{statement:?}: {message}");
        assert!(message.contains(expected), "{statement:?}: {message}");
    }
    assert_eq!(listing(outside.path()), Vec::<String>::new(), "a refused statement created a file");
    assert_eq!(listing(path.parent().unwrap()), files_before);
    // Nothing ran: the connection still reads, and the file is as it was.
    assert_eq!(reader.query("SELECT COUNT(*) FROM findings").await.unwrap().rows, vec![vec![serde_json::json!(4)]]);
    reader.close().await;
    assert!(std::fs::read(&path).unwrap() == before, "the database file changed");
    let writer = Store::open(&path).await.unwrap();
    assert_eq!(writer.integrity_check().await.unwrap(), "ok");
    // The writer's queries go through the same gate.
    let err = writer.query("DELETE FROM findings").await.unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    assert_eq!(writer.query("SELECT COUNT(*) FROM findings").await.unwrap().rows, vec![vec![serde_json::json!(4)]]);
}

#[tokio::test]
async fn a_read_only_query_answers_selects_with_ctes_json_views_and_introspection() {
    let (_dir, path) = temp_db();
    history(&path).await;
    let reader = Store::open_read_only(&path).await.unwrap();
    let rows = |sql: &'static str| {
        let reader = reader.clone();
        async move { reader.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).rows }
    };
    use serde_json::json;
    assert_eq!(rows("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT SUM(i) FROM n").await, vec![vec![json!(6)]]);
    assert_eq!(
        rows("SELECT account_id, json_extract(value, '$.id') AS alarm FROM latest_findings, json_each(evidence, '$.links') WHERE status = 'PASS' AND json_extract(value, '$.kind') = 'alarm'").await,
        vec![vec![json!("111"), json!("arn:aws:cloudwatch:us-east-1:111:alarm:unauthorized")]]
    );
    assert_eq!(rows("SELECT account_id, reason FROM failing_longest").await, vec![vec![json!("222"), json!("NO_ALARM_ON_METRIC")]]);
    assert_eq!(rows("SELECT scan_id, pass, fail FROM posture_by_scan ORDER BY scan_id").await, vec![vec![json!(1), json!(2), json!(0)], vec![json!(2), json!(1), json!(1)]]);
    assert_eq!(rows("SELECT change, COUNT(*) FROM drift_events GROUP BY change ORDER BY change").await, vec![vec![json!("NEW"), json!(2)], vec![json!("REGRESSION"), json!(1)]]);
    assert_eq!(rows("-- posture\nSELECT COUNT(*) FROM latest_findings; -- done\n").await, vec![vec![json!(2)]]);
    assert_eq!(rows("SELECT 1;;").await, vec![vec![json!(1)]]);
    assert_eq!(rows("VALUES (7)").await, vec![vec![json!(7)]]);
    assert_eq!(rows("SELECT name FROM pragma_table_info('scans') WHERE pk = 1").await, vec![vec![json!("id")]]);
    assert!(rows("PRAGMA table_info(findings)").await.iter().any(|r| r[1] == "evidence"));
    assert_eq!(rows("PRAGMA integrity_check").await, vec![vec![json!("ok")]]);
    assert_eq!(rows("PRAGMA user_version").await, vec![vec![json!(0)]]);
    assert!(!rows("EXPLAIN QUERY PLAN SELECT * FROM latest_findings").await.is_empty());
    assert!(rows("SELECT name FROM sqlite_schema WHERE type = 'view'").await.iter().any(|r| r[0] == "mean_time_to_fix"));

    for (statement, expected) in [("SELEKT nonsense", "syntax error"), ("SELECT * FROM nowhere", "no such table: nowhere"), ("SELECT nope FROM scans", "no such column: nope")] {
        let err = reader.query(statement).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{statement}: {err:?}");
        assert!(err.to_string().starts_with("the query is not valid SQL: ") && err.to_string().contains(expected), "{statement}: {err}");
    }
}

#[tokio::test]
async fn counts_by_control_are_of_the_accounts_still_in_the_organization() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    let first = store.begin_scan(at(1)).await.unwrap();
    store.record_accounts(first, &accounts(&["111", "222"])).await.unwrap();
    store.record_findings(first, &[finding("111", Reason::Compliant), finding("222", Reason::NoAlarmOnMetric)], at(1)).await.unwrap();
    // Before any scan completes, every account seen counts.
    assert_eq!(store.latest_counts_by_control().await.unwrap(), vec![("unauthorized-api-calls".into(), "FAIL".into(), 1), ("unauthorized-api-calls".into(), "PASS".into(), 1)]);
    store.finish_scan(first, ScanStatus::Completed, None, at(1)).await.unwrap();
    // 222 left the organization: its last finding stays in latest_findings, not in the counts.
    scan(&store, 2, &[finding("111", Reason::TrailNotLogging)], ScanStatus::Completed).await;
    assert_eq!(store.latest_findings(None, None).await.unwrap().rows.len(), 2);
    assert_eq!(store.latest_counts_by_control().await.unwrap(), vec![("unauthorized-api-calls".into(), "FAIL".into(), 1)]);
    let reasons = store.query("SELECT reason FROM latest_findings WHERE account_id = '111'").await.unwrap();
    assert_eq!(reasons.rows, vec![vec![serde_json::json!("TRAIL_NOT_LOGGING")]]);
}

fn advised(account: &str, noisy: bool, suggested: Option<f64>) -> Finding {
    let mut f = finding(account, Reason::Compliant);
    f.evidence.advice = Some(Advice {
        alarm_arn: format!("arn:aws:cloudwatch:us-east-1:{account}:alarm:denied"),
        alarm_name: "denied".into(),
        times_in_alarm: Some(if noisy { 400 } else { 2 }),
        baseline: Some(orgwatch_core::finding::Baseline { periods: 2016, p50: 5.0, p99: 8.0, max: 200.0 }),
        threshold: Some(1.0),
        suggested_threshold: suggested,
        noisy,
        window_days: 7,
        ..Advice::default()
    });
    f
}

#[tokio::test]
async fn advice_is_kept_per_finding_and_read_back_through_alarm_noise() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.last_advice_scan().await.unwrap(), None);
    let first = store.begin_scan(at(1)).await.unwrap();
    store.mark_advice_scan(first, 7).await.unwrap();
    let findings = [advised("111111111111", true, Some(10.0)), advised("222222222222", false, None), finding("333333333333", Reason::NoAlarmOnMetric)];
    store.record_accounts(first, &accounts(&["111111111111", "222222222222", "333333333333"])).await.unwrap();
    store.record_findings(first, &findings, at(1)).await.unwrap();
    store.finish_scan(first, ScanStatus::Completed, None, at(1)).await.unwrap();
    // A later scan that measured nothing does not move the advice day.
    scan(&store, 2, &[finding("333333333333", Reason::NoAlarmOnMetric)], ScanStatus::Completed).await;
    assert_eq!(store.last_advice_scan().await.unwrap(), Some(at(1)));

    let noise = store.query("SELECT account_id, control_id, alarm_arn, times_in_alarm, baseline_p99, threshold, suggested_threshold, noisy FROM alarm_noise ORDER BY account_id").await.unwrap();
    assert_eq!(noise.rows.len(), 2, "{noise:?}");
    assert_eq!(noise.rows[0][3], serde_json::json!(400));
    assert_eq!(noise.rows[0][4], serde_json::json!(8.0));
    assert_eq!(noise.rows[0][6], serde_json::json!(10.0));
    assert_eq!(noise.rows[0][7], serde_json::json!(1));
    assert_eq!((noise.rows[1][6].clone(), noise.rows[1][7].clone()), (serde_json::Value::Null, serde_json::json!(0)));

    let carried = store.latest_advice("111111111111").await.unwrap();
    assert_eq!(carried.get("unauthorized-api-calls"), findings[0].evidence.advice.as_ref());
    assert!(store.latest_advice("333333333333").await.unwrap().is_empty());
    let passing = store.passing_advice(None, None).await.unwrap();
    assert_eq!(passing.iter().map(|(a, _, _)| a.as_str()).collect::<Vec<_>>(), ["111111111111", "222222222222"]);
    assert_eq!(store.passing_advice(Some("222222222222"), Some("unauthorized-api-calls")).await.unwrap().len(), 1);
    assert!(store.passing_advice(None, Some("root-account-usage")).await.unwrap().is_empty());
    // The latest completed scan audited only 333…: the metric counts its accounts only.
    assert_eq!(store.noisy_alarms_by_control().await.unwrap(), Vec::<(String, i64)>::new());
    let third = store.begin_scan(at(3)).await.unwrap();
    store.record_accounts(third, &accounts(&["111111111111", "222222222222"])).await.unwrap();
    store.finish_scan(third, ScanStatus::Completed, None, at(3)).await.unwrap();
    assert_eq!(store.noisy_alarms_by_control().await.unwrap(), vec![("unauthorized-api-calls".to_owned(), 1)]);
}

#[tokio::test]
async fn a_reader_reads_what_was_committed_while_the_writer_holds_a_transaction_and_writes_nothing() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    let first = store.begin_scan(at(1)).await.unwrap();
    store.mark_advice_scan(first, 7).await.unwrap();
    store.record_accounts(first, &accounts(&["111111111111"])).await.unwrap();
    let measured = advised("111111111111", true, Some(10.0));
    store.record_findings(first, std::slice::from_ref(&measured), at(1)).await.unwrap();
    store.finish_scan(first, ScanStatus::Completed, None, at(1)).await.unwrap();

    let reader = store.reader().await.unwrap();
    // The writer is inside a transaction that has written (the next scan's first findings) and
    // not committed: the reader neither waits for it nor sees it.
    let second = store.begin_scan(at(2)).await.unwrap();
    let mut writer = store.connection().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *writer).await.unwrap();
    sqlx::query("DELETE FROM findings WHERE scan_id = ?1").bind(first).execute(&mut *writer).await.unwrap();
    let carried = tokio::time::timeout(Duration::from_secs(5), reader.latest_advice("111111111111")).await.expect("the reader does not wait for the writer").unwrap();
    assert_eq!(carried.get("unauthorized-api-calls"), measured.evidence.advice.as_ref());
    sqlx::query("ROLLBACK").execute(&mut *writer).await.unwrap();
    drop(writer);
    store.finish_scan(second, ScanStatus::Completed, None, at(2)).await.unwrap();

    let err = reader.query("DELETE FROM findings").await.unwrap_err();
    assert!(err.to_string().contains("read-only") || err.to_string().contains("readonly"), "{err}");
    assert_eq!(store.query("SELECT COUNT(*) FROM findings").await.unwrap().rows, vec![vec![serde_json::json!(1)]]);
}

#[tokio::test]
async fn the_report_reads_the_accounts_now_and_its_version_moves_with_every_write() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).await.unwrap();
    let id = store.begin_scan(at(1)).await.unwrap();
    let records: Vec<AccountRecord> = [("111111111111", "prod_eu"), ("222222222222", "prodXeu"), ("333333333333", "100% dev")]
        .iter()
        .map(|(id, name)| AccountRecord { account_id: (*id).into(), account_name: (*name).into(), state: "ACTIVE".into() })
        .collect();
    store.record_accounts(id, &records).await.unwrap();
    let findings = [finding("111111111111", Reason::Compliant), finding("222222222222", Reason::NoAlarmOnMetric), finding("333333333333", Reason::TrailNotLogging)];
    store.record_findings(id, &findings, at(1)).await.unwrap();
    store.finish_scan(id, ScanStatus::Completed, None, at(1)).await.unwrap();

    let overview = store.report_overview(at(0)).await.unwrap();
    assert_eq!(overview.latest_scan.as_ref().map(|s| (s.id, s.accounts)), Some((id, 3)));
    assert_eq!(overview.posture.iter().map(|p| (p.pass, p.fail, p.total())).collect::<Vec<_>>(), [(1, 2, 3)]);
    assert_eq!(overview.reasons.iter().map(|r| (r.reason.as_str(), r.accounts)).collect::<Vec<_>>(), [("NO_ALARM_ON_METRIC", 1), ("TRAIL_NOT_LOGGING", 1)]);
    assert_eq!(overview.history.iter().map(|h| (h.scan_id, h.pass, h.total)).collect::<Vec<_>>(), [(id, 1, 3)]);
    assert_eq!((overview.failing_total, overview.failing.len()), (2, 2));
    assert!(store.report_overview(at(2)).await.unwrap().history.is_empty(), "no scan since");

    let rows = store.report_accounts().await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.account_id.as_str(), r.account_name.as_deref(), r.pass, r.fail)).collect::<Vec<_>>(), [("111111111111", Some("prod_eu"), 1, 0), ("222222222222", Some("prodXeu"), 0, 1), ("333333333333", Some("100% dev"), 0, 1)]);

    let all = store.report_findings(None).await.unwrap();
    assert_eq!(all.iter().map(|f| f.evidence.is_some()).collect::<Vec<_>>(), [false, true, true], "the evidence of what does not pass");
    let one = store.report_findings(Some("111111111111")).await.unwrap();
    assert!(one[0].evidence.is_some(), "every finding's evidence for one account");
    assert_eq!(store.account_name("333333333333").await.unwrap().as_deref(), Some("100% dev"));

    // The version the daemon keeps its read by: unchanged until something is written, or the
    // window leaves a scan behind.
    let version = store.report_version(at(0)).await.unwrap();
    assert_eq!(store.report_version(at(0)).await.unwrap(), version, "nothing written");
    assert_ne!(store.report_version(at(2)).await.unwrap(), version, "the window left the scan behind");
    let next = store.begin_scan(at(3)).await.unwrap();
    let running = store.report_version(at(0)).await.unwrap();
    assert_ne!(running, version, "a scan began");
    store.record_findings(next, &[finding("111111111111", Reason::NoAlarmOnMetric)], at(3)).await.unwrap();
    let written = store.report_version(at(0)).await.unwrap();
    assert_ne!(written, running, "a finding was written");
    store.finish_scan(next, ScanStatus::Completed, None, at(3)).await.unwrap();
    assert_ne!(store.report_version(at(0)).await.unwrap(), written, "the scan completed");
}
