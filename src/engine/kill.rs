//! Killed writers: SIGKILL the writer at random instants, and after each
//! kill check that the target is still a whole version and that no temp file
//! was left behind.
//!
//! A built-in strategy runs in a `torn __writer` child process (writing
//! versions back to back); a line-protocol writer is the user's own process,
//! fed tokens back to back. Each trial starts from a fresh directory holding
//! version 0; the kill instant is drawn from a seeded generator, so a run can
//! be repeated.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::case::{Document, WriterJob, write_job};
use crate::classify::{Classifier, Outcome};
use crate::format::Versions;
use crate::subject::SubjectSpec;

/// What the kills left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KillTrials {
    pub trials: u64,
    /// The target as found after each kill, by outcome (`ok` counts any whole version).
    pub after_kill: Vec<(Outcome, u64)>,
    /// Trials after which a file other than the target was left in its directory.
    pub littered: u64,
    /// The first few trials that went wrong, in words.
    pub examples: Vec<String>,
    /// Trials that could not be run (the writer did not start), with why.
    pub skipped: Option<String>,
}

impl KillTrials {
    /// Kills after which the target was not whole, plus littered trials.
    pub fn count(&self) -> u64 {
        let broken: u64 = self
            .after_kill
            .iter()
            .filter(|(o, _)| *o != Outcome::Ok)
            .map(|(_, n)| n)
            .sum();
        broken + self.littered
    }
}

/// Longest delay between the writer's first write and the kill.
const MAX_DELAY: Duration = Duration::from_millis(4);

/// Runs `n` trials in `dir` (created, emptied between trials).
#[allow(clippy::too_many_arguments)]
pub fn run(
    subject: &SubjectSpec,
    exe: &Path,
    classifier: &Classifier,
    dir: &Path,
    target_name: &str,
    mode: u32,
    n: u64,
    seed: u64,
) -> std::io::Result<KillTrials> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6B69_6C6C);
    let mut out = KillTrials::default();
    let mut counts = [0u64; Outcome::COUNT];
    let job_path = dir.join("writer-job.json");
    let home = dir.join("home");
    for trial in 0..n {
        // A stop signal ends the trials within one trial (a few ms).
        if crate::guard::signals::stop_requested() {
            out.skipped = Some(format!("interrupted after {trial} of {n} trials"));
            break;
        }
        if home.exists() {
            fs::remove_dir_all(&home)?;
        }
        fs::create_dir_all(&home)?;
        let target = home.join(target_name);
        fs::write(&target, classifier.template.render_vec(&classifier.codec, 0))?;
        fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        let delay = Duration::from_nanos(rng.random_range(0..MAX_DELAY.as_nanos() as u64));
        let started = match subject {
            SubjectSpec::Strategy { .. } => {
                let job = WriterJob {
                    subject: subject.clone(),
                    target: target.clone(),
                    document: Document::of(classifier),
                };
                write_job(&job_path, &job)?;
                kill_builtin(exe, &job_path, &target, delay)
            }
            SubjectSpec::Stdio(spec) => kill_stdio(spec, &target, &home, dir, classifier, delay),
            SubjectSpec::Command(_) => {
                Err("killing per-write commands is not supported; use --writer-stdio".into())
            }
        };
        if let Err(why) = started {
            out.skipped = Some(why);
            break;
        }
        out.trials += 1;
        // Any whole version is fine after a kill: judge against version 0.
        let outcome = super::reader::classify_file(&target, classifier, Versions::default()).outcome;
        counts[outcome.index()] += 1;
        let litter: Vec<String> = fs::read_dir(&home)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name != target_name)
            .collect();
        if !litter.is_empty() {
            out.littered += 1;
        }
        if (outcome != Outcome::Ok || !litter.is_empty()) && out.examples.len() < 5 {
            out.examples.push(format!(
                "trial {trial} (killed {:.2} ms after the first write): target {}{}",
                delay.as_secs_f64() * 1e3,
                outcome.name(),
                if litter.is_empty() {
                    String::new()
                } else {
                    format!(", left {}", litter.join(", "))
                }
            ));
        }
    }
    out.after_kill = Outcome::ALL
        .iter()
        .map(|&o| (o, counts[o.index()]))
        .filter(|(_, c)| *c > 0)
        .collect();
    let _ = fs::remove_dir_all(&home);
    Ok(out)
}

fn kill_builtin(exe: &Path, job: &Path, target: &Path, delay: Duration) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    let case_dir = target.parent().unwrap_or(Path::new("/"));
    let mut child = crate::guard::procs::contain(&mut cmd, case_dir)
        .arg("__writer")
        .arg("--job")
        .arg(job)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    // The child prints one line once its first write is done.
    let mut line = String::new();
    let ready = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    if !matches!(ready, Ok(n) if n > 0) {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the writer process exited before its first write".into());
    }
    std::thread::sleep(delay);
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
    Ok(())
}

fn kill_stdio(
    spec: &crate::subject::ExternalSpec,
    target: &Path,
    home: &Path,
    dir: &Path,
    classifier: &Classifier,
    delay: Duration,
) -> Result<(), String> {
    let ctx = crate::subject::WriterCtx {
        target: target.to_path_buf(),
        home: home.to_path_buf(),
        log_dir: dir.to_path_buf(),
        index: 0,
    };
    let argv = crate::subject::process_argv(spec, &ctx)?;
    let mut child = crate::subject::line::LineChild::start(&argv, &ctx, dir.join("killed-writer.stderr"))?;
    child
        .ask(&classifier.codec.token(1), spec.timeout)
        .map_err(|s| format!("the writer's first write: {s}"))?;
    let pid = child.pid();
    let codec = classifier.codec;
    let feeder = std::thread::spawn(move || {
        let mut v = 2;
        while child.ask(&codec.token(v), Duration::from_secs(5)).is_ok() {
            v += 1;
        }
        drop(child);
    });
    std::thread::sleep(delay);
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    let _ = feeder.join();
    Ok(())
}

/// The body of a `torn __writer` process: write versions 1, 2, 3, ... of the
/// template to the target with a built-in strategy until killed, saying
/// `ready` after the first write.
pub fn writer_main(job: &WriterJob) -> anyhow::Result<()> {
    use std::io::Write;
    let SubjectSpec::Strategy { name, params } = &job.subject else {
        anyhow::bail!("a __writer process runs built-in strategies only");
    };
    let strategy =
        crate::strategy::build(name, params).ok_or_else(|| anyhow::anyhow!("unknown strategy {name}"))?;
    let classifier = job.document.classifier()?;
    let mut bytes = Vec::new();
    for v in 1.. {
        classifier.template.render(&classifier.codec, v, &mut bytes);
        // Errors are the parent's to see in the file; keep writing.
        let _ = strategy.write(&job.target, &bytes);
        if v == 1 {
            let mut out = std::io::stdout().lock();
            writeln!(out, "ready")?;
            out.flush()?;
        }
    }
    Ok(())
}
