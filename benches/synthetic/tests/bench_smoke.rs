//! CI's smoke run of the benchmark: 200 synthetic accounts scanned by the real `orgwatch`
//! binary, every finding checked against the server's expected one, without advice and with it
//! (`--advice`: a scan that gathers it and the next, which carries it). It asserts verdicts and
//! call counts, never a time.

use std::process::Command;

#[test]
fn the_benchmark_scans_200_accounts_and_every_finding_is_the_expected_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench")).args(["--accounts", "200", "--concurrency", "16", "--latency-ms", "0"]).output().expect("bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\n{stdout}\n{stderr}", output.status.code());
    let row = stdout.lines().find(|l| l.trim_start().starts_with("200 ")).unwrap_or_else(|| panic!("no figures row:\n{stdout}"));
    assert!(row.trim_end().ends_with("200/200"), "every finding matches: {row}");
    let calls_per_compliant: f64 = row.split_whitespace().nth(8).and_then(|v| v.parse().ok()).unwrap_or(f64::MAX);
    // Without `--advice` the scan reads no advice (`[advice] enabled = false`).
    assert!(calls_per_compliant <= 10.0, "a compliant account costs {calls_per_compliant} calls for CIS 3.1 on average: {row}");
    let cloudwatch_per_second: u32 = row.split_whitespace().nth(11).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
    assert!(cloudwatch_per_second <= 9, "an account made {cloudwatch_per_second} CloudWatch calls within one second: {row}");
}

#[test]
fn repeated_scans_with_advice_cost_at_most_one_call_per_compliant_account_on_the_first_and_none_on_the_next() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench")).args(["--accounts", "200", "--concurrency", "16", "--latency-ms", "0", "--repeat", "2", "--advice"]).output().expect("bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "exit {:?}\n{stdout}\n{}", output.status.code(), String::from_utf8_lossy(&output.stderr));
    let compliant = |scan: &str| -> f64 {
        let row = stdout.lines().find(|l| l.split_whitespace().nth(2) == Some(scan)).unwrap_or_else(|| panic!("no row for scan {scan}:\n{stdout}"));
        assert!(row.trim_end().ends_with("/200") && row.split_whitespace().last().is_some_and(|v| v.starts_with("200/")), "every finding matches: {row}");
        row.split_whitespace().nth(10).and_then(|v| v.parse().ok()).unwrap_or(f64::MAX)
    };
    let (measuring, next) = (compliant("1"), compliant("2"));
    // One GetMetricData per compliant account, and the state-change pages of the 1% whose
    // alarm history is too long for the account-wide page to reach back a week (3 calls more):
    // +1.04 on average, printed to one decimal.
    assert!(measuring - next > 0.9 && measuring - next <= 1.1 + 1e-9, "the measuring scan costs {measuring} calls a compliant account, the next {next}:\n{stdout}");
    assert!(next <= 10.0, "{stdout}");
}

#[test]
fn with_advice_the_advice_scan_adds_one_get_metric_data_per_compliant_account_and_the_next_scan_none() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench")).args(["--accounts", "200", "--concurrency", "16", "--latency-ms", "0", "--advice"]).output().expect("bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\n{stdout}\n{stderr}", output.status.code());
    let fields = |first: &str| -> Vec<&str> {
        stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).find(|f| f.first() == Some(&first)).unwrap_or_else(|| panic!("no {first} row:\n{stdout}"))
    };
    let number = |row: &[&str], n: usize| -> f64 { row.get(n).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN) };
    // scan wall_s scan_s bound_s ratio waves calls/acct compliant rss_MiB write_s cw_max_1s advised verdicts
    let (off, advice, next) = (fields("off"), fields("advice"), fields("next"));
    for row in [&off, &advice, &next] {
        assert_eq!(row.get(12).copied(), Some("200/200"), "every finding matches: {row:?}");
        assert!(number(row, 10) <= 9.0, "an account made more than 9 CloudWatch calls within one second: {row:?}");
    }
    assert_eq!(number(&off, 11), 0.0, "no advice without it: {off:?}");
    assert!(number(&advice, 11) > 100.0, "the passing findings hold advice: {advice:?}");
    assert_eq!(number(&next, 11), number(&advice, 11), "the next scan carries every one");
    assert_eq!(number(&next, 7), number(&off, 7), "the next scan reads what a scan without advice reads: {next:?} {off:?}");
    // operation off advice next
    assert_eq!(fields("cloudwatch:GetMetricData")[1..], ["-", "1.00", "-"], "one call per compliant account, on the advice scan only");
    let history = fields("cloudwatch:DescribeAlarmHistory");
    assert_eq!(history[1], history[3], "{history:?}");
    assert!(number(&history, 2) >= number(&history, 1), "{history:?}");
}
