//! Formats whose decoders produce whole frames (WebP, TIFF, BMP, ICO): decoded only when the
//! full-size buffers fit the budget (their plan prices them), then reduced at once.

use std::io::Cursor;

use image::ImageReader;

use super::{reduce_pixels, DecodeError, Decoded, Frame, Plan};
use crate::analyzers::sampling::FrameSampling;
use crate::preflight::ImageFormat;

fn webp(bytes: &[u8]) -> Result<image_webp::WebPDecoder<Cursor<&[u8]>>, DecodeError> {
    image_webp::WebPDecoder::new(Cursor::new(bytes))
        .map_err(|e| DecodeError::corrupt(ImageFormat::Webp, e))
}

pub fn plan_webp(bytes: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
    let mut d = webp(bytes)?;
    let (w, h) = d.dimensions();
    let px = u64::from(w) * u64::from(h);
    // Still: the output, the YUV planes and a lossless alpha plane decoded as RGBA. Animated: the
    // decoder's canvas, the frame being decoded (and its alpha) and our buffer.
    let frames = if d.is_animated() { px * 19 } else { px * 11 };
    // Lossless (VP8L) Huffman tables can be large for few input bytes, whatever the image size.
    let tables = if d.is_lossy() {
        0
    } else {
        bytes.len() as u64 * 300
    };
    Ok((w, h, frames + tables))
}

pub fn decode_webp(
    bytes: &[u8],
    plan: &Plan,
    sampling: FrameSampling,
) -> Result<Decoded, DecodeError> {
    let err = |e: image_webp::DecodingError| DecodeError::corrupt(ImageFormat::Webp, e);
    let mut d = webp(bytes)?;
    d.set_memory_limit(usize::try_from(plan.cost).unwrap_or(usize::MAX));
    let (w, h) = d.dimensions();
    let size = d
        .output_buffer_size()
        .ok_or_else(|| DecodeError::corrupt(ImageFormat::Webp, "too large"))?;
    let channels = if d.has_alpha() { 4 } else { 3 };
    let mut buf = vec![0u8; size];
    let mut frames = Vec::new();
    if !d.is_animated() {
        d.read_image(&mut buf).map_err(err)?;
        frames.push(Frame {
            index: 0,
            image: reduce_pixels(w, h, channels, &buf),
        });
        return Ok(Decoded {
            frames,
            frame_count: Some(1),
            width: w,
            height: h,
        });
    }
    let count = d.num_frames();
    for index in 0..count {
        if sampling.past_last(index) {
            break;
        }
        if let Err(e) = d.read_frame(&mut buf) {
            if frames.is_empty() {
                return Err(err(e));
            }
            break;
        }
        if sampling.picks(index) {
            frames.push(Frame {
                index,
                image: reduce_pixels(w, h, channels, &buf),
            });
        }
    }
    Ok(Decoded {
        frames,
        frame_count: Some(count),
        width: w,
        height: h,
    })
}

fn tiff_err(e: tiff::TiffError) -> DecodeError {
    DecodeError::corrupt(ImageFormat::Tiff, e)
}

/// Bytes of one decoded page and of its RGBA copy.
fn tiff_page_cost(
    d: &mut tiff::decoder::Decoder<Cursor<&[u8]>>,
) -> Result<(u32, u32, u64), DecodeError> {
    let (w, h) = d.dimensions().map_err(tiff_err)?;
    let (samples, bits) = match d.colortype().map_err(tiff_err)? {
        tiff::ColorType::Multiband {
            bit_depth,
            num_samples,
        } => (u64::from(num_samples), bit_depth),
        t => (u64::from(t.num_samples()), t.bit_depth()),
    };
    let px = u64::from(w) * u64::from(h);
    Ok((w, h, px * samples * u64::from(bits).div_ceil(8) + px * 4))
}

pub fn plan_tiff(bytes: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
    let mut d = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(tiff_err)?;
    tiff_page_cost(&mut d)
}

