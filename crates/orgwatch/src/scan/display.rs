//! How a scan shows its progress: a bar on standard error when that is a terminal, a log line
//! every few seconds when it is not (a container's log). The numbers come from `progress`;
//! time comes from tokio's clock, so a test under a paused clock drives the lines.

use super::progress::{RATE_WINDOW, Rate, Snapshot, Tally};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tracing::info;

/// How often a scan off a terminal logs its progress; a scan that ends sooner logs none.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// How often the bar's rate and estimate are measured again (its counts move at once).
const BAR_EVERY: Duration = Duration::from_secs(1);

/// Accounts judged of those listed, then `{summary}`: what is left, the rate and the estimate,
/// from the counts of the same drawing. The bar takes what the terminal's width leaves.
const BAR_TEMPLATE: &str = "{wide_bar} {pos}/{len} judged · {summary}";

/// Where a scan's progress goes.
pub enum Progress {
    /// Drawn in this bar, which the scan clears when it ends; log lines are written above it.
    Bar(ProgressBar),
    /// An `info` line, "Scan progress", every [`LOG_EVERY`].
    Log,
    /// Nowhere.
    Off,
}

impl Progress {
    /// A bar when standard error is a terminal, log lines otherwise.
    pub fn for_stderr() -> Progress {
        if std::io::stderr().is_terminal() { Progress::Bar(ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())) } else { Progress::Log }
    }
}

/// What the bar's `{summary}` reads besides the bar's own counts.
#[derive(Debug, Default)]
struct BarState {
    /// The last rate measured, as `f64` bits; `NO_RATE` before the first.
    rate: AtomicU64,
    listing_done: AtomicBool,
    stopping: AtomicBool,
}

const NO_RATE: u64 = u64::MAX;

impl BarState {
    fn rate(&self) -> Option<f64> {
        let bits = self.rate.load(Ordering::Relaxed);
        (bits != NO_RATE).then(|| f64::from_bits(bits))
    }

    /// The summary of a drawing of `judged` of `listed` accounts.
    fn summary(&self, listed: u64, judged: u64) -> String {
        let tally = Tally { listed: listed as usize, judged: judged as usize, listing_done: self.listing_done.load(Ordering::Relaxed) };
        let text = Snapshot::new(tally, self.rate()).describe();
        if self.stopping.load(Ordering::Relaxed) { format!("{text} · stopping") } else { text }
    }
}

/// The progress of the scan running: its counts, and the bar or the log lines that show them.
pub(super) struct Shown {
    progress: Progress,
    tally: Tally,
    rate: Rate,
    started: Instant,
    ticks: Option<Interval>,
    bar_state: Arc<BarState>,
}

impl Shown {
    /// Starts showing the progress of a scan that started at `started`.
    pub(super) fn start(progress: Progress, started: Instant) -> Shown {
        let bar_state = Arc::new(BarState { rate: AtomicU64::new(NO_RATE), ..BarState::default() });
        let every = match &progress {
            Progress::Bar(bar) => {
                let state = bar_state.clone();
                let style = ProgressStyle::with_template(BAR_TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ").with_key(
                    "summary",
                    move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&state.summary(s.len().unwrap_or(0), s.pos()));
                    },
                );
                bar.set_style(style);
                // Without a length until the first page is listed: an empty bar, not a full one.
                bar.tick();
                crate::telemetry::write_logs_above(Some(bar.clone()));
                Some(BAR_EVERY)
            }
            Progress::Log => Some(LOG_EVERY),
            Progress::Off => None,
        };
        let ticks = every.map(|every| {
            let mut ticks = tokio::time::interval_at(started + every, every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        Shown { progress, tally: Tally::default(), rate: Rate::new(RATE_WINDOW), started, ticks, bar_state }
    }

    /// The audited accounts listed so far, and whether more will be.
    pub(super) fn listed(&mut self, listed: usize, listing_done: bool) {
        if (listed, listing_done) == (self.tally.listed, self.tally.listing_done) {
            return;
        }
        self.tally.listed = listed;
        self.tally.listing_done = listing_done;
        if let Progress::Bar(bar) = &self.progress {
            self.bar_state.listing_done.store(listing_done, Ordering::Relaxed);
            bar.set_length(listed as u64);
        }
    }

    /// One more account judged.
    pub(super) fn judged(&mut self) {
        self.tally.judged += 1;
        if let Progress::Bar(bar) = &self.progress {
            bar.set_position(self.tally.judged as u64);
            bar.tick();
        }
    }

    /// No new account starts: the bar says so until the scan ends.
    pub(super) fn stopping(&mut self) {
        if let Progress::Bar(bar) = &self.progress {
            self.bar_state.stopping.store(true, Ordering::Relaxed);
            bar.tick();
        }
    }

    /// When the rate and estimate are next due; never when the progress goes nowhere.
    pub(super) async fn tick(&mut self) -> Instant {
        match &mut self.ticks {
            Some(ticks) => ticks.tick().await,
            None => std::future::pending().await,
        }
    }

    /// Measures the rate and the estimate at `now`, and logs or draws them.
    pub(super) fn report(&mut self, now: Instant) {
        let rate = self.rate.observe(now.saturating_duration_since(self.started), self.tally.judged);
        match &self.progress {
            Progress::Log => {
                let s = Snapshot::new(self.tally, rate);
                info!(
                    listed = s.listed,
                    judged = s.judged,
                    left = s.left,
                    rate = s.rate_rounded(),
                    eta_seconds = s.eta.map(|d| d.as_secs()),
                    listing_done = s.listing_done,
                    "Scan progress"
                );
            }
            Progress::Bar(bar) => {
                self.bar_state.rate.store(rate.map_or(NO_RATE, f64::to_bits), Ordering::Relaxed);
                bar.tick();
            }
            Progress::Off => {}
        }
    }
}

impl Drop for Shown {
    /// The bar is cleared however the scan ends: done, interrupted, or failed.
    fn drop(&mut self) {
        if let Progress::Bar(bar) = &self.progress {
            bar.finish_and_clear();
            crate::telemetry::write_logs_above(None);
        }
    }
}
