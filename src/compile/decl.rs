//! A resource as a recipe declared it: type, name and raw property values with their places.

use crate::error::SourceLocation;
use indexmap::IndexMap;
use serde_json::Value;

/// A property value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct PropValue {
    pub value: Value,
    pub location: SourceLocation,
}

/// One declared resource, before it is checked against its type's properties.
#[derive(Debug, Clone)]
pub struct ResourceDecl {
    /// The declared type (`package`, `template`).
    pub kind: String,
    /// The name (`/etc/nginx/nginx.conf`).
    pub name: String,
    /// Every other key, in the order written, including common ones (`action`, `notifies`).
    pub properties: IndexMap<String, PropValue>,
    /// Where the declaration starts.
    pub location: SourceLocation,
    pub cookbook: String,
    pub recipe: String,
}
