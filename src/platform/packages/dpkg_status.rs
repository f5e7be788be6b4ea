//! A reader of dpkg's status database (`/var/lib/dpkg/status`).
//!
//! The file is a list of RFC 822-like stanzas separated by blank lines; continuation lines start
//! with a space or tab. Only `Package`, `Architecture`, `Version` and `Status` matter here, so
//! every other line is skipped without being copied. Multi-Arch `same` packages can have one
//! stanza per architecture; they are found as `name:arch` or, without an arch, by the native
//! architecture (the one dpkg itself is built for).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// dpkg's idea of where a package is (the third word of `Status:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpkgState {
    NotInstalled,
    ConfigFiles,
    HalfInstalled,
    Unpacked,
    HalfConfigured,
    TriggersAwaited,
    TriggersPending,
    Installed,
}

impl DpkgState {
    /// Parses the state word of a `Status:` line.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "not-installed" => DpkgState::NotInstalled,
            "config-files" => DpkgState::ConfigFiles,
            "half-installed" => DpkgState::HalfInstalled,
            "unpacked" => DpkgState::Unpacked,
            "half-configured" => DpkgState::HalfConfigured,
            "triggers-awaited" => DpkgState::TriggersAwaited,
            "triggers-pending" => DpkgState::TriggersPending,
            "installed" => DpkgState::Installed,
            _ => return None,
        })
    }

    /// Whether a version of the package is on the host, as apt reports `Installed:`: every
    /// state except not-installed and config-files.
    pub fn has_version(self) -> bool {
        !matches!(self, DpkgState::NotInstalled | DpkgState::ConfigFiles)
    }
}

/// One stanza of the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgEntry {
    /// `Package:`, without an architecture.
    pub name: String,
    /// `Architecture:` (`amd64`, `all`, ...).
    pub architecture: String,
    /// `Version:`; kept for config-files entries too (the version they came from).
    pub version: String,
    /// The selection (`install`, `hold`, `deinstall`, `purge`).
    pub want: String,
    /// Where the package is.
    pub state: DpkgState,
}

impl DpkgEntry {
    /// The installed version, if a version is on the host.
    pub fn installed_version(&self) -> Option<&str> {
        self.state.has_version().then_some(self.version.as_str())
    }

    /// Whether something is left to purge: any state other than not-installed.
    pub fn leaves_traces(&self) -> bool {
        self.state != DpkgState::NotInstalled
    }
}

/// The parsed status database.
#[derive(Debug, Clone, Default)]
pub struct DpkgStatus {
    entries: Vec<DpkgEntry>,
    /// Package name → indexes into `entries` (one per architecture).
    by_name: HashMap<String, Vec<usize>>,
    native_arch: Option<String>,
}

impl DpkgStatus {
    /// Reads and parses the status file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(Self::parse(&text))
    }

    /// Parses the text of a status file. Stanzas without a `Package` or a valid `Status` are
    /// ignored, as dpkg would refuse them anyway.
    pub fn parse(text: &str) -> Self {
        let mut status = DpkgStatus::default();
        let mut current = Stanza::default();
        for line in text.lines() {
            match line.as_bytes().first() {
                // Only these four fields are read; most lines are skipped on their first byte.
                Some(b'P' | b'A' | b'V' | b'S') => {}
                Some(b' ' | b'\t') if !line.trim_start().is_empty() => continue,
                Some(b' ' | b'\t') | None => {
                    status.finish(std::mem::take(&mut current));
                    continue;
                }
                Some(_) => continue,
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key {
                "Package" => current.name = Some(value),
                "Architecture" => current.architecture = Some(value),
                "Version" => current.version = Some(value),
                "Status" => current.status = Some(value),
                _ => {}
            }
        }
        status.finish(current);
        status
    }

    fn finish(&mut self, stanza: Stanza<'_>) {
        let Some(entry) = stanza.into_entry() else {
            return;
        };
        if entry.name == "dpkg" && self.native_arch.is_none() {
            self.native_arch = Some(entry.architecture.clone());
        }
        self.insert(entry);
    }

    /// Adds or replaces the entry for the entry's name and architecture.
    pub fn insert(&mut self, entry: DpkgEntry) {
        let indexes = self.by_name.entry(entry.name.clone()).or_default();
        if let Some(&i) = indexes
            .iter()
            .find(|&&i| self.entries[i].architecture == entry.architecture)
        {
            self.entries[i] = entry;
            return;
        }
        indexes.push(self.entries.len());
        self.entries.push(entry);
    }

    /// The entry for `name` (`pkg` or `pkg:arch`). Without an arch, the native architecture's
    /// (or `all`) entry is preferred, then the only one, then one that has a version.
    pub fn get(&self, name: &str) -> Option<&DpkgEntry> {
        let (base, arch) = match name.split_once(':') {
            Some((base, arch)) => (base, Some(arch)),
            None => (name, None),
        };
        let candidates: Vec<&DpkgEntry> = self
            .by_name
            .get(base)?
            .iter()
            .map(|&i| &self.entries[i])
            .collect();
        if let Some(arch) = arch {
            return candidates
                .into_iter()
                .find(|e| e.architecture == arch || e.architecture == "all");
        }
        let native = self.native_arch.as_deref();
        candidates
            .iter()
            .find(|e| Some(e.architecture.as_str()) == native || e.architecture == "all")
            .or_else(|| candidates.iter().find(|e| e.state.has_version()))
            .or_else(|| candidates.first())
            .copied()
    }

    /// The installed version of `name`, if any.
    pub fn installed_version(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(DpkgEntry::installed_version)
    }

    /// Every stanza, in file order.
    pub fn entries(&self) -> &[DpkgEntry] {
        &self.entries
    }

    /// The architecture dpkg itself is installed for, when the database lists dpkg.
    pub fn native_arch(&self) -> Option<&str> {
        self.native_arch.as_deref()
    }
}

