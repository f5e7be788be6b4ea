//! The compile phase: cookbooks in dependency order, attribute files, then recipes into the
//! resource collection. Nothing on the host changes here; any error stops the run before the
//! converge starts.
//!
//! Recipe front-ends plug in through [`RecipeLoader`]: [`FileRecipeLoader`] reads Chef's YAML and
//! JSON recipes from the cookbook and evaluates Ruby recipes (`crate::ruby::eval_recipe`). A
//! front-end that runs code hands every declaration and `include_recipe` to the [`RecipeHost`]
//! as it is evaluated, so an included recipe runs at its place and sees the node as the
//! including recipe left it, as in Chef.

mod custom;
pub mod decl;
mod node_access;
pub mod order;
pub mod recipe;
mod sources;

pub use recipe::RecipeStep;
pub use sources::RepoSources;

use crate::error::{Error, Result, SourceLocation};
use crate::node::{Environment, Expansion, Level, Node};
use crate::repo::cookbook::{Cookbook, RecipeFile};
use crate::repo::version::{Constraint, Version};
use crate::repo::Repository;
use crate::resource::custom::CustomResource;
use crate::resource::{Guard, ResourceCollection};
use crate::ruby::custom_resource::ResourceType;
use crate::ruby::definition::{load_definitions, Definition};
use crate::ruby::{AttributeWrite, NodeAccess, WriteLevel};
use decl::{DeclCode, ResourceDecl};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Reads a recipe into its steps.
pub trait RecipeLoader {
    /// Evaluates `cookbook::recipe`; `Ok(None)` when the cookbook has no such recipe.
    ///
    /// A front-end of plain data may return its steps; one that runs code gives each step to
    /// `host` as it happens (and returns no steps). Returned steps are carried out after the
    /// ones given to `host`.
    fn load(
        &self,
        cookbook: &Cookbook,
        recipe: &str,
        host: &mut dyn RecipeHost,
    ) -> Result<Option<Vec<RecipeStep>>>;
}

/// What the compiler offers a recipe while it is evaluated: the node's attributes (merged reads
/// and precedence-level writes, through [`NodeAccess`]), the data bags, and the resource
/// collection, which takes each declaration and `include_recipe` at once.
pub trait RecipeHost: NodeAccess {
    /// Builds a declared resource (with guards written as code, if any) and appends it.
    fn declare(&mut self, decl: ResourceDecl, block_guards: Vec<Guard>) -> Result<()>;
    /// [`RecipeHost::declare`] for a declaration with more code kept for converge time
    /// (template helpers, `lazy` values) than block guards.
    fn declare_code(&mut self, decl: ResourceDecl, code: DeclCode) -> Result<()> {
        if code.helpers.is_empty() && code.lazy.is_empty() {
            return self.declare(decl, code.guards);
        }
        Err(Error::compile(
            decl.location.clone(),
            "template helpers and `lazy` values cannot be declared here",
        ))
    }
    /// `include_recipe "cb::r"` at `location`: evaluates it now unless it was loaded already.
    fn include_recipe(&mut self, name: &str, location: &SourceLocation) -> Result<()>;
    /// The library module `name` (`libraries/*.rb` of the run's cookbooks), for a template's
    /// `helpers(Module)`; None when no library defines it.
    fn library_module(&self, _name: &str) -> Result<Option<crate::ruby::LibraryModule>> {
        Ok(None)
    }
    /// The definition (`definitions/*.rb`) a recipe calls by `name`, if there is one.
    fn definition(&self, _name: &str) -> Option<Arc<Definition>> {
        None
    }
    /// Where `data_bag`, `data_bag_item` and `search` are answered, in the recipe and in the
    /// blocks it keeps for converge time (guards, `lazy` values); None where there is nothing
    /// to ask.
    fn repo_data(&self) -> Option<Arc<dyn RepoData>> {
        None
    }
}

/// Loads recipes from the cookbook's files: YAML and JSON (Chef's data format) and Ruby.
#[derive(Debug, Default)]
pub struct FileRecipeLoader;

