//! Unified diffs of file content, printed under `update content in file …` lines.
//!
//! Follows Chef's `Chef::Util::Diff`: a `diff -u` style diff, or one of its fixed messages when
//! the diff is disabled, the files are too large or binary, or the diff itself is too long.

use crate::resource::context::DiffSettings;
use similar::TextDiff;

/// One side of a diff: its content and the `--- path\ttime` header label.
#[derive(Debug, Clone, Copy)]
pub struct DiffSide<'a> {
    /// The bytes of this side.
    pub content: &'a [u8],
    /// `path\tYYYY-MM-DD HH:MM:SS.nnnnnnnnn +ZZZZ`.
    pub label: &'a str,
}

/// The lines to print for old → new, or a one-line reason why there is no diff.
pub fn content_diff(old: DiffSide<'_>, new: DiffSide<'_>, settings: &DiffSettings) -> Vec<String> {
    match diff_text(old, new, settings) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(message) => vec![message],
    }
}

fn diff_text(
    old: DiffSide<'_>,
    new: DiffSide<'_>,
    settings: &DiffSettings,
) -> Result<String, String> {
    if settings.disabled {
        return Err("(diff output suppressed by config)".into());
    }
    let limit = settings.filesize_threshold;
    if old.content.len() as u64 > limit || new.content.len() as u64 > limit {
        return Err(format!(
            "(file sizes exceed {limit} bytes, diff output suppressed)"
        ));
    }
    let old_text =
        text_of(old.content).ok_or("(current file is binary, diff output suppressed)")?;
    let new_text = text_of(new.content).ok_or("(new content is binary, diff output suppressed)")?;
    let diff = TextDiff::from_lines(old_text, new_text);
    if diff
        .ops()
        .iter()
        .all(|op| matches!(op.tag(), similar::DiffTag::Equal))
    {
        return Err("(no diff)".into());
    }
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old.label, new.label)
        .to_string();
    if text.len() > settings.output_threshold {
        return Err(format!(
            "(long diff of over {} characters, diff output suppressed)",
            settings.output_threshold
        ));
    }
    Ok(text)
}

/// Text if the bytes are UTF-8 made of printable characters and whitespace, as Chef's
/// binary test (`/\A[\s[:print:]]*\z/m`) decides.
fn text_of(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.chars()
        .all(|c| c.is_whitespace() || !c.is_control())
        .then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side<'a>(content: &'a [u8], label: &'a str) -> DiffSide<'a> {
        DiffSide { content, label }
    }

    #[test]
    fn unified_diff_has_headers_and_hunks() {
        let lines = content_diff(
            side(b"a\nb\n", "/etc/x\tT1"),
            side(b"a\nc\n", "/etc/.chef-x\tT2"),
            &DiffSettings::default(),
        );
        assert_eq!(lines[0], "--- /etc/x\tT1");
        assert_eq!(lines[1], "+++ /etc/.chef-x\tT2");
        assert!(lines[2].starts_with("@@"));
        assert!(lines.contains(&"-b".to_string()));
        assert!(lines.contains(&"+c".to_string()));
    }

    #[test]
    fn chef_suppression_messages() {
        let mut settings = DiffSettings::default();
        let same = content_diff(side(b"a\n", "o"), side(b"a\n", "n"), &settings);
        assert_eq!(same, ["(no diff)"]);
        let bin_old = content_diff(side(b"\0\x01", "o"), side(b"a\n", "n"), &settings);
        assert_eq!(
            bin_old,
            ["(current file is binary, diff output suppressed)"]
        );
        let bin_new = content_diff(side(b"a\n", "o"), side(b"\xff\xfe", "n"), &settings);
        assert_eq!(bin_new, ["(new content is binary, diff output suppressed)"]);
        settings.output_threshold = 5;
        let long = content_diff(side(b"a\n", "o"), side(b"b\n", "n"), &settings);
        assert_eq!(
            long,
            ["(long diff of over 5 characters, diff output suppressed)"]
        );
        settings.filesize_threshold = 1;
        let big = content_diff(side(b"a\n", "o"), side(b"b\n", "n"), &settings);
        assert_eq!(big, ["(file sizes exceed 1 bytes, diff output suppressed)"]);
        settings.disabled = true;
        let off = content_diff(side(b"a\n", "o"), side(b"b\n", "n"), &settings);
        assert_eq!(off, ["(diff output suppressed by config)"]);
    }
}
