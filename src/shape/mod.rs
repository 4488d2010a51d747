//! The learned shape: an external writer's own template, found by reading
//! back its warm-up writes and locating the tokens torn sent.
//!
//! A real writer formats the file its own way (`json.dump(indent=2)` with no
//! trailing newline, PyYAML's sorted keys, configparser's `key = value`, a
//! stamped `updated_at`), so torn's template is not what it writes. Before
//! any reader starts, writer 0 makes three warm-up writes (three tokens);
//! torn reads the file back after each and replaces every occurrence of the
//! token it sent with a slot:
//!
//! - the last two identical (the third made at least [`STABILITY_GAP`] after
//!   the first, so a seconds-resolution timestamp shows): the shape is
//!   **exact**, and reads are judged by exact bytes on the classifier's fast
//!   path, as with a built-in template;
//! - otherwise the shape is **semantic**: the fields that differ between
//!   writes 1 and 2 are the volatile ones (or those given with
//!   `--volatile`), and write 3 must differ from write 2 only there.
//!
//! The token is found as sent or base64-encoded (alone, or with text around
//! it such as `user:`; see [`crate::format::pattern`]). The format and
//! client key asked for are kept where they fit the writer's file; where the
//! key does not hold the token, the first key that does is used (a list
//! element, a URL holding the token); where the parser rejects the file or
//! no key holds the token, the file is judged as raw bytes
//! ([`crate::format::Format::Raw`]), which needs a byte-stable shape. The
//! report says which and why: a writer is never blamed for the format it
//! was given.
//!
//! Every other writer (`--writers N`) writes once, and its file must be a
//! whole version of the learned shape. A writer whose output does not hold
//! the token, does not parse, or changes in a way no volatile field explains
//! is a subject error naming the write, the token and a diff of two outputs.

mod learn;

use serde::{Deserialize, Serialize};

pub(crate) use learn::read_back;
pub use learn::{ORIGIN, learn};

use crate::classify::Classifier;

/// How far apart the first and the checking warm-up write are, at least.
pub const STABILITY_GAP: std::time::Duration = std::time::Duration::from_millis(1100);

/// Warm-up writes writer 0 makes to learn and check the shape.
pub const LEARNING_WRITES: u64 = 3;

/// How reads of a learned shape are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapeKind {
    /// Byte-stable apart from the token: exact bytes, the fast path.
    Exact,
    /// Bytes vary between writes: parsed and compared by meaning.
    Semantic,
}

/// A writer's learned shape, as the report records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeReport {
    /// `exact` or `semantic`; absent when the shape could not be learned.
    pub kind: Option<ShapeKind>,
    /// What the target held before the first write.
    pub start: String,
    /// The writer's template: its file with `{{TOKEN}}` where each token was.
    pub template: String,
    /// Token slots in it.
    pub slots: usize,
    /// Length in bytes of a version of the template.
    pub len: usize,
    /// Fields not compared (semantic shapes).
    pub volatile: Vec<String>,
    /// Whether `volatile` was given by the user rather than found.
    pub volatile_given: bool,
    /// The format reads are judged in: the one asked for, or `raw` when its
    /// parser does not fit the writer's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<crate::format::Format>,
    /// Where the client finds the token in the writer's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// Why the format or client key differ from those asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_note: Option<String>,
    /// Whether writes 1 and 2 differed apart from the token while later
    /// writes did not (a first-write change, e.g. a comment dropped).
    pub first_write_differed: bool,
    /// The warm-up writes torn read back: (writer, version), in order.
    pub warm_up: Vec<(usize, u64)>,
    /// Why the shape could not be learned.
    pub error: Option<String>,
    /// For an error: a diff of two outputs (or of the start file and an output).
    pub diff: Option<String>,
    /// Files saved beside the report: the template and the warm-up outputs.
    #[serde(default)]
    pub files: Vec<String>,
}

/// One warm-up write as read back.
#[derive(Debug, Clone)]
pub struct WarmUp {
    pub writer: usize,
    pub version: u64,
    /// The file after the write (empty if it was missing).
    pub bytes: Vec<u8>,
}

/// The outcome of learning.
#[derive(Debug, Clone)]
pub struct Learned {
    /// Judges reads of the writer's shape; `None` when learning failed.
    pub classifier: Option<Classifier>,
    pub report: ShapeReport,
    /// What torn read back after each warm-up write.
    pub outputs: Vec<WarmUp>,
    /// Set when a warm-up write left the target foreign (a link out of the
    /// scratch directory, a FIFO): no shape is learned, no byte of it is
    /// read, and the run judges its reads `foreign` against torn's template.
    pub foreign: Option<String>,
}

impl Learned {
    /// The subject error, when the shape could not be learned.
    pub fn error(&self) -> Option<String> {
        self.report
            .error
            .as_ref()
            .map(|e| format!("learning the writer's shape: {e}"))
    }
}

/// A unified diff of two texts, at most [`DIFF_LINES`] lines.
pub fn diff(a: &[u8], b: &[u8], a_name: &str, b_name: &str) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let text = similar::TextDiff::from_lines(a.as_ref(), b.as_ref())
        .unified_diff()
        .context_radius(2)
        .header(a_name, b_name)
        .to_string();
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return format!("{a_name} and {b_name} are identical\n");
    }
    let cut = lines.len() > DIFF_LINES;
    lines.truncate(DIFF_LINES);
    let mut out = lines.join("\n");
    out.push('\n');
    if cut {
        out.push_str("… (diff cut)\n");
    }
    out
}

/// Longest diff kept.
pub const DIFF_LINES: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_both_sides_and_is_capped() {
        let d = diff(b"a: 1\nb: 2\n", b"a: 1\nb: 3\n", "write 2", "write 3");
        assert!(d.contains("--- write 2") && d.contains("+++ write 3"), "{d}");
        assert!(d.contains("-b: 2") && d.contains("+b: 3"), "{d}");
        let long_a: String = (0..200).map(|i| format!("k{i}: {i}\n")).collect();
        let long_b: String = (0..200).map(|i| format!("k{i}: x{i}\n")).collect();
        let d = diff(long_a.as_bytes(), long_b.as_bytes(), "a", "b");
        assert!(d.ends_with("… (diff cut)\n") && d.lines().count() == DIFF_LINES + 1);
    }
}
