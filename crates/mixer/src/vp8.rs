//! VP8 through libvpx (the reference decoder, linked statically from the system's libvpx by
//! `libvpx-native-sys`): [`Vp8Decoder`] takes VP8 frames (RFC 6386 §9, the body of an Enhanced
//! RTMP v2 `vp08` coded frame) and gives [`Picture`]s. The only unsafe code of the mixer: the
//! FFI calls, each checked, on a context owned by one decoder.

use std::ffi::CStr;
use std::ptr;

use vpx_sys as vpx;
use openh264::formats::YUVSource;

use crate::picture::Picture;
use crate::MixError;

/// Largest accepted VP8 frame, bytes (as for H.264 access units).
pub const MAX_FRAME_BYTES: usize = 4 << 20;

/// Decodes one input's VP8 (any profile; 8-bit 4:2:0 as VP8 always is).
pub struct Vp8Decoder {
    /// Boxed: libvpx keeps the context's address for its lifetime.
    ctx: Box<vpx::vpx_codec_ctx_t>,
}

// SAFETY: the context is owned by this decoder alone and libvpx keeps no thread affinity; it
// is used from one thread at a time (`&mut self`).
unsafe impl Send for Vp8Decoder {}

/// A decoded libvpx image's planes, borrowed until the next decode call.
struct Planes<'a> {
    size: (usize, usize),
    strides: (usize, usize, usize),
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
}

impl YUVSource for Planes<'_> {
    fn dimensions(&self) -> (usize, usize) {
        self.size
    }
    fn strides(&self) -> (usize, usize, usize) {
        self.strides
    }
    fn y(&self) -> &[u8] {
        self.y
    }
    fn u(&self) -> &[u8] {
        self.u
    }
    fn v(&self) -> &[u8] {
        self.v
    }
}

impl Vp8Decoder {
    /// A decoder on one thread. Errors: [`MixError::Decode`] when libvpx cannot be set up (out
    /// of memory).
    pub fn new() -> Result<Self, MixError> {
        let mut ctx: Box<vpx::vpx_codec_ctx_t> = Box::default();
        let cfg = vpx::vpx_codec_dec_cfg_t { threads: 1, w: 0, h: 0 };
        // SAFETY: `ctx` is a zeroed context that outlives the call; `cfg` is valid for the call;
        // the interface is libvpx's static VP8 decoder.
        let err = unsafe {
            vpx::vpx_codec_dec_init_ver(
                &mut *ctx,
                vpx::vpx_codec_vp8_dx(),
                &cfg,
                0,
                vpx::VPX_DECODER_ABI_VERSION as i32,
            )
        };
        if err != vpx::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MixError::Decode(format!("libvpx VP8 decoder setup failed: {err:?}")));
        }
        Ok(Vp8Decoder { ctx })
    }

    /// Decodes one frame. `Ok(None)` when it gives no picture (a frame libvpx holds back).
    ///
    /// Errors: [`MixError::UnsupportedInput`] over [`MAX_FRAME_BYTES`], [`MixError::Decode`]
    /// for a bitstream libvpx refuses (the next key frame recovers).
    pub fn decode(&mut self, frame: &[u8]) -> Result<Option<Picture>, MixError> {
        if frame.len() > MAX_FRAME_BYTES {
            return Err(MixError::UnsupportedInput(format!("VP8 frame of {} bytes", frame.len())));
        }
        if frame.is_empty() {
            return Ok(None);
        }
        // SAFETY: `frame` is valid for reads of its length during the call; the context is
        // initialized.
        let err = unsafe {
            vpx::vpx_codec_decode(&mut *self.ctx, frame.as_ptr(), frame.len() as u32, ptr::null_mut(), 0)
        };
        if err != vpx::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MixError::Decode(format!("libvpx: {}", self.last_error(err))));
        }
        let mut iter: vpx::vpx_codec_iter_t = ptr::null();
        let mut picture = None;
        loop {
            // SAFETY: the context is initialized; `iter` starts null as libvpx asks.
            let image = unsafe { vpx::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            // SAFETY: a non-null image stays valid until the next decode call on this context.
            let Some(image) = (unsafe { image.as_ref() }) else {
                break;
            };
            picture = Some(copy(image)?);
        }
        Ok(picture)
    }

    fn last_error(&mut self, err: vpx::vpx_codec_err_t) -> String {
        // SAFETY: libvpx returns a static or context-owned NUL-terminated string, or null.
        let text = unsafe { vpx::vpx_codec_error(&mut *self.ctx) };
        if text.is_null() {
            return format!("{err:?}");
        }
        // SAFETY: non-null and NUL-terminated (above).
        unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
    }
}

