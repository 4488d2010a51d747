//! Crash-state enumeration: every set of persisted pieces the model allows
//! at one crash point, generated one at a time, exhaustively when there are
//! few enough and by seeded sampling otherwise.
//!
//! At a crash point, the pieces synced by a barrier are always on disk; each
//! other piece may or may not be, provided every piece it depends on is.
//! Dependencies always point to earlier pieces, so deciding the unsynced
//! pieces in trace order never reaches a dead end: leaving a piece out is
//! always allowed, keeping it is allowed when its dependencies were kept.
//! The allowed sets are the leaves of that binary decision tree.
//!
//! - **Exhaustive**: the leaves in lexicographic order (lost before
//!   persisted), each one from the last by "add one" on the rightmost piece
//!   that can still be switched on. One buffer, O(pieces) per state.
//! - **Sampled**, when the leaves outnumber the budget: each draw walks the
//!   tree from the root keeping each allowed piece with probability ½. The
//!   product of the branching along a walk is an unbiased estimate of the
//!   number of leaves (Knuth, "Estimating the efficiency of backtrack
//!   programs", 1975); the mean over the draws is reported.
//!
//! Memory is flat: one state is alive at a time.

use rand::RngExt;

use super::model::Micro;

/// Bounds on how many states are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Persisted-piece sets generated at one crash point at most.
    pub per_point: u64,
    /// ... and over all crash points of one exploration (spread evenly over
    /// the crash points still to come).
    pub total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_point: 16_384,
            total: 200_000,
        }
    }
}

impl Limits {
    pub fn new(per_point: u64, total: u64) -> Self {
        Self {
            per_point: per_point.max(1),
            total: total.max(1),
        }
    }
}

/// The pieces of one crash point.
pub struct Space<'a> {
    micros: &'a [Micro],
    /// Pieces before this one are synced and come before every unsynced
    /// piece: the caller has applied them already, sets leave them out.
    first: usize,
    /// Pieces not synced at this crash point, in trace order.
    optional: Vec<u32>,
    /// For pieces `first..`: synced set, the rest clear.
    base: Vec<bool>,
}

impl<'a> Space<'a> {
    /// The pieces of `micros` (all from events ≤ `crash_after`), at a crash
    /// after event `crash_after`; the first `first` are synced and applied
    /// by the caller. Sets are indexed from `first`.
    pub fn new(micros: &'a [Micro], first: usize, crash_after: usize) -> Self {
        let synced = |m: &Micro| m.synced_at.is_some_and(|e| e <= crash_after);
        debug_assert!(micros[..first].iter().all(synced));
        Self {
            micros,
            first,
            optional: (first as u32..micros.len() as u32)
                .filter(|&m| !synced(&micros[m as usize]))
                .collect(),
            base: micros[first..].iter().map(synced).collect(),
        }
    }

    /// The pieces of this crash point (sets cover those from [`Space::first`]).
    pub fn micros(&self) -> &'a [Micro] {
        self.micros
    }

    /// The first piece a set covers: `chosen[i]` is about piece `first + i`.
    pub fn first(&self) -> usize {
        self.first
    }

    /// Indices of the pieces that may or may not have persisted.
    pub fn optional(&self) -> &[u32] {
        &self.optional
    }

    fn allowed(&self, chosen: &[bool], m: u32) -> bool {
        self.micros[m as usize]
            .deps
            .iter()
            .all(|&d| (d as usize) < self.first || chosen[d as usize - self.first])
    }

    /// Counts the allowed sets, stopping once there are more than `cap`.
    pub fn count_upto(&self, cap: u64) -> u64 {
        let free = self
            .optional
            .iter()
            .all(|&m| self.micros[m as usize].deps.is_empty());
        if free && self.optional.len() < 63 && 1u64 << self.optional.len() <= cap {
            return 1u64 << self.optional.len();
        }
        let mut it = Exhaustive::new(self);
        let mut n = 0;
        while it.advance() {
            n += 1;
            if n > cap {
                break;
            }
        }
        n
    }
}

/// Every allowed set, one at a time.
pub struct Exhaustive<'s, 'a> {
    space: &'s Space<'a>,
    chosen: Vec<bool>,
    started: bool,
}

impl<'s, 'a> Exhaustive<'s, 'a> {
    pub fn new(space: &'s Space<'a>) -> Self {
        Self {
            space,
            chosen: space.base.clone(),
            started: false,
        }
    }

    /// Moves to the next set; false when there is none.
    pub fn advance(&mut self) -> bool {
        if !self.started {
            self.started = true;
            return true;
        }
        let opt = &self.space.optional;
        for i in (0..opt.len()).rev() {
            let m = opt[i] as usize - self.space.first;
            if !self.chosen[m] && self.space.allowed(&self.chosen, opt[i]) {
                self.chosen[m] = true;
                for &later in &opt[i + 1..] {
                    self.chosen[later as usize - self.space.first] = false;
                }
                return true;
            }
        }
        false
    }

