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
pub mod pattern;
pub mod semantic;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::token::{TOKEN_LEN, TokenCodec};

pub use client::ClientView;
pub use pattern::{Pattern, SlotKind};

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
    /// Any file, as bytes, with no parser: `.git-credentials`, `.npmrc`,
    /// htpasswd lines. Reads are judged by exact bytes (a writer whose
    /// bytes vary apart from the token cannot be judged without a parser);
    /// the client takes the token after the client key on its line.
    Raw,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Yaml,
        Format::Json,
        Format::Dotenv,
        Format::Ini,
        Format::Toml,
        Format::Raw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Toml => "toml",
            Format::Raw => "raw",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Format::Yaml => "YAML; client parse with serde-saphyr (stands in for PyYAML safe_load)",
            Format::Json => "JSON; client parse with serde_json (stands in for JSON.parse)",
            Format::Dotenv => "dotenv KEY=value lines; client parse with dotenvy",
            Format::Ini => "INI sections; client parse with rust-ini (like configparser)",
            Format::Toml => "TOML tables; client parse with the toml crate (like tomllib)",
            Format::Raw => {
                "any file as bytes, no parser; the client takes the token after its key on the line"
            }
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
            Format::Raw => "git-credentials",
        }
    }

    /// The format of a target when none is given: a built-in template's,
    /// else by the file's extension (`.yaml`/`.yml`, `.json`, `.env`,
    /// `.ini`/`.cfg`/`.conf`, `.toml`), else [`Format::Raw`], which fits
    /// any file.
    pub fn guess(template: Option<&str>, target: Option<&str>) -> Format {
        if let Some(b) = template.and_then(builtin) {
            return b.format;
        }
        let name = target.or(template).unwrap_or_default();
        let file = name.rsplit('/').next().unwrap_or_default();
        let ext = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini" | "cfg" | "conf") => Format::Ini,
            Some("toml") => Format::Toml,
            _ => Format::Raw,
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
    Builtin {
        name: "git-credentials",
        format: Format::Raw,
        default_target: ".git-credentials",
        client_key: "https://torn:",
        summary: "git credential-store's ~/.git-credentials; token as the password of https://torn:TOKEN@github.com",
        text: "https://torn:{{TOKEN}}@github.com\n",
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
    #[error("template {origin}: {reason}")]
    Marker { origin: String, reason: String },
    #[error("cannot read template file {path}")]
    Read { path: String, source: std::io::Error },
}

/// The placeholder of a second versioned field.
pub const FIELD_SLOT: &str = "{{FIELD}}";

/// A document with token slots, ready to render any version.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where the text came from: a built-in name or a file path.
    pub origin: String,
    pub format: Format,
    /// Where the client finds the token: a key path into the parsed
    /// document (`model.api_key`, `users[0].user.token`,
    /// `"//registry.npmjs.org/:_authToken"`), or for [`Format::Raw`] the
    /// text the token follows on its line (`https://torn:`).
    pub client_key: String,
    pattern: Pattern,
    /// How the token sits in what the client key yields.
    frame: Frame,
}

/// How the token sits in the value the client key yields: after `prefix`,
/// before `suffix` (a URL around it, `_authToken=`), in token slot `slot`
/// (which may be encoded).
#[derive(Debug, Clone, Default)]
struct Frame {
    prefix: String,
    suffix: String,
    slot: usize,
}

/// The versions held by a whole document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    pub token: u64,
    /// The `{{FIELD}}` version (0 when the template has no field slot).
    pub field: u64,
}

