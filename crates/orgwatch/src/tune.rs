//! `orgwatch tune`: what was measured of each alarm of the latest scan's passing chains — how
//! often it went to ALARM, its metric's baseline per period — and, where a threshold is
//! suggested, the `aws cloudwatch put-metric-alarm` that applies it, every other setting read
//! of the alarm kept. Tune the threshold, never the visibility.
//!
//! The JSON is a contract (docs/FORMATS.md): an array of objects with `account_id`,
//! `control_id`, `alarm_arn`, `statistic`, `period_seconds`, `evaluation_periods`,
//! `datapoints_to_alarm`, `threshold`, `comparison_operator`, `window_days`, `times_in_alarm`,
//! `hours_in_alarm`, `baseline` (`periods`, `p50`, `p99`, `max`, or null), `noisy`,
//! `suggested_threshold` (or null) and `apply` (the command, or null); then `measured_at`,
//! `delivery` and `notes`.
//!
//! Exit codes as `orgwatch fix`'s: 0 printed; 1 nothing to work from (no database, no advice
//! measured yet); 2 bad input.

use crate::config::Config;
use crate::fix::FixError;
use orgwatch_core::controls;
use orgwatch_core::finding::Advice;
use orgwatch_core::remediate::cli::{TUNE_NOTE, tune_command};
use orgwatch_store::Store;
use serde_json::{Value, json};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TuneFormat {
    Table,
    Json,
}

/// Prints the advice; an error is printed once, with its exit code.
pub async fn run(config: &Config, account: Option<&str>, control: Option<&str>, format: TuneFormat) -> ExitCode {
    match render(config, account, control, format).await {
        Ok(text) => {
            out!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", orgwatch_core::error_chain(&e));
            e.exit_code()
        }
    }
}

/// The advice of the latest passing findings (of one account or control when given), rendered.
pub async fn render(config: &Config, account: Option<&str>, control: Option<&str>, format: TuneFormat) -> Result<String, FixError> {
    if let Some(account) = account
        && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(FixError::Usage(format!("--account: {account:?} is not a 12-digit account id")));
    }
    if let Some(id) = control
        && controls::find(id).is_none()
    {
        return Err(FixError::Usage(format!("--control: unknown control {id:?}; run `orgwatch controls` for the list")));
    }
    let path = &config.store.path;
    if !path.exists() {
        return Err(FixError::Nothing(format!("no database at {}: run `orgwatch scan` first", path.display())));
    }
    let store = Store::open_read_only(path).await?;
    let advised = store.passing_advice(account, control).await;
    store.close().await;
    let advised = advised?;
    if advised.is_empty() {
        let what = match (account, control) {
            (Some(a), Some(c)) => format!(" of account {a} for control {c}"),
            (Some(a), None) => format!(" of account {a}"),
            (None, Some(c)) => format!(" for control {c}"),
            (None, None) => String::new(),
        };
        return Err(FixError::Nothing(format!(
            "no passing chain{what} has been measured yet: a scan measures them when [advice] is enabled, once per [advice] every (run `orgwatch scan`)"
        )));
    }
    let entries: Vec<Value> = advised.iter().map(|(account, control, advice)| entry(account, control, advice)).collect();
    Ok(match format {
        TuneFormat::Json => {
            let mut text = serde_json::to_string_pretty(&Value::Array(entries)).unwrap_or_else(|_| "[]".into());
            text.push('\n');
            text
        }
        TuneFormat::Table => table(&advised),
    })
}

/// One object of the JSON contract.
pub fn entry(account: &str, control: &str, advice: &Advice) -> Value {
    let apply = advice.suggested_threshold.and_then(|t| tune_command(advice, t));
    json!({
        "account_id": account,
        "control_id": control,
        "alarm_arn": advice.alarm_arn,
        "statistic": advice.statistic,
        "period_seconds": advice.period_seconds,
        "evaluation_periods": advice.evaluation_periods,
        "datapoints_to_alarm": advice.datapoints_to_alarm,
        "threshold": advice.threshold,
        "comparison_operator": advice.comparison_operator,
        "window_days": advice.window_days,
        "times_in_alarm": advice.times_in_alarm,
        "hours_in_alarm": advice.hours_in_alarm,
        "baseline": advice.baseline.map(|b| json!({"periods": b.periods, "p50": b.p50, "p99": b.p99, "max": b.max})),
        "noisy": advice.noisy,
        "suggested_threshold": advice.suggested_threshold,
        "apply": apply,
        "measured_at": advice.measured_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "delivery": advice.delivery.as_ref().map(|d| json!({"topic_arn": d.topic_arn, "delivered": d.delivered, "failed": d.failed})),
        "notes": advice.notes,
    })
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.2}") })
}