/// The fields of one stanza being read.
#[derive(Default)]
struct Stanza<'a> {
    name: Option<&'a str>,
    architecture: Option<&'a str>,
    version: Option<&'a str>,
    status: Option<&'a str>,
}

impl Stanza<'_> {
    fn into_entry(self) -> Option<DpkgEntry> {
        let name = self.name?;
        let mut words = self.status?.split_whitespace();
        let want = words.next()?;
        let _flag = words.next()?;
        let state = DpkgState::parse(words.next()?)?;
        Some(DpkgEntry {
            name: name.to_string(),
            architecture: self.architecture.unwrap_or("").to_string(),
            version: self.version.unwrap_or("").to_string(),
            want: want.to_string(),
            state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Package: dpkg
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 6640
Maintainer: Dpkg Developers <debian-dpkg@lists.debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 1.21.22
Description: Debian package management system
 This package provides the low-level infrastructure for handling the
 installation and removal of Debian software packages.
 .
 Package: not-a-field
Homepage: https://wiki.debian.org/Teams/Dpkg

Package: nginx-common
Status: deinstall ok config-files
Priority: optional
Architecture: all
Version: 1.22.1-9
Conffiles:
 /etc/nginx/nginx.conf 2a9a2c8b2b1c7f4c3a3d0f1e0b9d8c7e obsolete
Description: small, powerful, scalable web/proxy server - common files

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 2.36-9+deb12u3

Package: gone
Status: purge ok not-installed
Architecture: amd64

Package: held
Status: hold ok installed
Architecture: amd64
Version: 3.0
";

    #[test]
    fn installed_stanza_has_its_version() {
        let s = DpkgStatus::parse(SAMPLE);
        assert_eq!(s.installed_version("dpkg"), Some("1.21.22"));
        assert_eq!(s.native_arch(), Some("amd64"));
    }

    #[test]
    fn continuation_lines_are_not_fields() {
        let s = DpkgStatus::parse(SAMPLE);
        assert!(s.get("not-a-field").is_none());
        assert_eq!(s.entries().len(), 6);
    }

    #[test]
    fn config_files_state_has_no_installed_version_but_leaves_traces() {
        // apt reports `Installed: (none)` for deinstall ok config-files; purge still acts.
        let s = DpkgStatus::parse(SAMPLE);
        let e = s.get("nginx-common").unwrap();
        assert_eq!(e.state, DpkgState::ConfigFiles);
        assert_eq!(e.want, "deinstall");
        assert_eq!(e.installed_version(), None);
        assert!(e.leaves_traces());
        let gone = s.get("gone").unwrap();
        assert_eq!(gone.installed_version(), None);
        assert!(!gone.leaves_traces());
    }

    #[test]
    fn multi_arch_names_select_the_architecture() {
        let s = DpkgStatus::parse(SAMPLE);
        assert_eq!(s.installed_version("libc6"), Some("2.36-9+deb12u4"));
        assert_eq!(s.installed_version("libc6:amd64"), Some("2.36-9+deb12u4"));
        assert_eq!(s.installed_version("libc6:i386"), Some("2.36-9+deb12u3"));
        assert_eq!(s.installed_version("libc6:arm64"), None);
        // Architecture-independent packages answer to any arch qualifier.
        assert_eq!(
            s.get("nginx-common:amd64").map(|e| e.version.as_str()),
            Some("1.22.1-9")
        );
    }

    #[test]
    fn held_packages_are_installed() {
        let s = DpkgStatus::parse(SAMPLE);
        assert_eq!(s.installed_version("held"), Some("3.0"));
    }

    #[test]
    fn unknown_package_and_malformed_stanzas() {
        let s = DpkgStatus::parse("Package: x\nStatus: bogus\n\nVersion: 1\n\n\n");
        assert!(s.get("x").is_none());
        assert!(s.entries().is_empty());
        assert!(s.get("nothing").is_none());
    }

    #[test]
    fn insert_replaces_the_same_architecture() {
        let mut s = DpkgStatus::parse(SAMPLE);
        let mut e = s.get("libc6:i386").unwrap().clone();
        e.version = "9".into();
        s.insert(e);
        assert_eq!(s.installed_version("libc6:i386"), Some("9"));
        assert_eq!(s.entries().len(), 6);
    }

    #[test]
    fn reads_this_hosts_status_file_when_there_is_one() {
        let path = Path::new("/var/lib/dpkg/status");
        if path.exists() {
            let s = DpkgStatus::read(path).unwrap();
            assert!(s.installed_version("dpkg").is_some());
        }
        let err = DpkgStatus::read(Path::new("/nonexistent/status")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/status"), "{err}");
    }
}
