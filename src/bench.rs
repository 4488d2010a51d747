//! `torn bench`: what the harness's checking costs, as a ratio measured in
//! one run on one file.
//!
//! For each format, one thread alternately runs (a) the bare loop —
//! open, read to EOF, close — and (b) torn's real reader loop (the same
//! function the engine runs: counters, exposure snapshot, classification),
//! on the same file with no writer, for three rounds each. Each round's
//! ratio is the share of the bare system-call rate torn keeps; the table and
//! `--json` give its min / median / max. A ratio above 1.05 (checking faster
//! than not checking) is implausible — a noisy machine — and is flagged.
//!
//! Each format is measured twice: on the exact path (the file is
//! byte-identical to a whole version: a length check, `memcmp`s, a hex
//! decode) and on the semantic path of a learned shape whose bytes vary
//! (the file differs in layout, so every read is parsed and compared by
//! meaning — what a writer stamping `updated_at` costs).
//!
//! `--json` prints a [`BenchReport`] (schema [`SCHEMA`]).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::classify::Classifier;
use crate::engine::reader::{self, ReaderRun};
use crate::engine::{Live, Shared};
use crate::format::{Format, Template};
use crate::numbers::thousands;
use crate::scratch::Scratch;
use crate::token::TokenCodec;

/// Identifies the schema of `torn bench --json`; bumped on incompatible change.
pub const SCHEMA: &str = "torn.bench/1";

/// A ratio above this is implausible (checking cannot make reads faster):
/// the machine was too noisy for the measurement.
pub const IMPLAUSIBLE_RATIO: f64 = 1.05;

/// What `torn bench --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport<T> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// When the bench ran, RFC 3339 UTC.
    pub created: String,
    /// Alternating rounds per measurement.
    pub rounds: usize,
    /// Seconds each loop ran per round.
    pub seconds_per_round: f64,
    /// `reader-overhead` (rows per format) or `external-writer`.
    pub kind: &'static str,
    pub results: T,
    /// Reasons not to trust a number (an implausible ratio), one per line.
    pub warnings: Vec<String>,
}

impl<T> BenchReport<T> {
    pub fn new(kind: &'static str, each: Duration, results: T, warnings: Vec<String>) -> Self {
        Self {
            schema: SCHEMA,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rounds: ROUNDS,
            seconds_per_round: each.as_secs_f64(),
            kind,
            results,
            warnings,
        }
    }
}

/// The spread of a number over the rounds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Self {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Self {
            min: v[0],
            median: v[v.len() / 2],
            max: v[v.len() - 1],
        }
    }
}

/// One format's measurement.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadRow {
    pub format: &'static str,
    /// `exact` (byte match) or `semantic` (parsed and compared by meaning).
    pub path: &'static str,
    pub template: String,
    pub bytes: usize,
    /// Reads/s of the bare open+read+close loop.
    pub bare_reads_per_s: Spread,
    /// Reads/s of torn's verified reader loop.
    pub verified_reads_per_s: Spread,
    /// verified / bare, per round (each round runs both loops, back to back).
    pub ratio: Spread,
    /// Filesystem the file was on.
    pub fs_type: String,
}

impl OverheadRow {
    /// Why the row's ratio cannot be trusted, if it cannot.
    pub fn warning(&self) -> Option<String> {
        (self.ratio.max > IMPLAUSIBLE_RATIO).then(|| {
            format!(
                "{}: a verified loop faster than the bare one (ratio up to {:.3} > {IMPLAUSIBLE_RATIO}) \
                 is implausible: the machine was busy; run again, or with a longer --duration",
                self.format, self.ratio.max
            )
        })
    }
}

const ROUNDS: usize = 3;

