//! cpu: /proc/cpuinfo per processor (`cpu["0"]["model_name"]`), and the totals.

use super::{Host, Map};
use serde_json::Value;

/// cpuinfo label → Ohai key, tried in this order on each line as Ohai does (a label matches
/// anywhere in the line, so `vmx flags` sets `flags` too).
const FIELDS: &[(&str, &str)] = &[
    ("vendor_id", "vendor_id"),
    ("cpu family", "family"),
    ("model", "model"),
    ("stepping", "stepping"),
    ("physical id", "physical_id"),
    ("core id", "core_id"),
    ("cpu cores", "cores"),
    ("model name", "model_name"),
    ("cpu MHz", "mhz"),
    ("cache size", "cache_size"),
    ("flags", "flags"),
    ("BogoMIPS", "bogomips"),
    ("Features", "features"),
];

/// cpu from /proc/cpuinfo, with the /sys topology when cpuinfo has no physical ids.
pub fn collect(host: &Host, out: &mut Map) {
    if let Some(text) = host.read("/proc/cpuinfo") {
        let mut cpu = parse_cpuinfo(&text);
        if !cpu.contains_key("real") {
            add_topology_totals(host, &mut cpu);
        }
        out.insert("cpu".into(), Value::Object(cpu));
    }
}

/// The value after `label`, whitespace, `:` and one whitespace character, anywhere in the
/// line (Ohai's `/label\s+:\s(.+)/`).
fn value_after<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    line.match_indices(label).find_map(|(at, _)| {
        let rest = &line[at + label.len()..];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.len() == rest.len() {
            return None;
        }
        let after_colon = trimmed.strip_prefix(':')?;
        let mut chars = after_colon.chars();
        chars.next().filter(|c| c.is_whitespace())?;
        let value = chars.as_str();
        (!value.is_empty()).then_some(value)
    })
}

/// Ohai's cpu tree: one map per `processor` entry, then `total`, `real` and `cores` (real and
/// cores only when cpuinfo lists physical ids and core counts).
pub fn parse_cpuinfo(text: &str) -> Map {
    let mut cpu = Map::new();
    let mut current: Option<String> = None;
    let mut total = 0u64;
    let mut physical_ids: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(index) = value_after(line, "processor") {
            cpu.insert(index.into(), Value::Object(Map::new()));
            current = Some(index.to_string());
            total += 1;
            continue;
        }
        let Some((label, key, value)) = FIELDS
            .iter()
            .find_map(|(label, key)| value_after(line, label).map(|v| (*label, *key, v)))
        else {
            continue;
        };
        if label == "physical id" && !physical_ids.iter().any(|p| p == value) {
            physical_ids.push(value.to_string());
        }
        let value = if matches!(key, "flags" | "features") {
            Value::from(value.split_whitespace().collect::<Vec<_>>())
        } else {
            Value::from(value)
        };
        let entry = current.as_ref().and_then(|c| cpu.get_mut(c));
        if let Some(Value::Object(entry)) = entry {
            entry.insert(key.into(), value);
        }
    }
    let first_cores = cpu
        .get("0")
        .and_then(|c| c.get("cores"))
        .and_then(Value::as_str)
        .map(|c| c.trim().parse::<u64>().unwrap_or(0));
    cpu.insert("total".into(), Value::from(total));
    if let (false, Some(cores)) = (physical_ids.is_empty(), first_cores) {
        let real = physical_ids.len() as u64;
        cpu.insert("real".into(), Value::from(real));
        cpu.insert("cores".into(), Value::from(real * cores));
    }
    cpu
}

/// Ohai's `lscpu` fallback, from the same /sys topology lscpu reads: sockets, cores per socket
/// and threads per core.
fn add_topology_totals(host: &Host, cpu: &mut Map) {
    let mut sockets: Vec<String> = Vec::new();
    let mut cores: Vec<(String, String)> = Vec::new();
    let mut threads = 0u64;
    for name in host.list("/sys/devices/system/cpu") {
        let is_cpu = name
            .strip_prefix("cpu")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_cpu {
            continue;
        }
        let topology = format!("/sys/devices/system/cpu/{name}/topology");
        let (Some(package), Some(core)) = (
            host.read_trimmed(&format!("{topology}/physical_package_id")),
            host.read_trimmed(&format!("{topology}/core_id")),
        ) else {
            continue;
        };
        threads += 1;
        if !sockets.contains(&package) {
            sockets.push(package.clone());
        }
        if !cores.contains(&(package.clone(), core.clone())) {
            cores.push((package, core));
        }
    }
    if threads == 0 {
        return;
    }
    cpu.insert("total".into(), Value::from(threads));
    cpu.insert("real".into(), Value::from(sockets.len() as u64));
    cpu.insert("cores".into(), Value::from(cores.len() as u64));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TWO_CPUS: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nstepping\t: 1\ncpu MHz\t\t: 2445.402\ncache size\t: 512 KB\nphysical id\t: 0\ncore id\t\t: 0\ncpu cores\t: 2\nflags\t\t: fpu vme de\nbogomips\t: 4890.80\npower management:\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nphysical id\t: 0\ncore id\t\t: 1\ncpu cores\t: 2\nflags\t\t: fpu\n";

    #[test]
    fn cpuinfo_per_processor_and_totals() {
        let cpu = Value::Object(parse_cpuinfo(TWO_CPUS));
        assert_eq!(
            cpu["0"],
            json!({"vendor_id": "AuthenticAMD", "family": "25", "model": "1",
                   "model_name": "AMD EPYC", "stepping": "1", "mhz": "2445.402",
                   "cache_size": "512 KB", "physical_id": "0", "core_id": "0", "cores": "2",
                   "flags": ["fpu", "vme", "de"]})
        );
        assert_eq!(cpu["1"]["core_id"], json!("1"));
        assert_eq!(cpu["total"], json!(2));
        assert_eq!(cpu["real"], json!(1));
        assert_eq!(cpu["cores"], json!(2));
    }

    #[test]
    fn arm_cpuinfo_has_no_real_count() {
        let text = "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd\nCPU part\t: 0xd08\n";
        let cpu = Value::Object(parse_cpuinfo(text));
        assert_eq!(
            cpu["0"],
            json!({"bogomips": "48.00", "features": ["fp", "asimd"]})
        );
        assert_eq!(cpu["total"], json!(1));
        assert!(cpu.get("real").is_none());
    }

    #[test]
    fn labels_match_inside_lines_as_ohai_does() {
        assert_eq!(value_after("vmx flags\t: ept", "flags"), Some("ept"));
        assert_eq!(value_after("model name\t: X", "model"), None);
        assert_eq!(value_after("power management:", "management"), None);
        assert_eq!(value_after("cpu MHz\t\t: 1.0", "cpu MHz"), Some("1.0"));
    }
}
