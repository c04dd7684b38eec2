//! A scan's progress as numbers: accounts listed, judged and left, how many are judged a second
//! over the last half minute, and how long the rest take at that rate. Nothing here reads a
//! clock: the scan passes the time elapsed, and `display` draws or logs what this computes.

use std::collections::VecDeque;
use std::time::Duration;

/// How far back the rate looks: long enough to smooth the waves of a bounded concurrency, short
/// enough to follow a scan that slows down (throttling) or speeds up (the listing is done).
pub const RATE_WINDOW: Duration = Duration::from_secs(30);

/// The counts of one scan so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Audited accounts listed so far.
    pub listed: usize,
    /// Accounts judged so far.
    pub judged: usize,
    /// No more accounts will be listed: every page was read, or the listing stopped.
    pub listing_done: bool,
}

impl Tally {
    /// Accounts listed and not judged yet.
    pub fn left(&self) -> usize {
        self.listed.saturating_sub(self.judged)
    }
}

/// Accounts judged a second over a sliding window, from samples of (time since the scan
/// started, accounts judged by then).
#[derive(Debug)]
pub struct Rate {
    window: Duration,
    /// Oldest first; the first is the newest sample at least `window` old (or the start).
    samples: VecDeque<(Duration, usize)>,
}

impl Rate {
    /// A rate measured from the start of the scan, when nothing was judged.
    pub fn new(window: Duration) -> Rate {
        Rate { window, samples: VecDeque::from([(Duration::ZERO, 0)]) }
    }

    /// Takes a sample and returns the rate over the window ending there: `None` until time has
    /// passed. A sample older than the last one is ignored.
    pub fn observe(&mut self, at: Duration, judged: usize) -> Option<f64> {
        let &(last_at, _) = self.samples.back()?;
        if at >= last_at {
            self.samples.push_back((at, judged));
        }
        let horizon = at.saturating_sub(self.window);
        while self.samples.len() > 2 && self.samples[1].0 <= horizon {
            self.samples.pop_front();
        }
        let (&(from_at, from_judged), &(to_at, to_judged)) = (self.samples.front()?, self.samples.back()?);
        let span = to_at.saturating_sub(from_at);
        (!span.is_zero()).then(|| to_judged.saturating_sub(from_judged) as f64 / span.as_secs_f64())
    }
}

/// What the progress says at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot {
    pub listed: usize,
    pub judged: usize,
    pub left: usize,
    pub listing_done: bool,
    /// Accounts judged a second; `None` before any time has passed.
    pub rate: Option<f64>,
    /// The time the accounts left take at `rate`, in whole seconds rounded up; zero when none
    /// is left, `None` when nothing is being judged. While the listing goes on it counts only
    /// the accounts listed so far.
    pub eta: Option<Duration>,
}

impl Snapshot {
    pub fn new(tally: Tally, rate: Option<f64>) -> Snapshot {
        let left = tally.left();
        let eta =
            if left == 0 { Some(Duration::ZERO) } else { rate.filter(|r| r.is_finite() && *r > 0.0).and_then(|r| Duration::try_from_secs_f64((left as f64 / r).ceil()).ok()) };
        Snapshot { listed: tally.listed, judged: tally.judged, left, listing_done: tally.listing_done, rate, eta }
    }

    /// The rate to two decimals, as logged.
    pub fn rate_rounded(&self) -> Option<f64> {
        self.rate.map(|r| (r * 100.0).round() / 100.0)
    }

    /// One line for the bar: what is left, the rate and the estimate.
    pub fn describe(&self) -> String {
        let mut text = format!("{} left", self.left);
        if !self.listing_done {
            text.push_str(" (listing)");
        }
        match self.rate {
            Some(rate) => text.push_str(&format!(" · {rate:.1}/s")),
            None => text.push_str(" · measuring the rate"),
        }
        if let Some(eta) = self.eta.filter(|_| self.left > 0) {
            let bound = if self.listing_done { "" } else { "≥ " };
            text.push_str(&format!(" · ETA {bound}{}", short(eta)));
        }
        text
    }
}

