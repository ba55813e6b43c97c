//! Exact hypervolume of a set of points (minimisation) against a reference
//! point, for any small number of objectives.
//!
//! Hypervolume is the one front-quality measure that is strictly monotone in
//! Pareto dominance, which is why the mixed-precision study reports it per
//! generation. Fronts there hold tens of points and 2–4 objectives, so the
//! simple exact method is enough: sweep in 2-D, and in higher dimensions slice
//! along the last objective ("hypervolume by slicing objectives", While et al.,
//! IEEE TEVC 2006), recursing on the points that reach each slab. The cost is
//! O(n^(d−1) log n), fine for n ≲ 200 and d ≤ 4.
//!
//! Points that do not strictly dominate the reference point in every
//! objective contribute nothing and are ignored.

/// The hypervolume dominated by `points` and bounded by `reference`.
///
/// # Panics
/// If a point's length differs from the reference's (a caller bug).
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let d = reference.len();
    let kept: Vec<&[f64]> = points
        .iter()
        .map(|p| {
            assert_eq!(p.len(), d, "point and reference differ in length");
            p.as_slice()
        })
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x < r))
        .collect();
    if d == 0 || kept.is_empty() {
        return 0.0;
    }
    slice(&kept, reference, d)
}

/// Hypervolume in the first `d` objectives of `points`.
fn slice(points: &[&[f64]], reference: &[f64], d: usize) -> f64 {
    match d {
        1 => {
            let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
            (reference[0] - best).max(0.0)
        }
        2 => sweep2(points, reference),
        _ => {
            let last = d - 1;
            let mut order: Vec<&[f64]> = points.to_vec();
            order.sort_by(|a, b| a[last].total_cmp(&b[last]));
            let mut volume = 0.0;
            let mut active: Vec<&[f64]> = Vec::with_capacity(order.len());
            for (i, p) in order.iter().enumerate() {
                active.push(p);
                let top = order.get(i + 1).map_or(reference[last], |q| q[last]);
                let depth = top - p[last];
                if depth > 0.0 {
                    volume += depth * slice(&active, reference, last);
                }
            }
            volume
        }
    }
}

/// 2-D: sort by the first objective, accumulate rectangles of the staircase.
fn sweep2(points: &[&[f64]], reference: &[f64]) -> f64 {
    let mut order: Vec<&[f64]> = points.to_vec();
    order.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let mut area = 0.0;
    let mut ceiling = reference[1];
    for p in order {
        if p[1] < ceiling {
            area += (reference[0] - p[0]) * (ceiling - p[1]);
            ceiling = p[1];
        }
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_two_objectives() {
        // Staircase (1,3), (2,2), (3,1) under reference (4,4): rows of
        // widths 3, 2, 1 and height 1 each = 6.
        let pts = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        assert_eq!(hypervolume(&pts, &[4.0, 4.0]), 6.0);
        // A dominated point adds nothing; a point outside the box is ignored.
        let mut more = pts.clone();
        more.push(vec![3.0, 3.0]);
        more.push(vec![0.5, 5.0]);
        assert_eq!(hypervolume(&more, &[4.0, 4.0]), 6.0);
    }

    #[test]
    fn hand_computed_three_and_four_objectives() {
        // One point: a box.
        assert_eq!(hypervolume(&[vec![1.0, 2.0, 3.0]], &[2.0, 4.0, 6.0]), 6.0);
        // Points (0,1,0) and (1,0,0) under (2,2,1): in the first two
        // objectives the union of [0,2]×[1,2] and [1,2]×[0,2] is 2 + 2 − 1 = 3,
        // times depth 1.
        let pts = vec![vec![0.0, 1.0, 0.0], vec![1.0, 0.0, 0.0]];
        assert_eq!(hypervolume(&pts, &[2.0, 2.0, 1.0]), 3.0);
        // 4-D unit-cube corner points: (0,1,1,1),(1,0,1,1) under (2,2,2,2):
        // each box volume 2·1·1·1 = 2, overlap [1,2]×[1,2]×[1,2]×[1,2] = 1 → 3.
        let pts = vec![vec![0.0, 1.0, 1.0, 1.0], vec![1.0, 0.0, 1.0, 1.0]];
        assert_eq!(hypervolume(&pts, &[2.0, 2.0, 2.0, 2.0]), 3.0);
        assert_eq!(hypervolume(&[], &[1.0, 1.0]), 0.0);
    }

    /// Count unit grid cells dominated by at least one integer point: a cell
    /// [c, c+1)^d is dominated iff some point p has p_k ≤ c_k for all k.
    fn grid_count(points: &[Vec<f64>], side: usize, d: usize) -> f64 {
        let mut count = 0usize;
        let cells = side.pow(d as u32);
        for idx in 0..cells {
            let mut c = vec![0usize; d];
            let mut rest = idx;
            for slot in c.iter_mut() {
                *slot = rest % side;
                rest /= side;
            }
            if points
                .iter()
                .any(|p| p.iter().zip(&c).all(|(&x, &ci)| x <= ci as f64))
            {
                count += 1;
            }
        }
        count as f64
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_brute_force_grid(
            d in 2usize..=4,
            raw in prop::collection::vec(prop::collection::vec(0u8..6, 4), 0..9),
        ) {
            let side = 6usize;
            let points: Vec<Vec<f64>> = raw
                .iter()
                .map(|p| p[..d].iter().map(|&x| f64::from(x)).collect())
                .collect();
            let reference = vec![side as f64; d];
            let exact = hypervolume(&points, &reference);
            prop_assert_eq!(exact, grid_count(&points, side, d));
        }
    }
}
