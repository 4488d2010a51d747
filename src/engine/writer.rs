//! A writer thread: take the next version, write it with the strategy,
//! publish it as committed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::shared::Shared;
use super::tally::WriteTally;
use crate::classify::Classifier;
use crate::subject::{SubjectWriter, WriteFailure};
use crate::token::TOKEN_LEN;

/// How fast each writer writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WriteRate {
    /// Back to back.
    Max,
    /// This many writes per second per writer.
    Hz(f64),
}

/// One write before the start barrier, outside any measurement: an external
/// writer's start-up (an interpreter loading its modules) must not count as a
/// write in flight, or readers would be counted as exposed while nothing
/// touches the file. The version it writes is committed like any other.
pub fn warm_up(
    writer: &mut (dyn SubjectWriter + '_),
    classifier: &Classifier,
    shared: &Shared,
) -> Result<(), String> {
    let version = shared.next_version.fetch_add(1, Ordering::AcqRel);
    let bytes = classifier.template.render_vec(&classifier.codec, version);
    match writer.write(&classifier.codec.token(version), &bytes) {
        Ok(()) => {
            shared.committed.fetch_max(version, Ordering::AcqRel);
            Ok(())
        }
        Err(WriteFailure::Reported(e) | WriteFailure::Broken(e)) => Err(format!(
            "the first (warm-up) write, of version {version}, failed: {e}"
        )),
    }
}

/// Runs one writer until `shared.stop`. A broken subject stops the whole case.
pub fn run_writer(
    mut writer: Box<dyn SubjectWriter + '_>,
    classifier: &Classifier,
    shared: &Shared,
    rate: WriteRate,
    start: Instant,
    bucket_ns: u64,
) -> WriteTally {
    let mut tally = WriteTally::new();
    if bucket_ns > 0 {
        tally.timeline = vec![0; super::tally::TIMELINE_BUCKETS];
        tally.bucket_ns = bucket_ns;
    }
    let mut token = [0u8; TOKEN_LEN];
    let mut bytes = Vec::with_capacity(classifier.template.len());
    let period = match rate {
        WriteRate::Max => None,
        WriteRate::Hz(hz) => Some(Duration::from_secs_f64(1.0 / hz)),
    };
    let begin = Instant::now();
    let mut n = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        let version = shared.next_version.fetch_add(1, Ordering::AcqRel);
        classifier.template.render(&classifier.codec, version, &mut bytes);
        classifier.codec.encode_into(version, &mut token);
        let token = std::str::from_utf8(&token).expect("tokens are ASCII");
        shared.started.fetch_add(1, Ordering::AcqRel);
        let t0 = Instant::now();
        let result = writer.write(token, &bytes);
        let took = t0.elapsed();
        shared.finished.fetch_add(1, Ordering::AcqRel);
        let _ = tally.latency_ns.record((took.as_nanos() as u64).max(1));
        match result {
            Ok(()) => {
                shared.committed.fetch_max(version, Ordering::AcqRel);
                tally.writes += 1;
                tally.newest_version = tally.newest_version.max(version);
                if bucket_ns > 0 {
                    tally.timeline[super::tally::bucket(start.elapsed().as_nanos() as u64, bucket_ns)] += 1;
                }
            }
            Err(WriteFailure::Reported(e)) => {
                tally.errors += 1;
                if tally.first_error.is_none() {
                    tally.first_error = Some(format!("writing version {version}: {e}"));
                }
            }
            Err(WriteFailure::Broken(e)) => {
                tally.subject_error = Some(format!("writing version {version}: {e}"));
                shared.stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        if let Some(period) = period {
            n += 1;
            let due = begin + period * n;
            while !shared.stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(Duration::from_millis(20)));
            }
        }
    }
    tally.stderr_tail = writer.finish();
    tally
}