/// A duration as a person reads it at a glance: `45s`, `3m 05s`, `1h 02m`.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_rate_is_over_the_window_ending_at_the_last_sample() {
        // (samples (seconds, judged) in order, the rate after the last one)
        type Case = (&'static [(u64, usize)], Option<f64>);
        let cases: &[Case] = &[
            // No time has passed since the start.
            (&[(0, 0)], None),
            (&[(0, 5)], None),
            // From the start while the scan is younger than the window.
            (&[(5, 0)], Some(0.0)),
            (&[(5, 0), (10, 4)], Some(0.4)),
            (&[(10, 30)], Some(3.0)),
            // Past the window, from the newest sample at least 30 s old: 0 at 5 s, 24 at 35 s.
            (&[(5, 0), (10, 4), (15, 8), (20, 12), (25, 16), (30, 20), (35, 24)], Some(0.8)),
            // A sample exactly 30 s old is the start of the window.
            (&[(10, 10), (40, 40)], Some(1.0)),
            // A scan that stalls: nothing judged for the last 30 s.
            (&[(10, 100), (20, 100), (40, 100)], Some(0.0)),
            // A scan that speeds up: the slow start leaves the window.
            (&[(30, 10), (60, 100)], Some(3.0)),
            // Samples far apart: the window reaches back to the last one before it.
            (&[(100, 50), (200, 150)], Some(1.0)),
            // A sample from before the last one is ignored.
            (&[(10, 10), (5, 100)], Some(1.0)),
        ];
        for (samples, expected) in cases {
            let mut rate = Rate::new(RATE_WINDOW);
            let mut got = None;
            for &(at, judged) in *samples {
                got = rate.observe(secs(at), judged);
            }
            match (got, expected) {
                (Some(g), Some(e)) => assert!((g - e).abs() < 1e-9, "{samples:?}: {g} ≠ {e}"),
                _ => assert_eq!(got, *expected, "{samples:?}"),
            }
        }
    }

    #[test]
    fn the_window_keeps_only_the_samples_it_needs() {
        let mut rate = Rate::new(RATE_WINDOW);
        for s in 1..=1000 {
            rate.observe(secs(s), s as usize);
        }
        // The one 30 s old and the thirty after it.
        assert_eq!(rate.samples.len(), 31);
        assert_eq!(rate.samples.front(), Some(&(secs(970), 970)));
    }

    #[test]
    fn the_estimate_is_what_is_left_at_the_rate_rounded_up_to_a_second() {
        // (listed, judged, listing done, rate, left, eta in seconds)
        type Case = (usize, usize, bool, Option<f64>, usize, Option<u64>);
        let cases: &[Case] = &[
            (40, 0, true, Some(0.0), 40, None),
            (40, 4, true, Some(0.4), 36, Some(90)),
            (40, 36, true, Some(0.8), 4, Some(5)),
            (10_000, 2_500, true, Some(125.0), 7_500, Some(60)),
            (10_000, 2_500, true, Some(120.0), 7_500, Some(63)),
            // Nothing left: done, whatever the rate.
            (40, 40, true, None, 0, Some(0)),
            (40, 40, true, Some(0.0), 0, Some(0)),
            // No rate yet.
            (40, 0, false, None, 40, None),
            // While the listing goes on, the accounts listed so far.
            (20, 10, false, Some(2.0), 10, Some(5)),
            // More judged than listed cannot happen; it reads as nothing left.
            (3, 5, true, Some(1.0), 0, Some(0)),
            // A rate too small to give a duration gives none.
            (40, 0, true, Some(f64::MIN_POSITIVE), 40, None),
            (40, 0, true, Some(f64::NAN), 40, None),
        ];
        for &(listed, judged, listing_done, rate, left, eta) in cases {
            let s = Snapshot::new(Tally { listed, judged, listing_done }, rate);
            assert_eq!((s.listed, s.judged, s.left), (listed, judged, left), "{listed} {judged}");
            assert_eq!(s.eta, eta.map(secs), "{listed} {judged} {rate:?}");
        }
    }

    #[test]
    fn the_bar_says_what_is_left_the_rate_and_the_estimate() {
        let cases: &[(Tally, Option<f64>, &str)] = &[
            (Tally { listed: 0, judged: 0, listing_done: false }, None, "0 left (listing) · measuring the rate"),
            (Tally { listed: 20, judged: 10, listing_done: false }, Some(2.0), "10 left (listing) · 2.0/s · ETA ≥ 5s"),
            (Tally { listed: 40, judged: 4, listing_done: true }, Some(0.4), "36 left · 0.4/s · ETA 1m 30s"),
            (Tally { listed: 40, judged: 0, listing_done: true }, Some(0.0), "40 left · 0.0/s"),
            (Tally { listed: 10_000, judged: 100, listing_done: true }, Some(2.5), "9900 left · 2.5/s · ETA 1h 06m"),
            (Tally { listed: 40, judged: 40, listing_done: true }, Some(0.8), "0 left · 0.8/s"),
        ];
        for (tally, rate, expected) in cases {
            assert_eq!(Snapshot::new(*tally, *rate).describe(), *expected);
        }
    }

    #[test]
    fn durations_read_at_a_glance() {
        for (seconds, expected) in [(0, "0s"), (59, "59s"), (60, "1m 00s"), (185, "3m 05s"), (3599, "59m 59s"), (3600, "1h 00m"), (3720, "1h 02m"), (90_000, "25h 00m")] {
            assert_eq!(short(secs(seconds)), expected);
        }
    }

    #[test]
    fn the_logged_rate_has_two_decimals() {
        let s = Snapshot::new(Tally { listed: 3, judged: 1, listing_done: true }, Some(1.0 / 3.0));
        assert_eq!(s.rate_rounded(), Some(0.33));
    }
}
