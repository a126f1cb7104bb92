//! The user's own libraries applied to one object: keyword lists over the text the moderation
//! read, and the image sample lists over the decoded picture. Both become category scores
//! ("findings") that the verdict judges like any other.

use crate::analyzers::{AnalyzerInput, CategoryScore};
use crate::config::Config;
use crate::result::{ListKind, ListMatch};
use crate::text::{HitSource, TextOutput};

/// The category a sample directly under `block/` scores.
pub const BLOCK_LIST_CATEGORY: &str = "custom";

/// Match the keyword lists against `text` and keep it within its bounds.
pub fn finish_text(config: &Config, text: &mut TextOutput) {
    if let Some(keywords) = &config.libraries.keywords {
        keywords.apply(text);
    }
    text.bound();
}

/// Category scores from keyword hits (the user's lists only: a vendor's own hits are already
/// in its moderation scores) and from a block-list match.
pub fn findings(text: Option<&TextOutput>, listed: Option<&ListMatch>) -> Vec<CategoryScore> {
    let hits = text
        .into_iter()
        .flat_map(|t| &t.hits)
        .filter(|h| h.source == HitSource::Keywords)
        .map(|h| CategoryScore {
            category: h.category.clone(),
            score: h.score.unwrap_or(100.0),
            label: Some(format!("keyword {} in {:?}", h.keyword, h.line)),
        });
    let sample = listed
        .filter(|m| m.list == ListKind::Block)
        .map(|m| CategoryScore {
            category: m
                .category
                .clone()
                .unwrap_or_else(|| BLOCK_LIST_CATEGORY.into()),
            score: 100.0,
            label: Some(format!("block-list sample {}", m.sample)),
        });
    hits.chain(sample).collect()
}

/// Matches uploads against `TRIAGE_IMAGE_LISTS`, loading the samples' hashes on first use.
#[derive(Default)]
pub struct ImageListCheck {
    #[cfg(feature = "local")]
    lists:
        tokio::sync::OnceCell<Result<std::sync::Arc<crate::analyzers::lists::ImageLists>, String>>,
}

impl ImageListCheck {
    /// Whether image lists are configured (the pipeline then reads the object's bytes).
    pub fn wanted(config: &Config) -> bool {
        config.libraries.image_lists.is_some()
    }

    /// The sample the upload matches, `Ok(None)` when none does or no list is configured, or
    /// why the lists could not be checked.
    pub async fn check(
        &self,
        config: &Config,
        input: &AnalyzerInput,
    ) -> Result<Option<ListMatch>, String> {
        let Some(setting) = &config.libraries.image_lists else {
            return Ok(None);
        };
        #[cfg(feature = "local")]
        {
            use crate::analyzers::lists::ImageLists;
            use crate::analyzers::local::FrameReader;
            let dir = setting.dir.clone();
            let lists = self
                .lists
                .get_or_init(|| async move {
                    tokio::task::spawn_blocking(move || {
                        ImageLists::load(&dir, Some(&std::env::temp_dir()))
                            .map(std::sync::Arc::new)
                            .map_err(|e| e.to_string())
                    })
                    .await
                    .map_err(|e| format!("loading the image lists: {e}"))?
                })
                .await
                .clone()?;
            let reader = FrameReader::for_config(config).map_err(|e| e.to_string())?;
            let hash = reader
                .first_frame(input, ImageLists::hash)
                .await
                .map_err(|e| e.to_string())?;
            Ok(lists.find(&hash))
        }
        #[cfg(not(feature = "local"))]
        {
            let _ = (setting, input);
            Err("image lists need the local decoders (the `local` feature)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextHit;

    #[test]
    fn the_users_keywords_are_matched_against_a_vendors_text_too() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("k.txt");
        std::fs::write(&list, "[contact:70]\nwhatsapp\n").unwrap();
        let config =
            Config::from_vars([("TRIAGE_KEYWORDS".to_string(), list.display().to_string())])
                .unwrap();
        // As the IMS parser gives it: its own hit on one line, the user's word on another.
        let mut text = TextOutput::new("ims", vec![]);
        for line in ["加微信 abc123", "WhatsApp: +1 555 0100"] {
            text.lines.push(crate::text::TextLine {
                text: line.into(),
                confidence: None,
                bbox: None,
                frame: None,
            });
        }
        text.hits.push(TextHit {
            category: "ad".into(),
            keyword: "加微信".into(),
            line: "加微信 abc123".into(),
            source: HitSource::Vendor,
            score: Some(95.0),
        });
        finish_text(&config, &mut text);
        assert_eq!(text.hits.len(), 2, "{:?}", text.hits);
        let user = &text.hits[1];
        assert_eq!(
            (user.category.as_str(), user.keyword.as_str(), user.source),
            ("contact", "whatsapp", HitSource::Keywords)
        );
        let f = findings(Some(&text), None);
        assert_eq!(f.len(), 1, "only the user's hit scores: {f:?}");
        assert_eq!((f[0].category.as_str(), f[0].score), ("contact", 70.0));
    }

    #[test]
    fn user_keyword_hits_and_block_samples_score_vendor_hits_do_not() {
        let mut text = TextOutput::new("ims", vec![]);
        let hit = |source, category: &str| TextHit {
            category: category.into(),
            keyword: "加微信".into(),
            line: "加微信 abc123".into(),
            source,
            score: Some(70.0),
        };
        text.hits = vec![
            hit(HitSource::Vendor, "ad"),
            hit(HitSource::Keywords, "contact"),
        ];
        let block = ListMatch {
            list: ListKind::Block,
            category: None,
            sample: "block/flyer.jpg".into(),
            distance: 3,
        };
        let f = findings(Some(&text), Some(&block));
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!((f[0].category.as_str(), f[0].score), ("contact", 70.0));
        assert!(f[0].label.as_deref().unwrap().contains("加微信"));
        assert_eq!(
            (f[1].category.as_str(), f[1].score),
            (BLOCK_LIST_CATEGORY, 100.0)
        );
        let allow = ListMatch {
            list: ListKind::Allow,
            ..block
        };
        assert!(findings(None, Some(&allow)).is_empty());
    }
}
