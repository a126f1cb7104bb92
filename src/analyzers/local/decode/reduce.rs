//! Box reduction while decoding: rows stream in, cell averages go out, so no full-resolution
//! buffer of a large image ever exists. One cell of `k`×`k` source pixels becomes one pixel of
//! the working image.

use image::RgbImage;

/// The working image keeps at least this short side (the models crop 224 from 256)...
pub const TARGET_SHORT: u32 = 448;
/// ...and at most this many pixels (an image of aspect 20:1 still gets a short side ≥ 316).
pub const MAX_WORK_PIXELS: u64 = 2_000_000;

/// The integer factor that brings a `w`×`h` source to the working size.
pub fn factor(w: u32, h: u32) -> u32 {
    let mut k = (w.min(h) / TARGET_SHORT).max(1);
    while u64::from(w.div_ceil(k)) * u64::from(h.div_ceil(k)) > MAX_WORK_PIXELS {
        k += 1;
    }
    k
}

/// How source pixels with alpha count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpha {
    /// Still images: every pixel counts, blended onto white (what a viewer shows).
    Flatten,
    /// Animation frames drawn over a canvas: a cell takes the frame's colour when at least half
    /// of it is opaque in this frame, else keeps what the canvas had.
    Cover,
}

/// Accumulates rows into the cells of one band (one row of cells) and writes finished bands
/// into a canvas of `ceil(w/k)`×`ceil(h/k)` pixels.
pub struct Reducer {
    k: u32,
    src_w: u32,
    src_h: u32,
    band: Option<u32>,
    /// r, g, b, opaque count per cell of the current band.
    sums: Vec<[u32; 4]>,
    pub canvas: RgbImage,
}

pub const WHITE: image::Rgb<u8> = image::Rgb([255, 255, 255]);

impl Reducer {
    pub fn new(src_w: u32, src_h: u32) -> Self {
        let k = factor(src_w, src_h);
        let (w, h) = (src_w.div_ceil(k), src_h.div_ceil(k));
        Reducer {
            k,
            src_w,
            src_h,
            band: None,
            sums: vec![[0; 4]; w as usize],
            canvas: RgbImage::from_pixel(w, h, WHITE),
        }
    }

    /// Bytes this reducer holds for a `w`×`h` source (for the decode budget).
    pub fn cost(w: u32, h: u32) -> u64 {
        let k = factor(w, h);
        let (cw, ch) = (u64::from(w.div_ceil(k)), u64::from(h.div_ceil(k)));
        cw * ch * 3 + cw * 16
    }

    /// Source row `y`, pixels `x0..` as RGBA8.
    pub fn row(&mut self, y: u32, x0: u32, rgba: &[u8], alpha: Alpha) {
        if y >= self.src_h {
            return;
        }
        let band = y / self.k;
        if self.band != Some(band) {
            self.flush(alpha);
            self.band = Some(band);
        }
        for (i, px) in rgba.chunks_exact(4).enumerate() {
            let x = x0 as usize + i;
            if x >= self.src_w as usize {
                break;
            }
            let cell = &mut self.sums[x / self.k as usize];
            let a = u32::from(px[3]);
            match alpha {
                Alpha::Flatten => {
                    for c in 0..3 {
                        cell[c] += (u32::from(px[c]) * a + 255 * (255 - a)) / 255;
                    }
                    cell[3] += 1;
                }
                Alpha::Cover if a >= 128 => {
                    for c in 0..3 {
                        cell[c] += u32::from(px[c]);
                    }
                    cell[3] += 1;
                }
                Alpha::Cover => {}
            }
        }
    }

    /// Write the current band into the canvas and start afresh.
    pub fn flush(&mut self, alpha: Alpha) {
        let Some(band) = self.band.take() else {
            return;
        };
        let k = self.k;
        // Source rows this band covers (the last band may be short).
        let rows = k.min(self.src_h - band * k);
        for (cx, cell) in self.sums.iter_mut().enumerate() {
            let cols = k.min(self.src_w - cx as u32 * k);
            let full = rows * cols;
            let n = cell[3];
            let take = match alpha {
                Alpha::Flatten => n > 0,
                Alpha::Cover => n * 2 >= full && n > 0,
            };
            if take {
                let px = image::Rgb([
                    (cell[0] / n) as u8,
                    (cell[1] / n) as u8,
                    (cell[2] / n) as u8,
                ]);
                self.canvas.put_pixel(cx as u32, band, px);
            }
            *cell = [0; 4];
        }
    }

