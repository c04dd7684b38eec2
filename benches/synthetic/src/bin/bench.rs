//! `bench`: scans synthetic organizations with the real `orgwatch` binary and prints figures.
//!
//!     bench [--accounts 1000,10000] [--concurrency 16,64,256] [--latency-ms 50] [--family]
//!           [--orgwatch PATH] [--throttle-every N]
//!
//! For each (accounts, concurrency) it starts the synthetic server (in this process, on
//! 127.0.0.1), runs `orgwatch scan` as a child process against it, and prints: wall time; the
//! critical-path bound `(2 + accounts × 5 / concurrency) × latency` and the ratio of wall time to
//! it; API calls per account (all accounts, and one compliant account); orgwatch's peak RSS;
//! the time orgwatch spent writing SQLite; and how many findings matched the server's expected
//! ones. Exit status 1 when any finding differs: the figures of a wrong scan mean nothing.

use clap::Parser;
use orgwatch_synthetic::{Kind, OrgSpec, Organization, Server, ServerSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Scans synthetic organizations with orgwatch and prints the figures")]
struct Args {
    /// Organization sizes (the management account included), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    accounts: Vec<usize>,
    /// Accounts in flight, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    concurrency: Vec<usize>,
    /// Latency the server adds to every call.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Deploy and judge the whole CIS monitoring family rather than CIS 3.1 alone.
    #[arg(long)]
    family: bool,
    /// Throttle every Nth call (the SDK's retries absorb it).
    #[arg(long)]
    throttle_every: Option<u32>,
    /// The orgwatch binary (default: the one built next to this one).
    #[arg(long)]
    orgwatch: Option<PathBuf>,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// One scan's figures.
struct Figures {
    wall: Duration,
    calls: u64,
    compliant_calls: u64,
    peak_rss_kib: i64,
    write_seconds: f64,
    matched: usize,
    expected: usize,
    mismatches: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let orgwatch = args.orgwatch.clone().unwrap_or_else(|| std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("orgwatch"))).unwrap_or_default());
    if !orgwatch.exists() {
        eprintln!("error: no orgwatch binary at {} (build it, or pass --orgwatch)", orgwatch.display());
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let latency = Duration::from_millis(args.latency_ms);
    println!("latency {} ms, {}", args.latency_ms, if args.family { "whole CIS family (15 controls)" } else { "CIS 3.1 only" });
    println!("{:>8} {:>6} {:>9} {:>9} {:>6} {:>10} {:>10} {:>8} {:>8} {:>12}", "accounts", "conc", "wall_s", "bound_s", "ratio", "calls/acct", "compliant", "rss_MiB", "write_s", "verdicts");
    let mut all_matched = true;
    for &accounts in &args.accounts {
        let org = Organization::generate(&OrgSpec { accounts, family: args.family, seed: args.seed });
        for &concurrency in &args.concurrency {
            let settings = ServerSettings { latency, throttle_every: args.throttle_every };
            let figures = match runtime.block_on(run(&orgwatch, org.clone(), settings, concurrency)) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let bound = (2.0 + accounts as f64 * 5.0 / concurrency as f64) * latency.as_secs_f64();
            let ratio = if bound > 0.0 { format!("{:.2}", figures.wall.as_secs_f64() / bound) } else { "-".into() };
            println!(
                "{:>8} {:>6} {:>9.2} {:>9.2} {:>6} {:>10.1} {:>10} {:>8.1} {:>8.2} {:>12}",
                accounts,
                concurrency,
                figures.wall.as_secs_f64(),
                bound,
                ratio,
                figures.calls as f64 / accounts as f64,
                figures.compliant_calls,
                figures.peak_rss_kib as f64 / 1024.0,
                figures.write_seconds,
                format!("{}/{}", figures.matched, figures.expected),
            );
            if !figures.mismatches.is_empty() {
                all_matched = false;
                for m in figures.mismatches.iter().take(10) {
                    eprintln!("mismatch: {m}");
                }
            }
        }
    }
    if all_matched { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

async fn run(orgwatch: &Path, org: Organization, settings: ServerSettings, concurrency: usize) -> Result<Figures, String> {
    let compliant = org.account_ids().into_iter().find(|id| org.kind(id) == Some(Kind::Compliant));
    let controls = org.controls();
    let server = Server::start(org, settings).await.map_err(|e| format!("the synthetic server did not start: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let db = dir.path().join("orgwatch.db");
    let config = dir.path().join("orgwatch.toml");
    let list = controls.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        &config,
        format!(
            "[aws]\nregion = \"us-east-1\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n[scan]\nconcurrency = {concurrency}\ncontrols = [{list}]\n[store]\npath = \"{}\"\n",
            db.display()
        ),
    )
    .map_err(|e| format!("cannot write the configuration: {e}"))?;

    let started = Instant::now();
    let child = std::process::Command::new(orgwatch)
        .args(["scan", "--log-format", "json", "--config"])
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", "AKIASYNTHETICBENCH00")
        .env("AWS_SECRET_ACCESS_KEY", "synthetic")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", orgwatch.display()))?;
    let pid = child.id();
    let (log, status, peak_rss_kib) = tokio::task::spawn_blocking(move || wait_with_rusage(child, pid)).await.map_err(|e| format!("waiting for orgwatch: {e}"))??;
    let wall = started.elapsed();
    if !status {
        return Err(format!("orgwatch scan failed:\n{}", log.lines().rev().take(5).collect::<Vec<_>>().join("\n")));
    }
    let write_seconds = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "Scan finished")
        .and_then(|v| v["write_seconds"].as_f64())
        .unwrap_or(f64::NAN);

    let calls = server.total_calls();
    let compliant_calls = compliant.as_ref().and_then(|id| server.calls_by_account().get(id).copied()).unwrap_or(0);
    let org = server.organization().clone();
    server.shutdown().await;

    let store = orgwatch_store::Store::open_read_only(&db).await.map_err(|e| orgwatch_core::error_chain(&e))?;
    let table = store.latest_findings(None, None).await.map_err(|e| orgwatch_core::error_chain(&e))?;
    store.close().await;
    let column = |name: &str| table.columns.iter().position(|c| c == name);
    let (Some(a), Some(c), Some(s), Some(r)) = (column("account_id"), column("control_id"), column("status"), column("reason")) else {
        return Err("latest_findings lacks a column".into());
    };
    let mut found: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for row in &table.rows {
        let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
        found.insert((text(a), text(c)), (text(s), text(r)));
    }
    let mut mismatches = Vec::new();
    let mut expected = 0;
    for account in org.account_ids() {
        for control in &controls {
            let Some((status, reason)) = org.expected(&account, control) else { continue };
            expected += 1;
            match found.get(&(account.clone(), (*control).to_owned())) {
                Some((s, r)) if s == status && r == reason => {}
                other => mismatches.push(format!("{account} {control}: expected {status} {reason}, found {other:?}")),
            }
        }
    }
    Ok(Figures { wall, calls, compliant_calls, peak_rss_kib, write_seconds, matched: expected - mismatches.len(), expected, mismatches })
}

/// Waits for the child, reading its log, and returns (log, success, peak RSS in KiB).
fn wait_with_rusage(mut child: std::process::Child, pid: u32) -> Result<(String, bool, i64), String> {
    use std::io::Read;
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut log);
    }
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if waited != pid as libc::pid_t {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((log, success, usage.ru_maxrss))
}
