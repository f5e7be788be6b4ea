//! `template`: a file whose content is a rendered template (ERB or Handlebars).
//!
//! A cookbook source is found and compiled at build time, so a missing template or a syntax
//! error stops the run before the host is touched. A `local` source is a file on the host that an
//! earlier resource may write, so, as in Chef, it is read and compiled when the resource is
//! checked. Rendering happens at check time with the node's final attributes and the resource's
//! `variables`. Everything after rendering is `file`'s logic.

use super::build::{Segment, Sources};
use super::file::{file_like_properties, FileProperties, ACTIONS as FILE_ACTIONS};
use super::properties::Properties;
use super::{Action, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::ruby::erb::TemplateFinder;
use crate::template::{RenderScope, TemplateEngine};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Properties of `template`: file's (without `content`) plus the template's own.
pub const PROPERTIES: &[&str] = file_like_properties!["source", "local", "cookbook", "variables"];

/// Actions of `template` (those of `file`).
pub const ACTIONS: &[Action] = FILE_ACTIONS;

/// `template "/etc/app.conf"`.
#[derive(Debug)]
pub struct TemplateResource {
    id: ResourceId,
    common: Common,
    file: FileProperties,
    /// The template file the content comes from.
    source_path: PathBuf,
    /// Compiled at build time for cookbook sources; `None` for `local` ones.
    engine: Option<Arc<dyn TemplateEngine>>,
    variables: Map<String, Value>,
    /// The cookbook partials are looked up in (`cookbook`, or the recipe's).
    cookbook: String,
    partials: Option<Arc<TemplateFinder>>,
}

/// Builds a `template`, resolving and compiling its source.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let file = FileProperties::read(&props)?;
    let default_source = format!("{}.erb", basename(&file.path));
    let source = props.string("source")?.unwrap_or(default_source);
    let location = props.location("source");
    let cookbook = props
        .string("cookbook")?
        .unwrap_or_else(|| decl.cookbook.clone());
    let partials = sources.finder();
    let (source_path, engine) = if props.bool("local")?.unwrap_or(false) {
        let path = PathBuf::from(&source);
        if !path.is_absolute() {
            return Err(Error::compile(
                location,
                format!("a `local` template needs an absolute `source`, got \"{source}\""),
            ));
        }
        (path, None)
    } else {
        let path = sources.cookbook_file(&cookbook, Segment::Templates, &source, &location)?;
        let engine = sources.template(&path, &location)?;
        if let Some(partials) = &partials {
            engine.check_partials(partials, &cookbook)?;
        }
        (path, Some(engine))
    };
    Ok(Box::new(TemplateResource {
        id: ResourceId::new("template", &decl.name),
        common,
        file,
        source_path,
        engine,
        variables: props.object("variables")?.unwrap_or_default(),
        cookbook,
        partials,
    }))
}

/// The last path component, as Ruby's `File.basename`.
pub(crate) fn basename(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl TemplateResource {
    /// The template file the content is rendered from.
    pub fn source_path(&self) -> &Path {
        &self.source_path
    }

    fn render(&self, cx: &Context) -> Result<Option<Vec<u8>>> {
        let scope = RenderScope {
            variables: &self.variables,
            node: &cx.node,
            cookbook: &self.cookbook,
            partials: self.partials.as_deref(),
            root: &cx.root,
            helpers: &self.common.template_helpers,
        };
        let text = match &self.engine {
            Some(engine) => engine.render_in(&scope)?,
            None => {
                let host = cx.host_path(&self.source_path);
                let source = std::fs::read_to_string(&host).map_err(|e| {
                    Error::resource(
                        "Chef::Exceptions::FileNotFound",
                        format!("template source {} cannot be read: {e}", host.display()),
                    )
                })?;
                crate::template::compile_source(&self.source_path, &source)?.render_in(&scope)?
            }
        };
        Ok(Some(text.into_bytes()))
    }
}

impl Resource for TemplateResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        self.file
            .check(action, cx, self.common.sensitive, &|cx| self.render(cx))
    }

    fn apply(&self, _action: Action, plan: Plan, cx: &mut Context) -> Result<()> {
        self.file.apply(plan, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn host_with_template(name: &str, text: &str) -> Host {
        let host = Host::new();
        let dir = host.cookbook_dir().join("templates");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
        host
    }

    #[test]
    fn renders_variables_and_node_then_is_idempotent() {
        let mut host = host_with_template("app.conf.hbs", "port={{port}}\nhost={{node.fqdn}}\n");
        host.cx.node = Arc::new(json!({"fqdn": "host.example"}));
        let r = host
            .build(
                "template",
                "/etc/app.conf",
                json!({"source": "app.conf.hbs", "variables": {"port": 80}, "mode": "0640"}),
            )
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(done[0], "create new file /etc/app.conf");
        assert_eq!(host.read("/etc/app.conf"), "port=80\nhost=host.example\n");
        assert!(host.check(r.as_ref(), Action::Create).is_empty());

        host.cx.node = Arc::new(json!({"fqdn": "other.example"}));
        let lines = host.check(r.as_ref(), Action::Create);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("update content in file /etc/app.conf from "));
    }

    #[test]
    fn source_defaults_to_basename_dot_erb_and_missing_is_a_compile_error() {
        let host = Host::new();
        let err = host
            .build("template", "/etc/app.conf", json!({}))
            .unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::FileNotFound");
        assert!(err.to_string().contains("app.conf.erb"), "{err}");
    }

    #[test]
    fn local_source_must_be_absolute() {
        let host = Host::new();
        let err = host
            .build(
                "template",
                "/etc/app.conf",
                json!({"source": "x.hbs", "local": true}),
            )
            .unwrap_err();
        assert!(matches!(err, Error::Compile { .. }));
    }

    #[test]
    fn template_has_no_content_property() {
        let host = host_with_template("app.conf.hbs", "x");
        let err = host
            .build(
                "template",
                "/etc/app.conf",
                json!({"source": "app.conf.hbs", "content": "x"}),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown property `content`"),
            "{err}"
        );
    }
}
