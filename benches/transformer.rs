//! Transformer runtime throughput: the MiniLM forward (tokens/s over the
//! first 32 eval texts, one thread, one text at a time and in batches of 8
//! (as sessions run it, `linear::TEXT_BATCH`) and 16), the
//! SmolLM2-135M decoder forward (tokens/s over the first 8 eval texts, one
//! thread, logits at every position, alone and as one batch) and the
//! single-threaded sgemm peak of the `gemm` crate on a 1024³ product, to
//! quote the fraction of peak the forward reaches. Skips the model parts when
//! models/ is absent. Run briefly:
//! `cargo bench --bench transformer -- --warm-up-time 1 --measurement-time 5`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::models::transformer::{
    EVAL_TEXT, bert::Bert, linear, lines, ops, tokenizer::Tokenizer,
};
use evoquant::nn::classifier::LayerQuant;
use std::hint::black_box;
use std::path::Path;

fn gemm_peak(c: &mut Criterion) {
    let n = 1024;
    let a: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.11).cos()).collect();
    let mut out = vec![0.0f32; n * n];
    let mut g = c.benchmark_group("gemm");
    g.throughput(Throughput::Elements((2 * n * n * n) as u64));
    g.bench_function("sgemm_1024_flops", |bch| {
        bch.iter(|| ops::matmul_bt(black_box(&a), black_box(&b), n, n, n, &mut out))
    });
    g.finish();
}

fn minilm(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    if !dir.join("model.safetensors").exists() {
        eprintln!("skipped: models/all-MiniLM-L6-v2 absent (run scripts/fetch-models.sh)");
        return;
    }
    let model = Bert::load(&dir).expect("load MiniLM");
    let tok = Tokenizer::from_file(&dir.join("tokenizer.json")).expect("tokenizer");
    let ids: Vec<Vec<u32>> = lines(EVAL_TEXT)
        .iter()
        .take(32)
        .map(|t| tok.encode(t, 128).expect("encode"))
        .collect();
    let linears = model.linears();
    let cache = linear::WeightCache::default();
    let plans = linear::plans(
        &linears,
        &vec![LayerQuant::FP32; linears.len()],
        None,
        &cache,
    )
    .expect("plans");
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("minilm");
    g.throughput(Throughput::Elements(tokens as u64));
    for batch in [1, 8, 16] {
        g.bench_function(format!("forward_32_texts_batch_{batch}_tokens"), |bch| {
            bch.iter(|| {
                for b in ids.chunks(batch) {
                    let refs: Vec<&[u32]> = b.iter().map(Vec::as_slice).collect();
                    black_box(model.embed_batch(&refs, &plans, None).expect("forward"));
                }
            })
        });
    }
    g.finish();
}

fn smollm2(c: &mut Criterion) {
    use evoquant::models::transformer::decoder;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.exists() {
        eprintln!(
            "skipped: models/SmolLM2-135M-Instruct.Q4_1.gguf absent (run scripts/fetch-models.sh)"
        );
        return;
    }
    let (model, tok) = decoder::load(&path, true).expect("load SmolLM2");
    let ids: Vec<Vec<u32>> = lines(EVAL_TEXT)
        .iter()
        .take(8)
        .map(|t| tok.encode_causal(t, 128).expect("encode"))
        .collect();
    let plans = decoder::reference_plans(&model).expect("plans");
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("smollm2");
    g.sample_size(10);
    g.throughput(Throughput::Elements(tokens as u64));
    for batch in [1, 8] {
        g.bench_function(format!("forward_8_texts_batch_{batch}_tokens"), |bch| {
            bch.iter(|| {
                for b in ids.chunks(batch) {
                    let refs: Vec<&[u32]> = b.iter().map(Vec::as_slice).collect();
                    black_box(
                        model
                            .logits_batch(&refs, &plans, &model.embedding.w, None)
                            .expect("forward"),
                    );
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, gemm_peak, minilm, smollm2);
criterion_main!(benches);