impl Template {
    /// Builds a template from text containing [`SLOT`] (and optionally
    /// [`FIELD_SLOT`] or an encoded slot, see [`pattern`]) markers and
    /// checks that a rendered version parses and yields its token at
    /// `client_key`. For [`Format::Raw`] an empty `client_key` means the
    /// text before the first token slot on its line.
    pub fn new(origin: &str, format: Format, client_key: &str, text: &str) -> Result<Self, TemplateError> {
        let pattern = Pattern::parse(text).map_err(|e| TemplateError::Marker {
            origin: origin.to_string(),
            reason: e.0,
        })?;
        let Some(first) = pattern.slots().iter().position(|s| s.kind == SlotKind::Token) else {
            return Err(TemplateError::NoSlot {
                origin: origin.to_string(),
            });
        };
        let mut t = Template {
            origin: origin.to_string(),
            format,
            client_key: client_key.to_string(),
            pattern,
            frame: Frame {
                slot: first,
                ..Frame::default()
            },
        };
        t.frame = t.find_frame()?;
        if format == Format::Raw && t.client_key.is_empty() {
            t.client_key = t.frame.prefix.clone();
        }
        t.validate()?;
        Ok(t)
    }

    /// A learned template: the writer's file `text` (tokens marked) read
    /// with `format`'s parser and the token at `key`, if they fit it; else
    /// at the first key where the parsed file holds the token; else, when
    /// `raw_fallback`, as raw bytes (no parser), and otherwise the error.
    /// Returns it and, when it is not what was asked for, why.
    pub fn learned(
        origin: &str,
        format: Format,
        key: &str,
        text: &str,
        raw_fallback: bool,
    ) -> Result<(Self, Option<String>), TemplateError> {
        let why = match Self::new(origin, format, key, text) {
            Ok(t) => return Ok((t, None)),
            Err(TemplateError::KeyNotFound { .. }) if format == Format::Raw => {
                let t = Self::new(origin, Format::Raw, "", text)?;
                let why = format!("the token follows `{}` on its line, not `{key}`", t.client_key);
                return Ok((t, Some(why)));
            }
            Err(TemplateError::KeyNotFound { reason, .. }) => {
                let probe = Self::new(origin, Format::Raw, "", text)?;
                let bytes = probe.render_vec(&TokenCodec::new(0), 0);
                let found = semantic::parse(format, &bytes)
                    .ok()
                    .and_then(|tree| probe.key_holding_token(format, &tree, &bytes));
                if let Some(found) = found
                    && let Ok(t) = Self::new(origin, format, &found, text)
                {
                    let why = format!("the token is at `{found}`, not at `{key}` ({reason})");
                    return Ok((t, Some(why)));
                }
                if !raw_fallback {
                    return Err(TemplateError::KeyNotFound {
                        origin: origin.to_string(),
                        key: key.to_string(),
                        reason: format!(
                            "{reason}; no other key of the {} document holds it",
                            format.name()
                        ),
                    });
                }
                format!(
                    "no key of the {} document holds the token ({reason})",
                    format.name()
                )
            }
            Err(e @ TemplateError::DoesNotParse { .. }) if !raw_fallback => return Err(e),
            Err(TemplateError::DoesNotParse { reason, .. }) => {
                format!("the {} parser rejects it ({reason})", format.name())
            }
            Err(other) => return Err(other),
        };
        let t = Self::new(origin, Format::Raw, "", text)?;
        Ok((t, Some(format!("judged as raw bytes: {why}"))))
    }

    /// The first key (in the parsed `tree` of `bytes`, version 0, as
    /// `format` names keys) whose string holds a token slot's rendered bytes.
    fn key_holding_token(&self, format: Format, tree: &serde_json::Value, bytes: &[u8]) -> Option<String> {
        let rendered: Vec<&str> = self
            .pattern
            .slots()
            .iter()
            .filter(|s| s.kind == SlotKind::Token)
            .filter_map(|s| std::str::from_utf8(&bytes[s.at..s.at + s.width]).ok())
            .collect();
        let mut path = Vec::new();
        find_string(tree, &|s| rendered.iter().any(|r| s.contains(r)), &mut path)?;
        Some(match format {
            // dotenv keys are names, not paths.
            Format::Dotenv => path.first()?.clone().into_name()?,
            // A key before any section is in the INI file's general section.
            Format::Ini if path.len() == 2 && path[0] == KeyPart::Name(String::new()) => {
                KeyPart::render(&path[1..])
            }
            _ => KeyPart::render(&path),
        })
    }

