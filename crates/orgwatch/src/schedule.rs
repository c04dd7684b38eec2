//! The daemon's loop: scans on a cron schedule, never overlapping, until shutdown.
//!
//! The loop is split from the step (the scan) and from the clock, so tests drive both with
//! paused tokio time.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::future::Future;
use tokio::sync::watch;
use tracing::{info, warn};

/// A cron expression evaluated in a time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub cron: croner::Cron,
    pub timezone: Tz,
}

impl Schedule {
    /// The first run strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t.with_timezone(&self.timezone), false).ok().map(|n| n.with_timezone(&Utc))
    }

    /// The time between the run after `t` and the one after that: the interval `/healthz`
    /// measures staleness in.
    pub fn interval_near(&self, t: DateTime<Utc>) -> Option<chrono::Duration> {
        let a = self.next_after(t)?;
        let b = self.next_after(a)?;
        Some(b - a)
    }
}

/// Wall-clock time, injected so tests can tie it to tokio's paused clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at `start` and advances with tokio's clock (paused in tests).
pub struct TokioClock {
    pub start: DateTime<Utc>,
    pub origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().duration_since(self.origin);
        self.start + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

/// What the loop did, for tests and logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoopSummary {
    pub scans: usize,
    pub skipped_ticks: usize,
}

/// Runs `scan` on `schedule` (and once at start when `run_on_start`) until `shutdown` turns
/// true. A tick that comes while a scan runs is skipped and logged.
pub async fn run<F, Fut>(schedule: &Schedule, run_on_start: bool, clock: &dyn Clock, mut shutdown: watch::Receiver<bool>, mut scan: F) -> LoopSummary
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut summary = LoopSummary::default();
    let started = clock.now();
    let mut next = if run_on_start { Some(started) } else { schedule.next_after(started) };
    loop {
        let Some(at) = next else {
            warn!("The schedule has no future run; the daemon stays up for health and metrics only");
            let _ = shutdown.wait_for(|stop| *stop).await;
            return summary;
        };
        let wait = (at - clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => return summary,
        }
        if *shutdown.borrow() {
            return summary;
        }
        scan().await;
        summary.scans += 1;
        if *shutdown.borrow() {
            return summary;
        }
        let now = clock.now();
        let mut following = schedule.next_after(at.max(started));
        let mut skipped = 0;
        while let Some(t) = following.filter(|t| *t <= now) {
            skipped += 1;
            following = schedule.next_after(t);
        }
        if skipped > 0 {
            summary.skipped_ticks += skipped;
            warn!(skipped, "Scheduled runs came while the scan was running; they were skipped");
        }
        if let Some(t) = following {
            info!(next_run = %t, "Next scan scheduled");
        }
        next = following;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn schedule(text: &str) -> Schedule {
        Schedule { cron: crate::config::parse_schedule(text).unwrap(), timezone: chrono_tz::UTC }
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, s).unwrap()
    }

    #[test]
    fn next_runs_are_computed_in_the_configured_time_zone() {
        let every_five = schedule("*/5 * * * *");
        assert_eq!(every_five.next_after(at(10, 0, 0)), Some(at(10, 5, 0)));
        assert_eq!(every_five.next_after(at(10, 3, 59)), Some(at(10, 5, 0)));
        assert_eq!(every_five.interval_near(at(10, 0, 0)), Some(chrono::Duration::minutes(5)));
        let mut paris_two_am = schedule("0 2 * * *");
        paris_two_am.timezone = chrono_tz::Europe::Paris;
        // 02:00 in Paris is 01:00 UTC in November.
        assert_eq!(paris_two_am.next_after(at(0, 0, 0)), Some(at(1, 0, 0)));
        let with_seconds = schedule("30 * * * * *");
        assert_eq!(with_seconds.next_after(at(10, 0, 0)), Some(at(10, 0, 30)));
    }

    /// Runs the loop against a scan that takes `scan_takes`, until `stop_after` of tokio time.
    async fn drive(text: &str, run_on_start: bool, scan_takes: Duration, stop_after: Duration) -> (LoopSummary, usize) {
        let clock = TokioClock { start: at(10, 0, 0), origin: tokio::time::Instant::now() };
        let (stop, shutdown) = watch::channel(false);
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(stop_after).await;
            let _ = stop.send(true);
        });
        let summary = run(&schedule(text), run_on_start, &clock, shutdown, move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(scan_takes).await;
            }
        })
        .await;
        stopper.abort();
        (summary, count.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn scans_run_on_each_tick_and_once_at_start() {
        // Every 5 minutes for 16 minutes: at start, 10:05, 10:10, 10:15.
        let (summary, scans) = drive("*/5 * * * *", true, Duration::from_secs(10), Duration::from_secs(16 * 60)).await;
        assert_eq!(scans, 4);
        assert_eq!(summary, LoopSummary { scans: 4, skipped_ticks: 0 });
        let (_, scans) = drive("*/5 * * * *", false, Duration::from_secs(10), Duration::from_secs(16 * 60)).await;
        assert_eq!(scans, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_during_a_running_scan_is_skipped() {
        // Each scan takes 7 minutes; ticks every 5: the 10:05 tick falls inside the first scan.
        let (summary, scans) = drive("*/5 * * * *", true, Duration::from_secs(7 * 60), Duration::from_secs(21 * 60)).await;
        // 10:00 (start, until 10:07), 10:05 skipped, 10:10 (until 10:17), 10:15 skipped, 10:20.
        assert_eq!(scans, 3);
        assert_eq!(summary.skipped_ticks, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_while_waiting_ends_the_loop_at_once() {
        let (summary, scans) = drive("0 0 1 1 *", false, Duration::from_secs(1), Duration::from_secs(3)).await;
        assert_eq!((summary.scans, scans), (0, 0));
    }
}
