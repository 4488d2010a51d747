//! What a real client makes of the bytes it read.

use serde_json::Value;

use super::Format;

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

pub(super) fn view(format: Format, bytes: &[u8], key: &str) -> ClientView {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return ClientView::Rejected(format!("not UTF-8: {e}")),
    };
    match format {
        Format::Yaml => match serde_saphyr::from_str::<Value>(text) {
            Ok(v) => lookup(&v, key),
            Err(e) => ClientView::Rejected(first_line(&e.to_string())),
        },
        Format::Json => match serde_json::from_str::<Value>(text) {
            Ok(v) => lookup(&v, key),
            Err(e) => ClientView::Rejected(e.to_string()),
        },
        Format::Dotenv => dotenv(text, key),
        Format::Ini => ini(text, key),
        Format::Toml => match toml::from_str::<Value>(text) {
            Ok(v) => lookup(&v, key),
            Err(e) => ClientView::Rejected(first_line(&e.to_string())),
        },
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn lookup(root: &Value, key: &str) -> ClientView {
    let mut v = root;
    for part in key.split('.') {
        match v.get(part) {
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

fn ini(text: &str, key: &str) -> ClientView {
    let conf = match ini::Ini::load_from_str(text) {
        Ok(c) => c,
        Err(e) => return ClientView::Rejected(e.to_string()),
    };
    let (section, name) = key.split_once('.').unwrap_or(("DEFAULT", key));
    match conf.section(Some(section)).and_then(|s| s.get(name)) {
        Some(v) => ClientView::Token(v.to_string()),
        None => ClientView::NoToken(format!("no `{name}` in [{section}]")),
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
