//! Automatic attribute collection: every group, and Chef's minimal set (targets: under 10 ms
//! and under 2 ms), then each group alone to show where the time goes. `ohai` itself takes
//! seconds on the same machine.

use criterion::{criterion_group, criterion_main, Criterion};
use skillet::ohai::{Collector, Group, Map};

fn collection(c: &mut Criterion) {
    let collector = Collector::new();
    c.bench_function("ohai_full", |b| b.iter(|| collector.collect_all()));
    c.bench_function("ohai_minimal", |b| b.iter(|| collector.collect_minimal()));
    for group in Group::ALL {
        let name = format!("ohai_group_{}", group.keys()[0]);
        c.bench_function(&name, |b| {
            b.iter(|| {
                let mut out = Map::new();
                collector.collect_group(*group, &mut out);
                out
            })
        });
    }
}

criterion_group!(benches, collection);
criterion_main!(benches);
