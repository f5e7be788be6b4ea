//! The machine facts are read from: a root directory for files, and, for this machine only, the
//! kernel's own answers (rtnetlink, statvfs, uname) that have no file.

use std::path::{Path, PathBuf};

/// Where facts come from: files below `root`; kernel calls only when `root` is `/`.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// This machine.
    pub fn local() -> Self {
        Host {
            root: PathBuf::from("/"),
        }
    }

    /// A host whose files are below `root` (a container's root, or a test's temp dir).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Host { root: root.into() }
    }

    /// The root directory of the host's files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when facts come from this machine's kernel (sockets, statvfs, uname).
    pub fn is_local(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The path of a host file (`/proc/meminfo`) on this machine.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// A host file's text; None when it is missing or unreadable.
    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path)).ok()
    }

    /// A host file's text, trimmed; None when missing or empty.
    pub fn read_trimmed(&self, path: &str) -> Option<String> {
        self.read(path)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// True when the host path exists.
    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    /// The names in a host directory, sorted as a shell glob sorts them.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// True when an executable named `name` is on the PATH (Ohai's `which`).
    pub fn which(&self, name: &str) -> bool {
        let path = std::env::var("PATH").unwrap_or_else(|_| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        path.split(':')
            .filter(|dir| !dir.is_empty())
            .any(|dir| is_executable(&self.path(&format!("{dir}/{name}"))))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_below_its_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/hostname"), " web1\n").unwrap();
        let host = Host::at(dir.path());
        assert!(!host.is_local());
        assert_eq!(host.read_trimmed("/etc/hostname").as_deref(), Some("web1"));
        assert_eq!(host.read("/etc/missing"), None);
        assert_eq!(host.list("/etc"), vec!["hostname".to_string()]);
        assert!(Host::local().is_local());
    }
}
