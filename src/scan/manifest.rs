//! `scan --manifest FILE`: the objects that need triage as an S3 Batch Operations CSV manifest
//! (format `S3BatchOperations_CSV_20180820`), for users who prefer to start a batch job that
//! invokes the function once per object.
//!
//! The format, from the S3 User Guide "Creating a manifest file" and the `JobManifestSpec` API
//! reference: one row per object, `bucket,key` or `bucket,key,versionId` (fields `Bucket`, `Key`,
//! `VersionId`); no header row; object keys URL-encoded, as the guide's examples show
//! (`Examplebucket,photos/jpgs/objectkey4`, `Examplebucket,object%20key%20with%20spaces`: `/`
//! stays, a space is `%20`); either every row has a version id or none does.
//!
//! Keys are encoded byte by byte, every byte but the RFC 3986 unreserved characters and `/`
//! becoming `%XX` (UTF-8). So no row holds a `,`, a quote or a line break, and `+` is always
//! `%2B`: the job's function reads the same key whether it decodes with `unquote` or with
//! `unquote_plus` (the guide's own Lambda sample uses the latter, where a bare `+` is a space).

use std::io::Write;
use std::path::{Path, PathBuf};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::ScanError;

/// Bytes left as they are in a manifest key: RFC 3986 unreserved characters and `/`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A key as the manifest holds it: `photos/a b+c.png` → `photos/a%20b%2Bc.png`.
pub fn url_encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEEP).to_string()
}

/// One manifest row, with its line end. `version`: `None` leaves the column out; `Some(None)`
/// names an object without a version id (an unversioned bucket), which S3 calls `null`.
pub fn row(bucket: &str, key: &str, version: Option<Option<&str>>) -> Result<String, String> {
    // Bucket names (3–63 of a-z, 0-9, `.`, `-`) and version ids need no encoding; anything that
    // would break the row is refused rather than guessed at.
    let plain = |what: &str, v: &str| {
        if v.is_empty() || v.contains([',', '"', '\n', '\r']) {
            Err(format!("{what} {v:?} cannot stand in a manifest row"))
        } else {
            Ok(())
        }
    };
    plain("bucket", bucket)?;
    let mut line = format!("{bucket},{}", url_encode_key(key));
    if let Some(version) = version {
        let v = version.unwrap_or("null");
        plain("version id", v)?;
        line.push(',');
        line.push_str(v);
    }
    line.push('\n');
    Ok(line)
}

/// The manifest file being written.
pub struct ManifestWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    versions: bool,
    rows: u64,
}

impl std::fmt::Debug for ManifestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestWriter")
            .field("path", &self.path)
            .field("versions", &self.versions)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ManifestWriter {
    /// Create `path` anew, or with `append` add to it (a resumed scan adds the rows after its
    /// marker to those an earlier run wrote). `versions`: a version id column on every row.
    pub fn create(path: &Path, append: bool, versions: bool) -> Result<Self, ScanError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|e| err(path, e.to_string()))?;
        Ok(ManifestWriter {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
            versions,
            rows: 0,
        })
    }

    pub fn write(
        &mut self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(), ScanError> {
        let line = row(bucket, key, self.versions.then_some(version_id))
            .map_err(|reason| err(&self.path, reason))?;
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| err(&self.path, e.to_string()))?;
        self.rows += 1;
        Ok(())
    }

    /// Everything written so far on disk: before a resume marker that counts these rows is saved.
    pub fn sync(&mut self) -> Result<(), ScanError> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| err(&self.path, e.to_string()))
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }
}

fn err(path: &Path, reason: String) -> ScanError {
    ScanError::Manifest {
        path: path.display().to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_encoded_as_the_batch_operations_examples_show() {
        // The S3 User Guide's own examples.
        assert_eq!(
            row("Examplebucket", "photos/jpgs/objectkey4", None).unwrap(),
            "Examplebucket,photos/jpgs/objectkey4\n"
        );
        assert_eq!(
            row("Examplebucket", "object key with spaces", None).unwrap(),
            "Examplebucket,object%20key%20with%20spaces\n"
        );
        assert_eq!(
            row(
                "Examplebucket",
                "objectkey1",
                Some(Some("PZ9ibn9D5lP6p298B7S9_ceqx1n5EJ0p"))
            )
            .unwrap(),
            "Examplebucket,objectkey1,PZ9ibn9D5lP6p298B7S9_ceqx1n5EJ0p\n"
        );
        // `+` never stands bare (a space to unquote_plus), nor does a CSV delimiter or quote.
        assert_eq!(
            url_encode_key("a+b,c\"d\ne%41~_.-/猫.png"),
            "a%2Bb%2Cc%22d%0Ae%2541~_.-/%E7%8C%AB.png"
        );
        assert_eq!(row("b", "k", Some(None)).unwrap(), "b,k,null\n");
        assert!(row("b", "k", Some(Some("v,1"))).is_err());
        assert!(row("", "k", None).is_err());
    }

    #[test]
    fn a_resumed_manifest_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut w = ManifestWriter::create(&path, false, false).unwrap();
        w.write("b", "a b.png", None).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut w = ManifestWriter::create(&path, true, false).unwrap();
        w.write("b", "c.png", Some("v1")).unwrap();
        w.sync().unwrap();
        assert_eq!(w.rows(), 1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "b,a%20b.png\nb,c.png\n"
        );
        let mut w = ManifestWriter::create(&path, false, true).unwrap();
        w.write("b", "c.png", Some("v1")).unwrap();
        w.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b,c.png,v1\n");
    }
}
