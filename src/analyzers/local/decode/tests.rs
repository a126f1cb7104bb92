//! Every decode path on small real files made by the format crates' own encoders.

use std::io::Cursor;

use image::{Rgb, RgbImage, Rgba, RgbaImage};

use super::*;

fn encode(img: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn run(bytes: &[u8], format: ImageFormat, sampling: FrameSampling) -> Decoded {
    let plan = plan(bytes, format, sampling).unwrap();
    decode(bytes, &plan, sampling).unwrap()
}

fn half_and_half(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([200, 0, 0])
        } else {
            Rgb([0, 0, 200])
        }
    })
}

#[test]
fn png_jpeg_bmp_are_reduced_to_the_working_size() {
    let img = half_and_half(2000, 1000);
    for (format, ours) in [
        (image::ImageFormat::Png, ImageFormat::Png),
        (image::ImageFormat::Jpeg, ImageFormat::Jpeg),
        (image::ImageFormat::Bmp, ImageFormat::Bmp),
    ] {
        let d = run(&encode(&img, format), ours, FrameSampling::default());
        assert_eq!((d.width, d.height), (2000, 1000), "{format:?}");
        let f = &d.frames[0].image;
        let (w, h) = f.dimensions();
        assert!(
            (reduce::TARGET_SHORT..2 * reduce::TARGET_SHORT).contains(&h),
            "{format:?}: {w}x{h}"
        );
        assert_eq!(w, 2 * h, "{format:?}: aspect kept");
        let left = f.get_pixel(w / 4, h / 2);
        let right = f.get_pixel(3 * w / 4, h / 2);
        assert!(left[0] > 150 && left[2] < 60, "{format:?} left {left:?}");
        assert!(
            right[2] > 150 && right[0] < 60,
            "{format:?} right {right:?}"
        );
    }
}

#[test]
fn sixteen_bit_rgba_png_flattens_onto_white() {
    let img = image::ImageBuffer::<Rgba<u16>, _>::from_fn(64, 64, |x, _| {
        if x < 32 {
            Rgba([65535, 0, 0, 65535])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba16(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    let d = run(out.get_ref(), ImageFormat::Png, FrameSampling::default());
    let f = &d.frames[0].image;
    assert_eq!(*f.get_pixel(5, 5), Rgb([255, 0, 0]));
    assert_eq!(*f.get_pixel(60, 5), Rgb([255, 255, 255]));
}

/// A 13-frame GIF: frame 0 white, frame 10 black, the others grey.
fn animated_gif(frames: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        for i in 0..frames {
            let v = match i {
                0 => 255,
                10 => 0,
                _ => 128,
            };
            let img = RgbaImage::from_pixel(64, 64, Rgba([v, v, v, 255]));
            enc.encode_frame(image::Frame::new(img)).unwrap();
        }
    }
    out
}

#[test]
fn animated_gif_keeps_the_sampled_frames() {
    let d = run(
        &animated_gif(13),
        ImageFormat::Gif,
        FrameSampling::default(),
    );
    let picked: Vec<u32> = d.frames.iter().map(|f| f.index).collect();
    assert_eq!(picked, vec![0, 5, 10]);
    assert_eq!(d.frame_count, Some(13));
    assert_eq!(d.frames[0].image.get_pixel(3, 3)[0], 255);
    assert_eq!(
        d.frames[2].image.get_pixel(3, 3)[0],
        0,
        "frame 10 is the black one"
    );
    // Past the last sampled frame the rest is only counted.
    let d = run(
        &animated_gif(40),
        ImageFormat::Gif,
        FrameSampling::default(),
    );
    assert_eq!(d.frames.len(), 5);
    assert_eq!(d.frame_count, Some(40));
}

#[test]
fn multi_page_tiff_and_webp_and_ico() {
    let mut tiff = Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut tiff).unwrap();
        for v in [10u8, 20, 30] {
            let px = vec![v; 32 * 32 * 3];
            enc.write_image::<tiff::encoder::colortype::RGB8>(32, 32, &px)
                .unwrap();
        }
    }
    let every = FrameSampling {
        interval: 1,
        max_frames: 5,
    };
    let d = run(tiff.get_ref(), ImageFormat::Tiff, every);
    assert_eq!(
        d.frames.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(d.frames[2].image.get_pixel(1, 1)[0], 30);

    let img = half_and_half(100, 50);
    let mut webp = Vec::new();
    image_webp::WebPEncoder::new(&mut webp)
        .encode(img.as_raw(), 100, 50, image_webp::ColorType::Rgb8)
        .unwrap();
    let d = run(&webp, ImageFormat::Webp, every);
    assert_eq!(d.frames[0].image.get_pixel(10, 10)[0], 200);

    let mut ico = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(half_and_half(32, 32))
        .to_rgba8()
        .write_to(&mut ico, image::ImageFormat::Ico)
        .unwrap();
    let ico = ico.into_inner();
    let d = run(&ico, ImageFormat::Ico, every);
    assert_eq!(d.frames[0].image.get_pixel(30, 3)[2], 200);
}

#[test]
fn progressive_cost_and_unreadable_formats() {
    assert!(matches!(
        plan(b"<svg/>", ImageFormat::Svg, FrameSampling::default()),
        Err(DecodeError::Unreadable("svg"))
    ));
    assert!(matches!(
        plan(
            b"\xFF\xD8\xFF\xE0garbage",
            ImageFormat::Jpeg,
            FrameSampling::default()
        ),
        Err(DecodeError::Corrupt { .. })
    ));
    // A 20000x20000 PNG costs a few MiB to stream, whatever its pixel count.
    let mut png = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut png, 20_000, 20_000);
        enc.set_color(::png::ColorType::Rgb);
        // The header alone: planning reads no pixel data.
        let mut w = enc.write_header().unwrap();
        w.write_chunk(::png::chunk::IDAT, &[]).unwrap();
        std::mem::forget(w);
    }
    let p = plan(&png, ImageFormat::Png, FrameSampling::default()).unwrap();
    assert!(p.cost < 32 * 1024 * 1024, "{p:?}");
}

