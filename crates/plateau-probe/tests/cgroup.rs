//! `cgroup` against this machine's own memory cgroup, and against the recorded and built
//! trees of `fixtures/cgroup/` (see its README for how each was made).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use plateau_probe::cgroup::{
    cgroup_of_pid, cgroup_of_pid_at, open_cgroup, CgroupReading, CgroupVersion,
};
use plateau_probe::procfs::ProbeError;

const MIB: u64 = 1 << 20;
const HOST_GROUP: &str = "sys/fs/cgroup/memory/process_api/34fbce73b62c19a91899e8b49e4d4532";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cgroup")
        .join(name)
}

/// A private copy of a fixture tree for one test to edit; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn of(fixture_name: &str, test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("plateau-probe-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        copy_tree(&fixture(fixture_name), &dir);
        Scratch(dir)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.0.join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        fs::write(&path, text.replace(from, to)).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), dest).unwrap();
        }
    }
}

// ---- this machine ----

fn machine_has_memory_controller() -> bool {
    let v1 = Path::new("/sys/fs/cgroup/memory/memory.usage_in_bytes").exists();
    let v2 = fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
    v1 || v2
}

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn this_process_cgroup_on_this_machine() {
    if !machine_has_memory_controller() {
        println!("SKIP: /sys/fs/cgroup has no memory controller (neither v1 nor v2)");
        return;
    }
    let pid = std::process::id();
    let cg = cgroup_of_pid(Path::new("/proc"), pid).unwrap();
    println!("found {cg:?}");
    let r = cg.sample().unwrap();
    println!("{r:?}");
    assert!(r.usage > 0);
    assert!(r.working_set <= r.usage);
    assert!(r.anon.is_some() && r.file.is_some() && r.inactive_file.is_some());
    if cg.note.is_none() {
        // Discovery found our own group: the kernel lists us as a member.
        let procs = fs::read_to_string(cg.dir.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l.trim() == pid.to_string()),
            "{pid} not in {}/cgroup.procs",
            cg.dir.display()
        );
    }
}

#[test]
fn this_cgroup_counts_a_child_allocation() {
    if !machine_has_memory_controller() {
        println!("SKIP: /sys/fs/cgroup has no memory controller (neither v1 nor v2)");
        return;
    }
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, time\n\
             print('base', flush=True)\n\
             sys.stdin.readline()\n\
             b = bytearray(b'\\x01') * (64 << 20)\n\
             print('ready', flush=True)\n\
             time.sleep(120)\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let child = Reaped(child);
    let cg = cgroup_of_pid(Path::new("/proc"), child.0.id()).unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let before = cg.sample().unwrap();
    writeln!(stdin, "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let after = cg.sample().unwrap();
    // The group is shared with whatever else runs in it, so only a loose lower bound.
    let rise = after.anon.unwrap() as i64 - before.anon.unwrap() as i64;
    assert!(
        rise >= 32 * MIB as i64,
        "group anon rose by {} MiB",
        rise / MIB as i64
    );
}

#[test]
fn a_gone_pid_has_vanished() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    assert!(matches!(
        cgroup_of_pid(Path::new("/proc"), pid),
        Err(ProbeError::Vanished { pid: p }) if p == pid
    ));
    let tree = fixture("v1-host");
    assert!(matches!(
        cgroup_of_pid_at(&tree.join("proc"), &tree, 1),
        Err(ProbeError::Vanished { pid: 1 })
    ));
}

// ---- v1 ----

/// The recorded group's numbers (record-v1-host.sh).
fn host_reading(limit: Option<u64>, oom_kills: Option<u64>) -> CgroupReading {
    CgroupReading {
        usage: 126971904,
        anon: Some(8957952),
        file: Some(114212864),
        inactive_file: Some(70160384),
        working_set: 126971904 - 70160384,
        limit,
        high: None,
        oom_kills,
        under_oom: false,
    }
}

#[test]
fn v1_host_discovery_on_the_recorded_tree() {
    let tree = fixture("v1-host");
    let cg = cgroup_of_pid_at(&tree.join("proc"), &tree, 18011).unwrap();
    assert_eq!(cg.version, CgroupVersion::V1);
    assert_eq!(cg.dir, tree.join(HOST_GROUP));
    assert_eq!(cg.note, None);
    // Recorded unlimited: 9223372036854771712, PAGE_COUNTER_MAX pages of 4 KiB.
    assert_eq!(cg.sample().unwrap(), host_reading(None, Some(0)));
}

