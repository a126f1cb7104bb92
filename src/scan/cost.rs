//! What a backfill would cost before it runs: how many objects need triage, and how many billable
//! vendor calls that means for the analyzers the configuration selects for the bucket's provider.
//!
//! Pure functions over counts, so the arithmetic is tested without a bucket. No object byte is
//! read for an estimate (preflight would read 64 KiB of each): an object's type is guessed from
//! its Content-Type, then its key's extension, and each service is counted only for objects its
//! documented byte limits and formats accept (`image-triage limits`). Dimensions are unknown, so
//! every count is what preflight would let through at most; objects that turn out not to be images
//! are never sent to a vendor.
//!
//! Billing rules, from the seeds and reference docs:
//! - CI `detect-label`: one billed call per scene per image (`TRIAGE_LABEL_SCENES`, default
//!   `camera`).
//! - TIIA `DetectLabel`: seed 000 — the interface is several services in one, each enabled scene
//!   billed separately.
//! - IMS `ImageModeration`: seed 001 bills per image (25 元/万张); animated GIF/WebP/HEIC are
//!   sampled ("默认最多抽取5帧图像，每隔5帧进行一次采样"), and each sampled frame may be billed: GIFs
//!   are sampled as configured (`TRIAGE_MODERATION_GIF_INTERVAL` / `_MAX_FRAMES`), WebP and HEIC
//!   at the service's default of at most 5 frames. Text in images costs nothing extra (seed 001).
//! - CI `sensitive-content-recognition`: each moderation scene is billed (vendor doc "Billing
//!   Details"), and the scenes are the biz-type policy's, which cannot be seen from here: at least
//!   one per image. Objects over 5 MB are compressed first (`large-image-detect`), billed as image
//!   processing.
//! - Huawei Image Tagging / Media Tagging / Content Moderation: one call per image; celebrity
//!   recognition and main-object detection one more each when switched on.
//! - The local models: nothing billable.

use serde::Serialize;

use crate::analyzers::huawei::builder::{TaggingSettings, IMAGE_TAGGING, MEDIA_TAGGING};
use crate::analyzers::huawei::extras;
use crate::analyzers::sampling::FrameSampling;
use crate::analyzers::tencent::builder as tencent;
use crate::config::{Config, ConfigError, LabelerKind, ModeratorKind};
use crate::object::Provider;
use crate::preflight::limits::{self, Limits};
use crate::preflight::ImageFormat;

/// Frames IMS samples from an animated WebP or HEIC, whose sampling the request does not set
/// (seed 001: at most 5 frames by default).
pub const IMS_DEFAULT_ANIMATED_FRAMES: u32 = 5;
/// CI moderates objects over this size only after compressing them (`large-image-detect=1`).
pub const CI_LARGE_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// An object's type as far as its name and Content-Type tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image(ImageFormat),
    /// No telling (no or a generic Content-Type, no known extension): counted as an image.
    Unknown,
    /// Named or typed as something else (`readme.txt`, `application/pdf`): preflight would skip
    /// it after one 64 KiB read, before any vendor call.
    NotImage,
}

fn format_of_mime(mime: &str) -> Option<ImageFormat> {
    use ImageFormat::*;
    Some(match mime {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Jpeg,
        "image/png" | "image/apng" => Png,
        "image/gif" => Gif,
        "image/bmp" | "image/x-ms-bmp" | "image/x-bmp" => Bmp,
        "image/webp" => Webp,
        "image/tiff" => Tiff,
        "image/heic" | "image/heif" | "image/heic-sequence" | "image/heif-sequence" => Heic,
        "image/avif" => Avif,
        "image/x-icon" | "image/vnd.microsoft.icon" => Ico,
        "image/svg+xml" => Svg,
        "image/jxl" => Jxl,
        "image/vnd.adobe.photoshop" => Psd,
        _ => return None,
    })
}

fn format_of_extension(ext: &str) -> Option<ImageFormat> {
    use ImageFormat::*;
    Some(match ext {
        "jpg" | "jpeg" | "jpe" | "jfif" => Jpeg,
        "png" | "apng" => Png,
        "gif" => Gif,
        "bmp" | "dib" => Bmp,
        "webp" => Webp,
        "tif" | "tiff" => Tiff,
        "heic" | "heif" | "hif" => Heic,
        "avif" => Avif,
        "ico" | "cur" => Ico,
        "svg" => Svg,
        "jxl" => Jxl,
        "psd" | "psb" => Psd,
        _ => return None,
    })
}

