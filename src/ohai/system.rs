//! The small groups: uptime, init_package, virtualization, time, ohai_time, chef_packages, fips.

use super::{Host, Map};
use serde_json::{json, Value};

/// uptime_seconds, uptime, idletime_seconds, idletime from /proc/uptime.
pub fn uptime(host: &Host, out: &mut Map) {
    let Some(text) = host.read("/proc/uptime") else {
        return;
    };
    let mut fields = text.split_whitespace().map(whole_seconds);
    if let Some(Some(up)) = fields.next() {
        out.insert("uptime_seconds".into(), Value::from(up));
        out.insert("uptime".into(), Value::from(seconds_to_human(up)));
    }
    if let Some(Some(idle)) = fields.next() {
        out.insert("idletime_seconds".into(), Value::from(idle));
        out.insert("idletime".into(), Value::from(seconds_to_human(idle)));
    }
}

/// `2201.52` → 2201 (Ruby's `to_i` truncation).
fn whole_seconds(text: &str) -> Option<u64> {
    text.split('.').next().and_then(|s| s.parse().ok())
}

/// Ohai's human form of a duration: `2 days 03 hours 04 minutes 05 seconds`, `1 day ...`,
/// `35 minutes 06 seconds`, `09 seconds`.
pub fn seconds_to_human(seconds: u64) -> String {
    let days = seconds / 86400;
    let hours = seconds % 86400 / 3600;
    let minutes = seconds % 3600 / 60;
    let secs = seconds % 60;
    match (days, hours, minutes) {
        (d, ..) if d > 1 => {
            format!("{d} days {hours:02} hours {minutes:02} minutes {secs:02} seconds")
        }
        (1, ..) => format!("1 day {hours:02} hours {minutes:02} minutes {secs:02} seconds"),
        (_, h, _) if h > 0 => format!("{h} hours {minutes:02} minutes {secs:02} seconds"),
        (_, _, m) if m > 0 => format!("{m} minutes {secs:02} seconds"),
        _ => format!("{secs:02} seconds"),
    }
}

/// init_package: the command name of process 1 (`systemd`), else `init`.
pub fn init_package(host: &Host, out: &mut Map) {
    let name = host
        .read("/proc/1/comm")
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_else(|| "init".into());
    out.insert("init_package".into(), Value::from(name));
}

/// Detection state: later findings override `system` and `role`, as in Ohai.
struct Virtualization {
    tree: Map,
}

impl Virtualization {
    fn new() -> Self {
        let mut tree = Map::new();
        tree.insert("systems".into(), Value::Object(Map::new()));
        Virtualization { tree }
    }

    fn found(&mut self, system: &str, role: &str) {
        self.tree.insert("system".into(), Value::from(system));
        self.tree.insert("role".into(), Value::from(role));
        if let Some(Value::Object(systems)) = self.tree.get_mut("systems") {
            systems.insert(system.into(), Value::from(role));
        }
    }
}

