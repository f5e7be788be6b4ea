//! Cookbook files and compiled templates for the resources being built.

use crate::error::{Error, Result, SourceLocation};
use crate::repo::specificity::{self, HostFacts};
use crate::repo::Repository;
use crate::resource::build::{Segment, Sources};
use crate::ruby::erb::TemplateFinder;
use crate::template::TemplateEngine;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Finds `templates/` and `files/` sources by Chef's specificity for this host, and compiles
/// each template file once per run.
#[derive(Debug)]
pub struct RepoSources<'a> {
    repo: &'a Repository,
    host: HostFacts,
    compiled: RefCell<HashMap<PathBuf, Arc<dyn TemplateEngine>>>,
    partials: Arc<TemplateFinder>,
}

impl<'a> RepoSources<'a> {
    /// Sources for a host with these facts.
    pub fn new(repo: &'a Repository, host: HostFacts) -> Self {
        let cookbooks = repo
            .cookbooks()
            .map(|cb| (cb.name().to_string(), cb.root.clone()));
        Self {
            repo,
            partials: Arc::new(TemplateFinder::new(cookbooks, host.clone())),
            host,
            compiled: RefCell::new(HashMap::new()),
        }
    }
}

impl Sources for RepoSources<'_> {
    fn cookbook_file(
        &self,
        cookbook: &str,
        segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf> {
        let Some(cb) = self.repo.cookbook(cookbook) else {
            return Err(Error::compile_as(
                "Chef::Exceptions::CookbookNotFound",
                location.clone(),
                format!("cookbook `{cookbook}` not found for source `{source}`"),
            ));
        };
        let dir = cb.root.join(match segment {
            Segment::Templates => "templates",
            Segment::Files => "files",
        });
        specificity::find(&dir, source, &self.host).map_err(|searched| {
            let list: Vec<String> = searched
                .iter()
                .map(|p| format!("  {}", p.display()))
                .collect();
            Error::compile_as(
                "Chef::Exceptions::FileNotFound",
                location.clone(),
                format!(
                    "cookbook `{cookbook}` has no {} `{source}`; searched:\n{}",
                    match segment {
                        Segment::Templates => "template",
                        Segment::Files => "file",
                    },
                    list.join("\n")
                ),
            )
        })
    }

    fn template(&self, path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>> {
        if let Some(found) = self.compiled.borrow().get(path) {
            return Ok(found.clone());
        }
        let engine = compile_template(path, location)?;
        self.compiled
            .borrow_mut()
            .insert(path.to_path_buf(), engine.clone());
        Ok(engine)
    }

    fn finder(&self) -> Option<Arc<TemplateFinder>> {
        Some(self.partials.clone())
    }

    fn owned(&self) -> Option<Arc<dyn Sources + Send + Sync>> {
        Some(Arc::new(ConvergeSources(self.partials.clone())))
    }
}

/// The same lookups, owned, for resources built again at converge time (`lazy` properties).
#[derive(Debug)]
pub struct ConvergeSources(pub Arc<TemplateFinder>);

impl Sources for ConvergeSources {
    fn cookbook_file(
        &self,
        cookbook: &str,
        segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf> {
        let dir = match segment {
            Segment::Templates => "templates",
            Segment::Files => "files",
        };
        self.0.find_in(cookbook, dir, source).map_err(|message| {
            Error::compile_as("Chef::Exceptions::FileNotFound", location.clone(), message)
        })
    }

    fn template(&self, path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>> {
        if path.extension().is_some_and(|e| e == "hbs") {
            return compile_template(path, location);
        }
        Ok(self.0.load(path)?)
    }

    fn finder(&self) -> Option<Arc<TemplateFinder>> {
        Some(self.0.clone())
    }
}

/// Reads and compiles a template file (see [`crate::template::compile_source`]).
pub fn compile_template(path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::compile_as(
            "Chef::Exceptions::FileNotFound",
            location.clone(),
            format!("template source {} does not exist", path.display()),
        ),
        _ => Error::io(path, e),
    })?;
    if path.extension().is_some_and(|e| e == "hbs") {
        Ok(Arc::new(
            crate::template::handlebars::HandlebarsTemplate::compile(path, &text)?,
        ))
    } else {
        Ok(Arc::new(crate::ruby::erb::ErbTemplate::compile(
            path, &text,
        )?))
    }
}
