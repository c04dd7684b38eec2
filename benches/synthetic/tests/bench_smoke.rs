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
    assert!(calls_per_compliant <= 10.0, "a compliant account costs {calls_per_compliant} calls for CIS 3.1 on average: {row}");
    let cloudwatch_per_second: u32 = row.split_whitespace().nth(11).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
    assert!(cloudwatch_per_second <= 9, "an account made {cloudwatch_per_second} CloudWatch calls within one second: {row}");
}
