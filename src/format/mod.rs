//! Document formats, their realistic templates, and the client-side parse.
//!
//! A [`Template`] is a whole config document with token slots (`{{TOKEN}}`).
//! Every version of a template has the same length and the same bytes outside
//! the slots, because every token has the same length: that is what lets the
//! classifier decide "whole version or not" with a few `memcmp`s.
//!
//! Each [`Format`] also carries the parse a real client would do, used only on
//! anomalous reads: to split torn reads into parseable / unparseable and to see
//! which token the client would send.

mod client;
pub mod semantic;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::token::{TOKEN_LEN, TokenCodec};

pub use client::ClientView;

/// The placeholder that marks a token slot in a template.
pub const SLOT: &str = "{{TOKEN}}";

/// A config file format with its client-side parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// YAML, parsed as PyYAML's `safe_load` would (here with serde-saphyr).
    Yaml,
    /// JSON, parsed with serde_json.
    Json,
    /// dotenv (`KEY=value` lines), parsed with dotenvy.
    Dotenv,
    /// INI with sections, parsed with rust-ini.
    Ini,
    /// TOML (credentials files of many CLIs), parsed with the `toml` crate.
    Toml,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Yaml,
        Format::Json,
        Format::Dotenv,
        Format::Ini,
        Format::Toml,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Toml => "toml",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Format::Yaml => "YAML; client parse with serde-saphyr (stands in for PyYAML safe_load)",
            Format::Json => "JSON; client parse with serde_json (stands in for JSON.parse)",
            Format::Dotenv => "dotenv KEY=value lines; client parse with dotenvy",
            Format::Ini => "INI sections; client parse with rust-ini (like configparser)",
            Format::Toml => "TOML tables; client parse with the toml crate (like tomllib)",
        }
    }

    /// The built-in template used when a scenario names only a format.
    pub fn default_template(self) -> &'static str {
        match self {
            Format::Yaml => "hermes",
            Format::Json => "claude-settings",
            Format::Dotenv => "codex-env",
            Format::Ini => "databrickscfg",
            Format::Toml => "credentials-toml",
        }
    }

    /// Parses `bytes` as the client would and extracts the token at `key`
    /// (a dotted path: `model.api_key`, `env.ANTHROPIC_AUTH_TOKEN`,
    /// `OPENAI_API_KEY`, `DEFAULT.token`).
    pub fn client_view(self, bytes: &[u8], key: &str) -> ClientView {
        client::view(self, bytes, key)
    }
}

/// A built-in template: a realistic document and where its client finds the token.
pub struct Builtin {
    pub name: &'static str,
    pub format: Format,
    /// Where the real file lives, relative to `HOME`.
    pub default_target: &'static str,
    /// The key the client reads the token from.
    pub client_key: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

/// The built-in templates, one per format.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "hermes",
        format: Format::Yaml,
        default_target: ".hermes/config.yaml",
        client_key: "model.api_key",
        summary: "Hermes agent config.yaml; token under model: and fallback_providers:",
        text: include_str!("templates/hermes.yaml"),
    },
    Builtin {
        name: "hermes-two-fields",
        format: Format::Yaml,
        default_target: ".hermes/config.yaml",
        client_key: "model.api_key",
        summary: "Hermes config.yaml with model.default versioned too, for lost-update runs (rmw: true)",
        text: include_str!("templates/hermes-two-fields.yaml"),
    },
    Builtin {
        name: "claude-settings",
        format: Format::Json,
        default_target: ".claude/settings.json",
        client_key: "env.ANTHROPIC_AUTH_TOKEN",
        summary: "Claude Code settings.json; token in env.ANTHROPIC_AUTH_TOKEN",
        text: include_str!("templates/claude-settings.json"),
    },
    Builtin {
        name: "codex-env",
        format: Format::Dotenv,
        default_target: ".codex/.env",
        client_key: "OPENAI_API_KEY",
        summary: "Codex CLI .env; token in OPENAI_API_KEY",
        text: include_str!("templates/codex.env"),
    },
    Builtin {
        name: "databrickscfg",
        format: Format::Ini,
        default_target: ".databrickscfg",
        client_key: "DEFAULT.token",
        summary: "Databricks CLI .databrickscfg; token in [DEFAULT] token",
        text: include_str!("templates/databrickscfg.ini"),
    },
    Builtin {
        name: "credentials-toml",
        format: Format::Toml,
        default_target: ".config/dbx/credentials.toml",
        client_key: "default.token",
        summary: "a CLI's credentials.toml (profiles as tables); token in [default] token",
        text: include_str!("templates/credentials.toml"),
    },
];