impl RecipeLoader for FileRecipeLoader {
    fn load(
        &self,
        cookbook: &Cookbook,
        recipe: &str,
        host: &mut dyn RecipeHost,
    ) -> Result<Option<Vec<RecipeStep>>> {
        let Some(file) = cookbook.recipe_file(recipe)? else {
            return Ok(None);
        };
        let path = file.path();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let steps = match &file {
            RecipeFile::Yaml(_) => recipe::parse(&text, path, false, cookbook.name(), recipe)?,
            RecipeFile::Json(_) => recipe::parse(&text, path, true, cookbook.name(), recipe)?,
            RecipeFile::Ruby(_) => {
                crate::ruby::eval_recipe(path, &text, cookbook.name(), recipe, host)?;
                Vec::new()
            }
        };
        Ok(Some(steps))
    }
}

/// What the compile phase produced.
#[derive(Debug)]
pub struct Compiled {
    pub collection: ResourceCollection,
    /// Cookbooks in load order.
    pub cookbook_order: Vec<String>,
    /// Attribute files evaluated, as `cookbook::file`, in order.
    pub attribute_files: Vec<String>,
    /// Recipes evaluated, as `cookbook::recipe`, in order.
    pub recipes: Vec<String>,
    /// Things the operator should hear about (`WARN:` lines).
    pub warnings: Vec<String>,
}

/// Compiles the run: the expansion must already be applied to `node`.
pub fn compile(
    repo: &Repository,
    node: &mut Node,
    expansion: &Expansion,
    environment: &Environment,
    loader: &dyn RecipeLoader,
    sources: &RepoSources<'_>,
) -> Result<Compiled> {
    let order = order::cookbook_order(repo, &expansion.recipes)?;
    compile_in_order(repo, order, node, expansion, environment, loader, sources)
}

/// [`compile`] with the cookbook order already computed by [`order::cookbook_order`] (the CLI
/// prints it before compiling).
pub fn compile_in_order(
    repo: &Repository,
    order: Vec<String>,
    node: &mut Node,
    expansion: &Expansion,
    environment: &Environment,
    loader: &dyn RecipeLoader,
    sources: &RepoSources<'_>,
) -> Result<Compiled> {
    check_versions(repo, &order, expansion, environment)?;
    set_automatic_cookbooks(repo, node, &order);

    let mut loaded_attributes = HashSet::new();
    let mut attribute_files = Vec::new();
    for name in &order {
        let Some(cookbook) = repo.cookbook(name) else {
            continue;
        };
        for file in cookbook.attribute_files()? {
            node_access::load_attribute_file(
                repo,
                node,
                cookbook,
                &file,
                &mut loaded_attributes,
                &mut attribute_files,
            )?;
        }
    }

    // Chef's order: attribute files, then resource types, then definitions, then recipes.
    let resource_types = custom::load_resource_types(repo, &order)?;
    let definitions = load_cookbook_definitions(repo, &order)?;
    let mut state = RecipeState {
        repo,
        node,
        loader,
        sources,
        in_order: order.iter().cloned().collect(),
        loaded: HashSet::new(),
        recipes: Vec::new(),
        collection: ResourceCollection::new(),
        warnings: Vec::new(),
        included: Vec::new(),
        definitions,
        resource_types,
        data_view: std::sync::OnceLock::new(),
    };
    for entry in &expansion.recipes {
        state.load_recipe(
            entry.cookbook(),
            entry.recipe(),
            Site::RunList(entry.origin.as_ref()),
        )?;
    }
    if !state.included.is_empty() {
        add_automatic_recipes(state.node, &state.included);
    }
    check_notification_targets(&state.collection)?;
    let mut collection = std::mem::take(&mut state.collection);
    custom::compile_actions(&mut state, &mut collection, 0)?;
    custom::compile_outward_notifications(&mut state, &mut collection)?;
    custom::check_compiled_actions(&collection, &[])?;
    Ok(Compiled {
        collection,
        cookbook_order: order,
        attribute_files,
        recipes: state.recipes,
        warnings: state.warnings,
    })
}

struct RecipeState<'a> {
    repo: &'a Repository,
    node: &'a mut Node,
    loader: &'a dyn RecipeLoader,
    sources: &'a RepoSources<'a>,
    in_order: HashSet<String>,
    loaded: HashSet<String>,
    recipes: Vec<String>,
    collection: ResourceCollection,
    warnings: Vec<String>,
    /// Recipes pulled in by `include_recipe`, for `automatic['recipes']`.
    included: Vec<String>,
    /// Definitions by name; a later cookbook's wins, as in Chef.
    definitions: HashMap<String, Arc<Definition>>,
    /// Custom resource and LWRP types by name.
    resource_types: HashMap<String, Arc<ResourceType>>,
    /// The repository without its cookbooks, made once the first converge-time block asks.
    data_view: std::sync::OnceLock<Arc<Repository>>,
}

