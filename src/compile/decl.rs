//! A resource as a recipe declared it: type, name and raw property values with their places.

use crate::error::SourceLocation;
use crate::resource::lazy::LazyValue;
use crate::resource::Guard;
use crate::ruby::erb::TemplateHelper;
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

/// What a declaration written as code carries besides data: blocks kept for converge time.
#[derive(Debug, Default)]
pub struct DeclCode {
    /// `only_if { ... }` / `not_if { ... }`.
    pub guards: Vec<Guard>,
    /// `helper(:name) { ... }` in a `template` block.
    pub helpers: Vec<TemplateHelper>,
    /// Property values written `lazy { ... }`.
    pub lazy: Vec<LazyValue>,
}
