//! Package layers: Debian packages installed once into a squashfs image that hosts stack above
//! their lower layer, so `apt-get install` of a big package (MariaDB: 20 s) is not paid on
//! every create.
//!
//! A layer is named after what it holds and what it was built on: digests of the package
//! list, of the lower's path, and of the lower's dpkg status and apt sources. When the
//! machine (or the base root) changes, the last digest changes and the layer is rebuilt,
//! because a layer's copy of /var/lib/dpkg/status would otherwise hide the lower's newer one;
//! the image it replaces (same packages, same lower) is removed. Layers live in
//! [`LAYER_DIR`], shared by every project on the machine; building one is serialised by a
//! lock per image, so concurrent creates wait for one build instead of racing.
//!
//! The build is the hidden mode `__layer`: a freshly executed process that makes mount, PID,
//! UTS and IPC namespaces (the network stays the machine's, so apt reaches the registry),
//! overlays an empty tmpfs upper on the lower, runs `apt-get install` chrooted there, stops
//! whatever the install started, and packs the upper with mksquashfs. Every mount goes with
//! its namespaces; the image is written under a temporary name and renamed when complete.

use super::host_init::{mount_system, os_error, overlay_root};
use crate::error::{Error, IoContext, Result};
use crate::platform::fs::sha256_hex;
use nix::fcntl::{Flock, FlockArg};
use nix::mount::{umount2, MntFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, sethostname, ForkResult, Pid};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where package layers are kept.
pub const LAYER_DIR: &str = "/var/cache/skillet/layers";
/// Bumped when the way layers are built changes, so old images are not reused.
const FORMAT: &str = "skillet package layer 1";
/// What the lower's packages are: changing any of these makes its layers stale.
const LOWER_STATE: &[&str] = &["var/lib/dpkg/status", "etc/apt/sources.list"];
const LOWER_SOURCES_DIR: &str = "etc/apt/sources.list.d";
/// Stops the install's maintainer scripts from starting daemons in the build (a base root
/// made by debootstrap has no policy-rc.d of its own).
const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";
/// Left out of the image: downloaded archives are only a cache.
const EXCLUDED: &[&str] = &["var/cache/apt/archives/*.deb"];

/// The image holding `packages` installed over `lower`, built first if there is none.
/// `announce` is told when a build starts (it takes a while).
pub fn ensure(lower: &Path, packages: &[String], announce: &dyn Fn(&str)) -> Result<PathBuf> {
    let image = image_path(lower, packages)?;
    if image.is_file() {
        return Ok(image);
    }
    let dir = Path::new(LAYER_DIR);
    std::fs::create_dir_all(dir).with_path(dir)?;
    let _lock = lock(&image.with_extension("lock"))?;
    // Another process may have built it while this one waited for the lock.
    if image.is_file() {
        return Ok(image);
    }
    announce(&format!(
        "Building the package layer {} ({}) on {}",
        file_name(&image),
        packages.join(" "),
        lower.display()
    ));
    build(lower, packages, &image)?;
    remove_stale(&image);
    Ok(image)
}

/// `LAYER_DIR/<packages digest>-<lower digest>.sqfs`.
pub fn image_path(lower: &Path, packages: &[String]) -> Result<PathBuf> {
    let mut wanted: Vec<&str> = packages.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let by_packages = sha256_hex(format!("{FORMAT}\n{}", wanted.join("\n")).as_bytes());
    let by_path = sha256_hex(lower.as_os_str().as_encoded_bytes());
    let by_state = sha256_hex(&lower_state(lower)?);
    Ok(Path::new(LAYER_DIR).join(format!(
        "{}-{}-{}.sqfs",
        &by_packages[..16],
        &by_path[..8],
        &by_state[..16]
    )))
}

/// The lower's path, dpkg status and apt sources, as one byte string.
fn lower_state(lower: &Path) -> Result<Vec<u8>> {
    let mut state = lower.as_os_str().as_encoded_bytes().to_vec();
    let mut files: Vec<PathBuf> = LOWER_STATE.iter().map(|f| lower.join(f)).collect();
    if let Ok(entries) = std::fs::read_dir(lower.join(LOWER_SOURCES_DIR)) {
        let mut sources: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        sources.sort();
        files.extend(sources);
    }
    for file in files {
        state.extend_from_slice(file.as_os_str().as_encoded_bytes());
        match std::fs::read(&file) {
            Ok(bytes) => state.extend_from_slice(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&file, e)),
        }
    }
    Ok(state)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes images of the same package list and lower built on an earlier state of the lower
