//! A client-side rate limiter: calls are spaced at least `1/qps` apart (a leaky bucket with a
//! burst of one), so a burst of uploads cannot push a service past its QPS quota and into
//! `RequestLimitExceeded`/429. Waiters reserve their slot under a short lock, then sleep outside it.

use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::Mutex;

#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Throttle {
    /// `qps` must be positive (config validation guarantees it).
    pub fn new(qps: f64) -> Self {
        Throttle {
            interval: Duration::from_secs_f64(1.0 / qps.max(1e-6)),
            next: Mutex::new(None),
        }
    }

    /// Wait for this caller's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = match *next {
                Some(t) if t > now => t,
                _ => now,
            };
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_by_the_interval() {
        let t = std::sync::Arc::new(Throttle::new(20.0));
        let start = tokio::time::Instant::now();
        let mut handles = Vec::new();
        for _ in 0..5 {
            let t = t.clone();
            handles.push(tokio::spawn(async move {
                t.acquire().await;
                tokio::time::Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap() - start);
        }
        times.sort();
        // 5 calls at 20 QPS: slots at 0, 50, 100, 150, 200 ms.
        assert_eq!(times.last().copied(), Some(Duration::from_millis(200)));
        assert_eq!(times[0], Duration::ZERO);
    }
}
