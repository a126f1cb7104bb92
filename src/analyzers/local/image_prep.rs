//! The two models' input layouts (reference/local-components.md §5), from a decoded frame.

use image::imageops::{self, FilterType};
use image::RgbImage;

use super::model::Input;

/// Resize so that the short side is `short`. The frame is already reduced to the working size
/// by the decoder (short side below 896 px), so one triangle filter pass is cheap.
fn resize_short_side(img: &RgbImage, short: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let scale = short as f32 / w.min(h) as f32;
    let (nw, nh) = (
        ((w as f32 * scale).round() as u32).max(short),
        ((h as f32 * scale).round() as u32).max(short),
    );
    imageops::resize(img, nw, nh, FilterType::Triangle)
}

fn center_crop(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (x, y) = ((w.saturating_sub(size)) / 2, (h.saturating_sub(size)) / 2);
    imageops::crop_imm(img, x, y, size, size).to_image()
}

/// EfficientNet-Lite0: short side 256, centre crop 224, NCHW RGB, (x − 127) / 128.
pub fn efficientnet_input(img: &RgbImage) -> Input {
    let crop = center_crop(&resize_short_side(img, 256), 224);
    let mut data = Vec::with_capacity(3 * 224 * 224);
    for c in 0..3 {
        for px in crop.pixels() {
            data.push((px[c] as f32 - 127.0) / 128.0);
        }
    }
    Input {
        shape: [1, 3, 224, 224],
        data,
    }
}

/// open_nsfw (Caffe heritage): 256×256, centre crop 224, NHWC **BGR** minus the mean (104, 117, 123).
pub fn open_nsfw_input(img: &RgbImage) -> Input {
    let crop = center_crop(&imageops::resize(img, 256, 256, FilterType::Triangle), 224);
    const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];
    let mut data = Vec::with_capacity(224 * 224 * 3);
    for px in crop.pixels() {
        for c in 0..3 {
            data.push(px[2 - c] as f32 - MEAN_BGR[c]);
        }
    }
    Input {
        shape: [1, 224, 224, 3],
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let img = RgbImage::from_fn(640, 480, |x, _| image::Rgb([(x % 256) as u8, 10, 200]));
        let t = efficientnet_input(&img);
        assert_eq!((t.shape, t.data.len()), ([1, 3, 224, 224], 3 * 224 * 224));
        // NCHW: channel 2, row 100, column 100.
        let at = 2 * 224 * 224 + 100 * 224 + 100;
        assert!((t.data[at] - (200.0 - 127.0) / 128.0).abs() < 0.02);
        let t = open_nsfw_input(&img);
        assert_eq!((t.shape, t.data.len()), ([1, 224, 224, 3], 224 * 224 * 3));
        // NHWC, channel 0 is blue.
        let at = (10 * 224 + 10) * 3;
        assert!((t.data[at] - (200.0 - 104.0)).abs() < 2.0);
    }
}
