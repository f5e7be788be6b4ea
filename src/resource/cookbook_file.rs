//! `cookbook_file`: a file whose content is copied from the cookbook's `files/` directory.
//!
//! The source is resolved at build time (Chef's specificity order is the `Sources`
//! implementation's job) and read at check time; everything else is `file`'s logic.

use super::build::{Segment, Sources};
use super::file::{file_like_properties, FileProperties, ACTIONS as FILE_ACTIONS};
use super::properties::Properties;
use super::template::basename;
use super::{Action, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::Result;
use crate::platform::fs;
use std::path::{Path, PathBuf};

/// Properties of `cookbook_file`: file's (without `content`) plus `source` and `cookbook`.
pub const PROPERTIES: &[&str] = file_like_properties!["source", "cookbook"];

/// Actions of `cookbook_file` (those of `file`).
pub const ACTIONS: &[Action] = FILE_ACTIONS;

/// `cookbook_file "/usr/local/bin/tool"`.
#[derive(Debug)]
pub struct CookbookFileResource {
    id: ResourceId,
    common: Common,
    file: FileProperties,
    /// The cookbook file the content is copied from.
    source_path: PathBuf,
}

/// Builds a `cookbook_file`, resolving its source (default: the basename of the path).
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let file = FileProperties::read(&props)?;
    let source = props
        .string("source")?
        .unwrap_or_else(|| basename(&file.path));
    let cookbook = props
        .string("cookbook")?
        .unwrap_or_else(|| decl.cookbook.clone());
    let source_path = sources.cookbook_file(
        &cookbook,
        Segment::Files,
        &source,
        &props.location("source"),
    )?;
    Ok(Box::new(CookbookFileResource {
        id: ResourceId::new("cookbook_file", &decl.name),
        common,
        file,
        source_path,
    }))
}

impl CookbookFileResource {
    /// The cookbook file the content comes from.
    pub fn source_path(&self) -> &Path {
        &self.source_path
    }
}

impl Resource for CookbookFileResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        self.file.check(action, cx, self.common.sensitive, &|_| {
            fs::read(&self.source_path).map(Some)
        })
    }

    fn apply(&self, _action: Action, plan: Plan, cx: &mut Context) -> Result<()> {
        self.file.apply(plan, cx)
    }
}

#[cfg(test)]
mod tests {
    use crate::resource::testing::Host;
    use crate::resource::Action;
    use serde_json::json;

    #[test]
    fn copies_the_cookbook_file_named_by_the_basename() {
        let mut host = Host::new();
        let dir = host.cookbook_dir().join("files");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("motd"), "hello\n").unwrap();
        let r = host.build("cookbook_file", "/etc/motd", json!({})).unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(done[0], "create new file /etc/motd");
        assert_eq!(host.read("/etc/motd"), "hello\n");
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn missing_source_is_a_compile_error() {
        let host = Host::new();
        let err = host
            .build("cookbook_file", "/etc/motd", json!({"source": "nope"}))
            .unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::FileNotFound");
    }
}
