//! Files on the host: atomic writes, backups, metadata. Never a half-written file.
//!
//! Every content write goes through [`stage_and_rename`]: a temp file in the destination's
//! directory receives the content, is synced and given its final owner, group and mode, then is
//! renamed over the destination. A crash leaves either the old file or the new one, plus at most
//! a stray `.chef-*` temp file.

use crate::error::{Error, IoContext, Result};
use crate::platform::clock::LocalTime;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Permission bits of a file, masked to `07777` as Chef does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode(u32);

impl Mode {
    /// A mode from raw bits (an integer property is taken literally: 644 means 0o1204).
    pub fn new(bits: u32) -> Self {
        Mode(bits & 0o7777)
    }

    /// A mode from an octal string (`"644"` ≡ `"0644"`); `None` if it is not octal.
    pub fn parse_octal(text: &str) -> Option<Self> {
        let digits = text.trim();
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(8)) {
            return None;
        }
        u32::from_str_radix(digits, 8).ok().map(Mode::new)
    }

    /// The permission bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Mode {
    /// `'0' + octal`, as in `change mode from '0644' to '0600'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0{:o}", self.0)
    }
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 6 hex digits of a checksum, or `none`, as Chef prints them.
pub fn short_checksum(checksum: Option<&str>) -> String {
    match checksum {
        Some(c) => c.chars().take(6).collect(),
        None => "none".to_string(),
    }
}

/// What is at a path, without following a symlink at the path itself.
#[derive(Debug, Clone)]
pub enum PathState {
    /// Nothing there (or a parent is not a directory).
    Missing,
    /// A regular file.
    File(fs::Metadata),
    /// A directory.
    Directory(fs::Metadata),
    /// A symbolic link (not followed).
    Symlink(fs::Metadata),
    /// A device, FIFO or socket, with Chef's word for it.
    Other(fs::Metadata, &'static str),
}

impl PathState {
    /// Reads the state of `path` with `lstat`.
    pub fn of(path: &Path) -> Result<Self> {
        use std::os::unix::fs::FileTypeExt;
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(PathState::Missing),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => {
                return Ok(PathState::Missing)
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let ft = meta.file_type();
        Ok(if ft.is_symlink() {
            PathState::Symlink(meta)
        } else if ft.is_file() {
            PathState::File(meta)
        } else if ft.is_dir() {
            PathState::Directory(meta)
        } else if ft.is_block_device() {
            PathState::Other(meta, "block device")
        } else if ft.is_char_device() {
            PathState::Other(meta, "char device")
        } else if ft.is_fifo() {
            PathState::Other(meta, "fifo file")
        } else if ft.is_socket() {
            PathState::Other(meta, "socket file")
        } else {
            PathState::Other(meta, "unknown filetype")
        })
    }

    /// The metadata, if something is there.
    pub fn metadata(&self) -> Option<&fs::Metadata> {
        match self {
            PathState::Missing => None,
            PathState::File(m)
            | PathState::Directory(m)
            | PathState::Symlink(m)
            | PathState::Other(m, _) => Some(m),
        }
    }

    /// True when nothing is at the path.
    pub fn is_missing(&self) -> bool {
        matches!(self, PathState::Missing)
    }

    /// Chef's word for what is there (`directory`, `symlink`, `file`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            PathState::Missing => "nothing",
            PathState::File(_) => "file",
            PathState::Directory(_) => "directory",
            PathState::Symlink(_) => "symlink",
            PathState::Other(_, name) => name,
        }
    }
}

/// Owner, group and mode to give a file; `None` keeps what is there (or the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ownership {
    /// The owner's uid.
    pub uid: Option<u32>,
    /// The group's gid.
    pub gid: Option<u32>,
    /// The permission bits.
    pub mode: Option<Mode>,
}

impl Ownership {
    /// These values, with unset ones taken from an existing file's metadata.
    pub fn or_existing(self, meta: Option<&fs::Metadata>) -> Ownership {
        Ownership {
            uid: self.uid.or(meta.map(|m| m.uid())),
            gid: self.gid.or(meta.map(|m| m.gid())),
            mode: self.mode.or(meta.map(|m| Mode::new(m.mode()))),
        }
    }
}

/// Chef's temp name for staging `dest`: `.chef-<stem><YYYYMMDD>-<pid>-<n><ext>` beside it.
pub fn staging_path(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match file_name.rfind('.') {
        Some(i) if i > 0 => (&file_name[..i], &file_name[i..]),
        _ => (file_name.as_str(), ""),
    };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let unique = format!("{:x}", (u64::from(nanos) << 8) ^ n);
    let name = format!(
        ".chef-{stem}{}-{}-{unique}{ext}",
        LocalTime::now().date_stamp(),
        std::process::id()
    );
    dest.with_file_name(name)
}