/// Data bags and search, kept for blocks that run at converge time.
pub trait RepoData: Send + Sync + std::fmt::Debug {
    /// The item ids of a data bag, sorted.
    fn data_bag(&self, bag: &str) -> Result<Vec<String>>;
    /// One data bag item.
    fn data_bag_item(&self, bag: &str, id: &str) -> Result<serde_json::Value>;
    /// The results of `search(index, query)` (`node`, `role`, `environment`, `client` or a
    /// data bag), paged and filtered as `page` asks; `parsed` is `query` already checked.
    fn search(
        &self,
        index: &str,
        query: &str,
        parsed: &crate::search::Query,
        page: &crate::search::Page,
    ) -> Result<Vec<serde_json::Value>>;
}

impl RepoData for Repository {
    fn data_bag(&self, bag: &str) -> Result<Vec<String>> {
        self.data_bags.items(bag)
    }

    fn data_bag_item(&self, bag: &str, id: &str) -> Result<serde_json::Value> {
        self.data_bags.item(bag, id)
    }

    fn search(
        &self,
        index: &str,
        query: &str,
        parsed: &crate::search::Query,
        page: &crate::search::Page,
    ) -> Result<Vec<serde_json::Value>> {
        match &self.search {
            Some(source) => source.search(index, query, page),
            None => {
                let documents = crate::search::local::documents(self, index)?;
                Ok(crate::search::search(documents, parsed, page))
            }
        }
    }
}

