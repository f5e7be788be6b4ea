//! Recipe front-ends → the resource collection.

pub mod decl;
