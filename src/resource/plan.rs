//! What a resource action would change: the output of `check`, the input of `apply`.

use std::any::Any;

/// One change, described in Chef's words (`update content in file /x from 1a2b3c to 4d5e6f`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The doc-formatter line without the leading `- ` (and without `Would `).
    pub description: String,
    /// Extra lines printed under the description (a unified diff), without indentation.
    pub diff: Vec<String>,
}

impl Change {
    /// A change with no diff.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            diff: Vec::new(),
        }
    }

    /// A change followed by diff lines.
    pub fn with_diff(description: impl Into<String>, diff: Vec<String>) -> Self {
        Self {
            description: description.into(),
            diff,
        }
    }
}

/// The changes an action would make. Empty means up to date.
///
/// `payload` carries whatever the resource computed in `check` that `apply` needs (rendered
/// content, the current state it read), so the work is done once and the plan printed is the
/// plan applied.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub payload: Option<Box<dyn Any + Send>>,
}

impl Plan {
    /// Nothing to do.
    pub fn up_to_date() -> Self {
        Self::default()
    }

    /// True when the action has nothing to change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds a change.
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Stores the data `apply` needs.
    pub fn set_payload<T: Any + Send>(&mut self, payload: T) {
        self.payload = Some(Box::new(payload));
    }

    /// Takes the data stored by `check`, if it is of type `T`.
    pub fn take_payload<T: Any + Send>(&mut self) -> Option<T> {
        let boxed = self.payload.take()?;
        match boxed.downcast::<T>() {
            Ok(b) => Some(*b),
            Err(other) => {
                self.payload = Some(other);
                None
            }
        }
    }
}
