//! The warm-up that learns a writer's shape (see the module above).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{LEARNING_WRITES, Learned, STABILITY_GAP, ShapeKind, ShapeReport, WarmUp, diff};
use crate::case::ShapeSettings;
use crate::classify::{Classifier, Outcome, ReadResult};
use crate::engine::Shared;
use crate::format::semantic::{Semantic, differences};
use crate::format::{FIELD_SLOT, Format, SLOT, Template, TemplateError};
use crate::subject::{SubjectWriter, WriteFailure};

/// Origin of a learned template, in reports and job files.
pub const ORIGIN: &str = "learned from the writer";

/// Why learning stopped.
struct Failure {
    message: String,
    diff: Option<String>,
    /// The target was not a regular file inside the scratch directory: its
    /// bytes were not read, and the run goes on to judge it `foreign`.
    foreign: bool,
}

impl Failure {
    fn new(message: String) -> Self {
        Self {
            message,
            diff: None,
            foreign: false,
        }
    }

    fn with_diff(mut self, diff: String) -> Self {
        self.diff = Some(diff);
        self
    }
}

/// Learns the shape of the started `writers` on `target` (which holds
/// `start`, or nothing): writer 0 writes [`LEARNING_WRITES`] times, every
/// other writer once. Versions are taken from and committed on `shared`, as
/// any write's. `base` gives the format, client key, codec and grace.
pub fn learn(
    writers: &mut [Box<dyn SubjectWriter + '_>],
    base: &Classifier,
    target: &Path,
    shared: &Shared,
    settings: &ShapeSettings,
    start: Option<&[u8]>,
) -> Learned {
    let mut outputs = Vec::new();
    let mut report = ShapeReport {
        kind: None,
        start: settings.start.describe(),
        template: String::new(),
        slots: 0,
        len: 0,
        volatile: Vec::new(),
        volatile_given: settings.volatile.is_some(),
        format: None,
        client_key: None,
        format_note: None,
        first_write_differed: false,
        warm_up: Vec::new(),
        error: None,
        diff: None,
        files: Vec::new(),
    };
    let classifier = learn_into(
        writers,
        base,
        target,
        shared,
        settings,
        start,
        &mut outputs,
        &mut report,
    );
    report.warm_up = outputs.iter().map(|o| (o.writer, o.version)).collect();
    let mut foreign = None;
    let classifier = match classifier {
        Ok(c) => Some(c),
        Err(f) if f.foreign => {
            foreign = Some(f.message);
            None
        }
        Err(f) => {
            report.error = Some(f.message);
            report.diff = f.diff;
            None
        }
    };
    Learned {
        classifier,
        report,
        outputs,
        foreign,
    }
}

#[allow(clippy::too_many_arguments)]
fn learn_into(
    writers: &mut [Box<dyn SubjectWriter + '_>],
    base: &Classifier,
    target: &Path,
    shared: &Shared,
    settings: &ShapeSettings,
    start: Option<&[u8]>,
    outputs: &mut Vec<WarmUp>,
    report: &mut ShapeReport,
) -> Result<Classifier, Failure> {
    let several = writers.len() > 1;
    let name = |writer: usize, n: usize| {
        if several {
            format!("warm-up write {n} (writer {writer})")
        } else {
            format!("warm-up write {n}")
        }
    };
    let start_name = settings.start.describe();
    let mut templates: Vec<Template> = Vec::new();
    let mut first_done = None;
    for n in 1..=LEARNING_WRITES as usize {
        if n == LEARNING_WRITES as usize
            && templates.windows(2).all(|w| w[0].text() == w[1].text())
            && let Some(t0) = first_done
        {
            // Byte-stable so far: make the checking write a second later, so
            // a timestamp with seconds resolution shows as volatile.
            let due: Instant = t0 + STABILITY_GAP;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let out = write_and_read(&mut *writers[0], 0, &name(0, n), base, target, shared)?;
        first_done.get_or_insert_with(Instant::now);
        let (prev, prev_name) = match outputs.last() {
            Some(o) => (o.bytes.as_slice(), name(0, n - 1)),
            None => (start.unwrap_or_default(), start_name.clone()),
        };
        let t = template_of(&out, &name(0, n), base, prev, &prev_name, !settings.format_given);
        outputs.push(out);
        let (t, why) = t?;
        report.format_note = why;
        templates.push(t);
    }
    let last = templates.pop().expect("learning writes were made");
    let stable = templates.last().is_some_and(|t| t.text() == last.text());
    report.template = last.text();
    report.slots = last.slots();
    report.len = last.len();
    report.format = Some(last.format);
    report.client_key = Some(last.client_key.clone());
    let exact = Classifier::new(last.clone(), base.codec, base.grace);
    let classifier = if stable && settings.volatile.is_none() {
        report.kind = Some(ShapeKind::Exact);
        report.first_write_differed = templates[0].text() != last.text();
        exact
    } else if last.format == Format::Raw {
        // Bytes that vary need a parser to be judged by meaning.
        let (a, b) = if stable { (0, 1) } else { (1, 2) };
        let why = report
            .format_note
            .clone()
            .unwrap_or_else(|| "the format is raw".into());
        return Err(Failure::new(format!(
            "{} and {} differ apart from the token, and torn has no parser for the writer's file \
             ({why}), so it cannot judge reads by meaning; give the client's --format",
            name(0, a + 1),
            name(0, b + 1)
        ))
        .with_diff(diff(
            &outputs[a].bytes,
            &outputs[b].bytes,
            &name(0, a + 1),
            &name(0, b + 1),
        )));
    } else {
        report.kind = Some(ShapeKind::Semantic);
        let volatile = volatile_fields(&last, base, settings, outputs, &name)?;
        report.volatile = volatile.clone();
        exact.semantic(volatile).map_err(Failure::new)?
    };
    let own = outputs.last().expect("learning writes were made");
    let c = classifier.classify(ReadResult::Bytes(&own.bytes), own.version, own.version);
    if c.version != Some(own.version) {
        return Err(Failure::new(format!(
            "{}: the writer's file is not a whole version of its own learned shape ({})",
            name(0, LEARNING_WRITES as usize),
            c.detail.unwrap_or_default()
        )));
    }
    // Every other writer must write the same shape.
    for (i, writer) in writers.iter_mut().enumerate().skip(1) {
        let n = LEARNING_WRITES as usize + i;
        let out = write_and_read(&mut **writer, i, &name(i, n), base, target, shared)?;
        let reference = &outputs[LEARNING_WRITES as usize - 1];
        let reference_name = name(0, LEARNING_WRITES as usize);
        template_of(
            &out,
            &name(i, n),
            base,
            &reference.bytes,
            &reference_name,
            !settings.format_given,
        )?;
        let c = classifier.classify(ReadResult::Bytes(&out.bytes), out.version, out.version);
        let fits = c.outcome == Outcome::Ok && c.version == Some(out.version);
        let failure = (!fits).then(|| {
            Failure::new(format!(
                "{}: writer {i}'s file is not a whole version of the shape writer 0 wrote ({}); the writers must agree on one shape",
                name(i, n),
                c.detail.unwrap_or_else(|| c.outcome.name().to_string())
            ))
            .with_diff(diff(&reference.bytes, &out.bytes, &reference_name, &name(i, n)))
        });
        outputs.push(out);
        if let Some(f) = failure {
            return Err(f);
        }
    }
    Ok(classifier)
}

/// The fields that may change on every write: the user's, or those that
/// differ between writes 1 and 2; writes 2 and 3 must differ only there.
fn volatile_fields(
    last: &Template,
    base: &Classifier,
    settings: &ShapeSettings,
    outputs: &[WarmUp],
    name: &dyn Fn(usize, usize) -> String,
) -> Result<Vec<String>, Failure> {
    let semantic = Semantic::new(last, Vec::new()).map_err(Failure::new)?;
    let trees = outputs
        .iter()
        .map(|o| semantic.normalized(&base.codec, &o.bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::new)?;
    let found = differences(&trees[0], &trees[1], &[], 64);
    let volatile = settings.volatile.clone().unwrap_or_else(|| found.clone());
    let mut unexplained = differences(&trees[1], &trees[2], &volatile, 8);
    if settings.volatile.is_some() {
        unexplained.extend(differences(&trees[0], &trees[1], &volatile, 8));
        unexplained.sort();
        unexplained.dedup();
    }
    if unexplained.is_empty() {
        return Ok(volatile);
    }
    let list = |paths: &[String]| {
        paths
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (a, b) = (name(0, 2), name(0, 3));
    let why = match &settings.volatile {
        Some(given) => format!(
            "the writer's file changes between writes outside the volatile fields given ({}): at {}",
            list(given),
            list(&unexplained)
        ),
        None => format!(
            "the writer's file changes shape on every write in a way no volatile field explains: \
             {a} and {b} differ at {}, {}",
            list(&unexplained),
            if found.is_empty() {
                format!("while {} and {a} did not", name(0, 1))
            } else {
                format!("while {} and {a} differed only at {}", name(0, 1), list(&found))
            }
        ),
    };
    let token = base.codec.token(outputs[2].version);
    Err(Failure::new(format!(
        "{b} (token {token}): {why} — name each field the writer really changes on every write \
         with --volatile KEY (volatile: in a scenario)"
    ))
    .with_diff(diff(&outputs[1].bytes, &outputs[2].bytes, &a, &b)))
}

/// Has writer `index` install the next version, and reads the file back.
fn write_and_read(
    writer: &mut (dyn SubjectWriter + '_),
    index: usize,
    name: &str,
    base: &Classifier,
    target: &Path,
    shared: &Shared,
) -> Result<WarmUp, Failure> {
    let version = shared.next_version.fetch_add(1, Ordering::AcqRel);
    let token = base.codec.token(version);
    match writer.write(&token, &[]) {
        Ok(()) => {
            shared.committed.fetch_max(version, Ordering::AcqRel);
        }
        Err(WriteFailure::Reported(e)) => {
            return Err(Failure::new(format!("{name} (token {token}) failed: {e}")));
        }
        Err(WriteFailure::Broken(e)) => return Err(Failure::new(format!("{name} (token {token}): {e}"))),
    }
    let bytes = match read_back(target) {
        Ok(Ok(b)) => b,
        Ok(Err(why)) => {
            let mut f = Failure::new(format!("{name}: {why}"));
            f.foreign = true;
            return Err(f);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Failure::new(format!(
                "{name} (token {token}): reading the file back: {e}"
            )));
        }
    };
    Ok(WarmUp {
        writer: index,
        version,
        bytes,
    })
}

/// The file, at most [`crate::limits::MAX_TEMPLATE_BYTES`] of it — or, when
/// it is not a regular file inside torn's scratch directory (a link to a
/// file elsewhere, a FIFO, a device), why, without reading a byte of it.
pub(crate) fn read_back(target: &Path) -> std::io::Result<Result<Vec<u8>, String>> {
    use std::os::unix::fs::OpenOptionsExt;
    let cap = crate::limits::MAX_TEMPLATE_BYTES;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(target)?;
    if let Some(why) = crate::engine::reader::Boundary::of(target).foreign(&file) {
        return Ok(Err(why));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "the file grew past {cap} bytes, more than torn takes as a template"
        )));
    }
    Ok(Ok(bytes))
}

/// The writer's template from one output: every occurrence of the token it
/// was sent, as is or base64-encoded, becomes a slot; the format and client
/// key are those asked for where they fit the file, else the key that holds
/// the token, else raw bytes (with why). `prev` (named `prev_name`) is what
/// the file held before, for the diff of a failure.
fn template_of(
    out: &WarmUp,
    name: &str,
    base: &Classifier,
    prev: &[u8],
    prev_name: &str,
    raw_fallback: bool,
) -> Result<(Template, Option<String>), Failure> {
    let token = base.codec.token(out.version);
    let fail = |why: String| {
        Failure::new(format!("{name} (token {token}): {why}"))
            .with_diff(diff(prev, &out.bytes, prev_name, name))
    };
    if out.bytes.is_empty() {
        return Err(fail(
            "the file was empty or missing after the writer said the write was done".into(),
        ));
    }
    let Ok(text) = std::str::from_utf8(&out.bytes) else {
        return Err(fail("the file is not UTF-8 text".into()));
    };
    if text.contains(SLOT) || text.contains(FIELD_SLOT) {
        return Err(fail(format!(
            "the file holds torn's slot marker {SLOT} or {FIELD_SLOT} as text"
        )));
    }
    // The token as sent, or encoded (base64, alone or with text around it).
    let Some(marked) = crate::format::pattern::mark_token(text, &token) else {
        let other = crate::engine::watch::token_versions(&out.bytes, &base.codec);
        return Err(fail(format!(
            "the file does not contain the token torn sent, as is or base64-encoded{}",
            match other.as_slice() {
                [] => String::new(),
                vs => format!(
                    " (it holds torn's token of version {})",
                    vs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                ),
            }
        )));
    };
    let format = base.template.format;
    let key = &base.template.client_key;
    Template::learned(ORIGIN, format, key, &marked, raw_fallback).map_err(|e| match e {
        TemplateError::DoesNotParse { reason, .. } => fail(format!(
            "the client's parser ({}) rejects what the writer wrote: {reason}",
            format.name()
        )),
        TemplateError::KeyNotFound { reason, .. } => fail(format!(
            "the client key `{key}` does not yield the token in what the writer wrote ({reason})"
        )),
        other => fail(other.to_string()),
    })
}
