//! `synthetic-org`: serves a synthetic organization on 127.0.0.1 for manual runs; prints
//! `READY <port>` once it listens, then serves until killed.

use clap::Parser;
use orgwatch_synthetic::{AdviceScan, OrgSpec, Organization, Server, ServerSettings};
use std::io::Write;
use std::time::Duration;

/// Serves a synthetic AWS Organization on 127.0.0.1 (benchmarks only).
#[derive(Parser, Debug)]
#[command(name = "synthetic-org")]
struct Args {
    /// Accounts in total, the management account included.
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Deploy all fifteen CIS monitoring controls, not only unauthorized-api-calls.
    #[arg(long)]
    family: bool,
    /// Latency added before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer every Nth call with a throttling error.
    #[arg(long)]
    throttle_every: Option<u32>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also print every account's kind and expected finding (on a scan with advice, as
    /// orgwatch's default configuration scans), one per line, before READY.
    #[arg(long)]
    list: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let org = Organization::generate(&OrgSpec { accounts: args.accounts, family: args.family, seed: args.seed });
    let mut out = std::io::stdout().lock();
    if args.list {
        let control = org.controls()[0];
        for id in org.account_ids() {
            let kind = org.kind(&id).map(|k| k.label()).unwrap_or_default();
            let (status, reason) = org.expected(&id, control, AdviceScan::Gathers).unwrap_or(("", ""));
            writeln!(out, "{id} {kind} {status} {reason}")?;
        }
    }
    let settings = ServerSettings { latency: Duration::from_millis(args.latency_ms), throttle_every: args.throttle_every };
    let server = Server::start(org, settings).await?;
    writeln!(out, "READY {}", server.port())?;
    out.flush()?;
    drop(out);
    std::future::pending::<()>().await;
    Ok(())
}
