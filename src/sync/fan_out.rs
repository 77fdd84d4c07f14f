//! Work on many records at once, at most `limit` tasks in flight. Each task is keyed by its
//! record, so that a task that panics comes back as that record's failure: counted, listed and
//! retried like any failure, never lost between a cursor and the next window.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinSet};

/// Records pushed at once by one fan-out. Mailchimp's limit of connections per key bounds
/// what is on the wire; this bounds what waits for it.
pub const FAN_OUT: usize = 50;

/// A task that panicked (a bug): its record is reported failed, the rest go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mcsync failed on this record (an internal error; it is logged)")]
pub struct Panicked;

/// Tasks in flight, each keyed by its record, with the results of those that ended while others were being started.
pub struct FanOut<K, T> {
    tasks: JoinSet<T>,
    keys: HashMap<Id, K>,
    done: Vec<(K, Result<T, Panicked>)>,
    limit: usize,
}

impl<K, T: Send + 'static> FanOut<K, T> {
    /// A fan-out of at most `limit` tasks at once.
    pub fn new(limit: usize) -> Self {
        Self {
            tasks: JoinSet::new(),
            keys: HashMap::new(),
            done: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// Starts `work` for `key`, first waiting for a task to end while `limit` are running.
    pub async fn spawn(&mut self, key: K, work: impl Future<Output = T> + Send + 'static) {
        while self.tasks.len() >= self.limit {
            if let Some(next) = self.join_one().await {
                self.done.push(next);
            }
        }
        let handle = self.tasks.spawn(work);
        self.keys.insert(handle.id(), key);
    }

    /// Tasks started whose results are not taken yet.
    pub fn running(&self) -> usize {
        self.tasks.len() + self.done.len()
    }

    /// Whether no task was started (or all results were taken).
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.done.is_empty()
    }

    /// Every task's key and result, in the order they ended.
    pub async fn join_all(mut self) -> Vec<(K, Result<T, Panicked>)> {
        while let Some(next) = self.join_one().await {
            self.done.push(next);
        }
        self.done
    }

    /// The next task to end, with its key; `None` when all have. Dropping the fan-out stops
    /// the tasks still running (a job that stops does not keep sending).
    pub async fn next(&mut self) -> Option<(K, Result<T, Panicked>)> {
        match self.done.pop() {
            Some(ended) => Some(ended),
            None => self.join_one().await,
        }
    }

    /// The tasks that have ended by now, without waiting for any other.
    pub fn ended(&mut self) -> Vec<(K, Result<T, Panicked>)> {
        let mut out = std::mem::take(&mut self.done);
        while let Some(joined) = self.tasks.try_join_next_with_id() {
            out.push(self.keyed(joined));
        }
        out
    }

    fn keyed(
        &mut self,
        joined: Result<(Id, T), tokio::task::JoinError>,
    ) -> (K, Result<T, Panicked>) {
        let (id, result) = match joined {
            Ok((id, value)) => (id, Ok(value)),
            Err(e) => {
                tracing::error!(error = %e, "a task panicked; its record is reported failed");
                (e.id(), Err(Panicked))
            }
        };
        let key = self
            .keys
            .remove(&id)
            .expect("every task is spawned with its key");
        (key, result)
    }

    async fn join_one(&mut self) -> Option<(K, Result<T, Panicked>)> {
        let joined = self.tasks.join_next_with_id().await?;
        Some(self.keyed(joined))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicked_task_comes_back_as_its_keys_failure() {
        let mut fan = FanOut::new(2);
        for i in 0..5u32 {
            fan.spawn(i, async move {
                assert!(i != 3, "boom");
                i * 10
            })
            .await;
        }
        let mut results = fan.join_all().await;
        results.sort_by_key(|(k, _)| *k);
        let expected: Vec<_> = (0..5u32)
            .map(|i| (i, if i == 3 { Err(Panicked) } else { Ok(i * 10) }))
            .collect();
        assert_eq!(results, expected);
    }
}
