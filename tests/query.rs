//! `orgwatch query` end to end: the binary refuses, with exit code 2 and a message, every
//! statement SQLite does not report read-only, before it runs; no file is created and the
//! database file is left as it was. No emulator: the history is written with the store crate.

use orgwatch_core::{Evidence, Finding, Reason};
use orgwatch_store::{AccountRecord, ScanStatus, Store};
use orgwatch_tests::{describe, orgwatch_binary};
use std::path::Path;
use std::process::{Command, Output};

fn query(config: &Path, sql: &str) -> Output {
    Command::new(orgwatch_binary()).args(["query", "--config", config.to_str().unwrap(), "--format", "csv", sql]).env("RUST_LOG", "off").output().unwrap()
}

#[tokio::test]
async fn orgwatch_query_refuses_every_statement_that_could_write_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orgwatch.db");
    let store = Store::open(&db).await.unwrap();
    let scan = store.begin_scan(chrono::Utc::now()).await.unwrap();
    store.record_accounts(scan, &[AccountRecord { account_id: "111111111111".into(), account_name: "one".into(), state: "ACTIVE".into() }]).await.unwrap();
    let finding = Finding {
        account_id: "111111111111".into(),
        control_id: "unauthorized-api-calls".into(),
        status: Reason::NoAlarmOnMetric.status(),
        reason: Reason::NoAlarmOnMetric,
        message: "no alarm".into(),
        evidence: Evidence::default(),
    };
    store.record_findings(scan, &[finding], chrono::Utc::now()).await.unwrap();
    store.finish_scan(scan, ScanStatus::Completed, None, chrono::Utc::now()).await.unwrap();
    store.close().await;
    let config = dir.path().join("orgwatch.toml");
    std::fs::write(&config, format!("[aws]\nregion = \"us-east-1\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n[store]\npath = \"{}\"\n", db.display())).unwrap();

    let output = query(&config, "SELECT account_id, reason FROM latest_findings");
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "account_id,reason\n111111111111,NO_ALARM_ON_METRIC\n");
    let before = std::fs::read(&db).unwrap();
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let files_before = listing();

    let outside = tempfile::tempdir().unwrap();
    let target = |name: &str| outside.path().join(name).display().to_string();
    for (sql, expected) in [
        (format!("VACUUM INTO '{}'", target("copy.db")), "SQLite reports that this VACUUM statement can write"),
        (format!("ATTACH DATABASE '{}' AS other", target("attached.db")), "ATTACH opens another database file"),
        ("DETACH DATABASE main".to_owned(), "DETACH"),
        ("PRAGMA query_only = OFF".to_owned(), "PRAGMA query_only with a value (OFF) changes the connection or the file"),
        ("CREATE TEMP TABLE scratch AS SELECT * FROM findings".to_owned(), "temporary objects"),
        ("DELETE FROM findings".to_owned(), "read-only"),
        (format!("SELECT 1; VACUUM INTO '{}'", target("second.db")), "one statement at a time"),
    ] {
        let output = query(&config, &sql);
        assert_eq!(output.status.code(), Some(2), "{sql}: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: the query was refused: ") && stderr.contains(expected), "{sql}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{sql}: the cause is printed once: {stderr}");
        assert!(output.stdout.is_empty(), "{sql}: {}", describe(&output));
    }
    let output = query(&config, "SELEKT 1");
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: the query is not valid SQL: near \"SELEKT\": syntax error"), "{}", describe(&output));

    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none(), "a refused statement created a file");
    assert_eq!(listing(), files_before);
    assert!(std::fs::read(&db).unwrap() == before, "the database file changed");
    let output = query(&config, "SELECT COUNT(*) AS n FROM findings");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "n\n1\n", "{}", describe(&output));
}