/// (from the image's own directory).
fn remove_stale(image: &Path) {
    let name = file_name(image);
    let Some((same, _)) = name.rsplit_once('-') else {
        return;
    };
    let Some(Ok(entries)) = image.parent().map(std::fs::read_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let other = entry.file_name().to_string_lossy().into_owned();
        // An image of the same packages named before the lower's path was in the name
        // (`<packages>-<state>.sqfs`) is stale too.
        let by_packages = name.split('-').next().unwrap_or_default();
        let older_naming =
            other.split('-').count() == 2 && other.starts_with(&format!("{by_packages}-"));
        let stale = (other.starts_with(&format!("{same}-")) || older_naming)
            && other.ends_with(".sqfs")
            && other != name;
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An exclusive lock on `path`, released when dropped.
fn lock(path: &Path) -> Result<Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_path(path)?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::io(path, std::io::Error::from_raw_os_error(errno as i32)))
}

/// Runs `skillet kitchen __layer` and waits for the image; a failure carries the end of the
/// install's output.
fn build(lower: &Path, packages: &[String], image: &Path) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    remove_leftovers(image);
    let pid = std::process::id();
    let scratch = image.with_extension(format!("build.{pid}"));
    let staged = image.with_extension(format!("sqfs.tmp.{pid}"));
    std::fs::create_dir_all(&scratch).with_path(&scratch)?;
    let output = Command::new(exe)
        .args(["kitchen", "__layer", "--lower"])
        .arg(lower)
        .arg("--scratch")
        .arg(&scratch)
        .arg("--out")
        .arg(&staged)
        .arg("--")
        .args(packages)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("skillet kitchen __layer", e));
    let _ = std::fs::remove_dir(&scratch);
    let output = output?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&staged);
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n  ");
        return Err(Error::input(
            "Kitchen::ActionFailed",
            format!(
                "building the package layer of {} failed:\n  {tail}",
                packages.join(" ")
            ),
        ));
    }
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .with_path(&staged)?;
    std::fs::rename(&staged, image).with_path(image)
}

/// Removes what builds of `image` that were killed left (their temporary image and scratch
/// directory); called under the image's lock, so no build of it is running.
fn remove_leftovers(image: &Path) {
    let Some(stem) = image.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(LAYER_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{stem}.sqfs.tmp.")) {
            let _ = std::fs::remove_file(entry.path());
        } else if name.starts_with(&format!("{stem}.build.")) {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// What `__layer` is asked to do.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    /// The lower the packages are installed over.
    pub lower: PathBuf,
    /// An empty directory for the build's tmpfs.
    pub scratch: PathBuf,
    /// Where the image goes.
    pub out: PathBuf,
    /// The packages to install.
    pub packages: Vec<String>,
}

/// The hidden mode: builds the image in fresh namespaces; returns the exit code.
pub fn run(spec: &LayerSpec) -> i32 {
    match isolate_and_build(spec) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn isolate_and_build(spec: &LayerSpec) -> Result<()> {
    if spec.packages.is_empty() {
        return Err(Error::input(
            "Kitchen::UserError",
            "a package layer needs at least one package",
        ));
    }
    // A build outlives nothing that asked for it: when the kitchen command is killed, so is
    // this process, and with its PID 1 every process of the build.
    die_with_parent()?;
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWPID,
    )
    .map_err(|e| os_error("unshare", e))?;
    // SAFETY: this process is single-threaded (freshly executed), so the child may run Rust code.
    match unsafe { fork() }.map_err(|e| os_error("fork", e))? {
        ForkResult::Child => std::process::exit(
            match die_with_parent().and_then(|()| build_in_namespaces(spec)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            },
        ),
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(_) => Err(Error::input(
                "Kitchen::ActionFailed",
                "the package layer build failed",
            )),
            Err(e) => Err(os_error("waitpid", e)),
        },
    }
}

/// Asks for SIGKILL when the parent goes; fails if it is already gone.
fn die_with_parent() -> Result<()> {
    let parent = nix::unistd::getppid();
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| os_error("prctl", e))?;
    if nix::unistd::getppid() != parent {
        return Err(Error::input(
            "Kitchen::ActionFailed",
            "the command that started the package layer build is gone",
        ));
    }
    Ok(())
}

/// Runs as PID 1 of the build's PID namespace, so every process the install started dies
/// with it.
fn build_in_namespaces(spec: &LayerSpec) -> Result<()> {
    let policy = PathBuf::from(POLICY_RC_D);
    let built = overlay_root(&spec.scratch, &spec.lower, None, &|upper| {
        write_policy(&upper.join(&policy))
    })?;
    mount_system(&built.root)?;
    sethostname("skillet-layer").map_err(|e| os_error("sethostname", e))?;
    let installed = install(&built.root, &spec.packages);
    // Whatever the maintainer scripts left running must not write while the upper is packed.
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    umount2(&built.root, MntFlags::MNT_DETACH)
        .map_err(|e| os_error("unmounting the build root", e))?;
    installed?;
    let policy = built.upper.join(policy);
    std::fs::remove_file(&policy).with_path(&policy)?;
    squash(&built.upper, &spec.out)
}

fn write_policy(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_path(dir)?;
    }
    std::fs::write(path, "#!/bin/sh\nexit 101\n").with_path(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).with_path(path)
}

