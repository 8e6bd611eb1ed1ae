//! One computation for identical reads that arrive together.
//!
//! The overview is the same for every caller and costs the same whoever asks; fifty
//! dashboards polling it at once would otherwise compute it fifty times side by side on the
//! same cores. `SharedRead` lets one computation run at a time: a request waits for the one
//! in flight, then takes the answer of a computation that *started after it arrived* (so
//! it never sees a state older than itself, exactly as if it had computed alone), or runs
//! the next one itself. Under load, one computation answers every request that queued
//! behind the previous one; alone, a request computes as before.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The number of a computation and its outcome.
type Numbered<T, E> = (u64, Result<Arc<T>, E>);

/// See the module documentation.
pub(crate) struct SharedRead<T, E> {
    /// Computations started so far; each takes the next number.
    started: AtomicU64,
    /// Held while a computation runs (waiters are served in arrival order).
    turn: tokio::sync::Mutex<()>,
    /// The number and outcome of the latest computation that finished.
    latest: Mutex<Option<Numbered<T, E>>>,
}

impl<T, E: Clone> SharedRead<T, E> {
    pub(crate) fn new() -> Self {
        SharedRead {
            started: AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
            latest: Mutex::new(None),
        }
    }

    /// The outcome of a run of `compute` that started after this call did.
    pub(crate) async fn get<F, Fut>(&self, compute: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let arrived = self.started.load(Ordering::SeqCst);
        let _turn = self.turn.lock().await;
        if let Some(outcome) = self.finished_after(arrived) {
            return outcome;
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let outcome = compute().await.map(Arc::new);
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some((number, outcome.clone()));
        outcome
    }

    /// The latest outcome, if its computation started after `arrived` computations had.
    fn finished_after(&self, arrived: u64) -> Option<Result<Arc<T>, E>> {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        match &*latest {
            Some((number, outcome)) if *number > arrived => Some(outcome.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn requests_queued_behind_a_computation_share_the_next_one() {
        let shared = Arc::new(SharedRead::<usize, String>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let compute = |shared: Arc<SharedRead<usize, String>>, runs: Arc<AtomicUsize>| async move {
            shared
                .get(|| async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(runs.fetch_add(1, Ordering::SeqCst) + 1)
                })
                .await
        };
        // One computation in flight, then ten requests arrive while it runs.
        let first = tokio::spawn(compute(shared.clone(), runs.clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let waiters: Vec<_> = (0..10)
            .map(|_| tokio::spawn(compute(shared.clone(), runs.clone())))
            .collect();
        assert_eq!(*first.await.unwrap().unwrap(), 1);
        for waiter in waiters {
            // Not the answer that was in flight when they arrived: the next one, shared.
            assert_eq!(*waiter.await.unwrap().unwrap(), 2);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // A request that arrives later computes again.
        assert_eq!(*compute(shared, runs).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_failure_is_shared_and_not_kept() {
        let shared = SharedRead::<u32, String>::new();
        assert_eq!(
            shared.get(|| async { Err("down".to_owned()) }).await,
            Err("down".to_owned())
        );
        assert_eq!(*shared.get(|| async { Ok(7) }).await.unwrap(), 7);
    }
}
