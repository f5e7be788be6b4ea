//! The host beneath resources: files, commands, and (later) packages, services and accounts.

pub mod access;
pub mod accounts;
pub mod clock;
pub mod command;
pub mod cron;
pub mod diff;
pub mod fs;
pub mod packages;
pub mod procfs;
pub mod services;
