//! Talking to a Chef Infra Server: signed requests (`auth`), the HTTP transport (`http`), typed
//! endpoints (`api`), the local cookbook cache (`sync`) and putting a chef-repo on the server
//! (`upload`).

pub mod api;
pub mod auth;
pub mod http;