#[test]
fn v1_limited_and_oom() {
    let limited = open_cgroup(&fixture("v1-limited")).unwrap();
    assert_eq!(limited.version, CgroupVersion::V1);
    assert_eq!(
        limited.sample().unwrap(),
        host_reading(Some(256 * MIB), Some(0))
    );

    let oom = open_cgroup(&fixture("v1-oom")).unwrap();
    assert_eq!(
        oom.sample().unwrap(),
        host_reading(Some(256 * MIB), Some(2))
    );
}

#[test]
fn v1_unlimited_whatever_the_page_size() {
    // PAGE_COUNTER_MAX * 64 KiB, the sentinel on arm64/ppc64 kernels with 64 KiB pages.
    let s = Scratch::of("v1-host", "v1-64k");
    let group = s.0.join(HOST_GROUP);
    fs::write(group.join("memory.limit_in_bytes"), "9223372036854710272\n").unwrap();
    assert_eq!(open_cgroup(&group).unwrap().sample().unwrap().limit, None);
}

#[test]
fn v1_limit_set_on_an_ancestor() {
    // Own limit unlimited, an ancestor's 1 GiB: the kernel reports it as
    // hierarchical_memory_limit, and that is the limit that OOM-kills.
    let s = Scratch::of("v1-host", "v1-ancestor");
    s.edit(
        &format!("{HOST_GROUP}/memory.stat"),
        "hierarchical_memory_limit 9223372036854771712",
        "hierarchical_memory_limit 1073741824",
    );
    let r = open_cgroup(&s.0.join(HOST_GROUP))
        .unwrap()
        .sample()
        .unwrap();
    assert_eq!(r.limit, Some(1024 * MIB));
}

