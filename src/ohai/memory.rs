//! memory: /proc/meminfo under Ohai's names, values as `"24576000kB"` strings.

use super::{Host, Map};
use serde_json::Value;

/// meminfo field → Ohai key below `memory` (`swap/...` goes below `memory.swap`).
const FIELDS: &[(&str, &str)] = &[
    ("MemTotal", "total"),
    ("MemFree", "free"),
    ("MemAvailable", "available"),
    ("Buffers", "buffers"),
    ("Cached", "cached"),
    ("Active", "active"),
    ("Inactive", "inactive"),
    ("HighTotal", "high_total"),
    ("HighFree", "high_free"),
    ("LowTotal", "low_total"),
    ("LowFree", "low_free"),
    ("Dirty", "dirty"),
    ("Writeback", "writeback"),
    ("AnonPages", "anon_pages"),
    ("Mapped", "mapped"),
    ("Slab", "slab"),
    ("SReclaimable", "slab_reclaimable"),
    ("SUnreclaim", "slab_unreclaim"),
    ("PageTables", "page_tables"),
    ("NFS_Unstable", "nfs_unstable"),
    ("Bounce", "bounce"),
    ("CommitLimit", "commit_limit"),
    ("Committed_AS", "committed_as"),
    ("VmallocTotal", "vmalloc_total"),
    ("VmallocUsed", "vmalloc_used"),
    ("VmallocChunk", "vmalloc_chunk"),
    ("SwapCached", "swap/cached"),
    ("SwapTotal", "swap/total"),
    ("SwapFree", "swap/free"),
    ("HugePages_Total", "hugepages/total"),
    ("HugePages_Free", "hugepages/free"),
    ("HugePages_Rsvd", "hugepages/reserved"),
    ("HugePages_Surp", "hugepages/surplus"),
    ("Hugepagesize", "hugepage_size"),
    ("Hugetlb", "hugetlb"),
];

/// memory from /proc/meminfo.
pub fn collect(host: &Host, out: &mut Map) {
    if let Some(text) = host.read("/proc/meminfo") {
        out.insert("memory".into(), Value::Object(parse_meminfo(&text)));
    }
}

/// Ohai's memory tree from meminfo text: `swap`, `hugepages` and `directmap` first, then the
/// fields in file order. Hugepage counts carry no unit; the others are `<n><unit>`.
pub fn parse_meminfo(text: &str) -> Map {
    let mut memory = Map::new();
    let mut swap = Map::new();
    let mut hugepages = Map::new();
    let mut directmap = Map::new();
    let mut top = Map::new();
    for line in text.lines() {
        let Some((field, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(number) = words
            .next()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let unit = words.next();
        if let Some(size) = field.strip_prefix("DirectMap") {
            if let Some(unit) = unit {
                directmap.insert(size.into(), Value::from(format!("{number}{unit}")));
            }
            continue;
        }
        let Some((_, key)) = FIELDS.iter().find(|(name, _)| *name == field) else {
            continue;
        };
        if let Some(key) = key.strip_prefix("hugepages/") {
            hugepages.insert(key.into(), Value::from(number));
            continue;
        }
        // Ohai requires a unit on every other field.
        let Some(unit) = unit else { continue };
        let value = Value::from(format!("{number}{unit}"));
        match key.strip_prefix("swap/") {
            Some(key) => swap.insert(key.into(), value),
            None => top.insert((*key).into(), value),
        };
    }
    memory.insert("swap".into(), Value::Object(swap));
    memory.insert("hugepages".into(), Value::Object(hugepages));
    memory.insert("directmap".into(), Value::Object(directmap));
    memory.extend(top);
    memory
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meminfo_in_ohai_format() {
        let text = "MemTotal:       24683656 kB\nMemFree:         8113304 kB\nSwapCached:            0 kB\nActive(anon):       10 kB\nSwapTotal:       1024 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\nDirectMap4k:       20480 kB\nDirectMap2M:     2076672 kB\n";
        assert_eq!(
            Value::Object(parse_meminfo(text)),
            json!({
                "swap": {"cached": "0kB", "total": "1024kB"},
                "hugepages": {"total": "0"},
                "directmap": {"4k": "20480kB", "2M": "2076672kB"},
                "total": "24683656kB",
                "free": "8113304kB",
                "hugepage_size": "2048kB"
            })
        );
    }
}
