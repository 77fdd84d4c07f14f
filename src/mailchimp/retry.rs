//! The one place that decides whether a failed Mailchimp request is tried again, and when.

use std::time::Duration;

/// What came of one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Mailchimp answered this status.
    Status(u16),
    /// A 403 that is Mailchimp shedding load, not refusing the key: a bare answer with no
    /// problem document, or one about simultaneous connections (API-NOTES.md, "Limits").
    Throttled,
    /// No answer in time: the request may have been carried out.
    Timeout,
    /// No connection could be made: nothing reached Mailchimp.
    ConnectError,
    /// The connection broke after the request was sent: it may have been carried out.
    Interrupted,
}

impl Outcome {
    /// Whether Mailchimp may have carried out the request although it did not say so: an
    /// internal error, no answer in time, a connection broken mid-request. Repeating a create
    /// after such an outcome could create twice, so creates are never repeated blindly.
    pub fn ambiguous(self) -> bool {
        match self {
            Outcome::Status(s) => (500..=599).contains(&s),
            Outcome::Timeout | Outcome::Interrupted => true,
            Outcome::Throttled | Outcome::ConnectError => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What to do after a failed attempt.
pub enum Decision {
    /// Try again after this long.
    RetryAfter(Duration),
    /// Stop and report the error.
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
/// When a failed request is tried again: 429, throttling 403s, 5xx and connection failures, with exponential backoff and jitter.
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first wait; each next one doubles.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// `attempt` counts from 1 (the attempt that just failed); `jitter` is a number in [0, 1) that
/// spreads retries of concurrent requests ("full jitter" between half and all of the backoff).
///
/// Retried: 429 and a throttling 403 (too many connections), 5xx, timeouts and connection
/// errors. Not retried: 401 and a 403 that refuses the key (wrong key, disabled account: a
/// repeat cannot fix it), and every other 4xx.
pub fn decide(outcome: Outcome, attempt: u32, policy: &RetryPolicy, jitter: f64) -> Decision {
    let retryable = match outcome {
        Outcome::Status(s) => s == 429 || (500..=599).contains(&s),
        Outcome::Throttled | Outcome::Timeout | Outcome::ConnectError | Outcome::Interrupted => {
            true
        }
    };
    if !retryable || attempt >= policy.max_attempts {
        return Decision::GiveUp;
    }
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << (attempt - 1).min(20));
    let capped = exp.min(policy.max_delay);
    let jitter = jitter.clamp(0.0, 1.0);
    Decision::RetryAfter(capped.mul_f64(0.5 + 0.5 * jitter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Outcome::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn decision_table() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: ms(100),
            max_delay: ms(1000),
        };
        // (outcome, attempt that failed, jitter, expected)
        let table = [
            (Status(429), 1, 1.0, RetryAfter(ms(100))),
            (Status(429), 2, 1.0, RetryAfter(ms(200))),
            (Status(500), 3, 1.0, RetryAfter(ms(400))),
            (Status(502), 4, 1.0, RetryAfter(ms(800))),
            (Status(503), 1, 0.0, RetryAfter(ms(50))),
            (Status(504), 2, 0.5, RetryAfter(ms(150))),
            (Timeout, 1, 1.0, RetryAfter(ms(100))),
            (ConnectError, 2, 1.0, RetryAfter(ms(200))),
            (Interrupted, 1, 1.0, RetryAfter(ms(100))),
            (Throttled, 3, 1.0, RetryAfter(ms(400))),
            (Throttled, 5, 1.0, GiveUp),
            (Status(429), 5, 1.0, GiveUp),
            (Timeout, 5, 0.0, GiveUp),
            (Status(400), 1, 1.0, GiveUp),
            (Status(401), 1, 1.0, GiveUp),
            (Status(403), 1, 1.0, GiveUp),
            (Status(404), 1, 1.0, GiveUp),
            (Status(405), 1, 1.0, GiveUp),
            (Status(422), 1, 1.0, GiveUp),
            (Status(200), 1, 1.0, GiveUp),
        ];
        for (outcome, attempt, jitter, expected) in table {
            assert_eq!(
                decide(outcome, attempt, &p, jitter),
                expected,
                "{outcome:?} attempt {attempt}"
            );
        }
    }

    #[test]
    fn only_outcomes_that_may_hide_a_write_are_ambiguous() {
        let table = [
            (Status(500), true),
            (Status(503), true),
            (Timeout, true),
            (Interrupted, true),
            (Status(429), false),
            (Throttled, false),
            (ConnectError, false),
            (Status(400), false),
            (Status(404), false),
        ];
        for (outcome, expected) in table {
            assert_eq!(outcome.ambiguous(), expected, "{outcome:?}");
        }
    }

    #[test]
    fn backoff_is_capped_even_after_many_attempts() {
        let p = RetryPolicy {
            max_attempts: 100,
            base_delay: ms(100),
            max_delay: ms(1000),
        };
        assert_eq!(decide(Status(503), 40, &p, 1.0), RetryAfter(ms(1000)));
        assert_eq!(decide(Status(503), 40, &p, 0.0), RetryAfter(ms(500)));
    }
}
