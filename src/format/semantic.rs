//! Judging a read by meaning, for writers whose bytes vary between writes
//! apart from the token (a timestamp, key order, a random id).
//!
//! The read is parsed as the client would parse it, into one tree for every
//! format (JSON values; a dotenv file is one flat table, an INI file a table
//! of sections). It is a whole version when every token slot of the learned
//! document holds one whole token, all slots the same version, and the rest
//! of the tree equals the learned one except for the volatile fields (dotted
//! paths, e.g. `meta.updated_at`, `fallback_providers.0.api_key`). Maps
//! compare without regard to key order.
//!
//! This path parses every read, so it runs only where the exact byte match
//! of [`super::Template::whole_versions`] fails.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Format, Pattern, SLOT, Template};
use crate::token::{TOKEN_LEN, TokenCodec};

/// Stands for the token in the learned text while it is parsed: the shape
/// of a token (so it parses where one does), but never a token of any run.
const SENTINEL: &str = "dapizzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";

/// The learned document, ready to judge reads against.
#[derive(Debug, Clone)]
pub struct Semantic {
    format: Format,
    /// The learned tree, each token slot inside a string replaced by its
    /// marker ([`SLOT`], or an encoded slot's).
    learned: Value,
    /// The learned strings that hold slots, read as patterns.
    patterns: HashMap<String, Pattern>,
    /// Fields the writer changes on every write: not compared.
    pub volatile: Vec<String>,
}

/// What the semantic judge made of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// A whole document of this token version.
    Whole(u64),
    /// The parser accepted it, but it is not a whole version: why.
    Differs(String),
    /// The client's parser rejected it.
    Rejected(String),
}

impl Semantic {
    /// The judge of `template`'s documents, ignoring `volatile` fields.
    pub fn new(template: &Template, volatile: Vec<String>) -> Result<Self, String> {
        let sentinel: [u8; TOKEN_LEN] = SENTINEL.as_bytes().try_into().expect("a token's length");
        let render = |p: &Pattern| {
            let mut out = Vec::new();
            p.render_with(&sentinel, &sentinel, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        let mut learned = parse(template.format, render(template.pattern()).as_bytes())?;
        // Each encoded slot, as it reads with the sentinel in it, and its marker.
        let encoded: Vec<(String, String)> = template
            .pattern()
            .slots()
            .iter()
            .filter_map(|s| s.encoded.as_ref())
            .filter_map(|e| {
                let marker = e.marker();
                Pattern::parse(&marker).ok().map(|p| (render(&p), marker))
            })
            .collect();
        mark(&mut learned, &encoded);
        let mut patterns = HashMap::new();
        collect_patterns(&learned, &mut patterns);
        Ok(Self {
            format: template.format,
            learned,
            patterns,
            volatile,
        })
    }

    /// Judges `bytes` (tokens of `codec`).
    pub fn judge(&self, codec: &TokenCodec, bytes: &[u8]) -> Judged {
        let tree = match parse(self.format, bytes) {
            Ok(t) => t,
            Err(e) => return Judged::Rejected(e),
        };
        let mut slots = Slots::default();
        let tree = self.normalize(&tree, Some(&self.learned), codec, &mut slots, "");
        if let Some(path) = slots.broken {
            return Judged::Differs(format!("the token at `{path}` is not whole"));
        }
        if let Some(path) = first_difference(&self.learned, &tree, &self.volatile) {
            return Judged::Differs(format!("`{path}` differs from the writer's learned document"));
        }
        match slots.version {
            Some(Ok(v)) => Judged::Whole(v),
            Some(Err((a, b))) => Judged::Differs(format!("its token slots hold versions {a} and {b}")),
            None => Judged::Differs("no token slot found".into()),
        }
    }

    /// The tree of `bytes` with its token slots (where the learned document
    /// has them) replaced by [`SLOT`]: what [`differences`] compares.
    pub fn normalized(&self, codec: &TokenCodec, bytes: &[u8]) -> Result<Value, String> {
        let tree = parse(self.format, bytes)?;
        Ok(self.normalize(&tree, Some(&self.learned), codec, &mut Slots::default(), ""))
    }

    /// `read` with each string where `learned` has token slots replaced by
    /// the learned string, when its tokens are whole (their versions go to
    /// `slots`).
    fn normalize(
        &self,
        read: &Value,
        learned: Option<&Value>,
        codec: &TokenCodec,
        slots: &mut Slots,
        path: &str,
    ) -> Value {
        match (read, learned) {
            (Value::String(s), Some(Value::String(l))) if self.patterns.contains_key(l) => {
                let pattern = &self.patterns[l];
                match pattern.versions(codec, s.as_bytes()) {
                    Some((v, _)) => {
                        slots.saw(v);
                        Value::String(l.clone())
                    }
                    None => {
                        let segs = pattern.segments();
                        let same_frame = s.as_bytes().starts_with(&segs[0])
                            && s.as_bytes().ends_with(&segs[segs.len() - 1]);
                        if slots.broken.is_none() && same_frame {
                            slots.broken = Some(path.to_string());
                        }
                        read.clone()
                    }
                }
            }
            (Value::Object(m), l) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let lv = l.and_then(|l| l.get(k));
                        (k.clone(), self.normalize(v, lv, codec, slots, &child(path, k)))
                    })
                    .collect(),
            ),
            (Value::Array(a), l) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let lv = l.and_then(|l| l.get(i));
                        self.normalize(v, lv, codec, slots, &child(path, &i.to_string()))
                    })
                    .collect(),
            ),
            _ => read.clone(),
        }
    }
}

