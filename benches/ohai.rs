//! Automatic attribute collection: every group, and Chef's minimal set (targets: under 10 ms
//! and under 2 ms). `ohai` itself takes about two seconds on the same machine.

use criterion::{criterion_group, criterion_main, Criterion};
use skillet::ohai::Collector;

fn collection(c: &mut Criterion) {
    let collector = Collector::new();
    c.bench_function("ohai_full", |b| b.iter(|| collector.collect_all()));
    c.bench_function("ohai_minimal", |b| b.iter(|| collector.collect_minimal()));
}

criterion_group!(benches, collection);
criterion_main!(benches);