/// virtualization.system, role and systems, from the same files Ohai checks, in its order.
pub fn virtualization(host: &Host, out: &mut Map) {
    let mut v = Virtualization::new();
    if host.which("docker") {
        v.found("docker", "host");
    }
    if host.exists("/proc/xen") {
        let control = host
            .read("/proc/xen/capabilities")
            .is_some_and(|c| c.to_lowercase().contains("control_d"));
        v.found("xen", if control { "host" } else { "guest" });
    }
    let modules = host.read("/proc/modules").unwrap_or_default();
    if modules.lines().any(|l| l.starts_with("vboxdrv")) {
        v.found("vbox", "host");
    } else if modules.lines().any(|l| l.starts_with("vboxguest")) {
        v.found("vbox", "guest");
    }
    if host.which("nova") {
        v.found("openstack", "host");
    }
    let cpuinfo = host.read("/proc/cpuinfo").unwrap_or_default();
    let kvm_cpu = [
        "QEMU Virtual CPU",
        "Common KVM processor",
        "Common 32-bit KVM processor",
    ];
    if kvm_cpu.iter().any(|name| cpuinfo.contains(name)) {
        v.found("kvm", "guest");
    }
    if host.exists("/sys/devices/virtual/misc/kvm") {
        let guest = cpuinfo.contains("hypervisor");
        v.found("kvm", if guest { "guest" } else { "host" });
    }
    let dmi = |file: &str| {
        host.read_trimmed(&format!("/sys/class/dmi/id/{file}"))
            .unwrap_or_default()
    };
    if let Some(guest) = guest_from_dmi(&dmi("sys_vendor"), &dmi("product_name")) {
        v.found(guest, "guest");
    }
    if host.exists("/proc/bc/0") {
        v.found("openvz", "host");
    } else if host.exists("/proc/vz") {
        v.found("openvz", "guest");
    }
    if let Some(status) = host.read("/proc/self/status") {
        if let Some(vxid) = vserver_context(&status) {
            v.found("linux-vserver", if vxid == "0" { "host" } else { "guest" });
        }
    }
    if let Some(cgroup) = host.read("/proc/self/cgroup") {
        if let Some(system) = container_from_cgroup(&cgroup) {
            v.found(system, "guest");
        } else {
            // Ohai's plugin stops at an unreadable /proc/1/environ, keeping what it found so far.
            let Some(environ) = host.read("/proc/1/environ") else {
                out.insert("virtualization".into(), Value::Object(v.tree));
                return;
            };
            environ_container(&environ, &mut v);
        }
    }
    if host.exists("/.dockerenv") || host.exists("/.dockerinit") {
        v.found("docker", "guest");
    }
    if host.exists("/dev/lxd/sock") {
        v.found("lxd", "guest");
    } else if ["/var/lib/lxd/devlxd", "/var/snap/lxd/common/lxd/devlxd"]
        .iter()
        .any(|p| host.exists(p))
    {
        v.found("lxd", "host");
    }
    out.insert("virtualization".into(), Value::Object(v.tree));
}

/// lxc or systemd-nspawn, from the environment of process 1.
fn environ_container(environ: &str, v: &mut Virtualization) {
    if environ.contains("container=lxc") {
        v.found("lxc", "guest");
    } else if environ.contains("container=systemd-nspawn") {
        v.found("nspawn", "guest");
    }
}

/// The hypervisor a DMI vendor or product name reveals (Ohai's dmi guest table).
pub fn guest_from_dmi(manufacturer: &str, product: &str) -> Option<&'static str> {
    const BY_MANUFACTURER: &[(&str, &str)] = &[
        ("OpenStack", "openstack"),
        ("Xen", "xen"),
        ("VMware", "vmware"),
        ("Amazon EC2", "amazonec2"),
        ("QEMU", "kvm"),
        ("Veertu", "veertu"),
        ("Parallels", "parallels"),
    ];
    if manufacturer.contains("Microsoft") {
        return product.contains("Virtual Machine").then_some("hyperv");
    }
    if let Some((_, guest)) = BY_MANUFACTURER
        .iter()
        .find(|(name, _)| manufacturer.contains(name))
    {
        return Some(guest);
    }
    const BY_PRODUCT: &[(&str, &str)] = &[
        ("VirtualBox", "vbox"),
        ("OpenStack", "openstack"),
        ("KVM", "kvm"),
        ("RHEV", "kvm"),
        ("BHYVE", "bhyve"),
    ];
    BY_PRODUCT
        .iter()
        .find(|(name, _)| product.contains(name))
        .map(|(_, guest)| *guest)
}

/// The Linux-VServer context of /proc/self/status (`VxID:` or `s_context:`).
fn vserver_context(status: &str) -> Option<&str> {
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let value = value.trim();
        (matches!(key, "VxID" | "s_context")
            && !value.is_empty()
            && value.bytes().all(|b| b.is_ascii_digit()))
        .then_some(value)
    })
}

/// `lxc` or `docker` when a /proc/self/cgroup line puts this process in such a container:
/// `N:ctrl:/docker/<id>` or `N:ctrl:/<slice>/docker-<id>...`.
pub fn container_from_cgroup(cgroup: &str) -> Option<&'static str> {
    cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let id = fields.next()?;
        fields.next()?;
        let path = fields.next()?.strip_prefix('/')?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let parts: Vec<&str> = path.splitn(3, '/').collect();
        let named = |name: &str| match name {
            "lxc" => Some("lxc"),
            "docker" => Some("docker"),
            _ => None,
        };
        if let [first, rest, ..] = parts.as_slice() {
            if !rest.is_empty() {
                if let Some(system) = named(first) {
                    return Some(system);
                }
            }
        }
        if let [_, second, ..] = parts.as_slice() {
            for name in ["lxc", "docker"] {
                if let Some(tail) = second.strip_prefix(name) {
                    if !tail.is_empty() || parts.len() > 2 {
                        return named(name);
                    }
                }
            }
        }
        None
    })
}

