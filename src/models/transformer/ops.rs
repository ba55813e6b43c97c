//! The few dense operations a transformer forward needs. Matrix products go
//! through the `gemm` crate (runtime-dispatched AVX-512/AVX2 kernels) called
//! single-threaded, so a text's result never depends on the thread count;
//! parallelism is across texts. Everything else is plain loops in a fixed order.

use gemm::{Parallelism, gemm};

/// What decides `gemm`'s summation order on this machine: the SIMD
/// features it dispatches on and the cache sizes it blocks by. Two machines
/// with the same signature compute byte-identical transformer outputs; the
/// snapshots of experiments on real models record it.
pub fn kernel_signature() -> String {
    let mut parts: Vec<String> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        for (name, on) in [
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
        ] {
            if on {
                parts.push(name.into());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    parts.push(std::env::consts::ARCH.into());
    for i in 0..4 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
        let read = |f: &str| {
            std::fs::read_to_string(format!("{dir}/{f}"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let size = read("size");
        if !size.is_empty() {
            parts.push(format!(
                "L{}{}={size}",
                read("level"),
                read("type").chars().next().unwrap_or('?')
            ));
        }
    }
    parts.join(" ")
}

/// `out[m×n] = a[m×k] · bᵀ` where `b` is `[n×k]` row-major (a linear layer's
/// `[out, in]` weight): out[i][j] = Σ_p a[i][p]·b[j][p].
pub fn matmul_bt(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, out: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && out.len() >= m * n);
    // bᵀ is b read with row stride 1 and column stride k: the same gemm call.
    matmul_strided(m, k, n, a, (k, 1), b, (1, k), out, (n, 1));
}

/// General strided product `out = a·b` with explicit (row, column) strides
/// for each operand; used for attention on per-head views without copies.
#[allow(clippy::too_many_arguments)]
pub fn matmul_strided(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    out: &mut [f32],
    (o_rs, o_cs): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rs: usize, cs: usize, r: usize, c: usize| (r - 1) * rs + (c - 1) * cs;
    assert!(last(a_rs, a_cs, m, k.max(1)) < a.len() || k == 0);
    assert!(last(b_rs, b_cs, k.max(1), n) < b.len() || k == 0);
    assert!(last(o_rs, o_cs, m, n) < out.len());
    // SAFETY: the asserts bound the last addressed element of each operand.
    unsafe {
        gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            o_cs as isize,
            o_rs as isize,
            false,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Add `bias` to every row of `x` (`[rows, bias.len()]`).
pub fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// LayerNorm over each row: (x − mean)/√(var + eps)·γ + β, statistics in f64.
pub fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f64) {
    let d = gamma.len();
    for row in x.chunks_exact_mut(d) {
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / d as f64;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = ((f64::from(*v) - mean) * inv) as f32 * g + b;
        }
    }
}

/// RMSNorm over each row: x/√(mean(x²) + eps)·γ, statistics in f64.
pub fn rms_norm(x: &mut [f32], gamma: &[f32], eps: f64) {
    let d = gamma.len();
    for row in x.chunks_exact_mut(d) {
        let ms = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (ms + eps).sqrt();
        for (v, g) in row.iter_mut().zip(gamma) {
            *v = (f64::from(*v) * inv) as f32 * g;
        }
    }
}

/// SwiGLU's gate: `gate[i] = silu(gate[i])·up[i]`, silu(x) = x/(1 + e^−x).
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        let z = f64::from(*g);
        *g = (z / (1.0 + (-z).exp())) as f32 * u;
    }
}

/// Exact GELU, 0.5·x·(1 + erf(x/√2)) (BERT's `gelu`).
pub fn gelu(x: &mut [f32]) {
    for v in x.iter_mut() {
        let z = f64::from(*v);
        *v = (0.5 * z * (1.0 + libm::erf(z * std::f64::consts::FRAC_1_SQRT_2))) as f32;
    }
}

/// Numerically stable softmax of one row, in place.
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inv = (1.0 / sum) as f32;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_bt_matches_a_naive_product() {
        let (m, k, n) = (3, 5, 4);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut out = vec![0.0; m * n];
        matmul_bt(&a, &b, m, k, n, &mut out);
        for i in 0..m {
            for j in 0..n {
                let r: f32 = (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum();
                assert!((out[i * n + j] - r).abs() < 1e-5);
            }
        }
        // The same product through the strided entry point.
        let mut out2 = vec![0.0; m * n];
        matmul_strided(m, k, n, &a, (k, 1), &b, (1, k), &mut out2, (n, 1));
        assert_eq!(out, out2);
    }

    #[test]
    fn norms_and_softmax() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        layer_norm(&mut x, &[1.0; 4], &[0.0; 4], 1e-12);
        assert!(x.iter().sum::<f32>().abs() < 1e-6);
        let mut s = vec![0.0, 0.0];
        softmax(&mut s);
        assert_eq!(s, vec![0.5, 0.5]);
        let mut g = vec![0.0, 1.0];
        gelu(&mut g);
        assert!((g[1] - 0.841_344_7).abs() < 1e-6);
    }
}
