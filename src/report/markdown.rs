//! `report.md`: the table, the verdict, per-case details, evidence excerpts,
//! and the environment needed to repeat the run.

use std::fmt::Write;

use super::{Report, Reporter, table};
use crate::numbers::thousands;

pub struct Markdown;

impl Reporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        Ok(render(r).into_bytes())
    }
}

fn render(r: &Report) -> String {
    let mut s = String::new();
    let e = &r.environment;
    let _ = writeln!(s, "# torn report: {}\n", r.scenario.name);
    let _ = writeln!(
        s,
        "{} · {} · target `~/{}` ({} bytes per version, {}) · seed {}\n",
        r.created, e.fs_type, r.scenario.target, r.scenario.version_len, r.scenario.format, r.seed
    );
    let _ = writeln!(
        s,
        "## Verdict: {} (exit {})\n",
        r.verdict.status.name(),
        r.verdict.exit_code
    );
    for line in &r.verdict.lines {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(s, "\n## Results\n");
    s.push_str(&table::markdown(r));
    let _ = writeln!(
        s,
        "\nCounts are over all reads; *exposed* reads overlapped a write in flight. \
         `0 ⇒ p ≤` is the exact one-sided 95% Clopper–Pearson upper bound on the per-read \
         probability of any outcome counted 0 in that row. See `report.json` for two-sided \
         intervals of the non-zero counts.\n"
    );
    s.push_str(&super::sections::writers_md(r));
    s.push_str(&super::sections::crash_md(r));
    let _ = writeln!(s, "## Cases\n");
    for c in &r.cases {
        let _ = writeln!(s, "### {}\n", c.label);
        let _ = writeln!(
            s,
            "- {} `{}`, {} writer(s) at {}, {} reader(s){}{}; expected: {}",
            c.subject_kind(),
            c.subject,
            c.case.writers.count,
            c.case.writers.rate,
            c.case.readers.count,
            if c.case.readers.lock {
                " taking flock(LOCK_SH)"
            } else {
                ""
            },
            c.chunks().map(|n| format!(", {n} chunks")).unwrap_or_default(),
            c.case.expect.name()
        );
        let _ = writeln!(s, "- status: **{}** — {}", c.status.name(), c.reason);
        if let Some(why) = &c.case.expect_reason {
            let _ = writeln!(s, "- expected because: {why}");
        }
        if c.case.readers.profile != crate::engine::Profile::Reread {
            let _ = writeln!(
                s,
                "- clients `{}`: {} calls on {} reads; would-403 on {} calls ({})",
                c.case.readers.profile.name(),
                thousands(c.calls_would_403.n),
                thousands(c.reads),
                thousands(c.calls_would_403.count),
                crate::numbers::sci(c.calls_would_403.rate)
            );
        }
        let _ = writeln!(
            s,
            "- {:.2} s, {} reads ({}/s), {} writes ({}/s); write latency µs p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
            c.elapsed_s,
            thousands(c.reads),
            thousands(c.reads_per_s as u64),
            thousands(c.writes.committed),
            thousands(c.writes.per_s as u64),
            c.writes.latency_us.p50,
            c.writes.latency_us.p90,
            c.writes.latency_us.p99,
            c.writes.latency_us.max
        );
        if let Some(f) = &c.case.fault {
            let _ = writeln!(s, "- fault injected: {f}");
        }
        for w in [&c.writes.first_swallowed, &c.writes.first_broken_after_failure]
            .into_iter()
            .flatten()
        {
            let _ = writeln!(s, "- **{w}**");
        }
        if let Some(err) = &c.writes.first_error {
            let _ = writeln!(s, "- {} write errors; first: `{err}`", thousands(c.writes.errors));
        }
        let _ = writeln!(s, "- file after the run: {}", c.final_state.name());
        if let Some(l) = &c.watch.symlink {
            let _ = writeln!(
                s,
                "- symlinked target: the link {}; the linked file {} ({})",
                if l.link_survived {
                    "survived"
                } else {
                    "was replaced by a regular file"
                },
                if l.linked_file_current {
                    "holds the newest token"
                } else {
                    "did not get the newest token"
                },
                l.linked_file.name()
            );
        }
        let _ = writeln!(
            s,
            "- target mode {:04o} → {:04o}{}; {} directory scans; files left behind: {}",
            c.watch.mode_before,
            c.watch.mode_after,
            if c.watch.owner_changed {
                ", owner changed"
            } else {
                ""
            },
            thousands(c.watch.samples),
            if c.watch.litter.is_empty() {
                "none".to_string()
            } else {
                c.watch.litter.join(", ")
            }
        );
        if let Some(k) = &c.kill_trials {
            let states: Vec<String> = k
                .after_kill
                .iter()
                .map(|(o, n)| format!("{} {n}", o.name()))
                .collect();
            let _ = writeln!(
                s,
                "- killed-writer trials: {}; target after the kill: {}; temp files left in {} trials{}",
                k.trials,
                states.join(", "),
                k.littered,
                k.skipped
                    .as_ref()
                    .map(|w| format!(" (stopped: {w})"))
                    .unwrap_or_default()
            );
            for e in &k.examples {
                let _ = writeln!(s, "  - {e}");
            }
        }
        if let Some(x) = &c.external_reader {
            let counts: Vec<String> = x
                .outcomes
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(o, n)| format!("{} {}", o.name(), thousands(*n)))
                .collect();
            let _ = writeln!(
                s,
                "- external reader `{}`: {} reads ({} exposed): {}; would-403 {}",
                crate::report::table::shorten_label(
                    &x.command.split_whitespace().collect::<Vec<_>>().join(" "),
                    100
                ),
                thousands(x.reads),
                thousands(x.exposed_reads),
                counts.join(", "),
                thousands(x.would_403)
            );
        }
        if let Some(client) = &c.client {
            let _ = writeln!(s, "- **{}**", client.summary());
        }
        if let Some(e) = &c.subject_error {
            let _ = writeln!(s, "- **subject error**: {e}");
        }
        if let Some(shape) = &c.shape {
            shape_section(&mut s, shape);
        }
        if let Some(tail) = &c.writer_stderr {
            let _ = writeln!(s, "\nWriter stderr (tail):\n\n```\n{tail}\n```");
        }
        if !c.evidence.is_empty() {
            let _ = writeln!(s, "\nEvidence (first reads of each kind):\n");
            for ev in &c.evidence {
                let _ = writeln!(
                    s,
                    "- `{}` at {:.3} ms (reader {}, read {}), {} of {} bytes{}{}{}",
                    ev.outcome.name(),
                    ev.at_ms,
                    ev.reader,
                    ev.read_index,
                    ev.len,
                    ev.whole_len,
                    ev.first_diff
                        .map(|d| format!(", differs from v{} at byte {d}", ev.committed_before))
                        .unwrap_or_default(),
                    ev.file
                        .as_ref()
                        .map(|f| format!(" — [{f}]({f})"))
                        .unwrap_or_default(),
                    ev.detail.as_ref().map(|d| format!(" — {d}")).unwrap_or_default(),
                );
                if !ev.excerpt.is_empty() {
                    let _ = writeln!(s, "  `{}`", ev.excerpt.replace('`', "\\x60"));
                }
            }
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Environment\n");
    let _ = writeln!(s, "- torn {}; `{}`", e.torn_version, r.command);
    let _ = writeln!(s, "- kernel {}; {} CPUs", e.kernel, e.cpus);
    let _ = writeln!(
        s,
        "- scratch {} on {} ({}, magic {}), mounted at {} from {} with `{}`",
        e.scratch_dir, e.fs_type, e.fs_type, e.fs_magic, e.mount_point, e.mount_source, e.mount_options
    );
    let _ = writeln!(
        s,
        "\n## Repeat this run\n\nSave this scenario (source: {}) and run `torn run <file>`:\n",
        r.scenario.source
    );
    let _ = writeln!(s, "```yaml\n{}```", r.scenario.effective);
    s
}

/// The Markdown of a matrix: one table over every filesystem × strategy,
/// then each run's verdict and environment.
pub fn matrix(title: &str, reports: &[Report]) -> String {
    use crate::numbers::sci;
    let mut s = format!("# {title}\n\n");
    s.push_str(
        "| filesystem | kernel | strategy | writes | w-err | reads | exposed | anomalies | per exposed read | would-403 | write µs p50 / p99 | reads/s per reader | status |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in reports {
        let kernel = r.environment.kernel.split_whitespace().nth(1).unwrap_or("?");
        for c in &r.cases {
            let per_read = match super::words::zero_bound(c) {
                Some(bound) => format!("≤ {}", sci(bound)),
                None if c.anomalous_reads() > 0 => sci(c.anomalies_per_exposed.rate),
                None => "—".into(),
            };
            let cell = super::table::md_cell;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} / {:.0} | {} | {} |",
                cell(&r.environment.fs_label),
                cell(kernel),
                cell(&c.label),
                thousands(c.writes.committed),
                thousands(c.writes.errors),
                thousands(c.reads),
                thousands(c.exposed_reads),
                thousands(c.anomalous_reads()),
                per_read,
                thousands(c.would_403.count),
                c.writes.latency_us.p50,
                c.writes.latency_us.p99,
                thousands((c.reads_per_s / c.case.readers.count as f64) as u64),
                c.status.name()
            );
        }
    }
    s.push_str("\n`anomalies`: anomalous reads (writer-side findings are named in each run's verdict). `per exposed read`: the rate of anomalous reads per read that overlapped a write, or for a zero that means something (nothing else found) the exact one-sided 95% upper bound.\n\n## Runs\n\n");
    for r in reports {
        let e = &r.environment;
        let _ = writeln!(
            s,
            "- **{}** ({}, `{}` from {}, options `{}`), kernel {}, {} CPUs, torn {}, seed {}: {} — {}",
            e.fs_label,
            e.fs_type,
            e.mount_point,
            e.mount_source,
            e.mount_options,
            e.kernel,
            e.cpus,
            e.torn_version,
            r.seed,
            r.verdict.status.name(),
            r.verdict.lines.first().map(String::as_str).unwrap_or("")
        );
    }
    s
}

