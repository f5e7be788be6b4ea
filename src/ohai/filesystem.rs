//! filesystem: what Ohai assembles from `df -P`, `df -iP`, `mount`, `lsblk` and /proc/mounts,
//! computed here from /proc/self/mountinfo, statvfs and /sys/block.
//!
//! Entries are keyed `device,mountpoint` (`by_pair`) and folded into `by_device` and
//! `by_mountpoint`.

use super::{Host, Map};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;

/// One line of /proc/mounts (with mountinfo's root of the mount, when known).
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// The mounted device (`/dev/vda1`, `tmpfs`).
    pub device: String,
    /// Where it is mounted.
    pub mount: String,
    /// The file system type.
    pub fs_type: String,
    /// The mount options, in order.
    pub options: Vec<String>,
    /// The directory of the file system mounted there (`/` unless a bind mount).
    pub root: Option<String>,
}

/// Block and inode counts of a mounted file system, as statvfs gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Fragment size in bytes: the unit of the block counts.
    pub fragment_size: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Blocks available to unprivileged users.
    pub blocks_available: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
}

/// The lines of /proc/mounts, with `\040`-style escapes decoded.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [device, mount, fs_type, options, ..] = fields.as_slice() else {
                return None;
            };
            Some(Mount {
                device: unescape(device),
                mount: unescape(mount),
                fs_type: unescape(fs_type),
                options: options.split(',').map(unescape).collect(),
                root: None,
            })
        })
        .collect()
}

/// The root field (4th) of each /proc/self/mountinfo line, in order.
pub fn parse_mountinfo_roots(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().nth(3).map(unescape))
        .collect()
}

/// Decodes the kernel's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let code = d.iter().fold(0u32, |n, b| n * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(code).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// File system types `df` leaves out without `-a` (gnulib's dummy list, plus rootfs).
fn is_dummy(mount: &Mount) -> bool {
    const DUMMY: &[&str] = &[
        "autofs",
        "proc",
        "subfs",
        "debugfs",
        "devpts",
        "fusectl",
        "fuse.portal",
        "mqueue",
        "rpc_pipefs",
        "sysfs",
        "devfs",
        "kernfs",
        "ignore",
        "rootfs",
    ];
    DUMMY.contains(&mount.fs_type.as_str())
        || (mount.fs_type == "none" && !mount.options.iter().any(|o| o.contains("bind")))
}

/// `used * 100 / (used + available)` rounded up, as df prints it; None when both are zero.
pub fn percent(used: u64, available: u64) -> Option<u64> {
    let total = u128::from(used) + u128::from(available);
    if total == 0 {
        return None;
    }
    let scaled = u128::from(used) * 100;
    let pct = scaled / total + u128::from(scaled % total != 0);
    u64::try_from(pct).ok()
}

/// `count` blocks of `unit` bytes in KiB, rounded up as df rounds.
fn kib(count: u64, unit: u64) -> u64 {
    let bytes = u128::from(count) * u128::from(unit);
    u64::try_from(bytes.div_ceil(1024)).unwrap_or(u64::MAX)
}

/// The `df -P` and `df -iP` fields of one file system, in Ohai's key order.
pub fn df_fields(usage: &Usage) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    let used = usage.blocks.saturating_sub(usage.blocks_free);
    if let Some(pct) = percent(used, usage.blocks_available) {
        let unit = usage.fragment_size;
        fields.push(("kb_size", kib(usage.blocks, unit).to_string()));
        fields.push(("kb_used", kib(used, unit).to_string()));
        fields.push((
            "kb_available",
            kib(usage.blocks_available, unit).to_string(),
        ));
        fields.push(("percent_used", format!("{pct}%")));
    }
    let inodes_used = usage.files.saturating_sub(usage.files_free);
    if let Some(pct) = percent(inodes_used, usage.files_free) {
        fields.push(("total_inodes", usage.files.to_string()));
        fields.push(("inodes_used", inodes_used.to_string()));
        fields.push(("inodes_available", usage.files_free.to_string()));
        fields.push(("inodes_percent_used", format!("{pct}%")));
    }
    fields
}

fn usage_of(path: &str) -> Option<Usage> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    Some(Usage {
        fragment_size: stat.fragment_size(),
        blocks: stat.blocks(),
        blocks_free: stat.blocks_free(),
        blocks_available: stat.blocks_available(),
        files: stat.files(),
        files_free: stat.files_free(),
    })
}

