//! [`Picture`]: one I420 (planar 4:2:0) image with tightly packed planes, and the scaling and
//! copying the compositor does with it.
//!
//! Layout: `width × height` luma bytes, then `(width/2) × (height/2)` Cb bytes, then as many
//! Cr bytes (ITU-T H.264 §6.2, chroma_format_idc 1; BT.601 limited range as the encoders
//! produce). Width and height are even.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use openh264::formats::YUVSource;

use crate::layout::Rect;

/// An I420 picture, planes tightly packed (no row padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

/// A colour as Y, Cb, Cr bytes.
pub type Yuv = [u8; 3];

/// BT.601 limited-range black.
pub const BLACK: Yuv = [16, 128, 128];

impl Picture {
    /// A `width × height` picture (each rounded down to even, at least 2) filled with `colour`.
    pub fn filled(width: u32, height: u32, colour: Yuv) -> Picture {
        let (width, height) = ((width & !1).max(2), (height & !1).max(2));
        let luma = (width * height) as usize;
        let mut data = vec![colour[0]; luma + luma / 2];
        data[luma..luma + luma / 4].fill(colour[1]);
        data[luma + luma / 4..].fill(colour[2]);
        Picture {
            width,
            height,
            data,
        }
    }

    /// A copy of a decoder's picture (strided planes), cropped to even dimensions.
    pub fn copy_from(source: &impl YUVSource) -> Picture {
        let (w, h) = source.dimensions();
        let (w, h) = (w & !1, h & !1);
        let mut p = Picture::filled(w as u32, h as u32, BLACK);
        let (sy, su, sv) = source.strides();
        let (w, h) = (p.width as usize, p.height as usize);
        let (y, u, v) = p.planes_mut();
        copy_plane(source.y(), sy, y, w, h);
        copy_plane(source.u(), su, u, w / 2, h / 2);
        copy_plane(source.v(), sv, v, w / 2, h / 2);
        p
    }

    /// Width in px.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in px.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The Y, Cb and Cr planes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let luma = (self.width * self.height) as usize;
        let (y, chroma) = self.data.split_at(luma);
        let (u, v) = chroma.split_at(luma / 4);
        (y, u, v)
    }

    fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let luma = (self.width * self.height) as usize;
        let (y, chroma) = self.data.split_at_mut(luma);
        let (u, v) = chroma.split_at_mut(luma / 4);
        (y, u, v)
    }

    /// The colour at (x, y): Y there, Cb and Cr of its 2×2 block.
    pub fn pixel(&self, x: u32, y: u32) -> Yuv {
        let (x, y) = (
            x.min(self.width - 1) as usize,
            y.min(self.height - 1) as usize,
        );
        let w = self.width as usize;
        let (yp, u, v) = self.planes();
        let c = (y / 2) * (w / 2) + x / 2;
        [yp[y * w + x], u[c], v[c]]
    }

    /// Fills `rect` (even-aligned, inside the picture) with `colour`.
    pub fn fill(&mut self, rect: Rect, colour: Yuv) {
        let w = self.width as usize;
        let (y, u, v) = self.planes_mut();
        fill_plane(
            y,
            w,
            rect.x as usize,
            rect.y as usize,
            rect.width as usize,
            rect.height as usize,
            colour[0],
        );
        let (cx, cy, cw, ch) = (
            rect.x as usize / 2,
            rect.y as usize / 2,
            rect.width as usize / 2,
            rect.height as usize / 2,
        );
        fill_plane(u, w / 2, cx, cy, cw, ch, colour[1]);
        fill_plane(v, w / 2, cx, cy, cw, ch, colour[2]);
    }

    /// Copies `source` (already of `rect`'s size) into `rect` of this picture.
    pub fn blit(&mut self, source: &Picture, rect: Rect) {
        if source.width != rect.width || source.height != rect.height {
            return;
        }
        let w = self.width as usize;
        let (sy, su, sv) = source.planes();
        let (dy, du, dv) = self.planes_mut();
        blit_plane(
            sy,
            rect.width as usize,
            dy,
            w,
            rect.x as usize,
            rect.y as usize,
            rect.height as usize,
        );
        let (cx, cy, cw, ch) = (
            rect.x as usize / 2,
            rect.y as usize / 2,
            rect.width as usize / 2,
            rect.height as usize / 2,
        );
        blit_plane(su, cw, du, w / 2, cx, cy, ch);
        blit_plane(sv, cw, dv, w / 2, cx, cy, ch);
    }
}

