//! The simulator's latency: a request is answered `latency` after it arrived, the simulator's
//! own work included, as Mailchimp's answer time includes Mailchimp's work.
//!
//! Tokio's timer fires on millisecond ticks, and late on a busy machine: at 50 ms a plain sleep
//! answered in 51.4 ms on average with mcsync, the simulator and a benchmark sharing two cores,
//! which took 3 % off the key's 10 connections before mcsync sent anything. So the sleep ends
//! early by how late answers have been running: a small integral controller that keeps the mean
//! answer time at `latency`. Single answers still vary by a millisecond or so either way.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The latest an answer is started early, as a share of the latency: the correction is for a
/// timer's slack, not for a machine too busy to keep up.
const MAX_EARLY_SHARE: i64 = 4;
/// How much of each answer's error the correction takes on (1/16: steady within a few dozen
/// requests, not thrown by one slow answer).
const GAIN: i64 = 16;

pub struct Latency {
    latency: Duration,
    /// How long before `latency` the sleep ends, in microseconds.
    early_us: AtomicI64,
}

impl Latency {
    pub fn new(latency: Duration) -> Self {
        Self {
            latency,
            early_us: AtomicI64::new(0),
        }
    }

    /// Waits until it is time to work on a request that arrived at `arrived`.
    pub async fn wait(&self, arrived: Instant) {
        if self.latency.is_zero() {
            return;
        }
        let early = self.early_us.load(Ordering::Relaxed).max(0) as u64;
        tokio::time::sleep_until(arrived + self.latency - Duration::from_micros(early)).await;
    }

    /// A request that arrived at `arrived` was answered now: corrects the next waits, and
    /// returns how long the answer took.
    pub fn answered(&self, arrived: Instant) -> Duration {
        let took = arrived.elapsed();
        if !self.latency.is_zero() {
            let error = micros(took) - micros(self.latency);
            let max = micros(self.latency) / MAX_EARLY_SHARE;
            // Concurrent answers may overwrite each other's correction: each is one small step.
            let early = self.early_us.load(Ordering::Relaxed);
            let next = (early + error / GAIN).clamp(0, max);
            self.early_us.store(next, Ordering::Relaxed);
        }
        took
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers that keep coming 1.5 ms late move the wait 1.5 ms earlier, and no further than
    /// a quarter of the latency however late they come.
    #[test]
    fn the_wait_ends_early_by_how_late_answers_run() {
        let l = Latency::new(Duration::from_millis(50));
        for _ in 0..400 {
            let early = Duration::from_micros(l.early_us.load(Ordering::Relaxed) as u64);
            // An answer given 1.5 ms after the shortened wait: what a late timer does.
            let arrived =
                Instant::now() - (Duration::from_millis(50) + Duration::from_micros(1500) - early);
            l.answered(arrived);
        }
        let early = l.early_us.load(Ordering::Relaxed);
        assert!((1400..=1600).contains(&early), "{early} µs");

        let slow = Instant::now() - Duration::from_secs(1);
        for _ in 0..400 {
            l.answered(slow);
        }
        assert_eq!(l.early_us.load(Ordering::Relaxed), 12_500);
    }
}
