//! Rate limits per source: what the source's `X-RateLimit-*` and `Retry-After` headers say,
//! and local counting when the source configures `rateLimitLimit` and `rateLimitWindow`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::db::sql::Bind;
use crate::db::{Conn, DbError, SOURCE};

/// Parsed once: a name given as text is parsed on every lookup, on every call.
static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Values of `X-RateLimit-Reset` below this are seconds from now, above it a Unix time.
const RESET_IS_TIMESTAMP_FROM: u64 = 1_000_000_000;

#[derive(Debug, Default, Clone, Copy)]
struct LimitState {
    remaining: Option<i64>,
    /// Unix seconds when the window resets.
    reset: Option<u64>,
}

/// A source's configured local limit.
#[derive(Debug, Clone, Copy)]
pub struct LocalLimit {
    pub limit: i64,
    pub window: u64,
}

#[derive(Default)]
pub struct RateLimits {
    states: Mutex<HashMap<i64, LimitState>>,
    /// Set once any source's state is kept: until then a call without a configured limit
    /// has nothing to look up.
    tracked: AtomicBool,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl RateLimits {
    /// Only for what keeps or reads a state: a configured limit, limit headers, or a failed
    /// call once something is tracked.
    fn with_state<T>(&self, source: i64, work: impl FnOnce(&mut LimitState) -> T) -> T {
        if !self.tracked.load(Ordering::Relaxed) {
            self.tracked.store(true, Ordering::Relaxed);
        }
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(states.entry(source).or_default())
    }

    /// Takes one call from the source's budget. `Err` holds how long until the budget resets
    /// when it is spent; nothing is taken then.
    pub fn acquire(&self, source: i64, local: Option<LocalLimit>) -> Result<(), Duration> {
        if local.is_none() && !self.tracked.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.with_state(source, |state| {
            // Nothing counted: the common case reads no clock.
            if state.remaining.is_none() && state.reset.is_none() && local.is_none() {
                return Ok(());
            }
            let now = now();
            if state.reset.is_some_and(|reset| reset <= now) {
                *state = LimitState::default();
            }
            if let Some(local) = local {
                if state.reset.is_none() {
                    state.reset = Some(now + local.window);
                    state.remaining = Some(local.limit);
                }
            }
            match (state.remaining, state.reset) {
                (Some(remaining), Some(reset)) if remaining <= 0 => {
                    Err(Duration::from_secs(reset.saturating_sub(now).max(1)))
                }
                (Some(remaining), _) => {
                    state.remaining = Some(remaining - 1);
                    Ok(())
                }
                _ => Ok(()),
            }
        })
    }

    /// Updates the budget from a response's headers. Returns how long to wait before calling
    /// again when the response says so (`Retry-After`, or a spent budget).
    pub fn observe(&self, source: i64, status: u16, headers: &HeaderMap) -> Option<Duration> {
        // One pass over a response's few headers costs less than three hashed lookups.
        let number = |value: &HeaderValue| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (mut remaining, mut reset, mut says_retry) = (None, None, false);
        for (name, value) in headers {
            if name == RETRY_AFTER {
                says_retry = true;
            } else if *name == REMAINING {
                remaining = remaining.or_else(|| number(value));
            } else if *name == RESET {
                reset = reset.or_else(|| number(value));
            }
        }
        // A response that says nothing of limits changes nothing. A success's wait is never
        // asked; a failure's is that of a spent budget, and there is none while nothing is
        // tracked.
        if remaining.is_none()
            && reset.is_none()
            && !says_retry
            && (status < 400 || !self.tracked.load(Ordering::Relaxed))
        {
            return None;
        }
        let now = now();
        let retry_after = says_retry.then(|| retry_after(headers, now)).flatten();
        self.with_state(source, |state| {
            if let Some(remaining) = remaining {
                state.remaining = i64::try_from(remaining).ok();
            }
            if let Some(reset) = reset {
                state.reset = Some(if reset < RESET_IS_TIMESTAMP_FROM {
                    now + reset
                } else {
                    reset
                });
            }
            if let Some(wait) = retry_after.filter(|_| status == 429 || status == 503) {
                state.remaining = Some(0);
                state.reset = Some(now + wait.as_secs().max(1));
            }
            match (state.remaining, state.reset) {
                (Some(remaining), Some(reset)) if remaining <= 0 && reset > now => {
                    Some(Duration::from_secs(reset - now))
                }
                _ => retry_after.filter(|_| status == 429 || status == 503),
            }
        })
    }
}

/// Takes one call from a source's configured budget (`rateLimitLimit` calls per
/// `rateLimitWindow` seconds), counted in the source's row (`rateLimitRemaining`,
/// `rateLimitReset`) so that every replica on one database draws from the same budget. Each
/// step is one conditional statement, atomic on every backend. `Err` holds how long until the
/// budget resets when it is spent.
pub fn take_shared(
    conn: &mut Conn,
    source: i64,
    local: LocalLimit,
    now: u64,
) -> Result<Result<(), Duration>, DbError> {
    let (table, _) = conn.table(&SOURCE);
    let table = table.to_owned();
    let now_bind = || Bind::Int(i64::try_from(now).ok());
    let mut take = conn.sql();
    take.keep_prepared()
        .push(&format!(
            "UPDATE {table} SET rate_limit_remaining = rate_limit_remaining - 1 WHERE id = "
        ))
        .bind(Bind::Int(Some(source)))
        .push(" AND rate_limit_reset > ")
        .bind(now_bind())
        .push(" AND rate_limit_remaining > 0");
    if conn.execute(&take)? == 1 {
        return Ok(Ok(()));
    }
    // No open window (none yet, or it has passed): open one with this call taken from it.
    let mut open = conn.sql();
    open.keep_prepared()
        .push(&format!("UPDATE {table} SET rate_limit_remaining = "))
        .bind(Bind::Int(Some(local.limit - 1)))
        .push(", rate_limit_reset = ")
        .bind(Bind::Int(i64::try_from(now + local.window).ok()))
        .push(" WHERE id = ")
        .bind(Bind::Int(Some(source)))
        .push(" AND (rate_limit_reset IS NULL OR rate_limit_reset <= ")
        .bind(now_bind())
        .push(" OR rate_limit_remaining IS NULL)");
    if local.limit > 0 && conn.execute(&open)? == 1 {
        return Ok(Ok(()));
    }
    let mut reset = conn.sql();
    reset
        .keep_prepared()
        .push(&format!(
            "SELECT CAST(rate_limit_reset AS {}) FROM {table} WHERE id = ",
            conn.text_type()
        ))
        .bind(Bind::Int(Some(source)));
    let reset_at = conn
        .load(&reset)?
        .into_iter()
        .next()
        .and_then(|row| row.0.into_iter().next().flatten())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(now + local.window);
    Ok(Err(Duration::from_secs(
        reset_at.saturating_sub(now).max(1),
    )))
}

/// When a refused call (429, 503) may be made again, as a Unix time: `Retry-After`, else
/// `X-RateLimit-Reset` (seconds from now, or a Unix time).
pub fn reset_at(status: u16, headers: &HeaderMap, now: u64) -> Option<u64> {
    if status != 429 && status != 503 {
        return None;
    }
    if let Some(wait) = retry_after(headers, now) {
        return Some(now + wait.as_secs());
    }
    let reset = headers
        .get(&RESET)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(if reset < RESET_IS_TIMESTAMP_FROM {
        now + reset
    } else {
        reset
    })
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: u64) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let at = date.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_says_something_of_limits_starts_the_bookkeeping() {
        let limits = RateLimits::default();
        assert_eq!(limits.observe(1, 500, &HeaderMap::new()), None);
        assert_eq!(limits.observe(1, 200, &HeaderMap::new()), None);
        assert_eq!(limits.acquire(1, None), Ok(()));
        assert!(
            !limits.tracked.load(Ordering::Relaxed),
            "nothing to keep yet"
        );
        let spent = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "60")]);
        assert!(limits.observe(1, 200, &spent).is_some());
        assert!(limits.tracked.load(Ordering::Relaxed));
        assert!(limits.acquire(1, None).is_err(), "the spent budget is kept");
        assert!(limits.observe(1, 500, &HeaderMap::new()).is_some());
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn a_local_window_allows_its_limit_then_refuses() {
        let limits = RateLimits::default();
        let local = Some(LocalLimit {
            limit: 2,
            window: 60,
        });
        assert!(limits.acquire(1, local).is_ok());
        assert!(limits.acquire(1, local).is_ok());
        let wait = limits.acquire(1, local).expect_err("spent");
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(59));
        assert!(
            limits.acquire(2, local).is_ok(),
            "each source has its own budget"
        );
    }

    #[test]
    fn headers_set_the_budget_and_retry_after_reads_both_forms() {
        let limits = RateLimits::default();
        assert_eq!(
            limits.observe(
                1,
                200,
                &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "30")])
            ),
            Some(Duration::from_secs(30))
        );
        assert!(limits.acquire(1, None).is_err());
        assert_eq!(
            limits.observe(2, 429, &headers(&[("retry-after", "5")])),
            Some(Duration::from_secs(5))
        );
        let later = SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        let wait = retry_after(&headers(&[("retry-after", &date)]), now()).expect("a date");
        assert!(wait >= Duration::from_secs(118) && wait <= Duration::from_secs(120));
        assert_eq!(
            limits.observe(3, 200, &headers(&[("x-ratelimit-remaining", "10")])),
            None
        );
    }
}
