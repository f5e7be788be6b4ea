//! Packages on a Debian host: dpkg's status database, apt and dpkg commands, and the per-run
//! cache of what is installed and what apt would install.
//!
//! The status file is read once per run (on first use) and again only after a resource changed
//! packages; candidate versions come from `apt-cache policy` only when a decision needs one, and
//! are remembered for the rest of the run. The no-op path therefore reads one file and spawns
//! nothing.

pub mod apt;
pub mod dpkg_status;
pub mod version;

use crate::error::Result;
use apt::DebInfo;
use dpkg_status::{DpkgEntry, DpkgState, DpkgStatus};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where dpkg keeps its status database.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// What a run knows about packages: the status database and candidate versions.
#[derive(Debug, Default)]
pub struct PackageState {
    status: Option<DpkgStatus>,
    /// (package, default_release) → candidate version.
    candidates: HashMap<(String, Option<String>), Option<String>>,
    /// `.deb` path → (mtime, size, what it contains).
    debs: HashMap<PathBuf, (Option<SystemTime>, u64, DebInfo)>,
    /// How many times the status file was read in this run.
    reads: usize,
    /// How many commands were spawned to answer questions (apt-cache, dpkg-deb).
    queries: usize,
}

impl PackageState {
    /// The status database, read from `path` on first use (or after [`Self::refresh`]).
    pub fn status(&mut self, path: &Path) -> Result<&DpkgStatus> {
        if self.status.is_none() {
            self.reads += 1;
            self.status = Some(DpkgStatus::read(path)?);
        }
        Ok(self.status.get_or_insert_with(DpkgStatus::default))
    }

    /// How many times the status file has been read.
    pub fn status_reads(&self) -> usize {
        self.reads
    }

    /// How many commands were spawned to answer questions (apt-cache policy, dpkg-deb -f).
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// Forgets the status database after packages changed; the next question re-reads it.
    pub fn refresh(&mut self) {
        self.status = None;
    }

    /// Forgets candidate versions after the package lists changed (`apt-get update`).
    pub fn forget_candidates(&mut self) {
        self.candidates.clear();
    }

    /// Candidate versions of `names` under `default_release`; asks `apt-cache policy` once for
    /// all that are not yet known.
    pub fn candidates(
        &mut self,
        names: &[String],
        default_release: Option<&str>,
    ) -> Result<Vec<Option<String>>> {
        let key = |n: &str| (n.to_string(), default_release.map(str::to_string));
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !self.candidates.contains_key(&key(n)))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            self.queries += 1;
            let found = apt::candidate_versions(&unknown, default_release)?;
            for (name, candidate) in unknown.iter().zip(found) {
                self.candidates.insert(key(name), candidate);
            }
        }
        Ok(names
            .iter()
            .map(|n| self.candidates.get(&key(n)).cloned().flatten())
            .collect())
    }

    /// The name and version inside the `.deb` at `path`, read once while the file is unchanged.
    pub fn deb_info(&mut self, path: &Path) -> Result<DebInfo> {
        let meta = std::fs::metadata(path).map_err(|e| crate::error::Error::io(path, e))?;
        let stamp = (meta.modified().ok(), meta.len());
        if let Some((mtime, len, info)) = self.debs.get(path) {
            if (*mtime, *len) == stamp {
                return Ok(info.clone());
            }
        }
        self.queries += 1;
        let info = apt::deb_info(path)?;
        self.debs
            .insert(path.to_path_buf(), (stamp.0, stamp.1, info.clone()));
        Ok(info)
    }

    /// Sets what is known about `name` without asking the host: its installed version (`None`:
    /// not installed) and its candidate. Used to decide against a given state.
    pub fn preset(&mut self, name: &str, installed: Option<&str>, candidate: Option<&str>) {
        let status = self.status.get_or_insert_with(DpkgStatus::default);
        let (base, arch) = match name.split_once(':') {
            Some((b, a)) => (b, a),
            None => (name, ""),
        };
        status.insert(DpkgEntry {
            name: base.to_string(),
            architecture: arch.to_string(),
            version: installed.unwrap_or("").to_string(),
            want: if installed.is_some() {
                "install"
            } else {
                "purge"
            }
            .to_string(),
            state: if installed.is_some() {
                DpkgState::Installed
            } else {
                DpkgState::NotInstalled
            },
        });
        self.candidates
            .insert((name.to_string(), None), candidate.map(str::to_string));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_read_once_until_refreshed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status");
        std::fs::write(
            &path,
            "Package: a\nStatus: install ok installed\nVersion: 1\n",
        )
        .unwrap();
        let mut state = PackageState::default();
        assert_eq!(
            state.status(&path).unwrap().installed_version("a"),
            Some("1")
        );
        std::fs::write(
            &path,
            "Package: a\nStatus: install ok installed\nVersion: 2\n",
        )
        .unwrap();
        assert_eq!(
            state.status(&path).unwrap().installed_version("a"),
            Some("1")
        );
        assert_eq!(state.status_reads(), 1);
        state.refresh();
        assert_eq!(
            state.status(&path).unwrap().installed_version("a"),
            Some("2")
        );
        assert_eq!(state.status_reads(), 2);
    }

    #[test]
    fn preset_answers_without_the_host() {
        let mut state = PackageState::default();
        state.preset("nginx", Some("1.0"), Some("2.0"));
        state.preset("absent", None, None);
        let missing = Path::new("/nonexistent/status");
        let status = state.status(missing).unwrap();
        assert_eq!(status.installed_version("nginx"), Some("1.0"));
        assert_eq!(status.installed_version("absent"), None);
        let c = state
            .candidates(&["nginx".into(), "absent".into()], None)
            .unwrap();
        assert_eq!(c, [Some("2.0".to_string()), None]);
        assert_eq!(state.status_reads(), 0);
        assert_eq!(state.queries(), 0);
    }
}
