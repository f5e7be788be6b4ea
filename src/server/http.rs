//! The transport: signed JSON requests to one Chef server, and the server's failures turned
//! into errors that say what went wrong and what to do.
//!
//! Every request is signed (cookbook file downloads from the server's own file store too);
//! the server API version is negotiated down when the server refuses ours with a 406.

use super::auth::{self, SignVersion, SigningKey};
use crate::error::{Error, Result};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

/// The Chef version skillet announces in `X-Chef-Version`.
pub const CHEF_VERSION: &str = "18.5.0";

/// The server API version asked for first (cookbook manifests in segments, keys in
/// `chef_key`).
const SERVER_API_VERSION: u32 = 1;

/// Who signs and how.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The client (or user) name: `node_name`, or `validation_client_name` when registering.
    pub name: String,
    pub key: SigningKey,
    pub version: SignVersion,
}

/// A signed connection to one server.
#[derive(Debug)]
pub struct Client {
    /// `scheme://host[:port]`.
    origin: String,
    /// The path under which the API lives (`/organizations/ORG`, or empty).
    base_path: String,
    credentials: Credentials,
    agent: ureq::Agent,
    api_version: AtomicU32,
}

/// A response with any status.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON (`null` when empty).
    pub fn json(&self, what: &str) -> Result<Value> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::input(
                "Chef::Exceptions::JSON::ParseError",
                format!("the server's answer to {what} is not JSON: {e}"),
            )
        })
    }
}

impl Client {
    /// A client for `server_url` (`chef_server_url`); `verify_tls` false is
    /// `ssl_verify_mode :verify_none`.
    pub fn new(server_url: &str, credentials: Credentials, verify_tls: bool) -> Result<Client> {
        let (origin, base_path) = split_url(server_url).ok_or_else(|| {
            Error::input(
                "Chef::Exceptions::ConfigurationError",
                format!("chef_server_url `{server_url}` is not an http:// or https:// URL"),
            )
        })?;
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(!verify_tls)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(format!("skillet/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build()
            .into();
        Ok(Client {
            origin,
            base_path: base_path.trim_end_matches('/').to_string(),
            credentials,
            agent,
            api_version: AtomicU32::new(SERVER_API_VERSION),
        })
    }

    /// The name requests are signed as.
    pub fn user(&self) -> &str {
        &self.credentials.name
    }

    /// The same server, signing as someone else (a newly registered client).
    pub fn with_credentials(&self, credentials: Credentials) -> Client {
        Client {
            origin: self.origin.clone(),
            base_path: self.base_path.clone(),
            credentials,
            agent: self.agent.clone(),
            api_version: AtomicU32::new(self.api_version.load(Ordering::Relaxed)),
        }
    }

    /// The full URL of an API path (`/nodes/web1`); absolute URLs are kept.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}{path}", self.origin, self.base_path)
        }
    }

    /// Sends one signed request and returns whatever the server answered.
    pub fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
        let url = self.url(path);
        let response = self.send_once(method, &url, body)?;
        if response.status == 406 {
            // The server does not speak our API version: use the highest it offers.
            if let Some(max) = offered_max_version(&response) {
                if max < self.api_version.load(Ordering::Relaxed) {
                    self.api_version.store(max, Ordering::Relaxed);
                    return self.send_once(method, &url, body);
                }
            }
        }
        Ok(response)
    }

    fn send_once(&self, method: &str, url: &str, body: Option<&[u8]>) -> Result<Response> {
        let content_type = body.map(|_| "application/json");
        self.signed(method, url, body.unwrap_or_default(), content_type, None)
    }

    /// PUTs raw bytes (a sandbox file upload) with its MD5 in `Content-MD5`.
    pub fn upload_file(&self, url: &str, content: &[u8], md5_base64: &str) -> Result<()> {
        let response = self.signed(
            "PUT",
            url,
            content,
            Some("application/x-binary"),
            Some(md5_base64),
        )?;
        self.check("PUT", url, response).map(drop)
    }

    /// Signs and sends one request to `url` and reads the whole answer.
    fn signed(
        &self,
        method: &str,
        url: &str,
        content: &[u8],
        content_type: Option<&str>,
        content_md5: Option<&str>,
    ) -> Result<Response> {
        let path = split_url(url).map_or_else(|| "/".to_string(), |(_, p)| p);
        let path = path.split('?').next().unwrap_or("/");
        let api_version = self.api_version.load(Ordering::Relaxed).to_string();
        let timestamp = auth::timestamp(SystemTime::now());
        let signed = auth::sign(
            &self.credentials.key,
            self.credentials.version,
            &auth::Request {
                method,
                path,
                body: content,
                user_id: &self.credentials.name,
                timestamp: &timestamp,
                server_api_version: &api_version,
            },
        )?;
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/json")
            .header("X-Chef-Version", CHEF_VERSION)
            .header("X-Ops-Server-API-Version", api_version.as_str());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        if let Some(md5) = content_md5 {
            request = request.header("Content-MD5", md5);
        }
        for (name, value) in &signed {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(content.to_vec())
            .map_err(|e| unreachable_server(url, &e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| unreachable_server(url, &e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| unreachable_server(url, &e.to_string()))?;
        Ok(Response { status, body })
    }

    /// A JSON request that must succeed.
    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let response = self.send_json(method, path, body)?;
        let what = format!("{method} {path}");
        self.check(method, path, response)?.json(&what)
    }

    /// A GET whose 404 means "there is none".
    pub fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        let response = self.send_json("GET", path, None)?;
        if response.status == 404 {
            return Ok(None);
        }
        let what = format!("GET {path}");
        self.check("GET", path, response)?.json(&what).map(Some)
    }

    /// A JSON request; any status is returned.
    pub fn send_json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.send(method, path, bytes.as_deref())
    }

    /// The response if its status is 2xx, else an error that says why.
    pub fn check(&self, method: &str, path: &str, response: Response) -> Result<Response> {
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(status_error(
                method,
                &self.url(path),
                &self.credentials.name,
                &response,
            ))
        }
    }
}

