//! How a tensor splits into groups that share a scale.
//!
//! Every granularity is the same picture: the flattened tensor is a sequence of
//! rows of `row_len` values, and each row is cut into groups of `group_len`
//! (the last one in a row may be short). Per-tensor is one row, one group;
//! per-channel is `shape[0]` rows, one group each; per-group cuts rows of
//! `shape[last]`; block cuts one long row. Groups are numbered row-major, so a
//! group is always a contiguous slice and lookups need no tables.

use super::spec::{Granularity, QuantError, QuantSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub numel: usize,
    pub row_len: usize,
    pub group_len: usize,
    pub groups_per_row: usize,
}

impl Layout {
    pub fn new(shape: &[usize], len: usize, spec: &QuantSpec) -> Result<Layout, QuantError> {
        spec.validate()?;
        let numel = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| QuantError::InvalidSpec(format!("shape {shape:?} overflows usize")))?;
        if numel != len {
            return Err(QuantError::ShapeMismatch {
                shape: shape.to_vec(),
                expected: numel,
                actual: len,
            });
        }
        if numel == 0 {
            return Err(QuantError::Empty);
        }
        let (row_len, group_len) = match spec.granularity {
            Granularity::PerTensor => (numel, numel),
            Granularity::PerChannel => {
                let rows = shape.first().copied().unwrap_or(1);
                (numel / rows, numel / rows)
            }
            Granularity::PerGroup => {
                let row = shape.last().copied().unwrap_or(1);
                (row, spec.group_size.min(row))
            }
            Granularity::Block => (numel, spec.group_size.min(numel)),
        };
        Ok(Layout {
            numel,
            row_len,
            group_len,
            groups_per_row: row_len.div_ceil(group_len),
        })
    }

    pub fn n_groups(&self) -> usize {
        (self.numel / self.row_len) * self.groups_per_row
    }

    /// Flat value range of group `g`.
    #[cfg(test)]
    pub fn group_range(&self, g: usize) -> (usize, usize) {
        let row = g / self.groups_per_row;
        let k = g - row * self.groups_per_row;
        let row_start = row * self.row_len;
        let start = row_start + k * self.group_len;
        let end = (start + self.group_len).min(row_start + self.row_len);
        (start, end)
    }

    /// The group holding flat index `i`, and the end of that group.
    #[cfg(test)]
    pub fn group_of(&self, i: usize) -> (usize, usize) {
        let row = i / self.row_len;
        let row_start = row * self.row_len;
        let k = (i - row_start) / self.group_len;
        let end = (row_start + (k + 1) * self.group_len).min(row_start + self.row_len);
        (row * self.groups_per_row + k, end)
    }

    /// Call `f(group, start, end)` for each run of [a, b) inside one group,
    /// in order. Only one division per call: batches of tiny groups stay cheap.
    #[inline]
    pub fn for_segments(&self, a: usize, b: usize, mut f: impl FnMut(usize, usize, usize)) {
        if a >= b {
            return;
        }
        let row = a / self.row_len;
        let mut row_start = row * self.row_len;
        let mut k = (a - row_start) / self.group_len;
        let mut g = row * self.groups_per_row + k;
        let mut i = a;
        while i < b {
            let gend = (row_start + (k + 1) * self.group_len).min(row_start + self.row_len);
            let end = gend.min(b);
            f(g, i, end);
            i = end;
            g += 1;
            k += 1;
            if k == self.groups_per_row {
                k = 0;
                row_start += self.row_len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::spec::{Calibration, ScaleDtype, Scheme};

    fn spec(granularity: Granularity, group_size: usize) -> QuantSpec {
        QuantSpec {
            bits: 4,
            scheme: Scheme::Asymmetric,
            granularity,
            group_size,
            calibration: Calibration::MinMax,
            percentile: 99.9,
            scale_dtype: ScaleDtype::F32,
        }
    }

    fn ranges(l: &Layout) -> Vec<(usize, usize)> {
        (0..l.n_groups()).map(|g| l.group_range(g)).collect()
    }

    #[test]
    fn groups_cover_the_tensor_in_order() {
        let shape = [3, 5];
        let cases = [
            (spec(Granularity::PerTensor, 0), vec![(0, 15)]),
            (
                spec(Granularity::PerChannel, 0),
                vec![(0, 5), (5, 10), (10, 15)],
            ),
            (
                spec(Granularity::PerGroup, 2),
                vec![
                    (0, 2),
                    (2, 4),
                    (4, 5),
                    (5, 7),
                    (7, 9),
                    (9, 10),
                    (10, 12),
                    (12, 14),
                    (14, 15),
                ],
            ),
            (
                spec(Granularity::Block, 4),
                vec![(0, 4), (4, 8), (8, 12), (12, 15)],
            ),
        ];
        for (s, want) in cases {
            let l = Layout::new(&shape, 15, &s).unwrap();
            assert_eq!(ranges(&l), want, "{:?}", s.granularity);
            for (g, &(a, b)) in want.iter().enumerate() {
                for i in a..b {
                    assert_eq!(l.group_of(i), (g, b));
                }
            }
            for a in 0..15 {
                for b in a..=15 {
                    let mut seen = Vec::new();
                    l.for_segments(a, b, |g, s, e| seen.push((g, s, e)));
                    let want: Vec<_> = (0..l.n_groups())
                        .filter_map(|g| {
                            let (s, e) = l.group_range(g);
                            let (s, e) = (s.max(a), e.min(b));
                            (s < e).then_some((g, s, e))
                        })
                        .collect();
                    assert_eq!(seen, want);
                }
            }
        }
    }

    #[test]
    fn shape_mismatch_and_empty_are_errors() {
        let s = spec(Granularity::Block, 4);
        assert!(matches!(
            Layout::new(&[2, 2], 5, &s),
            Err(QuantError::ShapeMismatch { .. })
        ));
        assert_eq!(Layout::new(&[0], 0, &s), Err(QuantError::Empty));
    }
}