/// The writer's learned shape: how its reads were judged, its template,
/// and (when it could not be learned) the diff of two of its outputs.
fn shape_section(s: &mut String, shape: &crate::shape::ShapeReport) {
    use crate::shape::ShapeKind;
    let how = match shape.kind {
        Some(ShapeKind::Exact) => "exact bytes (every write byte-identical apart from the token)".to_string(),
        Some(ShapeKind::Semantic) => format!(
            "by meaning; volatile fields ({}): {}",
            if shape.volatile_given {
                "given"
            } else {
                "found in the warm-up"
            },
            if shape.volatile.is_empty() {
                "none (key order or layout varies)".to_string()
            } else {
                shape
                    .volatile
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        None => "not learned".to_string(),
    };
    let _ = writeln!(
        s,
        "- learned shape: {how}; {} token slot(s), {} bytes; started from {}; {} warm-up writes{}",
        shape.slots,
        shape.len,
        shape.start,
        shape.warm_up.len(),
        if shape.first_write_differed {
            " (the first write differed: a one-time change)"
        } else {
            ""
        }
    );
    if !shape.template.is_empty() {
        let _ = writeln!(
            s,
            "\nThe writer's template:\n\n```\n{}\n```",
            shape.template.trim_end()
        );
    }
    if let Some(d) = &shape.diff {
        let _ = writeln!(s, "\nThe writer's outputs:\n\n```diff\n{}\n```", d.trim_end());
    }
    for f in &shape.files {
        let _ = writeln!(s, "- [{f}]({f})");
    }
}
