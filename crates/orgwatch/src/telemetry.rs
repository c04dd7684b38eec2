//! The tracing subscriber: human-readable by default, JSON on request; level from `RUST_LOG`,
//! else the configuration, else `info`. Logs go to standard error so that standard output
//! carries only results. Colours only on a terminal (and not with `NO_COLOR`); while a scan
//! draws its progress bar there, each log line is written above the bar, whole.

use indicatif::ProgressBar;
use std::io::{self, IsTerminal, Write};
use std::sync::RwLock;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub fn init(json: bool, level: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The SDK's own INFO lines (endpoint resolution, retries) are noise for an operator.
        .add_directive("aws_config=warn".parse().unwrap_or_default())
        .add_directive("aws_smithy_runtime=warn".parse().unwrap_or_default())
        .add_directive("sqlx=warn".parse().unwrap_or_default());
    let colour = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(Stderr).with_ansi(colour);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.compact().try_init() };
}

/// The progress bar drawn on standard error, if any.
static BAR: RwLock<Option<ProgressBar>> = RwLock::new(None);

/// From now on log lines are written above `bar` (`None`: when it is gone).
pub fn write_logs_above(bar: Option<ProgressBar>) {
    *BAR.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = bar;
}

/// Runs `write` with `bar` hidden, then draws the bar again below what it wrote.
pub fn above<R>(bar: Option<&ProgressBar>, write: impl FnOnce() -> R) -> R {
    match bar {
        Some(bar) if !bar.is_finished() => bar.suspend(write),
        _ => write(),
    }
}

/// Standard error, through the bar. The formatter writes each event in one `write_all`, so a
/// line is never split by a redraw.
struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = StderrLine;

    fn make_writer(&'a self) -> StderrLine {
        StderrLine
    }
}

struct StderrLine;

impl Write for StderrLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let bar = BAR.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        above(bar.as_ref(), || io::stderr().lock().write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use indicatif::{ProgressDrawTarget, TermLike};
    use std::sync::{Arc, Mutex};

    /// A terminal that records what is drawn on it, in order: `bar <text>`, `clear`, `up <n>`,
    /// and what a test pushes.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Recorder {
        pub(crate) fn push(&self, op: String) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(op);
        }
        pub(crate) fn ops(&self) -> Vec<String> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            self.push(format!("up {n}"));
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> io::Result<()> {
            self.push(format!("down {n}"));
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(format!("bar {s}"));
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(format!("bar {s}"));
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("clear".into());
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_line_is_written_with_the_bar_cleared_and_the_bar_is_drawn_again_below_it() {
        let term = Recorder::default();
        let bar = ProgressBar::with_draw_target(Some(10), ProgressDrawTarget::term_like(Box::new(term.clone())));
        bar.set_position(3);
        let drawn = term.ops().len();
        assert!(term.ops().iter().any(|op| op.starts_with("bar ") && op.contains("3/10")), "{:?}", term.ops());

        above(Some(&bar), || term.push("log Scan started".into()));
        let ops = term.ops()[drawn..].to_vec();
        let log = ops.iter().position(|op| op == "log Scan started").unwrap_or_else(|| panic!("{ops:?}"));
        let cleared = ops[..log].iter().rposition(|op| op == "clear").unwrap_or_else(|| panic!("the bar's line is cleared first: {ops:?}"));
        assert!(!ops[cleared..log].iter().any(|op| op.starts_with("bar ")), "and not drawn again before the line: {ops:?}");
        assert!(ops[log + 1..].iter().any(|op| op.starts_with("bar ") && op.contains("3/10")), "then drawn again: {ops:?}");

        // Once the bar is finished, a line is written as it is.
        bar.finish_and_clear();
        let before = term.ops().len();
        above(Some(&bar), || term.push("log Scan finished".into()));
        assert_eq!(term.ops()[before..], ["log Scan finished".to_owned()]);
    }
}
