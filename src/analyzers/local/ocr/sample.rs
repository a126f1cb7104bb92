//! Resampling as OpenCV does it for rapidocr, so that the models see the pixels they were
//! validated on: `resize` with INTER_LINEAR (half-pixel centres, edges replicated, no
//! anti-aliasing) straight into the models' normalised input, and `warpPerspective` with
//! INTER_CUBIC for the text crops.

use image::RgbImage;

use super::geom;

/// The models' input value of a byte: (v / 255 − 0.5) / 0.5, so black is −1 and white 1.
pub fn normalise(v: f32) -> f32 {
    v / 127.5 - 1.0
}

/// PaddleOCR's models were trained on OpenCV's BGR images: plane 0 of the input is blue.
pub const PLANE_CHANNEL: [usize; 3] = [2, 1, 0];

/// Where output index `i` reads from in a source of `src` samples resized to `out`: the two
/// neighbours and the weight of the second.
fn taps(src: usize, out: usize) -> Vec<(usize, usize, f32)> {
    let scale = src as f64 / out as f64;
    let last = src.saturating_sub(1);
    (0..out)
        .map(|i| {
            let s = (i as f64 + 0.5) * scale - 0.5;
            let i0 = s.floor();
            if i0 < 0.0 {
                (0, 0, 0.0)
            } else if i0 as usize >= last {
                (last, last, 0.0)
            } else {
                let i0 = i0 as usize;
                (i0, i0 + 1, (s - i0 as f64) as f32)
            }
        })
        .collect()
}

/// An input tensor's three planes (batch 1, NCHW) being filled.
pub struct Planes<'a> {
    pub data: &'a mut [f32],
    /// Plane width and height; the resized image fills the top-left `out_w`×`out_h`.
    pub width: usize,
    pub height: usize,
}

/// Resize a canvas of `src_w`×`src_h` onto the top-left `out_w`×`out_h` of `planes`.
/// `row(y)` gives canvas row `y` as RGB bytes, or `None` for a black row (padding).
pub fn bilinear_into<'i>(
    src_w: usize,
    src_h: usize,
    row: impl Fn(usize) -> Option<&'i [u8]>,
    out_w: usize,
    out_h: usize,
    planes: Planes<'_>,
) {
    if src_w == 0 || src_h == 0 {
        return;
    }
    let xs = taps(src_w, out_w);
    let ys = taps(src_h, out_h);
    let plane = planes.width * planes.height;
    let black = vec![0u8; src_w * 3];
    for (oy, &(y0, y1, fy)) in ys.iter().enumerate() {
        let (r0, r1) = (row(y0).unwrap_or(&black), row(y1).unwrap_or(&black));
        for (ox, &(x0, x1, fx)) in xs.iter().enumerate() {
            for (p, &c) in PLANE_CHANNEL.iter().enumerate() {
                let at = |r: &[u8], x: usize| f32::from(r[x * 3 + c]);
                let top = at(r0, x0) * (1.0 - fx) + at(r0, x1) * fx;
                let bottom = at(r1, x0) * (1.0 - fx) + at(r1, x1) * fx;
                planes.data[p * plane + oy * planes.width + ox] =
                    normalise(top * (1.0 - fy) + bottom * fy);
            }
        }
    }
}

/// Row `y` of an image as RGB bytes.
pub fn image_row(img: &RgbImage, y: usize) -> Option<&[u8]> {
    let stride = img.width() as usize * 3;
    img.as_raw().get(y * stride..(y + 1) * stride)
}

/// OpenCV's cubic kernel (A = −0.75) at offsets −1, 0, 1, 2 for fraction `t`.
fn cubic_weights(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let w0 = ((A * (t + 1.0) - 5.0 * A) * (t + 1.0) + 8.0 * A) * (t + 1.0) - 4.0 * A;
    let w1 = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    let w2 = ((A + 2.0) * (1.0 - t) - (A + 3.0)) * (1.0 - t) * (1.0 - t) + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// An `out_w`×`out_h` image whose pixel (x, y) is the input at `h`·(x, y), bicubic, with the
/// input's edge pixels repeated outward (OpenCV's BORDER_REPLICATE).
pub fn warp_bicubic(img: &RgbImage, h: &[f64; 9], out_w: u32, out_h: u32) -> RgbImage {
    let (w, ht) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    let mut out = RgbImage::new(out_w, out_h);
    if w == 0 || ht == 0 {
        return out;
    }
    for (x, y, px) in out.enumerate_pixels_mut() {
        let [sx, sy] = geom::apply(h, f64::from(x), f64::from(y));
        if !sx.is_finite() || !sy.is_finite() {
            continue;
        }
        let (fx, fy) = (sx.floor(), sy.floor());
        let (wx, wy) = (cubic_weights(sx - fx), cubic_weights(sy - fy));
        // Far outside, every tap clamps to the same edge pixel: the clamp keeps i64 sane.
        let (ix, iy) = (
            fx.clamp(-4.0, w as f64 + 4.0) as i64,
            fy.clamp(-4.0, ht as f64 + 4.0) as i64,
        );
        let mut acc = [0.0f64; 3];
        for (j, wyj) in wy.iter().enumerate() {
            let yy = (iy + j as i64 - 1).clamp(0, ht - 1) as usize;
            for (i, wxi) in wx.iter().enumerate() {
                let xx = (ix + i as i64 - 1).clamp(0, w - 1) as usize;
                let at = (yy * w as usize + xx) * 3;
                for (c, a) in acc.iter_mut().enumerate() {
                    *a += wyj * wxi * f64::from(raw[at + c]);
                }
            }
        }
        px.0 = acc.map(|v| v.round().clamp(0.0, 255.0) as u8);
    }
    out
}
