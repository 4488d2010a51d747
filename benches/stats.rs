//! Cost of one exact Clopper–Pearson interval (`stats::clopper_pearson`),
//! from small counts to the huge n that proving a rate of 1e-7 or less needs:
//! the closed-form edges, the shapes that used to hang (issue 8) and the
//! general case with a root finder and continued fractions.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use torn::stats::clopper_pearson;

const T12: u64 = 1_000_000_000_000;

fn stats(c: &mut Criterion) {
    let mut group = c.benchmark_group("clopper_pearson");
    for (k, n) in [
        (5, 100),
        (0, 30_000_000),
        (7_600_000, 7_600_000),
        (1, 30_000_000),
        (5, 1_000_000_000),
        (1000, T12),
        (1_000_000, T12),
        (500_000_000_000, T12),
        (T12 - 1, T12),
    ] {
        group.bench_function(format!("{k}/{n}"), |b| {
            b.iter(|| clopper_pearson(black_box(k), black_box(n)))
        });
    }
    group.finish();
}

criterion_group!(benches, stats);
criterion_main!(benches);
