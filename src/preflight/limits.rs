//! Every analyzer's documented input limits, in one table, and the check against them.
//!
//! Sources: seeds 000 (Tencent tagging FAQ), 001 (Tencent image moderation FAQ), 002 (legacy
//! tagging API), 004 (Huawei Image Recognition), and `reference/*.md` §limits. Where two
//! documents disagree the stricter value is used.

use serde::Serialize;

use super::{ImageFacts, ImageFormat};
use ImageFormat::*;

const MB: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    pub service: &'static str,
    pub formats: &'static [ImageFormat],
    pub min_bytes: u64,
    /// Raw object size, inclusive.
    pub max_bytes: Option<u64>,
    /// Size once base64-encoded, inclusive (services that take the image inline).
    pub max_base64_bytes: Option<u64>,
    /// Shortest allowed side, inclusive.
    pub min_side: u32,
    /// Longest allowed side, inclusive.
    pub max_side: Option<u32>,
    /// Long side / short side must stay below this.
    pub max_aspect: Option<f64>,
    pub max_pixels: Option<u64>,
}

/// The in-process models decode the image reduced while decoding, within the decode budget
/// (analyzers/local/decode), so their limits keep the work bounded in time and the resize to
/// 224 px meaningful rather than mirroring a vendor: 20000 px sides (400 MP) stream through.
pub const LOCAL_LABELS: Limits = Limits {
    service: "local labels (EfficientNet-Lite0)",
    formats: &[Jpeg, Png, Gif, Bmp, Webp, Tiff, Ico],
    min_bytes: 16,
    max_bytes: Some(64 * MB),
    max_base64_bytes: None,
    min_side: 16,
    max_side: Some(20_000),
    max_aspect: Some(20.0),
    max_pixels: Some(400_000_000),
};

pub const LOCAL_MODERATION: Limits = Limits {
    service: "local moderation (open_nsfw)",
    ..LOCAL_LABELS
};

/// Tencent image tagging (CI detect-label, TIIA DetectLabel, legacy tagging API): seed 000/002
/// say PNG/JPG/JPEG/BMP, no GIF, ≤ 4 MB after base64, larger than 50×50, aspect below 5.
pub const TENCENT_TAGGING: Limits = Limits {
    service: "tencent image tagging",
    formats: &[Jpeg, Png, Bmp],
    min_bytes: 16,
    max_bytes: None,
    max_base64_bytes: Some(4 * MB),
    min_side: 51,
    max_side: None,
    max_aspect: Some(5.0),
    max_pixels: None,
};

/// COS CI detect-label (tencent.md §6.1): PNG/JPEG only, ≤ 3 MB, sides below 7680; the tagging
/// FAQ's > 50×50 and aspect below 5 (seed 000) apply as for every Tencent tagging service.
pub const COS_CI_TAGGING: Limits = Limits {
    service: "cos ci image tagging",
    formats: &[Jpeg, Png],
    max_bytes: Some(3 * MB),
    max_side: Some(7679),
    ..TENCENT_TAGGING
};

/// Tencent IMS ImageModeration: seed 001 and tencent.md §5: ≥ 16 B, URL source < 30 MB,
/// 50–10000 px per side, aspect below 90:1.
pub const TENCENT_IMS: Limits = Limits {
    service: "tencent ims",
    formats: &[Jpeg, Png, Bmp, Gif, Webp, Heic, Avif],
    min_bytes: 16,
    max_bytes: Some(30 * MB - 1),
    max_base64_bytes: None,
    min_side: 50,
    max_side: Some(10_000),
    max_aspect: Some(90.0),
    max_pixels: None,
};

/// COS CI sensitive-content-recognition (anchors.md §3): < 32 MB, 20–40000 px.
pub const COS_CI_MODERATION: Limits = Limits {
    service: "cos ci moderation",
    formats: &[Jpeg, Png, Bmp, Gif, Webp, Heic],
    min_bytes: 16,
    max_bytes: Some(32 * MB - 1),
    max_base64_bytes: None,
    min_side: 20,
    max_side: Some(40_000),
    max_aspect: None,
    max_pixels: None,
};

