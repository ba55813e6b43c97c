//! `evoquant apply` of SmolLM2-135M (Q4_1 GGUF from scripts/fetch-models.sh)
//! to Q4_0 and Q8_0, end to end as the command runs it (read the model, plan,
//! decode and re-encode every block linear, write atomically), in bytes of
//! f32 weights per second (the target: 1 GB/s on 2 cores). Output
//! goes to the system temp folder. Run briefly:
//! `cargo bench --bench apply -- --warm-up-time 1 --measurement-time 5`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::apply::{self, ApplyOptions, Format, Source};
use evoquant::quant::qconfig;
use std::path::Path;

fn smollm2(c: &mut Criterion) {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !model.exists() {
        eprintln!(
            "skipped: {} absent (run scripts/fetch-models.sh)",
            model.display()
        );
        return;
    }
    let model = model.display().to_string();
    let mut g = c.benchmark_group("apply_smollm2");
    g.sample_size(10);
    for ty in ["q4_0", "q8_0"] {
        let out = std::env::temp_dir().join(format!("evoquant-bench-apply-{ty}.gguf"));
        let opts = ApplyOptions {
            config: qconfig::load(ty).unwrap(),
            config_text: ty.into(),
            format: Format::Gguf,
            out: out.clone(),
            nearest: false,
            weights_only: false,
        };
        let values = {
            let src = Source::open(&model).unwrap();
            apply::apply(&src, &opts).unwrap().values
        };
        g.throughput(Throughput::Bytes(4 * values as u64));
        g.bench_function(ty, |b| {
            b.iter(|| {
                let src = Source::open(&model).unwrap();
                apply::apply(&src, &opts).unwrap()
            })
        });
        let _ = std::fs::remove_file(out);
    }
    g.finish();
}

criterion_group!(benches, smollm2);
criterion_main!(benches);
