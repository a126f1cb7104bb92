//! The user's own libraries: text reading (`TRIAGE_OCR`), keyword lists (`TRIAGE_KEYWORDS`)
//! and image sample lists (`TRIAGE_IMAGE_LISTS`), all checked at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use super::ConfigError;
use crate::text::keywords::KeywordList;

pub const OCR_VAR: &str = "TRIAGE_OCR";
pub const KEYWORDS_VAR: &str = "TRIAGE_KEYWORDS";
pub const IMAGE_LISTS_VAR: &str = "TRIAGE_IMAGE_LISTS";

#[derive(Debug, Clone)]
pub struct Libraries {
    /// Read the text in images: the local OCR on the local path; on the vendor paths, ask for
    /// and keep the vendor's OCR results.
    pub ocr: bool,
    pub keywords: Option<Arc<KeywordList>>,
    pub image_lists: Option<ImageListsDir>,
}

impl Default for Libraries {
    fn default() -> Self {
        Libraries {
            ocr: true,
            keywords: None,
            image_lists: None,
        }
    }
}

/// `TRIAGE_IMAGE_LISTS`: the directory, checked, and what its samples were at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageListsDir {
    pub dir: PathBuf,
    /// SHA-256 over every sample's path and bytes (part of the configuration hash).
    pub fingerprint: String,
}

impl Libraries {
    pub fn from_get(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut out = Libraries::default();
        if let Some(v) = get(OCR_VAR) {
            out.ocr = match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                _ => return Err(ConfigError::new(OCR_VAR, &v, "expected on or off")),
            };
        }
        if let Some(v) = get(KEYWORDS_VAR) {
            let list = KeywordList::load(std::path::Path::new(&v))
                .map_err(|e| ConfigError::new(KEYWORDS_VAR, &v, e.to_string()))?;
            out.keywords = Some(Arc::new(list));
        }
        if let Some(v) = get(IMAGE_LISTS_VAR) {
            out.image_lists = Some(check_image_lists(&v)?);
        }
        Ok(out)
    }

    /// What changes results, for the configuration hash (`None` when all is default).
    pub fn identity(&self) -> Option<serde_json::Value> {
        let mut v = serde_json::Map::new();
        if !self.ocr {
            v.insert("ocr".into(), false.into());
        }
        if let Some(k) = &self.keywords {
            v.insert("keywords".into(), k.fingerprint().into());
        }
        if let Some(l) = &self.image_lists {
            v.insert("image_lists".into(), l.fingerprint.clone().into());
        }
        (!v.is_empty()).then_some(serde_json::Value::Object(v))
    }
}

#[cfg(feature = "local")]
fn check_image_lists(v: &str) -> Result<ImageListsDir, ConfigError> {
    let dir = PathBuf::from(v);
    let fingerprint = crate::analyzers::lists::ImageLists::check(&dir)
        .map_err(|e| ConfigError::new(IMAGE_LISTS_VAR, v, e.to_string()))?;
    Ok(ImageListsDir { dir, fingerprint })
}

#[cfg(not(feature = "local"))]
fn check_image_lists(v: &str) -> Result<ImageListsDir, ConfigError> {
    Err(ConfigError::new(
        IMAGE_LISTS_VAR,
        v,
        "image lists need the local decoders: build with the `local` feature (the default)",
    ))
}
