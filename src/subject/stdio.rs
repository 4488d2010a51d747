//! The persistent line protocol: `--writer-stdio 'python3 rotate_server.py'`.
//!
//! torn starts the program once per writer and sends one token per line on
//! its stdin; the program answers one line per token on stdout: `ok` once the
//! new token is in the file, or `err <message>` if it could not write it. The
//! write is committed when `ok` arrives. No answer within the timeout,
//! anything else on stdout, or the program exiting makes a broken subject.

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
        }))
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Clean
    }
}

struct Writer {
    timeout: Duration,
    child: LineChild,
}

impl SubjectWriter for Writer {
    fn write(&mut self, token: &str, _bytes: &[u8]) -> Result<(), WriteFailure> {
        let answer = self
            .child
            .ask(token, self.timeout)
            .map_err(|s| WriteFailure::Broken(s.to_string()))?;
        match answer.as_str() {
            "ok" => Ok(()),
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
}
