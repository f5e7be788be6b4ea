//! `skillet kitchen __init`: builds a host's root and becomes its PID 1.
//!
//! The driver runs the skillet binary again in this hidden mode, already attached to the host's
//! network namespace. This process makes the mount, UTS, IPC and PID namespaces and forks the
//! host's PID 1, which builds the root (an overlay over the lower, the machine's `/` by default,
//! with everything outside a standard root hidden), mounts fresh /proc, /sys, /dev, /tmp and
//! /run, sets the hostname, chroots, reports "ready" on a pipe and then only reaps orphans until
//! it is killed. Every mount lives in the host's mount namespace, so it vanishes with PID 1.
//!
//! Being a freshly executed single-threaded process is what makes `fork` and `setns` safe here.

use crate::error::{Error, IoContext, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{chdir, chroot, fork, sethostname, setsid, ForkResult, Pid};
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// Top-level directories of a standard Debian root that a host sees from the lower.
const SHOWN: &[&str] = &[
    "bin", "boot", "etc", "lib", "lib32", "lib64", "libx32", "opt", "sbin", "usr", "var",
];
/// Mount points that get their own file systems in the host.
const MOUNTED: &[&str] = &["dev", "proc", "sys", "tmp", "run"];
/// Standard directories that exist in a host but start empty.
const EMPTIED: &[&str] = &["root", "home", "mnt", "media", "srv"];

/// What the host's root is made of.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// The host's network namespace file (/run/netns/NAME).
    pub netns: PathBuf,
    /// The lower layer (the machine's `/` or a base root).
    pub lower: PathBuf,
    /// An empty directory where the host mounts the tmpfs holding its upper layer and root.
    pub scratch: PathBuf,
    /// The host's name.
    pub hostname: String,
    /// The full text of the host's /etc/hosts (read from standard input).
    pub hosts: String,
    /// Bind the machine's network namespace at [`APT_NETNS`] inside the host (`apt_network:
    /// machine`), so apt can reach the package registry while the host stays isolated.
    pub apt_netns: bool,
    /// A package layer (squashfs image) stacked on the lower, if the host has one.
    pub layer: Option<PathBuf>,
    /// The lab's package cache as the host reaches it (`apt_network: cache`): written into
    /// the host's apt configuration as its proxy.
    pub apt_proxy: Option<String>,
}

/// Where a host with `apt_network: machine` finds the machine's network namespace: a file
/// handle only, no route; apt-get and apt-cache enter it for themselves alone.
pub const APT_NETNS: &str = "/run/skillet/apt-netns";

