//! Run lists: parsing `recipe[cb::r@1.0]` / `role[x]` items the way Chef's `RunListItem` does.
//!
//! Expansion (roles → recipes) lives in `expand`; this module only knows the item syntax and
//! that a run list ignores exact duplicates.

use crate::error::{Error, Result, SourceLocation};
use std::fmt;

/// One entry of a run list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunListItem {
    /// A recipe, named as written (`"cb"` or `"cb::r"`), with an optional exact version pin.
    Recipe {
        /// `cb` or `cb::r`, as written.
        name: String,
        /// `X.Y` or `X.Y.Z`.
        version: Option<String>,
    },
    /// A role, by name.
    Role(String),
}

impl RunListItem {
    /// Parses `recipe[cb]`, `cb::r`, `recipe[cb@1.2.3]`, `cb@1.2` or `role[x]`; anything else
    /// holding `[` or `]` is Chef's `ArgumentError`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(item) = parse_qualified_recipe(s) {
            return Ok(item);
        }
        if let Some(name) = bracketed(s, "role[").filter(|name| !name.contains(']')) {
            return Ok(RunListItem::Role(name.to_string()));
        }
        if let Some(item) = parse_versioned_bare_recipe(s) {
            return Ok(item);
        }
        if s.contains(['[', ']']) {
            return Err(Error::input(
                "ArgumentError",
                format!(
                    "Unable to create Chef::RunList::RunListItem from String:{s:?}: must be \
                     recipe[] or role[]"
                ),
            ));
        }
        Ok(RunListItem::Recipe {
            name: s.to_string(),
            version: None,
        })
    }

    /// Whether this is a role item.
    pub fn is_role(&self) -> bool {
        matches!(self, RunListItem::Role(_))
    }
}

impl fmt::Display for RunListItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunListItem::Recipe {
                name,
                version: Some(version),
            } => write!(f, "recipe[{name}@{version}]"),
            RunListItem::Recipe {
                name,
                version: None,
            } => write!(f, "recipe[{name}]"),
            RunListItem::Role(name) => write!(f, "role[{name}]"),
        }
    }
}

/// The text between `prefix` and a final `]`, when it is not empty.
fn bracketed<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let inner = s.strip_prefix(prefix)?.strip_suffix(']')?;
    (!inner.is_empty()).then_some(inner)
}

/// `recipe[name]` or `recipe[name@X.Y[.Z]]`, the name holding neither `]` nor `@`.
fn parse_qualified_recipe(s: &str) -> Option<RunListItem> {
    let inner = bracketed(s, "recipe[")?;
    let (name, version) = match inner.split_once('@') {
        Some((name, version)) => (name, Some(version).filter(|v| is_version(v))),
        None => (inner, None),
    };
    let pinned_but_invalid = inner.contains('@') && version.is_none();
    if name.is_empty() || name.contains(']') || pinned_but_invalid {
        return None;
    }
    Some(RunListItem::Recipe {
        name: name.to_string(),
        version: version.map(str::to_string),
    })
}

/// `name@X.Y[.Z]` without brackets (the name holds no `@`).
fn parse_versioned_bare_recipe(s: &str) -> Option<RunListItem> {
    let (name, version) = s.split_once('@')?;
    if name.is_empty() || !is_version(version) {
        return None;
    }
    Some(RunListItem::Recipe {
        name: name.to_string(),
        version: Some(version.to_string()),
    })
}

/// Two or three dot-separated runs of digits, as a run-list pin must be.
pub(crate) fn is_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// An ordered run list; exact duplicate items are ignored as it is built.
#[derive(Debug, Clone, Default)]
pub struct RunList {
    items: Vec<RunListItem>,
    /// Where each item was written, when it came from a file: errors about an item (a
    /// cookbook that is not there, a pin that does not match) point at it.
    locations: Vec<Option<SourceLocation>>,
}

/// Two run lists are equal when their items are; where they were written does not count.
impl PartialEq for RunList {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl RunList {
    /// A run list of these items, dropping exact duplicates (first occurrence kept).
    pub fn new(items: Vec<RunListItem>) -> Self {
        let mut list = RunList::default();
        for item in items {
            list.push(item);
        }
        list
    }

    /// The items in order.
    pub fn items(&self) -> &[RunListItem] {
        &self.items
    }

    /// Appends an item unless the same item is already present.
    pub fn push(&mut self, item: RunListItem) {
        self.push_at(item, None);
    }

    /// Appends an item written at `location`, unless the same item is already present.
    pub fn push_at(&mut self, item: RunListItem, location: Option<SourceLocation>) {
        if !self.items.contains(&item) {
            self.items.push(item);
            self.locations.push(location);
        }
    }

