//! GIF, row by row and frame by frame onto a reduced canvas.

use std::io::Cursor;

use gif::{ColorOutput, DecodeOptions, DisposalMethod};

use super::reduce::Alpha;
use super::{Animator, DecodeError, Decoded, Dispose, Plan};
use crate::analyzers::sampling::FrameSampling;
use crate::preflight::ImageFormat;

fn corrupt(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::corrupt(ImageFormat::Gif, e)
}

fn decoder(bytes: &[u8]) -> Result<gif::Decoder<Cursor<&[u8]>>, DecodeError> {
    let mut o = DecodeOptions::new();
    o.set_color_output(ColorOutput::RGBA);
    // Frames reaching past the canvas are clipped, as browsers do.
    o.check_frame_consistency(false);
    o.allow_unknown_blocks(true);
    // Rows are read through our own buffer; this bounds what the decoder keeps itself
    // (application extensions such as XMP and ICC).
    o.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::MIN.saturating_add(1 << 20),
    ));
    o.read_info(Cursor::new(bytes)).map_err(corrupt)
}

/// The canvas: the logical screen, grown to hold the first frame (as browsers do), so a tiny
/// screen cannot hide a large first frame.
fn canvas(d: &mut gif::Decoder<Cursor<&[u8]>>) -> Result<(u32, u32), DecodeError> {
    let (mut w, mut h) = (u32::from(d.width()), u32::from(d.height()));
    if let Some(f) = d.next_frame_info().map_err(corrupt)? {
        w = w.max(u32::from(f.left) + u32::from(f.width));
        h = h.max(u32::from(f.top) + u32::from(f.height));
    }
    Ok((w, h))
}

pub fn plan(bytes: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
    let (w, h) = canvas(&mut decoder(bytes)?)?;
    // One RGBA row of the widest possible frame, LZW tables, the decoder's own limit.
    Ok((w, h, 65_535 * 4 + 64 * 1024 + (1 << 20)))
}

/// The source row of the `i`-th row stored in an interlaced frame of height `h`.
fn interlaced_row(i: u32, h: u32) -> u32 {
    let passes = [(0, 8), (4, 8), (2, 4), (1, 2)];
    let mut i = i;
    for (start, step) in passes {
        let n = h.saturating_sub(start).div_ceil(step);
        if i < n {
            return start + i * step;
        }
        i -= n;
    }
    h
}

/// Decode onto the canvas `plan` found (see [`canvas`]).
pub fn decode(bytes: &[u8], plan: &Plan, sampling: FrameSampling) -> Result<Decoded, DecodeError> {
    let (width, height) = (plan.width, plan.height);
    let mut d = decoder(bytes)?;
    let mut anim = Animator::new(width, height, sampling);
    let mut count = 0u32;
    let mut row = Vec::new();
    loop {
        let frame = match d.next_frame_info() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            // A damaged later frame ends the animation; the frames before it stand.
            Err(e) if count > 0 => {
                tracing::debug!(error = %e, "GIF ends early");
                break;
            }
            Err(e) => return Err(corrupt(e)),
        };
        count += 1;
        if anim.done() {
            // Only counting now: the frame's data is skipped by the next call.
            continue;
        }
        let (left, top) = (u32::from(frame.left), u32::from(frame.top));
        let (fw, fh) = (u32::from(frame.width), u32::from(frame.height));
        let interlaced = frame.interlaced;
        let dispose = match frame.dispose {
            DisposalMethod::Background => Dispose::Background,
            DisposalMethod::Previous => Dispose::Previous,
            _ => Dispose::Keep,
        };
        anim.begin((left, top, fw, fh), dispose, Alpha::Cover);
        row.resize(fw as usize * 4, 0);
        for i in 0..fh {
            let y = if interlaced { interlaced_row(i, fh) } else { i };
            // Rows below the canvas are never shown; the rest of the frame is skipped unread.
            if fw == 0 || (!interlaced && top + y >= height) {
                break;
            }
            match d.fill_buffer(&mut row) {
                Ok(true) => {}
                Ok(false) => break,
                // A damaged frame ends the animation; the frames before it stand.
                Err(e) if !anim.frames.is_empty() => {
                    tracing::debug!(error = %e, "GIF frame ends early");
                    break;
                }
                Err(e) => return Err(corrupt(e)),
            }
            if !interlaced {
                anim.row(top + y, left, &row);
            } else if fh < 2 || y % 2 == 1 {
                // Interlaced: the last pass (odd rows) arrives in order; each row also stands
                // for the even row above it, so the bands fill as for a plain frame.
                if y > 0 && fh >= 2 {
                    anim.row(top + y - 1, left, &row);
                }
                anim.row(top + y, left, &row);
            }
        }
        anim.end();
    }
    Ok(anim.finish(width, height, Some(count)))
}

#[cfg(test)]
mod tests {
    use super::interlaced_row;

    #[test]
    fn interlaced_rows_cover_every_row_once() {
        for h in [1, 2, 7, 8, 9, 33] {
            let mut rows: Vec<u32> = (0..h).map(|i| interlaced_row(i, h)).collect();
            rows.sort();
            assert_eq!(rows, (0..h).collect::<Vec<_>>(), "height {h}");
        }
    }
}
