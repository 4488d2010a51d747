//! Cost of one write per strategy, on each directory named in
//! `TORN_BENCH_DIRS` (colon-separated; default: a new directory under the
//! system temp dir). Run it on several filesystems to compare them.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use torn::format::Template;
use torn::strategy::{self, Params};
use torn::token::TokenCodec;

fn dirs() -> Vec<(String, PathBuf, Option<tempfile::TempDir>)> {
    match std::env::var("TORN_BENCH_DIRS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(':')
            .map(|d| {
                let fs = torn::envinfo::probe(std::path::Path::new(d)).fs_type;
                let scratch = tempfile::Builder::new()
                    .prefix("torn-bench-")
                    .tempdir_in(d)
                    .expect("bench dir is writable");
                (format!("{fs}:{d}"), scratch.path().to_path_buf(), Some(scratch))
            })
            .collect(),
        _ => {
            let scratch = tempfile::Builder::new().prefix("torn-bench-").tempdir().unwrap();
            let fs = torn::envinfo::probe(scratch.path()).fs_type;
            vec![(fs, scratch.path().to_path_buf(), Some(scratch))]
        }
    }
}

fn write(c: &mut Criterion) {
    let template = Template::builtin("hermes").unwrap();
    let codec = TokenCodec::new(3);
    let bytes = template.render_vec(&codec, 1);
    for (name, dir, _keep) in dirs() {
        let mut group = c.benchmark_group(format!("write/{name}"));
        for info in strategy::ALL {
            let s = strategy::build(info.name, &Params::default()).unwrap();
            let target = dir.join(format!("{}.yaml", info.name));
            s.write(&target, &bytes).unwrap();
            group.bench_function(info.name, |b| b.iter(|| s.write(&target, &bytes).unwrap()));
        }
        group.finish();
    }
}

criterion_group!(benches, write);
criterion_main!(benches);
