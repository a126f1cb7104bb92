//! The text recognizer (PP-OCR's SVTR/CTC net): the straightened crop of one box, its input,
//! and the CTC decoding of its output.

use image::RgbImage;

use super::geom;
use super::sample::{self, Planes};
use super::Quad;
use crate::analyzers::local::model::Input;

/// The recognizer's input height (rapidocr `rec_img_shape [3, 48, 320]`)...
pub const HEIGHT: usize = 48;
/// ...and the width a line is padded to at least.
const MIN_WIDTH: usize = 320;
/// A line wider than this (40 times its height) is squeezed to it rather than run at full
/// width: the recognizer's time grows with the width, and such a line is either a banner of
/// 40-plus characters, which still reads at this width, or noise.
pub const MAX_WIDTH: usize = 1920;
/// A crop taller than this is made at a smaller scale: the recognizer sees 48 rows anyway.
const MAX_CROP_HEIGHT: f64 = 2.0 * HEIGHT as f64;
/// A crop this many times taller than wide is vertical text: turned a quarter counter-clockwise.
const TALL: f64 = 1.5;

/// The crop's size before any scaling: the longer of each pair of opposite sides.
fn crop_size(q: &[geom::Point; 4]) -> (f64, f64) {
    (
        geom::distance(q[0], q[1]).max(geom::distance(q[2], q[3])),
        geom::distance(q[0], q[3]).max(geom::distance(q[1], q[2])),
    )
}

/// The recognizer input's width (padding included) for a crop of `width`×`height`.
fn plane_width(width: f64, height: f64) -> usize {
    ((HEIGHT as f64 * width / height.max(1.0)) as usize).clamp(MIN_WIDTH, MAX_WIDTH)
}

/// The recognizer input's width [`input`] will give the crop of `quad`, without cropping.
pub fn planned_width(quad: &Quad) -> usize {
    let (w, h) = crop_size(&quad.map(|[x, y]| [f64::from(x), f64::from(y)]));
    if h / w.max(f64::MIN_POSITIVE) >= TALL {
        plane_width(h, w)
    } else {
        plane_width(w, h)
    }
}

/// The box straightened into an upright image (rapidocr `get_rotate_crop_image`): corner 0 to
/// the top-left, corner 1 to the top-right, `None` when the box has no area.
pub fn crop(img: &RgbImage, quad: &Quad) -> Option<RgbImage> {
    let q = quad.map(|[x, y]| [f64::from(x), f64::from(y)]);
    let (width, height) = crop_size(&q);
    let scale = (MAX_CROP_HEIGHT / width.min(height)).min(1.0);
    let (w, h) = ((width * scale).floor(), (height * scale).floor());
    if w < 1.0 || h < 1.0 {
        return None;
    }
    // Output corner i takes input corner i: the map goes from output pixels to the input.
    let to_input = geom::perspective([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]], q)?;
    let out = sample::warp_bicubic(img, &to_input, w as u32, h as u32);
    Some(if h / w >= TALL {
        image::imageops::rotate270(&out)
    } else {
        out
    })
}

/// The recognizer's input for one crop: 48 rows high, the width keeping its aspect (at most
/// [`MAX_WIDTH`]), on a plane at least [`MIN_WIDTH`] wide padded with zeros (mid grey).
pub fn input(crop: &RgbImage) -> Input {
    let (cw, ch) = (crop.width() as usize, crop.height() as usize);
    let ratio = cw as f64 / ch.max(1) as f64;
    let plane_w = plane_width(cw as f64, ch as f64);
    let resized_w = ((HEIGHT as f64 * ratio).ceil() as usize).clamp(1, plane_w);
    let mut data = vec![0.0f32; 3 * HEIGHT * plane_w];
    sample::bilinear_into(
        cw,
        ch,
        |y| sample::image_row(crop, y),
        resized_w,
        HEIGHT,
        Planes {
            data: &mut data,
            width: plane_w,
            height: HEIGHT,
        },
    );
    Input {
        shape: [1, 3, HEIGHT, plane_w],
        data,
    }
}

/// Greedy CTC decoding of one line: the likeliest class per timestep, repeats collapsed,
/// class 0 (blank) dropped. `probs` is timesteps × `classes.len()`. The confidence is the
/// mean probability of the characters kept (0 when none is).
pub fn decode(probs: &[f32], classes: &[Box<str>]) -> (String, f32) {
    let n = classes.len();
    let mut text = String::new();
    let (mut sum, mut kept) = (0.0f32, 0usize);
    let mut prev = None;
    for step in probs.chunks_exact(n.max(1)) {
        let (best, p) =
            step.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(bi, bp), (i, &v)| {
                    if v > bp {
                        (i, v)
                    } else {
                        (bi, bp)
                    }
                });
        if best != 0 && prev != Some(best) {
            text.push_str(&classes[best]);
            sum += p;
            kept += 1;
        }
        prev = Some(best);
    }
    let confidence = if kept == 0 { 0.0 } else { sum / kept as f32 };
    (text, confidence)
}
