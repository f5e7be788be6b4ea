//! block_device: each disk in /sys/block with the attributes Ohai reads, as strings.

use super::{Host, Map};
use serde_json::Value;

/// Attribute files read for each disk, relative to `/sys/block/<disk>`, and their Ohai keys.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("size", "size"),
    ("removable", "removable"),
    ("device/model", "model"),
    ("device/rev", "rev"),
    ("device/state", "state"),
    ("device/timeout", "timeout"),
    ("device/vendor", "vendor"),
    ("device/queue_depth", "queue_depth"),
    ("queue/rotational", "rotational"),
    ("queue/physical_block_size", "physical_block_size"),
    ("queue/logical_block_size", "logical_block_size"),
];

/// block_device from /sys/block.
pub fn collect(host: &Host, out: &mut Map) {
    if !host.exists("/sys/block") {
        return;
    }
    let mut devices = Map::new();
    for disk in host.list("/sys/block") {
        let mut device = Map::new();
        for (file, key) in ATTRIBUTES {
            // Ohai strips what it reads but keeps an empty value.
            if let Some(text) = host.read(&format!("/sys/block/{disk}/{file}")) {
                device.insert((*key).into(), Value::from(text.trim()));
            }
        }
        devices.insert(disk, Value::Object(device));
    }
    out.insert("block_device".into(), Value::Object(devices));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn disks_from_sys_block() {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("sys/block/vda");
        std::fs::create_dir_all(disk.join("queue")).unwrap();
        std::fs::create_dir_all(disk.join("device")).unwrap();
        std::fs::write(disk.join("size"), "536870912\n").unwrap();
        std::fs::write(disk.join("removable"), "0\n").unwrap();
        std::fs::write(disk.join("device/vendor"), "0x1af4\n").unwrap();
        std::fs::write(disk.join("queue/rotational"), "1\n").unwrap();
        let mut out = Map::new();
        collect(&Host::at(dir.path()), &mut out);
        assert_eq!(
            out["block_device"],
            json!({"vda": {"size": "536870912", "removable": "0", "vendor": "0x1af4",
                           "rotational": "1"}})
        );
    }
}
