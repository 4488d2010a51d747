//! `torn __powercut`, the helper of `harness/powercut.sh` (hidden): checks
//! torn's crash models against real power cuts of a real kernel (see
//! `torn::crash::powercut`). A subcommand of torn rather than a binary of its
//! own, so that the Python wheel carries one program.
//!
//! - `seed`: the tree a fresh image is made from (version 0 of the target);
//! - `write`: the writer run inside the guest, until the power is cut;
//! - `poweroff`: the guest's watchdog;
//! - `observe`: judges what an image held after the cut (one JSON line);
//! - `allowed`: what each model allows for each pattern (JSON);
//! - `compare`: observations against the models (a Markdown table; exit 1
//!   when a model claims to exclude something that was observed).

use std::collections::BTreeMap;
use std::io::{BufRead, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use torn::crash::Model;
use torn::crash::powercut::{self, Allowed, Observation, Pattern};

/// What `torn __powercut` does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes version 0 of the target into ROOT/d/config.yaml (mode 0600).
    Seed {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        seed: u64,
    },
    /// Rewrites the target with PATTERN until killed, logging each
    /// acknowledged version to ACKS (one line each, fdatasync'ed).
    Write {
        #[arg(long, value_parser = pattern)]
        pattern: Pattern,
        #[arg(long)]
        target: PathBuf,
        #[arg(long)]
        acks: PathBuf,
        #[arg(long)]
        seed: u64,
        /// Pause between writes, in microseconds.
        #[arg(long, default_value_t = 0)]
        pause_us: u64,
    },
    /// The guest's watchdog: powers the guest kernel off after SECS (no
    /// sync), so a guest whose harness was killed outright does not run on.
    Poweroff {
        #[arg(long)]
        after_secs: u64,
    },
    /// Judges the extracted target directory against the ack log; prints one JSON line.
    Observe {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        acks: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long, value_parser = pattern)]
        pattern: Pattern,
        #[arg(long)]
        fs: String,
        #[arg(long)]
        trial: u64,
        /// KEY=VALUE recorded with the observation (repeatable).
        #[arg(long = "note")]
        notes: Vec<String>,
    },
    /// Prints, as JSON, the outcomes each model allows for each pattern.
    Allowed {
        #[arg(long)]
        seed: u64,
        /// Writes in the recorded trace each model explores.
        #[arg(long, default_value_t = 3)]
        writes: u64,
        /// Where to record and build states (any file system).
        #[arg(long)]
        scratch: PathBuf,
    },
    /// Holds observations (JSON lines) against the models' allowed outcomes.
    Compare {
        #[arg(long)]
        observations: PathBuf,
        #[arg(long)]
        allowed: PathBuf,
        /// Also write the rows as JSON here.
        #[arg(long)]
        json_out: Option<PathBuf>,
    },
}

fn pattern(s: &str) -> Result<Pattern, String> {
    Pattern::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
        format!("unknown pattern `{s}`; expected one of: {}", names.join(", "))
    })
}

/// Carries out one step; returns the exit code.
pub fn run(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Seed { root, seed } => {
            let t =
                powercut::seed_tree(&root, seed).with_context(|| format!("seeding {}", root.display()))?;
            println!("{}", t.display());
        }
        Command::Write {
            pattern,
            target,
            acks,
            seed,
            pause_us,
        } => {
            powercut::run_writer(pattern, &target, &acks, seed, Duration::from_micros(pause_us))
                .with_context(|| format!("{} writing {}", pattern.name(), target.display()))?;
        }
        Command::Poweroff { after_secs } => {
            std::thread::sleep(Duration::from_secs(after_secs));
            // SAFETY: reboot(2) takes no pointers; it needs CAP_SYS_BOOT
            // (the guest's init runs as root) and does not return on success.
            let r = unsafe { libc::reboot(libc::RB_POWER_OFF) };
            anyhow::bail!(
                "reboot(RB_POWER_OFF) returned {r}: {}",
                std::io::Error::last_os_error()
            );
        }
        Command::Observe {
            dir,
            acks,
            seed,
            pattern,
            fs,
            trial,
            notes,
        } => {
            let mut o = powercut::observe(&dir, &acks, seed, pattern, &fs, trial)
                .with_context(|| format!("observing {}", dir.display()))?;
            for n in notes {
                let (k, v) = n
                    .split_once('=')
                    .with_context(|| format!("--note {n}: expected KEY=VALUE"))?;
                o.notes.insert(k.to_string(), v.to_string());
            }
            println!("{}", serde_json::to_string(&o)?);
        }
        Command::Allowed {
            seed,
            writes,
            scratch,
        } => {
            let mut all = Vec::new();
            for p in Pattern::ALL {
                for m in Model::ALL {
                    let a = powercut::allowed(p, m, seed, &scratch, writes)
                        .with_context(|| format!("exploring {} under {}", p.name(), m.name()))?;
                    all.push(a);
                }
            }
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &all)?;
            writeln!(out)?;
        }
        Command::Compare {
            observations,
            allowed,
            json_out,
        } => {
            let file = std::fs::File::open(&observations)
                .with_context(|| format!("opening {}", observations.display()))?;
            let mut obs: Vec<Observation> = Vec::new();
            for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                obs.push(
                    serde_json::from_str(&line)
                        .with_context(|| format!("{} line {}", observations.display(), i + 1))?,
                );
            }
            let text = std::fs::read_to_string(&allowed)
                .with_context(|| format!("reading {}", allowed.display()))?;
            let allowed: Vec<Allowed> =
                serde_json::from_str(&text).with_context(|| format!("parsing {text:.40}"))?;
            let rows = powercut::compare(&obs, &allowed);
            print!("{}", powercut::render_markdown(&rows));
            if let Some(path) = json_out {
                let by_fs: BTreeMap<&str, usize> = obs.iter().fold(BTreeMap::new(), |mut m, o| {
                    *m.entry(o.fs.as_str()).or_default() += 1;
                    m
                });
                let doc = serde_json::json!({ "observations_per_fs": by_fs, "rows": rows });
                std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if powercut::any_unsound(&rows) {
                eprintln!(
                    "torn __powercut: a model excludes an outcome that a real power cut produced (rows marked NO)"
                );
                return Ok(1);
            }
        }
    }
    Ok(0)
}
