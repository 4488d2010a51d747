//! `tempfile::NamedTempFile::new_in(dir)` then `persist(path)` as a
//! line-protocol writer of a Codex `.env`, for `harness/survey.sh`: the
//! common Rust idiom for an atomic replace (a unique temp file in the same
//! directory, renamed over the target; no fsync, mode 0600).
//!
//! `cargo run --example survey_tempfile_persist -- PATH`, one token per line in.

use std::io::{BufRead, Write};
use std::path::Path;

fn update(path: &str, token: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let new: String = text
        .lines()
        .map(|l| match l.starts_with("OPENAI_API_KEY=") {
            true => format!("OPENAI_API_KEY={token}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    let dir = Path::new(path).parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(new.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .expect("usage: survey_tempfile_persist PATH");
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        match update(&path, line?.trim()) {
            Ok(()) => writeln!(out, "ok")?,
            Err(e) => writeln!(out, "err {e}")?,
        }
        out.flush()?;
    }
    Ok(())
}
