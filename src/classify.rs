//! The outcome of one read, decided exactly.
//!
//! Definitions (see DESIGN.md): a read is
//! - `ok` when its bytes equal a whole version that was current when the read
//!   began or was being written during it (version ≥ committed-before-read);
//! - `stale` when they equal a whole version older than one already committed
//!   (its write had returned) before the read began;
//! - `empty` when it returned zero bytes; `missing` when open failed with ENOENT;
//! - `torn` when the bytes equal no whole version, split by whether the
//!   client's parser accepts them (`torn-parseable`: the client would run with
//!   wrong data) or not (`torn-unparseable`);
//! - `error` for any other I/O error.
//!
//! Only reads that are not byte-identical to a whole version are parsed.

use serde::{Deserialize, Serialize};

use crate::format::semantic::{Judged, Semantic};
use crate::format::{ClientView, Template, Versions};
use crate::token::TokenCodec;

/// Exactly one of these describes every read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Stale,
    Empty,
    Missing,
    TornUnparseable,
    TornParseable,
    Error,
    /// The target was not a regular file inside torn's scratch directory (a
    /// link to a file elsewhere, a FIFO, a device, a directory): a finding
    /// in its own right, and its bytes are neither classified nor kept.
    Foreign,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Stale,
        Outcome::Empty,
        Outcome::Missing,
        Outcome::TornUnparseable,
        Outcome::TornParseable,
        Outcome::Error,
        Outcome::Foreign,
    ];
    /// Number of outcomes; counters are arrays indexed by [`Outcome::index`].
    pub const COUNT: usize = 8;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Stale => "stale",
            Outcome::Empty => "empty",
            Outcome::Missing => "missing",
            Outcome::TornUnparseable => "torn-unparseable",
            Outcome::TornParseable => "torn-parseable",
            Outcome::Error => "error",
            Outcome::Foreign => "foreign",
        }
    }

    /// Every outcome but `ok` is an anomaly.
    pub fn is_anomaly(self) -> bool {
        self != Outcome::Ok
    }
}

/// What a read returned, before classification.
#[derive(Debug, Clone, Copy)]
pub enum ReadResult<'a> {
    /// The bytes read up to EOF.
    Bytes(&'a [u8]),
    /// The file did not exist.
    Missing,
    /// Any other I/O error, with its errno.
    Error(i32),
}

/// The classification of one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    /// The whole version read, for `ok` and `stale`.
    pub version: Option<u64>,
    /// Its `{{FIELD}}` version, when the template has that slot.
    pub field: Option<u64>,
    /// Whether the client would have been refused (HTTP 403): the token it
    /// would send is absent, not whole, or revoked at the moment of use.
    pub would_403: bool,
    /// The version of the whole token the client would send, if any.
    pub sent: Option<u64>,
    /// For torn reads, what the client's parser said (anomalies only).
    pub detail: Option<String>,
}

impl Classified {
    /// A read from something that is not the target torn made (see
    /// [`Outcome::Foreign`]): the client would have sent no valid token.
    pub fn foreign(why: String) -> Self {
        Self {
            outcome: Outcome::Foreign,
            version: None,
            field: None,
            would_403: true,
            sent: None,
            detail: Some(why),
        }
    }
}

/// Classifies reads of one template's versions.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub template: Template,
    pub codec: TokenCodec,
    /// A token stays valid until `grace + 1` newer versions are committed
    /// (rotators keep old tokens alive for a while); `u64::MAX`: never revoked.
    pub grace: u64,
    /// For a writer whose bytes vary between writes apart from the token:
    /// reads that are not byte-identical to a whole version are judged by
    /// meaning (see [`crate::format::semantic`]).
    pub semantic: Option<Semantic>,
}

impl Classifier {
    pub fn new(template: Template, codec: TokenCodec, grace: u64) -> Self {
        Self {
            template,
            codec,
            grace,
            semantic: None,
        }
    }

    /// This classifier, judging reads that are not byte-identical to a whole
    /// version by meaning, ignoring `volatile` fields.
    pub fn semantic(mut self, volatile: Vec<String>) -> Result<Self, String> {
        self.semantic = Some(Semantic::new(&self.template, volatile)?);
        Ok(self)
    }

    /// Whether token `version` is revoked once `committed_at_use` is the newest version.
    pub fn revoked(&self, version: u64, committed_at_use: u64) -> bool {
        committed_at_use > version.saturating_add(self.grace)
    }

