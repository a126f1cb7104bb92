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

/// The longest time budget a platform value is taken to mean: longer than any function platform
/// allows, short enough that adding it to a clock never overflows.
pub const MAX_BUDGET: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `now + budget` for a budget a platform sent, capped at [`MAX_BUDGET`]; `None` for zero.
pub fn after(budget: std::time::Duration) -> Option<Instant> {
    if budget.is_zero() {
        return None;
    }
    Instant::now().checked_add(budget.min(MAX_BUDGET))
}

/// A budget in milliseconds, as platforms send it in headers (`time_limit_in_ms`,
/// `X-Scf-Timeout`): the deadline, or `None` when the text is not a number or zero.
pub fn after_ms_text(text: &str) -> Option<Instant> {
    let ms = text.trim().parse::<u64>().ok()?;
    after(std::time::Duration::from_millis(ms))
}

/// A budget in seconds that may have a fraction (`X-CFF-Timeout`, `RUNTIME_TIMEOUT`): `None`
/// for anything not a finite positive number (`inf`, `NaN`, `-1`, `1e400`).
pub fn secs_f64(secs: f64) -> Option<std::time::Duration> {
    if !(secs.is_finite() && secs > 0.0) {
        return None;
    }
    std::time::Duration::try_from_secs_f64(secs.min(MAX_BUDGET.as_secs_f64())).ok()
}

/// A deadline given as Unix epoch milliseconds (Lambda's `Lambda-Runtime-Deadline-Ms`, SCF and
/// FunctionGraph equivalents) as an `Instant`; `None` when it is zero or already past.
pub fn from_epoch_ms(ms: u64) -> Option<Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = ms.checked_sub(now_ms).filter(|l| *l > 0)?;
    after(std::time::Duration::from_millis(left))
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
