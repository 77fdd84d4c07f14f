//! The one place that decides whether a failed Mailchimp request is tried again, and when.

use std::time::Duration;

/// What came of one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Timeout,
    ConnectError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
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
/// Retried: 429 (too many connections), 5xx, timeouts and connection errors. Not retried: 401
/// and 403 (the key is wrong or the account is disabled; repeating only adds to a 403 storm), and
/// every other 4xx, which a repeat cannot fix.
pub fn decide(outcome: Outcome, attempt: u32, policy: &RetryPolicy, jitter: f64) -> Decision {
    let retryable = match outcome {
        Outcome::Status(s) => s == 429 || (500..=599).contains(&s),
        Outcome::Timeout | Outcome::ConnectError => true,
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