/// Huawei Image Tagging v2 (seed 004): PNG/JPEG/BMP/WEBP, 15–4096 px, ≤ 10 MB base64.
pub const HUAWEI_TAGGING: Limits = Limits {
    service: "huawei image tagging",
    formats: &[Jpeg, Png, Bmp, Webp],
    min_bytes: 16,
    max_bytes: Some(7 * MB + MB / 2),
    max_base64_bytes: Some(10 * MB),
    min_side: 15,
    max_side: Some(4096),
    max_aspect: None,
    max_pixels: None,
};

/// Huawei Image Tagging under the newer CN doc (image_03_0028, 2025-12): 1–10000 px per side.
/// Opt-in with `TRIAGE_HUAWEI_TAGGING_LIMITS=current`; the stricter table above is the default.
pub const HUAWEI_TAGGING_CURRENT: Limits = Limits {
    service: "huawei image tagging (1-10000 px)",
    min_side: 1,
    max_side: Some(10_000),
    ..HUAWEI_TAGGING
};

/// Huawei media tagging, celebrity recognition and main-object detection (seed 004): PNG, JPEG,
/// BMP, WEBP; sides 1–10000 px; ≤ 10 MB base64 (7.5 MB of image).
pub const HUAWEI_MEDIA: Limits = Limits {
    service: "huawei media tagging",
    min_side: 1,
    max_side: Some(10_000),
    ..HUAWEI_TAGGING
};

/// Huawei celebrity recognition (seed 004): media tagging's formats and sizes, no side rule.
pub const HUAWEI_CELEBRITY: Limits = Limits {
    service: "huawei celebrity recognition",
    min_side: 1,
    max_side: None,
    ..HUAWEI_MEDIA
};

/// Huawei main-object detection (seed 004): as media tagging.
pub const HUAWEI_MAIN_OBJECT: Limits = Limits {
    service: "huawei main-object detection",
    ..HUAWEI_MEDIA
};

/// No rule of its own: an analysis made of parts that each check their own limits
/// (the Huawei extras around a labeler), so that no part is skipped for another's rule.
pub const ANY_IMAGE: Limits = Limits {
    service: "each part checks its own limits",
    formats: &[Jpeg, Png, Gif, Bmp, Webp, Tiff, Heic, Avif],
    min_bytes: 0,
    max_bytes: None,
    max_base64_bytes: None,
    min_side: 0,
    max_side: None,
    max_aspect: None,
    max_pixels: None,
};

/// Huawei Content Moderation v3 image (huawei_aws.md §6): 20–6000 px, ≤ 10 MB base64.
pub const HUAWEI_MODERATION: Limits = Limits {
    service: "huawei moderation",
    formats: &[Jpeg, Png, Webp, Gif, Tiff, Heic],
    min_bytes: 16,
    max_bytes: Some(7 * MB + MB / 2),
    max_base64_bytes: Some(10 * MB),
    min_side: 20,
    max_side: Some(6000),
    max_aspect: None,
    max_pixels: None,
};

