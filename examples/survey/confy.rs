//! The `confy` crate as a line-protocol writer of a CLI's credentials.toml,
//! for `harness/survey.sh`: `confy::load_path` into a serde struct, set the
//! token, `confy::store_path` (TOML, its own layout; fields the struct does
//! not know are dropped on the first write).
//!
//! `cargo run --example survey_confy -- PATH`, one token per line in.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(default)]
    default: Profile,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Profile {
    #[serde(default)]
    host: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    auth_type: String,
}

fn update(path: &str, token: &str) -> Result<(), confy::ConfyError> {
    let mut creds: Credentials = confy::load_path(path)?;
    creds.default.token = token.to_string();
    confy::store_path(path, creds)
}

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: survey_confy PATH");
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        match update(&path, line?.trim()) {
            Ok(()) => writeln!(out, "ok")?,
            Err(e) => writeln!(out, "err {}", e.to_string().replace('\n', " "))?,
        }
        out.flush()?;
    }
    Ok(())
}
