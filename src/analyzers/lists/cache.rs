//! The samples' hashes on disk, keyed by the sha256 of each file's bytes, so a cold start
//! decodes only the samples that are new or changed.
//!
//! One text file per list directory (named by a hash of its path, so two lists sharing a cache
//! directory do not evict each other): a header line naming the hash version, then
//! `<sha256 hex> <signature>` per sample. A file of another version, or a line that does not
//! parse, is ignored: the cache can only save work, never change a result.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::hash::{Signature, VERSION};

const HEADER: &str = "image-triage image-lists cache";

/// The cache file for the list directory `dir` under `cache_dir`.
pub fn file_for(cache_dir: &Path, dir: &Path) -> PathBuf {
    // The absolute path when it can be had: `./lists` and `/srv/lists` are the same lists.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let id = hex::encode(Sha256::digest(dir.to_string_lossy().as_bytes()));
    cache_dir.join(format!("image-lists-{}.cache", &id[..16]))
}

/// The entries of `path`; empty when it is missing, unreadable or of another version.
pub fn read(path: &Path) -> HashMap<String, Signature> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(&format!("{HEADER} {VERSION}")) {
        tracing::debug!(cache = %path.display(), "image lists cache of another version: ignored");
        return HashMap::new();
    }
    lines
        .filter_map(|line| {
            let (sha, sig) = line.split_once(' ')?;
            let valid = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
            Some((sha.to_string(), Signature::decode(sig).filter(|_| valid)?))
        })
        .collect()
}

/// Replace `path` with `entries` (sorted, so the file changes only when the samples do).
/// Written beside and renamed into place: a reader never sees half a file.
pub fn write(path: &Path, entries: &[(&str, &Signature)]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut sorted: Vec<_> = entries.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut text = format!("{HEADER} {VERSION}\n");
    for (sha, sig) in sorted {
        text.push_str(sha);
        text.push(' ');
        text.push_str(&sig.encode());
        text.push('\n');
    }
    let tmp = path.with_extension(format!("tmp{}-{}", std::process::id(), fastrand::u32(..)));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
