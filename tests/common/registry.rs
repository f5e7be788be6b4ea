//! Whether apt on the machine can install packages from its registry, for tests that install
//! real Debian packages inside kitchen hosts.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::Duration;

/// The reason apt cannot install `packages` here, if any: apt knows no candidate for one of
/// them, or the registry named in the machine's sources does not answer.
pub fn apt_unusable(packages: &[&str]) -> Option<String> {
    let policy = Command::new("apt-cache")
        .arg("policy")
        .args(packages)
        .env("LC_ALL", "C")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let candidates = policy
        .lines()
        .filter(|l| l.trim_start().starts_with("Candidate:") && !l.contains("(none)"))
        .count();
    if candidates < packages.len() {
        return Some(format!(
            "apt on the machine has no candidate for one of {packages:?}"
        ));
    }
    let Some(registry) = registry_address() else {
        return Some("no registry of the machine's apt sources resolves".into());
    };
    let reachable = TcpStream::connect_timeout(&registry, Duration::from_secs(3)).is_ok();
    (!reachable).then(|| format!("the registry at {registry} does not answer from the machine"))
}

/// The host name of the machine's first apt source (`URIs:` of deb822 or a `deb` line).
fn registry_host() -> Option<String> {
    let mut texts = Vec::new();
    for dir in ["/etc/apt/sources.list.d", "/etc/apt"] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".list") || name.ends_with(".sources") {
                texts.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    let re =
        regex::Regex::new(r"(?m)^(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)https?://([^/\s:]+)").ok()?;
    texts
        .iter()
        .find_map(|t| re.captures(t).map(|c| c[1].to_string()))
}

/// An address of the registry, as the machine resolves it.
pub fn registry_address() -> Option<SocketAddr> {
    let host = registry_host()?;
    let mut addresses = (host.as_str(), 80).to_socket_addrs().ok()?;
    addresses.next()
}
