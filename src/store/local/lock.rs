//! The local store's write lock: every write of a root (object bytes or attributes) holds it,
//! so a conditional write's compare and its write see no other writer between them.
//!
//! Two layers, taken in this order:
//! - [`WRITES`], an async mutex shared by every local store of this process: tasks wait on it
//!   without holding a thread, and at most one of them at a time goes on to the file lock.
//! - An exclusive advisory lock on `ROOT/.lock` (std's `File::lock`: `flock(LOCK_EX)` on Unix,
//!   `LockFileEx` on Windows), for other processes sharing the directory (several instances of
//!   the function, or tests, on one embedded bucket). The kernel drops it when the file is
//!   closed or the process dies, so a crashed writer leaves no stale lock behind, which a lock
//!   *file* made with `create_new` would. Bucket names cannot start with a dot: `.lock` is
//!   never an object's path.
//!
//! Advisory: a program that writes the directory without taking it (a file copied in by hand)
//! is not stopped; the attributes' size/mtime binding notices its files instead. Network file
//! systems may not honour `flock` across hosts: share a root between processes of one host.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// The in-process layer, shared by every local store (roots included: a process rarely has
/// more than one, and one lock keeps the order of the two layers trivially the same).
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Both layers, held until dropped (the file lock is released with the file).
pub(super) struct WriteLock {
    _file: File,
    _in_process: tokio::sync::MutexGuard<'static, ()>,
}

impl WriteLock {
    pub(super) async fn acquire(root: &Path) -> std::io::Result<WriteLock> {
        let in_process = WRITES.lock().await;
        let path = root.join(".lock");
        // `File::lock` blocks the thread until the other process lets go.
        let file = tokio::task::spawn_blocking(move || lock_file(&path))
            .await
            .map_err(std::io::Error::other)??;
        Ok(WriteLock {
            _file: file,
            _in_process: in_process,
        })
    }
}

/// Open (creating it and the root when missing) and exclusively lock `path`.
pub(super) fn lock_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}