/// Looks up a built-in template by name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// What to say when `name` is neither a built-in template nor a file: the
/// closest built-in name (a typo such as `hermez`), else the list of them.
pub fn no_such_template(name: &str) -> String {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    };
    let closest = BUILTINS
        .iter()
        .map(|b| (distance(name, b.name), b.name))
        .min()
        .filter(|(d, _)| *d <= 2 && *d < name.chars().count());
    let names = BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ");
    match closest {
        Some((_, b)) => format!(
            "`{name}` is not a built-in template and no file `{name}` exists; did you mean the built-in `{b}`? (built-ins: {names})"
        ),
        None => {
            format!("`{name}` is not a built-in template and no file `{name}` exists (built-ins: {names})")
        }
    }
}

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {origin} has no {SLOT} slot: torn needs at least one place to put the token")]
    NoSlot { origin: String },
    #[error("template {origin}: version 0 does not parse as {format}: {reason}")]
    DoesNotParse {
        origin: String,
        format: &'static str,
        reason: String,
    },
    #[error("template {origin}: the client key `{key}` does not yield the token ({reason})")]
    KeyNotFound {
        origin: String,
        key: String,
        reason: String,
    },
    #[error("cannot read template file {path}")]
    Read { path: String, source: std::io::Error },
}

/// A document with token slots, ready to render any version.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where the text came from: a built-in name or a file path.
    pub origin: String,
    pub format: Format,
    /// Dotted key the client reads the token from.
    pub client_key: String,
    /// The bytes between slots: `segments.len() == slots.len() + 1`.
    segments: Vec<Vec<u8>>,
    /// Each slot's byte offset in a rendered version and what it holds.
    slots: Vec<(usize, SlotKind)>,
    len: usize,
}

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// `{{TOKEN}}`: the token the rotator installs.
    Token,
    /// `{{FIELD}}`: a second versioned value another writer updates (e.g.
    /// `model.default` changed by a setup step), for lost-update scenarios.
    Field,
}

impl SlotKind {
    fn marker(self) -> &'static str {
        match self {
            SlotKind::Token => SLOT,
            SlotKind::Field => FIELD_SLOT,
        }
    }
}

/// The placeholder of a second versioned field.
pub const FIELD_SLOT: &str = "{{FIELD}}";

/// The versions held by a whole document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    pub token: u64,
    /// The `{{FIELD}}` version (0 when the template has no field slot).
    pub field: u64,
}

impl Template {
    /// Builds a template from text containing [`SLOT`] (and optionally
    /// [`FIELD_SLOT`]) markers and checks that a rendered version parses and
    /// yields its token at `client_key`.
    pub fn new(origin: &str, format: Format, client_key: &str, text: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut slots = Vec::new();
        let mut rest = text;
        let mut off = 0;
        loop {
            let next = [SlotKind::Token, SlotKind::Field]
                .into_iter()
                .filter_map(|k| rest.find(k.marker()).map(|at| (at, k)))
                .min_by_key(|(at, _)| *at);
            let Some((at, kind)) = next else { break };
            segments.push(rest.as_bytes()[..at].to_vec());
            off += at;
            slots.push((off, kind));
            off += TOKEN_LEN;
            rest = &rest[at + kind.marker().len()..];
        }
        segments.push(rest.as_bytes().to_vec());
        if !slots.iter().any(|(_, k)| *k == SlotKind::Token) {
            return Err(TemplateError::NoSlot {
                origin: origin.to_string(),
            });
        }
        let len = off + rest.len();
        let t = Template {
            origin: origin.to_string(),
            format,
            client_key: client_key.to_string(),
            segments,
            slots,
            len,
        };
        t.validate()?;
        Ok(t)
    }

    /// A built-in template by name.
    pub fn builtin(name: &str) -> Option<Self> {
        let b = builtin(name)?;
        Some(Self::new(b.name, b.format, b.client_key, b.text).expect("built-in templates are valid"))
    }

    /// A template read from a file.
    pub fn from_file(path: &Path, format: Format, client_key: &str) -> Result<Self, TemplateError> {
        let text = crate::limits::read_text(path, crate::limits::MAX_TEMPLATE_BYTES, "template").map_err(
            |source| TemplateError::Read {
                path: path.display().to_string(),
                source,
            },
        )?;
        Self::new(&path.display().to_string(), format, client_key, &text)
    }

    fn validate(&self) -> Result<(), TemplateError> {
        let codec = TokenCodec::new(0);
        let bytes = self.render_vec(&codec, 0);
        match self.format.client_view(&bytes, &self.client_key) {
            ClientView::Token(t) if t == codec.token(0) => Ok(()),
            ClientView::Token(t) => Err(TemplateError::KeyNotFound {
                origin: self.origin.clone(),
                key: self.client_key.clone(),
                reason: format!("it holds {t:?}"),
            }),
            ClientView::NoToken(reason) => Err(TemplateError::KeyNotFound {
                origin: self.origin.clone(),
                key: self.client_key.clone(),
                reason,
            }),
            ClientView::Rejected(reason) => Err(TemplateError::DoesNotParse {
                origin: self.origin.clone(),
                format: self.format.name(),
                reason,
            }),
        }
    }

