//! Quantize+pack and unpack+dequantize of 16M f32 values per format, on one
//! rayon thread (the target is one core: INT4 block-wise quantize+pack
//! of 16M values under 40 ms). Run briefly:
//! `cargo bench --bench quant -- --warm-up-time 1 --measurement-time 3`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::quant::{
    Calibration, GgufFormat, Granularity, QuantSpec, QuantizedTensor, ScaleDtype, Scheme,
    fake_quantize, gguf_dequantize_into, gguf_quantize,
};
use std::hint::black_box;

const N: usize = 1 << 24;

fn weights() -> Vec<f32> {
    // Deterministic, roughly Gaussian-looking weights without an RNG dependency.
    (0..N)
        .map(|i| ((i as f32) * 0.618_034).sin() * ((i % 97) as f32 * 0.01 + 0.05))
        .collect()
}

fn specs() -> Vec<(&'static str, QuantSpec)> {
    let base = QuantSpec::chaos_int4(4);
    vec![
        ("int4_block4_f32", base),
        (
            "int4_block32_f16",
            QuantSpec {
                group_size: 32,
                scale_dtype: ScaleDtype::F16,
                ..base
            },
        ),
        (
            "int8_per_channel_sym",
            QuantSpec {
                bits: 8,
                scheme: Scheme::Symmetric,
                granularity: Granularity::PerChannel,
                ..base
            },
        ),
        (
            "int2_group64",
            QuantSpec {
                bits: 2,
                granularity: Granularity::PerGroup,
                group_size: 64,
                ..base
            },
        ),
        (
            "int3_block32",
            QuantSpec {
                bits: 3,
                group_size: 32,
                ..base
            },
        ),
        (
            "int4_block32_mse",
            QuantSpec {
                group_size: 32,
                calibration: Calibration::Mse,
                ..base
            },
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let w = weights();
    let shape = [4096, N / 4096];
    let mut out = vec![0f32; N];
    let mut g = c.benchmark_group("quant_16M_1thread");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((N * 4) as u64));
    for (name, spec) in specs() {
        if spec.calibration == Calibration::Mse {
            // 100 candidate ranges per group: 100x the work; measured once for scale.
            g.bench_function(format!("quantize_pack/{name}"), |b| {
                b.iter(|| {
                    pool.install(|| {
                        QuantizedTensor::quantize(black_box(&w[..N / 16]), &[N / 16], &spec)
                            .unwrap()
                    })
                })
            });
            continue;
        }
        g.bench_function(format!("quantize_pack/{name}"), |b| {
            b.iter(|| {
                pool.install(|| QuantizedTensor::quantize(black_box(&w), &shape, &spec).unwrap())
            })
        });
        // What a fitness loop does: the same buffers quantized again and again.
        let mut reused = QuantizedTensor::quantize(&w, &shape, &spec).unwrap();
        g.bench_function(format!("requantize_pack/{name}"), |b| {
            b.iter(|| pool.install(|| reused.requantize(black_box(&w), &shape, &spec).unwrap()))
        });
        let q = QuantizedTensor::quantize(&w, &shape, &spec).unwrap();
        g.bench_function(format!("unpack_dequantize/{name}"), |b| {
            b.iter(|| pool.install(|| q.dequantize_into(black_box(&mut out))))
        });
        g.bench_function(format!("fake_quantize/{name}"), |b| {
            b.iter(|| {
                pool.install(|| fake_quantize(black_box(&w), &shape, &spec, &mut out).unwrap())
            })
        });
        // What `quantize` on a file computes: codes plus the error metrics,
        // and the metrics of a finished tensor alone.
        g.bench_function(format!("quantize_measured/{name}"), |b| {
            b.iter(|| {
                pool.install(|| {
                    QuantizedTensor::quantize_measured(black_box(&w), &shape, &spec).unwrap()
                })
            })
        });
        g.bench_function(format!("error_metrics/{name}"), |b| {
            b.iter(|| pool.install(|| q.error_metrics(black_box(&w))))
        });
    }
    for f in [GgufFormat::Q4_0, GgufFormat::Q4_1, GgufFormat::Q8_0] {
        g.bench_function(format!("quantize_pack/{}", f.name()), |b| {
            b.iter(|| pool.install(|| gguf_quantize(black_box(&w), f).unwrap()))
        });
        let enc = gguf_quantize(&w, f).unwrap();
        g.bench_function(format!("unpack_dequantize/{}", f.name()), |b| {
            b.iter(|| pool.install(|| gguf_dequantize_into(black_box(&enc), f, &mut out).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