/// `apt-get -q -y install PACKAGES` inside the build root, as the package resource runs it.
fn install(root: &Path, packages: &[String]) -> Result<()> {
    let status = Command::new("chroot")
        .arg(root)
        .args(["apt-get", "-q", "-y", "install"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::io("chroot apt-get", e))?;
    if status.success() {
        return Ok(());
    }
    Err(Error::input(
        "Kitchen::ActionFailed",
        format!("apt-get install {} failed ({status})", packages.join(" ")),
    ))
}

fn squash(upper: &Path, out: &Path) -> Result<()> {
    let mut command = Command::new("mksquashfs");
    command
        .arg(upper)
        .arg(out)
        .args([
            "-noappend",
            "-comp",
            "lz4",
            "-xattrs",
            "-quiet",
            "-no-progress",
            "-wildcards",
            "-e",
        ])
        .args(EXCLUDED)
        .stdin(Stdio::null());
    let status = command.status().map_err(|e| {
        Error::input(
            "Kitchen::ActionFailed",
            format!("cannot run mksquashfs ({e}): install squashfs-tools"),
        )
    })?;
    if status.success() {
        return Ok(());
    }
    Err(Error::input(
        "Kitchen::ActionFailed",
        format!("mksquashfs {} failed ({status})", out.display()),
    ))
}

/// Mounts `image` read-only at `target` through a loop device that frees itself when the
/// mount goes (with the host's mount namespace).
pub fn mount_image(image: &Path, target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).with_path(target)?;
    let output = Command::new("mount")
        .args(["-t", "squashfs", "-o", "loop,ro"])
        .arg(image)
        .arg(target)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("mount", e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::input(
        "Kitchen::ActionFailed",
        format!(
            "mounting the package layer {} failed: {}",
            image.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_is_named_by_its_packages_and_its_lower() {
        let lower = tempfile::tempdir().unwrap();
        let status = lower.path().join("var/lib/dpkg");
        std::fs::create_dir_all(&status).unwrap();
        std::fs::write(status.join("status"), "Package: a\n").unwrap();
        let packages = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let one = image_path(lower.path(), &packages(&["nginx", "rinetd"])).unwrap();
        let same = image_path(lower.path(), &packages(&["rinetd", "nginx", "nginx"])).unwrap();
        assert_eq!(one, same, "order and repeats do not matter");
        let other = image_path(lower.path(), &packages(&["nginx"])).unwrap();
        assert_ne!(one, other);

        std::fs::write(status.join("status"), "Package: a\n\nPackage: b\n").unwrap();
        let moved = image_path(lower.path(), &packages(&["nginx", "rinetd"])).unwrap();
        let (a, b) = (file_name(&one), file_name(&moved));
        assert_ne!(a, b, "a changed lower makes a new layer");
        assert_eq!(
            a.rsplit_once('-').map(|p| p.0),
            b.rsplit_once('-').map(|p| p.0)
        );
        assert!(a.ends_with(".sqfs"));
        let elsewhere = tempfile::tempdir().unwrap();
        let status = elsewhere.path().join("var/lib/dpkg");
        std::fs::create_dir_all(&status).unwrap();
        std::fs::write(status.join("status"), "Package: a\n\nPackage: b\n").unwrap();
        let other_lower = image_path(elsewhere.path(), &packages(&["nginx", "rinetd"])).unwrap();
        let c = file_name(&other_lower);
        assert_eq!(a.split('-').next(), c.split('-').next());
        assert_ne!(
            a.rsplit_once('-').map(|p| p.0),
            c.rsplit_once('-').map(|p| p.0),
            "another lower's image is not one this build replaces"
        );
    }

    #[test]
    fn a_new_image_replaces_those_of_the_same_packages_and_lower_only() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "aaaa-1111-old.sqfs", // same packages, same lower, older state: stale
            "aaaa-2222-x.sqfs",   // same packages on another lower: kept
            "bbbb-1111-old.sqfs", // other packages: kept
            "aaaa-oldstate.sqfs", // same packages, named before the lower's path was: stale
            "aaaa-1111-old.lock", // locks stay
            "aaaa-1111-new.sqfs", // the new image itself
        ];
        for name in names {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        remove_stale(&dir.path().join("aaaa-1111-new.sqfs"));
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "aaaa-1111-new.sqfs",
                "aaaa-1111-old.lock",
                "aaaa-2222-x.sqfs",
                "bbbb-1111-old.sqfs"
            ]
        );
    }

    #[test]
    fn a_new_source_list_makes_a_new_layer() {
        let lower = tempfile::tempdir().unwrap();
        let packages = vec!["curl".to_string()];
        let before = image_path(lower.path(), &packages).unwrap();
        let dir = lower.path().join(LOWER_SOURCES_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("extra.list"), "deb http://x/ y main\n").unwrap();
        assert_ne!(before, image_path(lower.path(), &packages).unwrap());
    }
}