/// Runs the hidden mode; prints the PID 1 (as the machine sees it) once the host is ready.
pub fn run(spec: &HostSpec) -> i32 {
    match start(spec) {
        Ok(pid) => {
            println!("{pid}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn start(spec: &HostSpec) -> Result<Pid> {
    // Opened while this process is still in the machine's network namespace.
    let machine_netns = if spec.apt_netns {
        let own = Path::new("/proc/self/ns/net");
        Some(std::fs::File::open(own).with_path(own)?)
    } else {
        None
    };
    let netns = std::fs::File::open(&spec.netns).with_path(&spec.netns)?;
    setns(&netns, CloneFlags::CLONE_NEWNET).map_err(|e| os_error("setns(net)", e))?;
    drop(netns);
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWPID,
    )
    .map_err(|e| os_error("unshare", e))?;
    let (ready_read, ready_write) = nix::unistd::pipe().map_err(|e| os_error("pipe", e))?;
    // SAFETY: this process is single-threaded (freshly executed), so the child may run Rust code.
    match unsafe { fork() }.map_err(|e| os_error("fork", e))? {
        ForkResult::Child => {
            drop(ready_read);
            pid1(spec, machine_netns, std::fs::File::from(ready_write))
        }
        ForkResult::Parent { child } => {
            drop(ready_write);
            let mut answer = String::new();
            let _ = std::fs::File::from(ready_read).read_to_string(&mut answer);
            if answer.trim() == "ready" {
                return Ok(child);
            }
            let _ = waitpid(child, None);
            Err(Error::input(
                "Kitchen::ActionFailed",
                if answer.is_empty() {
                    "the host's PID 1 died while building its root".to_string()
                } else {
                    answer
                },
            ))
        }
    }
}

/// The host's PID 1: build the root, say ready, reap.
fn pid1(spec: &HostSpec, machine_netns: Option<std::fs::File>, mut ready: std::fs::File) -> ! {
    let _ = setsid();
    quiet_stdio();
    match build_root(spec, machine_netns) {
        Ok(()) => {
            let _ = ready.write_all(b"ready");
            drop(ready);
            reap_until_terminated()
        }
        Err(e) => {
            let _ = ready.write_all(e.to_string().as_bytes());
            std::process::exit(1)
        }
    }
}

/// PID 1 must not hold the pipes of the command that created it, or that command never sees
/// the end of its output.
fn quiet_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

fn reap_until_terminated() -> ! {
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        signals.add(s);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None);
    loop {
        match signals.wait() {
            Ok(Signal::SIGCHLD) => reap_all(),
            Ok(_) => std::process::exit(0),
            Err(_) => reap_all(),
        }
    }
}

fn reap_all() {
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

fn build_root(spec: &HostSpec, machine_netns: Option<std::fs::File>) -> Result<()> {
    let built = overlay_root(
        &spec.scratch,
        &spec.lower,
        spec.layer.as_deref(),
        &|upper| {
            write_identity(upper, spec)?;
            match &spec.apt_proxy {
                Some(proxy) => write_apt_proxy(upper, proxy),
                None => Ok(()),
            }
        },
    )?;
    let root = built.root;
    mount_system(&root)?;
    if let Some(netns) = machine_netns {
        bind_machine_netns(&root, &netns)?;
    }
    sethostname(&spec.hostname).map_err(|e| os_error("sethostname", e))?;
    chroot(&root).map_err(|e| os_error("chroot", e))?;
    chdir("/").map_err(|e| os_error("chdir", e))?;
    Ok(())
}

/// A root made by [`overlay_root`].
pub(crate) struct OverlayRoot {
    /// Where the root's changes go.
    pub upper: PathBuf,
    /// The merged root.
    pub root: PathBuf,
}

/// Makes this mount namespace's mounts private, then mounts an overlay of `lower` (with the
/// package `layer` image above it, if any) and a fresh upper, all on a tmpfs at `scratch`:
/// everything outside a standard root hidden, and `prepare` given the upper before the
/// overlay is mounted.
pub(crate) fn overlay_root(
    scratch: &Path,
    lower: &Path,
    layer: Option<&Path>,
    prepare: &dyn Fn(&Path) -> Result<()>,
) -> Result<OverlayRoot> {
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| os_error("making mounts private", e))?;
    mount_fs("tmpfs", scratch, MsFlags::MS_NODEV, "mode=755")?;
    let (upper, work, root) = (
        scratch.join("upper"),
        scratch.join("work"),
        scratch.join("root"),
    );
    for dir in [&upper, &work, &root] {
        std::fs::create_dir(dir).with_path(dir)?;
    }
    let mounted = match layer {
        Some(image) => {
            let mounted = scratch.join("layer");
            super::layer::mount_image(image, &mounted)?;
            Some(mounted)
        }
        None => None,
    };
    hide_non_standard(lower, &upper, mounted.as_deref())?;
    prepare(&upper)?;
    let lowers = match &mounted {
        Some(mounted) => format!("{}:{}", mounted.display(), lower.display()),
        None => lower.display().to_string(),
    };
    let layers = format!(
        "lowerdir={lowers},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    mount_fs("overlay", &root, MsFlags::empty(), &layers).map_err(|e| {
        Error::input(
            "Kitchen::ActionFailed",
            format!(
                "{e} (the lower layer {} must be a directory on a file system overlayfs accepts: check `base_root`)",
                lower.display()
            ),
        )
    })?;
    Ok(OverlayRoot { upper, root })
}

/// Binds the open handle of the machine's network namespace at [`APT_NETNS`] in the host's
/// fresh /run; the bind lives in the host's mount namespace and goes with it.
fn bind_machine_netns(root: &Path, netns: &std::fs::File) -> Result<()> {
    use std::os::fd::AsRawFd;
    let target = root.join(APT_NETNS.trim_start_matches('/'));
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_path(dir)?;
    }
    std::fs::File::create(&target).with_path(&target)?;
    // The machine's /proc is still mounted here (before the chroot) and shows this process.
    let source = format!("/proc/self/fd/{}", netns.as_raw_fd());
    let none: Option<&str> = None;
    mount(Some(source.as_str()), &target, none, MsFlags::MS_BIND, none).map_err(|e| {
        os_error(
            &format!("binding the machine's network namespace at {APT_NETNS}"),
            e,
        )
    })
}

