//! Cookbooks' own resource types: loading `resources/` and `providers/`, and compiling the
//! actions of each declared resource into the collections it owns.
//!
//! Chef runs a custom resource's action body at converge time, in a run context of its own.
//! skillet evaluates the body after the whole run is compiled (so it sees the node as Chef's
//! converge would), once for each action the resource can run: the actions of its `action`
//! list, those that notifications to it name, and those of its own `subscribes`. The resources
//! the body declares form that action's collection; they may notify each other and, as in
//! Chef's child run contexts, the resources around it (whose notified actions are then
//! compiled too, by [`compile_outward_notifications`]).

use super::{DriverHost, RecipeState};
use crate::error::{Error, Result, SourceLocation};
use crate::repo::Repository;
use crate::resource::{Action, Resource, ResourceCollection};
use crate::ruby::custom_resource::{load_provider_file, load_resource_file, ResourceType};
use crate::ruby::{eval_custom_action, NewResource};
use std::collections::HashMap;
use std::sync::Arc;

/// Custom resources that declare each other can nest; one that declares itself would not end.
const MAX_NESTING: usize = 20;

/// The resource types of the run's cookbooks, by type name: every `resources/*.rb`, in cookbook
/// order, with the actions of the `providers/*.rb` of the same name (LWRPs). A later cookbook's
/// type of the same name wins, as in Chef.
pub(super) fn load_resource_types(
    repo: &Repository,
    order: &[String],
) -> Result<HashMap<String, Arc<ResourceType>>> {
    let mut types = HashMap::new();
    for cookbook in order.iter().filter_map(|name| repo.cookbook(name)) {
        let mut loaded: Vec<(String, ResourceType)> = Vec::new();
        for path in cookbook.ruby_files("resources")? {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let stem = file_stem(&path);
            loaded.push((stem, load_resource_file(&path, &text, cookbook.name())?));
        }
        for path in cookbook.ruby_files("providers")? {
            let stem = file_stem(&path);
            let Some((_, rtype)) = loaded.iter_mut().find(|(s, _)| *s == stem) else {
                return Err(Error::compile(
                    SourceLocation::new(&path, 0, 0),
                    format!(
                        "provider {stem} has no resource: expected resources/{stem}.rb beside it"
                    ),
                ));
            };
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            load_provider_file(&path, &text, rtype)?;
        }
        for (_, rtype) in loaded {
            let rtype = Arc::new(rtype);
            for name in std::iter::once(&rtype.name).chain(&rtype.aliases) {
                types.insert(name.clone(), rtype.clone());
            }
        }
    }
    Ok(types)
}

fn file_stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Compiles the actions every custom resource of `collection` may run, nested ones included;
/// `depth` is how many custom resources `collection` is inside.
pub(super) fn compile_actions(
    state: &mut RecipeState<'_>,
    collection: &mut ResourceCollection,
    depth: usize,
) -> Result<()> {
    for index in 0..collection.len() {
        for (action, location) in actions_to_compile(collection, index) {
            compile_action(state, collection, index, action, location, depth)?;
        }
    }
    Ok(())
}

/// Compiles `action` of the custom resource at `index` (and what it nests), unless it is
/// compiled already; `location` is what asks for it.
fn compile_action(
    state: &mut RecipeState<'_>,
    collection: &mut ResourceCollection,
    index: usize,
    action: Action,
    location: SourceLocation,
    depth: usize,
) -> Result<()> {
    let Some(custom) = collection.get_mut(index).and_then(|r| r.custom_mut()) else {
        return Ok(());
    };
    if action == Action::Nothing || custom.has_nested(action) {
        return Ok(());
    }
    if !custom.defines(action) {
        let defined: Vec<&str> = custom
            .resource_type
            .actions
            .keys()
            .map(String::as_str)
            .collect();
        return Err(Error::compile(
            location,
            format!(
                "action :{action} is not defined by resource type {} (it defines: {})",
                custom.resource_type.name,
                if defined.is_empty() {
                    "no actions".to_string()
                } else {
                    defined.join(", ")
                }
            ),
        ));
    }
    if depth >= MAX_NESTING {
        return Err(Error::compile(
            location,
            format!(
                "resources of type {} nest more than {MAX_NESTING} deep (does an action declare its own type?)",
                custom.resource_type.name
            ),
        ));
    }
    let rtype = custom.resource_type.clone();
    let resource = NewResource {
        kind: custom.id().kind.clone(),
        name: custom.id().name.clone(),
        properties: custom.properties.clone(),
        cookbook: custom.common().cookbook.clone(),
        recipe: custom.common().recipe.clone(),
        set: custom.set_properties.clone(),
    };
    let mut nested = compile_one(state, &rtype, action, resource)?;
    compile_actions(state, &mut nested, depth + 1)?;
    if let Some(custom) = collection.get_mut(index).and_then(|r| r.custom_mut()) {
        custom.set_nested(action, nested);
    }
    Ok(())
}

