//! Keeping each account's calls to one service within its quota per second.
//!
//! CloudWatch answers `DescribeAlarms` and `DescribeAlarmHistory` at most 9 times a second per
//! account and region; above that it throttles, and a throttled call costs a retry and a
//! back-off. A [`Pacer`] admits at most `calls` call starts in any window of `window` per key
//! (an account and a region), holding the next one back until the oldest of them leaves the
//! window. It reads tokio's clock, so a scan under a paused clock is paced in virtual time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// CloudWatch's quota of `DescribeAlarms` (and `DescribeAlarmHistory`) per account and region.
pub const CLOUDWATCH_CALLS_PER_SECOND: usize = 9;

/// Keys held before the idle ones are forgotten.
const KEYS_KEPT: usize = 1024;

/// A sliding window of call starts per key; see the module documentation.
#[derive(Debug)]
pub struct Pacer {
    calls: usize,
    window: Duration,
    starts: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
}

impl Pacer {
    /// At most `calls` starts in any `window` per key.
    pub fn new(calls: usize, window: Duration) -> Self {
        Pacer { calls: calls.max(1), window, starts: Mutex::new(HashMap::new()) }
    }

    /// CloudWatch's quota, with a margin for the time a request takes to arrive: 9 starts in
    /// any 1.1 s.
    pub fn cloudwatch() -> Self {
        Pacer::new(CLOUDWATCH_CALLS_PER_SECOND, Duration::from_millis(1100))
    }

    /// Waits until a call of `account` in `region` may start, and counts it as started.
    pub async fn admit(&self, account: &str, region: &str) {
        loop {
            let wait_until = {
                let mut starts = self.starts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = Instant::now();
                if starts.len() > KEYS_KEPT {
                    starts.retain(|_, times| times.back().is_some_and(|last| now.duration_since(*last) < self.window));
                }
                let times = starts.entry((account.to_owned(), region.to_owned())).or_default();
                while times.front().is_some_and(|first| now.duration_since(*first) >= self.window) {
                    times.pop_front();
                }
                if times.len() < self.calls {
                    times.push_back(now);
                    return;
                }
                // The window is full: the oldest start leaves it first.
                times.front().map_or(now, |first| *first + self.window)
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_starts_than_the_quota_and_keys_do_not_wait_for_each_other() {
        let pacer = Pacer::new(3, Duration::from_secs(1));
        let begin = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..7 {
            pacer.admit("111111111111", "us-east-1").await;
            starts.push(begin.elapsed());
        }
        // Three at once, three a second later, then the seventh a second after that.
        let secs: Vec<u64> = starts.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, vec![0, 0, 0, 1, 1, 1, 2]);
        for (i, start) in starts.iter().enumerate().skip(3) {
            assert!(*start - starts[i - 3] >= Duration::from_secs(1), "{starts:?}");
        }
        // Another account, and another region of the same account, start at once.
        let before = begin.elapsed();
        pacer.admit("222222222222", "us-east-1").await;
        pacer.admit("111111111111", "eu-west-1").await;
        assert_eq!(begin.elapsed(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_window() {
        let pacer = std::sync::Arc::new(Pacer::new(2, Duration::from_secs(1)));
        let begin = Instant::now();
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.admit("111111111111", "us-east-1").await;
                    begin.elapsed()
                })
            })
            .collect();
        let mut starts = Vec::new();
        for handle in handles {
            starts.push(handle.await.unwrap());
        }
        starts.sort();
        for (i, start) in starts.iter().enumerate().skip(2) {
            assert!(*start - starts[i - 2] >= Duration::from_secs(1), "{starts:?}");
        }
        assert_eq!(starts.last().unwrap().as_secs(), 2);
    }
}
