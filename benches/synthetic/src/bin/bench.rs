//! `bench`: scans synthetic organizations with the real `orgwatch` binary and prints figures.
//!
//!     bench [--accounts 1000,10000] [--concurrency 16,64,256] [--latency-ms 50] [--family]
//!           [--orgwatch PATH] [--throttle-every N] [--repeat N] [--advice] [--keep DIR]
//!
//! For each (accounts, concurrency) it starts the synthetic server (in this process, on
//! 127.0.0.1), runs `orgwatch scan` as a child process against it, and prints: wall time; the
//! critical-path bound and the ratio of wall time to it; the ratio to the earlier five-wave bound
//! `(2 + accounts × 5 / concurrency) × latency`, for comparison with figures measured against
//! it; the mean dependent waves per account; API calls per account (all accounts, and the mean
//! of the accounts compliant with a chain and topic of their own); orgwatch's peak RSS; the time
//! orgwatch spent writing SQLite; `cw_max_1s`, the most CloudWatch calls (every `monitoring`
//! operation) any one account made within any one second, counted at the server as they
//! arrive; and how many findings matched the server's expected ones. Exit status 1 when any
//! finding differs, or when an account made more than [`CLOUDWATCH_QUOTA`] CloudWatch calls
//! within a second (CloudWatch's quota per account and region, which orgwatch paces its calls
//! to): the figures of a wrong scan mean nothing, and AWS would have throttled that one.
//!
//! # The critical-path bound
//!
//! Each account needs `w(a)` dependent rounds of calls, each waiting one latency `L`
//! ([`Kind::dependent_waves`], from how the account was generated: 5 for a compliant chain, 6
//! or 7 with a customer-managed key, 7 with three pages of alarms, 1 for a refused role, fewer
//! for a chain broken early, a read shared by many accounts counted once; the same for one
//! control or the whole family, whose controls share every read). With `c` accounts in flight
//! and ListAccounts
//! answering 20 accounts a page, one page after the other (DescribeOrganization beside the
//! first), no scan can be faster than
//!
//! ```text
//! bound = max(1 + Σ w(a) / c,  max over a of (page(a) + w(a))) × L
//! ```
//!
//! the first term the rounds of all accounts `c` at a time after the first page, the second
//! the last page's accounts, which cannot start before their page is read.
//!
//! With `--repeat N`, each (accounts, concurrency) is scanned N times into one database, as the
//! daemon does on its schedule, with the organization drifting between scans
//! ([`Organization::at_epoch`]: ~1% of the compliant accounts regress and as many recover each
//! scan). It prints the figures of scans 1, 2, 10, 25, 50, 75 and N (each scan's findings are
//! checked), the drift events each recorded, the database's size, and the ratio of the last
//! scan's own duration to the first's.
//!
//! # Advice
//!
//! Each scan's configuration says what it does with advice (`[advice]`, [`AdviceScan`]): without
//! `--advice`, `enabled = false`, so that the figures compare with those measured before advice
//! existed. With `--advice`, each (accounts, concurrency) is scanned three times: with
//! `enabled = false` into a fresh database (`off`), then twice into another fresh database with
//! `enabled = true`, `every = "1d"` and `window_days` = [`ADVICE_WINDOW_DAYS`]: the first gathers
//! advice (a fresh database has none, so it is due: `advice`), the second, right after, does not
//! and carries it (`next`). Each row is checked against the verdicts of its kind of scan, the
//! scan's own record of whether it gathered (`scans.advice_window_days`) against what it should
//! have done, and `advised` counts the latest findings that hold advice. After the three rows it
//! prints the calls per compliant account by operation (the accounts of
//! [`Kind::is_compliant_on_its_own`], as `compliant`), their difference against `off`, and the
//! mean calls per account of each kind. With `--repeat`, `--advice` turns advice on for every
//! scan: the first gathers, the others carry.

