//! Cost of classifying one read, per format: a whole version (the hot path:
//! no parse) and a torn prefix (the cold path: the client's parser runs).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use torn::classify::{Classifier, ReadResult};
use torn::format::BUILTINS;
use torn::format::Template;
use torn::token::TokenCodec;

fn classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    for b in BUILTINS {
        let classifier = Classifier::new(Template::builtin(b.name).unwrap(), TokenCodec::new(9), 1);
        let whole = classifier.template.render_vec(&classifier.codec, 1234);
        let prefix = &whole[..whole.len() / 2];
        group.bench_function(format!("{}/whole", b.format.name()), |bench| {
            bench.iter(|| classifier.classify(ReadResult::Bytes(black_box(&whole)), 1234, 1234))
        });
        group.bench_function(format!("{}/torn-prefix", b.format.name()), |bench| {
            bench.iter(|| classifier.classify(ReadResult::Bytes(black_box(prefix)), 1234, 1234))
        });
    }
    group.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
