//! Entropy calibration against an independent NumPy implementation of NVIDIA
//! pytorch-quantization's histogram rules (`scripts/reference/entropy_numpy.py`):
//! the thresholds agree bit for bit. Skipped without NumPy, except under
//! CI=true.

use crate::harness::TempDir;
use evoquant::quant::{Calibration, Scheme, calibrate_range};
use std::path::Path;
use std::process::Command;

fn numpy() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "numpy is needed under CI=true"
        );
        eprintln!("skipped: numpy not importable");
    }
    ok
}

fn samples(seed: u64, n: usize, kind: u32) -> Vec<f32> {
    let mut s = seed | 1;
    let mut unit = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (unit().max(1e-12), unit());
            let x = match kind {
                // |Gaussian|
                0 => ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()).abs(),
                // Laplace magnitude (exponential): a long tail
                1 => -u.ln(),
                // ReLU-like: zeros and a log-normal bulk
                _ => {
                    if v < 0.3 {
                        0.0
                    } else {
                        (1.5 * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).sin()).exp()
                    }
                }
            };
            x as f32
        })
        .collect()
}

#[test]
fn entropy_threshold_matches_pytorch_quantization_rules_in_numpy() {
    if !numpy() {
        return;
    }
    let tmp = TempDir::new("entropy-numpy");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/entropy_numpy.py");
    for (case, (kind, n, bits, nbins)) in [
        (0u32, 20_000usize, 8u8, 2048usize),
        (1, 20_000, 8, 2048),
        (2, 20_000, 8, 2048),
        (1, 5_000, 4, 128),
        (2, 3_000, 6, 512),
    ]
    .into_iter()
    .enumerate()
    {
        let x = samples(11 + case as u64, n, kind);
        let path = tmp.join(&format!("s{case}.f32"));
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new("python3")
            .arg(&script)
            .arg(&path)
            .arg(bits.to_string())
            .arg(nbins.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // Non-negative samples: the symmetric range's top is the threshold.
        let (_, hi) = calibrate_range(&x, bits, Scheme::Symmetric, Calibration::Entropy, 99.9);
        assert_eq!(
            hi.to_bits(),
            want,
            "case {case}: evoquant {hi} numpy {}",
            f32::from_bits(want)
        );
    }
}