/// Extensions that name documents, archives, media and code: not images.
const NOT_IMAGE_EXTENSIONS: &[&str] = &[
    "txt", "md", "json", "csv", "tsv", "xml", "html", "htm", "pdf", "zip", "gz", "tgz", "tar",
    "7z", "rar", "mp4", "mov", "avi", "mkv", "webm", "mp3", "wav", "flac", "js", "css", "log",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx", "yaml", "yml",
];

/// Guess an object's type: the Content-Type when it names a type, else the key's extension.
pub fn guess_kind(key: &str, content_type: Option<&str>) -> Kind {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(f) = format_of_mime(&mime) {
        return Kind::Image(f);
    }
    let name = key.rsplit('/').next().unwrap_or(key);
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(f) = format_of_extension(&ext) {
        return Kind::Image(f);
    }
    let generic = matches!(
        mime.as_str(),
        "" | "application/octet-stream" | "binary/octet-stream"
    );
    if mime.starts_with("image/") {
        Kind::Unknown
    } else if !generic || NOT_IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Kind::NotImage
    } else {
        Kind::Unknown
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Labels,
    Moderation,
    /// Celebrity recognition, main-object detection, CI's large-image compression.
    Extra,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Labels => "labels",
            Role::Moderation => "moderation",
            Role::Extra => "extra",
        }
    }
}

/// One service a triage calls, and how it bills.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: &'static str,
    pub role: Role,
    /// What preflight lets through to it.
    pub limits: Limits,
    /// False for the in-process models.
    pub billable: bool,
    /// Billed units per image (detect-label / TIIA scenes).
    pub per_image: u64,
    /// False when the units per image are set where this tool cannot see (a CI moderation
    /// policy's scenes): the count is then a lower bound.
    pub per_image_known: bool,
    /// Most frames billed for a GIF (1: the first frame only).
    pub gif_frames: u32,
    /// Most frames billed for an animated WebP or HEIC.
    pub animated_frames: u32,
    /// Counted only for objects larger than this (CI's large-image compression).
    pub only_over_bytes: Option<u64>,
    /// Why the count is what it is, for people.
    pub note: String,
}

impl Service {
    fn new(name: &'static str, role: Role, limits: Limits, note: impl Into<String>) -> Self {
        Service {
            name,
            role,
            limits,
            billable: true,
            per_image: 1,
            per_image_known: true,
            gif_frames: 1,
            animated_frames: 1,
            only_over_bytes: None,
            note: note.into(),
        }
    }

    fn in_process(name: &'static str, role: Role, limits: Limits) -> Self {
        Service {
            billable: false,
            ..Service::new(name, role, limits, "runs in-process")
        }
    }

    /// Whether preflight would send an object of this kind and size to this service.
    pub fn accepts(&self, kind: Kind, bytes: u64) -> bool {
        let l = &self.limits;
        let size_ok = bytes >= l.min_bytes
            && l.max_bytes.is_none_or(|m| bytes <= m)
            && l.max_base64_bytes
                .is_none_or(|m| bytes.div_ceil(3) * 4 <= m)
            && self.only_over_bytes.is_none_or(|m| bytes > m);
        size_ok
            && match kind {
                Kind::Image(f) => l.formats.contains(&f),
                Kind::Unknown => true,
                Kind::NotImage => false,
            }
    }
}

/// The analyzer settings an estimate needs, read with the parsers the analyzers use.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub scenes: Vec<String>,
    pub gif: FrameSampling,
    pub huawei_tagging_limits: Limits,
    pub celebrity: bool,
    pub main_object: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let extras = extras::Settings::from_config(config)?;
        Ok(Settings {
            scenes: tencent::scenes(config, "tencent image tagging")?,
            gif: FrameSampling::from_config(config, "tencent moderation")?,
            huawei_tagging_limits: TaggingSettings::for_variant(config, IMAGE_TAGGING)?.limits,
            celebrity: extras.celebrity,
            main_object: extras.main_object,
        })
    }
}

/// Frames billed at most for one GIF under `sampling`: one in every `interval`, at most
/// `max_frames`; interval 0 looks at the first frame only.
pub fn gif_frames(sampling: FrameSampling) -> u32 {
    match sampling.interval {
        0 => 1,
        _ => sampling.max_frames.max(1),
    }
}