/// Where a recipe is asked for, which is where an error about it points.
#[derive(Clone, Copy)]
enum Site<'s> {
    /// An item of the expanded run list, written at this place when it came from a file.
    RunList(Option<&'s SourceLocation>),
    /// `include_recipe` at this place.
    Include(&'s SourceLocation),
}

impl<'a> RecipeState<'a> {
    fn load_recipe(&mut self, cookbook_name: &str, recipe: &str, site: Site<'_>) -> Result<()> {
        let (included_at, named_at) = match site {
            Site::RunList(at) => (None, at),
            Site::Include(at) => (Some(at), Some(at)),
        };
        let qualified = format!("{cookbook_name}::{recipe}");
        if self.loaded.contains(&qualified) {
            return Ok(());
        }
        let repo: &'a Repository = self.repo;
        let Some(cookbook) = repo.cookbook(cookbook_name) else {
            let message = format!(
                "Cookbook {cookbook_name} not found. If you're loading {cookbook_name} from another cookbook, make sure you configure the dependency in your metadata"
            );
            return Err(Error::located(
                "Chef::Exceptions::CookbookNotFound",
                named_at,
                message,
            ));
        };
        if included_at.is_some() && !self.in_order.contains(cookbook_name) {
            self.warnings.push(format!(
                "MissingCookbookDependency: recipe {qualified} is included, but cookbook {cookbook_name} is not a dependency of the run list's cookbooks (its attribute files were not loaded); add `depends '{cookbook_name}'` to the including cookbook's metadata"
            ));
        }
        // Marked loaded before it is evaluated, so a recipe that includes itself (directly or
        // not) stops there, as in Chef.
        self.loaded.insert(qualified.clone());
        self.recipes.push(qualified.clone());
        if included_at.is_some() {
            self.included.push(qualified.clone());
        }
        let loader = self.loader;
        let loaded = {
            let mut host = DriverHost {
                state: self,
                cookbook: cookbook_name,
            };
            loader.load(cookbook, recipe, &mut host)?
        };
        let Some(steps) = loaded else {
            // Nothing was evaluated: the recipe is the last one recorded.
            self.loaded.remove(&qualified);
            self.recipes.pop();
            if included_at.is_some() {
                self.included.pop();
            }
            let message = format!("could not find recipe {recipe} for cookbook {cookbook_name}");
            return Err(Error::located(
                "Chef::Exceptions::RecipeNotFound",
                named_at,
                message,
            ));
        };
        for step in steps {
            match step {
                RecipeStep::Declare(decl) => self.declare(&decl, Vec::new())?,
                RecipeStep::Include {
                    recipe: name,
                    location,
                } => self.include(&name, cookbook_name, &location)?,
            }
        }
        Ok(())
    }

    fn declare(&mut self, decl: &ResourceDecl, block_guards: Vec<Guard>) -> Result<()> {
        if let Some(rtype) = self.resource_types.get(&decl.kind) {
            let resource = CustomResource::build(decl, block_guards, rtype.clone())?;
            self.collection.push(Box::new(resource));
            return Ok(());
        }
        let resource = crate::resource::build::build_guarded(decl, block_guards, self.sources)?;
        self.collection.push(resource);
        Ok(())
    }

    /// [`Self::declare`] for a declaration that keeps template helpers or `lazy` values. A
    /// custom resource's properties are read when its actions compile, before anything runs,
    /// so they cannot be lazy.
    fn declare_code(&mut self, decl: &ResourceDecl, code: DeclCode) -> Result<()> {
        if !self.resource_types.contains_key(&decl.kind) {
            let resource = crate::resource::build::build_code(decl, code, self.sources)?;
            self.collection.push(resource);
            return Ok(());
        }
        if let Some(lazy) = code.lazy.first() {
            return Err(Error::compile_as(
                "ArgumentError",
                lazy.location.clone(),
                format!(
                    "`{}` of {}[{}]: a custom resource's properties cannot be `lazy`; skillet compiles its actions with their values before anything runs",
                    lazy.property, decl.kind, decl.name
                ),
            ));
        }
        if !code.helpers.is_empty() {
            return Err(Error::compile(
                decl.location.clone(),
                format!(
                    "{} is a custom resource type and takes no template helpers",
                    decl.kind
                ),
            ));
        }
        self.declare(decl, code.guards)
    }

    fn include(&mut self, name: &str, current: &str, location: &SourceLocation) -> Result<()> {
        let (cb, r) = split_recipe_name(name, current);
        self.load_recipe(&cb, &r, Site::Include(location))
    }
}

/// The compiler as one recipe sees it while it is evaluated.
struct DriverHost<'s, 'a> {
    state: &'s mut RecipeState<'a>,
    /// The cookbook of the recipe being evaluated (for `include_recipe "::r"`).
    cookbook: &'s str,
}

impl NodeAccess for DriverHost<'_, '_> {
    fn read(&self, path: &[String]) -> Option<serde_json::Value> {
        self.state.node.attributes.read(path)
    }

    fn read_level(&self, level: WriteLevel, path: &[String]) -> Option<serde_json::Value> {
        node_access::read_level(self.state.node, level, path)
    }

    fn write(&mut self, write: AttributeWrite) -> std::result::Result<(), String> {
        node_access::apply_write(self.state.node, write)
    }

    fn include_attribute(&mut self, name: &str) -> std::result::Result<(), String> {
        Err(format!(
            "include_attribute \"{name}\" belongs in an attribute file, not in a recipe"
        ))
    }
}

impl RecipeHost for DriverHost<'_, '_> {
    fn declare(&mut self, decl: ResourceDecl, block_guards: Vec<Guard>) -> Result<()> {
        self.state.declare(&decl, block_guards)
    }

    fn declare_code(&mut self, decl: ResourceDecl, code: DeclCode) -> Result<()> {
        self.state.declare_code(&decl, code)
    }

    fn include_recipe(&mut self, name: &str, location: &SourceLocation) -> Result<()> {
        self.state.include(name, self.cookbook, location)
    }

    fn repo_data(&self) -> Option<Arc<dyn RepoData>> {
        let view = self
            .state
            .data_view
            .get_or_init(|| Arc::new(self.state.repo.data_view()));
        Some(view.clone())
    }

    fn library_module(&self, name: &str) -> Result<Option<crate::ruby::LibraryModule>> {
        let roots = self
            .state
            .repo
            .cookbooks()
            .filter(|c| self.state.in_order.contains(c.name()))
            .map(|c| c.root.as_path());
        crate::ruby::find_library_module(roots, name)
    }

    fn definition(&self, name: &str) -> Option<Arc<Definition>> {
        self.state.definitions.get(name).cloned()
    }
}

/// Every `definitions/*.rb` of the run's cookbooks, in cookbook order then file order.
fn load_cookbook_definitions(
    repo: &Repository,
    order: &[String],
) -> Result<HashMap<String, Arc<Definition>>> {
    let mut definitions = HashMap::new();
    for cookbook in order.iter().filter_map(|name| repo.cookbook(name)) {
        for path in cookbook.ruby_files("definitions")? {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            for definition in load_definitions(&path, &text)? {
                definitions.insert(definition.name.clone(), Arc::new(definition));
            }
        }
    }
    Ok(definitions)
}

/// `"cb"` → (cb, default), `"cb::r"` → (cb, r), `"::r"` → (current, r).
pub fn split_recipe_name(name: &str, current: &str) -> (String, String) {
    match name.split_once("::") {
        Some(("", r)) => (current.to_string(), r.to_string()),
        Some((cb, r)) => (cb.to_string(), r.to_string()),
        None => (name.to_string(), "default".to_string()),
    }
}

/// `automatic['cookbooks']`: `{name: {version: "x.y.z"}}` for every cookbook of the run.
fn set_automatic_cookbooks(repo: &Repository, node: &mut Node, order: &[String]) {
    let mut cookbooks = serde_json::Map::new();
    for cb in order.iter().filter_map(|name| repo.cookbook(name)) {
        cookbooks.insert(
            cb.name().to_string(),
            serde_json::json!({ "version": cb.metadata.version.to_string() }),
        );
    }
    node.attributes
        .component_mut(Level::Automatic)
        .insert("cookbooks".into(), serde_json::Value::Object(cookbooks));
}

fn add_automatic_recipes(node: &mut Node, included: &[String]) {
    let automatic = node.attributes.component_mut(Level::Automatic);
    let entry = automatic
        .entry("recipes")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let serde_json::Value::Array(list) = entry {
        for name in included {
            let v = serde_json::Value::String(name.clone());
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
}

/// Every `notifies` must name a declared resource (Chef finds out at converge start; here the
/// run stops before the host is touched, at the line of the notification). `subscribes` to a
/// missing resource is ignored, as in Chef.
fn check_notification_targets(collection: &ResourceCollection) -> Result<()> {
    custom::check_custom_actions(collection)?;
    for resource in collection.iter() {
        for n in &resource.common().notifies {
            if collection.find(&n.target).is_none() {
                return Err(Error::compile_as(
                    "Chef::Exceptions::ResourceNotFound",
                    n.location.clone(),
                    format!(
                        "resource {} is configured to notify resource {} with action {}, but {} cannot be found in the resource collection. {} is defined in {}",
                        resource.id(),
                        n.target,
                        n.action,
                        n.target,
                        resource.id(),
                        resource.common().location
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Run-list pins, environment constraints and `depends` constraints against the one version of
/// each cookbook on disk.
fn check_versions(
    repo: &Repository,
    order: &[String],
    expansion: &Expansion,
    environment: &Environment,
) -> Result<()> {
    for entry in &expansion.recipes {
        let (Some(pin), Some(cookbook)) = (&entry.version, repo.cookbook(entry.cookbook())) else {
            continue;
        };
        let wanted = Version::parse(pin).map_err(|why| Error::input("ArgumentError", why))?;
        if wanted != cookbook.metadata.version {
            let message = format!(
                "run list requires {} at version {wanted}, but {} has version {}",
                entry.cookbook(),
                cookbook.metadata.file.display(),
                cookbook.metadata.version
            );
            let class = "Chef::Exceptions::CookbookVersionSelectionError";
            return Err(Error::located(class, entry.origin.as_ref(), message));
        }
    }
    for (name, constraint) in &environment.cookbook_versions {
        let Some(cookbook) = repo.cookbook(name) else {
            continue;
        };
        let parsed = Constraint::parse(constraint).map_err(|why| {
            Error::input(
                "Chef::Exceptions::InvalidVersionConstraint",
                format!("environment {}: cookbook {name}: {why}", environment.name),
            )
        })?;
        if order.contains(name) && !parsed.matches(&cookbook.metadata.version) {
            return Err(Error::input(
                "Chef::Exceptions::CookbookVersionSelectionError",
                format!(
                    "environment {} requires cookbook {name} {parsed}, but the cookbook path has {}",
                    environment.name, cookbook.metadata.version
                ),
            ));
        }
    }
    for name in order {
        let Some(cookbook) = repo.cookbook(name) else {
            continue;
        };
        for (dep, constraint) in &cookbook.metadata.dependencies {
            let Some(found) = repo.cookbook(dep) else {
                continue;
            };
            if !constraint.matches(&found.metadata.version) {
                return Err(Error::compile_as(
                    "Chef::Exceptions::CookbookVersionSelectionError",
                    cookbook.metadata.dependency_locations[dep].clone(),
                    format!(
                        "cookbook {name} depends on {dep} {constraint}, but the cookbook path has {dep} {}",
                        found.metadata.version
                    ),
                ));
            }
        }
    }
    Ok(())
}
