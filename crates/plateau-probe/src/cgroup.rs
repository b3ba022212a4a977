//! A memory cgroup, v1 or v2: finding a process's group and sampling it.
//!
//! Owns:
//! * discovery ([`cgroup_of_pid`]): `/proc/PID/cgroup` names the group, `mountinfo` says where
//!   that hierarchy is mounted; v1's memory controller wins on hybrid systems, because there
//!   the v2 hierarchy holds no memory files.
//! * [`open_cgroup`]: a directory's version, told by which files it has.
//! * [`Cgroup::sample`]: usage, the anon/file split, cAdvisor's working set, the effective
//!   limit and OOM counters, from either version's files.
//!
//! Errors are [`ProbeError`] (defined in `procfs`). Paths are taken as arguments (`/proc`,
//! and `/` under which mount points are found) so tests can run on a recorded tree.

use std::path::{Component, Path, PathBuf};

use crate::procfs::{read_text, ProbeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// A memory cgroup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub version: CgroupVersion,
    /// The memory controller directory of this group (holding `memory.current` on v2,
    /// `memory.usage_in_bytes` on v1).
    pub dir: PathBuf,
    /// Set when discovery could not use the process's own group and fell back to another
    /// directory (an ancestor, the mount point): says which and why.
    pub note: Option<String>,
}

/// One sample of a memory cgroup. Sizes are bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupReading {
    /// v2 `memory.current`, v1 `memory.usage_in_bytes`. Includes page cache, which the
    /// kernel reclaims on demand: never a leak signal alone.
    pub usage: u64,
    /// v2 `anon`; v1 `total_rss` (the hierarchical `total_*` keys, falling back to the plain
    /// ones, which count this group alone).
    pub anon: Option<u64>,
    /// v2 `file`; v1 `total_cache`.
    pub file: Option<u64>,
    /// v2 `inactive_file`; v1 `total_inactive_file`.
    pub inactive_file: Option<u64>,
    /// `usage - inactive_file`, floored at 0: cAdvisor's (and so Kubernetes') working set,
    /// the number its eviction and OOM decisions watch.
    pub working_set: u64,
    /// The effective hard limit, `None` when unlimited. v2: the smallest `memory.max` of
    /// this group and its visible ancestors (`max` is no limit). v1: the smaller of
    /// `memory.limit_in_bytes` and `memory.stat`'s `hierarchical_memory_limit`, which the
    /// kernel computes over the ancestors.
    pub limit: Option<u64>,
    /// v2 `memory.high` (throttling starts there); `None` for `max` and on v1.
    pub high: Option<u64>,
    /// v2 `memory.events` `oom_kill`; v1 `memory.oom_control` `oom_kill` (Linux >= 4.13).
    pub oom_kills: Option<u64>,
    /// v1 `memory.oom_control` `under_oom 1`: the group is at its limit with the OOM killer
    /// disabled, its tasks stalled. Always false on v2, which has no such state.
    pub under_oom: bool,
}

/// v1 "no limit" is `PAGE_COUNTER_MAX * PAGE_SIZE`: `LONG_MAX` rounded down to a page, so
/// 9223372036854771712 with 4 KiB pages but 9223372036854710272 with 64 KiB ones (arm64,
/// ppc64). No machine has 4 EiB of memory, so anything from 2^62 up means unlimited,
/// whatever the page size.
const V1_UNLIMITED_FROM: u64 = 1 << 62;

/// The group of `pid`, found through `proc_root` (`/proc`) with mount points taken as they
/// are in this filesystem.
pub fn cgroup_of_pid(proc_root: &Path, pid: u32) -> Result<Cgroup, ProbeError> {
    cgroup_of_pid_at(proc_root, Path::new("/"), pid)
}

