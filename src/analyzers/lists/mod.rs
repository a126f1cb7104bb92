//! Image sample lists (`TRIAGE_IMAGE_LISTS`): a directory of known-bad (`block/`, optionally
//! `block/<category>/`) and known-good (`allow/`) sample images. Every upload's perceptual hash
//! is compared with the samples'; a match survives what re-uploads do (resizing,
//! re-compression, a format change, a small solid border).
//!
//! Samples go through the same path as uploads: the project's bounded decoder reduces the first
//! frame ([`decode::plan`], [`decode::decode`]) and [`ImageLists::hash`] hashes it (see
//! `hash.rs` for the hash and the measurements behind it). Their hashes are cached on disk by
//! the sha256 of each file (`cache.rs`). A lookup is a linear scan of 256-bit hashes with
//! popcount: a few microseconds for thousands of samples (`cargo bench --bench lists`).

mod cache;
mod hash;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use image::RgbImage;
use sha2::{Digest, Sha256};

use crate::analyzers::local::decode::{self, DecodeError};
use crate::analyzers::sampling::FrameSampling;
use crate::result::{ListKind, ListMatch};
use hash::{Kind, Signature};

/// A sample's decode may hold at most this much at its peak (and all decodes of a load
/// together, as they run side by side).
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// The largest sample file read (the local decoders' own limit).
pub const MAX_SAMPLE_BYTES: u64 = 64 * 1024 * 1024;
/// File name extensions of samples (any case): the formats the local decoders read.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "ico",
];
/// Samples decoded side by side on a cold start.
const MAX_WORKERS: usize = 4;
/// The first frame only: an animation is listed by how it first shows.
const FIRST_FRAME: FrameSampling = FrameSampling {
    interval: 0,
    max_frames: 1,
};

/// The samples' hashes, ready for lookups.
pub struct ImageLists {
    /// DCT hashes, apart from the rest so that the scan reads 32 bytes per sample.
    dct: Vec<[u64; 4]>,
    signatures: Vec<Signature>,
    samples: Vec<Sample>,
    decoded: usize,
    cache_file: Option<PathBuf>,
}

struct Sample {
    /// Relative to the lists directory, `/`-separated.
    rel: String,
    list: ListKind,
    category: Option<String>,
}

/// One image's perceptual hash (see [`ImageLists::hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hash(Signature);

/// How two hashes compare, for diagnostics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// Differing bits of the 256-bit DCT hashes and of the 144-bit gradient hashes.
    pub dct_bits: u32,
    pub gradient_bits: u32,
    /// Mean difference of the 4×4 mean colours (0-255).
    pub tone: u32,
    /// Whether [`ImageLists::find`] takes them for the same picture.
    pub matches: bool,
}

impl Hash {
    pub fn compare(&self, other: &Hash) -> Comparison {
        let (dct_bits, gradient_bits) = self.0.bits(&other.0);
        Comparison {
            dct_bits,
            gradient_bits,
            tone: self.0.tone_distance(&other.0),
            matches: self.0.matches(&other.0, dct_bits).is_some(),
        }
    }

    /// False for a frame of fine texture only (no shape at the hash's scale): it matches
    /// nothing, and a sample like it is refused.
    pub fn is_matchable(&self) -> bool {
        self.0.kind != Kind::Texture
    }
}

/// Why one sample could not be hashed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("not an image the local decoders read (JPEG, PNG, GIF, WebP, TIFF, BMP, ICO)")]
    NotAnImage,
    #[error("decoding it would need about {need_mib} MiB, more than the {} MiB a sample may use", MAX_DECODE_BYTES >> 20)]
    OverBudget { need_mib: u64 },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("it has no shape a perceptual hash can follow (fine texture that averages to one colour), so it would match unrelated images")]
    Featureless,
}