/// Copies an I420 libvpx image into a [`Picture`].
fn copy(image: &vpx::vpx_image_t) -> Result<Picture, MixError> {
    if image.fmt != vpx::vpx_img_fmt::VPX_IMG_FMT_I420 {
        return Err(MixError::UnsupportedInput(format!("VP8 picture format {:?} (I420 only)", image.fmt)));
    }
    let (w, h) = (image.d_w as usize, image.d_h as usize);
    let strides = [image.stride[0], image.stride[1], image.stride[2]];
    if w < 2 || h < 2 || strides.iter().any(|&s| s < 0) || (strides[0] as usize) < w || (strides[1] as usize) < w / 2 || (strides[2] as usize) < w / 2 || image.planes[..3].iter().any(|p| p.is_null()) {
        return Err(MixError::Decode("libvpx gave an image without its planes".into()));
    }
    let (sy, su, sv) = (strides[0] as usize, strides[1] as usize, strides[2] as usize);
    let ch = h.div_ceil(2);
    // SAFETY: libvpx's I420 image holds `h` rows of `stride[0]` luma bytes and `(h + 1) / 2`
    // rows of `stride[1]`/`stride[2]` chroma bytes at `planes[0..3]`, valid until the next
    // decode call; the slices do not outlive this function.
    let planes = unsafe {
        Planes {
            size: (w, h),
            strides: (sy, su, sv),
            y: std::slice::from_raw_parts(image.planes[0], sy * h),
            u: std::slice::from_raw_parts(image.planes[1], su * ch),
            v: std::slice::from_raw_parts(image.planes[2], sv * ch),
        }
    };
    Ok(Picture::copy_from(&planes))
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialized in `new` and is destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of an IVF file (32-byte file header, then a 12-byte header before each frame).
    fn ivf_frames(file: &[u8]) -> Vec<&[u8]> {
        let mut frames = Vec::new();
        let mut at = 32;
        while at + 12 <= file.len() {
            let size = u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize;
            frames.push(&file[at + 12..at + 12 + size]);
            at += 12 + size;
        }
        frames
    }

    #[test]
    fn decodes_ffmpegs_libvpx_frames() {
        // ffmpeg -f lavfi -i color=c=0xFF0000:s=64x48:r=30 -frames:v 3 -c:v libvpx red-64x48.ivf
        let file = include_bytes!("../tests/fixtures/red-64x48.ivf");
        let mut d = Vp8Decoder::new().unwrap();
        let frames = ivf_frames(file);
        assert_eq!(frames.len(), 3);
        for frame in frames {
            let p = d.decode(frame).unwrap().expect("a picture per frame");
            assert_eq!((p.width(), p.height()), (64, 48));
            let [y, u, v] = p.pixel(32, 24);
            // BT.601 limited-range red: Y 81, Cb 90, Cr 240.
            assert!(y.abs_diff(81) < 8 && u.abs_diff(90) < 8 && v.abs_diff(240) < 8, "{y} {u} {v}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut d = Vp8Decoder::new().unwrap();
        assert!(d.decode(&[1, 2, 3]).is_err());
        assert!(d.decode(&[0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01, 1, 2, 3]).is_err());
        assert!(d.decode(&[]).unwrap().is_none());
        // Still decodes a key frame afterwards.
        let file = include_bytes!("../tests/fixtures/red-64x48.ivf");
        assert!(d.decode(ivf_frames(file)[0]).unwrap().is_some());
    }
}