    /// The items in order, each with where it was written when known.
    pub fn located(&self) -> impl Iterator<Item = (&RunListItem, Option<&SourceLocation>)> {
        self.items
            .iter()
            .zip(self.locations.iter().map(Option::as_ref))
    }

    /// Maps every known location through `f` (a run list read from generated text, pointed
    /// back at its source).
    pub fn relocate(&mut self, f: &dyn Fn(&SourceLocation) -> SourceLocation) {
        for location in self.locations.iter_mut().flatten() {
            *location = f(location);
        }
    }

    /// Parses the `-o 'role[a],recipe[b]'` form: comma-separated items, surrounding blanks
    /// ignored, empty entries skipped.
    pub fn parse_comma(s: &str) -> Result<Self> {
        let items: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect();
        Self::from_strings(&items)
    }

    /// Parses each string as a run-list item.
    pub fn from_strings<S: AsRef<str>>(items: &[S]) -> Result<Self> {
        let parsed = items
            .iter()
            .map(|item| RunListItem::parse(item.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(RunList::new(parsed))
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items as Chef prints and saves them (`"recipe[a]"`, `"role[b]"`).
    pub fn to_strings(&self) -> Vec<String> {
        self.items.iter().map(ToString::to_string).collect()
    }
}

/// Chef's `RunList#to_s`: items joined by ", " (the log line adds the brackets:
/// `Run List is [role[web], recipe[a]]`).
impl fmt::Display for RunList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_strings().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(name: &str, version: Option<&str>) -> RunListItem {
        RunListItem::Recipe {
            name: name.into(),
            version: version.map(Into::into),
        }
    }

    #[test]
    fn b1_recipe_forms() {
        assert_eq!(
            RunListItem::parse("recipe[cb]").unwrap(),
            recipe("cb", None)
        );
        assert_eq!(RunListItem::parse("cb").unwrap(), recipe("cb", None));
        assert_eq!(
            RunListItem::parse("recipe[cb::r]").unwrap(),
            recipe("cb::r", None)
        );
        assert_eq!(RunListItem::parse("cb::r").unwrap(), recipe("cb::r", None));
    }

    #[test]
    fn b1_version_pins_have_two_or_three_numeric_parts() {
        assert_eq!(
            RunListItem::parse("recipe[cb@1.2.3]").unwrap(),
            recipe("cb", Some("1.2.3"))
        );
        assert_eq!(
            RunListItem::parse("cb@1.2").unwrap(),
            recipe("cb", Some("1.2"))
        );
        assert_eq!(
            RunListItem::parse("a::b@1.2.3").unwrap(),
            recipe("a::b", Some("1.2.3"))
        );
        // Without brackets an odd pin is just part of the recipe name, as in Chef.
        assert_eq!(RunListItem::parse("a@1").unwrap(), recipe("a@1", None));
    }

    #[test]
    fn b1_role_form() {
        assert_eq!(
            RunListItem::parse("role[web]").unwrap(),
            RunListItem::Role("web".into())
        );
    }

    #[test]
    fn b1_false_friends_are_argument_errors() {
        for bad in [
            "recipe[a",
            "role[x",
            "recipe[a@1]",
            "roles[x]",
            "recipe[]",
            "role[]",
            "recipe[a@1.2.3.4]",
            "x]",
        ] {
            let err = RunListItem::parse(bad).unwrap_err();
            assert_eq!(err.class(), "ArgumentError", "{bad}");
        }
        let err = RunListItem::parse("recipe[a").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to create Chef::RunList::RunListItem from String:\"recipe[a\": must be \
             recipe[] or role[]"
        );
    }

    #[test]
    fn b1_display_is_the_qualified_form() {
        for (input, shown) in [
            ("cb", "recipe[cb]"),
            ("cb::r@1.0.0", "recipe[cb::r@1.0.0]"),
            ("role[x]", "role[x]"),
        ] {
            assert_eq!(RunListItem::parse(input).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn b1_run_list_ignores_exact_duplicates() {
        let list =
            RunList::from_strings(&["a", "recipe[a]", "role[r]", "role[r]", "a::default"]).unwrap();
        assert_eq!(
            list.to_strings(),
            ["recipe[a]", "role[r]", "recipe[a::default]"]
        );
    }

    #[test]
    fn b1_override_run_list_is_comma_separated() {
        let list = RunList::parse_comma("role[a],recipe[b], c ,").unwrap();
        assert_eq!(list.to_strings(), ["role[a]", "recipe[b]", "recipe[c]"]);
        assert_eq!(list.to_string(), "role[a], recipe[b], recipe[c]");
        assert!(RunList::parse_comma("role[a],recipe[b").is_err());
        assert!(RunList::parse_comma("").unwrap().is_empty());
    }
}