/// The mounts df reports, in order: not dummy, one per device (df's preference when a device
/// is mounted more than once), with blocks.
fn df_mounts(mounts: &[Mount]) -> Vec<(Mount, Usage)> {
    let mut seen: Vec<(u64, Mount)> = Vec::new();
    for mount in mounts.iter().filter(|m| !is_dummy(m)) {
        let Ok(meta) = std::fs::metadata(&mount.mount) else {
            continue;
        };
        let dev = meta.dev();
        match seen.iter_mut().find(|(d, _)| *d == dev) {
            Some((_, kept)) => {
                if df_prefers(mount, kept) {
                    *kept = mount.clone();
                }
            }
            None => seen.push((dev, mount.clone())),
        }
    }
    seen.into_iter()
        .filter_map(|(_, mount)| {
            let usage = usage_of(&mount.mount)?;
            (usage.blocks > 0).then_some((mount, usage))
        })
        .collect()
}

/// df's rule when two mounts share a device: a real device path wins over a name, a mount
/// nearer `/` wins unless it is a bind of a subdirectory, an over-mount of the same directory
/// wins.
fn df_prefers(new: &Mount, kept: &Mount) -> bool {
    let nearer_root = kept.mount.len() > new.mount.len();
    let source_below_root = match (&kept.root, &new.root) {
        (Some(k), Some(n)) => k.len() < n.len(),
        _ => false,
    };
    (new.device.contains('/') && !kept.device.contains('/'))
        || (nearer_root && !source_below_root)
        || (new.device != kept.device && new.mount == kept.mount)
}

/// A block device as lsblk lists it: its /dev path and what udev knows of its contents.
#[derive(Debug, Clone, PartialEq)]
struct BlockDevice {
    dev: String,
    uuid: String,
    label: String,
    fs_type: String,
}

/// The disks and partitions lsblk lists (no ram disks, no unattached loop devices).
fn lsblk_devices(host: &Host) -> Vec<BlockDevice> {
    let mut names = Vec::new();
    for disk in host.list("/sys/block") {
        if disk.starts_with("ram") {
            continue;
        }
        if disk.starts_with("loop") && !host.exists(&format!("/sys/block/{disk}/loop")) {
            continue;
        }
        let name = host
            .read_trimmed(&format!("/sys/block/{disk}/dm/name"))
            .unwrap_or_else(|| disk.clone());
        names.push((disk.clone(), name));
        for part in host.list(&format!("/sys/block/{disk}")) {
            if part.starts_with(&disk)
                && host.exists(&format!("/sys/block/{disk}/{part}/partition"))
            {
                names.push((format!("{disk}/{part}"), part));
            }
        }
    }
    let by_uuid = links_by_target(host, "/dev/disk/by-uuid");
    let by_label = links_by_target(host, "/dev/disk/by-label");
    names
        .into_iter()
        .map(|(sys_path, name)| {
            let kernel_name = sys_path.rsplit('/').next().unwrap_or(&sys_path).to_string();
            let udev = host
                .read_trimmed(&format!("/sys/block/{sys_path}/dev"))
                .and_then(|devno| host.read(&format!("/run/udev/data/b{devno}")))
                .unwrap_or_default();
            let udev_value = |key: &str| {
                udev.lines()
                    .find_map(|l| l.strip_prefix("E:")?.strip_prefix(key)?.strip_prefix('='))
                    .map(str::to_string)
            };
            let find = |links: &[(String, String)]| {
                links
                    .iter()
                    .find(|(_, target)| *target == kernel_name)
                    .map(|(link, _)| link.clone())
            };
            BlockDevice {
                dev: find_device(host, &name),
                uuid: udev_value("ID_FS_UUID")
                    .or_else(|| find(&by_uuid))
                    .unwrap_or_default(),
                label: udev_value("ID_FS_LABEL")
                    .or_else(|| find(&by_label))
                    .unwrap_or_default(),
                fs_type: udev_value("ID_FS_TYPE").unwrap_or_default(),
            }
        })
        .collect()
}

