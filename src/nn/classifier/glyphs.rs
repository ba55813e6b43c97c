//! A deterministic, in-process image dataset: digit-like glyphs drawn from
//! strokes, each sample with its own geometric jitter, stroke width and
//! pixel noise.
//!
//! Why synthetic: a study must be a pure function of its parameters and seed,
//! run offline, and ship no data files. Why strokes rather than random
//! prototypes: classes differ by shape (a 7 and a 1 share a stroke, an 8 and
//! a 0 share an outline), so the network has to learn real features, and the
//! jitter makes the task hard enough that coarse weights lose accuracy while
//! a float MLP still separates the classes.
//!
//! Rendering: each glyph is a set of polylines in the unit square. A sample
//! perturbs every vertex, applies a random rotation, anisotropic scale and
//! shift about the centre, and paints each pixel with an anti-aliased
//! distance-to-stroke profile, then adds Gaussian noise and clamps to [0, 1].

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Maximum number of classes: the number of glyphs defined below.
pub const MAX_CLASSES: usize = 10;

type Poly = &'static [(f32, f32)];

/// Polylines of the ten glyphs in unit coordinates (x right, y down).
const GLYPHS: [&[Poly]; MAX_CLASSES] = [
    // 0: an oval.
    &[&[
        (0.5, 0.05),
        (0.82, 0.25),
        (0.82, 0.75),
        (0.5, 0.95),
        (0.18, 0.75),
        (0.18, 0.25),
        (0.5, 0.05),
    ]],
    // 1: flag and stem.
    &[&[(0.3, 0.25), (0.55, 0.05), (0.55, 0.95)]],
    // 2
    &[&[
        (0.18, 0.25),
        (0.4, 0.05),
        (0.72, 0.08),
        (0.82, 0.3),
        (0.18, 0.95),
        (0.85, 0.95),
    ]],
    // 3
    &[&[
        (0.18, 0.08),
        (0.8, 0.08),
        (0.45, 0.45),
        (0.8, 0.62),
        (0.72, 0.9),
        (0.18, 0.92),
    ]],
    // 4
    &[&[(0.68, 0.95), (0.68, 0.05), (0.15, 0.65), (0.88, 0.65)]],
    // 5
    &[&[
        (0.8, 0.05),
        (0.22, 0.05),
        (0.2, 0.45),
        (0.68, 0.42),
        (0.85, 0.68),
        (0.68, 0.95),
        (0.15, 0.92),
    ]],
    // 6
    &[&[
        (0.75, 0.05),
        (0.32, 0.3),
        (0.18, 0.7),
        (0.32, 0.95),
        (0.7, 0.95),
        (0.84, 0.72),
        (0.65, 0.5),
        (0.22, 0.6),
    ]],
    // 7
    &[&[(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)]],
    // 8: two loops.
    &[
        &[
            (0.5, 0.05),
            (0.78, 0.25),
            (0.5, 0.48),
            (0.22, 0.25),
            (0.5, 0.05),
        ],
        &[
            (0.5, 0.48),
            (0.84, 0.72),
            (0.5, 0.95),
            (0.16, 0.72),
            (0.5, 0.48),
        ],
    ],
    // 9
    &[&[
        (0.8, 0.32),
        (0.5, 0.5),
        (0.2, 0.32),
        (0.3, 0.06),
        (0.7, 0.06),
        (0.8, 0.32),
        (0.6, 0.95),
    ]],
];

/// Per-sample variation, in units a user can picture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter {
    /// Side of the square image in pixels.
    pub size: usize,
    /// Rotation drawn uniformly from ±this many degrees.
    pub max_rotation_deg: f32,
    /// Scale factor per axis drawn uniformly from 1 ± this.
    pub scale_jitter: f32,
    /// Shift per axis drawn uniformly from ±this many pixels.
    pub max_shift_px: f32,
    /// Standard deviation of each vertex's displacement, in glyph units
    /// (the glyph spans 1.0).
    pub vertex_jitter: f32,
    /// Stroke width drawn uniformly from [min, max] pixels.
    pub stroke_min_px: f32,
    pub stroke_max_px: f32,
    /// Standard deviation of additive Gaussian pixel noise (ink is 1.0).
    pub pixel_noise: f32,
}

/// Samples as one contiguous row-major matrix `[n][size²]` plus labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
    /// Values per sample (size²).
    pub dim: usize,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The pixels of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        &self.pixels[i * self.dim..(i + 1) * self.dim]
    }
}

/// `n` samples with labels cycling through `classes` (balanced splits), in
/// an order shuffled by `rng` so minibatches mix classes.
pub fn render_split<R: Rng + ?Sized>(n: usize, classes: usize, j: &Jitter, rng: &mut R) -> Samples {
    let dim = j.size * j.size;
    let mut labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
    for i in (1..labels.len()).rev() {
        let k = rng.random_range(0..=i);
        labels.swap(i, k);
    }
    let mut pixels = vec![0.0f32; n * dim];
    let mut segs = Vec::with_capacity(16);
    for (img, &label) in pixels.chunks_exact_mut(dim).zip(&labels) {
        render_into(usize::from(label), j, rng, &mut segs, img);
    }
    Samples {
        pixels,
        labels,
        dim,
    }
}

