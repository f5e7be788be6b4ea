//! File specificity: which of a cookbook's `templates/` or `files/` copies a host gets.
//!
//! Chef's order, first existing wins: `host-<fqdn>/`, `<platform>-<full version>/`, then the
//! version cut one part at a time (`debian-12.5`, `debian-12`), `<platform>/`, `default/`, and
//! the segment's root.

use std::path::{Path, PathBuf};

/// The host facts that select a file.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub fqdn: String,
    pub platform: String,
    pub platform_version: String,
}

/// The places searched for `source` below `segment_dir`, in Chef's order.
pub fn candidates(segment_dir: &Path, source: &str, host: &HostFacts) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if !host.fqdn.is_empty() {
        dirs.push(format!("host-{}", host.fqdn));
    }
    if !host.platform.is_empty() {
        let parts: Vec<&str> = host.platform_version.split('.').collect();
        if !host.platform_version.is_empty() {
            for n in (1..=parts.len()).rev() {
                dirs.push(format!("{}-{}", host.platform, parts[..n].join(".")));
            }
        }
        dirs.push(host.platform.clone());
    }
    dirs.push("default".to_string());
    let mut out: Vec<PathBuf> = dirs
        .iter()
        .map(|d| segment_dir.join(d).join(source))
        .collect();
    out.push(segment_dir.join(source));
    out
}

/// The first existing candidate, or the list searched.
pub fn find(segment_dir: &Path, source: &str, host: &HostFacts) -> Result<PathBuf, Vec<PathBuf>> {
    let all = candidates(segment_dir, source, host);
    match all.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(all),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts {
            fqdn: "web1.example".into(),
            platform: "debian".into(),
            platform_version: "12.5".into(),
        }
    }

    #[test]
    fn order_is_host_version_platform_default_root() {
        let c = candidates(Path::new("/t"), "a.erb", &host());
        let c: Vec<String> = c.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            c,
            [
                "/t/host-web1.example/a.erb",
                "/t/debian-12.5/a.erb",
                "/t/debian-12/a.erb",
                "/t/debian/a.erb",
                "/t/default/a.erb",
                "/t/a.erb",
            ]
        );
    }

    #[test]
    fn most_specific_existing_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["default", "debian-12"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("a.erb"), sub).unwrap();
        }
        let found = find(dir.path(), "a.erb", &host()).unwrap();
        assert!(found.ends_with("debian-12/a.erb"));
        let missing = find(dir.path(), "b.erb", &host()).unwrap_err();
        assert_eq!(missing.len(), 6);
    }
}