/// The services one triage calls, for the configured labeler and moderator.
pub fn services(labeler: LabelerKind, moderator: ModeratorKind, s: &Settings) -> Vec<Service> {
    let mut out = Vec::new();
    let scenes = s.scenes.len().max(1) as u64;
    let scene_note = |what: &str| {
        format!(
            "{what}: {scenes} scene(s) ({}, TRIAGE_LABEL_SCENES)",
            s.scenes.join(", ")
        )
    };
    match labeler {
        LabelerKind::None => {}
        LabelerKind::Local => out.push(Service::in_process(
            limits::LOCAL_LABELS.service,
            Role::Labels,
            limits::LOCAL_LABELS,
        )),
        LabelerKind::CosCi => out.push(Service {
            per_image: scenes,
            ..Service::new(
                "cos ci detect-label",
                Role::Labels,
                limits::COS_CI_TAGGING,
                scene_note("one billed call per scene per image"),
            )
        }),
        LabelerKind::Tiia => out.push(Service {
            per_image: scenes,
            ..Service::new(
                "tencent tiia DetectLabel",
                Role::Labels,
                limits::TENCENT_TAGGING,
                scene_note("each scene billed separately (seed 000)"),
            )
        }),
        LabelerKind::TencentLegacy => out.push(Service::new(
            "tencent image tagging (legacy)",
            Role::Labels,
            limits::TENCENT_TAGGING,
            "one call per image",
        )),
        LabelerKind::Huawei => out.push(Service::new(
            IMAGE_TAGGING.name,
            Role::Labels,
            s.huawei_tagging_limits.clone(),
            "one call per image",
        )),
        LabelerKind::HuaweiMedia => out.push(Service::new(
            MEDIA_TAGGING.name,
            Role::Labels,
            limits::HUAWEI_MEDIA,
            "one call per image",
        )),
    }
    // Run beside whichever labeler is set (analyzers::build_labeler).
    if s.celebrity {
        out.push(Service::new(
            limits::HUAWEI_CELEBRITY.service,
            Role::Extra,
            limits::HUAWEI_CELEBRITY,
            "one call per image (TRIAGE_HUAWEI_CELEBRITY=on)",
        ));
    }
    if s.main_object {
        out.push(Service::new(
            limits::HUAWEI_MAIN_OBJECT.service,
            Role::Extra,
            limits::HUAWEI_MAIN_OBJECT,
            "one call per image (TRIAGE_HUAWEI_MAIN_OBJECT=on)",
        ));
    }
    let gif = gif_frames(s.gif);
    match moderator {
        ModeratorKind::None => {}
        ModeratorKind::Local => out.push(Service::in_process(
            limits::LOCAL_MODERATION.service,
            Role::Moderation,
            limits::LOCAL_MODERATION,
        )),
        ModeratorKind::Ims => out.push(Service {
            gif_frames: gif,
            animated_frames: IMS_DEFAULT_ANIMATED_FRAMES,
            ..Service::new(
                "tencent ims ImageModeration",
                Role::Moderation,
                limits::TENCENT_IMS,
                format!(
                    "one per image; each sampled frame of an animated image may be billed: GIF \
                     at most {gif} (TRIAGE_MODERATION_GIF_INTERVAL/_MAX_FRAMES), WebP/HEIC at \
                     most {IMS_DEFAULT_ANIMATED_FRAMES} (seed 001); text in images is free"
                ),
            )
        }),
        ModeratorKind::CosCi => {
            out.push(Service {
                per_image_known: false,
                gif_frames: gif,
                ..Service::new(
                    "cos ci sensitive-content-recognition",
                    Role::Moderation,
                    limits::COS_CI_MODERATION,
                    format!(
                        "each moderation scene of the biz-type policy is billed, and the policy's \
                         scenes are not visible here; GIF: at most {gif} sampled frames"
                    ),
                )
            });
            out.push(Service {
                only_over_bytes: Some(CI_LARGE_IMAGE_BYTES),
                ..Service::new(
                    "cos ci large-image compression",
                    Role::Extra,
                    limits::COS_CI_MODERATION,
                    "objects over 5 MB are compressed before moderation (large-image-detect), \
                     billed as image processing",
                )
            });
        }
        ModeratorKind::Huawei => out.push(Service::new(
            limits::HUAWEI_MODERATION.service,
            Role::Moderation,
            limits::HUAWEI_MODERATION,
            "one call per image",
        )),
    }
    out
}

/// The services for `provider`'s objects under `config`.
pub fn services_for(config: &Config, provider: Provider) -> Result<Vec<Service>, ConfigError> {
    Ok(services(
        config.labeler_for(provider),
        config.moderator_for(provider),
        &Settings::from_config(config)?,
    ))
}

/// What one service would receive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub objects: u64,
    pub gifs: u64,
    /// WebP and HEIC, which may be animated.
    pub animated: u64,
}

/// The objects needing triage, counted as they are found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub objects: u64,
    pub bytes: u64,
    pub unknown_type: u64,
    pub not_images: u64,
    /// One entry per service, in the order [`services`] gave them.
    pub per_service: Vec<Counts>,
}

