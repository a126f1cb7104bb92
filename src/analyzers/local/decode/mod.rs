//! One decode per object, shared by every local model, within a memory budget.
//!
//! Each format is read through its own crate so that large images are reduced *while* decoding:
//! PNG and GIF rows stream into a box reduction ([`reduce`]), JPEG uses DCT scaling (1/2, 1/4,
//! 1/8). Formats whose decoders only produce whole frames (WebP, TIFF, BMP, ICO) and progressive
//! JPEG (which keeps every coefficient) are decoded only when their cost fits the budget.
//! Animations and multi-page files keep the frames [`FrameSampling`] picks.

mod budget;
mod gif;
mod jpeg;
mod other;
mod png;
pub mod reduce;

use image::RgbImage;

use crate::analyzers::sampling::FrameSampling;
use crate::preflight::limits::{check, LOCAL_MODERATION};
use crate::preflight::{ImageFacts, ImageFormat, LimitViolation};
pub use budget::Budget;
use reduce::{Alpha, Reducer};

/// One frame looked at, reduced to the working size.
pub struct Frame {
    /// 0-based frame (or page) number in the file.
    pub index: u32,
    pub image: RgbImage,
}

pub struct Decoded {
    /// At least one.
    pub frames: Vec<Frame>,
    /// Frames (pages) in the file, when known.
    pub frame_count: Option<u32>,
    /// The source size.
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("decoding this {format} of {width}x{height} px would need about {need_mib} MiB, more than the decode budget of {budget_mib} MiB (TRIAGE_DECODE_BUDGET_MB)")]
    OverBudget {
        format: &'static str,
        width: u32,
        height: u32,
        need_mib: u64,
        budget_mib: u64,
    },
    #[error("the local decoders cannot read {0} images")]
    Unreadable(&'static str),
    /// The size the decoder found breaks the local limits (preflight may not have seen it).
    #[error("{0}")]
    Limits(LimitViolation),
    #[error("corrupt or unsupported {format}: {message}")]
    Corrupt {
        format: &'static str,
        message: String,
    },
}

impl DecodeError {
    fn corrupt(format: ImageFormat, e: impl std::fmt::Display) -> Self {
        DecodeError::Corrupt {
            format: format.as_str(),
            message: e.to_string(),
        }
    }
}

/// What a decode will cost, learned from the header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes the decode holds at its peak, beyond the object's own bytes.
    pub cost: u64,
}

/// Read the header and price the decode, keeping up to `sampling.max_frames` frames.
pub fn plan(
    bytes: &[u8],
    format: ImageFormat,
    sampling: FrameSampling,
) -> Result<Plan, DecodeError> {
    let (width, height, cost) = match format {
        ImageFormat::Png => png::plan(bytes)?,
        ImageFormat::Gif => gif::plan(bytes)?,
        ImageFormat::Jpeg => jpeg::plan(bytes)?,
        ImageFormat::Webp => other::plan_webp(bytes)?,
        ImageFormat::Tiff => other::plan_tiff(bytes)?,
        ImageFormat::Bmp | ImageFormat::Ico => other::plan_image(bytes, format)?,
        f => return Err(DecodeError::Unreadable(f.as_str())),
    };
    if width == 0 || height == 0 {
        return Err(DecodeError::corrupt(format, "zero width or height"));
    }
    // The sides preflight checked came from the first 64 KiB, when they were there at all
    // (a TIFF directory or a JPEG frame header may come later): the decoder's word is final.
    let facts = ImageFacts {
        format,
        width: Some(width),
        height: Some(height),
        bytes: bytes.len() as u64,
    };
    check(&LOCAL_MODERATION, &facts).map_err(DecodeError::Limits)?;
    // The canvas, a saved copy (disposal), the band, and every frame kept.
    let canvases = 3 + u64::from(sampling.max_frames);
    Ok(Plan {
        format,
        width,
        height,
        cost: cost + Reducer::cost(width, height) * canvases,
    })
}

