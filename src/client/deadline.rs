//! The invocation's deadline, visible to every retry loop under it without threading it through
//! each call. Runtimes that know their deadline (Lambda's context, SCF/FunctionGraph headers)
//! run the handler inside [`scope`]; elsewhere there is none and retries stop at `max_attempts`.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Run `fut` with `deadline` as the invocation deadline.
pub async fn scope<F: Future>(deadline: Option<Instant>, fut: F) -> F::Output {
    match deadline {
        Some(d) => DEADLINE.scope(d, fut).await,
        None => fut.await,
    }
}

/// The current invocation's deadline, if a runtime set one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before the deadline, leaving `reserve` for writing results.
pub fn remaining(reserve: std::time::Duration) -> Option<std::time::Duration> {
    current().map(|d| {
        d.saturating_duration_since(Instant::now())
            .saturating_sub(reserve)
    })
}

/// A deadline given as Unix epoch milliseconds (Lambda's `Lambda-Runtime-Deadline-Ms`, SCF and
/// FunctionGraph equivalents) as an `Instant`; `None` when it is zero or already past.
pub fn from_epoch_ms(ms: u64) -> Option<Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = ms.checked_sub(now_ms).filter(|l| *l > 0)?;
    Some(Instant::now() + std::time::Duration::from_millis(left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn visible_inside_the_scope_only() {
        assert!(current().is_none());
        let d = Instant::now() + Duration::from_secs(3);
        let seen = scope(Some(d), async { current() }).await;
        assert_eq!(seen, Some(d));
        assert!(current().is_none());
    }
}