/// time.timezone: the local zone's abbreviation now (`UTC`, `CET`), as Ruby's `Time#zone`.
pub fn time(out: &mut Map) {
    let mut time = Map::new();
    if let Some(zone) = local_zone_abbreviation() {
        time.insert("timezone".into(), Value::from(zone));
    }
    out.insert("time".into(), Value::Object(time));
}

fn local_zone_abbreviation() -> Option<String> {
    // SAFETY: localtime_r only reads the TZ setting and fill the `tm` we own; tm_zone
    // then points at a NUL-terminated string owned by the C library.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() || tm.tm_zone.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// ohai_time: seconds since the epoch, with the fraction.
pub fn ohai_time(out: &mut Map) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.insert("ohai_time".into(), Value::from(now));
}

/// chef_packages.skillet: the version of this program and where it runs from.
pub fn chef_packages(out: &mut Map) {
    let root = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    out.insert(
        "chef_packages".into(),
        json!({"skillet": {"version": env!("CARGO_PKG_VERSION"), "skillet_root": root}}),
    );
}

/// fips.kernel.enabled: whether the kernel runs in FIPS mode.
pub fn fips(host: &Host, out: &mut Map) {
    let enabled = host
        .read_trimmed("/proc/sys/crypto/fips_enabled")
        .is_some_and(|v| v != "0");
    out.insert("fips".into(), json!({"kernel": {"enabled": enabled}}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ohai_human_durations() {
        assert_eq!(seconds_to_human(9), "09 seconds");
        assert_eq!(seconds_to_human(2106), "35 minutes 06 seconds");
        assert_eq!(seconds_to_human(3600 + 61), "1 hours 01 minutes 01 seconds");
        assert_eq!(
            seconds_to_human(86400 + 5),
            "1 day 00 hours 00 minutes 05 seconds"
        );
        assert_eq!(
            seconds_to_human(2 * 86400 + 3 * 3600 + 4 * 60 + 5),
            "2 days 03 hours 04 minutes 05 seconds"
        );
    }

    #[test]
    fn uptime_from_proc() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(dir.path().join("proc/uptime"), "2201.52 1983.06\n").unwrap();
        let mut out = Map::new();
        uptime(&Host::at(dir.path()), &mut out);
        assert_eq!(
            Value::Object(out),
            json!({"uptime_seconds": 2201, "uptime": "36 minutes 41 seconds",
                   "idletime_seconds": 1983, "idletime": "33 minutes 03 seconds"})
        );
    }

    #[test]
    fn containers_from_cgroup_paths() {
        assert_eq!(
            container_from_cgroup("12:cpu:/docker/abc123\n"),
            Some("docker")
        );
        assert_eq!(
            container_from_cgroup("1:name=systemd:/system.slice/docker-abc.scope\n"),
            Some("docker")
        );
        assert_eq!(container_from_cgroup("0::/\n"), None);
        assert_eq!(
            container_from_cgroup("0::/user.slice/session-1.scope\n"),
            None
        );
    }

    #[test]
    fn dmi_guests() {
        assert_eq!(guest_from_dmi("QEMU", "Standard PC"), Some("kvm"));
        assert_eq!(
            guest_from_dmi("Microsoft Corporation", "Virtual Machine"),
            Some("hyperv")
        );
        assert_eq!(guest_from_dmi("innotek GmbH", "VirtualBox"), Some("vbox"));
        assert_eq!(guest_from_dmi("Dell Inc.", "PowerEdge"), None);
    }

    #[test]
    fn kvm_guest_from_hypervisor_flag() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::create_dir_all(dir.path().join("sys/devices/virtual/misc/kvm")).unwrap();
        std::fs::write(dir.path().join("proc/cpuinfo"), "flags : fpu hypervisor\n").unwrap();
        let mut out = Map::new();
        virtualization(&Host::at(dir.path()), &mut out);
        assert_eq!(
            out["virtualization"],
            json!({"systems": {"kvm": "guest"}, "system": "kvm", "role": "guest"})
        );
    }
}
