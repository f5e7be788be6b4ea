//! The resource collection: every declared resource in compile order.

use super::{Resource, ResourceId};

/// Resources in the order recipes declared them. Declaring the same `type[name]` twice keeps
/// both; a lookup finds the later one, as in Chef.
#[derive(Debug, Default)]
pub struct ResourceCollection {
    resources: Vec<Box<dyn Resource>>,
}

impl ResourceCollection {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a resource; returns its index.
    pub fn push(&mut self, resource: Box<dyn Resource>) -> usize {
        self.resources.push(resource);
        self.resources.len() - 1
    }

    /// The number of resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// True when nothing was declared.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The resource at `index`.
    pub fn get(&self, index: usize) -> Option<&dyn Resource> {
        self.resources.get(index).map(|r| r.as_ref())
    }

    /// The resource at `index`, to change it while compiling.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut (dyn Resource + 'static)> {
        self.resources.get_mut(index).map(|r| r.as_mut())
    }

    /// The index of the last resource declared with this id.
    pub fn find(&self, id: &ResourceId) -> Option<usize> {
        self.resources.iter().rposition(|r| r.id() == id)
    }

    /// All resources in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Resource> {
        self.resources.iter().map(|r| r.as_ref())
    }
}
