//! `evoquant quantize` / `dequantize` end to end: formats, round trips and
//! every kind of bad input (exit 2, nothing written).

use crate::harness::TempDir;
use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_evoquant"))
}

/// A version 1.0 .npy with the given descr, fortran flag and raw body.
fn npy(descr: &str, fortran: bool, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let shape_txt = if shape.len() == 1 {
        format!("({},)", shape[0])
    } else {
        format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let f = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape_txt}, }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(body);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn weights(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32) * 0.37).sin() * (1.0 + (i % 5) as f32 * 0.3))
        .collect()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Read back a .npy f32 written by `dequantize` (v1 header).
fn read_npy_f32(path: &Path) -> (String, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = String::from_utf8(b[10..10 + hl].to_vec()).unwrap();
    let data = b[10 + hl..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (header, data)
}

fn metric(out: &str, name: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    line[name.len()..]
        .trim()
        .trim_start_matches(':')
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn int_roundtrip_with_self_describing_header() {
    let dir = TempDir::new("quant-int");
    let w = weights(8 * 12);
    let input = dir.join("w.npy");
    std::fs::write(&input, npy("<f4", false, &[8, 12], &f32_bytes(&w))).unwrap();
    let packed = dir.join("w.int");
    let o = run(&[
        "quantize",
        s(&input),
        "--format",
        "int",
        "--bits",
        "4",
        "--scheme",
        "asymmetric",
        "--granularity",
        "block",
        "--block-size",
        "4",
        "--calibration",
        "minmax",
        "--out",
        s(&packed),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // 96 values: 48 code bytes + 24 f32 scales + 24 i8 zero points = 168 bytes = 14 bits/weight.
    assert_eq!(metric(&out, "bytes"), 168.0);
    assert_eq!(metric(&out, "bits per weight"), 14.0);
    let mse_q = metric(&out, "mse");
    assert!(mse_q > 0.0 && metric(&out, "sqnr") > 0.0);

    let back = dir.join("back.npy");
    let o = run(&[
        "dequantize",
        s(&packed),
        "--format",
        "int",
        "--reference",
        s(&input),
        "--out",
        s(&back),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metric(&stdout(&o), "mse"), mse_q);
    let (header, data) = read_npy_f32(&back);
    assert!(header.contains("'shape': (8, 12)"), "{header}");
    assert_eq!(data.len(), w.len());
    // Library and command agree exactly.
    let q = evoquant::quant::QuantizedTensor::quantize(
        &w,
        &[8, 12],
        &evoquant::quant::QuantSpec {
            scheme: evoquant::quant::Scheme::Asymmetric,
            ..evoquant::quant::QuantSpec::chaos_int4(4)
        },
    )
    .unwrap();
    assert_eq!(data, q.dequantize());
}

#[test]
fn gguf_formats_write_exact_block_bytes() {
    let dir = TempDir::new("quant-gguf");
    let w = weights(64);
    let input = dir.join("w.f32");
    std::fs::write(&input, f32_bytes(&w)).unwrap();
    for (fmt, block) in [("q4_0", 18usize), ("q4_1", 20), ("q8_0", 34)] {
        let packed = dir.join(&format!("w.{fmt}"));
        let o = run(&["quantize", s(&input), "--format", fmt, "--out", s(&packed)]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        assert_eq!(
            std::fs::metadata(&packed).unwrap().len() as usize,
            2 * block
        );
        assert_eq!(
            metric(&stdout(&o), "bits per weight"),
            (block * 8) as f64 / 32.0
        );
        let back = dir.join(&format!("{fmt}.npy"));
        let o = run(&[
            "dequantize",
            s(&packed),
            "--format",
            fmt,
            "--shape",
            "2,32",
            "--out",
            s(&back),
        ]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        assert!(stdout(&o).contains("not measured"));
        let (header, data) = read_npy_f32(&back);
        assert!(header.contains("(2, 32)"));
        let max_err = w
            .iter()
            .zip(&data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max_err < 0.3, "{fmt}: {max_err}");
    }
}

#[test]
fn f16_npy_input_is_accepted() {
    let dir = TempDir::new("quant-f16");
    let body: Vec<u8> = weights(32)
        .iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect();
    let input = dir.join("h.npy");
    std::fs::write(&input, npy("<f2", false, &[32], &body)).unwrap();
    let o = run(&[
        "quantize",
        s(&input),
        "--format",
        "q8_0",
        "--out",
        s(&dir.join("h.q8")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Runs a failing command and checks: exit 2, message names `needle`, no output left.
fn assert_user_error(args: &[&str], out: &Path, needle: &str) {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "{} was written", out.display());
    let dir = out.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn bad_inputs_exit_2_and_write_nothing() {
    let dir = TempDir::new("quant-bad");
    let out = dir.join("out.bin");
    let o = s(&out);

    let missing = dir.join("missing.npy");
    assert_user_error(
        &["quantize", s(&missing), "--format", "q4_0", "--out", o],
        &out,
        "missing.npy",
    );

    let f64_file = dir.join("f64.npy");
    std::fs::write(&f64_file, npy("<f8", false, &[32], &[0u8; 256])).unwrap();
    assert_user_error(
        &["quantize", s(&f64_file), "--format", "q4_0", "--out", o],
        &out,
        "'<f8'",
    );

    let fortran = dir.join("fortran.npy");
    std::fs::write(
        &fortran,
        npy("<f4", true, &[4, 8], &f32_bytes(&weights(32))),
    )
    .unwrap();
    assert_user_error(
        &["quantize", s(&fortran), "--format", "int", "--out", o],
        &out,
        "Fortran",
    );

    let odd = dir.join("odd.npy");
    std::fs::write(&odd, npy("<f4", false, &[2, 24], &f32_bytes(&weights(48)))).unwrap();
    assert_user_error(
        &["quantize", s(&odd), "--format", "q4_0", "--out", o],
        &out,
        "multiple of 32",
    );

    let mut w = weights(64);
    w[10] = f32::NAN;
    let nan = dir.join("nan.f32");
    std::fs::write(&nan, f32_bytes(&w)).unwrap();
    assert_user_error(
        &["quantize", s(&nan), "--format", "int", "--out", o],
        &out,
        "flat index 10",
    );
    w[10] = f32::INFINITY;
    std::fs::write(&nan, f32_bytes(&w)).unwrap();
    assert_user_error(
        &["quantize", s(&nan), "--format", "q8_0", "--out", o],
        &out,
        "not finite",
    );

    let truncated = dir.join("trunc.f32");
    std::fs::write(&truncated, [0u8; 7]).unwrap();
    assert_user_error(
        &["quantize", s(&truncated), "--format", "int", "--out", o],
        &out,
        "trunc.f32",
    );

    let good = dir.join("good.f32");
    std::fs::write(&good, f32_bytes(&weights(64))).unwrap();
    assert_user_error(
        &[
            "quantize",
            s(&good),
            "--format",
            "int",
            "--scheme",
            "symmetric",
            "--bits",
            "1",
            "--out",
            o,
        ],
        &out,
        "at least 2 bits",
    );
    assert_user_error(
        &[
            "quantize",
            s(&good),
            "--format",
            "int",
            "--calibration",
            "percentile",
            "--percentile",
            "10",
            "--out",
            o,
        ],
        &out,
        "percentile",
    );

    // Dequantize: garbage for the claimed format, wrong shape.
    assert_user_error(
        &["dequantize", s(&good), "--format", "int", "--out", o],
        &out,
        "bad magic",
    );
    let packed = dir.join("g.q4");
    assert!(
        run(&[
            "quantize",
            s(&good),
            "--format",
            "q4_0",
            "--out",
            s(&packed)
        ])
        .status
        .success()
    );
    assert_user_error(
        &["dequantize", s(&packed), "--format", "q8_0", "--out", o],
        &out,
        "q8_0 blocks",
    );
    assert_user_error(
        &[
            "dequantize",
            s(&packed),
            "--format",
            "q4_0",
            "--shape",
            "3,5",
            "--out",
            o,
        ],
        &out,
        "--shape",
    );
}

#[test]
fn float_formats_round_trip_with_true_sizes() {
    let dir = TempDir::new("quant-float");
    let w = weights(128);
    let input = dir.join("w.npy");
    std::fs::write(&input, npy("<f4", false, &[4, 32], &f32_bytes(&w))).unwrap();
    // (format, extra flags, file bytes, payload bits per weight, max error)
    let cases: [(&str, &[&str], usize, f64, f32); 7] = [
        ("bf16", &[], 256, 16.0, 0.01),
        ("fp16", &[], 256, 16.0, 0.001),
        ("fp8_e4m3", &[], 4 + 4 + 128, 8.25, 0.1),
        (
            "fp8_e4m3",
            &["--granularity", "per-channel"],
            4 + 16 + 128,
            9.0,
            0.1,
        ),
        ("fp8_e5m2", &[], 4 + 4 + 128, 8.25, 0.2),
        ("mxfp4", &[], 4 * 17, 4.25, 0.6),
        ("nvfp4", &[], 4 + 8 * 9, 4.5 + 32.0 / 128.0, 0.6),
    ];
    for (i, (fmt, extra, bytes, bpw, tol)) in cases.into_iter().enumerate() {
        let packed = dir.join(&format!("w{i}.{fmt}"));
        let mut args = vec!["quantize", s(&input), "--format", fmt];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", s(&packed)]);
        let o = run(&args);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        assert_eq!(
            std::fs::metadata(&packed).unwrap().len() as usize,
            bytes,
            "{fmt}"
        );
        assert_eq!(metric(&stdout(&o), "bits per weight"), bpw, "{fmt}");
        let back = dir.join(&format!("w{i}.npy"));
        let o = run(&[
            "dequantize",
            s(&packed),
            "--format",
            fmt,
            "--shape",
            "4,32",
            "--reference",
            s(&input),
            "--out",
            s(&back),
        ]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        let (header, data) = read_npy_f32(&back);
        assert!(header.contains("(4, 32)"));
        let max_err = w
            .iter()
            .zip(&data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max_err < tol, "{fmt}: {max_err}");
        assert!((metric(&stdout(&o), "max abs error") as f32 - max_err).abs() < 1e-6);
    }
    // User mistakes: exit 2, nothing written.
    let out = dir.join("bad.bin");
    let odd = dir.join("odd.f32");
    std::fs::write(&odd, f32_bytes(&weights(48))).unwrap();
    assert_user_error(
        &["quantize", s(&odd), "--format", "mxfp4", "--out", s(&out)],
        &out,
        "multiple of its block size 32",
    );
    assert_user_error(
        &[
            "quantize",
            s(&input),
            "--format",
            "fp8_e4m3",
            "--granularity",
            "per-group",
            "--out",
            s(&out),
        ],
        &out,
        "per-group",
    );
    let big = dir.join("big.f32");
    std::fs::write(&big, f32_bytes(&[1.0, 70000.0])).unwrap();
    assert_user_error(
        &["quantize", s(&big), "--format", "fp16", "--out", s(&out)],
        &out,
        "overflows fp16",
    );
    let junk = dir.join("junk.fp8");
    std::fs::write(&junk, [7u8, 0, 0, 0, 1, 2]).unwrap();
    assert_user_error(
        &[
            "dequantize",
            s(&junk),
            "--format",
            "fp8_e4m3",
            "--out",
            s(&out),
        ],
        &out,
        "not a whole fp8_e4m3 file",
    );
}

/// `--format binary|ternary`: true sizes (codes at 1 or 2 bits plus one f16
/// scale per group, after the header), a dequantized file equal to the
/// library's kernel bit for bit, and mismatched formats or flags exit 2.
#[test]
fn binary_and_ternary_round_trip_with_true_sizes() {
    use evoquant::quant::Granularity;
    use evoquant::quant::binary::{Extreme, ExtremeSpec, fake_quantize_extreme};
    let dir = TempDir::new("quant-extreme");
    let w = weights(8 * 32);
    let input = dir.join("w.npy");
    std::fs::write(&input, npy("<f4", false, &[8, 32], &f32_bytes(&w))).unwrap();
    // (format, granularity flags, kind, granularity, groups)
    let cases: [(&str, &[&str], Extreme, Granularity, usize); 3] = [
        (
            "binary",
            &["--granularity", "per_channel"],
            Extreme::Binary,
            Granularity::PerChannel,
            8,
        ),
        (
            "ternary",
            &["--granularity", "per_group", "--block-size", "16"],
            Extreme::Ternary,
            Granularity::PerGroup,
            16,
        ),
        (
            "ternary",
            &["--granularity", "per_tensor"],
            Extreme::Ternary,
            Granularity::PerTensor,
            1,
        ),
    ];
    for (i, (fmt, flags, kind, granularity, groups)) in cases.into_iter().enumerate() {
        let packed = dir.join(&format!("w{i}.{fmt}"));
        let mut args = vec!["quantize", s(&input), "--format", fmt];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--out", s(&packed)]);
        let o = run(&args);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        let payload = 256 * usize::from(kind.bits()) / 8 + 2 * groups;
        assert_eq!(metric(&stdout(&o), "bytes"), payload as f64, "{fmt}");
        assert_eq!(
            metric(&stdout(&o), "bits per weight"),
            payload as f64 * 8.0 / 256.0
        );
        let file = std::fs::read(&packed).unwrap();
        assert_eq!(&file[..8], b"EVOQEXT1");
        let hl = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
        assert_eq!(file.len(), 12 + hl + payload, "{fmt}");

        let back = dir.join(&format!("w{i}.npy"));
        let o = run(&[
            "dequantize",
            s(&packed),
            "--format",
            fmt,
            "--reference",
            s(&input),
            "--out",
            s(&back),
        ]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        let (header, data) = read_npy_f32(&back);
        assert!(header.contains("(8, 32)"), "{header}");
        let spec = ExtremeSpec {
            kind,
            granularity,
            group_size: 16,
        };
        let mut expect = vec![0.0; w.len()];
        fake_quantize_extreme(&w, &[8, 32], &spec, &mut expect).unwrap();
        assert_eq!(data, expect, "{fmt}");
        let levels: std::collections::BTreeSet<u32> =
            data.iter().map(|v| v.abs().to_bits()).collect();
        assert!(levels.len() <= groups + usize::from(kind == Extreme::Ternary));
    }
    // A binary file read as ternary, a truncated file, a zero group size.
    let out = dir.join("bad.npy");
    assert_user_error(
        &[
            "dequantize",
            s(&dir.join("w0.binary")),
            "--format",
            "ternary",
            "--out",
            s(&out),
        ],
        &out,
        "holds binary weights, not ternary",
    );
    let bytes = std::fs::read(dir.join("w0.binary")).unwrap();
    let cut = dir.join("cut.binary");
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    assert_user_error(
        &[
            "dequantize",
            s(&cut),
            "--format",
            "binary",
            "--out",
            s(&out),
        ],
        &out,
        "cut.binary",
    );
    let packed = dir.join("none.binary");
    assert_user_error(
        &[
            "quantize",
            s(&input),
            "--format",
            "binary",
            "--granularity",
            "per_group",
            "--block-size",
            "0",
            "--out",
            s(&packed),
        ],
        &packed,
        "group size",
    );
}
