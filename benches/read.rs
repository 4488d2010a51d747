//! Cost of one read, per format: the bare open+read+close, and torn's
//! verified read (the same plus classification), on each directory named in
//! `TORN_BENCH_DIRS` (colon-separated; default: a new directory under the
//! system temp dir).

use criterion::{Criterion, criterion_group, criterion_main};
use torn::classify::Classifier;
use torn::engine::reader::{as_read_result, buffer_len, read_once};
use torn::format::{BUILTINS, Template};
use torn::token::TokenCodec;

fn dirs() -> Vec<(String, tempfile::TempDir)> {
    let list = std::env::var("TORN_BENCH_DIRS").unwrap_or_default();
    let bases: Vec<Option<String>> = if list.trim().is_empty() {
        vec![None]
    } else {
        list.split(':').map(|d| Some(d.to_string())).collect()
    };
    bases
        .into_iter()
        .map(|base| {
            let b = tempfile::Builder::new().prefix("torn-bench-").to_owned();
            let dir = match &base {
                Some(d) => b.tempdir_in(d),
                None => b.tempdir(),
            }
            .expect("bench dir is writable");
            let fs = torn::envinfo::probe(dir.path()).fs_type;
            (base.map_or(fs.clone(), |d| format!("{fs}:{d}")), dir)
        })
        .collect()
}

fn read(c: &mut Criterion) {
    for (name, dir) in dirs() {
        let mut group = c.benchmark_group(format!("read/{name}"));
        for b in BUILTINS {
            let classifier =
                Classifier::new(Template::builtin(b.name).unwrap(), TokenCodec::new(1), u64::MAX);
            let path = dir.path().join(b.name);
            std::fs::write(&path, classifier.template.render_vec(&classifier.codec, 7)).unwrap();
            let mut buf = vec![0u8; buffer_len(classifier.template.len())];
            group.bench_function(format!("{}/bare", b.format.name()), |bench| {
                bench.iter(|| read_once(&path, &mut buf, false).unwrap())
            });
            group.bench_function(format!("{}/verified", b.format.name()), |bench| {
                bench.iter(|| {
                    let res = read_once(&path, &mut buf, false);
                    classifier.classify(as_read_result(&res, &buf), 7, 7)
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, read);
criterion_main!(benches);
