//! The tracing subscriber: human-readable by default, JSON on request; level from `RUST_LOG`,
//! else the configuration, else `info`. Logs go to standard error so that standard output
//! carries only results.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool, level: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The SDK's own INFO lines (endpoint resolution, retries) are noise for an operator.
        .add_directive("aws_config=warn".parse().unwrap_or_default())
        .add_directive("aws_smithy_runtime=warn".parse().unwrap_or_default())
        .add_directive("sqlx=warn".parse().unwrap_or_default());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.compact().try_init() };
}
