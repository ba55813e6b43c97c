//! `evoquant data bit-alloc`: deterministic files a study can read back.

use std::path::PathBuf;
use std::process::Command;

fn evoquant(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_evoquant"))
        .args(args)
        .output()
        .expect("run evoquant")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn bit_alloc_data_is_written_deterministically() {
    let (a, b) = (scratch("bit_alloc_a"), scratch("bit_alloc_b"));
    for dir in [&a, &b] {
        let out = evoquant(&["data", "bit-alloc", "--out", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (file, layers) in [("train.json", 131), ("valid.json", 99), ("test.json", 27)] {
        let x = std::fs::read(a.join(file)).unwrap();
        assert_eq!(x, std::fs::read(b.join(file)).unwrap(), "{file}");
        let v: serde_json::Value = serde_json::from_slice(&x).unwrap();
        assert_eq!(v["layers"].as_array().unwrap().len(), layers, "{file}");
        assert!(v["layers"][0]["sensitivity"]["INT4"].is_number());
    }
}

#[test]
fn bit_alloc_data_refuses_a_file_as_output_folder() {
    let dir = scratch("bit_alloc_file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("not_a_dir");
    std::fs::write(&file, "x").unwrap();
    let out = evoquant(&["data", "bit-alloc", "--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
}
