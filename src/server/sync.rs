//! The local cookbook cache (`file_cache_path/cookbooks`): brought in line with the cookbook
//! versions the server solved, downloading only files whose checksum differs.
//!
//! Downloads run in parallel into staged files beside their destination; only when every file
//! has arrived (and matches its checksum) are they renamed into place and stale files removed.
//! A failed download leaves the cache exactly as the last good run left it.

use super::api::{Api, CookbookFile, CookbookManifest};
use crate::error::{Error, Result};
use md5::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Parallel downloads at most.
const WORKERS: usize = 8;

/// What a synchronisation did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    /// Files downloaded.
    pub downloaded: usize,
    /// Files and cookbooks removed because the solution no longer has them.
    pub removed: usize,
}

/// One file to fetch.
struct Download<'a> {
    file: &'a CookbookFile,
    cookbook: &'a str,
    dest: PathBuf,
}

/// Makes `cache` hold exactly the files of `manifests`.
pub fn synchronize(api: &Api, manifests: &[CookbookManifest], cache: &Path) -> Result<SyncReport> {
    let mut todo = Vec::new();
    for manifest in manifests {
        let root = cache.join(&manifest.name);
        for file in &manifest.files {
            let dest = root.join(&file.path);
            if md5_of(&dest).as_deref() != Some(file.checksum.as_str()) {
                todo.push(Download {
                    file,
                    cookbook: &manifest.name,
                    dest,
                });
            }
        }
    }
    let staged = download_all(api, &todo)?;
    for (staged, download) in staged.iter().zip(&todo) {
        std::fs::rename(staged, &download.dest).map_err(|e| Error::io(&download.dest, e))?;
    }
    let removed = remove_stale(manifests, cache)?;
    Ok(SyncReport {
        downloaded: todo.len(),
        removed,
    })
}

/// Fetches every download into a staged file; on any failure removes them all.
fn download_all(api: &Api, todo: &[Download<'_>]) -> Result<Vec<PathBuf>> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<PathBuf>>>> =
        Mutex::new((0..todo.len()).map(|_| None).collect());
    let workers = WORKERS.min(todo.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = {
                    let Ok(mut n) = next.lock() else { return };
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(download) = todo.get(index) else {
                    return;
                };
                let result = fetch(api, download);
                let failed = result.is_err();
                if let Ok(mut all) = results.lock() {
                    all[index] = Some(result);
                }
                if failed {
                    // Stop handing out work: the run fails anyway.
                    if let Ok(mut n) = next.lock() {
                        *n = todo.len();
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut staged = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Some(Ok(path)) => staged.push(path),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    if first_error.is_some() || staged.len() != todo.len() {
        for path in &staged {
            let _ = std::fs::remove_file(path);
        }
        return Err(first_error.unwrap_or_else(|| {
            Error::input("Net::HTTPFatalError", "cookbook download stopped early")
        }));
    }
    Ok(staged)
}

/// Downloads one file to a staged path beside its destination and checks its MD5.
fn fetch(api: &Api, download: &Download<'_>) -> Result<PathBuf> {
    let file = download.file;
    let Some(url) = &file.url else {
        return Err(Error::input(
            "Chef::Exceptions::InvalidServerResponse",
            format!(
                "the server gave no URL for {} in cookbook {}",
                file.path, download.cookbook
            ),
        ));
    };
    let response = api
        .http
        .send("GET", url, None)
        .and_then(|r| api.http.check("GET", url, r))
        .map_err(|e| {
            Error::input(
                e.class(),
                format!(
                    "cannot download {} of cookbook {}: {e}",
                    file.path, download.cookbook
                ),
            )
        })?;
    let got = hex(&md5::Md5::digest(&response.body));
    if got != file.checksum {
        return Err(Error::input(
            "Chef::Exceptions::ChecksumMismatch",
            format!(
                "{} of cookbook {} arrived with checksum {got}, expected {}",
                file.path, download.cookbook, file.checksum
            ),
        ));
    }
    let dir = download.dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let staged = crate::platform::fs::staging_path(&download.dest);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staged)
        .and_then(|mut f| {
            f.write_all(&response.body)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&staged);
        return Err(Error::io(&staged, e));
    }
    Ok(staged)
}

/// Removes cookbooks the solution does not have and files their manifests do not list.
fn remove_stale(manifests: &[CookbookManifest], cache: &Path) -> Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(cache) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(cache, e)),
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        match manifests.iter().find(|m| m.name == name) {
            None => {
                let result = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                result.map_err(|e| Error::io(&path, e))?;
                removed += 1;
            }
            Some(manifest) => {
                let mut kept: Vec<PathBuf> =
                    manifest.files.iter().map(|f| path.join(&f.path)).collect();
                kept.sort();
                removed += remove_unlisted(&path, &kept)?;
            }
        }
    }
    Ok(removed)
}

fn remove_unlisted(dir: &Path, kept: &[PathBuf]) -> Result<usize> {
    let mut removed = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            removed += remove_unlisted(&path, kept)?;
            if std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none()) {
                let _ = std::fs::remove_dir(&path);
            }
        } else if kept.binary_search(&path).is_err() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The MD5 of a file's content, None when it cannot be read.
fn md5_of(path: &Path) -> Option<String> {
    let content = std::fs::read(path).ok()?;
    Some(hex(&md5::Md5::digest(&content)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, paths: &[&str]) -> CookbookManifest {
        CookbookManifest {
            name: name.into(),
            version: "1.0.0".into(),
            files: paths
                .iter()
                .map(|p| CookbookFile {
                    path: (*p).into(),
                    checksum: String::new(),
                    url: None,
                })
                .collect(),
        }
    }

    #[test]
    fn files_and_cookbooks_the_solution_dropped_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path();
        for p in [
            "app/recipes/default.rb",
            "app/recipes/old.rb",
            "gone/metadata.rb",
        ] {
            std::fs::create_dir_all(cache.join(p).parent().unwrap()).unwrap();
            std::fs::write(cache.join(p), "x").unwrap();
        }
        let removed = remove_stale(&[manifest("app", &["recipes/default.rb"])], cache).unwrap();
        assert_eq!(removed, 2);
        assert!(cache.join("app/recipes/default.rb").exists());
        assert!(!cache.join("app/recipes/old.rb").exists());
        assert!(!cache.join("gone").exists());
    }

    #[test]
    fn a_file_is_fetched_only_when_its_checksum_differs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "hello\n").unwrap();
        // md5("hello\n"), as `md5sum` prints it.
        assert_eq!(
            md5_of(&path).as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
        assert_eq!(md5_of(&dir.path().join("missing")), None);
    }
}