/// Where a collection is: the (resource index, action) steps from the run's collection.
type Path = Vec<(usize, Action)>;

/// An action of a custom resource around some sub-resource that notifies it, not compiled yet.
struct Wanted {
    /// The collection holding the custom resource.
    at: Path,
    index: usize,
    action: Action,
    location: SourceLocation,
}

/// Compiles the actions that sub-resources ask of custom resources around them (outside their
/// own collection), until none is missing: they are only known once those sub-resources are.
pub(super) fn compile_outward_notifications(
    state: &mut RecipeState<'_>,
    collection: &mut ResourceCollection,
) -> Result<()> {
    loop {
        let mut wanted = Vec::new();
        find_outward(collection, Vec::new(), &[], &mut wanted);
        if wanted.is_empty() {
            return Ok(());
        }
        for w in wanted {
            let depth = w.at.len();
            let Some(holder) = navigate(collection, &w.at) else {
                continue;
            };
            compile_action(state, holder, w.index, w.action, w.location, depth)?;
        }
    }
}

fn navigate<'c>(
    mut collection: &'c mut ResourceCollection,
    path: &[(usize, Action)],
) -> Option<&'c mut ResourceCollection> {
    for &(index, action) in path {
        collection = collection
            .get_mut(index)?
            .custom_mut()?
            .nested_mut(action)?;
    }
    Some(collection)
}