/// [`cgroup_of_pid`] with mount points looked up under `fs_root` instead of `/`: a recorded
/// tree holds `proc/` and `sys/fs/cgroup/` side by side.
pub fn cgroup_of_pid_at(proc_root: &Path, fs_root: &Path, pid: u32) -> Result<Cgroup, ProbeError> {
    let cgroup_file = proc_root.join(pid.to_string()).join("cgroup");
    let text = read_text(&cgroup_file, Some(pid))?;
    let member = memory_membership(&cgroup_file, &text)?;

    let (mountinfo_file, mounts) = read_mounts(proc_root, pid)?;
    let wanted = |m: &&Mount| match member.version {
        CgroupVersion::V1 => m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == "memory"),
        CgroupVersion::V2 => m.fstype == "cgroup2",
    };
    let candidates: Vec<&Mount> = mounts.iter().filter(wanted).collect();
    let kind = match member.version {
        CgroupVersion::V1 => "a cgroup mount with the memory option",
        CgroupVersion::V2 => "a cgroup2 mount",
    };
    let Some(first) = candidates.first() else {
        return Err(ProbeError::parse(&mountinfo_file, 0, kind));
    };
    let mount_dir = |m: &Mount| join_abs(fs_root, &m.point);

    // The deepest mount whose root holds the group (bind mounts of sub-groups exist).
    let inside = candidates
        .iter()
        .filter_map(|m| relative_to(&member.path, &m.root).map(|rel| (*m, rel)))
        .max_by_key(|(m, _)| m.root.len());
    let (mount, dir, mut note) = match inside {
        Some((m, rel)) => (m, join_abs(&mount_dir(m), &rel), None),
        None => (
            *first,
            mount_dir(first),
            Some(format!(
                "cgroup {} is not visible under the {} mount (its root is {}): using the mount \
                 point, which counts every process below it",
                member.path, first.point, first.root
            )),
        ),
    };
    let top = mount_dir(mount);

    // Walk up to the mount point until a directory has the memory files: the group may be
    // hidden (a mount showing only part of the hierarchy) or, on v2, lack the memory
    // controller, in which case its nearest ancestor with it is what accounts its memory.
    let mut at = dir.clone();
    loop {
        if let Ok(mut cg) = open_cgroup(&at) {
            if at != dir {
                note = Some(format!(
                    "{}{}{} has no memory files (hidden by the mount, or the memory controller \
                     is not enabled for it): using the ancestor {}, whose numbers include its \
                     other members",
                    note.as_deref().unwrap_or(""),
                    if note.is_some() { "; " } else { "" },
                    dir.display(),
                    at.display()
                ));
            }
            cg.note = note;
            return Ok(cg);
        }
        if at == top || !at.starts_with(&top) {
            break;
        }
        match at.parent() {
            Some(parent) => at = parent.to_path_buf(),
            None => break,
        }
    }
    Err(ProbeError::Missing { path: dir })
}

/// The version of the memory cgroup at `dir`, told by its files.
pub fn open_cgroup(dir: &Path) -> Result<Cgroup, ProbeError> {
    let version = if dir.join("memory.current").is_file() {
        CgroupVersion::V2
    } else if dir.join("memory.usage_in_bytes").is_file() {
        CgroupVersion::V1
    } else {
        // Neither file: no such directory, or not a (non-root) memory cgroup.
        return Err(ProbeError::Missing {
            path: dir.join("memory.current"),
        });
    };
    Ok(Cgroup {
        version,
        dir: dir.to_path_buf(),
        note: None,
    })
}

impl Cgroup {
    pub fn sample(&self) -> Result<CgroupReading, ProbeError> {
        match self.version {
            CgroupVersion::V2 => self.sample_v2(),
            CgroupVersion::V1 => self.sample_v1(),
        }
    }

    fn sample_v2(&self) -> Result<CgroupReading, ProbeError> {
        let d = &self.dir;
        let usage = read_value(&d.join("memory.current"), false)?.unwrap_or(0);
        let stat = read_flat(&d.join("memory.stat"))?;
        let mut limit = read_value(&d.join("memory.max"), true)?;
        // A parent's memory.max bounds this group too; the v2 root has no memory.max, which
        // ends the walk (and so does the root of a container's cgroup namespace).
        let mut up = d.parent();
        while let Some(parent) = up {
            let file = parent.join("memory.max");
            if !file.is_file() {
                break;
            }
            if let Some(l) = read_value(&file, true)? {
                limit = Some(limit.map_or(l, |own| own.min(l)));
            }
            up = parent.parent();
        }
        let high = read_optional(&d.join("memory.high"), |p| read_value(p, true))?.flatten();
        let events = read_optional(&d.join("memory.events"), read_flat)?;
        let inactive_file = get(&stat, "inactive_file");
        Ok(CgroupReading {
            usage,
            anon: get(&stat, "anon"),
            file: get(&stat, "file"),
            inactive_file,
            working_set: usage.saturating_sub(inactive_file.unwrap_or(0)),
            limit,
            high,
            oom_kills: events.as_deref().and_then(|e| get(e, "oom_kill")),
            under_oom: false,
        })
    }

