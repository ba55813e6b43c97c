//! The float formats of `quant::minifloat` against `ml_dtypes` (PyPI), bit
//! for bit: BF16, FP16, FP8 E4M3 / E5M2 and FP4 E2M1 encodings of random and
//! adversarial inputs (every code, ties between neighbouring codes and one
//! f32 step either side, subnormals, the overflow boundary, ±0, ±inf, NaN),
//! every code's decoding, and MXFP4 / NVFP4 blocks built in NumPy from
//! their definitions on ml_dtypes' element and scale types
//! (`scripts/reference/formats_ml_dtypes.py`).
//!
//! Without python3 + numpy + ml_dtypes the test prints a skip message,
//! except under CI=true, where it fails (CI installs them).

use crate::harness::TempDir;
use evoquant::quant::minifloat::{Minifloat, mxfp4_quantize, nvfp4_quantize};
use std::path::Path;
use std::process::Command;

fn have_ml_dtypes() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy, ml_dtypes"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "numpy and ml_dtypes are needed under CI=true (pip install numpy ml_dtypes)"
        );
        eprintln!("skipped: numpy / ml_dtypes not importable");
    }
    ok
}

/// Deterministic xorshift64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Adversarial inputs for every format plus random ones.
fn inputs() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x8000_0001),
        1e30,
        -1e30,
    ];
    for f in Minifloat::ALL {
        let width = f.bits() - 1;
        let mut prev: Option<f32> = None;
        for c in 0..(1u32 << width) {
            let x = f.decode(c);
            if !x.is_finite() {
                continue;
            }
            for s in [x, -x] {
                v.push(s);
                v.push(f32::from_bits(s.to_bits() + 1));
                if s != 0.0 {
                    v.push(f32::from_bits(s.to_bits() - 1));
                }
            }
            if let Some(p) = prev {
                // The tie between neighbours (exact in f32) and one f32
                // step either side of it.
                let mid = (p + x) / 2.0;
                for m in [mid, -mid] {
                    v.push(m);
                    v.push(f32::from_bits(m.to_bits() + 1));
                    v.push(f32::from_bits(m.to_bits() - 1));
                }
            }
            prev = Some(x);
        }
        // Around and beyond the largest finite value.
        let max = f.max_finite();
        for k in [1.0f32, 1.01, 1.0625, 1.125, 1.5, 2.0, 1e3] {
            v.push(max * k);
            v.push(-max * k);
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..50_000 {
        v.push(f32::from_bits(rng.next() as u32));
    }
    for _ in 0..50_000 {
        // Log-uniform magnitudes over 2^-40 … 2^40, random sign.
        let e = rng.unit() * 80.0 - 40.0;
        let s = if rng.next() & 1 == 1 { -1.0 } else { 1.0 };
        v.push((s * 2f64.powf(e)) as f32);
    }
    v
}

fn write_f32(path: &Path, xs: &[f32]) {
    let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn reference(input: &[f32], tmp: &TempDir, name: &str) -> std::path::PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("input.f32");
    write_f32(&src, input);
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/formats_ml_dtypes.py"))
        .arg(&src)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn scalar_formats_match_ml_dtypes_bit_for_bit() {
    if !have_ml_dtypes() {
        return;
    }
    let tmp = TempDir::new("formats-ml-dtypes");
    let x = inputs();
    let dir = reference(&x, &tmp, "scalar");
    for f in Minifloat::ALL {
        let bytes = std::fs::read(dir.join(format!("{}.codes", f.name()))).unwrap();
        let wide = f.bits() == 16;
        let codes: Vec<u32> = if wide {
            bytes
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect()
        } else {
            bytes.iter().map(|&b| u32::from(b)).collect()
        };
        assert_eq!(codes.len(), x.len(), "{}", f.name());
        let mut checked = 0usize;
        for (&xi, &want) in x.iter().zip(&codes) {
            let got = f.encode(xi);
            if xi.is_nan() {
                if f == Minifloat::E2m1 {
                    continue;
                }
                assert!(
                    f.decode(got).is_nan() && f.decode(want).is_nan(),
                    "{}",
                    f.name()
                );
                if f == Minifloat::E4m3 {
                    // OCP E4M3 has exactly one NaN per sign: S.1111.111.
                    assert_eq!(got & 0x7f, 0x7f);
                }
                continue;
            }
            assert_eq!(
                got,
                want,
                "{}: {xi:e} (bits {:#010x}) encodes to {got:#x}, ml_dtypes {want:#x}",
                f.name(),
                xi.to_bits()
            );
            checked += 1;
        }
        assert!(checked > 100_000, "{}: {checked}", f.name());
        // Every code decodes as ml_dtypes decodes it.
        let table = read_f32(&dir.join(format!("{}.decode", f.name())));
        for (c, want) in table.iter().enumerate() {
            let got = f.decode(c as u32);
            if want.is_nan() {
                assert!(got.is_nan(), "{} code {c:#x}", f.name());
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{} code {c:#x}", f.name());
            }
        }
    }
}

#[test]
fn mxfp4_and_nvfp4_match_their_definitions_on_ml_dtypes() {
    if !have_ml_dtypes() {
        return;
    }
    let tmp = TempDir::new("formats-blocks");
    // Adversarial values (ties, subnormals, overflow boundaries) and a
    // weight-like tensor: Gaussian blocks whose scales span 2^-20 … 2^20.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut weights = Vec::new();
    for b in 0..512 {
        let scale = 2f64.powf(rng.unit() * 40.0 - 20.0);
        for _ in 0..32 {
            let (u, v) = (rng.unit().max(1e-12), rng.unit());
            let g = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            weights.push((g * scale) as f32);
        }
        if b % 7 == 0 {
            // A block holding exact E2M1 ties after scaling.
            let n = weights.len();
            for (i, t) in [0.25f32, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0]
                .iter()
                .enumerate()
            {
                weights[n - 32 + i] = *t;
                weights[n - 32 + 8 + i] = -*t;
            }
        }
    }
    for (name, input) in [("adversarial", inputs()), ("weights", weights)] {
        let dir = reference(&input, &tmp, name);
        let blocks = read_f32(&dir.join("blocks.f32"));
        assert!(blocks.len() >= 1024, "{name}");
        let mx = mxfp4_quantize(&blocks).unwrap();
        assert_eq!(
            mx,
            std::fs::read(dir.join("mxfp4.bin")).unwrap(),
            "{name}: mxfp4"
        );
        let nv = nvfp4_quantize(&blocks).unwrap();
        assert_eq!(
            nv,
            std::fs::read(dir.join("nvfp4.bin")).unwrap(),
            "{name}: nvfp4"
        );
    }
}
