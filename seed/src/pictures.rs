//! Product pictures for seeded catalogs, drawn by hand on pixels: a soft
//! background tinted with the product's colour, a silhouette of what the
//! subcategory sells (a phone, a dress, a tent, a book …) in that colour, and
//! a shadow under it. A few variants per silhouette and colour move the
//! object and change what stands behind it, so neighbouring cards differ.
//! Flat colours and smooth edges make small lossless WebP files (a few KB).
//!
//! The set is bounded: one picture per silhouette × colour × variant (under
//! a thousand for the demo word lists, whatever the catalog's size; 129 for
//! the 200-product demo), shared by every product that falls on it. Ids are derived from that key, so a second
//! run writes the same pictures again instead of adding more.

use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, Rgb, RgbImage};
use sha2::{Digest, Sha256};

/// Width and height of a picture, in pixels.
pub const SIZE: u32 = 480;
/// Pictures per silhouette and colour.
pub const VARIANTS: u8 = 3;
/// Their content type.
pub const CONTENT_TYPE: &str = "image/webp";

/// What a seeded product looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Phone,
    Laptop,
    Headphones,
    Camera,
    Dress,
    Shirt,
    Shoe,
    Handbag,
    Mug,
    Chair,
    Plant,
    Vase,
    Dumbbell,
    Tent,
    Bicycle,
    Book,
    Jar,
    Lipstick,
    Perfume,
    Gift,
}

impl Shape {
    /// The silhouette for a subcategory of the demo word lists (a gift box
    /// for anything else).
    pub fn for_subcategory(subcategory: &str) -> Self {
        match subcategory {
            "phones" => Shape::Phone,
            "laptops" => Shape::Laptop,
            "audio" => Shape::Headphones,
            "cameras" => Shape::Camera,
            "women" => Shape::Dress,
            "men" => Shape::Shirt,
            "shoes" => Shape::Shoe,
            "accessories" => Shape::Handbag,
            "kitchen" => Shape::Mug,
            "furniture" => Shape::Chair,
            "garden" => Shape::Plant,
            "decor" => Shape::Vase,
            "fitness" => Shape::Dumbbell,
            "camping" => Shape::Tent,
            "cycling" => Shape::Bicycle,
            "fiction" | "non-fiction" | "children" => Shape::Book,
            "skincare" => Shape::Jar,
            "makeup" => Shape::Lipstick,
            "fragrance" => Shape::Perfume,
            _ => Shape::Gift,
        }
    }
}

/// One picture of the set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PictureKey {
    pub shape: Shape,
    /// A colour name of the word lists ("forest green"); others get a colour
    /// of their own from the name.
    pub color: String,
    pub variant: u8,
}

impl PictureKey {
    /// The image id (32 hex digits, like an upload's), the same on every run.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!(
            "bazaar-seed picture v1 {:?} {} {}",
            self.shape, self.color, self.variant
        ));
        hex::encode(&digest[..16])
    }
}

/// A drawn picture, encoded ([`CONTENT_TYPE`]). At a few KB it is its own
/// thumbnail: one drawn smaller would save little and take as long again.
#[derive(Debug, Clone)]
pub struct Picture {
    pub id: String,
    pub bytes: Vec<u8>,
}

/// Draws and encodes the picture for `key`.
pub fn draw(key: &PictureKey) -> Result<Picture, image::ImageError> {
    Ok(Picture {
        id: key.id(),
        bytes: encode(&render(key, SIZE))?,
    })
}

