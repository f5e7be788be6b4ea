//! The Chef server's endpoints that skillet uses, typed: nodes, clients, roles, environments,
//! cookbook versions and solving, sandboxes, data bags and search.
//!
//! Names that go into a path are checked first, so nothing a user writes can walk the URL.

use super::http::Client;
use crate::error::{Error, Result, SourceLocation};
use crate::node::{Environment, Role};
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::path::Path;

/// The segments of a cookbook manifest before API version 2 put them in `all_files`.
pub const SEGMENTS: &[&str] = &[
    "recipes",
    "attributes",
    "definitions",
    "libraries",
    "providers",
    "resources",
    "templates",
    "files",
    "root_files",
];

/// Typed access to one server.
#[derive(Debug)]
pub struct Api {
    pub http: Client,
}

/// One file of a cookbook version as the server lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CookbookFile {
    /// Relative to the cookbook root (`recipes/default.rb`).
    pub path: String,
    /// MD5, hex.
    pub checksum: String,
    /// Where to download it (set by the server in answers).
    pub url: Option<String>,
}

/// A cookbook version's files, as the server returns them from solving.
#[derive(Debug, Clone, PartialEq)]
pub struct CookbookManifest {
    pub name: String,
    pub version: String,
    pub files: Vec<CookbookFile>,
}

impl CookbookManifest {
    /// Reads a manifest (segments or `all_files`); `name` is the key it came under.
    pub fn from_json(name: &str, value: &Value) -> Result<CookbookManifest> {
        let version = value
            .get("version")
            .and_then(Value::as_str)
            .or_else(|| value.pointer("/metadata/version").and_then(Value::as_str))
            .unwrap_or("0.0.0")
            .to_string();
        let mut files = Vec::new();
        let lists: Vec<&Value> = match value.get("all_files") {
            Some(all) => vec![all],
            None => SEGMENTS.iter().filter_map(|s| value.get(*s)).collect(),
        };
        for list in lists {
            for item in list.as_array().into_iter().flatten() {
                let path = item.get("path").and_then(Value::as_str);
                let checksum = item.get("checksum").and_then(Value::as_str);
                let (Some(path), Some(checksum)) = (path, checksum) else {
                    return Err(bad_answer(&format!(
                        "cookbook {name} {version} lists a file without `path` or `checksum`"
                    )));
                };
                if !safe_relative(path) {
                    return Err(bad_answer(&format!(
                        "cookbook {name} {version} lists a file outside the cookbook: `{path}`"
                    )));
                }
                files.push(CookbookFile {
                    path: path.to_string(),
                    checksum: checksum.to_string(),
                    url: item.get("url").and_then(Value::as_str).map(str::to_string),
                });
            }
        }
        Ok(CookbookManifest {
            name: name.to_string(),
            version,
            files,
        })
    }
}

/// What a search returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub total: u64,
    pub start: u64,
    /// Whole objects, or with a filter the `data` of each partial result.
    pub rows: Vec<Value>,
}

impl Api {
    /// Typed endpoints over `http`.
    pub fn new(http: Client) -> Api {
        Api { http }
    }

    /// The node, or None if the server has none by that name.
    pub fn node(&self, name: &str) -> Result<Option<Value>> {
        self.http
            .get_optional(&format!("/nodes/{}", checked(name, "node")?))
    }

    /// Saves a node: PUT, or POST when it does not exist yet.
    pub fn save_node(&self, name: &str, node: &Value) -> Result<()> {
        self.put_or_post("nodes", name, node)
    }

