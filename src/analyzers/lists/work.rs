//! Hashing every sample of a load: from the cache, or decoded a few at a time within one
//! shared decode budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use sha2::{Digest, Sha256};

use super::hash::{Kind, Signature};
use super::walk::{read_sample, Entry};
use super::{decode, DecodeError, Hash, ImageLists, ListsError, SampleError};
use super::{FIRST_FRAME, MAX_DECODE_BYTES, MAX_WORKERS};

pub struct Hashed {
    pub sha: String,
    pub signature: Signature,
    pub decoded: bool,
}

/// Hash every entry, from the cache or by decoding, a few at a time within one shared decode
/// budget; the error of the first failing entry (by path) if any fails.
pub fn hash_all(
    entries: &[Entry],
    cached: &HashMap<String, Signature>,
) -> Result<Vec<Hashed>, ListsError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let budget = Budget::default();
    let results: Mutex<Vec<(usize, Result<Hashed, ListsError>)>> = Mutex::default();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
        .min(entries.len());
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= entries.len() || failed.load(Ordering::Relaxed) {
            return;
        }
        let result = hash_one(&entries[i], cached, &budget);
        if result.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        lock(&results).push((i, result));
    };
    std::thread::scope(|s| {
        for _ in 1..workers {
            s.spawn(work);
        }
        work();
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn hash_one(
    entry: &Entry,
    cached: &HashMap<String, Signature>,
    budget: &Budget,
) -> Result<Hashed, ListsError> {
    let bytes = read_sample(&entry.path)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let failed = |source| ListsError::Sample {
        path: entry.path.clone(),
        source,
    };
    let (signature, decoded) = match cached.get(&sha) {
        Some(signature) => (signature.clone(), false),
        None => {
            let plan = plan_sample(&bytes).map_err(failed)?;
            let _held = budget.reserve(plan.cost);
            (hash_planned(&bytes, &plan).map_err(failed)?.0, true)
        }
    };
    if signature.kind == Kind::Texture {
        return Err(failed(SampleError::Featureless));
    }
    Ok(Hashed {
        sha,
        signature,
        decoded,
    })
}

/// The decode plan of a sample, refused when over [`MAX_DECODE_BYTES`].
pub fn plan_sample(bytes: &[u8]) -> Result<decode::Plan, SampleError> {
    let format = crate::preflight::sniff(bytes).ok_or(SampleError::NotAnImage)?;
    let plan = decode::plan(bytes, format, FIRST_FRAME)?;
    if plan.cost > MAX_DECODE_BYTES {
        return Err(SampleError::OverBudget {
            need_mib: plan.cost.div_ceil(1 << 20),
        });
    }
    Ok(plan)
}

pub fn hash_planned(bytes: &[u8], plan: &decode::Plan) -> Result<Hash, SampleError> {
    let decoded = decode::decode(bytes, plan, FIRST_FRAME)?;
    let frame = decoded.frames.first().ok_or(DecodeError::Corrupt {
        format: plan.format.as_str(),
        message: "no frame".into(),
    })?;
    Ok(ImageLists::hash(&frame.image))
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes held by the decodes running side by side, at most [`MAX_DECODE_BYTES`] together.
#[derive(Default)]
pub struct Budget {
    pub used: Mutex<u64>,
    freed: Condvar,
}

pub struct Held<'a>(&'a Budget, u64);

impl Budget {
    /// Wait until `cost` (at most the whole budget) fits.
    pub fn reserve(&self, cost: u64) -> Held<'_> {
        let mut used = lock(&self.used);
        while *used > 0 && *used + cost > MAX_DECODE_BYTES {
            used = self.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += cost;
        Held(self, cost)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *lock(&self.0.used) -= self.1;
        self.0.freed.notify_all();
    }
}