    fn sample_v1(&self) -> Result<CgroupReading, ProbeError> {
        let d = &self.dir;
        let usage = read_value(&d.join("memory.usage_in_bytes"), false)?.unwrap_or(0);
        let stat = read_flat(&d.join("memory.stat"))?;
        let either = |total: &str, plain: &str| get(&stat, total).or_else(|| get(&stat, plain));
        let unlimited = |v: u64| (v < V1_UNLIMITED_FROM).then_some(v);
        let own = read_value(&d.join("memory.limit_in_bytes"), false)?.and_then(unlimited);
        let inherited = get(&stat, "hierarchical_memory_limit").and_then(unlimited);
        let limit = match (own, inherited) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let oom = read_optional(&d.join("memory.oom_control"), read_flat)?;
        let inactive_file = either("total_inactive_file", "inactive_file");
        Ok(CgroupReading {
            usage,
            anon: either("total_rss", "rss"),
            file: either("total_cache", "cache"),
            inactive_file,
            working_set: usage.saturating_sub(inactive_file.unwrap_or(0)),
            limit,
            high: None,
            oom_kills: oom.as_deref().and_then(|o| get(o, "oom_kill")),
            under_oom: oom
                .as_deref()
                .and_then(|o| get(o, "under_oom"))
                .is_some_and(|v| v != 0),
        })
    }
}

/// Where this process's group of the memory controller is, from `/proc/PID/cgroup`.
struct Membership {
    version: CgroupVersion,
    path: String,
}

/// v1 lines are `ID:controller[,controller...]:/path`, the v2 line is `0::/path`. Hybrid
/// systems list both; the memory controller is on v1 exactly when a v1 line names it.
fn memory_membership(file: &Path, text: &str) -> Result<Membership, ProbeError> {
    let mut v2 = None;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ProbeError::parse(
                file,
                i + 1,
                "`ID:controllers:/path` (three fields separated by `:`)",
            ));
        };
        if controllers.split(',').any(|c| c == "memory") {
            return Ok(Membership {
                version: CgroupVersion::V1,
                path: path.to_string(),
            });
        }
        if id == "0" && controllers.is_empty() && v2.is_none() {
            v2 = Some(path.to_string());
        }
    }
    v2.map(|path| Membership {
        version: CgroupVersion::V2,
        path,
    })
    .ok_or_else(|| {
        ProbeError::parse(
            file,
            0,
            "a memory controller line (`N:memory:/path`) or a cgroup v2 line (`0::/path`)",
        )
    })
}

struct Mount {
    /// Field 4: which directory of the hierarchy is mounted here.
    root: String,
    /// Field 5: where.
    point: String,
    fstype: String,
    super_opts: String,
}

/// Reads this process's mountinfo, falling back to the target's. Ours comes first because
/// the directory is opened in our filesystem, and the cgroup paths in `/proc/PID/cgroup` are
/// printed relative to the reader's cgroup namespace, which our mountinfo's roots share; the
/// target's mount points (another container's) need not exist here.
fn read_mounts(proc_root: &Path, pid: u32) -> Result<(PathBuf, Vec<Mount>), ProbeError> {
    let own = proc_root.join("self").join("mountinfo");
    let (file, text) = match read_text(&own, None) {
        Ok(text) => (own, text),
        Err(ProbeError::Missing { .. }) => {
            let theirs = proc_root.join(pid.to_string()).join("mountinfo");
            let text = read_text(&theirs, Some(pid))?;
            (theirs, text)
        }
        Err(e) => return Err(e),
    };
    let mounts = parse_mountinfo(&file, &text)?;
    Ok((file, mounts))
}

