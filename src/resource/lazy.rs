//! Properties computed at converge time: `mode lazy { ... }`, `variables(port: lazy { ... })`.
//!
//! Chef computes a lazy value when the resource runs, so it sees what earlier resources and the
//! final attributes made. Here a declaration with lazy values is built once at compile time
//! without them (so every other property, the template source and the guards are checked before
//! the host is touched), and built again from the declaration with the computed values each
//! time it is checked: the property's type is checked then, and an error names the `lazy`
//! block's place.

use super::build::{build_with, Sources};
use super::{Action, Common, Context, GuardOptions, Plan, Resource, ResourceId};
use crate::compile::decl::{DeclCode, PropValue, ResourceDecl};
use crate::error::{Error, Result, SourceLocation};
use crate::ruby::erb::TemplateHelper;
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Computes a lazy value at converge time.
pub type LazyCompute = dyn Fn(&Context) -> Result<Value> + Send + Sync;

/// One lazy value in a declaration.
#[derive(Clone)]
pub struct LazyValue {
    /// The property it belongs to.
    pub property: String,
    /// Keys below the property (`variables(port: lazy { ... })` → `["port"]`); empty when the
    /// whole property is lazy.
    pub path: Vec<String>,
    /// Where the `lazy` block is.
    pub location: SourceLocation,
    pub compute: Arc<LazyCompute>,
}

impl fmt::Debug for LazyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyValue")
            .field("property", &self.property)
            .field("path", &self.path)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A resource with lazy properties: built again with their values when it is checked.
pub struct LazyResource {
    /// Built at compile time without the lazy values: identity, common properties, guards.
    compiled: Box<dyn Resource>,
    decl: ResourceDecl,
    helpers: Vec<TemplateHelper>,
    lazy: Vec<LazyValue>,
    sources: Arc<dyn Sources + Send + Sync>,
    /// The resource built by the last `check`, which its `apply` uses.
    checked: Mutex<Option<Box<dyn Resource>>>,
}

impl fmt::Debug for LazyResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyResource")
            .field("resource", &self.compiled)
            .field("lazy", &self.lazy)
            .finish_non_exhaustive()
    }
}

impl LazyResource {
    /// Builds `decl` (whose lazy places hold null) without its lazy values, keeping what it
    /// takes to build it again.
    pub fn build(
        decl: &ResourceDecl,
        code: DeclCode,
        sources: &dyn Sources,
    ) -> Result<Box<dyn Resource>> {
        let Some(owned) = sources.owned() else {
            let at = code.lazy.first().map(|l| l.location.clone());
            return Err(Error::compile(
                at.unwrap_or_else(|| decl.location.clone()),
                "`lazy` properties cannot be computed here",
            ));
        };
        let mut without = decl.clone();
        for lazy in code.lazy.iter().filter(|l| l.path.is_empty()) {
            without.properties.shift_remove(&lazy.property);
        }
        let compiled = build_with(&without, code.guards, code.helpers.clone(), sources)?;
        Ok(Box::new(LazyResource {
            compiled,
            decl: decl.clone(),
            helpers: code.helpers,
            lazy: code.lazy,
            sources: owned,
            checked: Mutex::new(None),
        }))
    }

    /// The declaration with every lazy value computed now, built.
    fn resolve(&self, cx: &Context) -> Result<Box<dyn Resource>> {
        let mut decl = self.decl.clone();
        for lazy in &self.lazy {
            let value = (lazy.compute)(cx)?;
            place(&mut decl, lazy, value);
        }
        build_with(&decl, Vec::new(), self.helpers.clone(), &*self.sources)
    }
}

/// Puts a computed value where its `lazy` was.
fn place(decl: &mut ResourceDecl, lazy: &LazyValue, value: Value) {
    let Some((last, parents)) = lazy.path.split_last() else {
        decl.properties.insert(
            lazy.property.clone(),
            PropValue {
                value,
                location: lazy.location.clone(),
            },
        );
        return;
    };
    let prop = decl
        .properties
        .entry(lazy.property.clone())
        .or_insert_with(|| PropValue {
            value: Value::Object(serde_json::Map::new()),
            location: lazy.location.clone(),
        });
    let mut at = &mut prop.value;
    for key in parents {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else { return };
        at = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = at {
        map.insert(last.clone(), value);
    }
}

impl Resource for LazyResource {
    fn id(&self) -> &ResourceId {
        self.compiled.id()
    }

    fn display_kind(&self) -> &str {
        self.compiled.display_kind()
    }

    fn common(&self) -> &Common {
        self.compiled.common()
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let resource = self.resolve(cx)?;
        let plan = resource.check(action, cx)?;
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some(resource);
        Ok(plan)
    }

    fn apply(&self, action: Action, plan: Plan, cx: &mut Context) -> Result<()> {
        let checked = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let resource = match checked {
            Some(r) => r,
            None => self.resolve(cx)?,
        };
        resource.apply(action, plan, cx)
    }

    fn counts_as_update(&self) -> bool {
        self.compiled.counts_as_update()
    }

    fn whyrun_safe(&self) -> bool {
        self.compiled.whyrun_safe()
    }

    fn guard_defaults(&self) -> GuardOptions {
        self.compiled.guard_defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl() -> ResourceDecl {
        let at = SourceLocation::new(std::path::Path::new("/r.rb"), 1, 1);
        ResourceDecl {
            kind: "template".into(),
            name: "/x".into(),
            properties: indexmap::IndexMap::new(),
            location: at,
            cookbook: "cb".into(),
            recipe: "default".into(),
        }
    }

    fn lazy(property: &str, path: &[&str]) -> LazyValue {
        LazyValue {
            property: property.into(),
            path: path.iter().map(|s| s.to_string()).collect(),
            location: SourceLocation::new(std::path::Path::new("/r.rb"), 3, 9),
            compute: Arc::new(|_| Ok(Value::Null)),
        }
    }

    #[test]
    fn values_go_to_the_property_or_below_it() {
        let mut d = decl();
        place(&mut d, &lazy("mode", &[]), Value::from("0600"));
        place(&mut d, &lazy("variables", &["a", "b"]), Value::from(1));
        place(&mut d, &lazy("variables", &["c"]), Value::from(2));
        assert_eq!(d.properties["mode"].value, Value::from("0600"));
        assert_eq!(d.properties["mode"].location.line, 3);
        assert_eq!(
            d.properties["variables"].value,
            serde_json::json!({"a": {"b": 1}, "c": 2})
        );
    }
}