    /// Where the token sits in the value the client key yields (version 0).
    fn find_frame(&self) -> Result<Frame, TemplateError> {
        let codec = TokenCodec::new(0);
        let bytes = self.render_vec(&codec, 0);
        let slots = self.pattern.slots();
        if self.format == Format::Raw {
            let first = &slots[self.frame.slot];
            let line_start = bytes[..first.at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let key = if self.client_key.is_empty() {
                String::from_utf8_lossy(&bytes[line_start..first.at]).into_owned()
            } else {
                self.client_key.clone()
            };
            return self.raw_frame(&bytes, &key);
        }
        let value = match client::view(self.format, &bytes, &self.client_key) {
            ClientView::Token(v) => v,
            ClientView::NoToken(reason) => return Err(self.key_not_found(reason)),
            ClientView::Rejected(reason) => {
                return Err(TemplateError::DoesNotParse {
                    origin: self.origin.clone(),
                    format: self.format.name(),
                    reason,
                });
            }
        };
        for (i, s) in slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SlotKind::Token)
        {
            let rendered = String::from_utf8_lossy(&bytes[s.at..s.at + s.width]);
            if let Some(at) = value.find(rendered.as_ref()) {
                return Ok(Frame {
                    prefix: value[..at].to_string(),
                    suffix: value[at + rendered.len()..].to_string(),
                    slot: i,
                });
            }
        }
        Err(self.key_not_found(format!("it holds {:?}", truncate(&value, 60))))
    }

