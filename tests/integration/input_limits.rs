//! Inputs at the edges of what a format or a sum can hold, end to end:
//! each is refused with exit 2 naming the file and the place (block, line,
//! layer, tensor), or handled without hiding anything; never a panic.

use crate::harness::{TempDir, evoquant};

/// A version 1.0 `.npy` of little-endian f32.
fn npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let shape_txt = if shape.len() == 1 {
        format!("({},)", shape[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Before: a finite value beyond the f16 range made the block's scale inf,
/// `quantize` wrote blocks that decode to inf/NaN and printed "max abs
/// error 0" for them.
#[test]
fn gguf_quantize_refuses_blocks_beyond_the_f16_range() {
    let dir = TempDir::new("gguf-sat");
    let mut w: Vec<f32> = (0..64).map(|i| (i as f32 * 0.1).sin()).collect();
    w[40] = 1.0e7;
    let input = dir.join("w.npy");
    std::fs::write(&input, npy_f32(&[2, 32], &w)).unwrap();
    for format in ["q4_0", "q4_1", "q8_0"] {
        let out = dir.join(&format!("w.{format}"));
        evoquant()
            .args([
                "quantize",
                input.to_str().unwrap(),
                "--format",
                format,
                "--out",
            ])
            .arg(&out)
            .run()
            .code(2)
            .no_panic()
            .stderr_has("w.npy")
            .stderr_has(&format!("{format} block 1 (flat values 32..64)"))
            .stderr_has("65504");
        assert!(!out.exists(), "{format}: nothing may be written");
    }
    // In range, every format succeeds and prints finite measures.
    w[40] = 1.0e3;
    std::fs::write(&input, npy_f32(&[2, 32], &w)).unwrap();
    for format in ["q4_0", "q4_1", "q8_0"] {
        let o = evoquant()
            .args([
                "quantize",
                input.to_str().unwrap(),
                "--format",
                format,
                "--out",
            ])
            .arg(dir.join("ok.bin"))
            .run();
        o.success().no_panic().stdout_has("max abs error");
        assert!(
            !o.stdout.contains("NaN") && !o.stdout.contains("inf"),
            "{}",
            o.stdout
        );
    }
}

/// A GGUF file with an inf scale (as ggml itself writes for such blocks):
/// `dequantize` says how many values are not finite instead of printing
/// finite-looking measures.
#[test]
fn dequantize_reports_non_finite_values_instead_of_finite_metrics() {
    let dir = TempDir::new("gguf-inf");
    let mut block = vec![0u8; 34];
    block[..2].copy_from_slice(&0x7c00u16.to_le_bytes()); // f16 +inf scale
    block[2..].fill(1);
    let packed = dir.join("w.q8_0");
    std::fs::write(&packed, &block).unwrap();
    let reference = dir.join("ref.npy");
    std::fs::write(&reference, npy_f32(&[32], &[1.0; 32])).unwrap();
    evoquant()
        .args(["dequantize", packed.to_str().unwrap(), "--format", "q8_0"])
        .arg("--reference")
        .arg(&reference)
        .arg("--out")
        .arg(dir.join("back.npy"))
        .run()
        .success()
        .no_panic()
        .stdout_has("32 of 32 decoded values are NaN or inf")
        .stdout_has("not measured: 32 value pairs hold NaN or inf");
}

fn csv(dir: &TempDir, name: &str, text: &str) -> std::path::PathBuf {
    dir.write(name, text)
}

/// Before: 1.0 → inf passed `--rel-tol` (inf − 1 ≤ rel · inf), and of two
/// rows with one trial id only the last was compared.
#[test]
fn diff_counts_non_finite_changes_and_refuses_repeated_ids() {
    let dir = TempDir::new("diff-edges");
    let a = csv(&dir, "a.csv", "trial_id,fitness\nt1,1.0\nt2,2.0\n");
    let b = csv(&dir, "b.csv", "trial_id,fitness\nt1,inf\nt2,2.0\n");
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--rel-tol", "0.5"])
        .run()
        .code(1)
        .no_panic()
        .stdout_has("inf");
    let same = csv(&dir, "same.csv", "trial_id,fitness\nt1,1.0\nt2,2.0\n");
    evoquant().arg("diff").arg(&a).arg(&same).run().success();

    let dup = csv(
        &dir,
        "dup.csv",
        "trial_id,fitness\nt1,1.0\nt2,2.0\nt1,9.0\n",
    );
    for (old, new) in [(&a, &dup), (&dup, &a)] {
        evoquant()
            .arg("diff")
            .arg(old)
            .arg(new)
            .run()
            .code(2)
            .no_panic()
            .stderr_has("dup.csv:4:1: trial_id `t1` appears again (first at line 2)");
    }
}

/// Before: Σ params · bits wrapped in a release build, so an inventory of
/// huge layers validated and ran to a wrong optimum.
#[test]
fn bit_allocation_refuses_inventories_whose_size_overflows() {
    let dir = TempDir::new("bitalloc-huge");
    let data = dir.join("data");
    evoquant()
        .args(["data", "bit-alloc", "--out"])
        .arg(&data)
        .run()
        .success();
    let test_json = std::fs::read_to_string(data.join("test.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&test_json).unwrap();
    v["layers"][3]["params"] = serde_json::json!(u64::MAX / 8);
    let name = v["layers"][3]["name"].as_str().unwrap().to_string();
    std::fs::write(
        data.join("huge.json"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();
    let m = dir.write(
        "m.toml",
        "[study]\nname = \"huge\"\nkind = \"bit_allocation\"\n[params]\ndata.test = \"data/huge.json\"\n",
    );
    evoquant()
        .arg("validate")
        .arg(&m)
        .run()
        .code(2)
        .no_panic()
        .stderr_has("huge.json:")
        .stderr_has("layers[3].params")
        .stderr_has(&format!("`{name}`"));
}

/// A safetensors file: 8-byte length, JSON header padded to 8 bytes, data.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    while h.len() % 8 != 0 {
        h.push(' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h.as_bytes());
    out.extend(data);
    out
}

const MP_HEAD: &str =
    "[study]\nname = \"m\"\nkind = \"mixed_precision\"\n[seeds]\nreplicates = 1\n[params]\n";

/// Before: `validate` read only the header, so NaN weights and integer
/// layers passed it and every trial then failed (exit 1).
#[test]
fn mixed_precision_validate_catches_nan_weights_and_integer_layers() {
    let header = r#"{"a.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,128]}}"#;
    let mut nan = Vec::new();
    for i in 0..32 {
        let x = if i == 13 {
            f32::NAN
        } else {
            i as f32 * 0.01 - 0.1
        };
        nan.extend(x.to_le_bytes());
    }
    let int_header = r#"{"q.weight":{"dtype":"I8","shape":[4,8],"data_offsets":[0,32]}}"#;
    let overlap = r#"{"a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}"#;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            safetensors(header, &nan),
            "tensor `a.weight`: value NaN at row 1, column 5",
        ),
        (safetensors(int_header, &[1u8; 32]), "tensor `q.weight` (I8"),
        (
            safetensors(overlap, &[0u8; 24]),
            "tensor `b.weight`: data_offsets [8, 24] overlap tensor `a.weight`",
        ),
    ];
    for (bytes, text) in cases {
        let dir = TempDir::new("mp-validate");
        std::fs::write(dir.join("bad.safetensors"), bytes).unwrap();
        let m = dir.write(
            "bad.toml",
            &format!("{MP_HEAD}inventory_file = \"bad.safetensors\"\n"),
        );
        evoquant()
            .arg("validate")
            .arg(&m)
            .run()
            .code(2)
            .no_panic()
            .stderr_has("params.inventory_file")
            .stderr_has("bad.safetensors")
            .stderr_has(text);
    }
}