#[test]
fn v1_hierarchical_keys_preferred_plain_as_fallback() {
    let s = Scratch::of("v1-limited", "v1-keys");
    s.edit("memory.stat", "total_rss 8957952", "total_rss 9999360");
    let cg = open_cgroup(&s.0).unwrap();
    assert_eq!(cg.sample().unwrap().anon, Some(9999360));

    // A kernel without the total_* keys: the plain ones are used.
    let stat = fs::read_to_string(s.0.join("memory.stat")).unwrap();
    let plain: String = stat
        .lines()
        .filter(|l| !l.starts_with("total_"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(s.0.join("memory.stat"), plain).unwrap();
    let r = cg.sample().unwrap();
    assert_eq!(
        (r.anon, r.file, r.inactive_file),
        (Some(8957952), Some(114212864), Some(70160384))
    );
}

#[test]
fn v1_under_oom_and_old_kernel_oom_control() {
    let s = Scratch::of("v1-limited", "v1-under-oom");
    fs::write(
        s.0.join("memory.oom_control"),
        "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n",
    )
    .unwrap();
    let cg = open_cgroup(&s.0).unwrap();
    assert!(cg.sample().unwrap().under_oom);
    // Before Linux 4.13 there is no oom_kill line.
    fs::write(
        s.0.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\n",
    )
    .unwrap();
    let r = cg.sample().unwrap();
    assert_eq!((r.oom_kills, r.under_oom), (None, false));
}

#[test]
fn v1_docker_without_cgroup_namespace() {
    // The mount's root is the container's group, so the group is the mount point itself.
    let tree = fixture("v1-docker");
    let cg = cgroup_of_pid_at(&tree.join("proc"), &tree, 1).unwrap();
    assert_eq!(cg.version, CgroupVersion::V1);
    assert_eq!(cg.dir, tree.join("sys/fs/cgroup/memory"));
    assert_eq!(cg.note, None);
    assert_eq!(cg.sample().unwrap(), host_reading(None, Some(0)));
}

#[test]
fn v1_group_hidden_by_the_mount_falls_back_with_a_note() {
    // The mount shows the whole hierarchy ("/"), but the group's directory is not there.
    let s = Scratch::of("v1-docker", "v1-hidden");
    let cid = "0f3c6b1d9e2a4c7f8b5a1e6d3c9f2b7a4e8d1c5f9a3b6e2d7c4f1a8b5e9d3c6f";
    s.edit(
        "proc/self/mountinfo",
        &format!("0:34 /docker/{cid} /sys/fs/cgroup/memory"),
        "0:34 / /sys/fs/cgroup/memory",
    );
    let cg = cgroup_of_pid_at(&s.0.join("proc"), &s.0, 1).unwrap();
    assert_eq!(cg.dir, s.0.join("sys/fs/cgroup/memory"));
    let note = cg.note.expect("the fallback is explained");
    assert!(
        note.contains(&format!("memory/docker/{cid} has no memory files")),
        "{note}"
    );
    assert!(note.contains("using the ancestor"), "{note}");
}

#[test]
fn v1_group_outside_the_mount_root_uses_the_mount_point() {
    let s = Scratch::of("v1-docker", "v1-outside");
    s.edit("proc/1/cgroup", "9:memory:/docker/", "9:memory:/elsewhere/");
    let cg = cgroup_of_pid_at(&s.0.join("proc"), &s.0, 1).unwrap();
    assert_eq!(cg.dir, s.0.join("sys/fs/cgroup/memory"));
    let note = cg.note.expect("explained");
    assert!(
        note.contains("is not visible under the /sys/fs/cgroup/memory mount"),
        "{note}"
    );
}

#[test]
fn hybrid_system_prefers_v1_memory() {
    // Lines for both hierarchies; only v1 has the memory controller. No proc/self here, so
    // discovery falls back to the target's own mountinfo.
    let tree = fixture("hybrid-systemd");
    let cg = cgroup_of_pid_at(&tree.join("proc"), &tree, 2345).unwrap();
    assert_eq!(cg.version, CgroupVersion::V1);
    assert_eq!(
        cg.dir,
        tree.join("sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope")
    );
    assert_eq!(cg.note, None);
    assert_eq!(cg.sample().unwrap().usage, 126971904);
}

// ---- v2 ----

#[test]
fn v2_limited_service_on_a_v2_host() {
    let tree = fixture("v2-limited");
    let cg = cgroup_of_pid_at(&tree.join("proc"), &tree, 4242).unwrap();
    assert_eq!(cg.version, CgroupVersion::V2);
    assert_eq!(
        cg.dir,
        tree.join("sys/fs/cgroup/system.slice/leaky.service")
    );
    assert_eq!(cg.note, None);
    assert_eq!(
        cg.sample().unwrap(),
        CgroupReading {
            usage: 304 * MIB,
            anon: Some(244 * MIB),
            file: Some(48 * MIB),
            inactive_file: Some(36 * MIB),
            working_set: 268 * MIB,
            limit: Some(512 * MIB),
            high: None,
            oom_kills: Some(0),
            under_oom: false,
        }
    );
}

#[test]
fn v2_limit_set_on_a_parent() {
    let s = Scratch::of("v2-limited", "v2-parent");
    fs::write(
        s.0.join("sys/fs/cgroup/system.slice/memory.max"),
        "268435456\n",
    )
    .unwrap();
    let cg = cgroup_of_pid_at(&s.0.join("proc"), &s.0, 4242).unwrap();
    assert_eq!(cg.sample().unwrap().limit, Some(256 * MIB));
}

#[test]
fn v2_unlimited_container_with_its_own_cgroup_namespace() {
    // `0::/` and a cgroup2 mount whose root is `/`: the group is the mount point.
    let tree = fixture("v2-unlimited");
    let cg = cgroup_of_pid_at(&tree.join("proc"), &tree, 1).unwrap();
    assert_eq!(cg.version, CgroupVersion::V2);
    assert_eq!(cg.dir, tree.join("sys/fs/cgroup"));
    assert_eq!(cg.note, None);
    assert_eq!(
        cg.sample().unwrap(),
        CgroupReading {
            usage: 700 * MIB,
            anon: Some(600 * MIB),
            file: Some(90 * MIB),
            inactive_file: Some(60 * MIB),
            working_set: 640 * MIB,
            limit: None,
            high: Some(1024 * MIB),
            oom_kills: Some(0),
            under_oom: false,
        }
    );
}

#[test]
fn v2_group_after_oom_kills() {
    let cg = open_cgroup(&fixture("v2-oom")).unwrap();
    assert_eq!(cg.version, CgroupVersion::V2);
    assert_eq!(
        cg.sample().unwrap(),
        CgroupReading {
            usage: 267907072,
            anon: Some(257753088),
            file: Some(2 * MIB),
            inactive_file: Some(MIB),
            working_set: 267907072 - MIB,
            limit: Some(256 * MIB),
            high: None,
            oom_kills: Some(2),
            under_oom: false,
        }
    );
}

#[test]
fn working_set_floors_at_zero() {
    // memory.current and memory.stat are not read atomically: inactive_file can exceed usage.
    let s = Scratch::of("v2-oom", "v2-floor");
    fs::write(s.0.join("memory.current"), "524288\n").unwrap();
    assert_eq!(open_cgroup(&s.0).unwrap().sample().unwrap().working_set, 0);
}

// ---- errors ----

#[test]
fn missing_files_are_named() {
    let s = Scratch::of("v2-oom", "missing");
    fs::remove_file(s.0.join("memory.stat")).unwrap();
    let cg = open_cgroup(&s.0).unwrap();
    match cg.sample() {
        Err(ProbeError::Missing { path }) => assert_eq!(path, s.0.join("memory.stat")),
        other => panic!("expected Missing, got {other:?}"),
    }
    let msg = cg.sample().unwrap_err().to_string();
    assert!(
        msg.contains(&s.0.join("memory.stat").display().to_string()),
        "{msg}"
    );

    // memory.events is optional (older kernels); its absence is not an error.
    let s = Scratch::of("v2-oom", "optional");
    fs::remove_file(s.0.join("memory.events")).unwrap();
    fs::remove_file(s.0.join("memory.high")).unwrap();
    let r = open_cgroup(&s.0).unwrap().sample().unwrap();
    assert_eq!((r.oom_kills, r.high), (None, None));

    let s = Scratch::of("v1-limited", "missing-v1");
    fs::remove_file(s.0.join("memory.limit_in_bytes")).unwrap();
    assert!(matches!(
        open_cgroup(&s.0).unwrap().sample(),
        Err(ProbeError::Missing { path }) if path.ends_with("memory.limit_in_bytes")
    ));

    // A directory with no memory files at all (or none at all).
    let nowhere = fixture("no-such-group");
    assert!(matches!(
        open_cgroup(&nowhere),
        Err(ProbeError::Missing { path }) if path == nowhere.join("memory.current")
    ));
    // The v2 side of a hybrid system's group: it exists, but holds no memory files.
    let v2_side =
        fixture("hybrid-systemd/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-3.scope");
    assert!(matches!(
        open_cgroup(&v2_side),
        Err(ProbeError::Missing { .. })
    ));
}

#[test]
fn garbage_is_a_parse_error_naming_file_and_line() {
    let s = Scratch::of("v2-limited", "garbage");
    let group = s.0.join("sys/fs/cgroup/system.slice/leaky.service");
    let stat = group.join("memory.stat");
    s.edit(
        "sys/fs/cgroup/system.slice/leaky.service/memory.stat",
        "kernel_stack 327680",
        "kernel_stack lots",
    );
    let cg = open_cgroup(&group).unwrap();
    match cg.sample() {
        Err(ProbeError::Parse { path, line, .. }) => {
            assert_eq!(path, stat);
            assert_eq!(line, 4);
        }
        other => panic!("expected Parse, got {other:?}"),
    }
    let msg = cg.sample().unwrap_err().to_string();
    assert!(
        msg.contains(&format!("{}:4: expected", stat.display())),
        "{msg}"
    );

    let s = Scratch::of("v2-oom", "garbage-max");
    fs::write(s.0.join("memory.max"), "unlimited\n").unwrap();
    assert!(matches!(
        open_cgroup(&s.0).unwrap().sample(),
        Err(ProbeError::Parse { line: 1, ref expected, .. }) if expected.contains("`max`")
    ));

    let s = Scratch::of("v2-limited", "garbage-cgroup");
    fs::write(s.0.join("proc/4242/cgroup"), "0::/a\nnonsense\n").unwrap();
    assert!(matches!(
        cgroup_of_pid_at(&s.0.join("proc"), &s.0, 4242),
        Err(ProbeError::Parse { line: 2, .. })
    ));
}
