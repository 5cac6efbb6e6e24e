//! Layouts: where each visible input goes on the canvas.

/// A rectangle on the canvas in pixels; x, y, width and height are even (4:2:0 chroma).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge, px.
    pub x: u32,
    /// Top edge, px.
    pub y: u32,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
}

impl Rect {
    /// A rectangle with every coordinate rounded down to even and clipped to `canvas`.
    pub fn clipped(x: u32, y: u32, width: u32, height: u32, canvas: (u32, u32)) -> Rect {
        let x = (x & !1).min(canvas.0);
        let y = (y & !1).min(canvas.1);
        Rect {
            x,
            y,
            width: width.min(canvas.0 - x) & !1,
            height: height.min(canvas.1 - y) & !1,
        }
    }

    /// The largest rectangle of aspect ratio `source` (width, height) centred in this one
    /// (letterbox or pillarbox), even-aligned.
    pub fn fit(&self, source: (u32, u32)) -> Rect {
        let (sw, sh) = (source.0.max(1) as u64, source.1.max(1) as u64);
        let (w, h) = (self.width as u64, self.height as u64);
        let (fw, fh) = if w * sh <= h * sw {
            (w, w * sh / sw)
        } else {
            (h * sw / sh, h)
        };
        let (fw, fh) = ((fw as u32) & !1, (fh as u32) & !1);
        Rect {
            x: (self.x + (self.width - fw) / 2) & !1,
            y: (self.y + (self.height - fh) / 2) & !1,
            width: fw,
            height: fh,
        }
    }
}

/// How visible inputs are placed. Inputs are in the order they were added (the first is the
/// host or the speaker); an input that stalled past the timeout leaves the layout and the rest
/// close up. Each picture keeps its aspect ratio inside its cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Layout {
    /// Equal cells, `ceil(sqrt(n))` columns.
    #[default]
    Grid,
    /// The first input over the top three quarters, the others as thumbnails in a row along
    /// the bottom quarter.
    Speaker,
    /// The first input fills the canvas; the others are quarter-size windows in the
    /// bottom-right corner, right to left, then up.
    PictureInPicture,
    /// Explicit rectangles, one per input in order (inputs beyond the list are not shown).
    Rects(Vec<Rect>),
}

impl Layout {
    /// The cells of `n` visible inputs on a `canvas` (width, height) in px, in input order;
    /// later cells are drawn over earlier ones.
    pub fn cells(&self, n: usize, canvas: (u32, u32)) -> Vec<Rect> {
        let (cw, ch) = canvas;
        if n == 0 {
            return Vec::new();
        }
        match self {
            Layout::Grid => {
                let cols = (n as f64).sqrt().ceil() as u32;
                let rows = (n as u32).div_ceil(cols);
                let (w, h) = (cw / cols, ch / rows);
                (0..n as u32)
                    .map(|i| Rect::clipped((i % cols) * w, (i / cols) * h, w, h, canvas))
                    .collect()
            }
            Layout::Speaker if n > 1 => {
                let strip = ch / 4;
                let mut cells = vec![Rect::clipped(0, 0, cw, ch - strip, canvas)];
                let thumbs = (n - 1) as u32;
                let w = (cw / thumbs.max(4)).max(2);
                let x0 = (cw - w * thumbs.min(cw / w)) / 2;
                for i in 0..thumbs {
                    cells.push(Rect::clipped(x0 + i * w, ch - strip, w, strip, canvas));
                }
                cells
            }
            Layout::PictureInPicture if n > 1 => {
                let (w, h) = (cw / 4, ch / 4);
                let margin = (cw / 64).max(2);
                let per_row = ((cw - margin) / (w + margin)).max(1);
                let mut cells = vec![Rect::clipped(0, 0, cw, ch, canvas)];
                for i in 0..(n - 1) as u32 {
                    let (col, row) = (i % per_row, i / per_row);
                    let x = cw.saturating_sub((col + 1) * (w + margin));
                    let y = ch.saturating_sub((row + 1) * (h + margin));
                    cells.push(Rect::clipped(x, y, w, h, canvas));
                }
                cells
            }
            Layout::Speaker | Layout::PictureInPicture => vec![Rect::clipped(0, 0, cw, ch, canvas)],
            Layout::Rects(rects) => rects
                .iter()
                .take(n)
                .map(|r| Rect::clipped(r.x, r.y, r.width, r.height, canvas))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_of_two_is_side_by_side_and_of_four_is_two_by_two() {
        let c = Layout::Grid.cells(2, (1280, 720));
        assert_eq!(
            c[0],
            Rect {
                x: 0,
                y: 0,
                width: 640,
                height: 720
            }
        );
        assert_eq!(
            c[1],
            Rect {
                x: 640,
                y: 0,
                width: 640,
                height: 720
            }
        );
        let c = Layout::Grid.cells(4, (1280, 720));
        assert_eq!(
            c[3],
            Rect {
                x: 640,
                y: 360,
                width: 640,
                height: 360
            }
        );
        assert_eq!(Layout::Grid.cells(1, (1280, 720))[0].width, 1280);
    }

    #[test]
    fn fit_keeps_the_aspect_ratio_centred_and_even() {
        let cell = Rect {
            x: 640,
            y: 0,
            width: 640,
            height: 720,
        };
        assert_eq!(
            cell.fit((640, 360)),
            Rect {
                x: 640,
                y: 180,
                width: 640,
                height: 360
            }
        );
        let wide = Rect {
            x: 0,
            y: 0,
            width: 1280,
            height: 360,
        };
        assert_eq!(
            wide.fit((640, 360)),
            Rect {
                x: 320,
                y: 0,
                width: 640,
                height: 360
            }
        );
    }

    #[test]
    fn speaker_and_pip_put_the_first_input_large() {
        let c = Layout::Speaker.cells(3, (1280, 720));
        assert_eq!(
            c[0],
            Rect {
                x: 0,
                y: 0,
                width: 1280,
                height: 540
            }
        );
        assert!(c[1].y == 540 && c[2].x > c[1].x);
        let c = Layout::PictureInPicture.cells(2, (1280, 720));
        assert_eq!(c[0].width, 1280);
        assert_eq!((c[1].width, c[1].height), (320, 180));
        assert!(c[1].x + c[1].width <= 1280 && c[1].y + c[1].height <= 720);
    }

    #[test]
    fn explicit_rects_are_clipped_to_the_canvas() {
        let l = Layout::Rects(vec![Rect {
            x: 1201,
            y: 0,
            width: 500,
            height: 100,
        }]);
        assert_eq!(
            l.cells(3, (1280, 720)),
            vec![Rect {
                x: 1200,
                y: 0,
                width: 80,
                height: 100
            }]
        );
    }
}
