//! `torn bench`: what the harness's checking costs, as a ratio measured in
//! one run on one file.
//!
//! For each format, one thread alternately runs (a) the bare loop —
//! open, read to EOF, close — and (b) torn's real reader loop (the same
//! function the engine runs: counters, exposure snapshot, classification),
//! on the same file with no writer, for three rounds each. The ratio of the
//! medians is the share of the bare system-call rate torn keeps.
//!
//! Each format is measured twice: on the exact path (the file is
//! byte-identical to a whole version: a length check, `memcmp`s, a hex
//! decode) and on the semantic path of a learned shape whose bytes vary
//! (the file differs in layout, so every read is parsed and compared by
//! meaning — what a writer stamping `updated_at` costs).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::classify::Classifier;
use crate::engine::reader::{self, ReaderRun};
use crate::engine::{Live, Shared};
use crate::format::{Format, Template};
use crate::report::verdict::thousands;
use crate::scratch::Scratch;
use crate::token::TokenCodec;

/// One format's measurement.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadRow {
    pub format: &'static str,
    /// `exact` (byte match) or `semantic` (parsed and compared by meaning).
    pub path: &'static str,
    pub template: String,
    pub bytes: usize,
    /// Median reads/s of the bare open+read+close loop.
    pub bare_reads_per_s: f64,
    /// Median reads/s of torn's verified reader loop.
    pub verified_reads_per_s: f64,
    /// verified / bare.
    pub ratio: f64,
    /// Filesystem the file was on.
    pub fs_type: String,
}

const ROUNDS: usize = 3;

/// Measures every format in `formats`.
pub fn reader_overhead(
    formats: &[Format],
    each: Duration,
    dir: Option<&Path>,
    cancel: &AtomicBool,
) -> anyhow::Result<Vec<OverheadRow>> {
    let scratch = Scratch::new(dir, false)?;
    let fs_type = crate::envinfo::probe(scratch.root()).fs_type;
    let mut rows = Vec::new();
    for &format in formats {
        let template = Template::builtin(format.default_template()).expect("built-in template");
        let exact = Classifier::new(template, TokenCodec::new(1), 1);
        let semantic = exact.clone().semantic(Vec::new()).map_err(anyhow::Error::msg)?;
        for (name, classifier) in [("exact", exact), ("semantic", semantic)] {
            let case = scratch.case_dir(rows.len(), &format!("{}-{name}", format.name()))?;
            let path = case.home().join("config");
            let mut bytes = classifier.template.render_vec(&classifier.codec, 0);
            if name == "semantic" {
                // The same document with another layout: never byte-identical.
                bytes.push(b'\n');
            }
            std::fs::write(&path, bytes)?;
            rows.push(measure(format, name, &classifier, &path, each, cancel, &fs_type)?);
        }
    }
    Ok(rows)
}

/// Alternates the bare and the verified loop on `path`, three rounds each.
fn measure(
    format: Format,
    path_name: &'static str,
    classifier: &Classifier,
    path: &Path,
    each: Duration,
    cancel: &AtomicBool,
    fs_type: &str,
) -> anyhow::Result<OverheadRow> {
    let (mut bare, mut verified) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        if cancel.load(Ordering::Relaxed) {
            anyhow::bail!("interrupted");
        }
        bare.push(bare_loop(path, classifier.template.len(), each));
        verified.push(verified_loop(path, classifier, each));
    }
    let (b, v) = (median(&mut bare), median(&mut verified));
    Ok(OverheadRow {
        format: format.name(),
        path: path_name,
        template: classifier.template.origin.clone(),
        bytes: classifier.template.len(),
        bare_reads_per_s: b,
        verified_reads_per_s: v,
        ratio: v / b,
        fs_type: fs_type.to_string(),
    })
}

fn bare_loop(path: &Path, len: usize, each: Duration) -> f64 {
    let mut buf = vec![0u8; reader::buffer_len(len)];
    let start = Instant::now();
    let mut n = 0u64;
    let mut bytes = 0usize;
    while start.elapsed() < each {
        for _ in 0..64 {
            bytes += reader::read_once(path, &mut buf, false).unwrap_or(0);
            n += 1;
        }
    }
    std::hint::black_box(bytes);
    n as f64 / start.elapsed().as_secs_f64()
}

fn verified_loop(path: &Path, classifier: &Classifier, each: Duration) -> f64 {
    let shared = Shared::new(1);
    let live = Live::default();
    let start = Instant::now();
    let tally = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(each);
            shared.stop.store(true, Ordering::Relaxed);
        });
        let opts = ReaderRun {
            profile: reader::Profile::Reread,
            lock: false,
            reads: None,
            evidence_per_class: 3,
            bucket_ns: 0,
        };
        reader::run_reader(0, path, classifier, &shared, &live, start, opts)
    });
    assert_eq!(tally.anomalies(), 0, "no writer ran, so every read must be ok");
    tally.reads as f64 / start.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The rows as a plain-text table.
pub fn table(rows: &[OverheadRow]) -> String {
    let mut s = format!(
        "{:<8} {:<9} {:>6} {:>14} {:>16} {:>7}  {}\n",
        "format", "path", "bytes", "bare reads/s", "verified reads/s", "ratio", "fs"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<8} {:<9} {:>6} {:>14} {:>16} {:>7.3}  {}\n",
            r.format,
            r.path,
            r.bytes,
            thousands(r.bare_reads_per_s as u64),
            thousands(r.verified_reads_per_s as u64),
            r.ratio,
            r.fs_type
        ));
    }
    s
}

/// Readers' throughput with an external writer against a built-in one.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalWriterCost {
    pub command: String,
    /// Reads/s per reader thread while `rename-durable` writes.
    pub builtin_reads_per_s: f64,
    /// Reads/s per reader thread while the external writer writes.
    pub external_reads_per_s: f64,
    pub external_writes_per_s: f64,
    /// external / built-in.
    pub ratio: f64,
}

/// Runs `rename-durable` and the line-protocol writer `command` for `each`,
/// alternately, three rounds, same readers and file; compares the medians.
pub fn external_writer_cost(
    command: &str,
    each: Duration,
    dir: Option<&Path>,
    cancel: &AtomicBool,
) -> anyhow::Result<ExternalWriterCost> {
    let text = format!(
        "name: bench-external-writer\nformat: yaml\nduration: {}\nstrategies:\n  - strategy: rename-durable\n  - writer_stdio: {}\n",
        humantime::format_duration(each),
        serde_json::to_string(command)?
    );
    let scenario = crate::scenario::Scenario::parse(&text, "bench")?;
    let opts = crate::run::RunOptions {
        dir: dir.map(Path::to_path_buf),
        ..Default::default()
    };
    let (mut builtin, mut external, mut writes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let report = crate::run::run(&scenario, "bench", Path::new("."), &opts, cancel)?.report;
        anyhow::ensure!(report.cases.len() == 2, "interrupted");
        let per_reader = |i: usize| report.cases[i].reads_per_s / report.cases[i].readers as f64;
        if let Some(e) = &report.cases[1].subject_error {
            anyhow::bail!("the writer failed: {e}");
        }
        builtin.push(per_reader(0));
        external.push(per_reader(1));
        writes.push(report.cases[1].writes.per_s);
    }
    let (b, e) = (median(&mut builtin), median(&mut external));
    Ok(ExternalWriterCost {
        command: command.to_string(),
        builtin_reads_per_s: b,
        external_reads_per_s: e,
        external_writes_per_s: median(&mut writes),
        ratio: e / b,
    })
}
