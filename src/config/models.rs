//! The local analyzers' model files: their identity (part of the config hash) and which of them a
//! configuration needs but does not find.

use sha2::{Digest, Sha256};

use super::{Config, LabelerKind, ModeratorKind};
use crate::Provider;

/// SHA-256 of each local model file (or `missing`), hashed together; the OCR models count
/// when the local path reads text.
pub(super) fn model_identity(dir: &std::path::Path, ocr: bool) -> String {
    let mut h = Sha256::new();
    let ocr_files = [
        crate::analyzers::OCR_DET_FILE,
        crate::analyzers::OCR_REC_FILE,
    ];
    for name in [
        crate::analyzers::LABELS_MODEL_FILE,
        crate::analyzers::NSFW_MODEL_FILE,
        crate::analyzers::ORT_RUNTIME_FILE,
    ]
    .into_iter()
    .chain(ocr_files.into_iter().filter(|_| ocr))
    {
        h.update(name.as_bytes());
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => h.update(Sha256::digest(&bytes)),
            Err(_) => h.update(b"missing"),
        }
    }
    hex::encode(&h.finalize()[..8])
}

impl Config {
    /// The files in `TRIAGE_MODEL_DIR` that the configured local analyzers need and do not find
    /// there (the labels model, the moderation model with the OCR models when `TRIAGE_OCR` is on,
    /// and ONNX Runtime's library). The Lambda runtime refuses to start without them: every
    /// upload would otherwise be marked with the `TRIAGE_ON_ERROR` verdict (`model_missing`).
    pub fn missing_model_files(&self, provider: Provider) -> Vec<&'static str> {
        use crate::analyzers::{
            LABELS_MODEL_FILE, NSFW_MODEL_FILE, OCR_DET_FILE, OCR_REC_FILE, ORT_RUNTIME_FILE,
        };
        let mut needed = Vec::new();
        if self.labeler_for(provider) == LabelerKind::Local {
            needed.push(LABELS_MODEL_FILE);
        }
        if self.moderator_for(provider) == ModeratorKind::Local {
            needed.push(NSFW_MODEL_FILE);
            if self.libraries.ocr {
                needed.extend([OCR_DET_FILE, OCR_REC_FILE]);
            }
        }
        if !needed.is_empty() {
            needed.push(ORT_RUNTIME_FILE);
        }
        needed.retain(|name| !self.model_dir.join(name).is_file());
        needed
    }
}