/// Decode and reduce, keeping the frames `sampling` picks. Runs on a blocking thread.
pub fn decode(bytes: &[u8], plan: &Plan, sampling: FrameSampling) -> Result<Decoded, DecodeError> {
    let decoded = match plan.format {
        ImageFormat::Png => png::decode(bytes, sampling)?,
        ImageFormat::Gif => gif::decode(bytes, plan, sampling)?,
        ImageFormat::Jpeg => jpeg::decode(bytes, plan)?,
        ImageFormat::Webp => other::decode_webp(bytes, plan, sampling)?,
        ImageFormat::Tiff => other::decode_tiff(bytes, plan, sampling)?,
        ImageFormat::Bmp | ImageFormat::Ico => other::decode_image(bytes, plan)?,
        f => return Err(DecodeError::Unreadable(f.as_str())),
    };
    if decoded.frames.is_empty() {
        return Err(DecodeError::corrupt(plan.format, "no frame could be read"));
    }
    Ok(decoded)
}

/// How an animation frame leaves the canvas for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dispose {
    Keep,
    Background,
    Previous,
}

/// Draws the frames of an animation onto a reduced canvas and keeps the sampled ones.
struct Animator {
    reducer: Reducer,
    sampling: FrameSampling,
    frames: Vec<Frame>,
    index: u32,
    /// The canvas before the current frame, when that frame disposes to "previous".
    saved: Option<RgbImage>,
    /// The current frame's rectangle and disposal, applied once it has been looked at.
    current: Option<((u32, u32, u32, u32), Dispose)>,
    alpha: Alpha,
}

impl Animator {
    fn new(width: u32, height: u32, sampling: FrameSampling) -> Self {
        Animator {
            reducer: Reducer::new(width, height),
            sampling,
            frames: Vec::new(),
            index: 0,
            saved: None,
            current: None,
            alpha: Alpha::Flatten,
        }
    }

    /// Start frame `self.index` covering the source rectangle (x, y, w, h).
    fn begin(&mut self, rect: (u32, u32, u32, u32), dispose: Dispose, alpha: Alpha) {
        let cells = self.reducer.cells(rect.0, rect.1, rect.2, rect.3);
        self.saved = (dispose == Dispose::Previous).then(|| self.reducer.canvas.clone());
        self.current = Some((cells, dispose));
        self.alpha = alpha;
    }

    fn row(&mut self, y: u32, x0: u32, rgba: &[u8]) {
        self.reducer.row(y, x0, rgba, self.alpha);
    }

    /// The frame is drawn: keep it if sampled, then dispose of it.
    fn end(&mut self) {
        self.reducer.flush(self.alpha);
        if self.sampling.picks(self.index) {
            self.frames.push(Frame {
                index: self.index,
                image: self.reducer.canvas.clone(),
            });
        }
        match self.current.take() {
            Some((cells, Dispose::Background)) => self.reducer.fill(cells, None),
            Some((cells, Dispose::Previous)) => {
                let saved = self.saved.take();
                self.reducer.fill(cells, saved.as_ref());
            }
            _ => {}
        }
        self.index += 1;
    }

    /// No later frame will be kept.
    fn done(&self) -> bool {
        self.sampling.past_last(self.index)
    }

    fn finish(self, width: u32, height: u32, frame_count: Option<u32>) -> Decoded {
        Decoded {
            frames: self.frames,
            frame_count,
            width,
            height,
        }
    }
}

/// Reduce a whole decoded 8-bit frame of `channels` (3 RGB, 4 RGBA) per pixel (formats without
/// a row interface), one row at a time.
fn reduce_pixels(width: u32, height: u32, channels: usize, pixels: &[u8]) -> RgbImage {
    let mut r = Reducer::new(width, height);
    let mut rgba = Vec::with_capacity(width as usize * 4);
    for (y, row) in pixels.chunks_exact(width as usize * channels).enumerate() {
        reduce::to_rgba(row, channels, false, &mut rgba);
        r.row(y as u32, 0, &rgba, Alpha::Flatten);
    }
    r.flush(Alpha::Flatten);
    r.canvas
}

#[cfg(test)]
mod tests;