/// Findings of one account with an organization trail in another account, and a note.
fn judged(account: &str, reason: Reason) -> Finding {
    use orgwatch_core::{EvidenceLink, LinkKind};
    let evidence = Evidence {
        links: vec![
            EvidenceLink::with_detail(LinkKind::Trail, "arn:aws:cloudtrail:us-east-1:111111111111:trail/org", "multi-region organization trail").in_account("111111111111"),
            EvidenceLink::new(LinkKind::Alarm, format!("arn:aws:cloudwatch:us-east-1:{account}:alarm:unauthorized")).in_account(account),
            EvidenceLink::new(LinkKind::Topic, "arn:aws:sns:us-east-1:333333333333:security").in_account("333333333333"),
        ],
        chains_examined: 1,
        notes: vec!["metric filter \"cis\" is over-broad".into()],
        // A passing chain carries what was measured of its alarm: here, a noisy one.
        advice: (reason == Reason::Compliant).then(|| orgwatch_core::finding::Advice {
            alarm_arn: format!("arn:aws:cloudwatch:us-east-1:{account}:alarm:unauthorized"),
            alarm_name: "unauthorized".into(),
            times_in_alarm: Some(412),
            threshold: Some(1.0),
            baseline: Some(orgwatch_core::finding::Baseline { periods: 2016, p50: 6.0, p99: 8.0, max: 200.0 }),
            noisy: true,
            suggested_threshold: Some(10.0),
            window_days: 7,
            ..Default::default()
        }),
        ..Evidence::default()
    };
    Finding { account_id: account.into(), control_id: "unauthorized-api-calls".into(), status: reason.status(), reason, message: format!("{reason}"), evidence }
}

#[tokio::test]
async fn every_worked_query_of_the_sql_reference_runs_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orgwatch.db");
    let store = Store::open(&db).await.unwrap();
    let now = chrono::Utc::now();
    // 222 flaps and fails now; 444 is waived, then cannot be seen, then leaves; 555 joins, waived.
    let history: [(i64, &[(&str, Reason)]); 4] = [
        (72, &[("111111111111", Reason::Compliant), ("222222222222", Reason::Compliant), ("444444444444", Reason::Waived)]),
        (48, &[("111111111111", Reason::Compliant), ("222222222222", Reason::NoAlarmOnMetric), ("444444444444", Reason::Waived)]),
        (24, &[("111111111111", Reason::Compliant), ("222222222222", Reason::Compliant), ("444444444444", Reason::AccessDenied)]),
        (1, &[("111111111111", Reason::Compliant), ("222222222222", Reason::NoAlarmOnMetric), ("555555555555", Reason::Waived)]),
    ];
    for (hours, accounts) in history {
        let at = now - chrono::Duration::hours(hours);
        let scan = store.begin_scan(at).await.unwrap();
        let records: Vec<AccountRecord> = accounts.iter().map(|(id, _)| AccountRecord { account_id: (*id).into(), account_name: format!("name-{id}"), state: "ACTIVE".into() }).collect();
        store.record_accounts(scan, &records).await.unwrap();
        let findings: Vec<Finding> = accounts.iter().map(|(id, reason)| judged(id, *reason)).collect();
        store.record_findings(scan, &findings, at).await.unwrap();
        store.finish_scan(scan, ScanStatus::Completed, None, at + chrono::Duration::minutes(5)).await.unwrap();
    }
    store.begin_scan(now).await.unwrap();
    store.mark_abandoned(now).await.unwrap();
    store.close().await;

    let reference = std::fs::read_to_string(orgwatch_tests::repo_root().join("docs/SQL.md")).unwrap();
    let reader = Store::open_read_only(&db).await.unwrap();
    let mut statements = 0;
    let mut answered = 0;
    for block in reference.split("```sql\n").skip(1) {
        let block = block.split("```").next().unwrap();
        for statement in block.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            let table = reader.query(statement).await.unwrap_or_else(|e| panic!("docs/SQL.md: {statement}\n{e}"));
            statements += 1;
            if table.rows.is_empty() {
                eprintln!("no rows: {statement}");
            }
            answered += usize::from(!table.rows.is_empty());
        }
    }
    assert!(statements >= 20, "only {statements} statements in docs/SQL.md");
    assert_eq!(answered, statements, "every worked query answers rows on a history that has them");
    // The evidence example is evidence as orgwatch writes it.
    let example = reference.split("```json\n").nth(1).and_then(|b| b.split("```").next()).unwrap();
    let evidence: Evidence = serde_json::from_str(example).unwrap();
    assert_eq!(evidence.links.len(), 2);
}
