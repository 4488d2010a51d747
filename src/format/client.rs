//! What a real client makes of the bytes it read.

use serde_json::Value;

use super::{Format, KeyPart};

/// The client's view of one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientView {
    /// The parser accepted the document and the key holds this string.
    Token(String),
    /// The parser accepted the document but the key is absent or not a string:
    /// the client would run without a token.
    NoToken(String),
    /// The parser rejected the document (syntax error, not UTF-8).
    Rejected(String),
}

impl ClientView {
    /// Whether the client's parser accepted the bytes.
    pub fn parseable(&self) -> bool {
        !matches!(self, ClientView::Rejected(_))
    }

    /// The token the client would send, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            ClientView::Token(t) => Some(t),
            _ => None,
        }
    }
}

/// The client of `format` reads `bytes` and takes the value at `key`. Raw
/// bytes have no parser: see [`super::Template::client_view`].
pub(super) fn view(format: Format, bytes: &[u8], key: &str) -> ClientView {
    if format == Format::Raw {
        return ClientView::NoToken("raw bytes have no parser".into());
    }
    let parts = match super::KeyPart::parse(key) {
        Ok(p) => p,
        Err(e) => return ClientView::NoToken(format!("the client key {e}")),
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return ClientView::Rejected(format!("not UTF-8: {e}")),
    };
    match format {
        Format::Yaml => match serde_saphyr::from_str::<Value>(text) {
            Ok(v) => lookup(&v, key, &parts),
            Err(e) => ClientView::Rejected(first_line(&e.to_string())),
        },
        Format::Json => match serde_json::from_str::<Value>(text) {
            Ok(v) => lookup(&v, key, &parts),
            Err(e) => ClientView::Rejected(e.to_string()),
        },
        Format::Dotenv => dotenv(text, key),
        Format::Ini => ini(text, &parts),
        Format::Toml => match toml::from_str::<Value>(text) {
            Ok(v) => lookup(&v, key, &parts),
            Err(e) => ClientView::Rejected(first_line(&e.to_string())),
        },
        Format::Raw => unreachable!("handled above"),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn lookup(root: &Value, key: &str, parts: &[KeyPart]) -> ClientView {
    let mut v = root;
    for part in parts {
        let next = match (part, v) {
            (KeyPart::Index(i), _) => v.get(i),
            // `users.0` indexes a list too.
            (KeyPart::Name(n), Value::Array(a)) => n.parse::<usize>().ok().and_then(|i| a.get(i)),
            (KeyPart::Name(n), _) => v.get(n),
        };
        match next {
            Some(next) => v = next,
            None => return ClientView::NoToken(format!("no `{key}` in the document")),
        }
    }
    match v {
        Value::String(s) => ClientView::Token(s.clone()),
        other => ClientView::NoToken(format!("`{key}` is {other}, not a string")),
    }
}

fn dotenv(text: &str, key: &str) -> ClientView {
    // A quoted key names the variable as is.
    let parsed = KeyPart::parse(key);
    let key = match parsed.as_deref() {
        Ok([KeyPart::Name(n)]) => n.as_str(),
        _ => key,
    };
    let mut found = None;
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((k, v)) if k == key => found = Some(v),
            Ok(_) => {}
            Err(e) => return ClientView::Rejected(e.to_string()),
        }
    }
    match found {
        Some(v) => ClientView::Token(v),
        None => ClientView::NoToken(format!("no `{key}=` line")),
    }
}

/// `section.name`, or a bare `name`: in the keys before any section, else
/// in `[DEFAULT]`.
fn ini(text: &str, parts: &[KeyPart]) -> ClientView {
    let conf = match ini::Ini::load_from_str(text) {
        Ok(c) => c,
        Err(e) => return ClientView::Rejected(e.to_string()),
    };
    let (sections, name): (&[Option<&str>], &str) = match parts {
        [KeyPart::Name(n)] => (&[None, Some("DEFAULT")], n),
        [KeyPart::Name(s), KeyPart::Name(n)] => (&[Some(s.as_str())], n),
        _ => return ClientView::NoToken("an INI key is `section.name` or `name`".into()),
    };
    match sections
        .iter()
        .find_map(|&s| conf.section(s).and_then(|p| p.get(name)))
    {
        Some(v) => ClientView::Token(v.to_string()),
        None => ClientView::NoToken(match sections {
            [Some(s)] => format!("no `{name}` in [{s}]"),
            _ => format!("no `{name}` before any section or in [DEFAULT]"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_prefix_that_cuts_the_token_still_parses() {
        let v = view(Format::Yaml, b"model:\n  api_key: dapi01", "model.api_key");
        assert_eq!(v, ClientView::Token("dapi01".into()));
    }

    #[test]
    fn json_prefix_is_rejected() {
        let v = view(Format::Json, b"{\"env\": {\"A\": \"x", "env.A");
        assert!(!v.parseable());
    }

    #[test]
    fn dotenv_and_ini_find_their_keys() {
        assert_eq!(
            view(Format::Dotenv, b"A=1\nKEY=tok\n", "KEY"),
            ClientView::Token("tok".into())
        );
        assert_eq!(
            view(Format::Ini, b"[DEFAULT]\ntoken = tok\n", "DEFAULT.token"),
            ClientView::Token("tok".into())
        );
        assert!(matches!(
            view(Format::Ini, b"[DEFAULT]\nhost = h\n", "DEFAULT.token"),
            ClientView::NoToken(_)
        ));
    }

    #[test]
    fn toml_tables_and_prefixes() {
        let doc = b"[default]\nhost = \"h\"\ntoken = \"tok\"\n";
        assert_eq!(
            view(Format::Toml, doc, "default.token"),
            ClientView::Token("tok".into())
        );
        // A prefix that cuts the token's string is rejected; one that cuts
        // the line before it parses without a token.
        assert!(!view(Format::Toml, &doc[..doc.len() - 3], "default.token").parseable());
        assert!(matches!(
            view(Format::Toml, &doc[..20], "default.token"),
            ClientView::NoToken(_)
        ));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert!(!view(Format::Yaml, &[0xff, 0xfe], "a").parseable());
    }
}
