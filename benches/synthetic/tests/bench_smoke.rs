//! CI's smoke run of the benchmark: 200 synthetic accounts scanned by the real `orgwatch`
//! binary, every finding checked against the server's expected one. It asserts verdicts, never
//! a time.

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
    // A fresh database: this scan measures advice, one GetMetricData more per compliant account.
    assert!(calls_per_compliant <= 11.0, "a compliant account costs {calls_per_compliant} calls for CIS 3.1 on average: {row}");
    let cloudwatch_per_second: u32 = row.split_whitespace().nth(11).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
    assert!(cloudwatch_per_second <= 9, "an account made {cloudwatch_per_second} CloudWatch calls within one second: {row}");
}

#[test]
fn advice_costs_at_most_one_call_per_compliant_account_on_the_scan_that_measures_it_and_none_on_the_next() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench")).args(["--accounts", "200", "--concurrency", "16", "--latency-ms", "0", "--repeat", "2"]).output().expect("bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "exit {:?}\n{stdout}\n{}", output.status.code(), String::from_utf8_lossy(&output.stderr));
    let compliant = |scan: &str| -> f64 {
        let row = stdout.lines().find(|l| l.split_whitespace().nth(2) == Some(scan)).unwrap_or_else(|| panic!("no row for scan {scan}:\n{stdout}"));
        assert!(row.trim_end().ends_with("/200") && row.split_whitespace().last().is_some_and(|v| v.starts_with("200/")), "every finding matches: {row}");
        row.split_whitespace().nth(10).and_then(|v| v.parse().ok()).unwrap_or(f64::MAX)
    };
    let (measuring, next) = (compliant("1"), compliant("2"));
    assert!(measuring - next > 0.5 && measuring - next <= 1.0 + 1e-9, "the measuring scan costs {measuring} calls a compliant account, the next {next}:\n{stdout}");
    assert!(next <= 10.0, "{stdout}");
}