    /// Classifies a read that began when `committed_before` was the newest
    /// committed version, and whose token is used when `committed_at_use` is.
    #[inline]
    pub fn classify(&self, read: ReadResult<'_>, committed_before: u64, committed_at_use: u64) -> Classified {
        let before = Versions {
            token: committed_before,
            field: 0,
        };
        self.classify_versions(read, before, committed_at_use)
    }

    /// [`Classifier::classify`] for templates with a `{{FIELD}}` slot: a
    /// whole document is `stale` if either its token or its field is older
    /// than what was committed before the read began (a lost update).
    #[inline]
    pub fn classify_versions(
        &self,
        read: ReadResult<'_>,
        committed_before: Versions,
        committed_at_use: u64,
    ) -> Classified {
        self.classify_remembering(read, committed_before, committed_at_use, &mut Memo::none())
    }

    /// [`Classifier::classify_versions`], with `memo` remembering the byte
    /// strings the semantic judge found whole: a read of the same bytes gets
    /// the same version without a parse (the reader hot path keeps one memo
    /// per reader).
    #[inline]
    pub fn classify_remembering(
        &self,
        read: ReadResult<'_>,
        committed_before: Versions,
        committed_at_use: u64,
        memo: &mut Memo,
    ) -> Classified {
        let bytes = match read {
            ReadResult::Missing => return self.no_token(Outcome::Missing),
            ReadResult::Error(errno) => {
                let mut c = self.no_token(Outcome::Error);
                c.detail = Some(std::io::Error::from_raw_os_error(errno).to_string());
                return c;
            }
            ReadResult::Bytes([]) => return self.no_token(Outcome::Empty),
            ReadResult::Bytes(b) => b,
        };
        if let Some(v) = self.template.whole_versions(&self.codec, bytes) {
            let stale = v.token < committed_before.token || v.field < committed_before.field;
            return Classified {
                outcome: if stale { Outcome::Stale } else { Outcome::Ok },
                version: Some(v.token),
                field: self.template.has_field().then_some(v.field),
                would_403: self.revoked(v.token, committed_at_use),
                sent: Some(v.token),
                detail: None,
            };
        }
        if let Some(s) = &self.semantic {
            if let Some(v) = memo.get(bytes) {
                return self.whole_token(v, committed_before.token, committed_at_use);
            }
            return self.classify_semantic(s, bytes, committed_before, committed_at_use, memo);
        }
        self.classify_torn(bytes, committed_at_use)
    }

    /// A read of a writer whose bytes vary, judged by meaning: a whole
    /// version is `ok` or `stale` as on the exact path; anything else is
    /// classified as a torn read, with the reason it is not whole.
    #[cold]
    fn classify_semantic(
        &self,
        s: &Semantic,
        bytes: &[u8],
        committed_before: Versions,
        committed_at_use: u64,
        memo: &mut Memo,
    ) -> Classified {
        match s.judge(&self.codec, bytes) {
            Judged::Whole(v) => {
                memo.put(bytes, v);
                self.whole_token(v, committed_before.token, committed_at_use)
            }
            Judged::Differs(why) => {
                let mut c = self.classify_torn(bytes, committed_at_use);
                c.detail = Some(match c.detail {
                    Some(d) => format!("{why}; {d}"),
                    None => why,
                });
                c
            }
            Judged::Rejected(_) => self.classify_torn(bytes, committed_at_use),
        }
    }

    /// A read whose token is the whole version `v` (no `{{FIELD}}` known):
    /// `stale` if a newer version was committed before the read began.
    fn whole_token(&self, v: u64, committed_before: u64, committed_at_use: u64) -> Classified {
        Classified {
            outcome: if v < committed_before {
                Outcome::Stale
            } else {
                Outcome::Ok
            },
            version: Some(v),
            field: None,
            would_403: self.revoked(v, committed_at_use),
            sent: Some(v),
            detail: None,
        }
    }