/// Writes `content` to `staged` (created new), syncs it, gives it `ownership` (unset mode:
/// the umask default for a new file), runs `verify` on it, and renames it over `dest`.
///
/// If anything fails the staged file is removed and `dest` is untouched.
pub fn stage_and_rename(
    dest: &Path,
    staged: &Path,
    content: &[u8],
    ownership: Ownership,
    verify: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    let result = write_staged(staged, content, ownership)
        .and_then(|()| verify(staged))
        .and_then(|()| fs::rename(staged, dest).with_path(dest));
    if result.is_err() {
        let _ = fs::remove_file(staged);
    }
    result?;
    sync_parent(dest);
    Ok(())
}

/// `atomic_update false`: the content is staged and verified like [`stage_and_rename`], then
/// written into the existing file in place (for bind-mounted files, where a rename fails with
/// EBUSY). Chef's trade-off: a reader may see the file mid-write.
pub fn stage_and_copy(
    dest: &Path,
    staged: &Path,
    content: &[u8],
    ownership: Ownership,
    verify: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    let staged_mode = Ownership {
        mode: ownership.mode,
        ..Ownership::default()
    };
    let result = write_staged(staged, content, staged_mode).and_then(|()| verify(staged));
    let _ = fs::remove_file(staged);
    result?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(create_mode(ownership))
        .open(dest)
        .with_path(dest)?;
    file.write_all(content).with_path(dest)?;
    file.sync_all().with_path(dest)?;
    set_ownership_fd(&file, dest, ownership)
}

fn write_staged(staged: &Path, content: &[u8], ownership: Ownership) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(create_mode(ownership))
        .open(staged)
        .with_path(staged)?;
    file.write_all(content).with_path(staged)?;
    file.sync_all().with_path(staged)?;
    set_ownership_fd(&file, staged, ownership)
}

/// The mode a new file is created with. Without a mode, 0666 lets the umask decide, as
/// Chef's `touch` does. With one, the content is written while only the owner can read it, so
/// a key meant to be 0600 is never readable by others, not even before its chmod.
fn create_mode(ownership: Ownership) -> u32 {
    if ownership.mode.is_some() {
        0o600
    } else {
        0o666
    }
}

fn set_ownership_fd(file: &File, path: &Path, ownership: Ownership) -> Result<()> {
    let meta = file.metadata().with_path(path)?;
    // Skipping a no-op chown lets an unprivileged run rewrite files it already owns.
    let uid = ownership.uid.filter(|u| *u != meta.uid());
    let gid = ownership.gid.filter(|g| *g != meta.gid());
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(file, uid, gid).with_path(path)?;
    }
    if let Some(mode) = ownership.mode {
        file.set_permissions(fs::Permissions::from_mode(mode.bits()))
            .with_path(path)?;
    }
    Ok(())
}

/// Sets owner/group (without following a symlink at `path`) and mode where given.
///
/// chown(2) clears set-uid/set-gid bits; when no mode is given they are put back, as Chef
/// reapplies the mode after an owner or group change.
pub fn set_ownership(path: &Path, ownership: Ownership, follow: bool) -> Result<()> {
    let mut ownership = ownership;
    if ownership.mode.is_none() && follow && (ownership.uid.is_some() || ownership.gid.is_some()) {
        let bits = fs::metadata(path).with_path(path)?.mode() & 0o7777;
        if bits & 0o6000 != 0 {
            ownership.mode = Some(Mode::new(bits));
        }
    }
    if ownership.uid.is_some() || ownership.gid.is_some() {
        if follow {
            std::os::unix::fs::chown(path, ownership.uid, ownership.gid).with_path(path)?;
        } else {
            std::os::unix::fs::lchown(path, ownership.uid, ownership.gid).with_path(path)?;
        }
    }
    if let Some(mode) = ownership.mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode.bits())).with_path(path)?;
    }
    Ok(())
}

/// Makes the rename durable; failure to sync a directory is not worth failing the run for.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

/// Sets the access and modification times of `path` to now.
pub fn touch_times(path: &Path) -> Result<()> {
    let now = std::time::SystemTime::now();
    let file = OpenOptions::new().write(true).open(path).with_path(path)?;
    let times = fs::FileTimes::new().set_accessed(now).set_modified(now);
    file.set_times(times).with_path(path)
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_path(path)
}