#[derive(Debug, thiserror::Error)]
pub enum ListsError {
    #[error("image lists directory {} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("image lists directory {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("image lists: reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("image lists directory {} holds no sample: put images in allow/ or block/ (optionally block/<category>/)", .0.display())]
    Empty(PathBuf),
    #[error("image lists: unexpected {}: {why}", path.display())]
    Unexpected { path: PathBuf, why: &'static str },
    #[error("image lists: category folder {}: the name must be 1-32 of a-z, 0-9, '_' and '-' (lower case is taken as given)", .0.display())]
    BadCategory(PathBuf),
    #[error("image lists: sample {} is {bytes} bytes, more than {} MiB", path.display(), MAX_SAMPLE_BYTES >> 20)]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error("image lists: sample {}: {source}", path.display())]
    Sample { path: PathBuf, source: SampleError },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ListsError + '_ {
    move |source| ListsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A sample file found by the walk.
struct Entry {
    rel: String,
    path: PathBuf,
    list: ListKind,
    category: Option<String>,
}

impl ImageLists {
    /// Start-up check without decoding: `dir` holds `allow/` and/or `block/` (optionally
    /// `block/<category>/`) with at least one sample, nothing else at the top level except
    /// dot-files, category names of `[a-z0-9_-]{1,32}` once lower-cased, and samples that are
    /// files with an image extension. Returns the lists' fingerprint for the configuration
    /// hash: sha256 hex over the samples sorted by relative path, each as
    /// `<relative path>\0<sha256 hex of its bytes>\n`.
    pub fn check(dir: &Path) -> Result<String, ListsError> {
        let mut fingerprint = Sha256::new();
        for entry in walk(dir)? {
            let sha = hex::encode(Sha256::digest(read_sample(&entry.path)?));
            fingerprint.update(format!("{}\0{sha}\n", entry.rel));
        }
        Ok(hex::encode(fingerprint.finalize()))
    }

    /// Decode and hash every sample (bounded: a sample whose decode would hold more than
    /// [`MAX_DECODE_BYTES`], or that cannot be decoded, is an error naming it). Hashes are
    /// taken from, and written to, a cache file under `cache_dir` when one is given and
    /// writable (else they are kept in memory only), keyed by each file's sha256.
    pub fn load(dir: &Path, cache_dir: Option<&Path>) -> Result<ImageLists, ListsError> {
        let entries = walk(dir)?;
        let cache_path = cache_dir.map(|d| cache::file_for(d, dir));
        let cached = cache_path.as_deref().map(cache::read).unwrap_or_default();
        let results = hash_all(&entries, &cached)?;
        let decoded = results.iter().filter(|r| r.decoded).count();

        // Rewritten when it would differ: new samples, or entries of removed ones.
        let mut cache_file = None;
        if let Some(path) = cache_path {
            let stale = cached.len() != results.len()
                || results.iter().any(|r| !cached.contains_key(&r.sha));
            let pairs: Vec<(&str, &Signature)> =
                results.iter().map(|r| (r.sha.as_str(), &r.signature)).collect();
            match if stale { cache::write(&path, &pairs) } else { Ok(()) } {
                Ok(()) => cache_file = Some(path),
                Err(e) => tracing::warn!(
                    cache = %path.display(),
                    error = %e,
                    "image lists: hash cache not written; hashes kept in memory only"
                ),
            }
        }
        let (mut dct, mut signatures, mut samples) = (vec![], vec![], vec![]);
        for (entry, result) in entries.into_iter().zip(results) {
            dct.push(result.signature.dct);
            signatures.push(result.signature);
            samples.push(Sample {
                rel: entry.rel,
                list: entry.list,
                category: entry.category,
            });
        }
        tracing::info!(
            dir = %dir.display(),
            samples = samples.len(),
            decoded,
            "image lists loaded"
        );
        Ok(ImageLists {
            dct,
            signatures,
            samples,
            decoded,
            cache_file,
        })
    }

    /// The hash of a decoded frame: the reduced first frame the local decoder produces.
    pub fn hash(image: &RgbImage) -> Hash {
        Hash(Signature::of(image))
    }

    /// The hash of an encoded image, decoded as a sample is.
    pub fn hash_encoded(bytes: &[u8]) -> Result<Hash, SampleError> {
        hash_planned(bytes, &plan_sample(bytes)?)
    }

    /// The closest sample within the match thresholds. A block match wins over an allow match
    /// however close the allow sample is: an upload that looks like a known-bad image must not
    /// pass because it also looks like a known-good one (else an allowed picture with a banned
    /// one pasted small into it, or an allow list grown careless, would let the banned one
    /// through); a wrong block is seen and fixed, a wrong pass is not.
    pub fn find(&self, hash: &Hash) -> Option<ListMatch> {
        let upload = &hash.0;
        if upload.kind == Kind::Texture {
            return None;
        }
        // (distance, index) of the closest block and allow samples; ties go to the first path.
        let mut best: [Option<(u32, usize)>; 2] = [None, None];
        for (i, words) in self.dct.iter().enumerate() {
            let bits = hash::xor_ones(&upload.dct, words);
            if bits > hash::MAX_DCT_BITS {
                continue;
            }
            let Some(distance) = upload.matches(&self.signatures[i], bits) else {
                continue;
            };
            let slot = &mut best[usize::from(self.samples[i].list == ListKind::Allow)];
            if slot.is_none_or(|(d, _)| distance < d) {
                *slot = Some((distance, i));
            }
        }
        let (distance, i) = best[0].or(best[1])?;
        let sample = &self.samples[i];
        Some(ListMatch {
            list: sample.list,
            category: sample.category.clone(),
            sample: sample.rel.clone(),
            distance,
        })
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Samples this load decoded (the others' hashes came from the cache).
    pub fn decoded(&self) -> usize {
        self.decoded
    }

    /// The cache file read and kept up to date, `None` when hashes are in memory only.
    pub fn cache_file(&self) -> Option<&Path> {
        self.cache_file.as_deref()
    }
}

/// The samples under `dir`, sorted by relative path.
fn walk(dir: &Path) -> Result<Vec<Entry>, ListsError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ListsError::Missing(dir.to_path_buf()))
        }
        Err(e) => return Err(io_error(dir)(e)),
        Ok(m) if !m.is_dir() => return Err(ListsError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {}
    }
    let mut entries = Vec::new();
    for (name, path, is_dir) in list_dir(dir)? {
        match name.as_str() {
            "allow" | "block" if !is_dir => {
                return Err(ListsError::Unexpected {
                    path,
                    why: "a file where the allow/ or block/ folder goes",
                })
            }
            "allow" => samples_in(&path, "allow", ListKind::Allow, None, &mut entries)?,
            "block" => {
                for (sub, sub_path, sub_is_dir) in list_dir(&path)? {
                    if !sub_is_dir {
                        let rel = format!("block/{sub}");
                        entries.push(sample(sub_path, rel, ListKind::Block, None)?);
                        continue;
                    }
                    let category = sub.to_lowercase();
                    let valid = (1..=32).contains(&category.len())
                        && category
                            .bytes()
                            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
                    if !valid {
                        return Err(ListsError::BadCategory(sub_path));
                    }
                    let rel = format!("block/{sub}");
                    samples_in(&sub_path, &rel, ListKind::Block, Some(category), &mut entries)?;
                }
            }
            _ => {
                return Err(ListsError::Unexpected {
                    path,
                    why: "only allow/ and block/ (and dot-files) belong at the top of the image lists",
                })
            }
        }
    }
    if entries.is_empty() {
        return Err(ListsError::Empty(dir.to_path_buf()));
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(entries)
}

/// The sample files directly in `folder` (a folder in it is an error).
fn samples_in(
    folder: &Path,
    rel: &str,
    list: ListKind,
    category: Option<String>,
    out: &mut Vec<Entry>,
) -> Result<(), ListsError> {
    for (name, path, is_dir) in list_dir(folder)? {
        if is_dir {
            return Err(ListsError::Unexpected {
                path,
                why: match list {
                    ListKind::Allow => "a folder in allow/ (allow has no categories)",
                    ListKind::Block => "a folder in a category folder (one level only)",
                },
            });
        }
        out.push(sample(path, format!("{rel}/{name}"), list, category.clone())?);
    }
    Ok(())
}

fn sample(
    path: PathBuf,
    rel: String,
    list: ListKind,
    category: Option<String>,
) -> Result<Entry, ListsError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
        return Err(ListsError::Unexpected {
            path,
            why: "not an image file (.jpg, .jpeg, .png, .gif, .webp, .bmp, .tif, .tiff or .ico)",
        });
    }
    Ok(Entry {
        rel,
        path,
        list,
        category,
    })
}