/// Measures every format in `formats`.
/// `progress` is told, before each measurement, which one it is
/// (`[3/10] json exact`).
pub fn reader_overhead(
    formats: &[Format],
    each: Duration,
    dir: Option<&Path>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<OverheadRow>> {
    let scratch = Scratch::new(dir, false)?;
    let fs_type = crate::envinfo::probe(scratch.root()).fs_type;
    let mut rows = Vec::new();
    for &format in formats {
        let template = Template::builtin(format.default_template()).expect("built-in template");
        let exact = Classifier::new(template, TokenCodec::new(1), 1);
        // Raw bytes have no parser, so no semantic path.
        let semantic = match format {
            Format::Raw => None,
            _ => Some(exact.clone().semantic(Vec::new()).map_err(anyhow::Error::msg)?),
        };
        let paths = std::iter::once(("exact", exact)).chain(semantic.map(|s| ("semantic", s)));
        for (name, classifier) in paths {
            let case = scratch.case_dir(rows.len(), &format!("{}-{name}", format.name()))?;
            let path = case.home().join("config");
            let mut bytes = classifier.template.render_vec(&classifier.codec, 0);
            if name == "semantic" {
                // The same document with another layout: never byte-identical.
                bytes.push(b'\n');
            }
            std::fs::write(&path, bytes)?;
            progress(&format!(
                "[{}/{}] {} {name}: {ROUNDS} rounds of bare and verified reads, {} each",
                rows.len() + 1,
                formats.len() * 2,
                format.name(),
                humantime::format_duration(each)
            ));
            let (mut bare, mut verified) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                if cancel.load(Ordering::Relaxed) {
                    anyhow::bail!("interrupted");
                }
                bare.push(bare_loop(&path, classifier.template.len(), each));
                verified.push(verified_loop(&path, &classifier, each));
            }
            let ratios: Vec<f64> = verified.iter().zip(&bare).map(|(v, b)| v / b).collect();
            rows.push(OverheadRow {
                format: format.name(),
                path: name,
                template: classifier.template.origin.clone(),
                bytes: classifier.template.len(),
                bare_reads_per_s: Spread::of(&bare),
                verified_reads_per_s: Spread::of(&verified),
                ratio: Spread::of(&ratios),
                fs_type: fs_type.clone(),
            });
        }
    }
    Ok(rows)
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
            pace: crate::case::Pace::Spin,
        };
        reader::run_reader(0, path, classifier, &shared, &live, start, opts)
    });
    assert_eq!(tally.anomalies(), 0, "no writer ran, so every read must be ok");
    tally.reads as f64 / start.elapsed().as_secs_f64()
}

/// The rows as a plain-text table (medians of the reads/s; the ratio's
/// spread), then any warnings. Fits 80 columns.
pub fn table(rows: &[OverheadRow]) -> String {
    // At most 72 columns, so no number is split on an 80-column terminal;
    // the filesystem, the same for every row, goes under the table.
    let mut s = format!(
        "{:<7} {:<9} {:>5} {:>10} {:>10}  {}\n",
        "format", "path", "bytes", "bare/s", "verified/s", "ratio min median max"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<7} {:<9} {:>5} {:>10} {:>10}  {:.3} {:.3} {:.3}\n",
            r.format,
            r.path,
            r.bytes,
            thousands(r.bare_reads_per_s.median as u64),
            thousands(r.verified_reads_per_s.median as u64),
            r.ratio.min,
            r.ratio.median,
            r.ratio.max,
        ));
    }
    s
}

/// What the table's numbers are, and any warning, as sentences (one a
/// line, to be wrapped at word boundaries for a terminal).
pub fn table_footer(rows: &[OverheadRow]) -> String {
    let mut fs: Vec<&str> = rows.iter().map(|r| r.fs_type.as_str()).collect();
    fs.dedup();
    let mut s = format!(
        "reads/s are medians of {ROUNDS} alternating rounds; ratio = verified / bare per round; on {}\n",
        fs.join(", ")
    );
    for w in rows.iter().filter_map(OverheadRow::warning) {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

/// Readers' throughput with an external writer against a built-in one.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalWriterCost {
    pub command: String,
    /// Reads/s per reader thread while `rename-durable` writes.
    pub builtin_reads_per_s: Spread,
    /// Reads/s per reader thread while the external writer writes.
    pub external_reads_per_s: Spread,
    pub external_writes_per_s: Spread,
    /// external / built-in, per round.
    pub ratio: Spread,
    /// Reads/s per reader while the external writer runs untraced (`trace: false`).
    pub untraced_reads_per_s: Spread,
    /// The external writer's writes/s untraced.
    pub untraced_writes_per_s: Spread,
    /// Readers' rate with the writer traced ÷ untraced, per round (the
    /// tracer must not slow the readers: target ≥ 0.8).
    pub traced_readers_ratio: Spread,
    /// The writer's own writes/s untraced ÷ traced, per round: how much
    /// tracing slows the writer.
    pub writer_slowdown: Spread,
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
    let mut untraced = scenario.clone();
    untraced.trace = Some(false);
    untraced.strategies.remove(0);
    let (mut builtin, mut external, mut writes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut plain, mut plain_writes) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let report = crate::run::run(&scenario, "bench", Path::new("."), &opts, cancel)?.report;
        anyhow::ensure!(report.cases.len() == 2, "interrupted");
        let per_reader = |c: &crate::report::CaseReport| c.reads_per_s / c.case.readers.count as f64;
        if let Some(e) = &report.cases[1].subject_error {
            anyhow::bail!("the writer failed: {e}");
        }
        builtin.push(per_reader(&report.cases[0]));
        external.push(per_reader(&report.cases[1]));
        writes.push(report.cases[1].writes.per_s);
        // The same writer with tracing off, in the same round.
        let report = crate::run::run(&untraced, "bench", Path::new("."), &opts, cancel)?.report;
        anyhow::ensure!(report.cases.len() == 1, "interrupted");
        if let Some(e) = &report.cases[0].subject_error {
            anyhow::bail!("the writer failed untraced: {e}");
        }
        plain.push(per_reader(&report.cases[0]));
        plain_writes.push(report.cases[0].writes.per_s);
    }
    let div = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x / y.max(1e-9)).collect() };
    Ok(ExternalWriterCost {
        command: command.to_string(),
        builtin_reads_per_s: Spread::of(&builtin),
        external_reads_per_s: Spread::of(&external),
        external_writes_per_s: Spread::of(&writes),
        ratio: Spread::of(&div(&external, &builtin)),
        untraced_reads_per_s: Spread::of(&plain),
        untraced_writes_per_s: Spread::of(&plain_writes),
        traced_readers_ratio: Spread::of(&div(&external, &plain)),
        writer_slowdown: Spread::of(&div(&plain_writes, &writes)),
    })
}

