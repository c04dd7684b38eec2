//! The command line: raw flags are turned into validated settings once, then each command runs.
//! Exit codes: 0 success; 1 the command ran and the answer is "no" (a pattern that does not
//! detect, an unhealthy daemon) or a runtime failure; 2 bad input (config, pattern, SQL).

use crate::config::Config;
use crate::output::{Format, render};
use crate::export::{self, FindingsFormat};
use crate::{filter_check, plan_check, scan, telemetry};
use anyhow::Context;
use clap::{Parser, Subcommand};
use orgwatch_core::{Status, controls};
use orgwatch_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "orgwatch", version, about = "Audits every account of an AWS Organization for the CIS monitoring controls")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The TOML configuration file.
    #[arg(long, short, env = "ORGWATCH_CONFIG", default_value = "orgwatch.toml")]
    config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan the organization once, store the findings, print a summary.
    Scan {
        #[command(flatten)]
        config: ConfigArg,
        /// Log as JSON lines.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Show the latest finding of each account and control.
    Findings {
        #[command(flatten)]
        config: ConfigArg,
        /// `table`, `json`, `csv`, or an export: `ocsf` (OCSF Compliance Findings), `asff`
        /// (Security Hub's BatchImportFindings); see docs/FORMATS.md.
        #[arg(long, value_enum, default_value = "table")]
        format: FindingsFormat,
        /// Only findings with this status (PASS, FAIL, ERROR, NOT_APPLICABLE).
        #[arg(long)]
        status: Option<String>,
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
    },
    /// Check whether a metric-filter pattern detects a control. Exit 0: it does; 1: it does
    /// not; 2: it does not parse.
    FilterCheck {
        /// The control to check against.
        #[arg(long, default_value = controls::UNAUTHORIZED_API_CALLS)]
        control: String,
        /// The filter pattern, as given to CloudWatch Logs.
        pattern: String,
    },
    /// Judge the chain a Terraform plan builds (`terraform show -json PLANFILE`). Exit 0: it
    /// holds; 1: it does not, or the plan does not show a link; 2: the input is not a plan.
    PlanCheck {
        /// The plan as JSON.
        plan: PathBuf,
        /// A control to judge (repeatable).
        #[arg(long, default_value = controls::UNAUTHORIZED_API_CALLS)]
        control: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: plan_check::PlanFormat,
        /// The organization's id (`o-…`) the plan deploys into, for a topic or key policy that
        /// names `aws:SourceOrgID`; without it such a policy cannot be judged.
        #[arg(long)]
        organization_id: Option<String>,
    },
    /// List the controls orgwatch judges.
    Controls {
        /// `table`, or `json`: each control's id, title, references and published patterns.
        #[arg(long, value_enum, default_value = "table")]
        format: ControlsFormat,
    },
    /// Scan on the configured schedule until SIGTERM or SIGINT; serve /healthz and /metrics.
    Daemon {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Changes of status or reason between consecutive completed scans.
    Drift {
        #[command(flatten)]
        config: ConfigArg,
        /// A duration back from now (30m, 12h, 7d, 2w) or a date (2026-11-01). Default: 7d.
        #[arg(long, default_value = "7d")]
        since: String,
        /// `table`, `json`, `csv`, or each event as a finding of its new status: `ocsf`, `asff`.
        #[arg(long, value_enum, default_value = "table")]
        format: FindingsFormat,
    },
    /// Run one read-only SQL statement against the history; writes are refused.
    Query {
        #[command(flatten)]
        config: ConfigArg,
        sql: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Print what to run to mend the links an account's latest findings name: AWS CLI commands
    /// (a shell script) or Terraform. Exit 1: no findings to work from; 2: bad input.
    Fix {
        #[command(flatten)]
        config: ConfigArg,
        /// The account whose findings are fixed.
        #[arg(long)]
        account: String,
        /// Only this control.
        #[arg(long)]
        control: Option<String>,
        #[arg(long, value_enum, default_value = "cli")]
        format: crate::fix::FixFormat,
    },
    /// The CloudWatch Logs Insights queries (and the `aws logs start-query` that runs them) that
    /// list what an account's alarm counts: each denied call, and the calls by principal. Exit
    /// 1: no passing chain to query by; 2: bad input.
    Investigate {
        #[command(flatten)]
        config: ConfigArg,
        /// The account whose alarm fired.
        #[arg(long)]
        account: String,
        /// Only this control.
        #[arg(long)]
        control: Option<String>,
        /// How far back the queries look: a duration (30m, 12h, 7d, 2w) or a date (2026-11-01).
        #[arg(long, default_value = "24h")]
        since: String,
    },
    /// What was measured of each alarm of the latest passing chains (how often it went to
    /// ALARM, its metric's baseline), and the command that applies a suggested threshold. Exit
    /// 1: nothing measured yet; 2: bad input.
    Tune {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// Only this control.
        #[arg(long)]
        control: Option<String>,
        /// `table`, or `json` (the contract of docs/FORMATS.md).
        #[arg(long, value_enum, default_value = "table")]
        format: crate::tune::TuneFormat,
    },
    /// Write the posture report, one self-contained HTML file that opens offline, to standard
    /// output: `orgwatch report > posture.html`. Exit 1: no database to read.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        /// How far back the history, drift and charts go: a duration (30m, 12h, 7d, 2w) or a
        /// date (2026-11-01).
        #[arg(long, default_value = "30d")]
        since: String,
    },
    /// Ask a running daemon's /healthz; exit 0 when healthy, 1 otherwise.
    Healthcheck {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ControlsFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Parses the arguments, runs the command, and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::FilterCheck { control, pattern } => {
            let Some(control) = controls::find(&control) else {
                eprintln!("error: unknown control {control:?}; run `orgwatch controls` for the list");
                return ExitCode::from(2);
            };
            let (report, code) = filter_check::check(control, &pattern);
            out!("{report}");
            ExitCode::from(code)
        }
        Command::PlanCheck { plan, control, format, organization_id } => {
            if let Some(id) = organization_id.as_deref()
                && !orgwatch_plan::is_organization_id(id)
            {
                eprintln!("error: --organization-id: {id:?} is not an organization id (o- and 10 to 32 lowercase letters or digits)");
                return ExitCode::from(plan_check::EXIT_UNREADABLE);
            }
            let mut selected = Vec::new();
            for id in &control {
                let Some(found) = controls::find(id) else {
                    eprintln!("error: unknown control {id:?}; run `orgwatch controls` for the list");
                    return ExitCode::from(plan_check::EXIT_UNREADABLE);
                };
                selected.push(found);
            }
            let options = orgwatch_plan::Options { organization_id: organization_id.as_deref() };
            let (out, err, code) = plan_check::run(&plan, &selected, format, &options);
            out!("{out}");
            eprint!("{err}");
            ExitCode::from(code)
        }
        Command::Controls { format: ControlsFormat::Json } => {
            let list: Vec<serde_json::Value> = controls::all()
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "title": c.title,
                        "cis_v1_2": c.references.cis_v1_2,
                        "cis_v1_4": c.references.cis_v1_4_to_v5_0,
                        "cis_v1_4_to_v5_0": c.references.cis_v1_4_to_v5_0,
                        "cis_v6_0_to_v7_0": c.references.cis_v6_0_to_v7_0,
                        "security_hub": c.references.security_hub,
                        "references": c.references.summary(),
                        "cis_requirements": c.references.cis_requirements(),
                        "pattern": c.published_patterns.first().map(|p| p.pattern.as_str()),
                        "published_patterns": c.published_patterns.iter().map(|p| serde_json::json!({"source": p.source, "pattern": p.pattern})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            outln!("{}", serde_json::Value::Array(list));
            ExitCode::SUCCESS
        }
        Command::Controls { format: ControlsFormat::Table } => {
            outln!("{:<34} {:<9} {:<14} {:<14} {:<14} TITLE", "CONTROL", "CIS V1.2", "CIS V1.4–V5.0", "CIS V6.0–V7.0", "SECURITY HUB");
            for c in controls::all() {
                let r = c.references;
                outln!("{:<34} {:<9} {:<14} {:<14} {:<14} {}", c.id, r.cis_v1_2.unwrap_or("-"), r.cis_v1_4_to_v5_0, r.cis_v6_0_to_v7_0, r.security_hub.unwrap_or("-"), c.title);
            }
            ExitCode::SUCCESS
        }
        Command::Scan { config, log_format } => with_config(&config, |config| {
            let json = matches!(log_format, Some(LogFormat::Json)) || config.log.json;
            telemetry::init(json, config.log.level.as_deref());
            runtime()?.block_on(scan_once(config))
        }),
        Command::Daemon { config, log_format } => with_config(&config, |config| {
            let json = matches!(log_format, Some(LogFormat::Json)) || config.log.json;
            telemetry::init(json, config.log.level.as_deref());
            runtime()?.block_on(crate::daemon::run(config))?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Drift { config, since, format } => with_config(&config, |config| {
            let since = parse_since(&since, chrono::Utc::now()).map_err(usage)?;
            runtime()?.block_on(async {
                let store = Store::open_read_only(&config.store.path).await?;
                match format.table() {
                    Some(format) => out!("{}", render(&store.drift_since(since).await?, format, &[])),
                    None => out!("{}", export::drift(&store.stored_drift_since(since).await?, format, &export::Context::new(&config.aws.region))),
                }
                Ok(ExitCode::SUCCESS)
            })
        }),
        Command::Query { config, sql, format } => with_config(&config, |config| {
            runtime()?.block_on(async {
                let store = Store::open_read_only(&config.store.path).await?;
                match store.query(&sql).await {
                    Ok(table) => {
                        out!("{}", render(&table, format, &[]));
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => Err(usage(e.to_string())),
                }
            })
        }),
        Command::Fix { config, account, control, format } => {
            with_config(&config, |config| Ok(runtime()?.block_on(crate::fix::run(&config, &account, control.as_deref(), format))))
        }
        Command::Investigate { config, account, control, since } => with_config(&config, |config| {
            let now = chrono::Utc::now();
            let since = parse_since(&since, now).map_err(usage)?;
            Ok(runtime()?.block_on(crate::investigate::run(&config, &account, control.as_deref(), since, now)))
        }),
        Command::Tune { config, account, control, format } => {
            with_config(&config, |config| Ok(runtime()?.block_on(crate::tune::run(&config, account.as_deref(), control.as_deref(), format))))
        }
        Command::Report { config: arg, since } => with_config(&arg, |config| {
            let now = chrono::Utc::now();
            let since = parse_since(&since, now).map_err(usage)?;
            Ok(runtime()?.block_on(crate::report::run(&config, &arg.config.display().to_string(), since)))
        }),
        Command::Healthcheck { config } => with_config(&config, |config| {
            let Some(addr) = config.http_probe_address() else {
                return Err(usage("[http] listen is not set, so there is no /healthz to ask".into()));
            };
            runtime()?.block_on(async {
                let url = format!("http://{addr}/healthz");
                let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        outln!("healthy: {}", r.text().await.unwrap_or_default());
                        Ok(ExitCode::SUCCESS)
                    }
                    Ok(r) => {
                        outln!("unhealthy ({}): {}", r.status().as_u16(), r.text().await.unwrap_or_default());
                        Ok(ExitCode::from(1))
                    }
                    Err(e) => {
                        outln!("unhealthy: {url} did not answer: {}", e.without_url());
                        Ok(ExitCode::from(1))
                    }
                }
            })
        }),
        Command::Findings { config, format, status, account } => with_config(&config, |config| {
            let status = match status.as_deref() {
                None => None,
                Some(text) => Some(Status::parse(text).ok_or_else(|| usage(format!("--status: {text:?} is not PASS, FAIL, ERROR or NOT_APPLICABLE")))?),
            };
            runtime()?.block_on(async {
                let store = Store::open_read_only(&config.store.path).await?;
                match format.table() {
                    Some(format) => out!("{}", render(&store.latest_findings(status, account.as_deref()).await?, format, &["evidence", "observed_at", "scan_id"])),
                    None => out!("{}", export::findings(&store.latest_stored_findings(status, account.as_deref()).await?, format, &export::Context::new(&config.aws.region))),
                }
                Ok(ExitCode::SUCCESS)
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_takes_durations_and_dates() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        assert_eq!(parse_since("7d", now).unwrap(), now - chrono::Duration::days(7));
        assert_eq!(parse_since("30m", now).unwrap(), now - chrono::Duration::minutes(30));
        assert_eq!(parse_since("2026-11-01", now).unwrap(), chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("7y", now).is_err());
        assert!(parse_since("99999999999999w", now).is_err());
    }
}

/// An error in what the user typed: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

fn with_config(arg: &ConfigArg, body: impl FnOnce(Config) -> anyhow::Result<ExitCode>) -> ExitCode {
    let config = match Config::load(&arg.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {}", orgwatch_core::error_chain(e.as_ref()));
            return ExitCode::from(2);
        }
    };
    match body(config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", orgwatch_core::error_chain(e.as_ref()));
            if e.downcast_ref::<UsageError>().is_some() { ExitCode::from(2) } else { ExitCode::from(1) }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// `7d`, `12h`, `30m`, `2w` back from `now`, or a date (midnight UTC) or an RFC 3339 time.
pub fn parse_since(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = number.parse().map_err(|_| format!("--since: {text:?} is not a duration like 7d or a date like 2026-11-01"))?;
    let duration = match unit {
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    };
    duration.and_then(|d| now.checked_sub_signed(d)).ok_or_else(|| format!("--since: {text:?} is not a duration like 30m, 12h, 7d or 2w"))
}

async fn scan_once(config: Config) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.store.path).await?;
    let abandoned = store.mark_abandoned(chrono::Utc::now()).await?;
    if abandoned > 0 {
        tracing::warn!(scans = abandoned, "Scans left running by an earlier stop were marked abandoned");
    }
    let reads = orgwatch_aws::SdkReads::new(scan::sdk_settings(&config)).await;
    let (shutdown, signals) = crate::shutdown::on_signal();
    // A bar when standard error is a terminal, a log line every few seconds otherwise.
    let report = scan::run_scan_showing(&reads, &store, &config, &crate::schedule::SystemClock, shutdown, scan::Progress::for_stderr()).await;
    signals.abort();
    let report = report?;
    outln!(
        "scan {} {} in {:.1} s: {} of {} accounts judged, {} control(s)",
        report.scan_id,
        report.status.as_str(),
        report.duration.as_secs_f64(),
        report.accounts_judged,
        report.accounts_total,
        config.scan.controls.len()
    );
    let c = report.counts;
    for (status, n) in [("PASS", c.pass), ("FAIL", c.fail), ("ERROR", c.error), ("NOT_APPLICABLE", c.not_applicable)] {
        outln!("{status:<15} {n}");
    }
    store.close().await;
    // An interrupted scan is a clean stop (exit 0); a scan that could not write is a failure.
    Ok(if report.status == orgwatch_store::ScanStatus::Failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