    /// The frame of a raw template whose client finds the token after `key`.
    fn raw_frame(&self, bytes: &[u8], key: &str) -> Result<Frame, TemplateError> {
        let slots = self.pattern.slots();
        let at = if key.is_empty() {
            Some(slots[self.frame.slot].at)
        } else {
            find(bytes, key.as_bytes()).map(|i| i + key.len())
        };
        let Some((i, s)) = slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.kind == SlotKind::Token && Some(s.at) == at)
        else {
            return Err(self.key_not_found(format!("no token right after the first `{key}` in the file")));
        };
        let end = s.at + s.width;
        let line_end = bytes[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |n| end + n);
        Ok(Frame {
            prefix: key.to_string(),
            suffix: String::from_utf8_lossy(&bytes[end..line_end]).into_owned(),
            slot: i,
        })
    }

    fn key_not_found(&self, reason: String) -> TemplateError {
        TemplateError::KeyNotFound {
            origin: self.origin.clone(),
            key: self.client_key.clone(),
            reason,
        }
    }

    fn validate(&self) -> Result<(), TemplateError> {
        let codec = TokenCodec::new(0);
        let bytes = self.render_vec(&codec, 0);
        match self.client_view(&bytes) {
            ClientView::Token(t) if t == codec.token(0) => Ok(()),
            ClientView::Token(t) => Err(self.key_not_found(format!("it holds {t:?}"))),
            ClientView::NoToken(reason) => Err(self.key_not_found(reason)),
            ClientView::Rejected(reason) => Err(TemplateError::DoesNotParse {
                origin: self.origin.clone(),
                format: self.format.name(),
                reason,
            }),
        }
    }

    /// What the client makes of `bytes`: the token it would send (taken out
    /// of its URL or line, decoded when stored encoded), none, or a parse
    /// error. [`Format::Raw`] has no parser and rejects nothing: its client
    /// takes what follows the key on the key's line.
    pub fn client_view(&self, bytes: &[u8]) -> ClientView {
        if self.format == Format::Raw {
            let key = &self.frame.prefix;
            let at = if key.is_empty() {
                let at = self.pattern.slots()[self.frame.slot].at;
                (at <= bytes.len()).then_some(at)
            } else {
                find(bytes, key.as_bytes()).map(|i| i + key.len())
            };
            let Some(at) = at else {
                return ClientView::NoToken(format!("no `{key}` in the file"));
            };
            let line = &bytes[at..];
            let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
            return ClientView::Token(self.unframe(&String::from_utf8_lossy(line), ""));
        }
        match client::view(self.format, bytes, &self.client_key) {
            ClientView::Token(v) => ClientView::Token(self.unframe(&v, &self.frame.prefix)),
            other => other,
        }
    }

    /// The token inside `value`: after `prefix` (when it is there), before
    /// the frame's suffix (when it is there), decoded when its slot is.
    fn unframe(&self, value: &str, prefix: &str) -> String {
        let rest = value.strip_prefix(prefix).unwrap_or(value);
        let suffix = &self.frame.suffix;
        let middle = match (suffix.is_empty(), rest.find(suffix.as_str())) {
            (false, Some(i)) => &rest[..i],
            _ => rest,
        };
        let slot = &self.pattern.slots()[self.frame.slot];
        match slot.encoded {
            Some(_) => self
                .pattern
                .token_at(slot, middle.as_bytes())
                .unwrap_or_else(|| middle.to_string()),
            None => middle.to_string(),
        }
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

    /// The template text, with its slot markers.
    pub fn text(&self) -> String {
        self.pattern.text()
    }

    /// The slots and static bytes.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// Length in bytes of every rendered version.
    pub fn len(&self) -> usize {
        self.pattern.len()
    }

    /// Always false: a template holds at least one token.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of token slots.
    pub fn slots(&self) -> usize {
        self.pattern
            .slots()
            .iter()
            .filter(|s| s.kind == SlotKind::Token)
            .count()
    }

    /// Whether the template has a `{{FIELD}}` slot.
    pub fn has_field(&self) -> bool {
        self.pattern.slots().iter().any(|s| s.kind == SlotKind::Field)
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
        self.pattern.render_with(&token, &field, out);
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
    /// static segment, and a decode per slot. No allocation, no parse.
    #[inline]
    pub fn whole_version(&self, codec: &TokenCodec, bytes: &[u8]) -> Option<u64> {
        self.whole_versions(codec, bytes).map(|v| v.token)
    }

    /// The versions `bytes` is a whole document of, or `None`: every static
    /// byte matches, every slot holds a whole value, and slots of the same
    /// kind agree.
    #[inline]
    pub fn whole_versions(&self, codec: &TokenCodec, bytes: &[u8]) -> Option<Versions> {
        self.pattern
            .versions(codec, bytes)
            .map(|(token, field)| Versions {
                token,
                field: field.unwrap_or(0),
            })
    }
}

/// The first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// One step of a client key: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Name(String),
    Index(usize),
}

impl KeyPart {
    fn into_name(self) -> Option<String> {
        match self {
            KeyPart::Name(n) => Some(n),
            KeyPart::Index(_) => None,
        }
    }

