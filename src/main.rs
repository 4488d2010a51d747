//! The `torn` binary: parse, dispatch, map errors to documented exit codes.

mod cli;

use std::sync::atomic::Ordering;

use clap::Parser;
use clap::error::ErrorKind;

use torn::exit;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            std::process::exit(exit::OK);
        }
        Err(e) => {
            match from_environment(&e) {
                Some((arg, var)) => eprint!(
                    "{}",
                    e.render().to_string().replacen(
                        &format!("for '{arg}'"),
                        &format!("for '{arg}' (from the environment variable {var})"),
                        1
                    )
                ),
                None => {
                    let _ = e.print();
                }
            }
            std::process::exit(exit::USAGE_ERROR);
        }
    };
    if cli.command.runs_cases() {
        // Before any thread exists: a parent that cleans up if this process dies.
        torn::guard::supervisor::split();
        report_leftovers(cli.quiet);
        install_signal_handler();
    }
    let code = match cli::dispatch(cli) {
        Ok(code) => code,
        // The reader of our stdout went away (`torn list --json | head -1`):
        // nothing left to say, and no one to say it to.
        Err(e) if is_broken_pipe(&e) => exit::OK,
        // A tool the scenario needs is not installed: said as a skip, not an error.
        Err(e) if e.chain().any(|c| c.is::<torn::scenario::Skipped>()) => {
            eprintln!("torn: {e:#}");
            exit::SKIPPED
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            exit_code_for(&e)
        }
    };
    std::process::exit(code);
}

/// The environment variable a bad value came from, when it did not come
/// from the command line: clap's message names only the flag.
fn from_environment(e: &clap::Error) -> Option<(String, String)> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue};
    let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) =
        (e.get(ContextKind::InvalidArg), e.get(ContextKind::InvalidValue))
    else {
        return None;
    };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let given = std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    if given {
        return None;
    }
    let cmd = cli::Cli::command();
    let mut all = vec![&cmd];
    all.extend(cmd.get_subcommands());
    all.iter()
        .flat_map(|c| c.get_arguments())
        .filter(|a| a.get_long() == Some(long))
        .filter_map(|a| a.get_env())
        .map(|var| var.to_string_lossy().into_owned())
        .find(|var| std::env::var(var).is_ok_and(|v| v == *value))
        .map(|var| (arg.clone(), format!("{var}={value}")))
}

/// First Ctrl-C, SIGTERM or SIGHUP: stop the run, clean up, report what was
/// measured. Second: undo everything now (processes, faults, scratch) and
/// exit. One signal that arrives both directly and through the supervisor
/// (sent to the process group) counts once: see `torn::guard::signals`.
fn install_signal_handler() {
    torn::guard::signals::install(
        torn::guard::supervisor::supervisor_pid(),
        || cli::CANCEL.store(true, Ordering::SeqCst),
        || {
            for (entry, r) in torn::guard::journal::undo_all() {
                if let Err(e) = r {
                    eprintln!("torn: could not clean up {}: {e}", entry.describe());
                }
            }
            std::process::exit(exit::INTERRUPTED);
        },
    );
}

/// Says, once per run, what dead runs left behind (`torn clean` removes it),
/// and what torn refused to trust (a journal directory someone else made).
fn report_leftovers(quiet: bool) {
    let found = torn::guard::clean::scan();
    for why in found.refused.iter().take(5) {
        eprintln!("torn: not trusted, left alone: {why}");
    }
    if quiet || found.leftovers.is_empty() {
        return;
    }
    eprintln!(
        "torn: {} leftover(s) of runs that were killed; `torn clean` removes them:",
        found.leftovers.len()
    );
    for l in found.leftovers.iter().take(5) {
        eprintln!("  {}", l.describe());
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Configuration mistakes (and a trace that cannot be crashed, or a
/// recording this build cannot make) are usage errors; anything else is I/O.
fn exit_code_for(e: &anyhow::Error) -> i32 {
    // Whatever failed after a stop signal failed because of it.
    if torn::guard::signals::stop_requested()
        || e.chain()
            .any(|c| matches!(c.downcast_ref(), Some(torn::crash::CrashError::Interrupted)))
    {
        return exit::INTERRUPTED;
    }
    // The writer under test failed (it was killed, hung, answered garbage).
    if e.chain().any(|c| {
        matches!(
            c.downcast_ref(),
            Some(torn::crash::record::RecordError::Subject(..))
        )
    }) {
        return exit::SUBJECT_ERROR;
    }
    let config = e.chain().any(|c| {
        c.is::<torn::scenario::ScenarioError>()
            || c.is::<torn::format::TemplateError>()
            || matches!(
                c.downcast_ref(),
                Some(
                    torn::scratch::ScratchError::NotOurs(_)
                        | torn::scratch::ScratchError::CaseNotOurs(..)
                        | torn::scratch::ScratchError::NotADirectory(_)
                        | torn::scratch::ScratchError::Untrusted(..)
                        | torn::scratch::ScratchError::InUse(..)
                )
            )
            || c.is::<torn::crash::input::InputError>()
            || c.is::<torn::crash::TraceError>()
            || matches!(c.downcast_ref(), Some(torn::crash::CrashError::Trace(_)))
            || matches!(
                c.downcast_ref(),
                Some(torn::crash::record::RecordError::Unavailable(_))
            )
    });
    if config { exit::USAGE_ERROR } else { exit::IO_ERROR }
}
