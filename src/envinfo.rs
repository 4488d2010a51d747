//! What is needed to repeat a run: kernel, filesystem, mount options, CPUs.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The environment a run happened in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `torn` version that made the report.
    pub torn_version: String,
    /// `uname -srm`.
    pub kernel: String,
    /// Logical CPUs available to the run.
    pub cpus: usize,
    /// Filesystem type of the scratch directory, from `statfs(2)`.
    pub fs_type: String,
    /// The name a matrix run gave this filesystem (`tmpfs-small`, `overlayfs`);
    /// the type otherwise.
    #[serde(default)]
    pub fs_label: String,
    /// The `statfs` magic number, in hex.
    pub fs_magic: String,
    /// Mount point holding the scratch directory (from /proc/self/mountinfo).
    pub mount_point: String,
    /// Mount source (device), e.g. `/dev/vda` or `tmpfs`.
    pub mount_source: String,
    /// Per-mount and superblock options, e.g. `rw,relatime | rw,discard`.
    pub mount_options: String,
    /// The scratch directory the targets lived in.
    pub scratch_dir: String,
}

/// Probes the environment of `dir`.
pub fn probe(dir: &Path) -> Environment {
    let kernel = nix::sys::utsname::uname()
        .map(|u| {
            format!(
                "{} {} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy(),
                u.machine().to_string_lossy()
            )
        })
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let magic = nix::sys::statfs::statfs(dir)
        .map(|s| s.filesystem_type().0 as u64)
        .ok();
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mount = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|t| find_mount(&t, &canonical));
    let (mount_point, mount_source, mount_options, mtype) = match mount {
        Some(m) => (
            m.point,
            m.source,
            format!("{} | {}", m.options, m.super_options),
            Some(m.fstype),
        ),
        None => ("unknown".into(), "unknown".into(), "unknown".into(), None),
    };
    let fs_type = magic
        .and_then(fs_name)
        .map(str::to_string)
        .or(mtype)
        .unwrap_or_else(|| "unknown".into());
    Environment {
        torn_version: env!("CARGO_PKG_VERSION").to_string(),
        kernel,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        fs_label: fs_type.clone(),
        fs_type,
        fs_magic: magic.map_or_else(|| "unknown".into(), |m| format!("{m:#x}")),
        mount_point,
        mount_source,
        mount_options,
        scratch_dir: dir.display().to_string(),
    }
}

/// Names of the `statfs` magic numbers of the filesystems torn is run on.
pub fn fs_name(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0x0102_1994 => "tmpfs",
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x794C_7630 => "overlayfs",
        0x6573_5546 => "fuse",
        0x6969 => "nfs",
        0x2FC1_2FC1 => "zfs",
        0xF2F5_2010 => "f2fs",
        0x8584_58F6 => "ramfs",
        0x0102_1997 => "9p",
        _ => return None,
    })
}

struct Mount {
    point: String,
    source: String,
    fstype: String,
    options: String,
    super_options: String,
}

/// The mountinfo entry whose mount point is the longest prefix of `path`.
fn find_mount(mountinfo: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        let point = unescape(l[4]);
        if !path.starts_with(&point) {
            continue;
        }
        if best.as_ref().is_some_and(|b| b.point.len() > point.len()) {
            continue;
        }
        best = Some(Mount {
            point,
            source: unescape(r[1]),
            fstype: r[0].to_string(),
            options: l[5].to_string(),
            super_options: r[2].to_string(),
        });
    }
    best
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
30 22 0:25 / /tmp\\040dir rw,nosuid shared:5 - tmpfs tmpfs rw,size=1024k
";

    #[test]
    fn longest_mount_prefix_wins_and_escapes_are_decoded() {
        let m = find_mount(INFO, Path::new("/tmp dir/x")).unwrap();
        assert_eq!((m.point.as_str(), m.fstype.as_str()), ("/tmp dir", "tmpfs"));
        assert_eq!(m.super_options, "rw,size=1024k");
        let m = find_mount(INFO, Path::new("/home/u")).unwrap();
        assert_eq!(m.fstype, "ext4");
    }

    #[test]
    fn probe_names_the_filesystem_of_a_temp_dir() {
        let d = tempfile::tempdir().unwrap();
        let env = probe(d.path());
        assert_ne!(env.fs_type, "unknown");
        assert!(env.cpus >= 1);
        assert!(env.kernel.starts_with("Linux"));
    }
}
