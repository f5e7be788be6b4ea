//! The host beneath resources: files, commands, and (later) packages, services and accounts.

pub mod command;
pub mod fs;
