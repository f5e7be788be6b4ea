//! hostname, platform, lsb and os_release: who the host is and which distribution it runs.

use super::release::{
    hostname_at, parse_os_release, platform_family, platform_from_id, redhat_release_version,
};
use super::{Host, Map};
use indexmap::IndexMap;
use serde_json::Value;

/// hostname, machinename, fqdn, domain (from the kernel's hostname and /etc/hosts).
pub fn hostname(host: &Host, out: &mut Map) {
    let found = hostname_at(host.root());
    for key in ["hostname", "machinename", "fqdn", "domain"] {
        if let Some(value) = found.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
}

/// platform, platform_version, platform_family (os-release, as Ohai 16 reads it), os and
/// os_version (the kernel release).
pub fn platform(host: &Host, out: &mut Map) {
    let os_release = host
        .read("/etc/os-release")
        .or_else(|| host.read("/usr/lib/os-release"))
        .map(|text| parse_os_release(&text))
        .unwrap_or_default();
    let kernel_release = host.read_trimmed("/proc/sys/kernel/osrelease");
    if let Some(id) = os_release.get("ID") {
        let name = platform_from_id(id);
        let version = platform_version(host, &os_release, kernel_release.as_deref());
        let like: Vec<&str> = os_release
            .get("ID_LIKE")
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        let family = platform_family(&name, &like).map_or(Value::Null, Value::from);
        out.insert("platform".into(), Value::from(name));
        out.insert("platform_version".into(), Value::from(version));
        out.insert("platform_family".into(), family);
    }
    out.insert("os".into(), Value::from("linux"));
    if let Some(release) = kernel_release {
        out.insert("os_version".into(), Value::from(release));
    }
}

/// Ohai's version rule: CentOS's point release from /etc/redhat-release, else VERSION_ID, else
/// /etc/debian_version on Debian (testing has no VERSION_ID), else the kernel release.
fn platform_version(
    host: &Host,
    os_release: &IndexMap<String, String>,
    kernel_release: Option<&str>,
) -> String {
    let id = os_release.get("ID").map(String::as_str).unwrap_or("");
    let centos = (id == "centos")
        .then(|| host.read("/etc/redhat-release"))
        .flatten()
        .and_then(|text| redhat_release_version(&text));
    centos
        .or_else(|| os_release.get("VERSION_ID").cloned())
        .or_else(|| {
            (id == "debian")
                .then(|| host.read_trimmed("/etc/debian_version"))
                .flatten()
        })
        .or_else(|| kernel_release.map(str::to_string))
        .unwrap_or_default()
}

/// lsb as `lsb_release -a` reports it; empty when lsb_release is not installed, as in Ohai.
pub fn lsb(host: &Host, out: &mut Map) {
    let mut lsb = Map::new();
    if host.exists("/usr/bin/lsb_release") {
        let fields = host
            .read("/etc/lsb-release")
            .map(|text| lsb_from_lsb_release(&text))
            .filter(|fields| !fields.is_empty())
            .or_else(|| {
                host.read("/etc/os-release")
                    .or_else(|| host.read("/usr/lib/os-release"))
                    .map(|text| lsb_from_os_release(&text))
            })
            .unwrap_or_default();
        for (key, value) in fields {
            lsb.insert(key.into(), Value::from(value));
        }
    }
    out.insert("lsb".into(), Value::Object(lsb));
}

/// lsb fields from Ubuntu's `/etc/lsb-release` (`DISTRIB_ID=Ubuntu`...).
pub fn lsb_from_lsb_release(text: &str) -> Vec<(&'static str, String)> {
    let fields = parse_os_release(text);
    [
        ("id", "DISTRIB_ID"),
        ("description", "DISTRIB_DESCRIPTION"),
        ("release", "DISTRIB_RELEASE"),
        ("codename", "DISTRIB_CODENAME"),
    ]
    .into_iter()
    .filter_map(|(key, field)| fields.get(field).map(|v| (key, v.clone())))
    .collect()
}

/// lsb fields as Debian's os-release based `lsb_release` derives them: the ID capitalised (or
/// NAME when it differs from ID only in case), PRETTY_NAME, VERSION_ID, VERSION_CODENAME;
/// `n/a` for what is missing.
pub fn lsb_from_os_release(text: &str) -> Vec<(&'static str, String)> {
    let fields = parse_os_release(text);
    let get = |key: &str| {
        fields
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| "n/a".to_string())
    };
    let raw_id = fields.get("ID").cloned().unwrap_or_default();
    let mut id: String = raw_id
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .chain(raw_id.chars().skip(1))
        .collect();
    if let Some(name) = fields.get("NAME") {
        if name.to_lowercase() == id.to_lowercase() {
            id = name.clone();
        }
    }
    if id.is_empty() {
        id = "n/a".to_string();
    }
    vec![
        ("id", id),
        ("description", get("PRETTY_NAME")),
        ("release", get("VERSION_ID")),
        ("codename", get("VERSION_CODENAME")),
    ]
}

