//! `orgwatch plan-check PLAN.json`: the CI gate that judges the chain a Terraform plan builds
//! before it is deployed. Reads the file and prints; the judging is `orgwatch_plan`'s.

use orgwatch_core::{Control, Status};
use orgwatch_plan::Report;
use std::fmt::Write;
use std::path::Path;

/// Every control's chain holds.
pub const EXIT_HOLDS: u8 = 0;
/// A chain does not hold, or the plan does not show a link of it.
pub const EXIT_BROKEN: u8 = 1;
/// The input could not be read as a plan, or a control is unknown.
pub const EXIT_UNREADABLE: u8 = 2;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Sarif,
}

/// What to print on stdout, what on stderr, and the exit code.
pub fn run(path: &Path, controls: &[&Control], format: PlanFormat, options: &orgwatch_plan::Options<'_>) -> (String, String, u8) {
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => return (String::new(), format!("error: cannot read {} as a plan: it is not UTF-8 text\n", path.display()), EXIT_UNREADABLE),
        },
        Err(e) => return (String::new(), format!("error: cannot read {}: {e}\n", path.display()), EXIT_UNREADABLE),
    };
    let report = match orgwatch_plan::check_with(&text, controls, options) {
        Ok(report) => report,
        Err(e) => return (String::new(), format!("error: cannot read {} as a plan: {e}\n", path.display()), EXIT_UNREADABLE),
    };
    let out = match format {
        PlanFormat::Text => render_text(&report, path),
        PlanFormat::Json => format!("{}\n", report.to_json()),
        PlanFormat::Sarif => format!("{:#}\n", orgwatch_plan::sarif::render(&report, &path.display().to_string(), &text, env!("CARGO_PKG_VERSION"))),
    };
    (out, String::new(), if report.holds() { EXIT_HOLDS } else { EXIT_BROKEN })
}

fn render_text(report: &Report, path: &Path) -> String {
    let mut out = String::new();
    for checked in &report.checked {
        let f = &checked.finding;
        let _ = writeln!(out, "{:<5} {} {}: {}", f.status.as_str(), f.control_id, f.reason.as_str(), f.message);
        if !checked.at.is_empty() {
            let _ = writeln!(out, "      at {}", checked.at.join(", "));
        }
        let chain: Vec<&str> = checked.chain.iter().flatten().map(String::as_str).fold(Vec::new(), |mut v, a| {
            if v.last() != Some(&a) {
                v.push(a);
            }
            v
        });
        if !chain.is_empty() {
            let _ = writeln!(out, "      chain: {}", chain.join(" → "));
        }
        for note in &f.evidence.notes {
            let _ = writeln!(out, "      note: {note}");
        }
    }
    if !report.not_in_plan.is_empty() {
        let _ = writeln!(out, "Not in the plan (judged only as far as the plan shows):");
        for what in &report.not_in_plan {
            let _ = writeln!(out, "  - {what}");
        }
    }
    for address in &report.deleted {
        let _ = writeln!(out, "The plan deletes {address}.");
    }
    let passing = report.checked.iter().filter(|c| c.finding.status == Status::Pass).count();
    let verdict = if report.holds() { "the chain holds" } else { "the chain does NOT hold" };
    let _ = writeln!(out, "Result: {verdict} in {} ({passing} of {} control(s) pass).", path.display(), report.checked.len());
    out
}
