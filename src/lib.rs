//! torn: proves, with numbers, whether a way of rewriting a file is safe for
//! the programs reading it at the same time.
//!
//! The pieces, in the order data flows through a run (internals of the
//! `torn` binary, hidden from these docs and free to change):
//! - [`token`]: fixed-length tokens that encode their version and a check value;
//! - [`format`]: realistic templates with token slots and the client-side parse;
//! - [`classify`]: the outcome of one read (`ok`, `stale`, `empty`, `torn`, ...);
//! - [`shape`]: an external writer's own template, learned from its warm-up writes;
//! - [`strategy`]: the built-in ways of rewriting a file, one file each;
//! - [`engine`]: writer and reader threads, exposure, counters, evidence;
//! - [`stats`]: rates and exact Clopper–Pearson bounds;
//! - [`scenario`]: scenario files (YAML) describing a run;
//! - [`report`]: the run's result as JSON, Markdown and a terminal table;
//! - [`crash`]: the states a power cut during a traced write could leave,
//!   under a persistence model, each judged like a read.
//!
//! The library's public face is [`api`]: gate your own write function from
//! a test. The writer runs in a fresh process (this binary, run again) that
//! the `torn` binary drives and traces; the verdict is what `torn gate`
//! prints, and [`api::GateResult::check`] panics with it.
//!
//! ```standalone_crate
//! use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::{fs, io, io::Write, path::Path};
//!
//! /// Installs `token` in place of every token in the file: a new temp file
//! /// in the same directory with the target's mode, fsync, rename over it.
//! fn write_config(path: &Path, token: &str) -> io::Result<()> {
//!     static WRITES: AtomicU64 = AtomicU64::new(0);
//!     let old = fs::read_to_string(path)?;
//!     let mut new = String::new();
//!     let mut rest = old.as_str();
//!     while let Some(i) = rest.find("dapi") {
//!         new.push_str(&rest[..i]);
//!         new.push_str(token);
//!         rest = &rest[(i + token.len()).min(rest.len())..];
//!     }
//!     new.push_str(rest);
//!     let n = WRITES.fetch_add(1, Ordering::Relaxed);
//!     let tmp = path.with_file_name(format!(".config.{}.{n}.tmp", std::process::id()));
//!     let mode = fs::metadata(path)?.permissions().mode();
//!     let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
//!     f.write_all(new.as_bytes())?;
//!     f.sync_all()?;
//!     fs::rename(&tmp, path)
//! }
//!
//! # let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
//! # let torn = Path::new(&dir).join("debug/torn");
//! # if !torn.exists() { return; } // built by `cargo test` before the doctests
//! let verdict = torn::gate!(write_config)
//!     .format("yaml")
//!     .template("hermes")
//!     .target(".hermes/config.yaml")
//!     .flag("min-windows", 30)
//!     .flag("control", "300ms")
//! #   .torn_bin(&torn)
//!     .run();
//! verdict.check(); // panics with the verdict unless it passed
//! assert_eq!(verdict.status, "pass");
//! ```

pub mod api;

#[doc(hidden)]
pub mod bench;
#[doc(hidden)]
pub mod case;
#[doc(hidden)]
pub mod classify;
#[doc(hidden)]
pub mod client;
#[doc(hidden)]
pub mod crash;
#[doc(hidden)]
pub mod engine;
#[doc(hidden)]
pub mod envinfo;
#[doc(hidden)]
pub mod exit;
#[doc(hidden)]
pub mod format;
#[doc(hidden)]
pub mod gate;
#[doc(hidden)]
pub mod guard;
#[doc(hidden)]
pub mod limits;
#[doc(hidden)]
pub mod matrix;
#[doc(hidden)]
pub mod numbers;
#[doc(hidden)]
pub mod report;
#[doc(hidden)]
pub mod run;
#[doc(hidden)]
pub mod scenario;
#[doc(hidden)]
pub mod scratch;
#[doc(hidden)]
pub mod shape;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod strategy;
#[doc(hidden)]
pub mod subject;
#[doc(hidden)]
pub mod token;
#[doc(hidden)]
pub mod trace;