/// A stroke segment in pixel coordinates.
#[derive(Clone, Copy, Debug)]
struct Seg {
    ax: f32,
    ay: f32,
    dx: f32,
    dy: f32,
    inv_len2: f32,
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, half_width: f32) -> f32 {
    if half_width > 0.0 {
        rng.random_range(-half_width..=half_width)
    } else {
        0.0
    }
}

fn normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    StandardNormal.sample(rng)
}

/// Draw one sample of glyph `class` into `img` (length size²).
fn render_into<R: Rng + ?Sized>(
    class: usize,
    j: &Jitter,
    rng: &mut R,
    segs: &mut Vec<Seg>,
    img: &mut [f32],
) {
    let size = j.size as f32;
    let angle = uniform(rng, j.max_rotation_deg).to_radians();
    let (sin, cos) = angle.sin_cos();
    let sx = 1.0 + uniform(rng, j.scale_jitter);
    let sy = 1.0 + uniform(rng, j.scale_jitter);
    let tx = uniform(rng, j.max_shift_px);
    let ty = uniform(rng, j.max_shift_px);
    let width = if j.stroke_max_px > j.stroke_min_px {
        rng.random_range(j.stroke_min_px..=j.stroke_max_px)
    } else {
        j.stroke_min_px
    };
    // The glyph box fills the image minus a one-pixel margin at unit scale.
    let span = size - 2.0;
    let centre = size / 2.0;
    let place = |x: f32, y: f32, rng: &mut R| {
        let u = (x + j.vertex_jitter * normal(rng) - 0.5) * sx * span;
        let v = (y + j.vertex_jitter * normal(rng) - 0.5) * sy * span;
        (
            centre + cos * u - sin * v + tx,
            centre + sin * u + cos * v + ty,
        )
    };
    segs.clear();
    for poly in GLYPHS[class] {
        let mut prev = place(poly[0].0, poly[0].1, rng);
        for &(x, y) in &poly[1..] {
            let p = place(x, y, rng);
            let (dx, dy) = (p.0 - prev.0, p.1 - prev.1);
            let len2 = dx * dx + dy * dy;
            segs.push(Seg {
                ax: prev.0,
                ay: prev.1,
                dx,
                dy,
                inv_len2: if len2 > 0.0 { 1.0 / len2 } else { 0.0 },
            });
            prev = p;
        }
    }
    let half = width / 2.0;
    for (i, px) in img.iter_mut().enumerate() {
        let cx = (i % j.size) as f32 + 0.5;
        let cy = (i / j.size) as f32 + 0.5;
        let mut d2 = f32::INFINITY;
        for s in segs.iter() {
            let (rx, ry) = (cx - s.ax, cy - s.ay);
            let t = ((rx * s.dx + ry * s.dy) * s.inv_len2).clamp(0.0, 1.0);
            let (ex, ey) = (rx - t * s.dx, ry - t * s.dy);
            d2 = d2.min(ex * ex + ey * ey);
        }
        // Anti-aliased edge: full ink inside the stroke, fading over one pixel.
        let ink = (half + 0.5 - d2.sqrt()).clamp(0.0, 1.0);
        *px = (ink + j.pixel_noise * normal(rng)).clamp(0.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn jitter() -> Jitter {
        Jitter {
            size: 12,
            max_rotation_deg: 10.0,
            scale_jitter: 0.1,
            max_shift_px: 1.0,
            vertex_jitter: 0.03,
            stroke_min_px: 1.0,
            stroke_max_px: 1.6,
            pixel_noise: 0.1,
        }
    }

    #[test]
    fn splits_are_balanced_deterministic_and_in_range() {
        let mut a = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut b = Xoshiro256PlusPlus::seed_from_u64(3);
        let s = render_split(200, 10, &jitter(), &mut a);
        assert_eq!(s, render_split(200, 10, &jitter(), &mut b));
        assert_eq!(s.len(), 200);
        for c in 0..10u8 {
            assert_eq!(s.labels.iter().filter(|&&l| l == c).count(), 20);
        }
        assert!(s.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
        // Every sample carries ink: strokes land inside the image.
        for i in 0..s.len() {
            let ink: f32 = s.sample(i).iter().sum();
            assert!(ink > 5.0, "sample {i} has ink {ink}");
        }
    }

    #[test]
    fn classes_differ_more_than_samples_of_one_class() {
        // Noise-free, jitter-free renders: each glyph is a distinct image.
        let j = Jitter {
            max_rotation_deg: 0.0,
            scale_jitter: 0.0,
            max_shift_px: 0.0,
            vertex_jitter: 0.0,
            stroke_max_px: 1.0,
            pixel_noise: 0.0,
            ..jitter()
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut segs = Vec::new();
        let mut imgs = vec![vec![0.0; 144]; 10];
        for (c, img) in imgs.iter_mut().enumerate() {
            render_into(c, &j, &mut rng, &mut segs, img);
        }
        for a in 0..10 {
            for b in a + 1..10 {
                let d: f32 = imgs[a]
                    .iter()
                    .zip(&imgs[b])
                    .map(|(x, y)| (x - y).abs())
                    .sum();
                assert!(d > 3.0, "glyphs {a} and {b} nearly identical ({d})");
            }
        }
    }
}
