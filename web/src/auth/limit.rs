//! The login's rate limit: at most `MAX_FAILURES` failed logins per client address and per
//! username within `WINDOW`; beyond that, logins are refused (429) until the oldest failure
//! leaves the window. Kept in memory: a restart forgets it, which only helps the owner.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed per key within `WINDOW`.
pub const MAX_FAILURES: usize = 5;

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(300);

/// Keys tracked at most; past that, the stalest are forgotten first.
const MAX_KEYS: usize = 10_000;

/// Failed logins per key (`ip:...`, `user:...`).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// When any of `keys` may try again, if one of them is over the limit now.
    pub fn retry_after(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|key| {
                let times = failures.get_mut(key)?;
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    times.pop_front();
                }
                (times.len() >= MAX_FAILURES)
                    .then(|| WINDOW.saturating_sub(now.duration_since(times[0])))
            })
            .max()
    }

    /// Counts a failed login against each of `keys`.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > MAX_FAILURES {
                times.pop_front();
            }
        }
    }

    /// Forgets the failures of `key` (a successful login of that user).
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_try_within_the_window_is_refused() {
        let limiter = LoginLimiter::default();
        let keys = vec!["ip:127.0.0.1".to_owned(), "user:alice".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert_eq!(limiter.retry_after(&keys), None);
            limiter.failed(&keys);
        }
        let wait = limiter.retry_after(&keys).expect("limited");
        assert!(
            wait > Duration::from_secs(290) && wait <= WINDOW,
            "{wait:?}"
        );
        assert!(limiter.retry_after(&["user:alice".to_owned()]).is_some());
        limiter.succeeded("user:alice");
        assert!(limiter.retry_after(&["user:alice".to_owned()]).is_none());
        assert!(limiter.retry_after(&["ip:127.0.0.2".to_owned()]).is_none());
    }
}
