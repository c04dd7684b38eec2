//! Printing tables of results as an aligned table, JSON or CSV.

use orgwatch_store::Table;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders the table; `hide` names columns left out of the aligned table (long JSON).
pub fn render(table: &Table, format: Format, hide: &[&str]) -> String {
    match format {
        Format::Json => {
            let objects: Vec<Value> = table
                .rows
                .iter()
                .map(|row| {
                    let map = table.columns.iter().zip(row).map(|(c, v)| {
                        // Evidence is stored as JSON text; show it as JSON.
                        let value = match (c.as_str(), v) {
                            ("evidence", Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
                            _ => v.clone(),
                        };
                        (c.clone(), value)
                    });
                    Value::Object(map.collect())
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&objects).unwrap_or_else(|_| "[]".into());
            text.push('\n');
            text
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let _ = writer.write_record(&table.columns);
            for row in &table.rows {
                let _ = writer.write_record(row.iter().map(cell));
            }
            let bytes = writer.into_inner().unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Format::Table => {
            let keep: Vec<usize> = (0..table.columns.len()).filter(|i| !hide.contains(&table.columns[*i].as_str())).collect();
            let mut out = comfy_table::Table::new();
            out.load_preset(comfy_table::presets::NOTHING);
            out.set_header(keep.iter().map(|i| table.columns[*i].to_uppercase()));
            for row in &table.rows {
                out.add_row(keep.iter().map(|i| cell(&row[*i])));
            }
            let mut text = out.to_string();
            text.push('\n');
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table {
        Table {
            columns: vec!["account_id".into(), "message".into(), "evidence".into()],
            rows: vec![vec![json!("111122223333"), json!("has \"quotes\", commas"), json!("{\"links\":[]}")]],
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(render(&table(), Format::Csv, &[]), "account_id,message,evidence\n111122223333,\"has \"\"quotes\"\", commas\",\"{\"\"links\"\":[]}\"\n");
    }

    #[test]
    fn json_shows_evidence_as_json() {
        let value: Value = serde_json::from_str(&render(&table(), Format::Json, &[])).unwrap();
        assert_eq!(value[0]["evidence"], json!({"links": []}));
        assert_eq!(value[0]["account_id"], "111122223333");
    }

    #[test]
    fn the_table_hides_long_columns() {
        let text = render(&table(), Format::Table, &["evidence"]);
        assert!(text.contains("ACCOUNT_ID") && text.contains("111122223333"));
        assert!(!text.contains("EVIDENCE"));
    }
}