    /// The template text, with its slot markers.
    pub fn text(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.segments[0]).into_owned();
        for ((_, kind), seg) in self.slots.iter().zip(&self.segments[1..]) {
            out.push_str(kind.marker());
            out.push_str(&String::from_utf8_lossy(seg));
        }
        out
    }

    /// Length in bytes of every rendered version.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a template holds at least one token.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of token slots.
    pub fn slots(&self) -> usize {
        self.slots.iter().filter(|(_, k)| *k == SlotKind::Token).count()
    }

    /// Whether the template has a `{{FIELD}}` slot.
    pub fn has_field(&self) -> bool {
        self.slots.iter().any(|(_, k)| *k == SlotKind::Field)
    }

    /// Renders token `version` (and field version 0) into `out` (cleared
    /// first); reuses its allocation.
    pub fn render(&self, codec: &TokenCodec, version: u64, out: &mut Vec<u8>) {
        self.render_versions(
            codec,
            Versions {
                token: version,
                field: 0,
            },
            out,
        );
    }

    /// Renders a document holding `v` into `out` (cleared first).
    pub fn render_versions(&self, codec: &TokenCodec, v: Versions, out: &mut Vec<u8>) {
        let mut token = [0u8; TOKEN_LEN];
        let mut field = [0u8; TOKEN_LEN];
        codec.encode_into(v.token, &mut token);
        codec.field_codec().encode_into(v.field, &mut field);
        out.clear();
        out.reserve(self.len);
        out.extend_from_slice(&self.segments[0]);
        for ((_, kind), seg) in self.slots.iter().zip(&self.segments[1..]) {
            out.extend_from_slice(match kind {
                SlotKind::Token => &token,
                SlotKind::Field => &field,
            });
            out.extend_from_slice(seg);
        }
    }

    /// Renders `version` into a new buffer.
    pub fn render_vec(&self, codec: &TokenCodec, version: u64) -> Vec<u8> {
        let mut v = Vec::new();
        self.render(codec, version, &mut v);
        v
    }

    /// The token version `bytes` is a whole copy of, or `None`.
    ///
    /// This is the classifier's hot path: a length check, one `memcmp` per
    /// static segment, and a hex decode per slot. No allocation, no parse.
    #[inline]
    pub fn whole_version(&self, codec: &TokenCodec, bytes: &[u8]) -> Option<u64> {
        self.whole_versions(codec, bytes).map(|v| v.token)
    }

    /// The versions `bytes` is a whole document of, or `None`: every static
    /// byte matches, every slot holds a whole value, and slots of the same
    /// kind agree.
    #[inline]
    pub fn whole_versions(&self, codec: &TokenCodec, bytes: &[u8]) -> Option<Versions> {
        if bytes.len() != self.len || bytes[..self.segments[0].len()] != self.segments[0][..] {
            return None;
        }
        for ((at, _), seg) in self.slots.iter().zip(&self.segments[1..]) {
            let start = at + TOKEN_LEN;
            if bytes[start..start + seg.len()] != seg[..] {
                return None;
            }
        }
        let (mut token, mut field) = (None, None);
        // Most templates have no field slot: derive its codec only if needed.
        let mut field_codec = None;
        for &(at, kind) in &self.slots {
            let (slot, c) = match kind {
                SlotKind::Token => (&mut token, codec),
                SlotKind::Field => (
                    &mut field,
                    &*field_codec.get_or_insert_with(|| codec.field_codec()),
                ),
            };
            let v = c.decode(&bytes[at..at + TOKEN_LEN])?;
            match *slot {
                None => *slot = Some(v),
                Some(prev) if prev != v => return None,
                Some(_) => {}
            }
        }
        Some(Versions {
            token: token?,
            field: field.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_valid_and_versions_have_equal_length() {
        let codec = TokenCodec::new(3);
        for b in BUILTINS {
            let t = Template::builtin(b.name).unwrap();
            assert_eq!(
                t.render_vec(&codec, 0).len(),
                t.render_vec(&codec, u64::MAX).len()
            );
            assert_eq!(t.whole_version(&codec, &t.render_vec(&codec, 99)), Some(99));
        }
    }

    #[test]
    fn hermes_keeps_the_rotator_regex_shape() {
        let t = Template::builtin("hermes").unwrap();
        let text = String::from_utf8(t.render_vec(&TokenCodec::new(1), 5)).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  api_key: ")).collect();
        assert_eq!(lines.len(), 2, "token under model: and fallback_providers:");
        assert_eq!(t.slots(), 2);
    }

    #[test]
    fn template_without_slot_is_rejected() {
        let e = Template::new("x.yaml", Format::Yaml, "a", "a: 1\n").unwrap_err();
        assert!(e.to_string().contains("no {{TOKEN}} slot"), "{e}");
    }

    #[test]
    fn template_with_wrong_key_is_rejected() {
        let e = Template::new(
            "x.yaml",
            Format::Yaml,
            "model.key",
            "model:\n  api_key: {{TOKEN}}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("model.key"), "{e}");
    }
}