    /// The current set: `chosen[i]` when piece `first + i` persisted.
    pub fn chosen(&self) -> &[bool] {
        &self.chosen
    }
}

/// Draws one allowed set into `chosen`; returns its Knuth weight (the
/// product of the branching along the walk).
pub fn draw<R: rand::Rng>(space: &Space<'_>, rng: &mut R, chosen: &mut Vec<bool>) -> f64 {
    chosen.clone_from(&space.base);
    let mut weight = 1.0;
    for &m in &space.optional {
        if space.allowed(chosen, m) {
            weight *= 2.0;
            chosen[m as usize - space.first] = rng.random_bool(0.5);
        }
    }
    weight
}

/// How one crash point was covered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    /// Sets generated (before deduplication by contents).
    pub generated: u64,
    /// Whether they were all the allowed sets.
    pub exhaustive: bool,
    /// The number of allowed sets: exact when exhaustive, else estimated.
    pub total: f64,
}

/// Calls `visit` with every allowed set at this crash point, or with
/// `budget` sampled ones when there are more.
pub fn each<R: rand::Rng, E>(
    space: &Space<'_>,
    budget: u64,
    rng: &mut R,
    mut visit: impl FnMut(&[bool]) -> Result<(), E>,
) -> Result<Coverage, E> {
    let budget = budget.max(1);
    let count = space.count_upto(budget);
    if count <= budget {
        let mut it = Exhaustive::new(space);
        while it.advance() {
            visit(it.chosen())?;
        }
        return Ok(Coverage {
            generated: count,
            exhaustive: true,
            total: count as f64,
        });
    }
    let mut chosen = Vec::new();
    let mut weights = 0.0;
    for _ in 0..budget {
        weights += draw(space, rng, &mut chosen);
        visit(&chosen)?;
    }
    Ok(Coverage {
        generated: budget,
        exhaustive: false,
        total: (weights / budget as f64).max(budget as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::model::Part;
    use rand::SeedableRng;

    fn micro(deps: &[u32], synced_at: Option<usize>) -> Micro {
        Micro {
            op: 0,
            event: 0,
            part: Part::Whole,
            deps: deps.to_vec(),
            synced_at,
        }
    }

    /// All subsets closed under deps, by brute force.
    fn brute(micros: &[Micro], crash: usize) -> Vec<Vec<bool>> {
        let n = micros.len();
        (0u32..1 << n)
            .map(|bits| (0..n).map(|i| bits & (1 << i) != 0).collect::<Vec<bool>>())
            .filter(|c| {
                micros.iter().enumerate().all(|(i, m)| {
                    (m.synced_at.is_none_or(|e| e > crash) || c[i])
                        && (!c[i] || m.deps.iter().all(|&d| c[d as usize]))
                })
            })
            .collect()
    }

    #[test]
    fn exhaustive_yields_exactly_the_closed_sets_once() {
        // 0 free; 1 after 0; 2 after 1 (a journal); 3 synced; 4 free; 5 after 0 and 4.
        let micros = vec![
            micro(&[], None),
            micro(&[0], None),
            micro(&[1], None),
            micro(&[], Some(0)),
            micro(&[], None),
            micro(&[0, 4], None),
        ];
        let space = Space::new(&micros, 0, 0);
        let mut got = Vec::new();
        let mut it = Exhaustive::new(&space);
        while it.advance() {
            got.push(it.chosen().to_vec());
        }
        let mut want = brute(&micros, 0);
        got.sort();
        want.sort();
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
        assert_eq!(space.count_upto(1000), want.len() as u64);
        assert_eq!(space.count_upto(3), 4, "stops one past the cap");
    }

    #[test]
    fn sampling_stays_within_the_space_and_estimates_its_size() {
        let micros: Vec<Micro> = (0..20)
            .map(|i| micro(if i % 2 == 1 { &[0] } else { &[] }, None))
            .collect();
        let space = Space::new(&micros, 0, 0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut seen = 0;
        let cov = each(&space, 500, &mut rng, |c: &[bool]| {
            seen += 1;
            for (i, m) in micros.iter().enumerate() {
                assert!(!c[i] || m.deps.iter().all(|&d| c[d as usize]));
            }
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(seen, 500);
        assert!(!cov.exhaustive);
        // Exact: 2^9 sets without piece 0, 2^19 with it.
        let exact = (1u64 << 9) + (1u64 << 19);
        assert!(
            (cov.total / exact as f64 - 1.0).abs() < 0.35,
            "{} vs {exact}",
            cov.total
        );
    }
}
