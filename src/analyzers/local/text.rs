//! The local text reader: OCR on every frame the decode kept, lines placed in the source
//! image's pixels, in the result's `text` shape.

use super::decode::Decoded;
use super::ocr::{Ocr, OcrLine};
use crate::text::{TextLine, TextOutput};

/// The reader's name in the result.
pub const READER: &str = "local";
/// A lone character needs this confidence to count as text: the detector finds single
/// "characters" in fur, eyes and foam (rapidocr itself reads a `0` at 0.73 in the demo's cat
/// photo; we read an `8` at 0.93 in the coffee cup), and one character carries no keyword
/// worth a false review.
pub const SINGLE_CHAR_MIN_CONFIDENCE: f32 = 0.95;

/// Every line of every kept frame; a line already read in an earlier frame is not repeated
/// (an animation's caption stays on screen for many frames).
pub fn read_frames(ocr: &Ocr, decoded: &Decoded) -> Result<TextOutput, String> {
    let mut lines: Vec<TextLine> = vec![];
    for frame in &decoded.frames {
        let scale = Scale::new(decoded, &frame.image);
        for line in ocr.read(&frame.image)? {
            let lone = line.text.chars().filter(|c| !c.is_whitespace()).count() < 2;
            if lone && line.confidence < SINGLE_CHAR_MIN_CONFIDENCE {
                continue;
            }
            if lines.iter().any(|l| l.text == line.text) {
                continue;
            }
            lines.push(to_line(line, &scale, frame.index));
        }
    }
    Ok(TextOutput::new(READER, lines))
}

/// From the reduced frame's pixels to the source image's.
struct Scale {
    x: f32,
    y: f32,
    width: u32,
    height: u32,
}

impl Scale {
    fn new(decoded: &Decoded, frame: &image::RgbImage) -> Scale {
        Scale {
            x: decoded.width as f32 / frame.width().max(1) as f32,
            y: decoded.height as f32 / frame.height().max(1) as f32,
            width: decoded.width,
            height: decoded.height,
        }
    }
}

fn to_line(line: OcrLine, scale: &Scale, frame: u32) -> TextLine {
    TextLine {
        confidence: Some((line.confidence * 100.0).clamp(0.0, 100.0)),
        bbox: Some(bbox(&line.quad, scale)),
        frame: (frame != 0).then_some(frame),
        text: line.text,
    }
}

/// The axis-aligned box around a quadrilateral, `[x, y, width, height]`, inside the image.
fn bbox(quad: &[[f32; 2]; 4], scale: &Scale) -> [u32; 4] {
    let xs = quad.iter().map(|p| p[0] * scale.x);
    let ys = quad.iter().map(|p| p[1] * scale.y);
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let x0 = clamp(xs.clone().fold(f32::INFINITY, f32::min), scale.width);
    let x1 = clamp(xs.fold(f32::NEG_INFINITY, f32::max).ceil(), scale.width);
    let y0 = clamp(ys.clone().fold(f32::INFINITY, f32::min), scale.height);
    let y1 = clamp(ys.fold(f32::NEG_INFINITY, f32::max).ceil(), scale.height);
    [x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_scaled_to_the_source_and_clamped() {
        let scale = Scale {
            x: 2.0,
            y: 2.0,
            width: 1000,
            height: 800,
        };
        let quad = [[10.0, 20.0], [110.5, 22.0], [110.0, 60.0], [9.0, 58.0]];
        assert_eq!(bbox(&quad, &scale), [18, 40, 203, 80]);
        let outside = [[-5.0, -5.0], [900.0, -5.0], [900.0, 900.0], [-5.0, 900.0]];
        assert_eq!(bbox(&outside, &scale), [0, 0, 1000, 800]);
    }
}