/// An allowlist, not a blocklist: whatever the machine keeps at its top level (repositories,
/// caches, `/.dockerenv`) stays out of the host. Directories a host needs empty are made
/// opaque; everything else gets a whiteout.
///
/// Entries a package layer has at its top are left to it: the layer was built with the same
/// hiding, plus whatever its packages put there (e.g. a directory under /srv), which hiding
/// them again in the upper would mask.
fn hide_non_standard(lower: &Path, upper: &Path, layer: Option<&Path>) -> Result<()> {
    let entries = std::fs::read_dir(lower).with_path(lower)?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if SHOWN.contains(&name.as_ref()) || MOUNTED.contains(&name.as_ref()) {
            continue;
        }
        if layer.is_some_and(|l| l.join(name.as_ref()).symlink_metadata().is_ok()) {
            continue;
        }
        let hidden = upper.join(name.as_ref());
        if EMPTIED.contains(&name.as_ref()) && entry.path().is_dir() {
            std::fs::create_dir(&hidden).with_path(&hidden)?;
            set_opaque(&hidden)?;
        } else {
            // A 0/0 character device is overlayfs's whiteout.
            mknod(&hidden, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                .map_err(|e| os_error(&format!("whiteout {}", hidden.display()), e))?;
        }
    }
    Ok(())
}

fn set_opaque(dir: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
    let name = c"trusted.overlay.opaque";
    // SAFETY: both strings are NUL-terminated and the value is one byte long.
    let rc =
        unsafe { nix::libc::setxattr(path.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if rc != 0 {
        return Err(Error::io(dir, std::io::Error::last_os_error()));
    }
    Ok(())
}

fn write_identity(upper: &Path, spec: &HostSpec) -> Result<()> {
    let etc = upper.join("etc");
    std::fs::create_dir_all(&etc).with_path(&etc)?;
    let write = |name: &str, text: &str| {
        let path = etc.join(name);
        std::fs::write(&path, text).with_path(&path)
    };
    write("hostname", &format!("{}\n", spec.hostname))?;
    write("hosts", &spec.hosts)?;
    write("machine-id", &format!("{}\n", machine_id()?))
}

/// Into the upper layer, before the overlay is mounted, like the identity files: apt in the
/// host then finds the proxy whatever runs it.
fn write_apt_proxy(upper: &Path, proxy: &str) -> Result<()> {
    let path = upper.join(crate::kitchen::cache::APT_PROXY_CONF.trim_start_matches('/'));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_path(dir)?;
    }
    std::fs::write(&path, crate::kitchen::cache::apt_proxy_config(proxy)).with_path(&path)
}

/// A fresh random machine id (32 hex digits), so hosts never share the machine's.
fn machine_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    let path = Path::new("/dev/urandom");
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .with_path(path)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn mount_system(root: &Path) -> Result<()> {
    let secure = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    for dir in MOUNTED {
        let path = root.join(dir);
        std::fs::create_dir_all(&path).with_path(&path)?;
    }
    mount_fs("proc", &root.join("proc"), secure, "")?;
    mount_fs("sysfs", &root.join("sys"), secure | MsFlags::MS_RDONLY, "")?;
    mount_dev(&root.join("dev"))?;
    mount_fs(
        "tmpfs",
        &root.join("tmp"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mode=1777",
    )?;
    mount_fs(
        "tmpfs",
        &root.join("run"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mode=755",
    )?;
    let lock = root.join("run/lock");
    std::fs::create_dir(&lock).with_path(&lock)?;
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o1777)).with_path(&lock)
}

fn mount_dev(dev: &Path) -> Result<()> {
    mount_fs("tmpfs", dev, MsFlags::MS_NOSUID, "mode=755")?;
    let nodes: &[(&str, u64, u64)] = &[
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ];
    for (name, major, minor) in nodes {
        let path = dev.join(name);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .map_err(|e| os_error(&format!("mknod {}", path.display()), e))?;
        // mknod's mode is cut by the umask; device nodes must be usable by everyone.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).with_path(&path)?;
    }
    for dir in ["pts", "shm"] {
        std::fs::create_dir(dev.join(dir)).with_path(&dev.join(dir))?;
    }
    mount_fs(
        "devpts",
        &dev.join("pts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )?;
    mount_fs(
        "tmpfs",
        &dev.join("shm"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mode=1777",
    )?;
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, target) in links {
        symlink(target, dev.join(name)).with_path(&dev.join(name))?;
    }
    Ok(())
}

fn mount_fs(kind: &str, target: &Path, flags: MsFlags, data: &str) -> Result<()> {
    let data = (!data.is_empty()).then_some(data);
    mount(Some(kind), target, Some(kind), flags, data)
        .map_err(|e| os_error(&format!("mounting {kind} on {}", target.display()), e))
}

pub(crate) fn os_error(what: &str, errno: nix::errno::Errno) -> Error {
    Error::input(
        "Kitchen::ActionFailed",
        format!("{what} failed: {}", errno.desc()),
    )
}
