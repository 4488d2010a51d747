//! The persistent line protocol: `--writer-stdio 'python3 rotate_server.py'`.
//!
//! torn starts the program once per writer and sends one token per line on
//! its stdin; the program answers one line per token on stdout: `ok` once the
//! new token is in the file, or `err <message>` if it could not write it. The
//! write is committed when `ok` arrives. No answer within the timeout,
//! anything else on stdout, or the program exiting makes a broken subject.
//!
//! An `ok` may carry notes after ` #`, which older writers never send:
//! `ok # where truncates-target cli_auth.py:97 in _update_hermes` says
//! where in the writer's source the call behind a recipe finding was made
//! (the Python shim sends these). torn keeps the first note per finding and
//! shows it beside the finding the trace found; a note never makes one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::line::LineChild;
use super::process::{argv, stderr_path};
use super::{ExternalSpec, Subject, SubjectWriter, WriteFailure, WriterCtx};
use crate::strategy::{Expect, Setup};
use crate::trace::Recording;

pub struct LineProtocol(pub ExternalSpec);

impl Subject for LineProtocol {
    fn name(&self) -> String {
        format!("writer-stdio: {}", self.0.command)
    }

    fn start<'a>(&'a self, ctx: &WriterCtx) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        let child = LineChild::start(&argv(&self.0, "", ctx)?, ctx, stderr_path(ctx))?;
        Ok(Box::new(Writer {
            timeout: self.0.timeout,
            child,
            sources: BTreeMap::new(),
        }))
    }

    fn start_traced<'a>(
        &'a self,
        ctx: &WriterCtx,
        rec: Arc<Recording>,
    ) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        let child = LineChild::start_traced(&argv(&self.0, "", ctx)?, ctx, stderr_path(ctx), &rec)?;
        Ok(Box::new(Writer {
            timeout: self.0.timeout,
            child,
            sources: BTreeMap::new(),
        }))
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Clean
    }
}

struct Writer {
    timeout: Duration,
    child: LineChild,
    /// The first `# where` note per finding name.
    sources: BTreeMap<String, String>,
}

/// Most findings a writer may name sources for, and the longest note kept.
const MAX_SOURCES: usize = 16;
const MAX_SOURCE_LEN: usize = 300;

/// Reads the notes of an `ok` answer (what follows `ok`): each
/// ` # where FINDING LOCATION` into `sources`, first one per finding kept.
/// Other notes are ignored. `None` if the rest is not notes at all.
fn read_notes(rest: &str, sources: &mut BTreeMap<String, String>) -> Option<()> {
    let rest = rest.strip_prefix(" #")?;
    for note in rest.split(" # ") {
        let Some(w) = note.trim().strip_prefix("where ") else {
            continue;
        };
        let Some((name, location)) = w.trim().split_once(' ') else {
            continue;
        };
        let location = location.trim();
        if location.is_empty() || sources.contains_key(name) || sources.len() >= MAX_SOURCES {
            continue;
        }
        let location: String = location.chars().take(MAX_SOURCE_LEN).collect();
        sources.insert(name.to_string(), location);
    }
    Some(())
}

impl SubjectWriter for Writer {
    fn write(&mut self, token: &str, _bytes: &[u8]) -> Result<(), WriteFailure> {
        let answer = self
            .child
            .ask(token, self.timeout)
            .map_err(|s| WriteFailure::Broken(s.to_string()))?;
        match answer.as_str() {
            "ok" => Ok(()),
            a if a.starts_with("ok #") && read_notes(&a[2..], &mut self.sources).is_some() => Ok(()),
            a if a == "err" || a.starts_with("err ") => Err(WriteFailure::Reported(
                a.trim_start_matches("err").trim().to_string(),
            )),
            a => {
                self.child.kill();
                Err(WriteFailure::Broken(format!(
                    "the writer answered {a:?}; expected `ok` or `err <message>`"
                )))
            }
        }
    }

    fn finish(self: Box<Self>) -> Option<String> {
        self.child.finish()
    }

    fn sources(&self) -> BTreeMap<String, String> {
        self.sources.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_after_ok_name_the_source_of_a_finding_first_one_kept() {
        let mut s = BTreeMap::new();
        read_notes(
            " # where truncates-target cli_auth.py:97 in _update_hermes # other note",
            &mut s,
        )
        .unwrap();
        read_notes(
            " # where truncates-target later.py:1 in f # where removes-target a.py:3 in g",
            &mut s,
        )
        .unwrap();
        assert_eq!(s["truncates-target"], "cli_auth.py:97 in _update_hermes");
        assert_eq!(s["removes-target"], "a.py:3 in g");
        assert_eq!(s.len(), 2);
        assert!(
            read_notes("kay", &mut s).is_none(),
            "`okay` is not `ok` with notes"
        );
    }
}