/// A per-write command's cost under torn: its time per write alone
/// (untraced, no reader) against its time per write traced while readers
/// spin and while readers wait for windows, and the share of its write
/// windows a read overlapped either way.
#[derive(Debug, Clone, Serialize)]
pub struct PerWriteCost {
    pub command: String,
    pub format: &'static str,
    /// Seconds per write, untraced, with no reader running.
    pub alone_s: Spread,
    /// Seconds per write (median of the case), traced, readers spinning.
    pub spinning_s: Spread,
    /// Seconds per write, traced, readers waiting for windows.
    pub waiting_s: Spread,
    /// spinning ÷ alone and waiting ÷ alone, per round (goal: waiting ≤ 1.2).
    pub spinning_ratio: Spread,
    pub waiting_ratio: Spread,
    /// Share of the windows opened while readers ran that a read overlapped.
    pub spinning_windows_read: Spread,
    pub waiting_windows_read: Spread,
    /// Writes measured per round in each setting (median over rounds).
    pub writes: [u64; 3],
}

/// What `torn bench --writer-cmd` prints: one sentence per line.
pub fn per_write_lines(r: &PerWriteCost) -> Vec<String> {
    let ms = |s: f64| format!("{:.0} ms", s * 1e3);
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    vec![
        format!(
            "per write (medians of {ROUNDS} rounds): alone {} ({} writes), traced with readers spinning {} ({} writes), \
             traced with readers waiting {} ({} writes)",
            ms(r.alone_s.median),
            r.writes[0],
            ms(r.spinning_s.median),
            r.writes[1],
            ms(r.waiting_s.median),
            r.writes[2]
        ),
        format!(
            "slowdown against alone: spinning {:.2}× (min {:.2}, max {:.2}), waiting {:.2}× (min {:.2}, max {:.2}; goal ≤ 1.2)",
            r.spinning_ratio.median,
            r.spinning_ratio.min,
            r.spinning_ratio.max,
            r.waiting_ratio.median,
            r.waiting_ratio.min,
            r.waiting_ratio.max
        ),
        format!(
            "write windows read: spinning {} (min {}), waiting {} (min {}; goal ≥ 95%)",
            pct(r.spinning_windows_read.median),
            pct(r.spinning_windows_read.min),
            pct(r.waiting_windows_read.median),
            pct(r.waiting_windows_read.min)
        ),
    ]
}

/// Writes per round a per-write command makes at least, whatever `each`.
const MIN_PER_WRITE_SAMPLES: usize = 3;

