//! What travels in server mode (`skillet bootstrap -S URL -N NAME -K validation.pem`): no
//! repo, only the client's `client.rb` and the validator's key. The target's first
//! `skillet client` run registers the node with that key and writes its own
//! `/etc/skillet/client.pem`; later runs (and later bootstraps) use that key.

use super::bundle::{Layout, CONFIG_DIR};
use crate::error::{Error, Result};
use crate::repo::config::ClientRb;
use std::path::Path;

/// The validator's key in the upload, and its name under [`CONFIG_DIR`].
pub const VALIDATION_KEY: &str = "validation.pem";

/// What the user gave for the Chef server.
#[derive(Debug, Clone)]
pub struct ServerRequest<'a> {
    /// `-S`: `chef_server_url`.
    pub url: &'a str,
    /// `-K`: the validator's private key, read here and sent.
    pub validation_key: &'a Path,
    /// `--validation-client-name` (the server's default is `chef-validator`).
    pub validation_client_name: Option<&'a str>,
    /// `--node-ssl-verify-mode`: `Some(true)` for `none`, `Some(false)` for `peer`.
    pub ssl_verify_none: Option<bool>,
}

/// The client's settings and the validator's key, read and checked before any connection.
#[derive(Debug)]
pub struct ClientFiles {
    url: String,
    node_name: String,
    validation_client_name: String,
    validation_key: Vec<u8>,
    ssl_verify_none: Option<bool>,
}

impl ClientFiles {
    /// Checks the URL and names and reads the validator's key.
    pub fn prepare(request: &ServerRequest<'_>, node_name: Option<&str>) -> Result<ClientFiles> {
        let Some(node_name) = node_name else {
            return Err(config_error(
                "-S needs the node's name: give -N NAME (the client registers under it)",
            ));
        };
        let url = request.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(['\'', '\\', '"'])
            || url.chars().any(char::is_whitespace)
        {
            return Err(config_error(&format!(
                "-S `{url}` is not an http:// or https:// URL"
            )));
        }
        check_name("-N", node_name)?;
        let validation_client_name = request
            .validation_client_name
            .unwrap_or("chef-validator")
            .to_string();
        check_name("--validation-client-name", &validation_client_name)?;
        let path = request.validation_key;
        let key = std::fs::read(path).map_err(|e| {
            Error::input(
                "Chef::Exceptions::PrivateKeyMissing",
                format!(
                    "-K {}: the validator's key cannot be read: {e}",
                    path.display()
                ),
            )
        })?;
        let text = String::from_utf8_lossy(&key);
        if !(text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----")) {
            return Err(Error::input(
                "Chef::Exceptions::InvalidPrivateKey",
                format!(
                    "-K {}: expected a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
                    path.display()
                ),
            ));
        }
        Ok(ClientFiles {
            url: url.to_string(),
            node_name: node_name.to_string(),
            validation_client_name,
            validation_key: key,
            ssl_verify_none: request.ssl_verify_none,
        })
    }

    /// Bytes sent besides the binary (for the free-space check).
    pub fn bytes(&self) -> u64 {
        self.validation_key.len() as u64 + 1024
    }

    /// The validator's key as it travels.
    pub fn validation_key(&self) -> &[u8] {
        &self.validation_key
    }

    /// The installed `client.rb`: keys under [`CONFIG_DIR`], the cache under the install
    /// directory.
    pub fn client_rb(&self, layout: &Layout, environment: Option<&str>) -> String {
        let dir = &layout.install_dir;
        self.config(
            &format!("{CONFIG_DIR}/{VALIDATION_KEY}"),
            &format!("{dir}/cache"),
            &format!("{dir}/backup"),
            environment,
        )
    }

    /// The config of a why-run from the upload directory: the uploaded key and a cache
    /// beside it (paths relative to the config). The client key is given on the command line.
    pub fn why_run_rb(&self, environment: Option<&str>) -> String {
        self.config(VALIDATION_KEY, "cache", "backup", environment)
    }

    fn config(
        &self,
        validation_key: &str,
        cache: &str,
        backup: &str,
        environment: Option<&str>,
    ) -> String {
        ClientRb {
            written_by: "skillet bootstrap",
            chef_server_url: &self.url,
            node_name: &self.node_name,
            validation_client_name: &self.validation_client_name,
            validation_key,
            client_key: &format!("{CONFIG_DIR}/client.pem"),
            file_cache_path: cache,
            file_backup_path: backup,
            environment,
            ssl_verify_none: self.ssl_verify_none,
        }
        .render()
    }
}

/// Node and client names: Chef's `[A-Za-z0-9_.:-]+`.
fn check_name(flag: &str, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
    if valid {
        Ok(())
    } else {
        Err(config_error(&format!(
            "{flag} `{name}`: expected letters, digits, `_`, `.`, `:` or `-`"
        )))
    }
}

fn config_error(message: &str) -> Error {
    Error::input("Chef::Exceptions::ConfigurationError", message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(url: &'a str, key: &'a Path) -> ServerRequest<'a> {
        ServerRequest {
            url,
            validation_key: key,
            validation_client_name: Some("acme-validator"),
            ssl_verify_none: Some(true),
        }
    }

    #[test]
    fn client_rb_names_the_server_the_node_and_the_keys_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("validation.pem");
        std::fs::write(
            &key,
            "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let files =
            ClientFiles::prepare(&request("https://chef.example/", &key), Some("web3")).unwrap();
        let layout = Layout {
            install_dir: "/opt/skillet".into(),
            server: true,
        };
        let text = files.client_rb(&layout, Some("production"));
        let rb = dir.path().join("client.rb");
        std::fs::write(&rb, &text).unwrap();
        let config = crate::repo::Config::load_for_server(Some(&rb)).unwrap();
        assert!(config.ignored_keys.is_empty(), "{text}");
        let s = &config.server;
        assert_eq!(s.chef_server_url.as_deref(), Some("https://chef.example"));
        assert_eq!(s.validation_client_name.as_deref(), Some("acme-validator"));
        assert_eq!(
            s.validation_key.as_deref(),
            Some(Path::new("/etc/skillet/validation.pem"))
        );
        assert_eq!(
            s.client_key.as_deref(),
            Some(Path::new("/etc/skillet/client.pem"))
        );
        assert!(s.ssl_verify_none);
        assert_eq!(config.node_name.as_deref(), Some("web3"));
        assert_eq!(config.environment.as_deref(), Some("production"));
        assert_eq!(config.file_cache_path, Path::new("/opt/skillet/cache"));

        let why = dir.path().join("why-run.rb");
        std::fs::write(&why, files.why_run_rb(None)).unwrap();
        let config = crate::repo::Config::load_for_server(Some(&why)).unwrap();
        assert_eq!(
            config.server.validation_key,
            Some(dir.path().join("validation.pem"))
        );
        assert_eq!(config.file_cache_path, dir.path().join("cache"));
    }

    #[test]
    fn a_missing_name_key_or_bad_url_is_refused_before_anything_travels() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("validation.pem");
        let err = |url: &str, name: Option<&str>| {
            ClientFiles::prepare(&request(url, &key), name)
                .unwrap_err()
                .to_string()
        };
        assert!(err("https://chef.example", None).contains("give -N NAME"));
        assert!(err("https://chef.example", Some("web3")).contains("validation.pem"));
        std::fs::write(&key, "not a key").unwrap();
        assert!(err("https://chef.example", Some("web3")).contains("expected a PEM private key"));
        assert!(err("chef.example", Some("web3")).contains("not an http:// or https:// URL"));
        assert!(err("https://chef.example", Some("web 3")).contains("-N `web 3`"));
    }
}
