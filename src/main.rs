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
            let _ = e.print();
            std::process::exit(exit::USAGE_ERROR);
        }
    };
    // First Ctrl-C: stop the run, clean up, report what was measured.
    // Second: give up at once.
    let _ = ctrlc::set_handler(|| {
        if cli::CANCEL.swap(true, Ordering::SeqCst) {
            std::process::exit(exit::INTERRUPTED);
        }
    });
    let code = match cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            exit_code_for(&e)
        }
    };
    std::process::exit(code);
}

/// Configuration mistakes (and a trace that cannot be crashed, or a
/// recording this build cannot make) are usage errors; anything else is I/O.
fn exit_code_for(e: &anyhow::Error) -> i32 {
    let config = e.chain().any(|c| {
        c.is::<torn::scenario::ScenarioError>()
            || c.is::<torn::format::TemplateError>()
            || matches!(c.downcast_ref(), Some(torn::scratch::ScratchError::NotOurs(_)))
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