/// Every string of `v` that holds a slot marker, read as a pattern.
fn collect_patterns(v: &Value, out: &mut HashMap<String, Pattern>) {
    match v {
        Value::String(s) => {
            if let Ok(p) = Pattern::parse(s)
                && !p.slots().is_empty()
            {
                out.insert(s.clone(), p);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_patterns(v, out)),
        Value::Object(m) => m.values().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

/// Parses `bytes` as the client of `format` would, into one tree.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let first_line = |e: String| e.lines().next().unwrap_or_default().to_string();
    match format {
        Format::Yaml => serde_saphyr::from_str::<Value>(text).map_err(|e| first_line(e.to_string())),
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| first_line(e.to_string())),
        Format::Dotenv => {
            let mut map = Map::new();
            for item in dotenvy::from_read_iter(text.as_bytes()) {
                let (k, v) = item.map_err(|e| e.to_string())?;
                map.insert(k, Value::String(v));
            }
            Ok(Value::Object(map))
        }
        Format::Raw => Err("raw bytes have no parser, so torn cannot judge them by meaning".into()),
        Format::Ini => {
            let conf = ini::Ini::load_from_str(text).map_err(|e| e.to_string())?;
            let mut map = Map::new();
            for (section, props) in conf.iter() {
                let entry = map
                    .entry(section.unwrap_or_default().to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    for (k, v) in props.iter() {
                        m.insert(k.to_string(), Value::String(v.to_string()));
                    }
                }
            }
            Ok(Value::Object(map))
        }
    }
}

/// Replaces each `encoded` sentinel (as it reads, with its marker), then
/// the plain sentinel, in every string of `v` with its marker.
fn mark(v: &mut Value, encoded: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (reads, marker) in encoded {
                if s.contains(reads.as_str()) {
                    *s = s.replace(reads.as_str(), marker);
                }
            }
            if s.contains(SENTINEL) {
                *s = s.replace(SENTINEL, SLOT);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| mark(v, encoded)),
        Value::Object(m) => m.values_mut().for_each(|v| mark(v, encoded)),
        _ => {}
    }
}

/// What the token slots of one read held.
#[derive(Default)]
struct Slots {
    /// The one version every slot held, or two that disagree.
    version: Option<Result<u64, (u64, u64)>>,
    /// The first slot whose token was not whole.
    broken: Option<String>,
}

