//! GIF, row by row and frame by frame onto a reduced canvas.

use std::io::Cursor;

use gif::{ColorOutput, DecodeOptions, DisposalMethod};

use super::reduce::Alpha;
use super::{Animator, DecodeError, Decoded, Dispose};
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
    o.read_info(Cursor::new(bytes)).map_err(corrupt)
}

pub fn plan(bytes: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
    let d = decoder(bytes)?;
    let (w, h) = (u32::from(d.width()), u32::from(d.height()));
    // One RGBA row of the widest possible frame, LZW tables.
    Ok((w, h, 65_535 * 4 + 64 * 1024))
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

pub fn decode(bytes: &[u8], sampling: FrameSampling) -> Result<Decoded, DecodeError> {
    let mut d = decoder(bytes)?;
    let (width, height) = (u32::from(d.width()), u32::from(d.height()));
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
            if fw == 0 || !d.fill_buffer(&mut row).map_err(corrupt)? {
                break;
            }
            let y = if interlaced { interlaced_row(i, fh) } else { i };
            anim.row(top + y, left, &row);
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