/// Runs `command` (a per-write command, `{path}` and `{token}` substituted)
/// for `each` in each setting, alternately, three rounds.
pub fn per_write_cost(
    command: &str,
    format: Format,
    each: Duration,
    dir: Option<&Path>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<PerWriteCost> {
    let case_text = |pace: &str| {
        format!(
            "name: bench-per-write\nformat: {}\nduration: {}\nreader_pace: {pace}\nstrategies:\n  - writer_cmd: {}\n",
            format.name(),
            humantime::format_duration(each),
            serde_json::to_string(command).unwrap_or_default()
        )
    };
    let spinning = crate::scenario::Scenario::parse(&case_text("spin"), "bench")?;
    let waiting = crate::scenario::Scenario::parse(&case_text("wait"), "bench")?;
    let opts = crate::run::RunOptions {
        dir: dir.map(Path::to_path_buf),
        ..Default::default()
    };
    let template = Template::builtin(format.default_template()).expect("built-in template");
    let classifier = Classifier::new(template, TokenCodec::new(1), 1);
    let scratch = Scratch::new(dir, false)?;
    let (mut alone, mut spin, mut wait) = (Vec::new(), Vec::new(), Vec::new());
    let (mut spin_read, mut wait_read) = (Vec::new(), Vec::new());
    let mut writes = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        progress(&format!(
            "round {}/{ROUNDS}: alone (untraced, no reader)",
            round + 1
        ));
        let target = spinning.target_rel();
        let (secs, n) = alone_loop(command, &classifier, &scratch, &target, round, each, cancel)?;
        alone.push(secs);
        writes[0].push(n);
        for (name, scenario, times, read, slot) in [
            ("readers spinning", &spinning, &mut spin, &mut spin_read, 1),
            ("readers waiting", &waiting, &mut wait, &mut wait_read, 2),
        ] {
            progress(&format!("round {}/{ROUNDS}: traced, {name}", round + 1));
            let report = crate::run::run(scenario, "bench", Path::new("."), &opts, cancel)?.report;
            let case = report
                .cases
                .first()
                .ok_or_else(|| anyhow::anyhow!("interrupted"))?;
            if let Some(e) = &case.subject_error {
                anyhow::bail!("the command failed ({name}): {e}");
            }
            anyhow::ensure!(
                case.writes.committed > 0,
                "the command made no write in {} ({name}): give a longer --duration",
                humantime::format_duration(each)
            );
            times.push(case.writes.latency_us.p50 / 1e6);
            read.push(case.windows.share_read().unwrap_or(0.0));
            writes[slot].push(case.writes.committed);
        }
    }
    let div = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x / y.max(1e-12)).collect() };
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    Ok(PerWriteCost {
        command: command.to_string(),
        format: format.name(),
        alone_s: Spread::of(&alone),
        spinning_s: Spread::of(&spin),
        waiting_s: Spread::of(&wait),
        spinning_ratio: Spread::of(&div(&spin, &alone)),
        waiting_ratio: Spread::of(&div(&wait, &alone)),
        spinning_windows_read: Spread::of(&spin_read),
        waiting_windows_read: Spread::of(&wait_read),
        writes: [
            median(&mut writes[0]),
            median(&mut writes[1]),
            median(&mut writes[2]),
        ],
    })
}

/// The command alone: run once per write on a fresh target, untraced, with
/// no reader; the median seconds per write and the writes made.
fn alone_loop(
    command: &str,
    classifier: &Classifier,
    scratch: &Scratch,
    target_rel: &Path,
    round: usize,
    each: Duration,
    cancel: &AtomicBool,
) -> anyhow::Result<(f64, u64)> {
    use crate::subject::{ExternalSpec, Subject, WriterCtx};
    let case = scratch.case_dir(round, "alone")?;
    let target = case.home().join(target_rel);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&target, classifier.template.render_vec(&classifier.codec, 0))?;
    let subject = crate::subject::command::PerWriteCommand(ExternalSpec {
        command: command.to_string(),
        shell: false,
        timeout: crate::scenario::DEFAULT_WRITE_TIMEOUT,
    });
    let ctx = WriterCtx {
        target: target.clone(),
        home: case.home(),
        log_dir: case.path().to_path_buf(),
        index: 0,
    };
    let mut writer = subject.start(&ctx).map_err(anyhow::Error::msg)?;
    let mut times = Vec::new();
    let start = Instant::now();
    let mut version = 1;
    while (start.elapsed() < each || times.len() < MIN_PER_WRITE_SAMPLES) && !cancel.load(Ordering::Relaxed) {
        let bytes = classifier.template.render_vec(&classifier.codec, version);
        let token = classifier.codec.token(version);
        let t = Instant::now();
        writer
            .write(&token, &bytes)
            .map_err(|e| anyhow::anyhow!("the command failed alone: {e:?}"))?;
        times.push(t.elapsed().as_secs_f64());
        version += 1;
    }
    writer.finish();
    anyhow::ensure!(!cancel.load(Ordering::Relaxed), "interrupted");
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_implausible_ratios() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        let row = |max: f64| OverheadRow {
            format: "yaml",
            path: "exact",
            template: "hermes".into(),
            bytes: 1196,
            bare_reads_per_s: Spread::of(&[100.0]),
            verified_reads_per_s: Spread::of(&[90.0]),
            ratio: Spread::of(&[0.9, 0.95, max]),
            fs_type: "ext4".into(),
        };
        assert!(row(0.95).warning().is_none());
        let w = row(1.2).warning().unwrap();
        assert!(w.contains("implausible") && w.contains("1.200"), "{w}");
        let t = table(&[row(1.2)]);
        assert!(t.contains("0.900 0.950 1.200"), "{t}");
        assert!(table_footer(&[row(1.2)]).contains("warning: yaml"));
        assert!(
            t.lines()
                .all(|l| l.chars().count() <= 80 || l.starts_with("warning")),
            "{t}"
        );
        let json = serde_json::to_value(BenchReport::new(
            "reader-overhead",
            Duration::from_secs(1),
            vec![row(1.0)],
            vec![],
        ))
        .unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["results"][0]["ratio"]["max"], 1.0);
    }
}
