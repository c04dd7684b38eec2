//! `orgwatch fix`: the remedies of an account's latest findings, read from the store and
//! rendered by the core as an AWS CLI script or as Terraform modules.
//! Exit codes: 0 printed (also when nothing needs fixing); 1 nothing to work from (no database,
//! no findings of the account yet) or the database could not be read; 2 bad input (an account
//! id that is not 12 digits or that no scan has seen, an unknown control).

use crate::config::Config;
use orgwatch_core::remediate::{self, Remedy, Settings, cli, terraform};
use orgwatch_core::{Evidence, Finding, Reason, Status, controls};
use orgwatch_store::{Store, Table};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FixFormat {
    /// A shell script of AWS CLI commands.
    Cli,
    /// One Terraform root module per account and region the fixes go to.
    Terraform,
}

/// Why `fix` printed no remedy.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// What the user typed is wrong: exit 2.
    #[error("{0}")]
    Usage(String),
    /// There is nothing to work from yet: exit 1.
    #[error("{0}")]
    Nothing(String),
    #[error(transparent)]
    Store(#[from] orgwatch_store::StoreError),
}

impl FixError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(if matches!(self, FixError::Usage(_)) { 2 } else { 1 })
    }
}

/// Prints the remedies; an error is printed once, with its exit code.
pub async fn run(config: &Config, account: &str, control: Option<&str>, format: FixFormat) -> ExitCode {
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

/// The remedies of `account`'s latest findings (of `control` only, when given), rendered.
pub async fn render(config: &Config, account: &str, control: Option<&str>, format: FixFormat) -> Result<String, FixError> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
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
    let table = store.latest_findings(None, Some(account)).await?;
    let known = !table.rows.is_empty() || !store.query(&format!("SELECT 1 FROM accounts WHERE account_id = '{account}'")).await?.rows.is_empty();
    store.close().await;
    if !known {
        return Err(FixError::Usage(format!("account {account} is not in the database: no scan has seen it (see `orgwatch findings`)")));
    }
    let findings = findings(&table).map_err(|e| FixError::Nothing(format!("a stored finding of account {account} cannot be read: {e}")))?;
    let findings: Vec<Finding> = findings.into_iter().filter(|f| control.is_none_or(|c| f.control_id == c)).collect();
    if findings.is_empty() {
        let what = control.map_or_else(String::new, |c| format!(" for control {c}"));
        return Err(FixError::Nothing(format!("account {account} has no findings{what} yet: run `orgwatch scan`")));
    }
    let settings = Settings { region: &config.aws.region, audit_role_name: &config.organization.audit_role_name };
    let remedies: Vec<Remedy> = findings.iter().map(|f| remediate::remedy(f, &settings)).collect();
    Ok(match format {
        FixFormat::Cli => cli::script(account, &remedies),
        FixFormat::Terraform => {
            let (modules, comments) = terraform::modules(account, &remedies);
            let mut text = comments;
            if modules.is_empty() {
                text.push_str("# Nothing to apply.\n");
            }
            for module in modules {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!("# ==== module for account {}, region {}: save as orgwatch-fix-{}-{}/main.tf ====\n", module.account_id, module.region, module.account_id, module.region));
                text.push_str(&module.text);
            }
            text
        }
    })
}

/// The findings of `latest_findings` rows.
pub(crate) fn findings(table: &Table) -> Result<Vec<Finding>, String> {
    let column = |name: &str| table.columns.iter().position(|c| c == name).ok_or_else(|| format!("no column {name}"));
    let (account, control, status, reason, message, evidence) = (column("account_id")?, column("control_id")?, column("status")?, column("reason")?, column("message")?, column("evidence")?);
    table
        .rows
        .iter()
        .map(|row| {
            let text = |i: usize| row.get(i).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let status = Status::parse(&text(status)).ok_or_else(|| format!("status {:?}", text(status)))?;
            let reason: Reason = serde_json::from_value(serde_json::Value::String(text(reason))).map_err(|_| format!("reason {:?}", text(reason)))?;
            let evidence: Evidence = match row.get(evidence) {
                Some(serde_json::Value::String(json)) => serde_json::from_str(json).map_err(|e| format!("evidence: {e}"))?,
                Some(value @ serde_json::Value::Object(_)) => serde_json::from_value(value.clone()).map_err(|e| format!("evidence: {e}"))?,
                _ => Evidence::default(),
            };
            Ok(Finding { account_id: text(account), control_id: text(control), status, reason, message: text(message), evidence })
        })
        .collect()
}