    /// The canvas cells covering the source rectangle (x, y, w, h), for animation disposal.
    pub fn cells(&self, x: u32, y: u32, w: u32, h: u32) -> (u32, u32, u32, u32) {
        let k = self.k;
        let (cw, ch) = self.canvas.dimensions();
        let x0 = (x / k).min(cw);
        let y0 = (y / k).min(ch);
        let x1 = (x.saturating_add(w)).div_ceil(k).min(cw);
        let y1 = (y.saturating_add(h)).div_ceil(k).min(ch);
        (x0, y0, x1, y1)
    }

    pub fn fill(&mut self, (x0, y0, x1, y1): (u32, u32, u32, u32), from: Option<&RgbImage>) {
        for y in y0..y1 {
            for x in x0..x1 {
                let px = from.map_or(WHITE, |f| *f.get_pixel(x, y));
                self.canvas.put_pixel(x, y, px);
            }
        }
    }
}

/// Expand one row of samples to RGBA8. `channels`: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA;
/// `sixteen`: big-endian 16-bit samples (PNG order), of which the high byte is kept.
pub fn to_rgba(samples: &[u8], channels: usize, sixteen: bool, out: &mut Vec<u8>) {
    out.clear();
    let step = if sixteen { 2 } else { 1 };
    for px in samples.chunks_exact(channels * step) {
        let s = |i: usize| px[i * step];
        let rgba = match channels {
            1 => [s(0), s(0), s(0), 255],
            2 => [s(0), s(0), s(0), s(1)],
            3 => [s(0), s(1), s(2), 255],
            _ => [s(0), s(1), s(2), s(3)],
        };
        out.extend_from_slice(&rgba);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_keeps_the_short_side_and_caps_the_area() {
        assert_eq!(factor(640, 480), 1);
        assert_eq!(factor(20_000, 20_000), 44);
        let k = factor(20_000, 1_000);
        assert!(
            u64::from(20_000u32.div_ceil(k)) * u64::from(1_000u32.div_ceil(k)) <= MAX_WORK_PIXELS
        );
        assert!(1_000 / k >= 224, "short side {}", 1_000 / k);
    }

    #[test]
    fn cells_average_their_pixels() {
        // 2000x1000 → k = 2: a 1000x500 canvas; left half black, right half white.
        let mut r = Reducer::new(2000, 1000);
        let mut row = Vec::new();
        for x in 0..2000u32 {
            let v = if x < 1000 { 0 } else { 255 };
            row.extend_from_slice(&[v, v, v, 255]);
        }
        for y in 0..1000 {
            r.row(y, 0, &row, Alpha::Flatten);
        }
        r.flush(Alpha::Flatten);
        assert_eq!(r.canvas.dimensions(), (1000, 500));
        assert_eq!(r.canvas.get_pixel(10, 10)[0], 0);
        assert_eq!(r.canvas.get_pixel(990, 499)[0], 255);
    }

    #[test]
    fn transparent_pixels_flatten_to_white_or_leave_the_canvas() {
        let mut r = Reducer::new(4, 4);
        r.fill(
            (0, 0, 4, 4),
            Some(&RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]))),
        );
        r.row(0, 0, &[0, 0, 0, 0, 200, 0, 0, 255], Alpha::Cover);
        r.flush(Alpha::Cover);
        assert_eq!(
            r.canvas.get_pixel(0, 0)[0],
            9,
            "transparent keeps the canvas"
        );
        assert_eq!(r.canvas.get_pixel(1, 0)[0], 200);
        r.row(1, 0, &[0, 0, 0, 0], Alpha::Flatten);
        r.flush(Alpha::Flatten);
        assert_eq!(r.canvas.get_pixel(0, 1)[0], 255, "flattened onto white");
    }
}