/// (name, path, is a directory) of the entries of `dir` that are not dot-files.
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, ListsError> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let item = item.map_err(io_error(dir))?;
        let path = item.path();
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            return Err(ListsError::Unexpected {
                path,
                why: "a name that is not UTF-8 (results name samples by path)",
            });
        };
        if name.starts_with('.') {
            continue;
        }
        // Followed through symbolic links: a layer or volume may link its folders.
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        out.push((name, path, meta.is_dir()));
    }
    Ok(out)
}

fn read_sample(path: &Path) -> Result<Vec<u8>, ListsError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file that is too large, even one still growing.
    file.take(MAX_SAMPLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > MAX_SAMPLE_BYTES {
        let bytes = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(ListsError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    Ok(bytes)
}

struct Hashed {
    sha: String,
    signature: Signature,
    decoded: bool,
}

/// Hash every entry, from the cache or by decoding, a few at a time within one shared decode
/// budget; the error of the first failing entry (by path) if any fails.
fn hash_all(
    entries: &[Entry],
    cached: &std::collections::HashMap<String, Signature>,
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
    cached: &std::collections::HashMap<String, Signature>,
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
fn plan_sample(bytes: &[u8]) -> Result<decode::Plan, SampleError> {
    let format = crate::preflight::sniff(bytes).ok_or(SampleError::NotAnImage)?;
    let plan = decode::plan(bytes, format, FIRST_FRAME)?;
    if plan.cost > MAX_DECODE_BYTES {
        return Err(SampleError::OverBudget {
            need_mib: plan.cost.div_ceil(1 << 20),
        });
    }
    Ok(plan)
}

fn hash_planned(bytes: &[u8], plan: &decode::Plan) -> Result<Hash, SampleError> {
    let decoded = decode::decode(bytes, plan, FIRST_FRAME)?;
    let frame = decoded.frames.first().ok_or(DecodeError::Corrupt {
        format: plan.format.as_str(),
        message: "no frame".into(),
    })?;
    Ok(ImageLists::hash(&frame.image))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes held by the decodes running side by side, at most [`MAX_DECODE_BYTES`] together.
#[derive(Default)]
struct Budget {
    used: Mutex<u64>,
    freed: Condvar,
}

struct Held<'a>(&'a Budget, u64);

impl Budget {
    /// Wait until `cost` (at most the whole budget) fits.
    fn reserve(&self, cost: u64) -> Held<'_> {
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