/// `http://host:port/path` → (`http://host:port`, `/path`).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let scheme_len = url.len() - rest.len();
    let host_end = rest.find('/').unwrap_or(rest.len());
    if host_end == 0 {
        return None;
    }
    let origin = url[..scheme_len + host_end].to_string();
    let path = match &rest[host_end..] {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    Some((origin, path))
}

fn offered_max_version(response: &Response) -> Option<u32> {
    let value: Value = serde_json::from_slice(&response.body).ok()?;
    let max = value.get("max_version")?;
    max.as_u64()
        .or_else(|| max.as_str().and_then(|s| s.parse().ok()))
        .and_then(|v| u32::try_from(v).ok())
}

/// The server's own words (`{"error": ["..."]}` or `{"error": "..."}`), else the raw body.
pub fn server_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let from_json = parsed.as_ref().and_then(|v| match v.get("error") {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    });
    from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.trim().chars().take(300).collect()
    })
}

fn status_error(method: &str, url: &str, user: &str, response: &Response) -> Error {
    let said = server_message(&response.body);
    match response.status {
        401 => {
            let lower = said.to_ascii_lowercase();
            // Chef Infra Server and goiardi word the three causes differently; the server's
            // own text is always shown, the hint names the cause.
            let hint = if ["clock", "skew", "slew", "timestamp", "synchroni"]
                .iter()
                .any(|w| lower.contains(w))
            {
                "Clock skew: this host's clock differs from the server's by more than it \
                 allows: synchronise the clock (NTP) and run again."
            } else if ["signature", "verif"].iter().any(|w| lower.contains(w)) {
                "Bad signature: the server holds a different key for this client: check that \
                 client_key is this client's key (or re-register it)."
            } else {
                "Unknown client: the server does not know this name: check node_name and \
                 client_key (a new client registers itself with validation_key when \
                 client_key does not exist)."
            };
            Error::input(
                "Net::HTTPClientException",
                format!(
                    "Failed to authenticate to the Chef server (http 401) as `{user}` \
                     ({method} {url}): the server says: {said}\n{hint}"
                ),
            )
        }
        403 => Error::input(
            "Net::HTTPClientException",
            format!(
                "Not authorized (http 403): `{user}` may not {method} {url}: the server says: \
                 {said}"
            ),
        ),
        status if status >= 500 => Error::input(
            "Net::HTTPFatalError",
            format!("The Chef server failed (http {status}) on {method} {url}: {said}"),
        ),
        status => Error::input(
            "Net::HTTPClientException",
            format!("The Chef server refused {method} {url} (http {status}): {said}"),
        ),
    }
}

fn unreachable_server(url: &str, why: &str) -> Error {
    Error::input(
        "Errno::ECONNREFUSED",
        format!(
            "Cannot reach the Chef server at {url}: {why}\n\
             Check chef_server_url (-S) and that the server is running and reachable."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn urls_split_into_origin_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:4545"),
            Some(("http://127.0.0.1:4545".into(), "/".into()))
        );
        assert_eq!(
            split_url("https://chef.example/organizations/acme/nodes"),
            Some((
                "https://chef.example".into(),
                "/organizations/acme/nodes".into()
            ))
        );
        assert_eq!(split_url("chef.example"), None);
        assert_eq!(split_url("http:///x"), None);
    }

    #[test]
    fn a_401_says_who_failed_and_what_to_check() {
        let r = response(
            401,
            r#"{"error":["Failed to authenticate as 'web1'. Ensure that your node_name and client key are correct."]}"#,
        );
        let text = status_error("GET", "http://s/nodes/web1", "web1", &r).to_string();
        assert!(text.contains("http 401"), "{text}");
        assert!(text.contains("as `web1`"), "{text}");
        assert!(text.contains("Failed to authenticate as 'web1'"), "{text}");
        assert!(text.contains("Unknown client"), "{text}");
    }

    #[test]
    fn a_401_names_clock_skew_or_a_bad_signature() {
        let r = response(
            401,
            r#"{"error":["Authentication failed. Please check your system's clock."]}"#,
        );
        let text = status_error("GET", "http://s/nodes", "web1", &r).to_string();
        assert!(text.contains("Clock skew"), "{text}");
        for said in [
            r#"{"error":"Invalid signature for user or client 'web1'"}"#,
            r#"{"error":["crypto/rsa: verification error"]}"#,
        ] {
            let text =
                status_error("GET", "http://s/nodes", "web1", &response(401, said)).to_string();
            assert!(text.contains("Bad signature"), "{text}");
        }
    }

    #[test]
    fn a_403_and_a_500_are_told_apart() {
        let text =
            status_error("DELETE", "http://s/nodes/x", "web1", &response(403, "{}")).to_string();
        assert!(text.contains("Not authorized (http 403)"), "{text}");
        let err = status_error("GET", "http://s/x", "web1", &response(500, "boom"));
        assert_eq!(err.class(), "Net::HTTPFatalError");
        assert!(err.to_string().contains("boom"));
    }

    #[test]
    fn a_406_offers_the_versions_the_server_speaks() {
        let r = response(406, r#"{"min_version":0,"max_version":0}"#);
        assert_eq!(offered_max_version(&r), Some(0));
        assert_eq!(offered_max_version(&response(406, "no")), None);
    }
}
