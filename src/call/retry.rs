//! When to try a call again and how long to wait: transient failures only, on idempotent
//! methods unless the source allows more, with exponential backoff and full jitter; a wait the
//! server asks for (`Retry-After`, a spent rate limit) wins over the computed one.

use std::time::Duration;

use reqwest::Method;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
    /// The longest server-requested wait we sit out; a longer one ends the call.
    pub max_wait: Duration,
    /// Retry non-idempotent methods too (configuration `retry.allMethods`).
    pub all_methods: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
            all_methods: false,
        }
    }
}

impl RetryPolicy {
    /// Whether a failed attempt (status, or `None` for a connection error or timeout) may be
    /// retried.
    pub fn retryable(&self, method: &Method, status: Option<u16>, attempt: u32) -> bool {
        let idempotent = matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let transient = status.is_none_or(|s| matches!(s, 429 | 502 | 503 | 504));
        attempt < self.max_retries && transient && (idempotent || self.all_methods)
    }

    /// The wait before attempt `attempt + 1`; `None` when the server asks for longer than we
    /// wait.
    pub fn delay(&self, attempt: u32, requested: Option<Duration>) -> Option<Duration> {
        if let Some(requested) = requested {
            return (requested <= self.max_wait).then_some(requested);
        }
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.cap);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Some(Duration::from_millis(fastrand::u64(0..=millis)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_of_idempotent_calls_are_retried() {
        let policy = RetryPolicy::default();
        assert!(policy.retryable(&Method::GET, Some(503), 0));
        assert!(policy.retryable(&Method::GET, None, 1));
        assert!(!policy.retryable(&Method::GET, Some(503), 2), "bounded");
        assert!(!policy.retryable(&Method::GET, Some(500), 0));
        assert!(!policy.retryable(&Method::GET, Some(404), 0));
        assert!(!policy.retryable(&Method::POST, Some(503), 0));
        assert!(
            RetryPolicy {
                all_methods: true,
                ..policy
            }
            .retryable(&Method::POST, Some(503), 0)
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_server_waits_win() {
        let policy = RetryPolicy::default();
        for attempt in 0..5 {
            let ceiling =
                Duration::from_millis(200 * 2u64.pow(attempt)).min(Duration::from_secs(10));
            assert!(policy.delay(attempt, None).is_some_and(|d| d <= ceiling));
        }
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(policy.delay(0, Some(Duration::from_secs(600))), None);
    }
}
