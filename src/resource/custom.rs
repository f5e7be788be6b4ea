//! A resource of a type a cookbook declares (a custom resource or an LWRP).
//!
//! Its properties are checked against the type when it is declared (unknown property, wrong
//! type, `equal_to`, missing `required`), with `name_property` and defaults filled in. Each
//! action it may run owns a collection of resources, compiled from the action's body once the
//! whole run is compiled (see `compile::custom`); converging the action converges that
//! collection, and the resource counts as updated when one of them did.

use super::build::{parse_common, COMMON_PROPERTIES};
use super::{Action, Common, Context, Guard, Plan, Resource, ResourceCollection, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::ruby::custom_resource::ResourceType;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

/// A declared resource of a cookbook's type.
#[derive(Debug)]
pub struct CustomResource {
    id: ResourceId,
    common: Common,
    /// The type it is an instance of.
    pub resource_type: Arc<ResourceType>,
    /// Every property of the type, with the value declared, its default, or null.
    pub properties: IndexMap<String, Value>,
    /// The properties the declaration set (Chef's `property_is_set?`).
    pub set_properties: Vec<String>,
    /// The compiled resources of each action it may run.
    nested: Vec<(Action, ResourceCollection)>,
}

impl CustomResource {
    /// Checks a declaration against its type and builds the resource.
    pub fn build(
        decl: &ResourceDecl,
        block_guards: Vec<Guard>,
        resource_type: Arc<ResourceType>,
    ) -> Result<Self> {
        let rtype = &*resource_type;
        let mut declared: IndexMap<&str, Value> = IndexMap::new();
        for (key, prop) in &decl.properties {
            if COMMON_PROPERTIES.contains(&key.as_str()) {
                continue;
            }
            let Some(property) = rtype.properties.get(key) else {
                let mut valid: Vec<&str> = rtype
                    .properties
                    .keys()
                    .map(String::as_str)
                    .chain(COMMON_PROPERTIES.iter().copied())
                    .collect();
                valid.sort_unstable();
                return Err(Error::compile_as(
                    "NoMethodError",
                    prop.location.clone(),
                    format!(
                        "unknown property `{key}` for resource type `{}`; valid properties: {}",
                        decl.kind,
                        valid.join(", ")
                    ),
                ));
            };
            let invalid = |why| Error::compile(prop.location.clone(), why);
            let value = rtype.coerce(property, &prop.value).map_err(invalid)?;
            rtype.check_value(property, &value).map_err(invalid)?;
            declared.insert(key, value);
        }
        let allowed = rtype.allowed_actions();
        let defaults = rtype.default_actions();
        let mut common = parse_common(decl, Action::Nothing, &allowed)?;
        if !decl.properties.contains_key("action") {
            common.actions = defaults;
        }
        common.guards.extend(block_guards);
        let mut properties = IndexMap::new();
        for (name, property) in &rtype.properties {
            let value = match declared.get(name.as_str()) {
                // With `coerce:`, Chef keeps what the declaration gave, even nil.
                Some(value) if !value.is_null() || property.coerce.is_some() => value.clone(),
                // The name and the default are what Chef reads lazily: coerced and checked
                // when used.
                _ => {
                    let unset = if property.name_property {
                        Value::String(decl.name.clone())
                    } else {
                        property.default.clone().unwrap_or(Value::Null)
                    };
                    let invalid = |why| Error::compile(decl.location.clone(), why);
                    let value = rtype.coerce(property, &unset).map_err(invalid)?;
                    rtype.check_value(property, &value).map_err(invalid)?;
                    value
                }
            };
            if property.required && value.is_null() {
                return Err(Error::compile(
                    decl.location.clone(),
                    format!(
                        "{} is a required property of {}[{}]",
                        name, decl.kind, decl.name
                    ),
                ));
            }
            properties.insert(name.clone(), value);
        }
        Ok(Self {
            id: ResourceId::new(decl.kind.clone(), decl.name.clone()),
            common,
            set_properties: decl
                .properties
                .iter()
                .filter(|(k, p)| rtype.properties.contains_key(*k) && !p.value.is_null())
                .map(|(k, _)| k.clone())
                .collect(),
            resource_type,
            properties,
            nested: Vec::new(),
        })
    }

    /// Whether the type has a body for `action`.
    pub fn defines(&self, action: Action) -> bool {
        action == Action::Nothing || self.resource_type.actions.contains_key(action.as_str())
    }

    /// Whether the collection of `action` is compiled already.
    pub fn has_nested(&self, action: Action) -> bool {
        self.nested.iter().any(|(a, _)| *a == action)
    }

    /// The compiled collections of its actions.
    pub fn nested_collections(&self) -> impl Iterator<Item = &ResourceCollection> {
        self.nested.iter().map(|(_, collection)| collection)
    }

    /// The compiled collections with their actions.
    pub fn nested_by_action(&self) -> impl Iterator<Item = (Action, &ResourceCollection)> {
        self.nested
            .iter()
            .map(|(action, collection)| (*action, collection))
    }

    /// The compiled collection of `action`, to compile more inside it.
    pub fn nested_mut(&mut self, action: Action) -> Option<&mut ResourceCollection> {
        self.nested
            .iter_mut()
            .find(|(a, _)| *a == action)
            .map(|(_, collection)| collection)
    }

    /// Keeps the compiled collection of `action`.
    pub fn set_nested(&mut self, action: Action, collection: ResourceCollection) {
        self.nested.push((action, collection));
    }
}

impl Resource for CustomResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    /// The runner converges [`Resource::nested`] instead; an action without a body changes
    /// nothing.
    fn check(&self, _action: Action, _cx: &mut Context) -> Result<Plan> {
        Ok(Plan::default())
    }

    fn apply(&self, _action: Action, _plan: Plan, _cx: &mut Context) -> Result<()> {
        Ok(())
    }

    fn nested(&self, action: Action) -> Option<&ResourceCollection> {
        self.nested
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, collection)| collection)
    }

    fn custom_mut(&mut self) -> Option<&mut CustomResource> {
        Some(self)
    }

    fn custom(&self) -> Option<&CustomResource> {
        Some(self)
    }
}