/// Every table entry, for the README and `--help`-style listings.
pub const ALL: &[&Limits] = &[
    &LOCAL_LABELS,
    &LOCAL_MODERATION,
    &TENCENT_TAGGING,
    &COS_CI_TAGGING,
    &TENCENT_IMS,
    &COS_CI_MODERATION,
    &HUAWEI_TAGGING,
    &HUAWEI_TAGGING_CURRENT,
    &HUAWEI_MEDIA,
    &HUAWEI_CELEBRITY,
    &HUAWEI_MAIN_OBJECT,
    &HUAWEI_MODERATION,
];

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum LimitViolation {
    #[error("{service} does not accept {format} (accepts {accepted})")]
    Format {
        service: &'static str,
        format: &'static str,
        accepted: String,
    },
    #[error("{service} needs at least {min} bytes, the object has {bytes}")]
    TooFewBytes {
        service: &'static str,
        bytes: u64,
        min: u64,
    },
    #[error("{service} accepts at most {max} bytes, the object has {bytes}")]
    TooLarge {
        service: &'static str,
        bytes: u64,
        max: u64,
    },
    #[error("{service} accepts at most {max} bytes of base64, the object would need {bytes}")]
    Base64TooLarge {
        service: &'static str,
        bytes: u64,
        max: u64,
    },
    #[error("{service} needs both sides >= {min} px, the image is {width}x{height}")]
    SideTooSmall {
        service: &'static str,
        width: u32,
        height: u32,
        min: u32,
    },
    #[error("{service} accepts sides up to {max} px, the image is {width}x{height}")]
    SideTooLarge {
        service: &'static str,
        width: u32,
        height: u32,
        max: u32,
    },
    #[error("{service} needs an aspect ratio below {max}:1, the image is {width}x{height} ({ratio:.1}:1)")]
    AspectRatio {
        service: &'static str,
        width: u32,
        height: u32,
        ratio: f64,
        max: f64,
    },
    #[error("{service} cannot read {format}, which browsers and apps display: the object gets the TRIAGE_ON_ERROR verdict")]
    Unreadable {
        service: &'static str,
        format: &'static str,
    },
    #[error("{service} accepts at most {max} pixels, the image has {pixels}")]
    TooManyPixels {
        service: &'static str,
        pixels: u64,
        max: u64,
    },
}

impl LimitViolation {
    /// Every code [`LimitViolation::code`] gives.
    pub const CODES: [&'static str; 9] = [
        "format",
        "too_few_bytes",
        "too_large",
        "base64_too_large",
        "side_too_small",
        "side_too_large",
        "aspect_ratio",
        "too_many_pixels",
        "unreadable_format",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            LimitViolation::Format { .. } => "format",
            LimitViolation::TooFewBytes { .. } => "too_few_bytes",
            LimitViolation::TooLarge { .. } => "too_large",
            LimitViolation::Base64TooLarge { .. } => "base64_too_large",
            LimitViolation::SideTooSmall { .. } => "side_too_small",
            LimitViolation::SideTooLarge { .. } => "side_too_large",
            LimitViolation::AspectRatio { .. } => "aspect_ratio",
            LimitViolation::TooManyPixels { .. } => "too_many_pixels",
            LimitViolation::Unreadable { .. } => "unreadable_format",
        }
    }
}

