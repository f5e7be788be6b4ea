//! kernel: what `uname` says, and the loaded modules (`lsmod` reads /proc/modules).

use super::{Host, Map};
use serde_json::{json, Value};

/// kernel.name, release, version, machine, processor, os and modules.
pub fn collect(host: &Host, out: &mut Map) {
    let uname = Uname::of(host);
    let mut kernel = Map::new();
    kernel.insert("name".into(), Value::from(uname.sysname));
    kernel.insert("release".into(), Value::from(uname.release));
    kernel.insert("version".into(), Value::from(uname.version));
    kernel.insert("machine".into(), Value::from(uname.machine));
    // GNU `uname -p` answers "unknown" on Linux unless the distribution patches it.
    kernel.insert("processor".into(), Value::from("unknown"));
    kernel.insert("os".into(), Value::from("GNU/Linux"));
    let mut modules = host
        .read("/proc/modules")
        .map(|text| parse_modules(&text))
        .unwrap_or_default();
    for (name, module) in modules.iter_mut() {
        let version = host.read_trimmed(&format!("/sys/module/{name}/version"));
        if let (Some(version), Value::Object(module)) = (version, module) {
            module.insert("version".into(), Value::from(version));
        }
    }
    kernel.insert("modules".into(), Value::Object(modules));
    out.insert("kernel".into(), Value::Object(kernel));
}

/// `name size refcount ...` lines of /proc/modules as Ohai's `{name: {size, refcount}}`.
pub fn parse_modules(text: &str) -> Map {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let size = fields.next().filter(|s| is_digits(s))?;
            let refcount = fields.next().filter(|s| is_digits(s))?;
            Some((
                name.to_string(),
                json!({"size": size, "refcount": refcount}),
            ))
        })
        .collect()
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The fields of `uname(2)`.
struct Uname {
    sysname: String,
    release: String,
    version: String,
    machine: String,
}

impl Uname {
    fn of(host: &Host) -> Uname {
        if host.is_local() {
            if let Some(uname) = Uname::from_kernel() {
                return uname;
            }
        }
        Uname {
            sysname: host
                .read_trimmed("/proc/sys/kernel/ostype")
                .unwrap_or_else(|| "Linux".into()),
            release: host
                .read_trimmed("/proc/sys/kernel/osrelease")
                .unwrap_or_default(),
            version: host
                .read_trimmed("/proc/sys/kernel/version")
                .unwrap_or_default(),
            machine: host
                .read_trimmed("/proc/sys/kernel/arch")
                .unwrap_or_else(|| std::env::consts::ARCH.into()),
        }
    }

    fn from_kernel() -> Option<Uname> {
        // SAFETY: utsname is plain bytes; uname fills it with NUL-terminated strings.
        let mut buf: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut buf) } != 0 {
            return None;
        }
        let text = |field: &[libc::c_char]| {
            let bytes: Vec<u8> = field
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Some(Uname {
            sysname: text(&buf.sysname),
            release: text(&buf.release),
            version: text(&buf.version),
            machine: text(&buf.machine),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsmod_fields_from_proc_modules() {
        let text = "nf_tables 307200 0 - Live 0x0000000000000000\nip_tables 32768 2 iptable_nat, Live 0x0\nbad line\n";
        let modules = parse_modules(text);
        assert_eq!(
            Value::Object(modules),
            json!({"nf_tables": {"size": "307200", "refcount": "0"},
                   "ip_tables": {"size": "32768", "refcount": "2"}})
        );
    }

    #[test]
    fn this_kernel_is_linux() {
        let mut out = Map::new();
        collect(&Host::local(), &mut out);
        assert_eq!(out["kernel"]["name"], json!("Linux"));
        assert_eq!(out["kernel"]["os"], json!("GNU/Linux"));
        assert!(out["kernel"]["modules"].is_object());
    }
}
