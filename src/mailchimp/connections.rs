//! A key's connections (Mailchimp allows 10 at once), shared by everything that uses the key,
//! with two priorities. The shop's records (uploads, live sync, settings) come first. Work
//! the shop does not wait on, the consent of customers under double opt-in, takes a
//! connection only while no record is waiting for one, so a direct upload keeps all 10
//! connections busy with its own records. It is never starved for long: a request that has
//! waited [`BACKGROUND_MAX_WAIT`] queues like any other.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// How long a background request gives way before it queues with the rest.
pub const BACKGROUND_MAX_WAIT: Duration = Duration::from_secs(30);

/// Which queue a request joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// What the shop waits on.
    #[default]
    Records,
    /// What may wait while records are sent.
    Background,
}

/// A key's connection permits.
#[derive(Debug)]
pub struct Connections {
    permits: Semaphore,
    /// Requests of [`Priority::Records`] waiting for a permit.
    waiting: AtomicUsize,
    /// Rung when a permit comes back or no record waits any more.
    freed: Notify,
}

/// One connection, given back when dropped.
pub struct Connection<'a> {
    permit: Option<SemaphorePermit<'a>>,
    freed: &'a Notify,
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        // The permit goes back first: a background request woken by the ring must find it.
        drop(self.permit.take());
        self.freed.notify_waiters();
    }
}

impl Connections {
    /// `n` connections at once.
    pub fn new(n: usize) -> Self {
        Self {
            permits: Semaphore::new(n),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    /// A connection for a request of `priority`.
    pub async fn acquire(&self, priority: Priority) -> Connection<'_> {
        let permit = match priority {
            Priority::Records => self.for_records().await,
            Priority::Background => self.for_background().await,
        };
        Connection {
            permit: Some(permit),
            freed: &self.freed,
        }
    }

    async fn for_records(&self) -> SemaphorePermit<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let permit = self.permits.acquire().await;
        if self.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.freed.notify_waiters();
        }
        permit.expect("the semaphore is never closed")
    }

    async fn for_background(&self) -> SemaphorePermit<'_> {
        let deadline = tokio::time::Instant::now() + BACKGROUND_MAX_WAIT;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a ring between the look and the wait is not lost.
            freed.as_mut().enable();
            if self.waiting.load(Ordering::SeqCst) == 0
                && let Ok(permit) = self.permits.try_acquire()
            {
                return permit;
            }
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep_until(deadline) => return self.for_records().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn records_waiting_go_before_background_work_and_background_work_goes_when_idle() {
        let c = Arc::new(Connections::new(1));
        let held = c.acquire(Priority::Records).await;
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let background = tokio::spawn({
            let (c, order) = (c.clone(), order.clone());
            async move {
                let _c = c.acquire(Priority::Background).await;
                order.lock().unwrap().push("background");
            }
        });
        tokio::task::yield_now().await;
        let records = tokio::spawn({
            let (c, order) = (c.clone(), order.clone());
            async move {
                let _c = c.acquire(Priority::Records).await;
                order.lock().unwrap().push("records");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        records.await.unwrap();
        background.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["records", "background"]);
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_queues_with_the_rest_after_waiting_its_longest() {
        let c = Arc::new(Connections::new(1));
        // Records keep the one connection busy and always have one more waiting.
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move {
                    loop {
                        let _c = c.acquire(Priority::Records).await;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let started = tokio::time::Instant::now();
        let _c = c.acquire(Priority::Background).await;
        let waited = started.elapsed();
        assert!(waited >= BACKGROUND_MAX_WAIT, "{waited:?}");
        assert!(
            waited < BACKGROUND_MAX_WAIT + Duration::from_secs(1),
            "{waited:?}"
        );
        busy.iter().for_each(tokio::task::JoinHandle::abort);
    }
}
