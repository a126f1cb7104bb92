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
mod walk;
mod work;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use image::RgbImage;
use sha2::{Digest, Sha256};

use crate::analyzers::local::decode::{self, DecodeError};
use crate::analyzers::sampling::FrameSampling;
use crate::result::{ListKind, ListMatch};
use hash::{Kind, Signature};
use walk::{read_sample, walk};
use work::{hash_all, hash_planned, plan_sample};

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
    #[error("image lists: category folder {}: the name must be 1-32 of a-z, 0-9, '_' and '-' (upper case counts as lower case)", .0.display())]
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
            // Two samples with the same bytes share one entry.
            let current: HashSet<&str> = results.iter().map(|r| r.sha.as_str()).collect();
            let stale =
                current.len() != cached.len() || current.iter().any(|s| !cached.contains_key(*s));
            let pairs: Vec<(&str, &Signature)> = results
                .iter()
                .map(|r| (r.sha.as_str(), &r.signature))
                .collect();
            let written = if stale {
                cache::write(&path, &pairs)
            } else {
                Ok(())
            };
            match written {
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
    /// however close the allow sample is: an upload like both a known-bad and a known-good
    /// sample is taken for the bad one, because the two mistakes are not alike. A wrong block
    /// is seen (the object is held and reported) and fixed by editing the lists; a wrong pass
    /// is seen by nobody, and an allow sample that came too close to a banned picture would
    /// let it through every time.
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
