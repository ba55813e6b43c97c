//! The two vector kernels training and inference are built from.
//!
//! Why hand-written lanes: Rust will not reorder an f32 sum, so a plain
//! `zip().map().sum()` dot product runs one multiply-add at a time. Eight
//! independent partial sums let the compiler use SIMD registers while the
//! result stays a fixed function of the inputs (the summation order is fixed,
//! never dependent on threads or scheduling).

/// Σ a[i]·b[i] over the common length, in eight fixed lanes.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    reduce(&acc, tail)
}

/// The fixed final reduction shared by [`dot`] and [`dot4`].
#[inline(always)]
fn reduce(acc: &[f32; 8], tail: f32) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Four dot products of one weight row with four samples stored
/// interleaved (`x[4·i + s]` is input i of sample s), each bit-identical to
/// [`dot`] of the row with that sample: lane k accumulates the inputs
/// i ≡ k (mod 8) in order, and the lanes reduce as in `dot`.
///
/// Why interleaved: each step is then "one weight × four contiguous
/// samples", a single vertical SIMD multiply-add, and one weight load
/// serves four samples. (With four separate sample slices LLVM vectorises
/// across samples anyway, with shuffles and register spills.)
///
/// # Panics
/// If `x` holds fewer than `4 · w.len()` values.
#[inline]
pub(crate) fn dot4(w: &[f32], x: &[f32]) -> [f32; 4] {
    let n = w.len();
    let x = &x[..4 * n];
    let mut acc = [[0.0f32; 4]; 8];
    for (wc, xc) in w.chunks_exact(8).zip(x.chunks_exact(32)) {
        for k in 0..8 {
            let wk = wc[k];
            let xk = &xc[4 * k..4 * k + 4];
            for s in 0..4 {
                acc[k][s] += wk * xk[s];
            }
        }
    }
    let t0 = n - n % 8;
    let mut tail = [0.0f32; 4];
    for (i, &wi) in w.iter().enumerate().skip(t0) {
        for s in 0..4 {
            tail[s] += wi * x[4 * i + s];
        }
    }
    let mut out = [0.0f32; 4];
    for s in 0..4 {
        let lanes = [
            acc[0][s], acc[1][s], acc[2][s], acc[3][s], acc[4][s], acc[5][s], acc[6][s], acc[7][s],
        ];
        out[s] = reduce(&lanes, tail[s]);
    }
    out
}

/// y[i] += alpha·x[i] over the common length.
#[inline]
pub(crate) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_axpy_match_naive_loops() {
        for n in [0usize, 1, 7, 8, 9, 33] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-3, "n = {n}");
            let c: Vec<f32> = b.iter().map(|v| v * -1.5 + 0.25).collect();
            let mut inter = vec![0.0; 4 * n];
            for i in 0..n {
                inter[4 * i..4 * i + 4].copy_from_slice(&[b[i], c[i], a[i], b[i]]);
            }
            let got = dot4(&a, &inter);
            let want = [dot(&a, &b), dot(&a, &c), dot(&a, &a), dot(&b, &a)];
            assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits), "n = {n}");
            let mut y = b.clone();
            axpy(2.0, &a, &mut y);
            for i in 0..n {
                assert_eq!(y[i], b[i] + 2.0 * a[i]);
            }
        }
    }
}
