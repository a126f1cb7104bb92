//! The one retry loop: rate limit, per-attempt timeout, backoff with jitter, and a stop at
//! `max_attempts` or when the next wait would cross the invocation deadline (then the last
//! error is returned, still marked retryable, so the platform's own retry can take over).

use std::future::Future;
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::{deadline, Service};

/// Errors say whether trying again can help, and may carry the server's `Retry-After`.
pub trait Retryable {
    fn retryable(&self) -> bool;
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// A `Retry-After` header in seconds (the HTTP-date form is not sent by the services we call).
pub fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// An attempt that ran past the service's per-call timeout. Always retryable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service}: no response within {after:?}")]
pub struct TimedOut {
    pub service: String,
    pub after: Duration,
}

/// Time kept back from the deadline for writing results after the last attempt.
const DEADLINE_RESERVE: Duration = Duration::from_millis(500);

pub(super) async fn call<T, E, F, Fut>(service: &Service, mut attempt: F) -> Result<T, E>
where
    E: Retryable + From<TimedOut>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let backoff = Backoff::default();
    let max_attempts = service.tuning.max_attempts.max(1);
    let mut n = 0;
    loop {
        n += 1;
        if let Some(t) = service.throttle() {
            t.acquire().await;
        }
        let timeout = match deadline::remaining(DEADLINE_RESERVE) {
            Some(left) => service
                .tuning
                .timeout
                .min(left.max(Duration::from_millis(1))),
            None => service.tuning.timeout,
        };
        let result = match tokio::time::timeout(timeout, attempt()).await {
            Ok(r) => r,
            Err(_) => Err(E::from(TimedOut {
                service: service.name.clone(),
                after: timeout,
            })),
        };
        let err = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.retryable() || n >= max_attempts {
            return Err(err);
        }
        let wait = err
            .retry_after()
            .map(|d| d.min(backoff.max))
            .unwrap_or_else(|| backoff.wait(n - 1));
        if let Some(d) = deadline::current() {
            if Instant::now() + wait + DEADLINE_RESERVE >= d {
                tracing::warn!(service = %service.name, attempt = n, "no time left before the deadline; giving up retrying");
                return Err(err);
            }
        }
        tracing::info!(service = %service.name, attempt = n, wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Tuning;
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, PartialEq)]
    enum E {
        Busy,
        Bad,
        Slow,
    }
    impl Retryable for E {
        fn retryable(&self) -> bool {
            !matches!(self, E::Bad)
        }
    }
    impl From<TimedOut> for E {
        fn from(_: TimedOut) -> Self {
            E::Slow
        }
    }

    fn svc(attempts: u32, timeout_ms: u64) -> Service {
        Service::new(
            "test",
            Tuning::new(None, Duration::from_millis(timeout_ms), attempts),
        )
    }

    #[tokio::test]
    async fn retries_retryable_errors_until_success() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, E> = svc(4, 1000)
            .call(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(E::Busy),
                    n => Ok(n),
                }
            })
            .await;
        assert_eq!(r, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<(), E> = svc(4, 1000)
            .call(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(E::Bad)
            })
            .await;
        assert_eq!(r, Err(E::Bad));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stops_at_max_attempts_and_times_out_slow_calls() {
        let calls = AtomicU32::new(0);
        let r: Result<(), E> = svc(2, 20)
            .call(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        assert_eq!(r, Err(E::Slow));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn gives_up_rather_than_cross_the_deadline() {
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_millis(600);
        let r: Result<(), E> = deadline::scope(
            Some(deadline),
            svc(50, 1000).call(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(E::Busy)
            }),
        )
        .await;
        assert_eq!(r, Err(E::Busy));
        // Generous: only "it did not keep retrying for the whole 50 attempts" matters here.
        assert!(Instant::now() < deadline + Duration::from_secs(2));
        assert!(calls.load(Ordering::SeqCst) < 50);
    }
}
