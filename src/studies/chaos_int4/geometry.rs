//! Ray casting and overlap tests in the plane, kept separate from the arena so
//! the geometry can be checked on hand-computed cases.
//!
//! All in `f32`: the arena is small (tens of units) and the sensors are read
//! by an `f32` network, so double precision would buy nothing but time.

/// A 2-D point or vector.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec2 {
    pub x: f32,
    pub y: f32,
}

impl Vec2 {
    pub const fn new(x: f32, y: f32) -> Self {
        Vec2 { x, y }
    }
    /// Unit vector at `angle` radians from the +x axis.
    pub fn from_angle(angle: f32) -> Self {
        let (s, c) = angle.sin_cos();
        Vec2 { x: c, y: s }
    }
    pub fn dot(self, o: Vec2) -> f32 {
        self.x * o.x + self.y * o.y
    }
    pub fn add_scaled(self, d: Vec2, t: f32) -> Vec2 {
        Vec2::new(self.x + d.x * t, self.y + d.y * t)
    }
    pub fn norm_sq(self) -> f32 {
        self.dot(self)
    }
}

impl std::ops::Sub for Vec2 {
    type Output = Vec2;
    fn sub(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x - o.x, self.y - o.y)
    }
}

/// Distance along the unit ray `origin + t·dir` (t ≥ 0) to the first point of
/// a circle, or `None` if the ray misses it. An origin inside the circle hits
/// at distance 0.
pub fn ray_circle(origin: Vec2, dir: Vec2, center: Vec2, radius: f32) -> Option<f32> {
    let f = origin - center;
    let c = f.norm_sq() - radius * radius;
    if c <= 0.0 {
        return Some(0.0);
    }
    let b = f.dot(dir);
    if b >= 0.0 {
        // Outside and pointing away: the circle is behind the ray.
        return None;
    }
    let disc = b * b - c;
    if disc < 0.0 {
        return None;
    }
    Some(-b - disc.sqrt())
}

/// Distance along the unit ray to the boundary of the box `[0, size]²`, for an
/// origin inside it (0 if the origin is on or outside the boundary).
pub fn ray_box_exit(origin: Vec2, dir: Vec2, size: f32) -> f32 {
    let axis = |p: f32, d: f32| {
        if d > 0.0 {
            (size - p) / d
        } else if d < 0.0 {
            -p / d
        } else {
            f32::INFINITY
        }
    };
    axis(origin.x, dir.x).min(axis(origin.y, dir.y)).max(0.0)
}

/// Do two discs overlap (touching counts)?
pub fn discs_overlap(a: Vec2, ra: f32, b: Vec2, rb: f32) -> bool {
    let r = ra + rb;
    (a - b).norm_sq() <= r * r
}

/// Does a disc stick out of the box `[0, size]²` (touching counts)?
pub fn disc_outside_box(c: Vec2, r: f32, size: f32) -> bool {
    c.x - r <= 0.0 || c.y - r <= 0.0 || c.x + r >= size || c.y + r >= size
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::FRAC_PI_2;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn ray_hits_circle_ahead_at_near_surface() {
        let d = ray_circle(
            Vec2::new(0.0, 0.0),
            Vec2::new(1.0, 0.0),
            Vec2::new(5.0, 0.0),
            1.0,
        );
        assert!(close(d.unwrap(), 4.0));
        // Offset by 0.6 from the axis: chord half-length sqrt(1 − 0.36) = 0.8.
        let d = ray_circle(
            Vec2::new(0.0, 0.6),
            Vec2::new(1.0, 0.0),
            Vec2::new(5.0, 0.0),
            1.0,
        );
        assert!(close(d.unwrap(), 4.2));
    }

    #[test]
    fn ray_misses_circle_beside_or_behind() {
        let o = Vec2::new(0.0, 0.0);
        assert_eq!(
            ray_circle(o, Vec2::new(1.0, 0.0), Vec2::new(5.0, 2.0), 1.0),
            None
        );
        assert_eq!(
            ray_circle(o, Vec2::new(-1.0, 0.0), Vec2::new(5.0, 0.0), 1.0),
            None
        );
        let up = Vec2::from_angle(FRAC_PI_2);
        assert!(close(
            ray_circle(o, up, Vec2::new(0.0, 3.0), 0.5).unwrap(),
            2.5
        ));
    }

    #[test]
    fn origin_inside_circle_hits_at_zero() {
        let d = ray_circle(
            Vec2::new(5.2, 0.0),
            Vec2::new(1.0, 0.0),
            Vec2::new(5.0, 0.0),
            1.0,
        );
        assert_eq!(d, Some(0.0));
    }

    #[test]
    fn ray_exits_box_through_nearest_wall() {
        let o = Vec2::new(2.0, 3.0);
        assert!(close(ray_box_exit(o, Vec2::new(1.0, 0.0), 10.0), 8.0));
        assert!(close(ray_box_exit(o, Vec2::new(-1.0, 0.0), 10.0), 2.0));
        assert!(close(ray_box_exit(o, Vec2::new(0.0, -1.0), 10.0), 3.0));
        // Diagonal: x wall at t = 8/cos45 ≈ 11.31, y wall at 7/cos45 ≈ 9.90.
        let diag = Vec2::from_angle(std::f32::consts::FRAC_PI_4);
        assert!(close(
            ray_box_exit(o, diag, 10.0),
            7.0 * std::f32::consts::SQRT_2
        ));
    }

    #[test]
    fn overlap_tests() {
        let a = Vec2::new(0.0, 0.0);
        assert!(discs_overlap(a, 1.0, Vec2::new(1.5, 0.0), 0.5));
        assert!(!discs_overlap(a, 1.0, Vec2::new(1.6, 0.0), 0.5));
        assert!(disc_outside_box(Vec2::new(0.1, 5.0), 0.2, 10.0));
        assert!(disc_outside_box(Vec2::new(5.0, 9.9), 0.2, 10.0));
        assert!(!disc_outside_box(Vec2::new(5.0, 5.0), 0.2, 10.0));
    }
}