/// Copies `host_file` to `<backup_root>/<logical path>.chef-<stamp>` (keeping its mode and
/// times) and removes all but the newest `keep` backups of that path.
pub fn backup(host_file: &Path, logical: &Path, backup_root: &Path, keep: u32) -> Result<()> {
    if keep == 0 {
        return Ok(());
    }
    let relative = logical.strip_prefix("/").unwrap_or(logical);
    let base = backup_root.join(relative);
    let dir = base.parent().unwrap_or(backup_root).to_path_buf();
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    fs::create_dir_all(&dir).with_path(&dir)?;
    let target = dir.join(format!("{name}.chef-{}", LocalTime::now().backup_stamp()));
    // Copied beside its final name, then renamed: a backup is whole or absent.
    let staging = dir.join(format!(".{name}.chef-backup-{}", std::process::id()));
    fs::copy(host_file, &staging).with_path(&staging)?;
    if let Ok(meta) = fs::metadata(host_file) {
        if let Ok(mtime) = meta.modified() {
            if let Ok(f) = OpenOptions::new().write(true).open(&staging) {
                let _ = f.set_times(fs::FileTimes::new().set_modified(mtime));
                let _ = f.sync_all();
            }
        }
    }
    fs::rename(&staging, &target).with_path(&target)?;
    prune_backups(&dir, &name, keep)
}

/// Backups sort by name because the stamp is fixed-width; the oldest go first.
fn prune_backups(dir: &Path, name: &str, keep: u32) -> Result<()> {
    let prefix = format!("{name}.chef-");
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .with_path(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .is_some_and(|stamp| stamp.len() == 21 && stamp.as_bytes()[14] == b'.')
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    let excess = found.len().saturating_sub(keep as usize);
    for old in &found[..excess] {
        fs::remove_file(old).with_path(old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_given_a_mode_has_it_when_verified_and_after_by_either_writer() {
        use std::os::unix::fs::PermissionsExt;
        type Writer =
            fn(&Path, &Path, &[u8], Ownership, &dyn Fn(&Path) -> Result<()>) -> Result<()>;
        let writers: [(&str, Writer); 2] = [("rename", stage_and_rename), ("copy", stage_and_copy)];
        for (how, write) in writers {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("key.pem");
            let seen = std::cell::Cell::new(0);
            let ownership = Ownership {
                mode: Some(Mode::new(0o640)),
                ..Ownership::default()
            };
            write(
                &dest,
                &staging_path(&dest),
                b"secret",
                ownership,
                &|staged| {
                    seen.set(fs::metadata(staged).unwrap().permissions().mode() & 0o777);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(
                seen.get(),
                0o640,
                "{how}: the staged file had its mode when verified"
            );
            let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640, "{how}");
        }
    }

    #[test]
    fn mode_strings_are_octal_and_integers_literal() {
        assert_eq!(Mode::parse_octal("644"), Mode::parse_octal("0644"));
        assert_eq!(Mode::parse_octal("0644").map(Mode::bits), Some(0o644));
        assert_eq!(Mode::new(420), Mode::new(0o644));
        assert_eq!(Mode::new(644).to_string(), "01204");
        assert_eq!(Mode::new(0o100644).to_string(), "0644");
        assert_eq!(Mode::parse_octal("9"), None);
        assert_eq!(Mode::parse_octal(""), None);
    }

    #[test]
    fn checksums_and_short_form() {
        let sum = sha256_hex(b"old\n");
        assert_eq!(short_checksum(Some(&sum)), "01d09d");
        assert_eq!(short_checksum(None), "none");
    }

    #[test]
    fn staging_name_is_hidden_beside_the_destination() {
        let p = staging_path(Path::new("/etc/app.conf"));
        assert_eq!(p.parent(), Some(Path::new("/etc")));
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".chef-app"), "{name}");
        assert!(name.ends_with(".conf"), "{name}");
    }

    #[test]
    fn stage_and_rename_replaces_atomically_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.conf");
        fs::write(&dest, "old").unwrap();
        let own = Ownership {
            mode: Some(Mode::new(0o600)),
            ..Ownership::default()
        };
        let staged = staging_path(&dest);
        stage_and_rename(&dest, &staged, b"new", own, &|_| Ok(())).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o600);

        let staged = staging_path(&dest);
        let failed = stage_and_rename(&dest, &staged, b"bad", own, &|_| {
            Err(Error::resource("Chef::Exceptions::ValidationFailed", "no"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert!(!staged.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn setuid_survives_an_owner_change() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tool");
        fs::write(&file, "x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o4755)).unwrap();
        let own = Ownership {
            uid: Some(65534),
            ..Ownership::default()
        };
        set_ownership(&file, own, true).unwrap();
        let meta = fs::metadata(&file).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (65534, 0o4755));
    }

    #[test]
    fn backups_keep_the_newest_n() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "v").unwrap();
        let root = dir.path().join("backup");
        for _ in 0..4 {
            backup(&file, Path::new("/etc/f"), &root, 2).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let kept: Vec<_> = fs::read_dir(root.join("etc")).unwrap().collect();
        assert_eq!(kept.len(), 2);
    }
}