use clap::Parser;
use orgwatch_synthetic::{ADVICE_WINDOW_DAYS, AdviceScan, Kind, OrgSpec, Organization, Server, ServerSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

/// CloudWatch's quota of calls per account and region in one second; a scan above it fails.
const CLOUDWATCH_QUOTA: u32 = 9;

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
    /// Scan each organization this many times into one database, with drift between scans.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Measure advice: a scan with `[advice] enabled = false`, then, into another database, a
    /// scan that gathers advice and the next one, which carries it.
    #[arg(long)]
    advice: bool,
    /// Keep each scan's database as DIR/orgwatch-<accounts>-<concurrency>.db (of a single scan
    /// per organization: without --repeat or --advice), e.g. for `orgwatch report`.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// One scan's figures.
struct Figures {
    wall: Duration,
    /// The scan's own duration, as orgwatch logs it (without process start-up).
    scan_seconds: f64,
    /// Drift events the scan recorded.
    drift_events: i64,
    calls: u64,
    /// The mean calls of the accounts compliant with a chain and topic of their own.
    compliant_calls: f64,
    /// Their mean calls by operation.
    compliant_by_operation: BTreeMap<String, f64>,
    /// By kind of account: (accounts, mean calls).
    by_kind: BTreeMap<String, (usize, f64)>,
    /// `scans.advice_window_days` of the scan: the window it measured advice over, if it did.
    advice_window_days: Option<i64>,
    /// The latest findings that hold advice (measured or carried).
    advised: i64,
    peak_rss_kib: i64,
    write_seconds: f64,
    /// The most CloudWatch calls one account made within one second, and that account.
    cloudwatch_peak: Option<(String, u32)>,
    matched: usize,
    expected: usize,
    mismatches: Vec<String>,
}

impl Figures {
    fn cw_max_1s(&self) -> u32 {
        self.cloudwatch_peak.as_ref().map_or(0, |(_, n)| *n)
    }
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
    if args.repeat > 1 {
        return repeated(&args, &orgwatch, &runtime);
    }
    if args.advice {
        return advice(&args, &orgwatch, &runtime);
    }
    println!(
        "{:>8} {:>6} {:>9} {:>9} {:>6} {:>8} {:>6} {:>10} {:>10} {:>8} {:>8} {:>9} {:>12}",
        "accounts", "conc", "wall_s", "bound_s", "ratio", "ratio_5w", "waves", "calls/acct", "compliant", "rss_MiB", "write_s", "cw_max_1s", "verdicts"
    );
    let mut all_matched = true;
    for &accounts in &args.accounts {
        let org = Organization::generate(&OrgSpec { accounts, family: args.family, seed: args.seed });
        for &concurrency in &args.concurrency {
            let settings = ServerSettings { latency, throttle_every: args.throttle_every };
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("error: no temporary directory: {e}");
                    return ExitCode::from(1);
                }
            };
            let figures = match runtime.block_on(run(&orgwatch, org.clone(), settings, concurrency, dir.path(), AdviceScan::Off)) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let bound = critical_path_bound(&org, concurrency, latency, AdviceScan::Off);
            let ratio = |bound: f64| if bound > 0.0 { format!("{:.2}", figures.wall.as_secs_f64() / bound) } else { "-".into() };
            println!(
                "{:>8} {:>6} {:>9.2} {:>9.2} {:>6} {:>8} {:>6.2} {:>10.1} {:>10.1} {:>8.1} {:>8.2} {:>9} {:>12}",
                accounts,
                concurrency,
                figures.wall.as_secs_f64(),
                bound,
                ratio(bound),
                ratio(five_wave_bound(accounts, concurrency, latency)),
                total_waves(&org, AdviceScan::Off) as f64 / org.len() as f64,
                figures.calls as f64 / accounts as f64,
                figures.compliant_calls,
                figures.peak_rss_kib as f64 / 1024.0,
                figures.write_seconds,
                figures.cw_max_1s(),
                format!("{}/{}", figures.matched, figures.expected),
            );
            all_matched &= report_mismatches(&figures);
            if let Some(keep) = &args.keep {
                let kept = keep.join(format!("orgwatch-{accounts}-{concurrency}.db"));
                if let Err(e) = std::fs::create_dir_all(keep).and_then(|()| std::fs::copy(dir.path().join("orgwatch.db"), &kept)) {
                    eprintln!("error: the database could not be kept as {}: {e}", kept.display());
                    return ExitCode::from(1);
                }
            }
        }
    }
    if all_matched { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Accounts a ListAccounts page holds.
const PAGE: usize = 20;

/// The critical-path bound in seconds (see the crate documentation): every account's dependent
/// waves, `concurrency` accounts at a time after the first page, or the last page's accounts
/// after the listing, whichever is longer.
fn critical_path_bound(org: &Organization, concurrency: usize, latency: Duration, scan: AdviceScan) -> f64 {
    let controls = org.controls().len();
    let waves: Vec<u32> = org.account_ids().iter().map(|id| org.kind(id).map_or(0, |k| k.dependent_waves(controls, scan))).collect();
    let throughput = 1.0 + waves.iter().map(|&w| f64::from(w)).sum::<f64>() / concurrency.max(1) as f64;
    // Accounts are listed in ascending order, as `account_ids` gives them.
    let listing = waves.iter().enumerate().map(|(i, &w)| (i / PAGE + 1) as f64 + f64::from(w)).fold(0.0, f64::max);
    throughput.max(listing) * latency.as_secs_f64()
}

/// Every account's dependent waves, summed.
fn total_waves(org: &Organization, scan: AdviceScan) -> u64 {
    let controls = org.controls().len();
    org.account_ids().iter().map(|id| u64::from(org.kind(id).map_or(0, |k| k.dependent_waves(controls, scan)))).sum()
}

/// The bound figures before this one were measured against: the listing and its first page (2
/// latencies), then five dependent waves for every account, `concurrency` accounts at a time.
fn five_wave_bound(accounts: usize, concurrency: usize, latency: Duration) -> f64 {
    (2.0 + accounts as f64 * 5.0 / concurrency as f64) * latency.as_secs_f64()
}

/// Prints the first mismatches, by kind of account and verdict, and a CloudWatch quota
/// exceeded; true when there were neither.
fn report_mismatches(figures: &Figures) -> bool {
    if !figures.mismatches.is_empty() {
        // How many of each (kind, expected, found), then the first ten in full.
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &figures.mismatches {
            *tally.entry(m.split(" | ").next().unwrap_or_default()).or_insert(0) += 1;
        }
        for (what, n) in &tally {
            eprintln!("mismatches: {n} × {what}");
        }
        for m in figures.mismatches.iter().take(10) {
            eprintln!("mismatch: {m}");
        }
    }
    let within_quota = figures.cw_max_1s() <= CLOUDWATCH_QUOTA;
    if let Some((account, n)) = figures.cloudwatch_peak.as_ref().filter(|_| !within_quota) {
        eprintln!("cloudwatch: account {account} made {n} CloudWatch calls within one second (quota {CLOUDWATCH_QUOTA})");
    }
    figures.mismatches.is_empty() && within_quota
}

/// `--repeat`: scans each organization `repeat` times into one database, drifting between
/// scans, and prints the figures of a few of them.
fn repeated(args: &Args, orgwatch: &Path, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let latency = Duration::from_millis(args.latency_ms);
    println!(
        "{:>8} {:>6} {:>6} {:>9} {:>9} {:>8} {:>8} {:>7} {:>8} {:>9} {:>9} {:>12}",
        "accounts", "conc", "scan", "wall_s", "scan_s", "write_s", "rss_MiB", "drift", "db_MiB", "cw_max_1s", "compliant", "verdicts"
    );
    let mut all_matched = true;
    for &accounts in &args.accounts {
        let org = Organization::generate(&OrgSpec { accounts, family: args.family, seed: args.seed });
        for &concurrency in &args.concurrency {
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("error: no temporary directory: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut first: Option<f64> = None;
            for scan in 1..=args.repeat {
                let settings = ServerSettings { latency, throttle_every: args.throttle_every };
                let advice = match (args.advice, scan) {
                    (false, _) => AdviceScan::Off,
                    (true, 1) => AdviceScan::Gathers,
                    (true, _) => AdviceScan::Carries,
                };
                let figures = match runtime.block_on(run(orgwatch, org.at_epoch(scan as u64 - 1), settings, concurrency, dir.path(), advice)) {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("error: scan {scan}: {e}");
                        return ExitCode::from(1);
                    }
                };
                all_matched &= report_mismatches(&figures);
                let first_seconds = *first.get_or_insert(figures.scan_seconds);
                if [1, 2, 10, 25, 50, 75, args.repeat].contains(&scan) {
                    let db_bytes = std::fs::metadata(dir.path().join("orgwatch.db")).map(|m| m.len()).unwrap_or(0)
                        + std::fs::metadata(dir.path().join("orgwatch.db-wal")).map(|m| m.len()).unwrap_or(0);
                    println!(
                        "{:>8} {:>6} {:>6} {:>9.2} {:>9.2} {:>8.2} {:>8.1} {:>7} {:>8.1} {:>9} {:>9.1} {:>12}",
                        accounts,
                        concurrency,
                        scan,
                        figures.wall.as_secs_f64(),
                        figures.scan_seconds,
                        figures.write_seconds,
                        figures.peak_rss_kib as f64 / 1024.0,
                        figures.drift_events,
                        db_bytes as f64 / (1024.0 * 1024.0),
                        figures.cw_max_1s(),
                        figures.compliant_calls,
                        format!("{}/{}", figures.matched, figures.expected),
                    );
                }
                if scan == args.repeat {
                    println!("scan {scan} took {:.2} × the first scan's time", figures.scan_seconds / first_seconds);
                }
            }
        }
    }
    if all_matched { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// `--advice`: per (accounts, concurrency), a scan without advice, then a scan that gathers it
/// and the next one into another database; their figures, the compliant accounts' calls by
/// operation and the calls by kind.
fn advice(args: &Args, orgwatch: &Path, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let latency = Duration::from_millis(args.latency_ms);
    let mut all_matched = true;
    for &accounts in &args.accounts {
        let org = Organization::generate(&OrgSpec { accounts, family: args.family, seed: args.seed });
        for &concurrency in &args.concurrency {
            let (off_dir, advice_dir) = match (tempfile::tempdir(), tempfile::tempdir()) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: no temporary directory: {e}");
                    return ExitCode::from(1);
                }
            };
            println!("{accounts} accounts, concurrency {concurrency}, advice over {ADVICE_WINDOW_DAYS} days:");
            println!(
                "{:>8} {:>9} {:>9} {:>9} {:>6} {:>6} {:>10} {:>10} {:>8} {:>8} {:>9} {:>8} {:>12}",
                "scan", "wall_s", "scan_s", "bound_s", "ratio", "waves", "calls/acct", "compliant", "rss_MiB", "write_s", "cw_max_1s", "advised", "verdicts"
            );
            let mut rows: Vec<(AdviceScan, Figures)> = Vec::new();
            for (scan, dir) in [(AdviceScan::Off, &off_dir), (AdviceScan::Gathers, &advice_dir), (AdviceScan::Carries, &advice_dir)] {
                let settings = ServerSettings { latency, throttle_every: args.throttle_every };
                let figures = match runtime.block_on(run(orgwatch, org.clone(), settings, concurrency, dir.path(), scan)) {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("error: the {} scan: {e}", scan.label());
                        return ExitCode::from(1);
                    }
                };
                let bound = critical_path_bound(&org, concurrency, latency, scan);
                println!(
                    "{:>8} {:>9.2} {:>9.2} {:>9.2} {:>6} {:>6.2} {:>10.2} {:>10.2} {:>8.1} {:>8.2} {:>9} {:>8} {:>12}",
                    scan.label(),
                    figures.wall.as_secs_f64(),
                    figures.scan_seconds,
                    bound,
                    if bound > 0.0 { format!("{:.2}", figures.wall.as_secs_f64() / bound) } else { "-".into() },
                    total_waves(&org, scan) as f64 / org.len() as f64,
                    figures.calls as f64 / accounts as f64,
                    figures.compliant_calls,
                    figures.peak_rss_kib as f64 / 1024.0,
                    figures.write_seconds,
                    figures.cw_max_1s(),
                    figures.advised,
                    format!("{}/{}", figures.matched, figures.expected),
                );
                let gathered = figures.advice_window_days == Some(i64::from(ADVICE_WINDOW_DAYS));
                if gathered != (scan == AdviceScan::Gathers) {
                    eprintln!("error: the {} scan recorded advice_window_days {:?}", scan.label(), figures.advice_window_days);
                    all_matched = false;
                }
                all_matched &= report_mismatches(&figures);
                rows.push((scan, figures));
            }
            print_advice_breakdown(&rows);
        }
    }
    if all_matched { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The compliant accounts' calls by operation in each scan and their difference against the
/// first, then every kind's mean calls.
fn print_advice_breakdown(rows: &[(AdviceScan, Figures)]) {
    let mut operations: Vec<&String> = rows.iter().flat_map(|(_, f)| f.compliant_by_operation.keys()).collect();
    operations.sort();
    operations.dedup();
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    println!("calls per compliant account, by operation:");
    print!("{:>34}", "operation");
    for (scan, _) in rows {
        print!(" {:>9}", scan.label());
    }
    println!();
    for op in operations {
        print!("{op:>34}");
        for (_, f) in rows {
            print!(" {:>9}", cell(f.compliant_by_operation.get(op).copied()));
        }
        println!();
    }
    print!("{:>34}", "total");
    for (_, f) in rows {
        print!(" {:>9}", cell(Some(f.compliant_calls)));
    }
    println!();
    let Some((_, base)) = rows.first() else { return };
    print!("{:>34}", format!("difference against {}", rows[0].0.label()));
    for (_, f) in rows {
        print!(" {:>9}", format!("{:+.2}", f.compliant_calls - base.compliant_calls));
    }
    println!();
    println!("calls per account, by kind:");
    print!("{:>34} {:>8}", "kind", "accounts");
    for (scan, _) in rows {
        print!(" {:>9}", scan.label());
    }
    println!();
    for (kind, (n, _)) in &base.by_kind {
        print!("{kind:>34} {n:>8}");
        for (_, f) in rows {
            print!(" {:>9}", cell(f.by_kind.get(kind).map(|(_, mean)| *mean)));
        }
        println!();
    }
}

/// The `[advice]` section of a scan that does `scan`.
fn advice_section(scan: AdviceScan) -> String {
    match scan {
        AdviceScan::Off => "[advice]\nenabled = false\n".to_owned(),
        AdviceScan::Gathers | AdviceScan::Carries => format!("[advice]\nenabled = true\nevery = \"1d\"\nwindow_days = {ADVICE_WINDOW_DAYS}\n"),
    }
}

/// Scans `org` once with the orgwatch binary into `dir/orgwatch.db`, doing `scan` with advice,
/// and checks its findings against those of that kind of scan.
async fn run(orgwatch: &Path, org: Organization, settings: ServerSettings, concurrency: usize, dir: &Path, scan: AdviceScan) -> Result<Figures, String> {
    let compliant: Vec<String> = org.account_ids().into_iter().filter(|id| org.kind(id).is_some_and(Kind::is_compliant_on_its_own)).collect();
    let controls = org.controls();
    let server = Server::start(org, settings).await.map_err(|e| format!("the synthetic server did not start: {e}"))?;
    let db = dir.join("orgwatch.db");
    let config = dir.join("orgwatch.toml");
    let list = controls.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        &config,
        format!(
            "[aws]\nregion = \"us-east-1\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n[scan]\nconcurrency = {concurrency}\ncontrols = [{list}]\n[store]\npath = \"{}\"\n{}",
            db.display(),
            advice_section(scan)
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
    let finished = log.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find(|v| v["message"] == "Scan finished");
    let logged = |field: &str| finished.as_ref().and_then(|v| v[field].as_f64()).unwrap_or(f64::NAN);
    let (write_seconds, scan_seconds) = (logged("write_seconds"), logged("seconds"));

    let calls = server.total_calls();
    let by_account = server.calls_by_account();
    let compliant_calls =
        if compliant.is_empty() { 0.0 } else { compliant.iter().map(|id| by_account.get(id).copied().unwrap_or(0)).sum::<u64>() as f64 / compliant.len() as f64 };
    let compliant_by_operation = server.calls_by_operation_of(&compliant).into_iter().map(|(op, n)| (op, n as f64 / compliant.len().max(1) as f64)).collect();
    let cloudwatch_peak = server.cloudwatch_peak();
    let org = server.organization().clone();
    let mut by_kind: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for id in org.account_ids() {
        let entry = by_kind.entry(org.kind(&id).map(Kind::label).unwrap_or_default()).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += by_account.get(&id).copied().unwrap_or(0) as f64;
    }
    by_kind.values_mut().for_each(|(n, sum)| *sum /= (*n).max(1) as f64);
    server.shutdown().await;

    let store = orgwatch_store::Store::open_read_only(&db).await.map_err(|e| orgwatch_core::error_chain(&e))?;
    // Without the evidence: this process's memory is what the next run's child starts from.
    let table = store.query("SELECT account_id, control_id, status, reason, message FROM latest_findings").await.map_err(|e| orgwatch_core::error_chain(&e))?;
    let drift = store.query("SELECT COUNT(*) FROM drift WHERE scan_id = (SELECT MAX(id) FROM scans)").await.map_err(|e| orgwatch_core::error_chain(&e))?;
    let drift_events = drift.rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_i64).unwrap_or(-1);
    let window = store.query("SELECT advice_window_days FROM scans WHERE id = (SELECT MAX(id) FROM scans)").await.map_err(|e| orgwatch_core::error_chain(&e))?;
    let advice_window_days = window.rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_i64);
    let advised = store
        .query("SELECT COUNT(*) FROM latest_findings WHERE json_extract(evidence, '$.advice') IS NOT NULL")
        .await
        .map_err(|e| orgwatch_core::error_chain(&e))?;
    let advised = advised.rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_i64).unwrap_or(-1);
    store.close().await;
    let column = |name: &str| table.columns.iter().position(|c| c == name);
    let (Some(a), Some(c), Some(s), Some(r), Some(m)) = (column("account_id"), column("control_id"), column("status"), column("reason"), column("message")) else {
        return Err("latest_findings lacks a column".into());
    };
    let mut found: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
    for row in &table.rows {
        let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
        found.insert((text(a), text(c)), (text(s), text(r), text(m)));
    }
    let mut mismatches = Vec::new();
    let mut expected = 0;
    for account in org.account_ids() {
        for control in &controls {
            let Some((status, reason)) = org.expected(&account, control, scan) else { continue };
            expected += 1;
            let kind = org.kind(&account).map(Kind::label).unwrap_or_default();
            match found.get(&(account.clone(), (*control).to_owned())) {
                Some((s, r, _)) if s == status && r == reason => {}
                Some((s, r, message)) => mismatches.push(format!("{kind}: expected {status} {reason}, found {s} {r} | {account} {control}: {message}")),
                None => mismatches.push(format!("{kind}: expected {status} {reason}, found no finding | {account} {control}")),
            }
        }
    }
    Ok(Figures {
        wall,
        scan_seconds,
        drift_events,
        calls,
        compliant_calls,
        compliant_by_operation,
        by_kind,
        advice_window_days,
        advised,
        peak_rss_kib,
        write_seconds,
        cloudwatch_peak,
        matched: expected - mismatches.len(),
        expected,
        mismatches,
    })
}

/// Waits for the child, reading its log, and returns (log, success, peak RSS in KiB).
///
/// The peak is the child's own `VmHWM` (`/proc/<pid>/status`), read every 10 ms until it exits:
/// the high-water mark of its memory since `exec`. `wait4`'s `ru_maxrss` would also count the
/// pages of this process the child shared between `fork` and `exec`, and this process holds
/// the synthetic organization and the findings of earlier runs.
fn wait_with_rusage(mut child: std::process::Child, pid: u32) -> Result<(String, bool, i64), String> {
    use std::io::Read;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut log);
        }
        log
    });
    let status_path = format!("/proc/{pid}/status");
    let mut peak_kib = 0;
    let status = loop {
        if let Some(text) = std::fs::read_to_string(&status_path).ok()
            && let Some(kib) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for orgwatch: {e}")),
        }
    };
    let log = reader.join().map_err(|_| "the log reader stopped".to_owned())?;
    Ok((log, status.success(), peak_kib))
}
