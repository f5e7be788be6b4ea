//! Turning a declaration into a typed resource.

use crate::error::{Result, SourceLocation};
use crate::template::TemplateEngine;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which cookbook directory a source file is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Templates,
    Files,
}

/// What building a resource needs from the repository: cookbook files by Chef's specificity,
/// and compiled templates. Implemented by the compiler; tests can implement it over a tempdir.
pub trait Sources {
    /// The file for `source` in `cookbook`'s `templates/` or `files/`, first match in Chef's
    /// specificity order; an error at `location` listing the places searched when none exists.
    fn cookbook_file(
        &self,
        cookbook: &str,
        segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf>;

    /// Compiles the template file at `path` with the engine its extension names
    /// (`.erb` → ERB, `.hbs` → Handlebars).
    fn template(&self, path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>>;
}
