//! Who the host is, from files only: the hostname keys (`/proc/sys/kernel/hostname` or
//! `/etc/hostname` for machinename, `/etc/hosts` for fqdn as `hostname --fqdn` resolves it
//! without DNS) and the parsers of os-release and release files that the platform group uses.

use super::Map;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// hostname, machinename, fqdn and domain, read from the files below `root`.
pub fn hostname_at(root: &Path) -> Map {
    let read = |path: &str| std::fs::read_to_string(root.join(path)).ok();
    let mut out = Map::new();
    let machinename = read("proc/sys/kernel/hostname")
        .or_else(|| read("etc/hostname"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(machinename) = machinename {
        let hosts = read("etc/hosts").unwrap_or_default();
        let fqdn = fqdn_from_hosts(&hosts, &machinename).unwrap_or_else(|| machinename.clone());
        out.insert("hostname".into(), Value::from(short_hostname(&machinename)));
        out.insert("machinename".into(), Value::from(machinename.as_str()));
        out.insert(
            "domain".into(),
            domain_of(&fqdn).map_or(Value::Null, Value::from),
        );
        out.insert("fqdn".into(), Value::from(fqdn));
    }
    out
}

/// `KEY=value` lines of os-release, with shell-style quoting removed.
pub fn parse_os_release(text: &str) -> IndexMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), unquote(value.trim())))
        .collect()
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Ohai's renaming of os-release IDs to platform names.
pub fn platform_from_id(id: &str) -> String {
    let id = id.to_lowercase();
    let renamed = match id.as_str() {
        "alinux" => "alibabalinux",
        "amzn" => "amazon",
        "archarm" => "arch",
        "cumulus-linux" => "cumulus",
        "ol" => "oracle",
        "opensuse-leap" => "opensuseleap",
        "rhel" => "redhat",
        "sles" | "sles_sap" => "suse",
        "xenenterprise" => "xenserver",
        other => other,
    };
    renamed.to_string()
}

/// Ohai's platform family for a platform, trying the os-release ID_LIKE names when the
/// platform itself is unknown.
pub fn platform_family(platform: &str, id_like: &[&str]) -> Option<&'static str> {
    family_of(platform).or_else(|| {
        id_like
            .iter()
            .find_map(|like| family_of(&platform_from_id(like)))
    })
}

fn family_of(platform: &str) -> Option<&'static str> {
    const FAMILIES: &[(&str, &[&str])] = &[
        (
            "debian",
            &[
                "ubuntu",
                "debian",
                "linuxmint",
                "raspbian",
                "cumulus",
                "kali",
                "pop",
            ],
        ),
        (
            "rhel",
            &[
                "centos",
                "redhat",
                "oracle",
                "almalinux",
                "rocky",
                "scientific",
                "enterpriseenterprise",
                "xenserver",
                "xcp-ng",
                "cloudlinux",
                "alibabalinux",
                "sangoma",
                "clearos",
                "parallels",
                "ibm_powerkvm",
                "nexus_centos",
                "bigip",
                "virtuozzo",
            ],
        ),
        ("amazon", &["amazon"]),
        (
            "suse",
            &["suse", "sles", "opensuse", "opensuseleap", "sled"],
        ),
        ("fedora", &["fedora", "arista_eos"]),
        ("wrlinux", &["nexus", "ios_xr"]),
        ("gentoo", &["gentoo"]),
        ("arch", &["arch", "manjaro", "antergos"]),
        ("exherbo", &["exherbo"]),
        ("alpine", &["alpine"]),
        ("clearlinux", &["clearlinux"]),
        ("mandriva", &["mangeia"]),
        ("slackware", &["slackware"]),
    ];
    // Ohai matches substrings, in this order.
    FAMILIES
        .iter()
        .find(|(_, names)| names.iter().any(|name| platform.contains(name)))
        .map(|(family, _)| *family)
}

/// `CentOS Linux release 7.9.2009 (Core)` → `7.9.2009`.
pub fn redhat_release_version(text: &str) -> Option<String> {
    let (_, after) = text.split_once(" release ")?;
    let version: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

/// The canonical name `/etc/hosts` gives `machinename` (first name on the first line that lists
/// it), as `hostname --fqdn` reports without DNS.
pub fn fqdn_from_hosts(hosts: &str, machinename: &str) -> Option<String> {
    let short = short_hostname(machinename);
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            fields.next()?;
            let names: Vec<&str> = fields.collect();
            let listed = names.iter().any(|n| *n == machinename || *n == short);
            listed
                .then(|| names.first().map(|n| n.to_string()))
                .flatten()
        })
        .next()
}

fn short_hostname(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Everything after the first dot of the fqdn; None when there is no dot (Ohai's nil domain).
fn domain_of(fqdn: &str) -> Option<&str> {
    fqdn.split_once('.')
        .map(|(_, domain)| domain)
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn os_release_quoting() {
        let fields = parse_os_release(
            "# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID='12'\n\nX=\"a \\\"b\\\"\"\n",
        );
        assert_eq!(fields["NAME"], "Debian GNU/Linux");
        assert_eq!(fields["ID"], "debian");
        assert_eq!(fields["VERSION_ID"], "12");
        assert_eq!(fields["X"], "a \"b\"");
    }

    #[test]
    fn ohai_platform_names_and_families() {
        assert_eq!(platform_from_id("rhel"), "redhat");
        assert_eq!(platform_from_id("amzn"), "amazon");
        assert_eq!(platform_from_id("Ubuntu"), "ubuntu");
        assert_eq!(platform_family("ubuntu", &[]), Some("debian"));
        assert_eq!(platform_family("debian", &[]), Some("debian"));
        assert_eq!(platform_family("rocky", &[]), Some("rhel"));
        assert_eq!(platform_family("amazon", &[]), Some("amazon"));
        assert_eq!(platform_family("opensuseleap", &[]), Some("suse"));
        assert_eq!(platform_family("fedora", &[]), Some("fedora"));
        assert_eq!(platform_family("alpine", &[]), Some("alpine"));
        assert_eq!(
            platform_family("mydistro", &["ubuntu", "debian"]),
            Some("debian")
        );
        assert_eq!(platform_family("mydistro", &["rhel"]), Some("rhel"));
        assert_eq!(platform_family("mydistro", &[]), None);
    }

    #[test]
    fn fqdn_comes_from_the_hosts_line_naming_the_host() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 web1.wrong.com web1\n127.0.1.1 web1.example.com web1 # me\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "web1").as_deref(),
            Some("web1.example.com")
        );
        assert_eq!(fqdn_from_hosts(hosts, "db1"), None);
        assert_eq!(domain_of("web1.example.com"), Some("example.com"));
        assert_eq!(domain_of("vm"), None);
    }

    #[test]
    fn redhat_release_point_version() {
        assert_eq!(
            redhat_release_version("CentOS Linux release 7.9.2009 (Core)\n").as_deref(),
            Some("7.9.2009")
        );
        assert_eq!(redhat_release_version("garbage"), None);
    }

    #[test]
    fn reads_a_host_root() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let full = root.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        };
        write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
        write("etc/debian_version", "12.5\n");
        write("etc/hostname", "web1\n");
        write(
            "etc/hosts",
            "127.0.0.1 localhost\n127.0.1.1 web1.example.com web1\n",
        );
        write("proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
        let auto = hostname_at(root.path());
        assert_eq!(
            Value::Object(auto),
            json!({
                "hostname": "web1", "machinename": "web1", "domain": "example.com",
                "fqdn": "web1.example.com"
            })
        );
    }
}