/// Check one analyzer's limits. Size checks that need the dimensions are skipped when the
/// header did not give them (the service then has the last word).
pub fn check(limits: &Limits, facts: &ImageFacts) -> Result<(), LimitViolation> {
    let service = limits.service;
    if !limits.formats.contains(&facts.format) && facts.format.displayed_elsewhere() {
        return Err(LimitViolation::Unreadable {
            service,
            format: facts.format.as_str(),
        });
    }
    if !limits.formats.contains(&facts.format) {
        return Err(LimitViolation::Format {
            service,
            format: facts.format.as_str(),
            accepted: limits
                .formats
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if facts.bytes < limits.min_bytes {
        return Err(LimitViolation::TooFewBytes {
            service,
            bytes: facts.bytes,
            min: limits.min_bytes,
        });
    }
    if let Some(max) = limits.max_bytes.filter(|m| facts.bytes > *m) {
        return Err(LimitViolation::TooLarge {
            service,
            bytes: facts.bytes,
            max,
        });
    }
    if let Some(max) = limits
        .max_base64_bytes
        .filter(|m| facts.base64_bytes() > *m)
    {
        return Err(LimitViolation::Base64TooLarge {
            service,
            bytes: facts.base64_bytes(),
            max,
        });
    }
    let (Some(width), Some(height)) = (facts.width, facts.height) else {
        return Ok(());
    };
    let (short, long) = (width.min(height), width.max(height));
    if short < limits.min_side {
        return Err(LimitViolation::SideTooSmall {
            service,
            width,
            height,
            min: limits.min_side,
        });
    }
    if let Some(max) = limits.max_side.filter(|m| long > *m) {
        return Err(LimitViolation::SideTooLarge {
            service,
            width,
            height,
            max,
        });
    }
    let ratio = f64::from(long) / f64::from(short);
    if let Some(max) = limits.max_aspect.filter(|m| ratio >= *m) {
        return Err(LimitViolation::AspectRatio {
            service,
            width,
            height,
            ratio,
            max,
        });
    }
    let pixels = u64::from(width) * u64::from(height);
    if let Some(max) = limits.max_pixels.filter(|m| pixels > *m) {
        return Err(LimitViolation::TooManyPixels {
            service,
            pixels,
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_lists_every_code() {
        let s = "svc";
        let all = [
            LimitViolation::Format {
                service: s,
                format: "svg",
                accepted: String::new(),
            },
            LimitViolation::TooFewBytes {
                service: s,
                bytes: 1,
                min: 2,
            },
            LimitViolation::TooLarge {
                service: s,
                bytes: 2,
                max: 1,
            },
            LimitViolation::Base64TooLarge {
                service: s,
                bytes: 2,
                max: 1,
            },
            LimitViolation::SideTooSmall {
                service: s,
                width: 1,
                height: 1,
                min: 2,
            },
            LimitViolation::SideTooLarge {
                service: s,
                width: 2,
                height: 2,
                max: 1,
            },
            LimitViolation::AspectRatio {
                service: s,
                width: 9,
                height: 1,
                ratio: 9.0,
                max: 2.0,
            },
            LimitViolation::Unreadable {
                service: s,
                format: "svg",
            },
            LimitViolation::TooManyPixels {
                service: s,
                pixels: 2,
                max: 1,
            },
        ];
        let mut codes: Vec<&str> = all.iter().map(LimitViolation::code).collect();
        let mut listed = LimitViolation::CODES.to_vec();
        codes.sort();
        listed.sort();
        assert_eq!(codes, listed);
    }

    fn facts(format: ImageFormat, w: u32, h: u32, bytes: u64) -> ImageFacts {
        ImageFacts {
            format,
            width: Some(w),
            height: Some(h),
            bytes,
        }
    }

    fn code(l: &Limits, f: &ImageFacts) -> &'static str {
        check(l, f).err().map(|e| e.code()).unwrap_or("ok")
    }

    #[test]
    fn tencent_tagging_rejects_gif_and_wants_aspect_below_5() {
        assert_eq!(
            code(&TENCENT_TAGGING, &facts(Gif, 500, 500, 10_000)),
            "format"
        );
        assert_eq!(code(&TENCENT_TAGGING, &facts(Png, 500, 500, 10_000)), "ok");
        assert_eq!(
            code(&TENCENT_TAGGING, &facts(Png, 500, 100, 10_000)),
            "aspect_ratio"
        );
        assert_eq!(code(&TENCENT_TAGGING, &facts(Png, 499, 100, 10_000)), "ok");
        assert_eq!(
            code(&TENCENT_TAGGING, &facts(Png, 50, 50, 10_000)),
            "side_too_small"
        );
        assert_eq!(code(&TENCENT_TAGGING, &facts(Png, 51, 51, 10_000)), "ok");
        // 3 MiB raw is exactly 4 MiB of base64; one more byte is over.
        assert_eq!(code(&TENCENT_TAGGING, &facts(Jpeg, 900, 900, 3 * MB)), "ok");
        assert_eq!(
            code(&TENCENT_TAGGING, &facts(Jpeg, 900, 900, 3 * MB + 1)),
            "base64_too_large"
        );
    }

    #[test]
    fn cos_ci_tagging_is_png_and_jpeg_up_to_3_mb() {
        assert_eq!(code(&COS_CI_TAGGING, &facts(Png, 800, 600, 3 * MB)), "ok");
        assert_eq!(code(&COS_CI_TAGGING, &facts(Bmp, 800, 600, 1000)), "format");
        assert_eq!(
            code(&COS_CI_TAGGING, &facts(Jpeg, 800, 600, 3 * MB + 1)),
            "too_large"
        );
        assert_eq!(
            code(&COS_CI_TAGGING, &facts(Jpeg, 7680, 4000, 1000)),
            "side_too_large"
        );
        assert_eq!(
            code(&COS_CI_TAGGING, &facts(Jpeg, 50, 50, 1000)),
            "side_too_small"
        );
    }

    #[test]
    fn ims_sides_aspect_and_bytes() {
        assert_eq!(code(&TENCENT_IMS, &facts(Gif, 500, 500, 10_000)), "ok");
        assert_eq!(
            code(&TENCENT_IMS, &facts(Png, 49, 500, 10_000)),
            "side_too_small"
        );
        assert_eq!(
            code(&TENCENT_IMS, &facts(Png, 50, 10_000, 10_000)),
            "aspect_ratio"
        );
        assert_eq!(code(&TENCENT_IMS, &facts(Png, 200, 10_000, 10_000)), "ok");
        assert_eq!(
            code(&TENCENT_IMS, &facts(Png, 200, 10_001, 10_000)),
            "side_too_large"
        );
        assert_eq!(
            code(&TENCENT_IMS, &facts(Png, 200, 200, 15)),
            "too_few_bytes"
        );
        assert_eq!(
            code(&TENCENT_IMS, &facts(Png, 200, 200, 30 * MB)),
            "too_large"
        );
        assert_eq!(code(&TENCENT_IMS, &facts(Tiff, 200, 200, 1000)), "format");
    }

    #[test]
    fn one_by_twenty_thousand_is_refused_everywhere_with_a_reason() {
        let f = facts(Png, 1, 20_000, 5_000);
        // Seed 004 gives celebrity recognition no side rule at all.
        for l in ALL
            .iter()
            .filter(|l| l.max_side.is_some() || l.max_aspect.is_some())
        {
            let e = check(l, &f).unwrap_err();
            assert!(
                matches!(
                    e.code(),
                    "side_too_small" | "side_too_large" | "aspect_ratio"
                ),
                "{}: {e}",
                l.service
            );
            assert!(e.to_string().contains("1x20000"), "{e}");
        }
    }

    #[test]
    fn huawei_limits() {
        assert_eq!(code(&HUAWEI_TAGGING, &facts(Webp, 15, 4096, 1000)), "ok");
        assert_eq!(
            code(&HUAWEI_TAGGING, &facts(Webp, 14, 400, 1000)),
            "side_too_small"
        );
        assert_eq!(
            code(&HUAWEI_TAGGING, &facts(Png, 400, 4097, 1000)),
            "side_too_large"
        );
        assert_eq!(code(&HUAWEI_TAGGING, &facts(Gif, 400, 400, 1000)), "format");
        assert_eq!(
            code(&HUAWEI_TAGGING_CURRENT, &facts(Png, 1, 10_000, 1000)),
            "ok"
        );
        assert_ne!(
            code(&HUAWEI_TAGGING_CURRENT, &facts(Png, 1, 10_001, 1000)),
            "ok"
        );
        assert_eq!(code(&HUAWEI_MODERATION, &facts(Gif, 6000, 20, 1000)), "ok");
        assert_eq!(
            code(&HUAWEI_MODERATION, &facts(Png, 6001, 20, 1000)),
            "side_too_large"
        );
    }

    #[test]
    fn unknown_dimensions_leave_it_to_the_service() {
        let f = ImageFacts {
            format: Jpeg,
            width: None,
            height: None,
            bytes: 5_000_000,
        };
        assert_eq!(code(&TENCENT_IMS, &f), "ok");
    }

    #[test]
    fn messages_name_the_service_and_the_numbers() {
        let e = check(&LOCAL_LABELS, &facts(Png, 10, 10, 100))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "local labels (EfficientNet-Lite0) needs both sides >= 16 px, the image is 10x10"
        );
    }
}
