//! JPEG with DCT scaling: the IDCT produces 1/2, 1/4 or 1/8 of each side directly, so a
//! 16000×16000 baseline JPEG never exists at full size. Progressive JPEGs keep every DCT
//! coefficient until the last scan, whatever the scale: their plan says so, and the budget
//! decides.

use std::io::Cursor;

use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};

use super::reduce::{Alpha, Reducer, TARGET_SHORT};
use super::{DecodeError, Decoded, Frame, Plan};
use crate::preflight::ImageFormat;

fn corrupt(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::corrupt(ImageFormat::Jpeg, e)
}

/// The 1/scale that keeps the short side at the working size or above.
fn scale(w: u32, h: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|s| w.min(h) / s >= TARGET_SHORT)
        .unwrap_or(1)
}

struct Header {
    width: u32,
    height: u32,
    channels: u64,
    progressive: bool,
}

/// Lossless JPEG (SOF3) decodes at full size into 16-bit planes whatever the scale, and no
/// browser displays it: declined.
fn lossless(process: CodingProcess) -> bool {
    process == CodingProcess::Lossless
}

fn header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let mut d = Decoder::new(Cursor::new(bytes));
    d.read_info().map_err(corrupt)?;
    let info = d.info().ok_or_else(|| corrupt("no frame header"))?;
    Ok(Header {
        width: u32::from(info.width),
        height: u32::from(info.height),
        channels: match info.pixel_format {
            PixelFormat::L8 => 1,
            PixelFormat::L16 => 2,
            PixelFormat::RGB24 => 3,
            PixelFormat::CMYK32 => 4,
        },
        progressive: if lossless(info.coding_process) {
            return Err(DecodeError::Unreadable("lossless jpeg"));
        } else {
            info.coding_process == CodingProcess::DctProgressive
        },
    })
}

pub fn plan(bytes: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
    let h = header(bytes)?;
    let (w, hh) = (u64::from(h.width), u64::from(h.height));
    let s = u64::from(scale(h.width, h.height));
    // Component planes and the interleaved output at the scaled size, one MCU row at full size.
    let scaled = (w / s + 16) * (hh / s + 16) * h.channels * 2 + w * 16 * h.channels * 2;
    // Progressive: 64 two-byte coefficients per 8×8 block of every component, at full size
    // (counted as if no component were subsampled).
    let coefficients = if h.progressive {
        w.div_ceil(8) * hh.div_ceil(8) * 128 * h.channels
    } else {
        0
    };
    // ICC profiles and other APP segments are kept by the decoder: at most the file itself.
    Ok((
        h.width,
        h.height,
        scaled + coefficients + bytes.len() as u64,
    ))
}

pub fn decode(bytes: &[u8], plan: &Plan) -> Result<Decoded, DecodeError> {
    let mut d = Decoder::new(Cursor::new(bytes));
    d.set_max_decoding_buffer_size(usize::try_from(plan.cost).unwrap_or(usize::MAX));
    d.read_info().map_err(corrupt)?;
    let s = scale(plan.width, plan.height);
    let want = |v: u32| u16::try_from(v.div_ceil(s)).unwrap_or(u16::MAX);
    let (w, h) = d
        .scale(want(plan.width), want(plan.height))
        .map_err(corrupt)?;
    let pixels = d.decode().map_err(corrupt)?;
    let format = d
        .info()
        .map(|i| i.pixel_format)
        .ok_or_else(|| corrupt("no frame header"))?;
    let (w, h) = (u32::from(w), u32::from(h));
    let mut r = Reducer::new(w, h);
    let mut rgba = Vec::with_capacity(w as usize * 4);
    let bpp = format.pixel_bytes();
    for (y, row) in pixels.chunks_exact(w as usize * bpp).enumerate() {
        rgba.clear();
        for px in row.chunks_exact(bpp) {
            let rgb = match format {
                PixelFormat::L8 => [px[0]; 3],
                // Big-endian samples: the high byte.
                PixelFormat::L16 => [px[0]; 3],
                PixelFormat::RGB24 => [px[0], px[1], px[2]],
                // The decoder hands out plain CMYK (ink amounts); white is no ink.
                PixelFormat::CMYK32 => {
                    let k = 255 - u32::from(px[3]);
                    let ch = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
                    [ch(px[0]), ch(px[1]), ch(px[2])]
                }
            };
            rgba.extend_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
        }
        r.row(y as u32, 0, &rgba, Alpha::Flatten);
    }
    r.flush(Alpha::Flatten);
    Ok(Decoded {
        frames: vec![Frame {
            index: 0,
            image: r.canvas,
        }],
        frame_count: Some(1),
        width: plan.width,
        height: plan.height,
    })
}
