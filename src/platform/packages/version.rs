//! Debian version ordering (`[epoch:]upstream[-revision]`), as `dpkg --compare-versions`.
//!
//! Needed only where Chef compares versions rather than testing them for equality: an upgrade
//! that would be a downgrade when downgrades are not allowed.

use std::cmp::Ordering;

/// Compares two Debian version strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The sort weight of one non-digit character: `~` before everything, letters before others.
fn weight(c: Option<char>) -> i32 {
    match c {
        Some('~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefix, character by character.
        loop {
            let ca = a.chars().next().filter(|c| !c.is_ascii_digit());
            let cb = b.chars().next().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let order = weight(ca).cmp(&weight(cb));
            if order != Ordering::Equal {
                return order;
            }
            a = ca.map_or(a, |c| &a[c.len_utf8()..]);
            b = cb.map_or(b, |c| &b[c.len_utf8()..]);
        }
        // Digit run, numerically.
        let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let na = a[..da].trim_start_matches('0');
        let nb = b[..db].trim_start_matches('0');
        let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if order != Ordering::Equal {
            return order;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn orders_as_dpkg_does() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1:1.0", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0-1", "1.0-2", Less),
            ("1.0a", "1.0", Greater),
            ("1.0+b1", "1.0a", Greater),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.0-1", "1.0", Greater),
            ("007", "7", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn agrees_with_dpkg_when_present() {
        if !std::path::Path::new("/usr/bin/dpkg").exists() {
            return;
        }
        for (a, b) in [("1.2~b", "1.2"), ("1:0.1", "9.9"), ("1.0.0+x", "1.0.0-y")] {
            let lt = std::process::Command::new("dpkg")
                .args(["--compare-versions", a, "lt", b])
                .status()
                .unwrap()
                .success();
            assert_eq!(compare(a, b) == Less, lt, "{a} vs {b}");
        }
    }
}