/// `(link name, target's file name)` for the symlinks of a /dev/disk directory.
fn links_by_target(host: &Host, dir: &str) -> Vec<(String, String)> {
    host.list(dir)
        .into_iter()
        .filter_map(|link| {
            let target = std::fs::read_link(host.path(&format!("{dir}/{link}"))).ok()?;
            let name = target.file_name()?.to_string_lossy().into_owned();
            Some((link, name))
        })
        .collect()
}

/// Ohai's device path: `/dev/<name>`, else `/dev/mapper/<name>`, else the bare name.
fn find_device(host: &Host, name: &str) -> String {
    ["/dev", "/dev/mapper"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|path| host.exists(path))
        .unwrap_or_else(|| name.to_string())
}

/// filesystem.by_device, by_mountpoint and by_pair.
pub fn collect(host: &Host, out: &mut Map) {
    let mut mounts = host
        .read("/proc/self/mounts")
        .or_else(|| host.read("/proc/mounts"))
        .map(|t| parse_mounts(&t))
        .unwrap_or_default();
    if let Some(info) = host.read("/proc/self/mountinfo") {
        let roots = parse_mountinfo_roots(&info);
        if roots.len() == mounts.len() {
            for (mount, root) in mounts.iter_mut().zip(roots) {
                mount.root = Some(root);
            }
        }
    }
    let df = if host.is_local() {
        df_mounts(&mounts)
    } else {
        Vec::new()
    };
    let devices = lsblk_devices(host);
    let by_pair = by_pair(&df, &mounts, &devices);
    let mut filesystem = Map::new();
    filesystem.insert("by_device".into(), Value::Object(view(&by_pair, "device")));
    filesystem.insert(
        "by_mountpoint".into(),
        Value::Object(view(&by_pair, "mount")),
    );
    filesystem.insert("by_pair".into(), Value::Object(by_pair));
    out.insert("filesystem".into(), Value::Object(filesystem));
}

fn entry(pairs: &mut Map, key: String) -> &mut Map {
    let value = pairs
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("just made an object"),
    }
}

/// The `device,mount` entries in the order Ohai fills them: df, then mount, then lsblk.
fn by_pair(df: &[(Mount, Usage)], mounts: &[Mount], devices: &[BlockDevice]) -> Map {
    let mut pairs = Map::new();
    for (mount, usage) in df {
        let fields = df_fields(usage);
        let e = entry(&mut pairs, format!("{},{}", mount.device, mount.mount));
        e.insert("device".into(), Value::from(mount.device.as_str()));
        let (blocks, inodes) = fields.split_at(
            fields
                .iter()
                .take_while(|(k, _)| k.starts_with("kb_") || *k == "percent_used")
                .count(),
        );
        for (key, value) in blocks {
            e.insert((*key).into(), Value::from(value.as_str()));
        }
        e.insert("mount".into(), Value::from(mount.mount.as_str()));
        for (key, value) in inodes {
            e.insert((*key).into(), Value::from(value.as_str()));
        }
    }
    for mount in mounts {
        let e = entry(&mut pairs, format!("{},{}", mount.device, mount.mount));
        e.insert("device".into(), Value::from(mount.device.as_str()));
        e.insert("mount".into(), Value::from(mount.mount.as_str()));
        e.insert("fs_type".into(), Value::from(mount.fs_type.as_str()));
        e.insert("mount_options".into(), Value::from(mount.options.clone()));
    }
    for device in devices {
        let prefix = format!("{},", device.dev);
        let mut keys: Vec<String> = pairs
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        if keys.is_empty() {
            entry(&mut pairs, prefix.clone())
                .insert("device".into(), Value::from(device.dev.as_str()));
            keys.push(prefix);
        }
        for key in keys {
            let e = entry(&mut pairs, key);
            for (name, value) in [
                ("fs_type", &device.fs_type),
                ("uuid", &device.uuid),
                ("label", &device.label),
            ] {
                if !value.is_empty() {
                    e.insert(name.into(), Value::from(value.as_str()));
                }
            }
        }
    }
    pairs
}

