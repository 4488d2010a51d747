//! What the ptrace tracer costs the traced program: the same command run
//! untraced and traced (watching its directory, payloads kept up to 64
//! bytes), in one process so the machine's noise is shared.
//!
//! - `python-1000-renames`: one Python process doing 1000
//!   open/write/close/os.replace writes (every call on the watched paths
//!   stops twice: seccomp entry, syscall exit);
//! - `sh-write-and-mv`: a per-write command (`sh -c 'printf > tmp && mv'`),
//!   i.e. the tracer's start-up and fork/exec following per process;
//! - `true`: starting a program under the tracer (thread, attach, exec);
//! - `python-getpid-1e6`: a million calls the seccomp filter lets through.
//!
//! Where ptrace is not permitted the bench says so and measures nothing.
//!
//! The commands run without `LD_LIBRARY_PATH` (cargo sets it to its target
//! directories, and the dynamic loader would probe each of them for every
//! library: hundreds of traced `openat`s no real writer makes), and Python
//! is the interpreter itself, not a version manager's shim script.

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
    cmd.current_dir(dir)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if !traced {
        assert!(cmd.status().unwrap().success());
        return;
    }
    let mut spec = TraceSpec::new(vec![dir.to_path_buf()]);
    spec.data_cap = 64;
    let rec = Recording::new(&spec);
    let t = Traced::spawn(cmd, rec).expect("traced");
    assert!(t.wait().success());
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
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let python = python.as_str();
    let mut g = c.benchmark_group("trace");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    for traced in [false, true] {
        let label = if traced { "traced" } else { "untraced" };
        g.bench_function(format!("python-1000-renames/{label}"), |b| {
            b.iter(|| run(cmd(python, &["-I", "-c", PY]), d, traced))
        });
        let script = "printf 'token: 1\\n' > t.tmp && mv t.tmp t";
        g.bench_function(format!("sh-write-and-mv/{label}"), |b| {
            b.iter(|| run(cmd("sh", &["-c", script]), d, traced))
        });
        g.bench_function(format!("true/{label}"), |b| {
            b.iter(|| run(cmd("true", &[]), d, traced))
        });
        let getpid = "import os\nfor _ in range(1000000): os.getpid()\nopen('g', 'w').close()\n";
        g.bench_function(format!("python-getpid-1e6/{label}"), |b| {
            b.iter(|| run(cmd(python, &["-I", "-c", getpid]), d, traced))
        });
    }
    g.finish();
}

criterion_group!(benches, trace);
criterion_main!(benches);