impl Slots {
    fn saw(&mut self, v: u64) {
        self.version = match self.version {
            None => Some(Ok(v)),
            Some(Ok(prev)) if prev != v => Some(Err((prev, v))),
            other => other,
        };
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether `path` is a volatile field or inside one.
pub fn is_volatile(path: &str, volatile: &[String]) -> bool {
    volatile.iter().any(|v| {
        path == v
            || path
                .strip_prefix(v.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The first path (in key order) where `a` and `b` differ, outside `volatile`.
pub fn first_difference(a: &Value, b: &Value, volatile: &[String]) -> Option<String> {
    let mut out = Vec::new();
    collect(a, b, "", volatile, &mut out, 1);
    out.pop()
}

/// Every path where `a` and `b` differ (at most `limit`), outside `volatile`.
pub fn differences(a: &Value, b: &Value, volatile: &[String], limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    collect(a, b, "", volatile, &mut out, limit);
    out
}

fn collect(a: &Value, b: &Value, path: &str, volatile: &[String], out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || (!path.is_empty() && is_volatile(path, volatile)) {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = child(path, k);
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => collect(u, v, &p, volatile, out, limit),
                    _ if is_volatile(&p, volatile) => {}
                    _ if out.len() < limit => out.push(p),
                    _ => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                collect(u, v, &child(path, &i.to_string()), volatile, out, limit);
            }
        }
        _ if a != b => out.push(if path.is_empty() {
            "(the whole document)".into()
        } else {
            path.into()
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(format: Format, template: &str, key: &str, volatile: &[&str], read: &str) -> Judged {
        let t = Template::new("t", format, key, template).unwrap();
        let s = Semantic::new(&t, volatile.iter().map(|v| v.to_string()).collect()).unwrap();
        let codec = TokenCodec::new(7);
        let read = read
            .replace("{{T5}}", &codec.token(5))
            .replace("{{T6}}", &codec.token(6));
        s.judge(&codec, read.as_bytes())
    }

    #[test]
    fn key_order_and_layout_do_not_matter() {
        let t = "{\"a\": 1, \"env\": {\"K\": \"{{TOKEN}}\", \"B\": [1, 2]}}";
        let read = "{\n  \"env\": {\n    \"B\": [1, 2],\n    \"K\": \"{{T5}}\"\n  },\n  \"a\": 1\n}";
        assert_eq!(judge(Format::Json, t, "env.K", &[], read), Judged::Whole(5));
    }

    #[test]
    fn volatile_fields_are_ignored_and_others_are_not() {
        let t = "updated_at: '2026-01-01'\nmodel:\n  api_key: {{TOKEN}}\n";
        let read = "model:\n  api_key: {{T5}}\nupdated_at: '2026-05-05T10:00:00'\n";
        assert_eq!(
            judge(Format::Yaml, t, "model.api_key", &["updated_at"], read),
            Judged::Whole(5)
        );
        assert!(matches!(
            judge(Format::Yaml, t, "model.api_key", &[], read),
            Judged::Differs(why) if why.contains("`updated_at`")
        ));
    }

    #[test]
    fn torn_and_mixed_tokens_are_not_whole() {
        let t = "[default]\ntoken = \"{{TOKEN}}\"\nalso = \"x-{{TOKEN}}\"\n";
        let ok = "[default]\nalso = \"x-{{T5}}\"\ntoken = \"{{T5}}\"\n";
        assert_eq!(judge(Format::Toml, t, "default.token", &[], ok), Judged::Whole(5));
        let mixed = "[default]\nalso = \"x-{{T6}}\"\ntoken = \"{{T5}}\"\n";
        assert!(
            matches!(judge(Format::Toml, t, "default.token", &[], mixed), Judged::Differs(w) if w.contains("hold versions"))
        );
        let codec = TokenCodec::new(7);
        let cut = ok.replace("{{T5}}", &codec.token(5)[..30]);
        let tmpl = Template::new("t", Format::Toml, "default.token", t).unwrap();
        let s = Semantic::new(&tmpl, vec![]).unwrap();
        assert!(matches!(s.judge(&codec, cut.as_bytes()), Judged::Differs(w) if w.contains("not whole")));
        assert!(matches!(s.judge(&codec, b"[default\n"), Judged::Rejected(_)));
    }

    #[test]
    fn dotenv_and_ini_are_tables() {
        let t = "# c\nA=1\nKEY={{TOKEN}}\n";
        assert_eq!(
            judge(Format::Dotenv, t, "KEY", &[], "KEY=\"{{T6}}\"\nA='1'\n"),
            Judged::Whole(6)
        );
        let t = "[DEFAULT]\nhost  = h\ntoken = {{TOKEN}}\n";
        assert_eq!(
            judge(
                Format::Ini,
                t,
                "DEFAULT.token",
                &[],
                "[DEFAULT]\ntoken = {{T6}}\nhost = h\n\n"
            ),
            Judged::Whole(6)
        );
        assert!(matches!(
            judge(Format::Ini, t, "DEFAULT.token", &[], "[DEFAULT]\ntoken = {{T6}}\n"),
            Judged::Differs(w) if w.contains("DEFAULT.host")
        ));
    }

    #[test]
    fn volatile_paths_cover_their_subtrees() {
        let v = vec!["meta".to_string(), "a.b".to_string()];
        assert!(is_volatile("meta", &v) && is_volatile("meta.at", &v) && is_volatile("a.b.0", &v));
        assert!(!is_volatile("metadata", &v) && !is_volatile("a", &v));
    }

    #[test]
    fn encoded_slots_are_judged_inside_their_strings() {
        use base64::Engine as _;
        let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        let t = "{\"at\": 1, \"auth\": \"{{base64:ci:{{TOKEN}}}}\"}";
        let codec = TokenCodec::new(7);
        let read = |v: u64, at: u32| {
            format!(
                "{{\"auth\": \"{}\", \"at\": {at}}}",
                b64(format!("ci:{}", codec.token(v)))
            )
        };
        let tmpl = Template::new("t", Format::Json, "auth", t).unwrap();
        let s = Semantic::new(&tmpl, vec!["at".into()]).unwrap();
        assert_eq!(s.judge(&codec, read(5, 2).as_bytes()), Judged::Whole(5));
        let other_frame = format!(
            "{{\"auth\": \"{}\", \"at\": 3}}",
            b64(format!("cj:{}", codec.token(5)))
        );
        assert!(matches!(
            s.judge(&codec, other_frame.as_bytes()),
            Judged::Differs(_)
        ));
    }
}
