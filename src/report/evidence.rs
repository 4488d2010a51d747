//! Anomalous reads saved beside the report, and how they differ from the
//! version that should have been read.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::classify::{Classifier, Outcome};
use crate::engine::Evidence;

/// One saved anomalous read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub outcome: Outcome,
    /// File holding the exact bytes read, relative to the report directory
    /// (absent when no report directory was written).
    pub file: Option<String>,
    pub at_ms: f64,
    pub reader: usize,
    pub read_index: u64,
    /// Newest committed version when the read began.
    pub committed_before: u64,
    /// Bytes read, and the length of every whole version.
    pub len: usize,
    pub whole_len: usize,
    /// First offset where the bytes differ from the version committed
    /// before the read (absent when they are a prefix of it or equal).
    pub first_diff: Option<usize>,
    /// The bytes around the first difference (or the end of a prefix), escaped.
    pub excerpt: String,
    /// The same stretch of the version that should have been read.
    pub expected_excerpt: String,
    /// Hexdump of the read around the first difference.
    pub hexdump: Option<String>,
    /// What the parser or the OS said.
    pub detail: Option<String>,
}

/// Saves `evidence` under `<report_dir>/evidence/<case_slug>/` (if a report
/// directory is given) and describes each read.
pub fn save(
    evidence: &[Evidence],
    classifier: &Classifier,
    report_dir: Option<&Path>,
    case_slug: &str,
    private: bool,
) -> anyhow::Result<Vec<EvidenceRef>> {
    let mut out = Vec::with_capacity(evidence.len());
    let mut per_class = [0usize; Outcome::COUNT];
    for e in evidence {
        let expected = classifier
            .template
            .render_vec(&classifier.codec, e.committed_before);
        let first_diff = e.bytes.iter().zip(&expected).position(|(a, b)| a != b);
        let focus = first_diff.unwrap_or(e.bytes.len());
        let file = match report_dir {
            Some(dir) => {
                per_class[e.outcome.index()] += 1;
                let rel = format!(
                    "evidence/{case_slug}/{}-{}.bin",
                    e.outcome.name(),
                    per_class[e.outcome.index()]
                );
                let path = dir.join(&rel);
                super::files::create_report_dir(path.parent().expect("has a parent"), private)?;
                super::files::write(&path, &e.bytes, private)?;
                Some(rel)
            }
            None => None,
        };
        out.push(EvidenceRef {
            outcome: e.outcome,
            file,
            at_ms: e.seen.at_ns as f64 / 1e6,
            reader: e.seen.reader,
            read_index: e.seen.read_index,
            committed_before: e.committed_before,
            len: e.bytes.len(),
            whole_len: expected.len(),
            first_diff,
            excerpt: excerpt(&e.bytes, focus, 48),
            expected_excerpt: excerpt(&expected, focus, 48),
            hexdump: (!e.bytes.is_empty()).then(|| hexdump(&e.bytes, focus.saturating_sub(16), 3)),
            detail: e.detail.clone(),
        });
    }
    Ok(out)
}

/// Saves a learned shape under `<report_dir>/evidence/<case_slug>/`: the
/// writer's template (`learned-template.txt`) and what torn read back after
/// each warm-up write (`warm-up-<n>.bin`). Returns the files, relative to
/// the report directory.
pub fn save_shape(
    learned: &crate::shape::Learned,
    report_dir: Option<&Path>,
    case_slug: &str,
    private: bool,
) -> anyhow::Result<Vec<String>> {
    let Some(dir) = report_dir else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    let mut save = |name: String, bytes: &[u8]| -> anyhow::Result<()> {
        let rel = format!("evidence/{case_slug}/{name}");
        let path = dir.join(&rel);
        super::files::create_report_dir(path.parent().expect("has a parent"), private)?;
        super::files::write(&path, bytes, private)?;
        files.push(rel);
        Ok(())
    };
    if !learned.report.template.is_empty() {
        save("learned-template.txt".into(), learned.report.template.as_bytes())?;
    }
    for (n, out) in learned.outputs.iter().enumerate() {
        save(format!("warm-up-{}.bin", n + 1), &out.bytes)?;
    }
    Ok(files)
}

/// Up to `radius` bytes either side of `at`, with non-printing bytes escaped.
pub fn excerpt(bytes: &[u8], at: usize, radius: usize) -> String {
    let lo = at.saturating_sub(radius);
    let hi = (at + radius).min(bytes.len());
    let mut s = String::new();
    if lo > 0 {
        s.push('…');
    }
    s.extend(
        bytes[lo..hi]
            .iter()
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from),
    );
    if hi < bytes.len() {
        s.push('…');
    }
    s
}

/// For every case that failed or broke: each kind of anomaly's first
/// occurrence, its bytes against the version that should have been read
/// (hexdump around the first difference), and the writer's stderr.
pub fn explain_failures(report: &super::Report) -> String {
    use super::CaseStatus;
    let mut s = String::new();
    for c in &report.cases {
        if !matches!(c.status, CaseStatus::Fail | CaseStatus::SubjectError) {
            continue;
        }
        s.push_str(&format!("── {} ({}): {}\n", c.label, c.status.name(), c.reason));
        if let Some(d) = c.shape.as_ref().and_then(|shape| shape.diff.as_ref()) {
            s.push_str("  the writer's outputs:\n");
            for line in d.lines() {
                s.push_str(&format!("    {line}\n"));
            }
        }
        let mut seen = Vec::new();
        for e in &c.evidence {
            if seen.contains(&e.outcome) {
                continue;
            }
            seen.push(e.outcome);
            s.push_str(&format!(
                "  first {} at {:.3} ms (reader {}, read {}): {} of {} bytes{}\n",
                e.outcome.name(),
                e.at_ms,
                e.reader,
                e.read_index,
                e.len,
                e.whole_len,
                e.detail.as_ref().map(|d| format!(" — {d}")).unwrap_or_default()
            ));
            if let Some(d) = e.first_diff {
                s.push_str(&format!(
                    "    differs from version {} at byte {d}\n",
                    e.committed_before
                ));
            }
            if let Some(dump) = &e.hexdump {
                s.push_str(dump);
            }
            if !e.excerpt.is_empty() {
                s.push_str(&format!("    read:     {}\n", e.excerpt));
            }
            if !e.expected_excerpt.is_empty() && e.outcome != Outcome::Empty {
                s.push_str(&format!("    expected: {}\n", e.expected_excerpt));
            }
        }
        if let Some(err) = &c.writes.first_error {
            s.push_str(&format!("  {} write errors; first: {err}\n", c.writes.errors));
        }
        if let Some(tail) = &c.writer_stderr {
            s.push_str("  writer stderr (tail):\n");
            for line in tail.lines() {
                s.push_str(&format!("    | {line}\n"));
            }
        }
    }
    s
}

/// A classic hexdump of up to `lines` 16-byte rows starting at the row
/// holding `at`.
pub fn hexdump(bytes: &[u8], at: usize, lines: usize) -> String {
    let mut s = String::new();
    let start = (at / 16) * 16;
    for row in bytes[start.min(bytes.len())..].chunks(16).take(lines).enumerate() {
        let (i, chunk) = row;
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        s.push_str(&format!(
            "    {:08x} {:<47} |{ascii}|\n",
            start + i * 16,
            hex.join(" ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_escapes_and_marks_cuts() {
        assert_eq!(excerpt(b"ab\ncd\0", 3, 10), "ab\\ncd\\x00");
        assert_eq!(excerpt(b"0123456789", 5, 2), "…3456…");
    }
}