    /// Parses a client key: names separated by `.`, list indices as `[0]`
    /// (`users[0].user.token`; `users.0` also indexes a list), a name
    /// holding `.`, `[`, `]`, `"` or `\` in double quotes
    /// (`"//registry.npmjs.org/:_authToken"`, with `\"` and `\\`).
    pub fn parse(key: &str) -> Result<Vec<KeyPart>, String> {
        let mut parts = Vec::new();
        let mut chars = key.chars();
        let mut name = String::new();
        let mut quoted = false;
        let flush = |name: &mut String, quoted: &mut bool, parts: &mut Vec<KeyPart>| {
            if *quoted || !name.is_empty() {
                parts.push(KeyPart::Name(std::mem::take(name)));
            }
            *quoted = false;
        };
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    if !quoted && name.is_empty() && !matches!(parts.last(), Some(KeyPart::Index(_))) {
                        return Err(format!("`{key}`: an empty name before a `.`"));
                    }
                    flush(&mut name, &mut quoted, &mut parts);
                }
                '[' => {
                    flush(&mut name, &mut quoted, &mut parts);
                    let digits: String = chars.by_ref().take_while(|&c| c != ']').collect();
                    let i = digits
                        .parse()
                        .map_err(|_| format!("`{key}`: `[{digits}]` is not a list index"))?;
                    parts.push(KeyPart::Index(i));
                }
                '"' if name.is_empty() && !quoted => {
                    loop {
                        match chars.next() {
                            Some('\\') => name.extend(chars.next()),
                            Some('"') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("`{key}`: a quoted name is not closed")),
                        }
                    }
                    quoted = true;
                }
                c => name.push(c),
            }
        }
        flush(&mut name, &mut quoted, &mut parts);
        if parts.is_empty() {
            return Err("an empty client key".into());
        }
        Ok(parts)
    }

    /// The key text of `parts`, quoting names that need it.
    pub fn render(parts: &[KeyPart]) -> String {
        let mut out = String::new();
        for p in parts {
            match p {
                KeyPart::Index(i) => out.push_str(&format!("[{i}]")),
                KeyPart::Name(n) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    if n.is_empty() || n.contains(['.', '[', ']', '"', '\\']) {
                        out.push('"');
                        out.push_str(&n.replace('\\', "\\\\").replace('"', "\\\""));
                        out.push('"');
                    } else {
                        out.push_str(n);
                    }
                }
            }
        }
        out
    }
}