/// Draws `keys`, spread over the machine's cores.
pub fn draw_all(keys: &[PictureKey]) -> Result<Vec<Picture>, image::ImageError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = keys.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let drawing: Vec<_> = keys
            .chunks(chunk)
            .map(|keys| scope.spawn(|| keys.iter().map(draw).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut pictures = Vec::with_capacity(keys.len());
        for thread in drawing {
            match thread.join() {
                Ok(drawn) => pictures.extend(drawn?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(pictures)
    })
}

fn encode(image: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out).encode(
        image.as_raw(),
        image.width(),
        image.height(),
        ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// RGB, each 0..=1.
type Color = [f32; 3];

/// The colour names of the word lists.
fn named(name: &str) -> Option<Color> {
    let rgb: [u8; 3] = match name {
        "beige" => [222, 203, 170],
        "berry" => [142, 38, 88],
        "black" => [34, 34, 38],
        "blue" => [46, 104, 196],
        "blush" => [232, 170, 170],
        "bronze" => [160, 104, 52],
        "brown" => [118, 78, 48],
        "burgundy" => [122, 28, 44],
        "camel" => [190, 140, 88],
        "charcoal" => [60, 64, 70],
        "coral" => [240, 118, 96],
        "cream" => [242, 232, 206],
        "denim blue" => [76, 110, 150],
        "dusty pink" => [214, 150, 160],
        "forest green" => [38, 96, 58],
        "gold" => [212, 172, 70],
        "graphite" => [74, 76, 82],
        "green" => [64, 150, 84],
        "grey" | "gray" => [140, 142, 146],
        "ivory" => [246, 240, 222],
        "matte grey" => [112, 114, 118],
        "midnight blue" => [28, 38, 84],
        "mustard" => [214, 168, 40],
        "natural" => [214, 196, 160],
        "navy" => [32, 48, 98],
        "neon yellow" => [226, 244, 60],
        "nude" => [226, 186, 160],
        "olive" => [112, 116, 58],
        "orange" => [238, 128, 40],
        "pink" => [236, 130, 170],
        "plum" => [110, 50, 96],
        "purple" => [118, 70, 170],
        "red" => [200, 40, 44],
        "rose" => [222, 110, 130],
        "rose gold" => [220, 160, 140],
        "sage green" => [150, 172, 138],
        "sand" => [208, 186, 146],
        "silver" => [192, 196, 202],
        "space grey" => [88, 90, 98],
        "tan" => [196, 154, 108],
        "taupe" => [150, 130, 116],
        "teal" => [30, 128, 132],
        "terracotta" => [196, 98, 66],
        "walnut" => [104, 70, 44],
        "white" => [244, 244, 242],
        "yellow" => [240, 204, 60],
        _ => return None,
    };
    Some(rgb.map(|c| f32::from(c) / 255.0))
}

/// A colour for any name: the word lists' own, or a hue picked by the name.
fn color_of(name: &str) -> Color {
    named(name).unwrap_or_else(|| {
        let hue = Sha256::digest(name.as_bytes())[0];
        hsl(f32::from(hue) / 255.0, 0.45, 0.5)
    })
}

fn hsl(h: f32, s: f32, l: f32) -> Color {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let h6 = h * 6.0;
    let x = c * (1.0 - (h6 % 2.0 - 1.0).abs());
    let (r, g, b) = match h6 as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r + m, g + m, b + m]
}

fn mix(a: Color, b: Color, t: f32) -> Color {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn luminance(c: Color) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

const WHITE: Color = [1.0, 1.0, 1.0];
const INK: Color = [0.13, 0.14, 0.17];
const SLATE: Color = [0.36, 0.4, 0.48];
const LEAF: Color = [0.24, 0.52, 0.28];
const PAPER: Color = [0.96, 0.94, 0.88];

/// The colours one picture is painted with.
struct Palette {
    body: Color,
    /// Details that stand out from the body (darker, or lighter on dark bodies).
    shade: Color,
    /// Highlights and labels.
    light: Color,
}

/// Something to paint, in unit coordinates (0..1 across, 0..1 down).
enum Prim {
    Circle([f32; 2], f32),
    Ellipse([f32; 2], [f32; 2]),
    /// Corners and corner radius.
    Rect([f32; 4], f32),
    /// A segment with a radius: a thick line with round ends.
    Line([f32; 2], [f32; 2], f32),
    /// Centre, radius, width; `true` keeps only the upper half.
    Ring([f32; 2], f32, f32, bool),
    /// A convex polygon.
    Poly(Vec<[f32; 2]>),
}

fn length(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

impl Prim {
    /// Signed distance from `p` to the edge (negative inside), in unit lengths.
    fn distance(&self, p: [f32; 2]) -> f32 {
        match self {
            Prim::Circle(c, r) => length(p[0] - c[0], p[1] - c[1]) - r,
            Prim::Ellipse(c, r) => {
                let k = length((p[0] - c[0]) / r[0], (p[1] - c[1]) / r[1]);
                (k - 1.0) * r[0].min(r[1])
            }
            Prim::Rect([x0, y0, x1, y1], r) => {
                let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
                let qx = (p[0] - cx).abs() - ((x1 - x0) / 2.0 - r);
                let qy = (p[1] - cy).abs() - ((y1 - y0) / 2.0 - r);
                length(qx.max(0.0), qy.max(0.0)) + qx.max(qy).min(0.0) - r
            }
            Prim::Line(a, b, r) => {
                let (pax, pay) = (p[0] - a[0], p[1] - a[1]);
                let (bax, bay) = (b[0] - a[0], b[1] - a[1]);
                let h =
                    ((pax * bax + pay * bay) / (bax * bax + bay * bay).max(1e-9)).clamp(0.0, 1.0);
                length(pax - bax * h, pay - bay * h) - r
            }
            Prim::Ring(c, r, w, upper) => {
                let d = (length(p[0] - c[0], p[1] - c[1]) - r).abs() - w / 2.0;
                if *upper { d.max(p[1] - c[1]) } else { d }
            }
            Prim::Poly(points) => {
                let n = points.len();
                let area: f32 = (0..n)
                    .map(|i| {
                        let (a, b) = (points[i], points[(i + 1) % n]);
                        a[0] * b[1] - b[0] * a[1]
                    })
                    .sum();
                let sign = if area >= 0.0 { 1.0 } else { -1.0 };
                (0..n)
                    .map(|i| {
                        let (a, b) = (points[i], points[(i + 1) % n]);
                        let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
                        let len = length(ex, ey).max(1e-9);
                        // Outward normal of a counter-clockwise edge (y down).
                        sign * ((p[0] - a[0]) * ey - (p[1] - a[1]) * ex) / len
                    })
                    .fold(f32::MIN, f32::max)
            }
        }
    }

    /// What it covers: x0, y0, x1, y1.
    fn bounds(&self) -> [f32; 4] {
        match self {
            Prim::Circle(c, r) => [c[0] - r, c[1] - r, c[0] + r, c[1] + r],
            Prim::Ellipse(c, r) => [c[0] - r[0], c[1] - r[1], c[0] + r[0], c[1] + r[1]],
            Prim::Rect(b, _) => *b,
            Prim::Line(a, b, r) => [
                a[0].min(b[0]) - r,
                a[1].min(b[1]) - r,
                a[0].max(b[0]) + r,
                a[1].max(b[1]) + r,
            ],
            Prim::Ring(c, r, w, _) => {
                let o = r + w / 2.0;
                [c[0] - o, c[1] - o, c[0] + o, c[1] + o]
            }
            Prim::Poly(points) => {
                points
                    .iter()
                    .fold([f32::MAX, f32::MAX, f32::MIN, f32::MIN], |b, p| {
                        [
                            b[0].min(p[0]),
                            b[1].min(p[1]),
                            b[2].max(p[0]),
                            b[3].max(p[1]),
                        ]
                    })
            }
        }
    }
}

struct Canvas {
    pixels: Vec<Color>,
    size: u32,
    /// Where the object is moved to (a variant's offset).
    offset: [f32; 2],
}

impl Canvas {
    /// Paints `prim` in `color` with `alpha`, its edge smoothed over a pixel.
    fn paint(&mut self, prim: &Prim, color: Color, alpha: f32) {
        let size = self.size as f32;
        let [x0, y0, x1, y1] = prim.bounds();
        let px = |v: f32, o: f32| ((v + o) * size).clamp(0.0, size);
        let (x0, x1) = (
            px(x0, self.offset[0]) as u32,
            px(x1, self.offset[0]).ceil() as u32,
        );
        let (y0, y1) = (
            px(y0, self.offset[1]) as u32,
            px(y1, self.offset[1]).ceil() as u32,
        );
        let x1 = (x1 + 1).min(self.size);
        let y1 = (y1 + 1).min(self.size);
        for y in y0.saturating_sub(1)..y1 {
            for x in x0.saturating_sub(1)..x1 {
                let p = [
                    (x as f32 + 0.5) / size - self.offset[0],
                    (y as f32 + 0.5) / size - self.offset[1],
                ];
                let coverage = (0.5 - prim.distance(p) * size).clamp(0.0, 1.0) * alpha;
                if coverage > 0.0 {
                    let i = (y * self.size + x) as usize;
                    self.pixels[i] = mix(self.pixels[i], color, coverage);
                }
            }
        }
    }
}

/// Draws `key` at `size`×`size` pixels.
pub fn render(key: &PictureKey, size: u32) -> RgbImage {
    let body = color_of(&key.color);
    let lum = luminance(body);
    let palette = Palette {
        body,
        shade: if lum < 0.3 {
            mix(body, WHITE, 0.3)
        } else {
            mix(body, INK, 0.4)
        },
        light: mix(body, WHITE, 0.65),
    };
    // A pale tint of the colour behind it; light colours sit on a darker one.
    let (top, bottom) = if lum > 0.72 {
        (mix(body, SLATE, 0.3), mix(body, SLATE, 0.45))
    } else {
        (mix(body, WHITE, 0.82), mix(body, WHITE, 0.66))
    };
    let variant = key.variant % VARIANTS;
    let mut canvas = Canvas {
        pixels: Vec::with_capacity((size * size) as usize),
        size,
        offset: [(f32::from(variant) - 1.0) * 0.035, 0.0],
    };
    for y in 0..size {
        let row = mix(top, bottom, y as f32 / size as f32);
        canvas
            .pixels
            .extend(std::iter::repeat_n(row, size as usize));
    }
    // What stands behind the object: nothing, a disc of light, a table top.
    let backdrop = canvas.offset;
    canvas.offset = [0.0, 0.0];
    match variant {
        1 => canvas.paint(
            &Prim::Circle([0.5 + backdrop[0], 0.5], 0.36),
            mix(top, WHITE, 0.45),
            1.0,
        ),
        2 => canvas.paint(
            &Prim::Rect([-0.1, 0.8, 1.1, 1.1], 0.0),
            mix(bottom, INK, 0.08),
            1.0,
        ),
        _ => {}
    }
    canvas.offset = backdrop;
    let shadow = Prim::Ellipse([0.5, 0.85], [0.28, 0.035]);
    canvas.paint(&shadow, INK, 0.16);
    for (prim, color) in shape(key.shape, &palette) {
        canvas.paint(&prim, color, 1.0);
    }
    let mut image = RgbImage::new(size, size);
    for (pixel, c) in image.pixels_mut().zip(&canvas.pixels) {
        *pixel = Rgb(c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
    }
    image
}

/// The silhouette: what to paint, back to front.
fn shape(shape: Shape, p: &Palette) -> Vec<(Prim, Color)> {
    use Prim::{Circle, Ellipse, Line, Poly, Rect, Ring};
    let (body, shade, light) = (p.body, p.shade, p.light);
    match shape {
        Shape::Phone => vec![
            (Rect([0.34, 0.13, 0.66, 0.83], 0.05), body),
            (Rect([0.36, 0.18, 0.64, 0.77], 0.02), INK),
            (Line([0.4, 0.24], [0.6, 0.5], 0.04), mix(INK, WHITE, 0.08)),
            (Circle([0.5, 0.155], 0.009), shade),
            (Line([0.46, 0.8], [0.54, 0.8], 0.006), light),
        ],
        Shape::Laptop => vec![
            (Rect([0.22, 0.2, 0.78, 0.62], 0.025), body),
            (Rect([0.245, 0.225, 0.755, 0.595], 0.01), INK),
            (
                Poly(vec![[0.14, 0.63], [0.86, 0.63], [0.9, 0.7], [0.1, 0.7]]),
                shade,
            ),
            (Line([0.45, 0.635], [0.55, 0.635], 0.006), INK),
        ],
        Shape::Headphones => vec![
            (Ring([0.5, 0.5], 0.24, 0.05, true), body),
            (Rect([0.2, 0.44, 0.34, 0.72], 0.05), body),
            (Rect([0.66, 0.44, 0.8, 0.72], 0.05), body),
            (Rect([0.31, 0.48, 0.36, 0.68], 0.02), shade),
            (Rect([0.64, 0.48, 0.69, 0.68], 0.02), shade),
        ],
        Shape::Camera => vec![
            (Rect([0.36, 0.24, 0.56, 0.36], 0.02), shade),
            (Rect([0.2, 0.31, 0.8, 0.73], 0.04), body),
            (Circle([0.5, 0.53], 0.16), shade),
            (Circle([0.5, 0.53], 0.12), INK),
            (Circle([0.47, 0.5], 0.035), mix(INK, WHITE, 0.35)),
            (Rect([0.66, 0.36, 0.75, 0.42], 0.01), light),
        ],
        Shape::Dress => vec![
            (Line([0.43, 0.2], [0.445, 0.13], 0.012), body),
            (Line([0.57, 0.2], [0.555, 0.13], 0.012), body),
            (
                Poly(vec![[0.42, 0.19], [0.58, 0.19], [0.6, 0.43], [0.4, 0.43]]),
                body,
            ),
            (
                Poly(vec![[0.4, 0.42], [0.6, 0.42], [0.75, 0.82], [0.25, 0.82]]),
                body,
            ),
            (Rect([0.395, 0.405, 0.605, 0.445], 0.01), shade),
        ],
        Shape::Shirt => vec![
            (
                Poly(vec![[0.35, 0.25], [0.19, 0.35], [0.25, 0.48], [0.35, 0.43]]),
                body,
            ),
            (
                Poly(vec![[0.65, 0.25], [0.81, 0.35], [0.75, 0.48], [0.65, 0.43]]),
                body,
            ),
            (Rect([0.33, 0.24, 0.67, 0.8], 0.03), body),
            (Ellipse([0.5, 0.245], [0.075, 0.04]), shade),
            (Line([0.5, 0.3], [0.5, 0.78], 0.004), shade),
        ],
        Shape::Shoe => vec![
            (Rect([0.2, 0.38, 0.42, 0.66], 0.06), body),
            (Ellipse([0.58, 0.6], [0.27, 0.1]), body),
            (Rect([0.16, 0.64, 0.86, 0.71], 0.03), light),
            (Line([0.42, 0.5], [0.5, 0.54], 0.008), shade),
            (Line([0.45, 0.45], [0.53, 0.5], 0.008), shade),
            (Line([0.22, 0.44], [0.3, 0.44], 0.01), shade),
        ],
        Shape::Handbag => vec![
            (Ring([0.5, 0.4], 0.12, 0.028, true), shade),
            (
                Poly(vec![[0.3, 0.4], [0.7, 0.4], [0.77, 0.77], [0.23, 0.77]]),
                body,
            ),
            (Rect([0.29, 0.39, 0.71, 0.53], 0.02), shade),
            (Circle([0.5, 0.53], 0.022), light),
        ],
        Shape::Mug => vec![
            (Ring([0.66, 0.52], 0.09, 0.035, false), body),
            (Rect([0.3, 0.3, 0.64, 0.77], 0.05), body),
            (Ellipse([0.47, 0.31], [0.16, 0.025]), shade),
            (Rect([0.35, 0.45, 0.59, 0.6], 0.01), light),
            (
                Line([0.42, 0.14], [0.44, 0.24], 0.008),
                mix(WHITE, SLATE, 0.2),
            ),
            (
                Line([0.52, 0.12], [0.5, 0.23], 0.008),
                mix(WHITE, SLATE, 0.2),
            ),
        ],
        Shape::Chair => vec![
            (Line([0.34, 0.58], [0.31, 0.84], 0.016), shade),
            (Line([0.66, 0.58], [0.69, 0.84], 0.016), shade),
            (Line([0.43, 0.6], [0.43, 0.8], 0.012), shade),
            (Line([0.57, 0.6], [0.57, 0.8], 0.012), shade),
            (Rect([0.34, 0.16, 0.66, 0.5], 0.04), body),
            (Rect([0.3, 0.49, 0.7, 0.6], 0.03), body),
            (Rect([0.3, 0.57, 0.7, 0.61], 0.01), shade),
        ],
        Shape::Plant => vec![
            (Line([0.5, 0.56], [0.5, 0.36], 0.01), LEAF),
            (Circle([0.5, 0.33], 0.12), LEAF),
            (Circle([0.39, 0.43], 0.09), mix(LEAF, WHITE, 0.15)),
            (Circle([0.61, 0.43], 0.09), mix(LEAF, INK, 0.15)),
            (
                Poly(vec![[0.34, 0.56], [0.66, 0.56], [0.62, 0.82], [0.38, 0.82]]),
                body,
            ),
            (Rect([0.32, 0.53, 0.68, 0.59], 0.01), shade),
        ],
        Shape::Vase => vec![
            (Rect([0.44, 0.25, 0.56, 0.46], 0.02), body),
            (Ellipse([0.5, 0.6], [0.17, 0.21]), body),
            (Rect([0.41, 0.23, 0.59, 0.28], 0.015), shade),
            (Ellipse([0.44, 0.56], [0.025, 0.08]), light),
        ],
        Shape::Dumbbell => vec![
            (
                Line([0.24, 0.5], [0.76, 0.5], 0.022),
                mix(SLATE, WHITE, 0.3),
            ),
            (Rect([0.21, 0.33, 0.3, 0.67], 0.02), body),
            (Rect([0.7, 0.33, 0.79, 0.67], 0.02), body),
            (Rect([0.3, 0.38, 0.35, 0.62], 0.015), shade),
            (Rect([0.65, 0.38, 0.7, 0.62], 0.015), shade),
        ],
        Shape::Tent => vec![
            (Line([0.12, 0.76], [0.88, 0.76], 0.01), shade),
            (Poly(vec![[0.5, 0.2], [0.84, 0.75], [0.16, 0.75]]), body),
            (Poly(vec![[0.5, 0.36], [0.6, 0.75], [0.4, 0.75]]), shade),
            (Line([0.5, 0.2], [0.5, 0.14], 0.008), shade),
        ],
        Shape::Bicycle => vec![
            (Ring([0.29, 0.62], 0.13, 0.025, false), INK),
            (Ring([0.71, 0.62], 0.13, 0.025, false), INK),
            (Line([0.29, 0.62], [0.45, 0.43], 0.016), body),
            (Line([0.45, 0.43], [0.67, 0.43], 0.016), body),
            (Line([0.29, 0.62], [0.52, 0.62], 0.016), body),
            (Line([0.52, 0.62], [0.67, 0.43], 0.016), body),
            (Line([0.45, 0.43], [0.52, 0.62], 0.016), body),
            (Line([0.67, 0.43], [0.71, 0.62], 0.016), body),
            (Line([0.45, 0.43], [0.43, 0.37], 0.012), shade),
            (Line([0.39, 0.36], [0.48, 0.36], 0.014), INK),
            (Line([0.67, 0.43], [0.65, 0.34], 0.012), shade),
            (Line([0.61, 0.34], [0.69, 0.33], 0.012), INK),
        ],
        Shape::Book => vec![
            (Rect([0.33, 0.2, 0.71, 0.82], 0.01), PAPER),
            (Rect([0.3, 0.17, 0.69, 0.81], 0.015), body),
            (Rect([0.3, 0.17, 0.35, 0.81], 0.01), shade),
            (Line([0.42, 0.31], [0.61, 0.31], 0.013), light),
            (Line([0.45, 0.37], [0.58, 0.37], 0.008), light),
            (Circle([0.51, 0.58], 0.08), light),
        ],
        Shape::Jar => vec![
            (Rect([0.3, 0.44, 0.7, 0.77], 0.04), body),
            (Rect([0.28, 0.35, 0.72, 0.46], 0.02), shade),
            (Rect([0.36, 0.53, 0.64, 0.68], 0.01), light),
        ],
        Shape::Lipstick => vec![
            (
                Poly(vec![[0.44, 0.41], [0.56, 0.41], [0.56, 0.25], [0.44, 0.31]]),
                body,
            ),
            (
                Rect([0.42, 0.39, 0.58, 0.52], 0.01),
                mix(SLATE, WHITE, 0.45),
            ),
            (Rect([0.4, 0.5, 0.6, 0.83], 0.015), INK),
            (
                Line([0.44, 0.56], [0.44, 0.78], 0.006),
                mix(INK, WHITE, 0.25),
            ),
        ],
        Shape::Perfume => vec![
            (Rect([0.46, 0.32, 0.54, 0.41], 0.01), shade),
            (Rect([0.42, 0.21, 0.58, 0.33], 0.02), shade),
            (Rect([0.31, 0.4, 0.69, 0.8], 0.05), body),
            (Rect([0.39, 0.55, 0.61, 0.66], 0.01), light),
            (Line([0.36, 0.46], [0.36, 0.74], 0.008), light),
        ],
        Shape::Gift => vec![
            (Rect([0.26, 0.4, 0.74, 0.8], 0.02), body),
            (Rect([0.23, 0.32, 0.77, 0.43], 0.02), shade),
            (Rect([0.47, 0.32, 0.53, 0.8], 0.0), light),
            (Circle([0.45, 0.28], 0.05), light),
            (Circle([0.55, 0.28], 0.05), light),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const SHAPES: [Shape; 20] = [
        Shape::Phone,
        Shape::Laptop,
        Shape::Headphones,
        Shape::Camera,
        Shape::Dress,
        Shape::Shirt,
        Shape::Shoe,
        Shape::Handbag,
        Shape::Mug,
        Shape::Chair,
        Shape::Plant,
        Shape::Vase,
        Shape::Dumbbell,
        Shape::Tent,
        Shape::Bicycle,
        Shape::Book,
        Shape::Jar,
        Shape::Lipstick,
        Shape::Perfume,
        Shape::Gift,
    ];

    fn key(shape: Shape, color: &str, variant: u8) -> PictureKey {
        PictureKey {
            shape,
            color: color.into(),
            variant,
        }
    }

    #[test]
    fn pictures_are_small_webps_that_decode_to_their_size() {
        let picture = draw(&key(Shape::Shoe, "red", 0)).unwrap();
        assert!(bazaar_subjects::is_image_id(&picture.id), "{}", picture.id);
        assert!(
            picture.bytes.len() < 30_000,
            "{} bytes",
            picture.bytes.len()
        );
        assert_eq!(
            image::guess_format(&picture.bytes).unwrap(),
            image::ImageFormat::WebP
        );
        let decoded = image::load_from_memory(&picture.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (SIZE, SIZE));
    }

    #[test]
    fn every_shape_colour_and_variant_draws_something_different() {
        let mut seen = HashSet::new();
        for shape in SHAPES {
            for color in ["black", "white", "forest green", "no such colour"] {
                for variant in 0..VARIANTS {
                    let image = render(&key(shape, color, variant), 96);
                    // Pixels well apart from their row's background.
                    let drawn = image
                        .enumerate_pixels()
                        .filter(|(_, y, p)| {
                            let edge = image.get_pixel(0, *y);
                            let apart: u32 =
                                (0..3).map(|i| u32::from(p[i].abs_diff(edge[i]))).sum();
                            apart > 40
                        })
                        .count();
                    assert!(drawn > 96 * 96 / 20, "{shape:?} {color} {variant}: {drawn}");
                    assert!(seen.insert(image.into_raw()), "{shape:?} {color} {variant}");
                }
            }
        }
    }

    #[test]
    fn ids_follow_the_key() {
        let a = key(Shape::Book, "navy", 1);
        assert_eq!(a.id(), key(Shape::Book, "navy", 1).id());
        assert_ne!(a.id(), key(Shape::Book, "navy", 2).id());
        assert_ne!(a.id(), key(Shape::Tent, "navy", 1).id());
        assert_eq!(Shape::for_subcategory("camping"), Shape::Tent);
        assert_eq!(Shape::for_subcategory("pets"), Shape::Gift);
    }
}
