//! Talking to a Chef Infra Server: signed requests (`auth`), the HTTP transport (`http`), typed
//! endpoints (`api`), the local cookbook cache (`sync`) and putting a chef-repo on the server
//! (`upload`).

pub mod api;
pub mod auth;
pub mod http;
pub mod sync;
pub mod upload;

use crate::error::{Error, Result};
use crate::repo::config::ServerSettings;
use std::path::Path;

/// A signed connection to `server_url` as `name` with the key at `key_path`.
pub fn connect(
    server_url: &str,
    name: &str,
    key_path: &Path,
    settings: &ServerSettings,
) -> Result<api::Api> {
    let version = match settings.authentication_protocol_version.as_deref() {
        None => auth::SignVersion::V1_3,
        Some(text) => auth::SignVersion::parse(text).ok_or_else(|| {
            Error::input(
                "Chef::Exceptions::ConfigurationError",
                format!(
                    "authentication_protocol_version `{text}` is not supported: use 1.0 or 1.3"
                ),
            )
        })?,
    };
    let credentials = http::Credentials {
        name: name.to_string(),
        key: auth::SigningKey::load(key_path)?,
        version,
    };
    let client = http::Client::new(server_url, credentials, !settings.ssl_verify_none)?;
    Ok(api::Api::new(client))
}

/// `chef_server_url` from the flag, else the config; an error when neither gives one.
pub fn server_url(flag: Option<&str>, settings: &ServerSettings) -> Result<String> {
    flag.map(str::to_string)
        .or_else(|| settings.chef_server_url.clone())
        .ok_or_else(|| {
            Error::input(
                "Chef::Exceptions::ConfigurationError",
                "no Chef server: give -S URL or set chef_server_url in the config file",
            )
        })
}