#[test]
fn damaged_files_fail_without_panicking() {
    let good = [
        (
            encode(&half_and_half(300, 200), image::ImageFormat::Png),
            ImageFormat::Png,
        ),
        (
            encode(&half_and_half(300, 200), image::ImageFormat::Jpeg),
            ImageFormat::Jpeg,
        ),
        (animated_gif(3), ImageFormat::Gif),
    ];
    for (bytes, format) in good {
        for cut in [10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 5] {
            let part = &bytes[..cut];
            if let Ok(p) = plan(part, format, FrameSampling::default()) {
                let _ = decode(part, &p, FrameSampling::default());
            }
        }
    }
}

#[test]
fn apng_frames_are_sampled_like_gif() {
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, 32, 32);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_animated(13, 0).unwrap();
        let mut w = enc.write_header().unwrap();
        for i in 0..13u8 {
            let v = match i {
                0 => 255,
                10 => 0,
                _ => 128,
            };
            w.write_image_data(&[v; 32 * 32 * 3]).unwrap();
        }
        w.finish().unwrap();
    }
    let d = run(&out, ImageFormat::Png, FrameSampling::default());
    assert_eq!(
        d.frames.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![0, 5, 10]
    );
    assert_eq!(d.frame_count, Some(13));
    assert_eq!(d.frames[0].image.get_pixel(1, 1)[0], 255);
    assert_eq!(d.frames[1].image.get_pixel(1, 1)[0], 128);
    assert_eq!(d.frames[2].image.get_pixel(1, 1)[0], 0);
}

#[test]
fn apng_default_image_outside_the_animation_is_not_all_that_is_seen() {
    // acTL says one frame; the default image (white) comes before it and is not part of it.
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, 32, 32);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_animated(1, 0).unwrap();
        enc.set_sep_def_img(true).unwrap();
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[255; 32 * 32 * 3]).unwrap();
        w.write_image_data(&[0; 32 * 32 * 3]).unwrap();
        w.finish().unwrap();
    }
    let every = FrameSampling {
        interval: 1,
        max_frames: 5,
    };
    let d = run(&out, ImageFormat::Png, every);
    assert_eq!(d.frame_count, Some(2));
    assert_eq!(d.frames.len(), 2);
    assert_eq!(
        d.frames[1].image.get_pixel(1, 1)[0],
        0,
        "the animation's frame"
    );
}

#[test]
fn a_gif_screen_smaller_than_its_first_frame_grows_to_fit() {
    let mut out = Vec::new();
    {
        let palette = [0u8, 0, 0, 255, 255, 255];
        let mut enc = ::gif::Encoder::new(&mut out, 16, 16, &palette).unwrap();
        let frame = ::gif::Frame {
            width: 200,
            height: 100,
            buffer: std::borrow::Cow::Owned(vec![0; 200 * 100]),
            ..Default::default()
        };
        enc.write_frame(&frame).unwrap();
    }
    let d = run(&out, ImageFormat::Gif, FrameSampling::default());
    assert_eq!((d.width, d.height), (200, 100));
    assert_eq!(
        d.frames[0].image.get_pixel(150, 80)[0],
        0,
        "the whole frame is seen"
    );
}

#[test]
fn the_decoders_size_is_held_to_the_local_limits() {
    let mut png = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut png, 30_000, 100);
        enc.set_color(::png::ColorType::Rgb);
        let mut w = enc.write_header().unwrap();
        w.write_chunk(::png::chunk::IDAT, &[]).unwrap();
        std::mem::forget(w);
    }
    match plan(&png, ImageFormat::Png, FrameSampling::default()) {
        Err(DecodeError::Limits(v)) => assert_eq!(v.code(), "side_too_large"),
        other => panic!("{:?}", other.map(|p| p.cost)),
    }
}