/// by_device (`by = "device"`, listing `mounts`) or by_mountpoint (`by = "mount"`, listing
/// `devices`): entries sharing the key merged, later values winning.
fn view(pairs: &Map, by: &str) -> Map {
    let (other, list) = if by == "device" {
        ("mount", "mounts")
    } else {
        ("device", "devices")
    };
    let mut view = Map::new();
    for fields in pairs.values().filter_map(Value::as_object) {
        let Some(key) = fields.get(by).and_then(Value::as_str) else {
            continue;
        };
        let merged = entry(&mut view, key.to_string());
        for (name, value) in fields.iter().filter(|(k, _)| *k != by && *k != other) {
            merged.insert(name.clone(), value.clone());
        }
        let listed = merged
            .entry(list)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let (Value::Array(items), Some(item)) = (listed, fields.get(other)) {
            items.push(item.clone());
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MOUNTS: &str = "proc /proc proc rw,relatime 0 0\n/dev/vda / ext4 rw,relatime,discard 0 0\ntmpfs /dev/shm tmpfs rw,relatime,size=24683656k 0 0\ntmpfs /sys/fs/cgroup tmpfs rw,mode=755 0 0\n/dev/sdb1 /mnt/my\\040disk vfat rw 0 0\n";

    #[test]
    fn proc_mounts_lines_with_escapes() {
        let mounts = parse_mounts(MOUNTS);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[1].device, "/dev/vda");
        assert_eq!(mounts[1].options, vec!["rw", "relatime", "discard"]);
        assert_eq!(mounts[4].mount, "/mnt/my disk");
        assert!(is_dummy(&mounts[0]));
        assert!(!is_dummy(&mounts[1]));
    }

    #[test]
    fn mountinfo_roots() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n30 27 8:1 /srv/data /data rw - ext4 /dev/sda1 rw\n";
        assert_eq!(parse_mountinfo_roots(text), vec!["/", "/srv/data"]);
    }

    #[test]
    fn df_percentages_round_up() {
        assert_eq!(percent(34186912, 61098976), Some(36));
        assert_eq!(percent(114, 3083494), Some(1));
        assert_eq!(percent(0, 12334432), Some(0));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn df_fields_in_kib() {
        let usage = Usage {
            fragment_size: 4096,
            blocks: 100,
            blocks_free: 40,
            blocks_available: 30,
            files: 0,
            files_free: 0,
        };
        assert_eq!(
            df_fields(&usage),
            vec![
                ("kb_size", "400".to_string()),
                ("kb_used", "240".to_string()),
                ("kb_available", "120".to_string()),
                ("percent_used", "67%".to_string()),
            ]
        );
    }

    #[test]
    fn views_merge_pairs() {
        let mounts = parse_mounts(MOUNTS);
        let usage = Usage {
            fragment_size: 1024,
            blocks: 10,
            blocks_free: 10,
            blocks_available: 10,
            files: 10,
            files_free: 9,
        };
        let df = vec![(mounts[1].clone(), usage)];
        let pairs = by_pair(&df, &mounts, &[]);
        assert_eq!(
            pairs["/dev/vda,/"],
            json!({"device": "/dev/vda", "kb_size": "10", "kb_used": "0", "kb_available": "10",
                   "percent_used": "0%", "mount": "/", "total_inodes": "10", "inodes_used": "1",
                   "inodes_available": "9", "inodes_percent_used": "10%", "fs_type": "ext4",
                   "mount_options": ["rw", "relatime", "discard"]})
        );
        let by_device = view(&pairs, "device");
        assert_eq!(
            by_device["tmpfs"]["mounts"],
            json!(["/dev/shm", "/sys/fs/cgroup"])
        );
        assert_eq!(
            by_device["tmpfs"]["mount_options"],
            json!(["rw", "mode=755"])
        );
        let by_mount = view(&pairs, "mount");
        assert_eq!(by_mount["/"]["devices"], json!(["/dev/vda"]));
        assert!(by_mount["/"].get("device").is_none());
    }

    #[test]
    fn df_keeps_the_real_device_of_a_shared_one() {
        let named = Mount {
            device: "overlay".into(),
            mount: "/a".into(),
            fs_type: "overlay".into(),
            options: vec![],
            root: Some("/".into()),
        };
        let real = Mount {
            device: "/dev/sda1".into(),
            mount: "/b".into(),
            ..named.clone()
        };
        assert!(df_prefers(&real, &named));
        let bind = Mount {
            device: "/dev/sda1".into(),
            mount: "/".into(),
            root: Some("/srv".into()),
            ..named.clone()
        };
        assert!(!df_prefers(&bind, &real));
    }
}
