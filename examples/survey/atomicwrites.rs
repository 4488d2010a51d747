//! The `atomicwrites` crate as a line-protocol writer of a Codex `.env`,
//! for `harness/survey.sh`: `AtomicFile::new(path, AllowOverwrite).write(..)`
//! (a temp file in the same directory, fsync, rename, directory fsync).
//!
//! `cargo run --example survey_atomicwrites -- PATH`, one token per line in.

use std::io::{BufRead, Write};

use atomicwrites::{AtomicFile, OverwriteBehavior::AllowOverwrite};

fn update(path: &str, token: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let new: String = text
        .lines()
        .map(|l| match l.starts_with("OPENAI_API_KEY=") {
            true => format!("OPENAI_API_KEY={token}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    AtomicFile::new(path, AllowOverwrite)
        .write(|f| f.write_all(new.as_bytes()))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: survey_atomicwrites PATH");
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
