//! Mapping throughput on a realistic mapping (33 keys: copies, `{{ path }}` prints, literals,
//! conditions, filters, a `for` loop building a list, casts, unset) over a 2 KB input, beside
//! PHP Twig running the PHP app's algorithm on the same mapping and input in the same run
//! (`bench/twig/mapping.php`, templates compiled once on both sides).
//!
//! `cargo bench --bench mapping` prints objects/s for both and the ratio. `MAPPING_BENCH_SECONDS`
//! sets the length of each timed run (default 3). Without `php` the PHP side is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on a broken set-up

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use openconnector::mapping::{Mapper, MappingDefinition};
use serde_json::Value;

fn fixture() -> (MappingDefinition, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/twig/mapping.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        MappingDefinition::from_json(&fixture["mapping"]).unwrap(),
        fixture["input"].clone(),
    )
}

fn criterion_benches(criterion: &mut Criterion) {
    let (definition, input) = fixture();
    let compiled = Mapper::default().compile(&definition).unwrap();
    let mut group = criterion.benchmark_group("mapping");
    group.throughput(Throughput::Elements(1));
    group.bench_function("apply_33_keys_2kb", |bencher| {
        bencher.iter(|| compiled.apply(black_box(&input)).unwrap());
    });
    group.finish();

    // Where the time goes: each mapping key alone, and the input's conversion for templates.
    if std::env::var("MAPPING_BENCH_PROFILE").is_ok() {
        let mut group = criterion.benchmark_group("per_key");
        group.bench_function("context_from_json", |bencher| {
            bencher.iter(|| openconnector::mapping::twig::values::from_json(black_box(&input)));
        });
        let without_casts = MappingDefinition {
            cast: Default::default(),
            unset: Vec::new(),
            ..definition.clone()
        };
        let compiled = Mapper::default().compile(&without_casts).unwrap();
        group.bench_function("all_keys_without_casts", |bencher| {
            bencher.iter(|| compiled.apply(black_box(&input)).unwrap());
        });
        for (key, value) in &definition.mapping {
            let single = MappingDefinition {
                mapping: [(key.clone(), value.clone())].into_iter().collect(),
                ..MappingDefinition::default()
            };
            let compiled = Mapper::default().compile(&single).unwrap();
            group.bench_function(key.as_str(), |bencher| {
                bencher.iter(|| compiled.apply(black_box(&input)).unwrap());
            });
        }
        group.finish();
    }
}

/// Objects per second of our engine on one thread, over `seconds`.
fn our_rate(seconds: f64) -> (f64, Value) {
    let (definition, input) = fixture();
    let compiled = Mapper::default().compile(&definition).unwrap();
    let result = compiled.apply(&input).unwrap();
    let deadline = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < deadline {
        for _ in 0..100 {
            black_box(compiled.apply(black_box(&input)).unwrap());
        }
        count += 100;
    }
    (count as f64 / start.elapsed().as_secs_f64(), result)
}

fn php_rate(seconds: f64) -> Option<(f64, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/twig");
    let output = Command::new("php")
        .arg(root.join("mapping.php"))
        .arg(root.join("mapping.json"))
        .arg(seconds.to_string())
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("php failed: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let report: Value = serde_json::from_slice(&output.stdout).ok()?;
    Some((
        report["objectsPerSecond"].as_f64()?,
        report["result"].clone(),
    ))
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();

    let seconds = std::env::var("MAPPING_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let (ours, our_result) = our_rate(seconds);
    println!("mapping 33 keys / 2 KB input, one core:");
    println!("  openconnector (Rust, MiniJinja + Twig layer): {ours:>10.0} objects/s");
    match php_rate(seconds) {
        Some((php, php_result)) => {
            println!(
                "  PHP {} + Twig 3 (the PHP app's algorithm):  {php:>10.0} objects/s",
                php_version()
            );
            println!("  ratio: {:.1}x", ours / php);
            if php_result != our_result {
                println!(
                    "  WARNING: the two results differ:\n  php:  {php_result}\n  ours: {our_result}"
                );
            } else {
                println!("  results identical");
            }
        }
        None => println!("  PHP side skipped: php or php-twig is not installed"),
    }
}

fn php_version() -> String {
    Command::new("php")
        .args(["-r", "echo PHP_VERSION;"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}