/// An aligned table, then each suggestion's command and each alarm's notes.
fn table(advised: &[(String, String, Advice)]) -> String {
    let mut out = comfy_table::Table::new();
    out.load_preset(comfy_table::presets::NOTHING);
    out.set_header(["ACCOUNT", "CONTROL", "ALARM", "IN ALARM", "HOURS", "PERIODS", "P50", "P99", "MAX", "THRESHOLD", "SUGGESTED", "NOISY"]);
    for (account, control, a) in advised {
        let b = a.baseline;
        out.add_row([
            account.clone(),
            control.clone(),
            a.alarm_name.clone(),
            a.times_in_alarm.map_or_else(|| "-".into(), |t| format!("{t} in {} d", a.window_days)),
            number(a.hours_in_alarm),
            b.map_or_else(|| "-".into(), |b| b.periods.to_string()),
            number(b.map(|b| b.p50)),
            number(b.map(|b| b.p99)),
            number(b.map(|b| b.max)),
            format!("{} {}", comparison(a.comparison_operator.as_deref()), number(a.threshold)),
            number(a.suggested_threshold),
            if a.noisy { "yes".into() } else { "no".into() },
        ]);
    }
    let mut text = out.to_string();
    text.push('\n');
    for (account, control, a) in advised {
        let apply = a.suggested_threshold.and_then(|t| tune_command(a, t).map(|c| (t, c)));
        if apply.is_none() && a.notes.is_empty() {
            continue;
        }
        text.push_str(&format!("\n# {account} {control}: alarm {}\n", a.alarm_name));
        for note in &a.notes {
            text.push_str(&format!("#   {note}\n"));
        }
        if let Some((threshold, command)) = apply {
            text.push_str(&format!(
                "#   at most 1% of the last {} days' periods would have crossed {}, and the largest burst ({}) still does; {TUNE_NOTE}.\n{command}\n",
                a.window_days,
                number(Some(threshold)),
                number(a.baseline.map(|b| b.max))
            ));
        }
    }
    text
}

fn comparison(operator: Option<&str>) -> &'static str {
    match operator {
        Some("GreaterThanOrEqualToThreshold") => ">=",
        Some("GreaterThanThreshold") => ">",
        Some("LessThanThreshold") => "<",
        Some("LessThanOrEqualToThreshold") => "<=",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgwatch_core::finding::Baseline;

    fn noisy() -> Advice {
        Advice {
            alarm_arn: "arn:aws:cloudwatch:us-east-1:111122223333:alarm:denied".into(),
            alarm_name: "denied".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            namespace: Some("CISBenchmark".into()),
            metric_name: Some("UnauthorizedAPICalls".into()),
            statistic: Some("Sum".into()),
            period_seconds: Some(300),
            evaluation_periods: Some(1),
            threshold: Some(1.0),
            comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
            window_days: 7,
            times_in_alarm: Some(400),
            hours_in_alarm: Some(66.67),
            baseline: Some(Baseline { periods: 2016, p50: 6.0, p99: 8.0, max: 200.0 }),
            noisy: true,
            suggested_threshold: Some(10.0),
            ..Advice::default()
        }
    }

    #[test]
    fn the_json_entry_holds_every_field_of_the_contract() {
        let value = entry("111122223333", "unauthorized-api-calls", &noisy());
        for key in [
            "account_id", "control_id", "alarm_arn", "statistic", "period_seconds", "evaluation_periods", "datapoints_to_alarm", "threshold", "comparison_operator", "window_days",
            "times_in_alarm", "hours_in_alarm", "baseline", "noisy", "suggested_threshold", "apply",
        ] {
            assert!(value.get(key).is_some(), "{key} missing: {value}");
        }
        assert_eq!(value["baseline"], json!({"periods": 2016, "p50": 6.0, "p99": 8.0, "max": 200.0}));
        assert!(value["apply"].as_str().unwrap().contains("--threshold 10 "), "{value}");
        let quiet = Advice { suggested_threshold: None, noisy: false, ..noisy() };
        let value = entry("111122223333", "unauthorized-api-calls", &quiet);
        assert_eq!((value["apply"].clone(), value["suggested_threshold"].clone(), value["noisy"].clone()), (Value::Null, Value::Null, json!(false)));
    }

    #[test]
    fn the_table_shows_the_measures_and_the_command_that_applies_a_suggestion() {
        let text = table(&[("111122223333".into(), "unauthorized-api-calls".into(), noisy())]);
        assert!(text.contains("400 in 7 d") && text.contains(">= 1") && text.contains("yes"), "{text}");
        assert!(text.contains("aws cloudwatch put-metric-alarm --region us-east-1 --alarm-name denied"), "{text}");
        assert!(text.contains("largest burst (200) still does"), "{text}");
    }
}
