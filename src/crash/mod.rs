//! Crash states: what a power cut at any point of a writer's trace could
//! leave on disk, and whether the target survives it.
//!
//! The pipeline follows ALICE (Pillai et al., OSDI 2014):
//! 1. [`ops`]: the trace as logical operations on inodes and names;
//! 2. [`model`]: the persistence model cuts them into pieces that reach
//!    disk independently and says which must precede which, and which a
//!    barrier (`fsync`) forces;
//! 3. [`enumerate`]: at each crash point (after each traced event), every
//!    set of pieces the model allows, generated lazily, bounded, sampled
//!    with a seed when there are too many;
//! 4. [`disk`] + [`materialize`]: each set becomes a directory tree, hashed
//!    to skip duplicates, and built for real in a scratch directory;
//! 5. [`check`]: the target is read and classified as a reader would, held
//!    against the versions the writer acknowledged before the crash point,
//!    and the directory searched for litter.
//!
//! [`explore`] runs it all and returns a [`CrashReport`], which tells each
//! finding as the pieces that reached disk ([`describe`]).
//!
//! Where a trace comes from: [`input`] (trace files for `torn crash
//! --trace`), [`record`] (built-in strategies, once recorded in process),
//! `shapes` (hand-built traces for tests).

pub mod check;
pub mod describe;
pub mod disk;
pub mod enumerate;
pub mod input;
pub mod materialize;
pub mod model;
pub mod ops;
pub mod powercut;
pub mod record;
mod report;
#[doc(hidden)]
pub mod shapes;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use rand::SeedableRng;

pub use check::CrashOutcome;
pub use enumerate::Limits;
pub use model::Model;
pub use ops::{InitialFile, TraceError};
pub use report::{CrashReport, CrashStatus, CrashVerdict, Offending, Step, render};

use crate::classify::Classifier;
use crate::trace::Event;
use check::Seen;
use disk::Image;
use enumerate::Space;
use ops::Logical;

/// Why an exploration could not finish. None of these is a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CrashError {
    /// The trace cannot be turned into crash states.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A stop signal arrived: the exploration ended early.
    #[error("interrupted: crash exploration stopped by a signal")]
    Interrupted,
    /// Building, reading or removing a state failed (ENOSPC, EACCES, ...).
    #[error("crash state {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What one exploration judges.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The writer's events, in trace order.
    pub trace: &'a [Event],
    /// The file under test (absolute, as in the trace).
    pub target: &'a Path,
    /// Files that exist, durably, before the trace (usually the target
    /// holding version 0).
    pub initial: &'a [InitialFile],
    /// `(version, ack_ns)`: when the writer acknowledged each version (its
    /// write call returned), on the trace's clock.
    pub acks: &'a [(u64, u64)],
}

/// Distinct states whose reading is remembered, so a state seen at several
/// crash points is built once (bounded: memory stays flat).
const SEEN_CACHE: usize = 4096;

/// Explores every crash state `model` allows at every crash point of
/// `input.trace`, builds each in a fresh directory under `scratch` (which
/// must exist, on the file system under test), and judges it with
/// `classifier`.
///
/// A version counts as acknowledged at the crash point after event *k* when
/// its `ack_ns` is no later than the start of event *k+1* (a crash can come
/// at any instant before the next call; the trace's last crash point counts
/// every acknowledgement).
pub fn explore(
    input: &Input<'_>,
    model: Model,
    limits: Limits,
    scratch: &Path,
    classifier: &Classifier,
    seed: u64,
) -> Result<CrashReport, CrashError> {
    let l = Logical::from_trace(input.trace, input.target, input.initial)?;
    let micros = model.plan(&l);
    let target_rel = input
        .target
        .strip_prefix(&l.root)
        .expect("root is the target's parent");
    let before: BTreeSet<PathBuf> = Image::initial(&l)
        .below(&l.root)
        .map(|(p, _)| p.to_path_buf())
        .collect();
    let state_dir = scratch.join(format!("crash-state-{}", std::process::id()));
    // Left over by a run that was killed while a state stood.
    materialize::remove_tree(&state_dir).map_err(|source| CrashError::Io {
        path: state_dir.clone(),
        source,
    })?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut r = report::Builder::new(&l, input, model, limits, seed, micros.len());
    let mut cache: HashMap<u64, Seen> = HashMap::new();
    let mut at_point: HashSet<u64> = HashSet::new();
    let mut remaining = limits.total;
    // Pieces synced at every crash point from here on, and before every
    // unsynced one, are folded into `durable` once: a long trace with
    // regular fsyncs costs what its unsynced tail costs.
    let mut durable = Image::initial(&l);
    let mut first = 0;
    let mut upto = 0;
    let n = input.trace.len();
    for k in 0..n {
        while upto < micros.len() && micros[upto].event <= k {
            upto += 1;
        }
        while first < upto && micros[first].synced_at.is_some_and(|e| e <= k) {
            durable.apply(&l, &micros[first]);
            first += 1;
        }
        let bound = input.trace.get(k + 1).map_or(u64::MAX, |e| e.start_ns);
        let acked = input
            .acks
            .iter()
            .filter(|(_, ns)| *ns <= bound)
            .map(|(v, _)| *v)
            .max();
        let budget = limits.per_point.min(remaining / (n - k) as u64).max(1);
        let pieces = &micros[..upto];
        let space = Space::new(pieces, first, k);
        at_point.clear();
        let coverage = enumerate::each(&space, budget, &mut rng, |chosen| {
            // Polled per state: a state takes milliseconds to build.
            if crate::guard::signals::stop_requested() {
                return Err(CrashError::Interrupted);
            }
            let img = durable.with(&l, &pieces[first..], chosen);
            let h = img.hash(&l);
            if !at_point.insert(h) {
                return Ok(());
            }
            let seen = match cache.get(&h) {
                Some(s) => s.clone(),
                None => {
                    let built = materialize::build(&img, &l, &state_dir)?;
                    let seen = check::read_state(built.dir(), target_rel, &before, classifier)?;
                    built.remove()?;
                    r.built += 1;
                    if cache.len() >= SEEN_CACHE {
                        cache.clear();
                    }
                    cache.insert(h, seen.clone());
                    seen
                }
            };
            let outcome = check::judge(&seen, acked, l.target_initially || acked.is_some());
            r.record(k, &space, chosen, &seen, outcome, acked);
            Ok::<(), CrashError>(())
        })?;
        remaining = remaining.saturating_sub(coverage.generated);
        r.cover(coverage);
    }
    Ok(r.finish())
}

/// The initial state most runs start from: `target` holding `bytes`, mode 0600.
pub fn initial_target(target: &Path, bytes: &[u8]) -> Vec<InitialFile> {
    vec![InitialFile {
        path: target.to_path_buf(),
        data: bytes.to_vec(),
        mode: 0o600,
    }]
}

/// Counts per outcome, every outcome present (a stable JSON shape).
fn zero_counts() -> BTreeMap<CrashOutcome, u64> {
    CrashOutcome::ALL.iter().map(|&o| (o, 0)).collect()
}

#[cfg(test)]
mod tests;