pub fn decode_tiff(
    bytes: &[u8],
    plan: &Plan,
    sampling: FrameSampling,
) -> Result<Decoded, DecodeError> {
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = usize::try_from(plan.cost).unwrap_or(usize::MAX);
    let mut d = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(tiff_err)?
        .with_limits(limits);
    let mut frames = Vec::new();
    let mut index = 0u32;
    loop {
        if sampling.picks(index) {
            let (w, h, cost) = tiff_page_cost(&mut d)?;
            // A later page larger than the first would exceed what the budget granted.
            if cost > plan.cost {
                break;
            }
            let rgba = tiff_rgba(&mut d)?;
            frames.push(Frame {
                index,
                image: reduce_pixels(w, h, 4, &rgba),
            });
        }
        index += 1;
        if !d.more_images() || d.next_image().is_err() {
            break;
        }
    }
    Ok(Decoded {
        frames,
        frame_count: Some(index),
        width: plan.width,
        height: plan.height,
    })
}

/// One TIFF page as RGBA8 (8- and 16-bit grey, grey+alpha, RGB, RGBA and CMYK).
fn tiff_rgba(d: &mut tiff::decoder::Decoder<Cursor<&[u8]>>) -> Result<Vec<u8>, DecodeError> {
    use tiff::decoder::DecodingResult;
    let color = d.colortype().map_err(tiff_err)?;
    let samples: Vec<u8> = match d.read_image().map_err(tiff_err)? {
        DecodingResult::U8(v) => v,
        DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(DecodeError::corrupt(
                ImageFormat::Tiff,
                "sample format other than 8 or 16-bit integers",
            ))
        }
    };
    let n = color.num_samples() as usize;
    let (w, h) = d.dimensions().map_err(tiff_err)?;
    // Planar pages and packed 1- or 4-bit samples do not come back as one 8-bit sample per
    // channel and pixel: declined rather than misread.
    if samples.len() as u64 != u64::from(w) * u64::from(h) * n as u64 {
        return Err(DecodeError::corrupt(
            ImageFormat::Tiff,
            "planar or sub-byte samples are not supported",
        ));
    }
    let out = match color {
        tiff::ColorType::Gray(_) => samples.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        tiff::ColorType::GrayA(_) => samples
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        tiff::ColorType::RGB(_) => samples
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        tiff::ColorType::RGBA(_) => samples,
        tiff::ColorType::CMYK(_) | tiff::ColorType::CMYKA(_) => samples
            .chunks_exact(n)
            .flat_map(|p| {
                let k = 255 - u32::from(p[3]);
                let ch = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
                [ch(p[0]), ch(p[1]), ch(p[2]), 255]
            })
            .collect(),
        t => {
            return Err(DecodeError::corrupt(
                ImageFormat::Tiff,
                format!("colour type {t:?}"),
            ))
        }
    };
    Ok(out)
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut r = ImageReader::new(Cursor::new(bytes));
    r.set_format(match format {
        ImageFormat::Ico => image::ImageFormat::Ico,
        _ => image::ImageFormat::Bmp,
    });
    r
}

pub fn plan_image(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32, u64), DecodeError> {
    let (w, h) = reader(bytes, format)
        .into_dimensions()
        .map_err(|e| DecodeError::corrupt(format, e))?;
    // The decoded frame (up to 16-bit RGBA) and its RGBA8 copy.
    Ok((w, h, u64::from(w) * u64::from(h) * 12))
}

pub fn decode_image(bytes: &[u8], plan: &Plan) -> Result<Decoded, DecodeError> {
    let mut r = reader(bytes, plan.format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(plan.cost);
    r.limits(limits);
    let img = r
        .decode()
        .map_err(|e| DecodeError::corrupt(plan.format, e))?;
    let (w, h) = (img.width(), img.height());
    let rgba = img.into_rgba8();
    Ok(Decoded {
        frames: vec![Frame {
            index: 0,
            image: reduce_pixels(w, h, 4, &rgba),
        }],
        frame_count: Some(1),
        width: w,
        height: h,
    })
}