/// The path to the first string in `v` (maps in key order, lists in order)
/// that `hit` accepts.
fn find_string(v: &serde_json::Value, hit: &dyn Fn(&str) -> bool, path: &mut Vec<KeyPart>) -> Option<()> {
    use serde_json::Value;
    let descend = |part: KeyPart, v: &Value, path: &mut Vec<KeyPart>| {
        path.push(part);
        let found = find_string(v, hit, path);
        if found.is_none() {
            path.pop();
        }
        found
    };
    match v {
        Value::String(s) if hit(s) => Some(()),
        Value::Object(m) => m
            .iter()
            .find_map(|(k, v)| descend(KeyPart::Name(k.clone()), v, path)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| descend(KeyPart::Index(i), v, path)),
        _ => None,
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

    #[test]
    fn client_keys_index_lists_and_quote_names() {
        let parts = KeyPart::parse("users[0].user.token").unwrap();
        assert_eq!(
            parts,
            vec![
                KeyPart::Name("users".into()),
                KeyPart::Index(0),
                KeyPart::Name("user".into()),
                KeyPart::Name("token".into())
            ]
        );
        assert_eq!(KeyPart::render(&parts), "users[0].user.token");
        let npm = KeyPart::parse("\"//registry.npmjs.org/:_authToken\"").unwrap();
        assert_eq!(
            npm,
            vec![KeyPart::Name("//registry.npmjs.org/:_authToken".into())]
        );
        assert_eq!(KeyPart::render(&npm), "\"//registry.npmjs.org/:_authToken\"");
        assert!(KeyPart::parse("a[x]").unwrap_err().contains("not a list index"));
        assert!(KeyPart::parse("\"open").unwrap_err().contains("not closed"));
        let kube = "users:\n- name: ci\n  user:\n    token: {{TOKEN}}\n";
        for key in ["users[0].user.token", "users.0.user.token"] {
            let t = Template::new("k", Format::Yaml, key, kube).unwrap();
            let v = t.render_vec(&TokenCodec::new(2), 7);
            assert_eq!(t.client_view(&v), ClientView::Token(TokenCodec::new(2).token(7)));
        }
    }

    #[test]
    fn a_token_inside_a_value_is_taken_out_of_its_frame() {
        let t = Template::new(
            "pip.conf",
            Format::Ini,
            "global.index-url",
            "[global]\nindex-url = https://__token__:{{TOKEN}}@host/simple\n",
        )
        .unwrap();
        let codec = TokenCodec::new(1);
        let v = t.render_vec(&codec, 3);
        assert_eq!(t.client_view(&v), ClientView::Token(codec.token(3)));
        // A prefix cut inside the token: the client sends what it has.
        let cut = &v[..v.len() - "@host/simple\n".len() - 4];
        assert_eq!(
            t.client_view(cut),
            ClientView::Token(codec.token(3)[..32].to_string())
        );
    }

    #[test]
    fn raw_templates_find_the_token_after_their_line_key() {
        let t = Template::builtin("git-credentials").unwrap();
        assert_eq!((t.format, t.client_key.as_str()), (Format::Raw, "https://torn:"));
        let codec = TokenCodec::new(1);
        let v = t.render_vec(&codec, 4);
        assert_eq!(t.client_view(&v), ClientView::Token(codec.token(4)));
        assert!(matches!(t.client_view(b"https://to"), ClientView::NoToken(_)));
        // An empty key means: the text before the token on its line.
        let t = Template::new("npmrc", Format::Raw, "", "a=1\n//r.org/:_authToken={{TOKEN}}\n").unwrap();
        assert_eq!(t.client_key, "//r.org/:_authToken=");
        assert_eq!(
            t.client_view(&t.render_vec(&codec, 2)),
            ClientView::Token(codec.token(2))
        );
    }

    #[test]
    fn learned_templates_keep_what_fits_and_say_why_not() {
        let npmrc = "registry=https://r.org/\n//r.org/:_authToken={{TOKEN}}\n";
        // The JSON parser rejects an .npmrc: judged as raw bytes, and says why.
        let (t, why) = Template::learned("l", Format::Json, "env.K", npmrc, true).unwrap();
        assert_eq!(
            (t.format, t.client_key.as_str()),
            (Format::Raw, "//r.org/:_authToken=")
        );
        assert!(why.unwrap().contains("the json parser rejects it"));
        let kube = "users:\n- name: ci\n  user:\n    token: {{TOKEN}}\n";
        let (t, why) = Template::learned("l", Format::Yaml, "model.api_key", kube, false).unwrap();
        assert_eq!(t.client_key, "users[0].user.token");
        assert!(why.unwrap().contains("not at `model.api_key`"));
        let (t, why) = Template::learned("l", Format::Yaml, "users[0].user.token", kube, false).unwrap();
        assert_eq!((t.client_key.as_str(), why), ("users[0].user.token", None));
        // A token only in a comment: no key holds it.
        let (t, why) = Template::learned("l", Format::Yaml, "a", "# {{TOKEN}}\na: 1\n", true).unwrap();
        assert_eq!(t.format, Format::Raw);
        assert!(why.unwrap().contains("no key of the yaml document"));
        // A format that was given is kept: then its errors are the writer's.
        let e = Template::learned("l", Format::Yaml, "a", "# {{TOKEN}}\na: 1\n", false).unwrap_err();
        assert!(e.to_string().contains("no other key"), "{e}");
        assert!(matches!(
            Template::learned("l", Format::Json, "a", npmrc, false),
            Err(TemplateError::DoesNotParse { .. })
        ));
    }

    #[test]
    fn formats_are_guessed_from_the_target_else_raw() {
        assert_eq!(Format::guess(Some("hermes"), None), Format::Yaml);
        assert_eq!(Format::guess(None, Some(".config/pip/pip.conf")), Format::Ini);
        assert_eq!(Format::guess(None, Some(".docker/config.json")), Format::Json);
        assert_eq!(Format::guess(None, Some(".npmrc")), Format::Raw);
        assert_eq!(Format::guess(None, Some(".git-credentials")), Format::Raw);
        assert_eq!(Format::guess(None, None), Format::Raw);
    }
}
