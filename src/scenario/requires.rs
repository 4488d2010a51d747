//! `requires:` — the commands a scenario runs (a real tool as the writer,
//! its client as the external reader). A scenario whose commands are not
//! installed is skipped, with a message naming them and a distinct exit code
//! ([`crate::exit::SKIPPED`]), never run into a subject error.

use std::path::{Path, PathBuf};

/// A scenario that cannot run here: a command it requires is not installed.
#[derive(Debug, thiserror::Error)]
#[error("{}", skipped_message(scenario, missing, hint.as_deref()))]
pub struct Skipped {
    pub scenario: String,
    /// The commands not found, in the scenario's order.
    pub missing: Vec<String>,
    /// Where to get them, when torn knows (built-in scenarios).
    pub hint: Option<String>,
}

fn skipped_message(scenario: &str, missing: &[String], hint: Option<&str>) -> String {
    let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
    let (what, verb) = if missing.len() == 1 {
        ("a command", "is")
    } else {
        ("commands", "are")
    };
    let mut s = format!(
        "skipped: scenario {scenario} needs {what} that {verb} not installed: {} (not found on PATH); nothing ran",
        names.join(", ")
    );
    if let Some(h) = hint {
        s.push_str("; ");
        s.push_str(h);
    }
    s
}

/// Why a `requires:` entry is not a command name.
pub fn entry_problem(entry: &str) -> Option<String> {
    if entry.trim().is_empty() {
        Some("an entry is empty: list command names, e.g. `[npm, node]`".into())
    } else if entry.chars().any(char::is_whitespace) {
        Some(format!(
            "`{entry}` is not a command name (it has a space): list the commands alone, e.g. `npm`, not `npm config set`"
        ))
    } else {
        None
    }
}

/// Reads a `requires:` list, refusing an entry that is not a command name
/// where it stands (the error carries the file's line and column).
pub fn commands<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = <Vec<String> as serde::Deserialize>::deserialize(d)?;
    if let Some(problem) = list.iter().find_map(|c| entry_problem(c)) {
        return Err(serde::de::Error::custom(format!("`requires`: {problem}")));
    }
    Ok(list)
}

/// Where `command` would run from: itself if it holds a `/`, else the first
/// executable file of that name on `path` (a `PATH` value).
pub fn find(command: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if command.contains('/') {
        let p = PathBuf::from(command);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(command))
        .find(|p| executable(p))
}

/// The commands of `required` not found on `path`.
pub fn missing(required: &[String], path: Option<&std::ffi::OsStr>) -> Vec<String> {
    required
        .iter()
        .filter(|c| find(c, path).is_none())
        .cloned()
        .collect()
}