/// os_release (every field, keys lower-cased) and machine_id.
pub fn os_release(host: &Host, out: &mut Map) {
    if let Some(text) = host
        .read("/etc/os-release")
        .or_else(|| host.read("/usr/lib/os-release"))
    {
        let fields: Map = parse_os_release(&text)
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), Value::from(v)))
            .collect();
        out.insert("os_release".into(), Value::Object(fields));
    }
    if let Some(id) = host.read_trimmed("/etc/machine-id") {
        out.insert("machine_id".into(), Value::from(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";

    fn host_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let host = Host::at(dir.path());
        (dir, host)
    }

    #[test]
    fn ohai16_debian_version_is_version_id() {
        let (_dir, host) = host_with(&[
            ("etc/os-release", DEBIAN),
            ("etc/debian_version", "12.11\n"),
            ("proc/sys/kernel/osrelease", "6.1.0\n"),
        ]);
        let mut out = Map::new();
        platform(&host, &mut out);
        assert_eq!(
            Value::Object(out),
            json!({"platform": "debian", "platform_version": "12", "platform_family": "debian",
                   "os": "linux", "os_version": "6.1.0"})
        );
    }

    #[test]
    fn debian_testing_falls_back_to_debian_version() {
        let (_dir, host) = host_with(&[
            ("etc/os-release", "ID=debian\n"),
            ("etc/debian_version", "trixie/sid\n"),
        ]);
        let mut out = Map::new();
        platform(&host, &mut out);
        assert_eq!(out["platform_version"], json!("trixie/sid"));
    }

    #[test]
    fn centos_point_release() {
        let (_dir, host) = host_with(&[
            ("etc/os-release", "ID=\"centos\"\nVERSION_ID=\"7\"\n"),
            (
                "etc/redhat-release",
                "CentOS Linux release 7.9.2009 (Core)\n",
            ),
        ]);
        let mut out = Map::new();
        platform(&host, &mut out);
        assert_eq!(out["platform_version"], json!("7.9.2009"));
        assert_eq!(out["platform_family"], json!("rhel"));
    }

    #[test]
    fn lsb_release_fields_from_os_release() {
        assert_eq!(
            lsb_from_os_release(DEBIAN),
            vec![
                ("id", "Debian".to_string()),
                ("description", "Debian GNU/Linux 12 (bookworm)".to_string()),
                ("release", "12".to_string()),
                ("codename", "bookworm".to_string()),
            ]
        );
        let arch = lsb_from_os_release("NAME=\"arch\"\nID=arch\n");
        assert_eq!(arch[0], ("id", "arch".to_string()));
        assert_eq!(arch[3], ("codename", "n/a".to_string()));
    }

    #[test]
    fn lsb_from_ubuntu_lsb_release_file() {
        let text = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n";
        assert_eq!(
            lsb_from_lsb_release(text),
            vec![
                ("id", "Ubuntu".to_string()),
                ("description", "Ubuntu 22.04.4 LTS".to_string()),
                ("release", "22.04".to_string()),
                ("codename", "jammy".to_string()),
            ]
        );
    }

    #[test]
    fn lsb_is_empty_without_lsb_release() {
        let (_dir, host) = host_with(&[("etc/os-release", DEBIAN)]);
        let mut out = Map::new();
        lsb(&host, &mut out);
        assert_eq!(out["lsb"], json!({}));
    }

    #[test]
    fn os_release_keys_are_lower_case() {
        let (_dir, host) = host_with(&[("etc/os-release", DEBIAN), ("etc/machine-id", "abc\n")]);
        let mut out = Map::new();
        os_release(&host, &mut out);
        assert_eq!(out["os_release"]["version_codename"], json!("bookworm"));
        assert_eq!(out["machine_id"], json!("abc"));
    }
}
