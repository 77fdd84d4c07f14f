//! The faults the simulator injects, as Mailchimp shows them in the field:
//! - a rate limit: 429, or at high volume a bare 403 with no JSON body (API-NOTES);
//! - a 500 or 503 before the request ran, or, for a write, after it ran: the write happened and
//!   the answer says it failed, which is what makes a blind retry of a create a duplicate;
//! - a poisoned resource: every write naming it gets 500, however often it is retried.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::problem::SimError;

/// What to do with one request or batch operation.
#[derive(Debug)]
pub enum Fault {
    /// Answer this instead of running the request.
    Before(SimError),
    /// Answer Mailchimp's bare 403 (no problem document) instead of running the request.
    Bare403,
    /// Run the request, then answer this instead of its result.
    After(SimError),
}

pub struct Faults {
    /// Share of requests that get a fault (f64 bits), changeable while running.
    rate: AtomicU64,
    /// Share of 5xx faults on writes that come after the write.
    after_write: f64,
    /// Share of rate limits answered as a bare 403 instead of a 429.
    bare_403: f64,
    /// Resource ids whose writes always fail.
    poisoned: Mutex<HashSet<String>>,
}

impl Faults {
    pub fn new(rate: f64, after_write: f64, bare_403: f64) -> Self {
        Self {
            rate: AtomicU64::new(rate.to_bits()),
            after_write,
            bare_403,
            poisoned: Mutex::new(HashSet::new()),
        }
    }

    pub fn set_rate(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    pub fn poison(&self, id: &str, on: bool) {
        let mut poisoned = self.poisoned.lock().expect("poison lock");
        if on {
            poisoned.insert(id.to_owned());
        } else {
            poisoned.remove(id);
        }
    }

    /// Whether a write naming these ids (its path's segments and the id of the body it sends)
    /// hits a poisoned one.
    pub fn is_poisoned<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> bool {
        let poisoned = self.poisoned.lock().expect("poison lock");
        !poisoned.is_empty() && ids.into_iter().any(|id| poisoned.contains(id))
    }

    /// The fault for one request (`direct`) or batch operation: `None` most of the time.
    pub fn draw(&self, method: &str, direct: bool) -> Option<Fault> {
        let rate = f64::from_bits(self.rate.load(Ordering::Relaxed));
        if rate <= 0.0 || fastrand::f64() >= rate {
            return None;
        }
        let write = method != "GET";
        Some(match fastrand::u8(0..3) {
            0 if direct && fastrand::f64() < self.bare_403 => Fault::Bare403,
            0 => Fault::Before(SimError::rate_limited()),
            n => {
                let e = if n == 1 {
                    SimError::internal()
                } else {
                    SimError::unavailable()
                };
                if write && fastrand::f64() < self.after_write {
                    Fault::After(e)
                } else {
                    Fault::Before(e)
                }
            }
        })
    }

    /// The answer to an over-limit request: 429, or the bare 403 at the same share as faults.
    pub fn over_limit(&self, limit: usize) -> Response {
        if fastrand::f64() < self.bare_403 {
            bare_403()
        } else {
            SimError::too_many_connections(limit).into_response()
        }
    }
}

/// What Mailchimp's edge answers under load: 403 with an HTML page, no problem document.
pub fn bare_403() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_never_failed_after_the_fact_and_batches_never_see_a_bare_403() {
        let f = Faults::new(1.0, 1.0, 1.0);
        for _ in 0..300 {
            assert!(!matches!(f.draw("GET", true), Some(Fault::After(_))));
            assert!(!matches!(f.draw("POST", false), Some(Fault::Bare403)));
            assert!(f.draw("POST", true).is_some());
        }
        f.set_rate(0.0);
        assert!(f.draw("POST", true).is_none());
    }

    #[test]
    fn a_poisoned_id_is_found_among_the_ids_a_write_names() {
        let f = Faults::new(0.0, 0.0, 0.0);
        let path = |p: &'static str| p.split('/');
        assert!(!f.is_poisoned(path("/ecommerce/stores/s/products/p7")));
        f.poison("p7", true);
        assert!(f.is_poisoned(path("/ecommerce/stores/s/products/p7")));
        assert!(f.is_poisoned(path("/ecommerce/stores/s/products").chain(["p7"])));
        assert!(!f.is_poisoned(path("/ecommerce/stores/s/products/p70").chain(["p70"])));
        f.poison("p7", false);
        assert!(!f.is_poisoned(path("/ecommerce/stores/s/products/p7")));
    }
}