/// Collects, below `collection` (at `path`, inside `around`, nearest first), the notifications
/// of sub-resources to custom resources around them whose action is not compiled.
fn find_outward<'c>(
    collection: &'c ResourceCollection,
    path: Path,
    around: &[(&'c ResourceCollection, Path)],
    wanted: &mut Vec<Wanted>,
) {
    let mut inner_around = vec![(collection, path.clone())];
    inner_around.extend(around.iter().cloned());
    for (index, resource) in collection.iter().enumerate() {
        if !path.is_empty() {
            for n in &resource.common().notifies {
                if collection.find(&n.target).is_some() {
                    continue;
                }
                let found = around
                    .iter()
                    .find_map(|(c, at)| c.find(&n.target).map(|i| (*c, at, i)));
                let Some((holder, at, target)) = found else {
                    continue;
                };
                let missing = holder
                    .get(target)
                    .and_then(|r| r.custom())
                    .is_some_and(|c| n.action != Action::Nothing && !c.has_nested(n.action));
                let queued = wanted
                    .iter()
                    .any(|w| w.at == *at && w.index == target && w.action == n.action);
                if missing && !queued {
                    wanted.push(Wanted {
                        at: at.clone(),
                        index: target,
                        action: n.action,
                        location: n.location.clone(),
                    });
                }
            }
        }
        let Some(custom) = resource.custom() else {
            continue;
        };
        for (action, nested) in custom.nested_by_action() {
            let mut nested_path = path.clone();
            nested_path.push((index, action));
            find_outward(nested, nested_path, &inner_around, wanted);
        }
    }
}

/// Evaluates one action body into a collection of its own.
fn compile_one(
    state: &mut RecipeState<'_>,
    rtype: &ResourceType,
    action: Action,
    resource: NewResource,
) -> Result<ResourceCollection> {
    let outer = std::mem::take(&mut state.collection);
    let result = {
        let mut host = DriverHost {
            state: &mut *state,
            cookbook: &rtype.cookbook,
        };
        eval_custom_action(rtype, action.as_str(), resource, &mut host)
    };
    let nested = std::mem::replace(&mut state.collection, outer);
    result.map(|()| nested)
}

/// The actions the resource at `index` may run, each with the place that asks for it: its
/// `action` list, then notifications to it in compile order, then its own `subscribes`.
fn actions_to_compile(
    collection: &ResourceCollection,
    index: usize,
) -> Vec<(Action, SourceLocation)> {
    let Some(resource) = collection.get(index) else {
        return Vec::new();
    };
    if resource.custom().is_none() {
        return Vec::new();
    }
    let common = resource.common();
    let mut wanted: Vec<(Action, SourceLocation)> = common
        .actions
        .iter()
        .map(|a| (*a, common.location.clone()))
        .collect();
    for other in collection.iter() {
        for n in &other.common().notifies {
            if collection.find(&n.target) == Some(index) {
                wanted.push((n.action, n.location.clone()));
            }
        }
    }
    for s in &common.subscribes {
        if collection.find(&s.source).is_some() {
            wanted.push((s.action, s.location.clone()));
        }
    }
    wanted
}

/// Checks the notification targets of every compiled action, once all of them are compiled.
pub(super) fn check_compiled_actions(
    collection: &ResourceCollection,
    ancestors: &[&ResourceCollection],
) -> Result<()> {
    let mut around: Vec<&ResourceCollection> = vec![collection];
    around.extend(ancestors.iter().copied());
    for resource in collection.iter() {
        let Some(custom) = resource.custom() else {
            continue;
        };
        for nested in custom.nested_collections() {
            check_nested_targets(nested, &around)?;
            check_compiled_actions(nested, &around)?;
        }
    }
    Ok(())
}

/// Every `notifies` of an action's resources must name one of them or a resource around the
/// custom resource (Chef looks its targets up in the enclosing run contexts). A custom
/// resource found around it has that action compiled by [`compile_outward_notifications`];
/// the check keeps a converge from ever running an action that was not.
fn check_nested_targets(nested: &ResourceCollection, around: &[&ResourceCollection]) -> Result<()> {
    check_custom_actions(nested)?;
    for resource in nested.iter() {
        for n in &resource.common().notifies {
            if nested.find(&n.target).is_some() {
                continue;
            }
            let found = around
                .iter()
                .find_map(|c| c.find(&n.target).and_then(|i| c.get(i)));
            let Some(target) = found else {
                return Err(Error::compile_as(
                    "Chef::Exceptions::ResourceNotFound",
                    n.location.clone(),
                    format!(
                        "resource {} is configured to notify resource {} with action {}, but {} cannot be found in the resource collection (the action's resources or the resources around it). {} is defined in {}",
                        resource.id(),
                        n.target,
                        n.action,
                        n.target,
                        resource.id(),
                        resource.common().location
                    ),
                ));
            };
            if let Some(custom) = target.custom() {
                if n.action != Action::Nothing && !custom.has_nested(n.action) {
                    return Err(Error::compile_as(
                        "NotImplementedError",
                        n.location.clone(),
                        format!(
                            "{} notifies action :{} of {}, which is declared outside this action and runs no such action otherwise; skillet compiles a custom resource's actions before the resources of other actions are known",
                            resource.id(),
                            n.action,
                            n.target
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A notification with an action only a custom resource can have must target one.
pub(super) fn check_custom_actions(collection: &ResourceCollection) -> Result<()> {
    for resource in collection.iter() {
        let common = resource.common();
        for n in &common.notifies {
            let Some(found) = collection.find(&n.target).and_then(|i| collection.get(i)) else {
                continue;
            };
            if n.action.is_custom() && found.custom().is_none() {
                return Err(Error::compile(
                    n.location.clone(),
                    format!("{} has no action :{}", n.target, n.action),
                ));
            }
        }
        if resource.custom().is_none() {
            for s in &common.subscribes {
                if s.action.is_custom() {
                    return Err(Error::compile(
                        s.location.clone(),
                        format!("{} has no action :{}", resource.id(), s.action),
                    ));
                }
            }
        }
    }
    Ok(())
}