    /// Classifies the answer of an external reader (`--reader-stdio`): the
    /// token the real client would use, or `err <reason>`. torn does not see
    /// the bytes, so: a whole current token is `ok`, a whole older one
    /// `stale`, any other token `torn-parseable` (the client parsed the file
    /// and got wrong data), and `err` is `torn-unparseable` (the client got no
    /// token: its parser rejected the file, or it was empty or missing).
    pub fn classify_answer(&self, answer: &str, committed_before: u64, committed_at_use: u64) -> Classified {
        if answer == "err" || answer.starts_with("err ") {
            return Classified {
                outcome: Outcome::TornUnparseable,
                version: None,
                field: None,
                would_403: true,
                sent: None,
                detail: Some(format!(
                    "the client said: {}",
                    answer.trim_start_matches("err").trim()
                )),
            };
        }
        match self.codec.decode(answer.as_bytes()) {
            Some(v) => self.whole_token(v, committed_before, committed_at_use),
            None => Classified {
                outcome: Outcome::TornParseable,
                version: None,
                field: None,
                would_403: true,
                sent: None,
                detail: Some(if answer.is_empty() || answer == "none" {
                    "the client found no token".to_string()
                } else {
                    format!("the client would send {:?}", truncate(answer, 48))
                }),
            },
        }
    }

    #[cold]
    fn classify_torn(&self, bytes: &[u8], committed_at_use: u64) -> Classified {
        let view = self.template.client_view(bytes);
        let sent = view.token().and_then(|t| self.codec.decode(t.as_bytes()));
        let (outcome, detail) = match &view {
            ClientView::Rejected(why) => (Outcome::TornUnparseable, format!("parser rejected it: {why}")),
            ClientView::NoToken(why) => (Outcome::TornParseable, format!("parsed, but {why}")),
            ClientView::Token(t) => (
                Outcome::TornParseable,
                format!("parsed; client would send {:?}", truncate(t, 48)),
            ),
        };
        Classified {
            outcome,
            version: None,
            field: None,
            would_403: sent.is_none_or(|v| self.revoked(v, committed_at_use)),
            sent,
            detail: Some(detail),
        }
    }

    fn no_token(&self, outcome: Outcome) -> Classified {
        Classified {
            outcome,
            version: None,
            field: None,
            would_403: true,
            sent: None,
            detail: None,
        }
    }
}

/// Byte strings the semantic judge found to be whole versions, and their
/// versions: a read whose bytes equal one is that version, with no parse.
///
/// Whole versions are nearly every read, and a writer's file holds one byte
/// string per version, so a few recent entries catch almost every read. The
/// entries are compared byte for byte (a length check, then `memcmp`), not
/// by a hash alone, so a torn read can never borrow a whole version's
/// verdict. Memory is fixed: [`MEMO_ENTRIES`] buffers, allocated once with
/// room for the longest read; remembering reuses them (no allocation per
/// read). A memo belongs to one reader: no lock, no sharing.
#[derive(Debug, Default)]
pub struct Memo {
    entries: Vec<(Vec<u8>, u64)>,
    /// Entries filled so far (up to [`MEMO_ENTRIES`]), and the next to replace.
    filled: usize,
    next: usize,
}

/// Byte strings a [`Memo`] remembers.
pub const MEMO_ENTRIES: usize = 8;

impl Memo {
    /// A memo that remembers nothing (exact shapes need none).
    pub fn none() -> Self {
        Self::default()
    }

    /// A memo for `classifier`'s reads of at most `max_len` bytes: empty
    /// unless the classifier judges by meaning.
    pub fn for_reads(classifier: &Classifier, max_len: usize) -> Self {
        if classifier.semantic.is_none() {
            return Self::none();
        }
        Self {
            entries: (0..MEMO_ENTRIES)
                .map(|_| (Vec::with_capacity(max_len), 0))
                .collect(),
            filled: 0,
            next: 0,
        }
    }

    /// The version `bytes` was found to be, newest entry first.
    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<u64> {
        let n = self.entries.len();
        (1..=self.filled)
            .map(|back| &self.entries[(self.next + n - back) % n])
            .find(|(b, _)| b.len() == bytes.len() && b[..] == *bytes)
            .map(|&(_, v)| v)
    }