/// Scales pictures plane by plane with `fast_image_resize` (bilinear convolution, SIMD where
/// the CPU has it). One per compositor: it keeps scratch buffers between calls.
pub struct Scaler {
    resizer: Resizer,
    options: ResizeOptions,
}

impl Default for Scaler {
    fn default() -> Self {
        Scaler {
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        }
    }
}

impl Scaler {
    /// `source` scaled to `width × height` (even). A picture of that size already is copied.
    pub fn scale(&mut self, source: &Picture, width: u32, height: u32) -> Picture {
        let mut out = Picture::filled(width, height, BLACK);
        if (out.width, out.height) == (source.width, source.height) {
            out.data.copy_from_slice(&source.data);
            return out;
        }
        let (sw, sh, dw, dh) = (source.width, source.height, out.width, out.height);
        let (sy, su, sv) = source.planes();
        let (dy, du, dv) = out.planes_mut();
        for (s, d, (w, h), (ow, oh)) in [
            (sy, dy, (sw, sh), (dw, dh)),
            (su, du, (sw / 2, sh / 2), (dw / 2, dh / 2)),
            (sv, dv, (sw / 2, sh / 2), (dw / 2, dh / 2)),
        ] {
            // Sizes match the buffers by construction and U8 needs no alignment: neither
            // constructor can fail, and a failure would only leave that plane black.
            let (Ok(src), Ok(mut dst)) = (
                ImageRef::new(w, h, s, PixelType::U8),
                Image::from_slice_u8(ow, oh, d, PixelType::U8),
            ) else {
                continue;
            };
            let _ = self.resizer.resize(&src, &mut dst, &self.options);
        }
        out
    }
}

fn copy_plane(src: &[u8], stride: usize, dst: &mut [u8], width: usize, height: usize) {
    for row in 0..height {
        let Some(line) = src.get(row * stride..row * stride + width) else {
            return;
        };
        dst[row * width..(row + 1) * width].copy_from_slice(line);
    }
}

fn fill_plane(plane: &mut [u8], stride: usize, x: usize, y: usize, w: usize, h: usize, value: u8) {
    for row in y..y + h {
        if let Some(line) = plane.get_mut(row * stride + x..row * stride + x + w) {
            line.fill(value);
        }
    }
}

fn blit_plane(
    src: &[u8],
    width: usize,
    dst: &mut [u8],
    stride: usize,
    x: usize,
    y: usize,
    height: usize,
) {
    for row in 0..height {
        let (Some(s), Some(d)) = (
            src.get(row * width..(row + 1) * width),
            dst.get_mut((y + row) * stride + x..(y + row) * stride + x + width),
        ) else {
            return;
        };
        d.copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_blit_and_scale_keep_colours_where_they_belong() {
        let mut canvas = Picture::filled(64, 32, BLACK);
        let red = [81, 90, 240];
        let tile = Picture::filled(16, 8, red);
        let mut scaler = Scaler::default();
        let big = scaler.scale(&tile, 32, 16);
        assert_eq!(big.pixel(31, 15), red);
        canvas.blit(
            &big,
            Rect {
                x: 32,
                y: 16,
                width: 32,
                height: 16,
            },
        );
        assert_eq!(canvas.pixel(40, 20), red);
        assert_eq!(canvas.pixel(10, 10), BLACK);
        canvas.fill(
            Rect {
                x: 0,
                y: 0,
                width: 8,
                height: 8,
            },
            [235, 128, 128],
        );
        assert_eq!(canvas.pixel(3, 3), [235, 128, 128]);
        assert_eq!(canvas.pixel(9, 9), BLACK);
    }
}
