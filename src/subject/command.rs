//! The per-write command: `--writer-cmd 'python3 rotate.py {token}'`.
//!
//! For every version torn runs the command once, with `{token}`, `{path}` and
//! `{home}` substituted and `HOME` set to the scratch home. The write is
//! committed when the command exits 0. A non-zero exit is a reported write
//! error; a command that never succeeds, is killed by a signal, or outlives
//! the per-write timeout is a broken subject.

use std::process::Stdio;
use std::sync::Arc;

use super::process::{self, argv, spawn, wait_or_kill};
use super::{ExternalSpec, Subject, SubjectWriter, WriteFailure, WriterCtx};
use crate::strategy::{Expect, Setup};
use crate::trace::Recording;

/// Failures in a row, with no write ever committed, after which the writer
/// is judged unable to work at all.
const HOPELESS: u32 = 3;

pub struct PerWriteCommand(pub ExternalSpec);

impl PerWriteCommand {
    fn writer<'a>(
        &'a self,
        ctx: &WriterCtx,
        trace: Option<Arc<Recording>>,
    ) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        argv(&self.0, "", ctx)?;
        Ok(Box::new(Writer {
            spec: &self.0,
            ctx: ctx.clone(),
            failures: 0,
            committed: 0,
            trace,
        }))
    }
}

impl Subject for PerWriteCommand {
    fn name(&self) -> String {
        format!("writer-cmd: {}", self.0.command)
    }

    fn start<'a>(&'a self, ctx: &WriterCtx) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        self.writer(ctx, None)
    }

    fn start_traced<'a>(
        &'a self,
        ctx: &WriterCtx,
        rec: Arc<Recording>,
    ) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        self.writer(ctx, Some(rec))
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Clean
    }
}

struct Writer<'a> {
    spec: &'a ExternalSpec,
    ctx: WriterCtx,
    failures: u32,
    committed: u64,
    /// Every process of every write is traced into this.
    trace: Option<Arc<Recording>>,
}

impl SubjectWriter for Writer<'_> {
    fn write(&mut self, token: &str, _bytes: &[u8]) -> Result<(), WriteFailure> {
        let argv = argv(self.spec, token, &self.ctx).map_err(WriteFailure::Broken)?;
        let log = process::stderr_path(&self.ctx);
        let mut child = spawn(
            &argv,
            &self.ctx,
            Stdio::null,
            Stdio::null,
            &log,
            self.trace.as_ref(),
        )
        .map_err(WriteFailure::Broken)?;
        let Some(status) = wait_or_kill(&mut child, self.spec.timeout) else {
            return Err(WriteFailure::Broken(format!(
                "a write took longer than {:?}: the writer hung and was killed",
                self.spec.timeout
            )));
        };
        if status.success() {
            self.committed += 1;
            self.failures = 0;
            return Ok(());
        }
        if status.code().is_none() {
            return Err(WriteFailure::Broken(format!(
                "the writer crashed: {}",
                process::describe(status)
            )));
        }
        self.failures += 1;
        if self.committed == 0 && self.failures >= HOPELESS {
            return Err(WriteFailure::Broken(format!(
                "the writer failed its first {HOPELESS} writes ({}) and never committed one",
                process::describe(status)
            )));
        }
        Err(WriteFailure::Reported(process::describe(status)))
    }

    fn finish(self: Box<Self>) -> Option<String> {
        process::stderr_tail(&process::stderr_path(&self.ctx))
    }
}
