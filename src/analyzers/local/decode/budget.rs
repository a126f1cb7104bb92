//! One decode budget per process: every object's decode reserves its planned cost first, so
//! concurrent objects (`serve`, `scan`, `poll-sqs`) wait for each other instead of adding up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{DecodeError, Plan};

const KIB: u64 = 1024;

#[derive(Clone)]
pub struct Budget {
    mib: u64,
    permits: Arc<Semaphore>,
}

impl Budget {
    /// The process's budget of `mib` MiB (one per size, so every pipeline of a process with the
    /// same configuration shares it).
    pub fn shared(mib: u64) -> Budget {
        static BUDGETS: OnceLock<Mutex<BTreeMap<u64, Arc<Semaphore>>>> = OnceLock::new();
        let mut all = BUDGETS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let permits = all
            .entry(mib)
            .or_insert_with(|| Arc::new(Semaphore::new(kib(mib * KIB * KIB) as usize)))
            .clone();
        Budget { mib, permits }
    }

    /// Wait until `plan`'s cost is free; refuse at once what the whole budget cannot hold.
    pub async fn reserve(&self, plan: &Plan) -> Result<OwnedSemaphorePermit, DecodeError> {
        let need = kib(plan.cost);
        if need > kib(self.mib * KIB * KIB) {
            return Err(DecodeError::OverBudget {
                format: plan.format.as_str(),
                width: plan.width,
                height: plan.height,
                need_mib: plan.cost.div_ceil(KIB * KIB),
                budget_mib: self.mib,
            });
        }
        let need = u32::try_from(need).unwrap_or(u32::MAX);
        self.permits
            .clone()
            .acquire_many_owned(need)
            .await
            // The semaphore is never closed.
            .map_err(|e| DecodeError::Corrupt {
                format: plan.format.as_str(),
                message: e.to_string(),
            })
    }
}

fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(KIB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::ImageFormat;

    fn plan(mib: u64) -> Plan {
        Plan {
            format: ImageFormat::Png,
            width: 1,
            height: 1,
            cost: mib * KIB * KIB,
        }
    }

    #[tokio::test]
    async fn concurrent_reservations_share_one_budget() {
        let b = Budget::shared(7);
        let first = b.reserve(&plan(5)).await.unwrap();
        // 5 + 5 > 7: the second waits until the first is released.
        let again = Budget::shared(7);
        let waiting = tokio::spawn(async move { again.reserve(&plan(5)).await.map(drop) });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap().unwrap();
        assert!(matches!(
            b.reserve(&plan(8)).await,
            Err(DecodeError::OverBudget {
                need_mib: 8,
                budget_mib: 7,
                ..
            })
        ));
    }
}
