//! `torn man`: one man page per command, generated from the same clap
//! definitions as `--help` (so they cannot drift from it).
//!
//! clap_mangen renders the name, synopsis, description and options; the
//! text after the options (examples, exit codes) is rendered here, in
//! no-fill blocks, because roff would otherwise reflow a command line or a
//! table into one broken paragraph. Every page names only pages that
//! `torn man --dir` writes, and non-ASCII text is written as groff's
//! `\[uXXXX]` escapes, so `groff -man -ww` has nothing to warn about.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

/// The whole command tree, built as `torn --help` sees it, without the
/// `help` pseudo-command (it has no page).
fn built() -> clap::Command {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The commands that get a page of their own, by name.
pub fn commands() -> Vec<String> {
    built()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

/// The page of `torn` (no name) or of `torn NAME`, as roff.
pub fn page(name: Option<&str>) -> anyhow::Result<String> {
    let top = built();
    let cmd = match name {
        None => top.clone(),
        Some(n) => top
            .get_subcommands()
            .find(|s| s.get_name() == n && !s.is_hide_set())
            .cloned()
            .ok_or_else(|| {
                anyhow::Error::new(ManError::NoSuchCommand {
                    name: n.to_string(),
                    known: commands().join(", "),
                })
            })?,
    };
    render(&cmd, name.is_none())
}

/// Writes every page (`torn.1`, `torn-gate.1`, ...) into `dir`; returns their paths.
pub fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for name in std::iter::once(None).chain(commands().into_iter().map(Some)) {
        let file = match &name {
            None => "torn.1".to_string(),
            Some(n) => format!("torn-{n}.1"),
        };
        let path = dir.join(file);
        let text = page(name.as_deref())?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// A name `torn man` does not know.
#[derive(Debug, thiserror::Error)]
pub enum ManError {
    #[error("torn man: there is no command `{name}`; pages: {known}")]
    NoSuchCommand { name: String, known: String },
}

fn render(cmd: &clap::Command, top: bool) -> anyhow::Result<String> {
    let man = clap_mangen::Man::new(cmd.clone()).source(format!("torn {}", env!("CARGO_PKG_VERSION")));
    let mut out: Vec<u8> = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if top {
        // Each command with the page it has (written by `torn man --dir`).
        writeln!(out, ".SH COMMANDS")?;
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            writeln!(
                out,
                ".TP\n\\fBtorn {}\\fR, see \\%\\fBtorn\\-{}\\fR(1)",
                sub.get_name(),
                sub.get_name()
            )?;
            if let Some(about) = sub.get_about() {
                writeln!(out, "{}", text_line(&about.to_string()))?;
            }
        }
    }
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        after_help(&mut out, &after.to_string())?;
    }
    writeln!(out, ".SH \"SEE ALSO\"")?;
    let see: Vec<String> = if top {
        commands()
            .iter()
            .map(|n| format!("\\%\\fBtorn\\-{n}\\fR(1)"))
            .collect()
    } else {
        vec!["\\fBtorn\\fR(1)".to_string()]
    };
    writeln!(out, "{}", see.join(", "))?;
    writeln!(
        out,
        ".PP\nThe README of torn explains every report, outcome and finding; \\fBtorn list\\fR names the built-in strategies, formats, templates and scenarios."
    )?;
    let text = String::from_utf8(out).context("man page")?;
    Ok(ascii(&text))
}

/// The text after the options: blocks headed `Examples:`, `Exit codes:`
/// (or `Exit codes: 0 pass, ...` on one line), each as its own section,
/// laid out exactly as in `--help` (no fill, no adjustment).
fn after_help(out: &mut Vec<u8>, text: &str) -> std::io::Result<()> {
    // Whether the open block is laid out as typed (a list of examples or
    // codes) rather than filled (a sentence after its heading).
    let mut no_fill = false;
    let mut open = false;
    for line in text.lines() {
        if let Some((title, rest)) = heading(line) {
            if no_fill {
                writeln!(out, ".fi\n.in")?;
            }
            writeln!(out, ".SH \"{}\"", title.to_uppercase())?;
            open = true;
            no_fill = rest.is_empty();
            if no_fill {
                writeln!(out, ".nf\n.in 0")?;
            } else {
                writeln!(out, "{}", text_line(rest))?;
            }
            continue;
        }
        if !open {
            writeln!(out, ".SH NOTES\n.nf\n.in 0")?;
            open = true;
            no_fill = true;
        }
        if !no_fill && line.trim().is_empty() {
            writeln!(out, ".PP")?;
        } else {
            writeln!(out, "{}", text_line(line))?;
        }
    }
    if no_fill {
        writeln!(out, ".fi\n.in")?;
    }
    Ok(())
}

/// `Examples:` or `Exit codes: 0 pass, ...`: a block's heading, unindented,
/// and what follows it on its line.
fn heading(line: &str) -> Option<(&str, &str)> {
    if line.starts_with(char::is_whitespace) || !line.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let (title, rest) = line.split_once(':')?;
    (title.len() <= 20 && title.chars().all(|c| c.is_ascii_alphabetic() || c == ' '))
        .then(|| (title, rest.trim()))
}

/// One line of text as roff input: backslashes escaped, and a line that
/// would read as a request (a leading `.` or `'`) made plain.
fn text_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else if escaped.is_empty() {
        // An empty input line is a blank line in no-fill mode, but groff
        // warns about it in fill mode; `\&` is an empty line in both.
        "\\&".to_string()
    } else {
        escaped
    }
}

/// Non-ASCII characters as groff's `\[uXXXX]` escapes: the page reads the
/// same whatever input encoding groff assumes.
fn ascii(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            s.push(c);
        } else {
            s.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_page_and_the_top_page_names_only_those() {
        let top = page(None).unwrap();
        for name in commands() {
            assert!(top.contains(&format!("torn\\-{name}")), "{name}");
            let p = page(Some(&name)).unwrap();
            assert!(p.contains(&format!("\n.TH torn-{name} 1")), "{p}");
        }
        assert!(!commands().iter().any(|c| c == "help" || c.starts_with("__")));
        assert!(page(Some("nope")).is_err());
    }

    #[test]
    fn examples_are_not_reflowed() {
        let p = page(Some("gate")).unwrap();
        assert!(p.contains(".SH \"EXAMPLES\"\n.nf\n.in 0\n"), "{p}");
        assert!(p.contains("\\e\n"), "a line continuation stays a backslash: {p}");
        assert!(p.is_ascii());
    }
}
