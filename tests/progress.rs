//! `orgwatch scan` with standard error not a terminal (a container's log, a file, a pipe): what
//! it writes there is log lines, with no progress bar in them (no carriage return, no escape
//! sequence), and its progress comes as "Scan progress" lines.

use orgwatch_tests::{Emulator, describe};
use serde_json::{Value, json};

const MEMBERS: usize = 20;

/// Added to each account's AssumeRole in the slow scan: judged one at a time, the accounts take
/// at least 21 × 0.4 = 8.4 s, past the first progress line at 5 s.
const ASSUME_ROLE_MS: u64 = 400;

#[test]
fn a_scan_off_a_terminal_writes_whole_log_lines_and_no_bar() {
    let emulator = Emulator::start();
    let accounts: Vec<Value> = (0..MEMBERS).map(|i| json!({"name": format!("member-{i}"), "setup": if i % 4 == 0 { "no-trail" } else { "compliant" }})).collect();
    emulator.build(json!({"region": "us-east-1", "management": {"setup": "compliant"}, "accounts": accounts}));
    let audited = MEMBERS as u64 + 1;
    // Text lines from a quick scan; JSON lines from a slow one, which reports its progress.
    for (format, concurrency) in [("text", 8), ("json", 1)] {
        if format == "json" {
            emulator.set_faults(json!([{"service": "sts", "operation": "AssumeRole", "fault": "none", "latency_ms": ASSUME_ROLE_MS}]));
        }
        let dir = tempfile::tempdir().unwrap();
        let config = emulator.write_config(dir.path(), &format!("concurrency = {concurrency}"), "");
        let output = emulator.orgwatch().env("RUST_LOG", "info").args(["scan", "--config", config.to_str().unwrap(), "--log-format", format]).output().expect("orgwatch runs");
        assert!(output.status.success(), "{format}: {}", describe(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(&format!("{audited} of {audited} accounts judged")), "{format}: {stdout}");
        let stderr = String::from_utf8(output.stderr.clone()).expect("UTF-8 logs");
        assert!(!stderr.contains('\r'), "{format}: a carriage return: {stderr:?}");
        assert!(!stderr.contains('\x1b'), "{format}: an escape sequence: {stderr:?}");
        assert!(stderr.lines().any(|l| l.contains("Scan started")) && stderr.lines().any(|l| l.contains("Scan finished")), "{format}: {stderr}");
        if format == "text" {
            continue;
        }
        let lines: Vec<Value> = stderr.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"))).collect();
        let progress: Vec<&Value> = lines.iter().filter(|l| l["message"] == "Scan progress").collect();
        // One line each five seconds of judging: as many as the whole periods the scan lasted,
        // but the last may fall while the last findings are written.
        let finished = lines.iter().find(|l| l["message"] == "Scan finished").unwrap_or_else(|| panic!("{stderr}"));
        let seconds = finished["seconds"].as_f64().unwrap_or_default();
        assert!(seconds >= (audited * ASSUME_ROLE_MS) as f64 / 1000.0, "{seconds} s");
        let periods = (seconds / 5.0).floor() as usize;
        assert!(!progress.is_empty() && (progress.len() == periods || progress.len() + 1 == periods), "{} lines in {seconds} s: {stderr}", progress.len());
        let mut judged_before = 0;
        for line in progress {
            let judged = line["judged"].as_u64().unwrap_or(u64::MAX);
            assert_eq!(line["listed"].as_u64(), Some(audited), "{line}");
            assert_eq!(line["left"].as_u64(), audited.checked_sub(judged), "{line}");
            assert!(judged >= judged_before && judged < audited, "{line}");
            judged_before = judged;
            assert!(line["rate"].is_f64() && line["listing_done"] == true && line["span"]["scan_id"] == 1, "{line}");
        }
    }
}
