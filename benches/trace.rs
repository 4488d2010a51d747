//! What the ptrace tracer costs the traced program: the same command run
//! untraced and traced (watching its directory, payloads kept up to 64
//! bytes), in one process so the machine's noise is shared.
//!
//! - `python-1000-renames`: one Python process doing 1000
//!   open/write/close/os.replace writes (every call on the watched paths
//!   stops twice: seccomp entry, syscall exit);
//! - `sh-write-and-mv`: a per-write command (`sh -c 'printf > tmp && mv'`),
//!   i.e. the tracer's start-up and fork/exec following per process;
//! - `getpid-1e6`: a million calls the seccomp filter lets through.
//!
//! Where ptrace is not permitted the bench says so and measures nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use torn::trace::ptrace::{Traced, available};
use torn::trace::{Recording, TraceSpec};

const PY: &str = r"import os
for i in range(1000):
    with open('config.yaml.tmp', 'w') as f:
        f.write('token: %d\n' % i)
    os.replace('config.yaml.tmp', 'config.yaml')
";

/// Runs `cmd` (in `dir`) to completion, traced or not.
fn run(mut cmd: Command, dir: &Path, traced: bool) {
    cmd.current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null());
    if !traced {
        assert!(cmd.status().unwrap().success());
        return;
    }
    let mut spec = TraceSpec::new(vec![dir.to_path_buf()]);
    spec.data_cap = 64;
    let rec = Recording::new(&spec);
    let t = Traced::spawn(cmd, rec.clone()).expect("traced");
    assert!(t.wait().success());
    drop(t);
    assert!(rec.summary().events > 0);
}

fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

fn trace(c: &mut Criterion) {
    if let Err(why) = available() {
        eprintln!("SKIP trace bench: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut g = c.benchmark_group("trace");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    for traced in [false, true] {
        let label = if traced { "traced" } else { "untraced" };
        g.bench_function(format!("python-1000-renames/{label}"), |b| {
            b.iter(|| run(cmd("python3", &["-I", "-c", PY]), d, traced))
        });
        let script = "printf 'token: 1\\n' > t.tmp && mv t.tmp t";
        g.bench_function(format!("sh-write-and-mv/{label}"), |b| {
            b.iter(|| run(cmd("sh", &["-c", script]), d, traced))
        });
        let getpid = "import os\nfor _ in range(1000000): os.getpid()\nopen('g', 'w').close()\n";
        g.bench_function(format!("python-getpid-1e6/{label}"), |b| {
            b.iter(|| run(cmd("python3", &["-I", "-c", getpid]), d, traced))
        });
    }
    g.finish();
}

criterion_group!(benches, trace);
criterion_main!(benches);