    /// Remembers that `bytes` is version `v`, replacing the oldest entry;
    /// a read longer than the room allocated is not remembered.
    fn put(&mut self, bytes: &[u8], v: u64) {
        let Some(entry) = self.entries.get_mut(self.next) else {
            return;
        };
        if bytes.len() > entry.0.capacity() {
            return;
        }
        entry.0.clear();
        entry.0.extend_from_slice(bytes);
        entry.1 = v;
        self.filled = (self.filled + 1).min(self.entries.len());
        self.next = (self.next + 1) % self.entries.len();
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{BUILTINS, Template};
    use proptest::prelude::*;

    fn classifiers() -> Vec<Classifier> {
        BUILTINS
            .iter()
            .map(|b| Classifier::new(Template::builtin(b.name).unwrap(), TokenCodec::new(11), 1))
            .collect()
    }

    fn is_whole(c: &Classifier, bytes: &[u8], versions: &[u64]) -> bool {
        versions
            .iter()
            .any(|&v| c.template.render_vec(&c.codec, v) == bytes)
    }

    #[test]
    fn stale_and_ok_follow_the_committed_version() {
        for c in classifiers() {
            let v3 = c.template.render_vec(&c.codec, 3);
            assert_eq!(c.classify(ReadResult::Bytes(&v3), 3, 3).outcome, Outcome::Ok);
            assert_eq!(c.classify(ReadResult::Bytes(&v3), 2, 3).outcome, Outcome::Ok);
            let stale = c.classify(ReadResult::Bytes(&v3), 4, 4);
            assert_eq!(stale.outcome, Outcome::Stale);
            assert!(!stale.would_403, "previous token still within grace");
            assert!(
                c.classify(ReadResult::Bytes(&v3), 9, 9).would_403,
                "revoked token"
            );
        }
    }

    #[test]
    fn empty_missing_error() {
        let c = &classifiers()[0];
        assert_eq!(c.classify(ReadResult::Bytes(b""), 0, 0).outcome, Outcome::Empty);
        assert_eq!(c.classify(ReadResult::Missing, 0, 0).outcome, Outcome::Missing);
        let e = c.classify(ReadResult::Error(libc_eacces()), 0, 0);
        assert_eq!(e.outcome, Outcome::Error);
        assert!(e.would_403 && e.detail.is_some());
    }

    fn libc_eacces() -> i32 {
        nix::errno::Errno::EACCES as i32
    }

    #[test]
    fn torn_in_fallback_only_does_not_403_the_hermes_client() {
        // Version 5 in the client's slot, version 4 in the fallback slot: torn
        // and parseable, but the client still sends a valid token.
        let c = &classifiers()[0];
        let v5 = c.template.render_vec(&c.codec, 5);
        let v4 = c.template.render_vec(&c.codec, 4);
        let text = String::from_utf8(v5.clone()).unwrap();
        let split = text.rfind("  api_key: ").unwrap() + "  api_key: ".len() + 10;
        let mixed = [&v5[..split], &v4[split..]].concat();
        let r = c.classify(ReadResult::Bytes(&mixed), 5, 5);
        assert_eq!(r.outcome, Outcome::TornParseable);
        assert!(!r.would_403);
    }

    #[test]
    fn semantic_classifier_accepts_reformatted_whole_versions_only() {
        let t = Template::new(
            "learned",
            crate::format::Format::Json,
            "env.K",
            "{\"at\": \"1\", \"env\": {\"K\": \"{{TOKEN}}\"}}",
        )
        .unwrap();
        let c = Classifier::new(t, TokenCodec::new(3), u64::MAX)
            .semantic(vec!["at".into()])
            .unwrap();
        let doc = |v: u64, at: &str| {
            format!(
                "{{\n  \"env\": {{\"K\": \"{}\"}},\n  \"at\": \"{at}\"\n}}",
                c.codec.token(v)
            )
        };
        let read = doc(4, "2");
        let r = c.classify(ReadResult::Bytes(read.as_bytes()), 4, 4);
        assert_eq!((r.outcome, r.version), (Outcome::Ok, Some(4)));
        assert_eq!(
            c.classify(ReadResult::Bytes(read.as_bytes()), 5, 5).outcome,
            Outcome::Stale
        );
        let prefix = &read.as_bytes()[..read.len() - 10];
        assert_eq!(
            c.classify(ReadResult::Bytes(prefix), 4, 4).outcome,
            Outcome::TornUnparseable
        );
        let other = read.replace("\"env\"", "\"extra\": 1, \"env\"");
        let r = c.classify(ReadResult::Bytes(other.as_bytes()), 4, 4);
        assert_eq!(r.outcome, Outcome::TornParseable);
        assert!(r.detail.unwrap().contains("`extra` differs"));
    }

    #[test]
    fn the_memo_remembers_whole_versions_by_their_bytes_only() {
        let t = Template::new(
            "learned",
            crate::format::Format::Yaml,
            "a.k",
            "at: 1\na:\n  k: {{TOKEN}}\n",
        )
        .unwrap();
        let c = Classifier::new(t, TokenCodec::new(3), u64::MAX)
            .semantic(vec!["at".into()])
            .unwrap();
        let mut memo = Memo::for_reads(&c, 4096);
        let doc = |v: u64, at: u32| format!("a:\n  k: {}\nat: {at}\n", c.codec.token(v));
        let before = Versions { token: 4, field: 0 };
        let read = |bytes: &str, memo: &mut Memo| {
            c.classify_remembering(ReadResult::Bytes(bytes.as_bytes()), before, 4, memo)
        };
        let (d4, d5) = (doc(4, 2), doc(5, 3));
        assert_eq!(memo.get(d4.as_bytes()), None);
        assert_eq!(read(&d4, &mut memo).version, Some(4));
        assert_eq!(memo.get(d4.as_bytes()), Some(4), "a whole version is remembered");
        assert_eq!(read(&d4, &mut memo).outcome, Outcome::Ok);
        // A prefix of a remembered version is judged afresh, and not remembered.
        let cut = &d4[..d4.len() - 8];
        assert!(read(cut, &mut memo).outcome.is_anomaly());
        assert_eq!(memo.get(cut.as_bytes()), None);
        assert_eq!(read(&d5, &mut memo).version, Some(5));
        // Older entries give way to newer ones; the memo never grows.
        for v in 6..6 + MEMO_ENTRIES as u64 {
            read(&doc(v, v as u32), &mut memo);
        }
        assert_eq!(memo.get(d4.as_bytes()), None, "the oldest entry was replaced");
        assert_eq!(memo.get(doc(6, 6).as_bytes()), Some(6));
        assert_eq!(memo.entries.len(), MEMO_ENTRIES);
        // An exact classifier needs no memo.
        assert!(Memo::for_reads(&classifiers()[0], 4096).entries.is_empty());
    }

    proptest! {
        #[test]
        fn whole_versions_are_ok(v in 0u64..u64::MAX / 2, idx in 0usize..6) {
            let c = &classifiers()[idx];
            let bytes = c.template.render_vec(&c.codec, v);
            let r = c.classify(ReadResult::Bytes(&bytes), v, v);
            prop_assert_eq!(r.outcome, Outcome::Ok);
            prop_assert_eq!(r.version, Some(v));
            prop_assert!(!r.would_403);
        }

        #[test]
        fn strict_prefixes_are_never_ok(v in 0u64..1000, idx in 0usize..6, cut in 1usize..4096) {
            let c = &classifiers()[idx];
            let bytes = c.template.render_vec(&c.codec, v);
            let cut = cut % bytes.len();
            prop_assume!(cut > 0);
            let r = c.classify(ReadResult::Bytes(&bytes[..cut]), 0, v);
            prop_assert!(matches!(r.outcome, Outcome::TornParseable | Outcome::TornUnparseable));
        }

        /// A mix of two versions at any split point is `ok` exactly when its
        /// bytes equal one of the two versions (the split fell outside every
        /// token that differs), and torn otherwise.
        #[test]
        fn two_version_mixes_are_ok_only_when_whole(a in 0u64..1000, b in 0u64..1000, idx in 0usize..6, split in 0usize..4096) {
            prop_assume!(a != b);
            let c = &classifiers()[idx];
            let (va, vb) = (c.template.render_vec(&c.codec, a), c.template.render_vec(&c.codec, b));
            let split = split % (va.len() + 1);
            let mixed = [&va[..split], &vb[split..]].concat();
            let r = c.classify(ReadResult::Bytes(&mixed), 0, a.max(b));
            if is_whole(c, &mixed, &[a, b]) {
                prop_assert_eq!(r.outcome, Outcome::Ok);
            } else {
                prop_assert!(matches!(r.outcome, Outcome::TornParseable | Outcome::TornUnparseable), "{:?}", r);
            }
        }

        #[test]
        fn zeroed_ranges_are_never_ok(v in 0u64..1000, idx in 0usize..6, start in 0usize..4096, len in 1usize..512) {
            let c = &classifiers()[idx];
            let mut bytes = c.template.render_vec(&c.codec, v);
            let start = start % bytes.len();
            let end = (start + len).min(bytes.len());
            bytes[start..end].fill(0);
            let r = c.classify(ReadResult::Bytes(&bytes), 0, v);
            prop_assert!(matches!(r.outcome, Outcome::TornParseable | Outcome::TornUnparseable), "{:?}", r);
            prop_assert!(r.would_403 || bytes[..].windows(36).any(|w| c.codec.decode(w) == Some(v)));
        }
    }
}
