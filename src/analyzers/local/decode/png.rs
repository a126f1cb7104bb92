//! PNG and APNG, row by row: only one row of the source exists at a time. Interlaced (Adam7)
//! images contribute their 7th pass, which holds every odd row at full width.

use std::io::Cursor;

use png::{BitDepth, BlendOp, DisposeOp, Transformations};

use super::reduce::{to_rgba, Alpha};
use super::{Animator, DecodeError, Decoded, Dispose};
use crate::analyzers::sampling::FrameSampling;
use crate::preflight::ImageFormat;

/// Ancillary chunks (ICC profiles, text) a decoder may hold in memory.
const CHUNK_LIMIT: usize = 8 * 1024 * 1024;

fn corrupt(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::corrupt(ImageFormat::Png, e)
}

fn reader(bytes: &[u8]) -> Result<png::Reader<Cursor<&[u8]>>, DecodeError> {
    let mut d =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: CHUNK_LIMIT });
    // Palette and low bit depths expand to 8 bits; 16-bit samples stay (the high byte is used).
    d.set_transformations(Transformations::EXPAND);
    d.set_ignore_text_chunk(true);
    d.read_info().map_err(corrupt)
}

pub fn plan(bytes: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
    let r = reader(bytes)?;
    let info = r.info();
    // Rows the decoder keeps (current, previous, unfiltered) at up to 8 bytes a pixel, its
    // inflate window and the chunk limit.
    let row = u64::from(info.width) * 8;
    Ok((
        info.width,
        info.height,
        row * 4 + 1024 * 1024 + CHUNK_LIMIT as u64,
    ))
}

/// The rows of one (sub)frame, in the order the decoder yields them, as (pass, source row).
/// Non-interlaced: pass 0, every row.
fn row_order(width: u32, height: u32, interlaced: bool) -> impl Iterator<Item = (u8, u32)> {
    // (x sampling, x offset, y sampling, y offset) of the 7 Adam7 passes.
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (8, 0, 8, 0),
        (8, 4, 8, 0),
        (4, 0, 8, 4),
        (4, 2, 4, 0),
        (2, 0, 4, 2),
        (2, 1, 2, 0),
        (1, 0, 2, 1),
    ];
    let plain = (!interlaced).then(|| (0..height).map(|y| (0u8, y)));
    let adam7 = interlaced.then(|| {
        PASSES
            .iter()
            .enumerate()
            .flat_map(move |(p, &(xs, xo, ys, yo))| {
                let samples = width.saturating_sub(xo).div_ceil(xs);
                let lines = if samples == 0 {
                    0
                } else {
                    height.saturating_sub(yo).div_ceil(ys)
                };
                (0..lines).map(move |l| (p as u8 + 1, yo + l * ys))
            })
    });
    plain
        .into_iter()
        .flatten()
        .chain(adam7.into_iter().flatten())
}

pub fn decode(bytes: &[u8], sampling: FrameSampling) -> Result<Decoded, DecodeError> {
    let mut r = reader(bytes)?;
    let (width, height) = (r.info().width, r.info().height);
    // acTL counts only the animation's frames; when no fcTL comes before IDAT, the default
    // image is one more (shown by viewers without APNG support, and looked at too).
    let default_apart = r.info().frame_control.is_none();
    let frame_count = r
        .info()
        .animation_control
        .map(|a| a.num_frames.saturating_add(u32::from(default_apart)));
    let (color, depth) = r.output_color_type();
    let channels = color.samples();
    let sixteen = depth == BitDepth::Sixteen;
    let mut anim = Animator::new(width, height, sampling);
    let mut rgba = Vec::new();
    let mut first = true;
    loop {
        let info = r.info();
        let fc = info.frame_control;
        let interlaced = info.interlaced;
        // The default image (IDAT) is frame 0 whether or not it belongs to the animation: it is
        // what viewers without APNG support show.
        let (rect, dispose, alpha) = match fc.filter(|_| !first) {
            None => ((0, 0, width, height), Dispose::Keep, Alpha::Flatten),
            Some(fc) => (
                (fc.x_offset, fc.y_offset, fc.width, fc.height),
                match fc.dispose_op {
                    DisposeOp::None => Dispose::Keep,
                    DisposeOp::Background => Dispose::Background,
                    DisposeOp::Previous => Dispose::Previous,
                },
                match fc.blend_op {
                    BlendOp::Source => Alpha::Flatten,
                    BlendOp::Over => Alpha::Cover,
                },
            ),
        };
        anim.begin(rect, dispose, alpha);
        let (x0, y0, fw, fh) = rect;
        // The 7th pass alone when interlaced: every odd row at full width, in order, each also
        // standing for the even row above it. A frame one row tall has none and is left out.
        let keep = if interlaced { 7 } else { 0 };
        for (pass, y) in row_order(fw, fh, interlaced) {
            let row = match r.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                // A damaged later frame: the frames before it stand.
                Err(e) if !anim.frames.is_empty() => {
                    tracing::debug!(error = %e, "PNG frame ends early");
                    break;
                }
                Err(e) => return Err(corrupt(e)),
            };
            if pass == keep {
                to_rgba(row.data(), channels, sixteen, &mut rgba);
                if interlaced {
                    anim.row(y0 + y - 1, x0, &rgba);
                }
                anim.row(y0 + y, x0, &rgba);
            }
        }
        anim.end();
        first = false;
        let more = frame_count.is_some_and(|n| anim.index < n);
        if anim.done() || !more {
            break;
        }
        if r.next_frame_info().is_err() {
            // A truncated animation: keep what was read.
            break;
        }
    }
    Ok(anim.finish(width, height, frame_count.or(Some(1))))
}