    /// Creates client `name` (signed as the validator) and returns its private key in PEM.
    pub fn create_client(&self, name: &str) -> Result<String> {
        let name = checked(name, "client")?;
        let body = json!({ "name": name, "admin": false, "create_key": true });
        let response = self.http.send_json("POST", "/clients", Some(&body))?;
        if response.status == 409 {
            return Err(Error::input(
                "Net::HTTPClientException",
                format!(
                    "client `{name}` already exists on the Chef server but this host has no key \
                     for it: restore its client_key, or delete the client on the server \
                     (`knife client delete {name}`) so this run can register it again"
                ),
            ));
        }
        let answer = self
            .http
            .check("POST", "/clients", response)?
            .json("POST /clients")?;
        answer
            .get("private_key")
            .or_else(|| answer.pointer("/chef_key/private_key"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad_answer("the new client's answer holds no private key"))
    }

    /// Deletes client `name` (used to re-register a client whose key was lost).
    pub fn delete_client(&self, name: &str) -> Result<()> {
        self.http
            .json(
                "DELETE",
                &format!("/clients/{}", checked(name, "client")?),
                None,
            )
            .map(drop)
    }

    /// Role `name`, None when the server has none.
    pub fn role(&self, name: &str) -> Result<Option<Role>> {
        let path = format!("/roles/{}", checked(name, "role")?);
        let Some(value) = self.http.get_optional(&path)? else {
            return Ok(None);
        };
        let mut role = Role::from_json(&value.to_string(), Path::new(&self.http.url(&path)))?;
        // Lines and columns of JSON the server re-serialised mean nothing to the user; the
        // role's URL does.
        role.relocate(&|at: &SourceLocation| SourceLocation::file(at.file.clone()));
        Ok(Some(role))
    }

    /// Environment `name`; a missing one is an error naming it.
    pub fn environment(&self, name: &str) -> Result<Environment> {
        let path = format!("/environments/{}", checked(name, "environment")?);
        match self.http.get_optional(&path)? {
            Some(value) => {
                Environment::from_json(&value.to_string(), Path::new(&self.http.url(&path)))
            }
            None => Err(Error::input(
                "Chef::Exceptions::EnvironmentNotFound",
                format!("environment `{name}` not found on the Chef server"),
            )),
        }
    }

    /// Solves the expanded run list (`cb::recipe@version` items) in `environment`.
    pub fn solve(&self, environment: &str, run_list: &[String]) -> Result<Vec<CookbookManifest>> {
        let path = format!(
            "/environments/{}/cookbook_versions",
            checked(environment, "environment")?
        );
        let response =
            self.http
                .send_json("POST", &path, Some(&json!({ "run_list": run_list })))?;
        if response.status == 412 {
            return Err(Error::input(
                "Chef::Exceptions::CookbookNotFound",
                format!(
                    "the Chef server cannot solve the run list [{}] in environment `{environment}`: {}",
                    run_list.join(", "),
                    super::http::server_message(&response.body)
                ),
            ));
        }
        let answer = self.http.check("POST", &path, response)?.json(&path)?;
        let Value::Object(map) = answer else {
            return Err(bad_answer("the cookbook solution is not a JSON object"));
        };
        map.iter()
            .map(|(name, manifest)| CookbookManifest::from_json(name, manifest))
            .collect()
    }

    /// Versions of cookbook `name` on the server (empty when there is none).
    pub fn cookbook_versions(&self, name: &str) -> Result<Vec<String>> {
        let path = format!("/cookbooks/{}?num_versions=all", checked(name, "cookbook")?);
        let Some(answer) = self.http.get_optional(&path)? else {
            return Ok(Vec::new());
        };
        Ok(answer
            .pointer(&format!("/{name}/versions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.get("version").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// One cookbook version's manifest, None when it is not on the server.
    pub fn cookbook(&self, name: &str, version: &str) -> Result<Option<CookbookManifest>> {
        let path = format!(
            "/cookbooks/{}/{}",
            checked(name, "cookbook")?,
            checked(version, "cookbook version")?
        );
        self.http
            .get_optional(&path)?
            .map(|v| CookbookManifest::from_json(name, &v))
            .transpose()
    }

    /// Opens a sandbox for `checksums`; returns its id and, per checksum that the server
    /// still needs, the URL to PUT it to.
    pub fn create_sandbox(
        &self,
        checksums: &[String],
    ) -> Result<(String, IndexMap<String, String>)> {
        let wanted: serde_json::Map<String, Value> =
            checksums.iter().map(|c| (c.clone(), Value::Null)).collect();
        let answer = self
            .http
            .json("POST", "/sandboxes", Some(&json!({ "checksums": wanted })))?;
        let id = answer
            .get("sandbox_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_answer("the sandbox answer has no sandbox_id"))?
            .to_string();
        let mut needed = IndexMap::new();
        if let Some(Value::Object(map)) = answer.get("checksums") {
            for (sum, state) in map {
                if state.get("needs_upload").and_then(Value::as_bool) == Some(true) {
                    if let Some(url) = state.get("url").and_then(Value::as_str) {
                        needed.insert(sum.clone(), url.to_string());
                    }
                }
            }
        }
        Ok((id, needed))
    }

    /// Closes sandbox `id` once its files are uploaded.
    pub fn commit_sandbox(&self, id: &str) -> Result<()> {
        let path = format!("/sandboxes/{}", checked(id, "sandbox")?);
        self.http
            .json("PUT", &path, Some(&json!({ "is_completed": true })))
            .map(drop)
    }

    /// Stores a cookbook version's manifest.
    pub fn put_cookbook(&self, name: &str, version: &str, manifest: &Value) -> Result<()> {
        let path = format!(
            "/cookbooks/{}/{}",
            checked(name, "cookbook")?,
            checked(version, "cookbook version")?
        );
        self.http.json("PUT", &path, Some(manifest)).map(drop)
    }

    /// The object at `/<kind>/<name>`, None when absent (roles, environments, nodes).
    pub fn get_object(&self, kind: &str, name: &str) -> Result<Option<Value>> {
        self.http
            .get_optional(&format!("/{kind}/{}", checked(name, kind)?))
    }

    /// PUT `/<kind>/<name>`, or POST `/<kind>` when the server has no such object yet.
    pub fn put_or_post(&self, kind: &str, name: &str, body: &Value) -> Result<()> {
        let path = format!("/{kind}/{}", checked(name, kind)?);
        let response = self.http.send_json("PUT", &path, Some(body))?;
        if response.status == 404 {
            return self
                .http
                .json("POST", &format!("/{kind}"), Some(body))
                .map(drop);
        }
        self.http.check("PUT", &path, response).map(drop)
    }

    /// Data bag names on the server.
    pub fn data_bags(&self) -> Result<Vec<String>> {
        let answer = self.http.json("GET", "/data", None)?;
        Ok(keys(&answer))
    }

    /// Creates data bag `bag` unless it exists.
    pub fn ensure_data_bag(&self, bag: &str) -> Result<()> {
        let bag = checked(bag, "data bag")?;
        if self.http.get_optional(&format!("/data/{bag}"))?.is_some() {
            return Ok(());
        }
        self.http
            .json("POST", "/data", Some(&json!({ "name": bag })))
            .map(drop)
    }

    /// Item ids of `bag` (`data_bag("bag")`).
    pub fn data_bag(&self, bag: &str) -> Result<Vec<String>> {
        let path = format!("/data/{}", checked(bag, "data bag")?);
        match self.http.get_optional(&path)? {
            Some(answer) => Ok(keys(&answer)),
            None => Err(Error::input(
                "Net::HTTPClientException",
                format!("data bag `{bag}` not found on the Chef server"),
            )),
        }
    }

    /// One item (`data_bag_item("bag", "id")`), without the wrapper some servers add.
    pub fn data_bag_item(&self, bag: &str, id: &str) -> Result<Value> {
        self.find_data_bag_item(bag, id)?.ok_or_else(|| {
            Error::input(
                "Net::HTTPClientException",
                format!("data bag item `{bag}/{id}` not found on the Chef server"),
            )
        })
    }

    /// One item, None when the bag or the item does not exist.
    pub fn find_data_bag_item(&self, bag: &str, id: &str) -> Result<Option<Value>> {
        let path = format!(
            "/data/{}/{}",
            checked(bag, "data bag")?,
            checked(id, "data bag item")?
        );
        Ok(self.http.get_optional(&path)?.map(|item| match item {
            Value::Object(mut wrapped)
                if wrapped.get("json_class").and_then(Value::as_str)
                    == Some("Chef::DataBagItem") =>
            {
                wrapped
                    .shift_remove("raw_data")
                    .unwrap_or(Value::Object(wrapped))
            }
            item => item,
        }))
    }

    /// Saves a data bag item: PUT, or POST to the bag when it is new.
    pub fn save_data_bag_item(&self, bag: &str, id: &str, item: &Value) -> Result<()> {
        let bag = checked(bag, "data bag")?;
        let path = format!("/data/{bag}/{}", checked(id, "data bag item")?);
        let response = self.http.send_json("PUT", &path, Some(item))?;
        if response.status == 404 {
            return self
                .http
                .json("POST", &format!("/data/{bag}"), Some(item))
                .map(drop);
        }
        self.http.check("PUT", &path, response).map(drop)
    }

    /// Searches `index` (`node`, `role`, `client`, `environment` or a data bag) with Chef's
    /// query syntax. With `filter` (`{"name": ["name"], "ip": ["ipaddress"]}`) the server
    /// returns only those attributes: partial search, as `filter_result` asks.
    pub fn search(
        &self,
        index: &str,
        query: &str,
        rows: u64,
        start: u64,
        filter: Option<&Value>,
    ) -> Result<SearchResult> {
        let path = format!(
            "/search/{}?q={}&rows={rows}&start={start}",
            checked(index, "search index")?,
            encode_query(query)
        );
        let answer = match filter {
            Some(filter) => self.http.json("POST", &path, Some(filter))?,
            None => self.http.json("GET", &path, None)?,
        };
        let number = |key: &str| answer.get(key).and_then(Value::as_u64).unwrap_or(0);
        let rows = answer
            .get("rows")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|row| match (filter, row) {
                (Some(_), Value::Object(mut partial)) if partial.contains_key("data") => {
                    partial.shift_remove("data").unwrap_or(Value::Null)
                }
                (_, row) => row,
            })
            .collect();
        Ok(SearchResult {
            total: number("total"),
            start: number("start"),
            rows,
        })
    }
}

/// Data bags read from the server, for recipes run by `skillet client`.
#[derive(Debug, Clone)]
pub struct ServerDataBags(pub std::sync::Arc<Api>);

impl crate::repo::data_bag::DataBagSource for ServerDataBags {
    fn bags(&self) -> Result<Vec<String>> {
        self.0.data_bags()
    }

    fn items(&self, bag: &str) -> Result<Vec<String>> {
        self.0.data_bag(bag)
    }

    fn item(&self, bag: &str, id: &str) -> Result<Value> {
        self.0.data_bag_item(bag, id)
    }
}

/// `search` in client mode: the query runs on the server, and only the matches travel, a
/// page of at most [`SEARCH_PAGE`] rows per request.
#[derive(Debug)]
pub struct ServerSearch(pub std::sync::Arc<Api>);

/// How many rows one search request asks for.
const SEARCH_PAGE: usize = 1000;

impl crate::search::SearchSource for ServerSearch {
    fn search(&self, index: &str, query: &str, page: &crate::search::Page) -> Result<Vec<Value>> {
        // A partial search (`filter_result`): each key with its attribute path.
        let filter = page.filter.as_ref().map(|keys| {
            Value::Object(
                keys.iter()
                    .map(|(key, path)| (key.clone(), Value::from(path.clone())))
                    .collect(),
            )
        });
        let mut rows = Vec::new();
        let mut start = page.start;
        loop {
            let wanted = page.rows.map_or(SEARCH_PAGE, |r| {
                r.saturating_sub(rows.len()).min(SEARCH_PAGE)
            });
            if wanted == 0 {
                return Ok(rows);
            }
            let answer =
                self.0
                    .search(index, query, wanted as u64, start as u64, filter.as_ref())?;
            let count = answer.rows.len();
            rows.extend(answer.rows.into_iter().map(|row| match filter {
                Some(_) => row,
                None => search_result(index, row),
            }));
            start += count;
            // A short page is the last (some servers count only the page in `total`).
            if count < wanted {
                return Ok(rows);
            }
        }
    }
}

/// One row of a server search shaped as a local search returns it: a node as its merged
/// attributes with its name, a data bag item as the item (servers wrap it in `raw_data`).
fn search_result(index: &str, row: Value) -> Value {
    match index {
        "node" => {
            let name = row
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            crate::search::node_document(&name, &row).value
        }
        "role" | "environment" | "client" => row,
        _ => match row.get("raw_data") {
            Some(raw) => raw.clone(),
            None => row,
        },
    }
}

/// The keys of a `{name: url}` listing, sorted.
fn keys(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Chef's object-name rule (letters, digits, `_`, `-`, `.`, `:`); other names are refused
/// before they reach a URL.
fn checked<'a>(name: &'a str, what: &str) -> Result<&'a str> {
    let valid = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if valid {
        Ok(name)
    } else {
        Err(Error::input(
            "Chef::Exceptions::InvalidName",
            format!(
                "`{name}` is not a valid {what} name: use letters, digits, `_`, `-`, `.` and `:`"
            ),
        ))
    }
}

/// A relative path that stays inside its directory.
fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Percent-encodes a search query for the URL.
fn encode_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for byte in query.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn bad_answer(message: &str) -> Error {
    Error::input(
        "Chef::Exceptions::InvalidServerResponse",
        message.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_in_segments_and_in_all_files_read_alike() {
        let segments = json!({
            "version": "1.2.0",
            "recipes": [{"name": "default.rb", "path": "recipes/default.rb", "checksum": "aa", "url": "http://s/f/aa"}],
            "root_files": [{"name": "metadata.json", "path": "metadata.json", "checksum": "bb"}]
        });
        let all = json!({
            "version": "1.2.0",
            "all_files": [
                {"name": "recipes/default.rb", "path": "recipes/default.rb", "checksum": "aa", "url": "http://s/f/aa"},
                {"name": "root_files/metadata.json", "path": "metadata.json", "checksum": "bb"}
            ]
        });
        let a = CookbookManifest::from_json("app", &segments).unwrap();
        let b = CookbookManifest::from_json("app", &all).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.files[0].url.as_deref(), Some("http://s/f/aa"));
    }

    #[test]
    fn a_manifest_cannot_point_outside_its_cookbook() {
        for path in ["../etc/passwd", "/etc/passwd", "a//b", "files/./x"] {
            let m = json!({"version": "1.0.0", "files": [{"path": path, "checksum": "aa"}]});
            assert!(CookbookManifest::from_json("app", &m).is_err(), "{path}");
        }
    }

    #[test]
    fn names_in_paths_are_checked() {
        assert!(checked("web1.example.com", "node").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b"] {
            assert!(checked(bad, "node").is_err(), "{bad}");
        }
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode_query("role:app AND name:w*"),
            "role%3Aapp%20AND%20name%3Aw%2A"
        );
    }
}