/// `ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTS`.
fn parse_mountinfo(file: &Path, text: &str) -> Result<Vec<Mount>, ProbeError> {
    let mut mounts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let dash = fields.iter().position(|f| *f == "-");
        match dash {
            Some(dash) if dash >= 6 && fields.len() >= dash + 4 => mounts.push(Mount {
                root: unescape(fields[3]),
                point: unescape(fields[4]),
                fstype: fields[dash + 1].to_string(),
                super_opts: fields[dash + 3].to_string(),
            }),
            _ => {
                return Err(ProbeError::parse(
                    file,
                    i + 1,
                    "`ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - FSTYPE SOURCE SUPER_OPTIONS`",
                ))
            }
        }
    }
    Ok(mounts)
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` relative to a mount's `root`, or `None` when the group is not below it. Paths with
/// `..` (a group outside the reader's cgroup namespace) are below no mount.
fn relative_to(path: &str, root: &str) -> Option<String> {
    if path.split('/').any(|c| c == "..") {
        return None;
    }
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| rest.to_string())
}

/// `base` joined with an absolute path taken as relative to it; `.` and `..` are dropped
/// so the result stays under `base`.
fn join_abs(base: &Path, abs: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in Path::new(abs).components() {
        if let Component::Normal(c) = c {
            out.push(c);
        }
    }
    out
}

/// A single-value file: an unsigned integer, or `max` (-> `None`) where `allow_max`.
fn read_value(file: &Path, allow_max: bool) -> Result<Option<u64>, ProbeError> {
    let text = read_text(file, None)?;
    let value = text.trim();
    if allow_max && value == "max" {
        return Ok(None);
    }
    value.parse::<u64>().map(Some).map_err(|_| {
        let expected = if allow_max {
            "an unsigned integer or `max`"
        } else {
            "an unsigned integer"
        };
        ProbeError::parse(file, 1, format!("{expected}, found `{value}`"))
    })
}

/// A flat-keyed file (`memory.stat`, `memory.events`, `memory.oom_control`): `key value`
/// lines, every value an unsigned integer.
fn read_flat(file: &Path) -> Result<Vec<(String, u64)>, ProbeError> {
    let text = read_text(file, None)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_ascii_whitespace();
        let pair = match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(v), None) => v.parse::<u64>().ok().map(|v| (k.to_string(), v)),
            _ => None,
        };
        match pair {
            Some(pair) => out.push(pair),
            None => {
                return Err(ProbeError::parse(
                    file,
                    i + 1,
                    format!("`key value` with an unsigned integer value, found `{line}`"),
                ))
            }
        }
    }
    Ok(out)
}

fn get(pairs: &[(String, u64)], key: &str) -> Option<u64> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Reads a file that older kernels (or the root group) may lack: absent -> `None`.
fn read_optional<T>(
    file: &Path,
    read: impl FnOnce(&Path) -> Result<T, ProbeError>,
) -> Result<Option<T>, ProbeError> {
    match read(file) {
        Ok(v) => Ok(Some(v)),
        Err(ProbeError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_joined_v1_controllers_and_v2_only() {
        let f = Path::new("cgroup");
        let m = memory_membership(f, "8:pids:/a\n7:cpu,memory:/x/y\n0::/z\n").unwrap();
        assert_eq!((m.version, m.path.as_str()), (CgroupVersion::V1, "/x/y"));
        let m = memory_membership(f, "0::/system.slice/a.service\n").unwrap();
        assert_eq!(
            (m.version, m.path.as_str()),
            (CgroupVersion::V2, "/system.slice/a.service")
        );
        // Paths may hold `:`.
        let m = memory_membership(f, "4:memory:/a:b\n").unwrap();
        assert_eq!(m.path, "/a:b");
        assert!(matches!(
            memory_membership(f, "4:cpu:/a\ngarbage\n"),
            Err(ProbeError::Parse { line: 2, .. })
        ));
        assert!(matches!(
            memory_membership(f, "4:cpu:/a\n"),
            Err(ProbeError::Parse { line: 0, .. })
        ));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative_to("/a/b", "/").as_deref(), Some("/a/b"));
        assert_eq!(relative_to("/", "/").as_deref(), Some("/"));
        assert_eq!(relative_to("/docker/x", "/docker/x").as_deref(), Some(""));
        assert_eq!(
            relative_to("/docker/x/y", "/docker/x").as_deref(),
            Some("/y")
        );
        assert_eq!(relative_to("/docker/xy", "/docker/x"), None);
        assert_eq!(relative_to("/../../other", "/"), None);
    }

    #[test]
    fn mountinfo_escapes_and_optional_fields() {
        assert_eq!(unescape(r"/mnt/a\040b\134c"), r"/mnt/a b\c");
        assert_eq!(unescape(r"tail\04"), r"tail\04");
        let text = "30 25 0:26 / /sys/fs/cgroup/my\\040mem rw,nosuid shared:9 master:2 - cgroup cgroup rw,memory\n";
        let m = parse_mountinfo(Path::new("mi"), text).unwrap();
        assert_eq!(m[0].point, "/sys/fs/cgroup/my mem");
        assert_eq!(
            (m[0].fstype.as_str(), m[0].super_opts.as_str()),
            ("cgroup", "rw,memory")
        );
        assert!(matches!(
            parse_mountinfo(Path::new("mi"), "1 2 3\n"),
            Err(ProbeError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn join_stays_under_base() {
        assert_eq!(
            join_abs(Path::new("/r"), "/a/../b/./c"),
            PathBuf::from("/r/a/b/c")
        );
        assert_eq!(
            join_abs(Path::new("/"), "/sys/fs/cgroup"),
            PathBuf::from("/sys/fs/cgroup")
        );
    }
}
