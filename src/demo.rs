//! `image-triage demo`: "upload" real photos into the embedded bucket, send each the S3-style
//! event an S3-compatible server would send, and process it exactly as the function would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::config::{Config, StoreKind};
use crate::pipeline::{Outcome, Pipeline};
use crate::store::local::{etag_of, LocalStore};
use crate::store::ObjectStore;

pub const BUCKET: &str = "demo";
pub const PREFIX: &str = "uploads/";
/// The keyword list the demo uses when `TRIAGE_KEYWORDS` is not set (ads and contact details).
pub const EXAMPLE_KEYWORDS: &str = "deploy/keywords.example.txt";

/// The example keyword list, built in (the demo runs from any directory).
pub fn example_keywords() -> crate::text::keywords::KeywordList {
    crate::text::keywords::KeywordList::parse(
        include_bytes!("../deploy/keywords.example.txt"),
        Path::new(EXAMPLE_KEYWORDS),
    )
    // Checked by the unit test below; a broken example is a build mistake, not user input.
    .expect("deploy/keywords.example.txt parses")
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "no photos in {0}: run scripts/fetch-models.sh first (it fetches the demo photos too)"
    )]
    NoPhotos(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// An S3 notification for one PUT, keyed the way S3 and MinIO encode keys (form-URL-encoded).
pub fn s3_put_event(bucket: &str, key: &str, size: u64, etag: &str) -> serde_json::Value {
    let encoded: String = utf8_percent_encode(key, NON_ALPHANUMERIC)
        .to_string()
        .replace("%20", "+")
        .replace("%2E", ".")
        .replace("%2D", "-")
        .replace("%5F", "_");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": chrono::Utc::now().to_rfc3339(),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "image-triage-demo",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encoded, "size": size, "eTag": etag}
        }
    }]})
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    }
}

/// Upload every image in `photos` into `root`'s demo bucket and process its event.
/// Returns (key, outcome) per photo; the events are kept in `root/events/` for `process`.
pub async fn run(
    root: &Path,
    photos: &Path,
    mut config: Config,
) -> Result<Vec<(String, Outcome)>, DemoError> {
    config.store = StoreKind::Local(root.to_path_buf());
    if config.libraries.keywords.is_none() {
        config.libraries.keywords = Some(Arc::new(example_keywords()));
    }
    let store = Arc::new(LocalStore::new(root));
    let pipeline = Pipeline::with_store(config, store.clone());
    let mut files: Vec<PathBuf> = std::fs::read_dir(photos)
        .map_err(|e| DemoError::Io(photos.to_path_buf(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| content_type(p) != "application/octet-stream")
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DemoError::NoPhotos(photos.to_path_buf()));
    }
    let events_dir = root.join("events");
    std::fs::create_dir_all(&events_dir).map_err(|e| DemoError::Io(events_dir.clone(), e))?;
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("photo");
        let key = format!("{PREFIX}{name}");
        let body = std::fs::read(&path).map_err(|e| DemoError::Io(path.clone(), e))?;
        let (size, etag) = (body.len() as u64, etag_of(&body));
        store
            .put(BUCKET, &key, Bytes::from(body), content_type(&path))
            .await?;
        let event = s3_put_event(BUCKET, &key, size, &etag);
        let event_path = events_dir.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&event).unwrap_or_default();
        std::fs::write(&event_path, &text).map_err(|e| DemoError::Io(event_path, e))?;
        for outcome in pipeline.handle_event(text.as_bytes(), None).await {
            out.push((key.clone(), outcome));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_keyword_list_parses_and_finds_the_demo_ad() {
        let list = super::example_keywords();
        assert!(list.categories().contains(&"ad") && list.categories().contains(&"contact"));
        let found = list.find("加微信 abc123 领取福利");
        assert!(found.iter().any(|f| f.keyword == "加微信"), "{found:?}");
    }
}
