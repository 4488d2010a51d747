//! torn: proves, with numbers, whether a way of rewriting a file is safe for
//! the programs reading it at the same time.
//!
//! The pieces, in the order data flows through a run:
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

pub mod bench;
pub mod case;
pub mod classify;
pub mod crash;
pub mod engine;
pub mod envinfo;
pub mod exit;
pub mod format;
pub mod gate;
pub mod guard;
pub mod limits;
pub mod matrix;
pub mod numbers;
pub mod report;
pub mod run;
pub mod scenario;
pub mod scratch;
pub mod shape;
pub mod stats;
pub mod strategy;
pub mod subject;
pub mod token;
pub mod trace;