impl Tally {
    pub fn new(services: &[Service]) -> Tally {
        Tally {
            per_service: vec![Counts::default(); services.len()],
            ..Tally::default()
        }
    }

    pub fn add(&mut self, services: &[Service], kind: Kind, bytes: u64) {
        self.objects += 1;
        self.bytes += bytes;
        match kind {
            Kind::Unknown => self.unknown_type += 1,
            Kind::NotImage => self.not_images += 1,
            Kind::Image(_) => {}
        }
        for (service, counts) in services.iter().zip(self.per_service.iter_mut()) {
            if !service.accepts(kind, bytes) {
                continue;
            }
            counts.objects += 1;
            match kind {
                Kind::Image(ImageFormat::Gif) => counts.gifs += 1,
                Kind::Image(ImageFormat::Webp | ImageFormat::Heic) => counts.animated += 1,
                _ => {}
            }
        }
    }

    /// Add another tally of the same services (one batch to the run's total).
    pub fn merge(&mut self, other: &Tally) {
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.unknown_type += other.unknown_type;
        self.not_images += other.not_images;
        for (a, b) in self.per_service.iter_mut().zip(&other.per_service) {
            a.objects += b.objects;
            a.gifs += b.gifs;
            a.animated += b.animated;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEstimate {
    pub service: &'static str,
    pub role: Role,
    pub billable: bool,
    /// Objects preflight would send it.
    pub objects: u64,
    /// Billable calls for those objects as still images.
    pub calls: u64,
    /// The most, when animated images may bill per sampled frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_max: Option<u64>,
    /// `calls` is a lower bound (units per image unknown here).
    pub at_least: bool,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Objects needing triage.
    pub objects: u64,
    pub bytes: u64,
    /// Of those, named or typed as no image format.
    pub not_images: u64,
    /// Of those, of no telling type (counted as images).
    pub unknown_type: u64,
    pub services: Vec<ServiceEstimate>,
}

pub fn estimate(services: &[Service], tally: &Tally) -> Estimate {
    let per_service = services
        .iter()
        .zip(&tally.per_service)
        .map(|(s, c)| {
            let calls = if s.billable {
                c.objects * s.per_image
            } else {
                0
            };
            let extra_frames = u64::from(s.gif_frames.saturating_sub(1)) * c.gifs
                + u64::from(s.animated_frames.saturating_sub(1)) * c.animated;
            ServiceEstimate {
                service: s.name,
                role: s.role,
                billable: s.billable,
                objects: c.objects,
                calls,
                calls_max: (s.billable && extra_frames > 0)
                    .then(|| calls + extra_frames * s.per_image),
                at_least: s.billable && !s.per_image_known,
                note: s.note.clone(),
            }
        })
        .collect();
    Estimate {
        objects: tally.objects,
        bytes: tally.bytes,
        not_images: tally.not_images,
        unknown_type: tally.unknown_type,
        services: per_service,
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl ServiceEstimate {
    /// `tencent ims ImageModeration (moderation): 12–20 billable calls for 12 objects — …`
    pub fn render(&self) -> String {
        let calls = match (self.billable, self.at_least, self.calls_max) {
            (false, _, _) => "0 billable calls".to_string(),
            (true, true, _) => format!("≥ {} billable calls", self.calls),
            (true, false, Some(max)) => format!("{}–{max} billable calls", self.calls),
            (true, false, None) => format!("{} billable calls", self.calls),
        };
        format!(
            "{} ({}): {calls} for {} object(s) — {}",
            self.service,
            self.role.as_str(),
            self.objects,
            self.note
        )
    }
}

impl Estimate {
    /// Lines for people: the objects, then one line per service.
    pub fn render(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{} object(s) need triage ({}){}{}",
            self.objects,
            human_bytes(self.bytes),
            if self.not_images > 0 {
                format!(
                    "; {} named or typed as no image (preflight skips them unbilled)",
                    self.not_images
                )
            } else {
                String::new()
            },
            if self.unknown_type > 0 {
                format!("; {} of unknown type, counted as images", self.unknown_type)
            } else {
                String::new()
            },
        )];
        if self.services.is_empty() {
            lines.push("no analyzer is configured: 0 billable calls".into());
        }
        lines.extend(self.services.iter().map(|s| format!("  {}", s.render())));
        lines
    }

    /// Billable calls in all (lower bounds summed; the most where frames may bill).
    pub fn total_calls(&self) -> (u64, u64) {
        self.services.iter().fold((0, 0), |(lo, hi), s| {
            (lo + s.calls, hi + s.calls_max.unwrap_or(s.calls))
        })
    }
}

#[cfg(test)]
mod tests;
