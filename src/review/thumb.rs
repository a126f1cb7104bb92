//! Thumbnails for the review page, made on the server: the object is decoded by the local
//! analyzers' bounded decoder under the same process-wide memory budget
//! (`TRIAGE_DECODE_BUDGET_MB`), reduced to at most [`MAX_SIDE`] px and sent as PNG, so the page
//! never gets the original. Without the `local` feature there is no decoder: the page shows a
//! placeholder.

use bytes::Bytes;

/// The longest side of a thumbnail, in pixels.
pub const MAX_SIDE: u32 = 320;
/// Larger objects are not read for a thumbnail (over every analyzer's limit anyway).
pub const MAX_SOURCE_BYTES: u64 = 32 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("{0} bytes: too large for a thumbnail (at most {MAX_SOURCE_BYTES})")]
    TooLarge(u64),
    #[error("not an image: {0}")]
    NotImage(String),
    #[error("cannot decode: {0}")]
    Decode(String),
    #[error("this build has no local decoder (built without the `local` feature)")]
    Unavailable,
}

/// The size of a thumbnail of a `w`×`h` image: the longest side at most `max`, the aspect kept,
/// never enlarged, never 0.
pub fn fit(w: u32, h: u32, max: u32) -> (u32, u32) {
    let (w, h) = (w.max(1), h.max(1));
    if w <= max && h <= max {
        return (w, h);
    }
    let scale = f64::from(max) / f64::from(w.max(h));
    let side = |s: u32| ((f64::from(s) * scale).round() as u32).clamp(1, max);
    (side(w), side(h))
}

/// Whether the first bytes `head` of an object of `size` bytes are an image the decoder knows,
/// checked before the object is read whole.
pub fn sniff(head: &[u8], size: u64) -> Result<(), ThumbError> {
    crate::preflight::inspect_header(head, size)
        .map(|_| ())
        .map_err(|e| ThumbError::NotImage(e.to_string()))
}

/// A PNG thumbnail of the image in `bytes`, decoded within a `budget_mb` decode budget.
#[cfg(feature = "local")]
pub async fn make(bytes: Bytes, budget_mb: u64) -> Result<Vec<u8>, ThumbError> {
    use crate::analyzers::local::decode::{self, Budget};
    use crate::analyzers::sampling::FrameSampling;

    let facts = crate::preflight::inspect_header(&bytes, bytes.len() as u64)
        .map_err(|e| ThumbError::NotImage(e.to_string()))?;
    let format = facts.format;
    // The first frame only.
    let sampling = FrameSampling {
        interval: 0,
        max_frames: 1,
    };
    let joined = |e: tokio::task::JoinError| ThumbError::Decode(e.to_string());
    let header = bytes.clone();
    let plan = tokio::task::spawn_blocking(move || decode::plan(&header, format, sampling))
        .await
        .map_err(joined)?
        .map_err(|e| ThumbError::Decode(e.to_string()))?;
    let permit = Budget::shared(budget_mb)
        .reserve(&plan)
        .await
        .map_err(|e| ThumbError::Decode(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        // Held until the decoded frames are dropped at the end of this closure.
        let _permit = permit;
        let decoded = decode::decode(&bytes, &plan, sampling)
            .map_err(|e| ThumbError::Decode(e.to_string()))?;
        let frame = &decoded
            .frames
            .first()
            .ok_or_else(|| ThumbError::Decode("no frame".into()))?
            .image;
        let (w, h) = fit(frame.width(), frame.height(), MAX_SIDE);
        let small = image::imageops::thumbnail(frame, w, h);
        encode_png(&small)
    })
    .await
    .map_err(joined)?
}

#[cfg(not(feature = "local"))]
pub async fn make(_bytes: Bytes, _budget_mb: u64) -> Result<Vec<u8>, ThumbError> {
    Err(ThumbError::Unavailable)
}

/// Whether this build makes thumbnails.
pub const AVAILABLE: bool = cfg!(feature = "local");

#[cfg(feature = "local")]
fn encode_png(img: &image::RgbImage) -> Result<Vec<u8>, ThumbError> {
    let err = |e: png::EncodingError| ThumbError::Decode(e.to_string());
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(img.as_raw()).map_err(err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_the_aspect_within_the_bound() {
        assert_eq!(fit(451, 300, 320), (320, 213));
        assert_eq!(fit(300, 4000, 320), (24, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
        assert_eq!(fit(10_000, 1, 320), (320, 1));
        assert_eq!(fit(0, 0, 320), (1, 1));
    }

    #[cfg(feature = "local")]
    #[tokio::test]
    async fn a_thumbnail_is_a_small_png() {
        let mut src = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut src, 900, 600);
            enc.set_color(png::ColorType::Rgb);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&vec![200u8; 900 * 600 * 3]).unwrap();
        }
        let png = make(Bytes::from(src), 64).await.unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(png));
        let reader = dec.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (320, 213));
        assert!(matches!(
            make(Bytes::from_static(b"not an image at all"), 64).await,
            Err(ThumbError::NotImage(_))
        ));
    }
}
