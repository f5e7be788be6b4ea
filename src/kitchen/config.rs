//! kitchen.yml in Test Kitchen's format, turned into the list of instances (suite × platform).
//!
//! The file is found as Test Kitchen finds it (`KITCHEN_YAML`, else `kitchen.yml` or
//! `.kitchen.yml` in the current directory), `.kitchen.local.yml` (or `KITCHEN_LOCAL_YAML`) is
//! merged on top, then each instance's driver, provisioner and verifier settings are the
//! common section, overridden by the platform's, overridden by the suite's. Unknown keys are
//! warnings; values of the wrong type are errors at their file:line:col.

use super::located::{deep_merge, Located, Tree};
use crate::error::{Error, Result, SourceLocation};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole kitchen configuration of a project.
#[derive(Debug, Clone)]
pub struct KitchenConfig {
    /// The directory holding kitchen.yml: the repository to converge and `.kitchen/`.
    pub project_dir: PathBuf,
    /// Every instance, in Test Kitchen's order (suites outer, platforms inner).
    pub instances: Vec<Instance>,
    /// Keys that mean nothing here, and settings replaced by what skillet has.
    pub warnings: Vec<String>,
}

/// One suite on one platform: what `skillet kitchen` creates, converges and verifies.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `<suite>-<platform>`, with Test Kitchen's character rules.
    pub name: String,
    /// The suite's name.
    pub suite: String,
    /// The platform's name.
    pub platform: String,
    /// Position among all instances; it fixes the host's lab address.
    pub index: usize,
    /// How the host is made.
    pub driver: DriverConfig,
    /// How the host is converged.
    pub provisioner: ProvisionerConfig,
    /// How the host is checked.
    pub verifier: VerifierConfig,
    /// The suite's named hosts (`hosts:`), in the declared order; empty for a suite of one
    /// host. A suite of several hosts is still one instance: its hosts are made, converged,
    /// verified and destroyed together.
    pub hosts: Vec<HostConfig>,
}

/// One named host of a multi-host suite: its own run list, attributes and overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// The host's name, also its hostname and its name in every /etc/hosts of the instance.
    pub name: String,
    /// The host's driver settings: the suite's, overridden by the host's own.
    pub driver: DriverConfig,
    /// The host's provisioner settings, with its run list and attributes moved into it.
    pub provisioner: ProvisionerConfig,
}

impl Instance {
    /// Whether the suite declares `hosts:`.
    pub fn is_multi_host(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// The Chef server the instance starts: the one its provisioner names, or, in a multi-host
    /// suite, the one any of its hosts' provisioners names.
    pub fn chef_server(&self) -> Option<ChefServer> {
        if !self.is_multi_host() {
            return self.provisioner.chef_server;
        }
        self.hosts.iter().find_map(|h| h.provisioner.chef_server)
    }

    /// The instance as one of its hosts sees it: named `<instance>/<host>` in output and
    /// errors, converged with the host's run list, attributes and overrides.
    pub fn for_host(&self, host: &HostConfig) -> Instance {
        Instance {
            name: format!("{}/{}", self.name, host.name),
            driver: host.driver.clone(),
            provisioner: host.provisioner.clone(),
            hosts: Vec::new(),
            ..self.clone()
        }
    }
}

/// The `driver` section.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverConfig {
    /// The driver named in the file (`namespace` is the one skillet has).
    pub name: String,
    /// The lower layer of the host's root; `/` (the machine itself) by default.
    pub base_root: PathBuf,
    /// How apt inside the host reaches the package registry.
    pub apt_network: AptNetwork,
    /// Debian packages baked into a cached layer stacked on the lower (see
    /// `driver::layer`), so hosts start with them installed.
    pub preinstall: Vec<String>,
}

/// The driver's `apt_network`: how apt inside a host reaches the package registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AptNetwork {
    /// `host` (the default): it does not; apt is as isolated as the rest of the host.
    #[default]
    Host,
    /// `machine`: apt-get and apt-cache run in the machine's network namespace; everything
    /// else stays in the host's isolated lab.
    Machine,
    /// `cache`: the host stays isolated and apt goes through the lab's package cache on its
    /// gateway (see `kitchen::cache`).
    Cache,
}

/// The `provisioner` section, with the suite's run list and attributes moved into it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionerConfig {
    /// `skillet`, `chef_solo`, `chef_zero` or `chef_infra`: all converge with skillet.
    pub name: String,
    /// The node's run list: the platform's items, then the suite's.
    pub run_list: Vec<String>,
    /// Node attributes (normal precedence, as `-j` gives them).
    pub attributes: Value,
    /// How many times `converge` runs the provisioner.
    pub multiple_converge: u32,
    /// With more than one converge, fail if a later converge updated any resource.
    pub enforce_idempotency: bool,
    /// The chef environment, if any.
    pub environment: Option<String>,
    /// `chef_server`: converge with `skillet client` against a Chef server the instance
    /// starts, instead of `skillet solo`; `None` for solo.
    pub chef_server: Option<ChefServer>,
}

/// The Chef server an instance starts for its hosts (`provisioner: {chef_server: goiardi}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChefServer {
    /// goiardi, the Chef server API in one Go binary (Debian's `goiardi` package).
    Goiardi,
}

/// The `verifier` section.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifierConfig {
    /// `shell` is the verifier skillet has.
    pub name: String,
    /// A command to run inside the host instead of the suite's scripts.
    pub command: Option<String>,
    /// How long a verify may take before it is stopped and failed.
    pub timeout: Duration,
    /// `from: lab`: a one-host instance's checks run on the machine in the lab's network, as
    /// a client of the host, instead of inside it (`from: host`, the default).
    pub from_lab: bool,
}

const PROVISIONERS: &[&str] = &["skillet", "chef_solo", "chef_zero", "chef_infra"];
const TOP_KEYS: &[&str] = &[
    "driver",
    "provisioner",
    "verifier",
    "transport",
    "platforms",
    "suites",
];
const ENTRY_KEYS: &[&str] = &[
    "name",
    "driver",
    "provisioner",
    "verifier",
    "run_list",
    "attributes",
    "includes",
    "excludes",
    "hosts",
];
/// What a host of a multi-host suite may say.
const HOST_KEYS: &[&str] = &["name", "driver", "provisioner", "run_list", "attributes"];
/// Hosts per multi-host suite: they share one /24 of the lab.
pub const MAX_SUITE_HOSTS: usize = 50;
/// What `apt_network` may be.
const APT_NETWORK: &str = "`apt_network` to be `machine`, `cache` or `host`";
const DRIVER_KEYS: &[&str] = &["name", "base_root", "apt_network", "preinstall"];
/// What `preinstall` may be.
const PREINSTALL: &str = "`preinstall` to be a list of Debian package names";
const PROVISIONER_KEYS: &[&str] = &[
    "name",
    "run_list",
    "attributes",
    "multiple_converge",
    "enforce_idempotency",
    "client_rb",
    "solo_rb",
    "chef_server",
];
/// What `chef_server` may be.
const CHEF_SERVER: &str = "`chef_server` to be `goiardi` (or false for none)";
const VERIFIER_KEYS: &[&str] = &["name", "command", "timeout", "from"];
/// What the verifier's `from` may be.
const VERIFY_FROM: &str = "the verifier's `from` to be `host` or `lab`";

/// Which file to read: `KITCHEN_YAML`, else `kitchen.yml`/`.kitchen.yml` in `dir`.
pub fn find_kitchen_yaml(dir: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("KITCHEN_YAML") {
        return Ok(dir.join(path));
    }
    for name in [
        "kitchen.yml",
        ".kitchen.yml",
        "kitchen.yaml",
        ".kitchen.yaml",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(Error::input(
        "Kitchen::UserError",
        format!(
            "no kitchen.yml in {}: write one, or name it with KITCHEN_YAML",
            dir.display()
        ),
    ))
}

impl KitchenConfig {
    /// Finds and reads the kitchen.yml of the project in `dir`, with its local file on top.
    pub fn load(dir: &Path) -> Result<KitchenConfig> {
        let path = find_kitchen_yaml(dir)?;
        let project_dir = path.parent().unwrap_or(dir).to_path_buf();
        let mut doc = read_yaml(&path)?;
        if let Some(local) = local_yaml(&project_dir) {
            doc = deep_merge(&doc, &read_yaml(&local)?);
        }
        let mut config = from_document(&doc)?;
        config.project_dir = project_dir;
        Ok(config)
    }

    /// The instances whose names match `pattern` (a regular expression, as Test Kitchen takes
    /// it; an exact name always matches itself); no pattern means all.
    pub fn select(&self, pattern: Option<&str>) -> Result<Vec<Instance>> {
        let Some(pattern) = pattern.filter(|p| !p.is_empty() && *p != "all") else {
            return Ok(self.instances.clone());
        };
        if let Some(exact) = self.instances.iter().find(|i| i.name == pattern) {
            return Ok(vec![exact.clone()]);
        }
        let re = regex::Regex::new(pattern).map_err(|e| {
            Error::input(
                "Kitchen::UserError",
                format!("invalid instance pattern `{pattern}`: {e}"),
            )
        })?;
        let found: Vec<Instance> = self
            .instances
            .iter()
            .filter(|i| re.is_match(&i.name))
            .cloned()
            .collect();
        if found.is_empty() {
            let names: Vec<&str> = self.instances.iter().map(|i| i.name.as_str()).collect();
            return Err(Error::input(
                "Kitchen::UserError",
                format!(
                    "no instance matches `{pattern}`: the instances are {}",
                    names.join(", ")
                ),
            ));
        }
        Ok(found)
    }
}

fn local_yaml(project_dir: &Path) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KITCHEN_LOCAL_YAML") {
        return Some(project_dir.join(path));
    }
    [".kitchen.local.yml", "kitchen.local.yml"]
        .iter()
        .map(|n| project_dir.join(n))
        .find(|p| p.is_file())
}

fn read_yaml(path: &Path) -> Result<Located> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Located::parse(&text, path)
}

/// Test Kitchen's instance name: `<suite>-<platform>` with `_`, `,` and `/` turned into `-`
/// and `.` removed (`default` on `debian-12.5` is `default-debian-125`).
pub fn instance_name(suite: &str, platform: &str) -> String {
    format!("{suite}-{platform}")
        .chars()
        .filter(|c| *c != '.')
        .map(|c| if matches!(c, '_' | ',' | '/') { '-' } else { c })
        .collect()
}

/// Interprets a merged document (no project directory yet).
pub fn from_document(doc: &Located) -> Result<KitchenConfig> {
    let mut warnings = Vec::new();
    let top = doc.as_map("a mapping of driver, provisioner, platforms and suites")?;
    warn_unknown(top, TOP_KEYS, "kitchen.yml", &mut warnings);
    let common = Sections::read(top)?;
    let platforms = entries(top, "platforms", &doc.location)?;
    let suites = entries(top, "suites", &doc.location)?;
    let mut instances = Vec::new();
    for suite in &suites {
        let (includes, excludes) = include_lists(&suite.fields)?;
        for platform in &platforms {
            if !includes.is_empty() && !includes.contains(&platform.name) {
                continue;
            }
            if excludes.contains(&platform.name) {
                continue;
            }
            let index = instances.len();
            instances.push(instance(&common, platform, suite, index, &mut warnings)?);
        }
    }
    for platform in &platforms {
        // `hosts` belongs to suites only.
        let known: Vec<&str> = ENTRY_KEYS
            .iter()
            .copied()
            .filter(|k| *k != "hosts")
            .collect();
        warn_unknown(&platform.fields, &known, &platform.name, &mut warnings);
    }
    for suite in &suites {
        warn_unknown(&suite.fields, ENTRY_KEYS, &suite.name, &mut warnings);
    }
    for suite in &suites {
        for host in suite_hosts(suite)? {
            let what = format!("host {} of {}", host.name, suite.name);
            warn_unknown(&host.fields, HOST_KEYS, &what, &mut warnings);
        }
    }
    Ok(KitchenConfig {
        project_dir: PathBuf::new(),
        instances,
        warnings,
    })
}

/// One platform or suite entry.
struct Entry {
    name: String,
    fields: IndexMap<String, Located>,
    sections: Sections,
}

/// The driver, provisioner and verifier mappings of one level (common, platform, suite).
#[derive(Default)]
struct Sections {
    driver: Option<Located>,
    provisioner: Option<Located>,
    verifier: Option<Located>,
}

impl Sections {
    fn read(map: &IndexMap<String, Located>) -> Result<Sections> {
        Ok(Sections {
            driver: section(map, "driver")?,
            provisioner: section(map, "provisioner")?,
            verifier: section(map, "verifier")?,
        })
    }
}

/// A section as a mapping: `driver: namespace` means `{name: namespace}`, `driver:` means `{}`.
fn section(map: &IndexMap<String, Located>, key: &str) -> Result<Option<Located>> {
    let Some(value) = map.get(key) else {
        return Ok(None);
    };
    let tree = match &value.tree {
        Tree::Map(_) => return Ok(Some(value.clone())),
        Tree::Scalar(Value::Null) => Tree::Map(IndexMap::new()),
        Tree::Scalar(Value::String(_)) => {
            let mut m = IndexMap::new();
            m.insert("name".to_string(), value.clone());
            Tree::Map(m)
        }
        _ => return Err(value.expected(&format!("`{key}` to be a mapping or a name"))),
    };
    Ok(Some(Located {
        tree,
        location: value.location.clone(),
    }))
}

fn entries(top: &IndexMap<String, Located>, key: &str, at: &SourceLocation) -> Result<Vec<Entry>> {
    let Some(list) = top.get(key) else {
        return Err(Error::compile(
            at.clone(),
            format!("expected a `{key}` list in kitchen.yml"),
        ));
    };
    let mut out = Vec::new();
    for item in list.as_seq(&format!("`{key}` to be a list"))? {
        let fields = item.as_map(&format!("each of `{key}` to be a mapping with a name"))?;
        let Some(name) = fields.get("name") else {
            return Err(Error::compile(
                item.location.clone(),
                format!("expected each of `{key}` to have a `name`"),
            ));
        };
        out.push(Entry {
            name: name.as_string("`name` to be a string")?,
            fields: fields.clone(),
            sections: Sections::read(fields)?,
        });
    }
    Ok(out)
}

fn include_lists(fields: &IndexMap<String, Located>) -> Result<(Vec<String>, Vec<String>)> {
    let list = |key: &str| -> Result<Vec<String>> {
        match fields.get(key) {
            Some(v) => v.as_strings(&format!("`{key}` to be a list of platform names")),
            None => Ok(Vec::new()),
        }
    };
    Ok((list("includes")?, list("excludes")?))
}

fn instance(
    common: &Sections,
    platform: &Entry,
    suite: &Entry,
    index: usize,
    warnings: &mut Vec<String>,
) -> Result<Instance> {
    let name = instance_name(&suite.name, &platform.name);
    let layered = |pick: fn(&Sections) -> &Option<Located>| -> Option<Located> {
        [common, &platform.sections, &suite.sections]
            .into_iter()
            .filter_map(|s| pick(s).clone())
            .reduce(|a, b| deep_merge(&a, &b))
    };
    let driver = driver_config(layered(|s| &s.driver), &name, warnings)?;
    let provisioner = provisioner_config(
        layered(|s| &s.provisioner),
        &[&platform.fields, &suite.fields],
        &name,
        warnings,
    )?;
    let verifier = verifier_config(layered(|s| &s.verifier), &name, warnings)?;
    let mut hosts = Vec::new();
    for host in suite_hosts(suite)? {
        let with_host = |pick: fn(&Sections) -> &Option<Located>| -> Option<Located> {
            [common, &platform.sections, &suite.sections, &host.sections]
                .into_iter()
                .filter_map(|s| pick(s).clone())
                .reduce(|a, b| deep_merge(&a, &b))
        };
        let what = format!("{name} host {}", host.name);
        hosts.push(HostConfig {
            driver: driver_config(with_host(|s| &s.driver), &what, warnings)?,
            provisioner: provisioner_config(
                with_host(|s| &s.provisioner),
                &[&platform.fields, &suite.fields, &host.fields],
                &what,
                warnings,
            )?,
            name: host.name,
        });
    }
    Ok(Instance {
        name,
        suite: suite.name.clone(),
        platform: platform.name.clone(),
        index,
        driver,
        provisioner,
        verifier,
        hosts,
    })
}

/// The `hosts:` of a suite, checked: a list of mappings, each with a name fit for a hostname
/// and an environment variable, no name twice.
fn suite_hosts(suite: &Entry) -> Result<Vec<Entry>> {
    let Some(list) = suite.fields.get("hosts").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = list.as_seq("`hosts` to be a list of hosts, each a mapping with a `name`")?;
    if items.len() > MAX_SUITE_HOSTS {
        return Err(Error::compile(
            list.location.clone(),
            format!(
                "expected at most {MAX_SUITE_HOSTS} hosts in a suite, found {}",
                items.len()
            ),
        ));
    }
    let mut hosts: Vec<Entry> = Vec::new();
    for item in items {
        let fields = item.as_map("each of `hosts` to be a mapping with a `name`")?;
        let Some(name) = fields.get("name") else {
            return Err(Error::compile(
                item.location.clone(),
                "expected each of `hosts` to have a `name`".to_string(),
            ));
        };
        let text = name.as_string("a host's `name` to be a string")?;
        if !is_host_name(&text) {
            return Err(Error::compile(
                name.location.clone(),
                format!(
                    "expected a host name of letters, digits and inner `-` (at most 63), found `{text}`"
                ),
            ));
        }
        if hosts.iter().any(|h| h.name.eq_ignore_ascii_case(&text)) {
            return Err(Error::compile(
                name.location.clone(),
                format!(
                    "expected each host of suite `{}` to have its own name, found `{text}` twice",
                    suite.name
                ),
            ));
        }
        hosts.push(Entry {
            name: text,
            fields: fields.clone(),
            sections: Sections::read(fields)?,
        });
    }
    Ok(hosts)
}

/// A hostname label (RFC 1123): letters, digits and `-`, not at either end.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn section_fields(section: &Option<Located>) -> IndexMap<String, Located> {
    match section.as_ref().map(|s| &s.tree) {
        Some(Tree::Map(m)) => m.clone(),
        _ => IndexMap::new(),
    }
}

fn driver_config(
    section: Option<Located>,
    instance: &str,
    warnings: &mut Vec<String>,
) -> Result<DriverConfig> {
    let fields = section_fields(&section);
    warn_unknown(
        &fields,
        DRIVER_KEYS,
        &format!("{instance} driver"),
        warnings,
    );
    let name = match fields.get("name") {
        Some(v) => v.as_string("the driver's `name` to be a string")?,
        None => "namespace".to_string(),
    };
    if name != "namespace" {
        push_warning(
            warnings,
            format!(
                "{instance}: driver `{name}` is not available here; using the namespace driver"
            ),
        );
    }
    let base_root = match fields.get("base_root") {
        Some(v) => PathBuf::from(v.as_string("`base_root` to be a directory path")?),
        None => PathBuf::from("/"),
    };
    let apt_network = match fields.get("apt_network") {
        Some(v) => match v.as_string(APT_NETWORK)?.as_str() {
            "machine" => AptNetwork::Machine,
            "cache" => AptNetwork::Cache,
            "host" => AptNetwork::Host,
            _ => return Err(v.expected(APT_NETWORK)),
        },
        None => AptNetwork::Host,
    };
    let preinstall = match fields.get("preinstall") {
        Some(v) => {
            let names = v.as_strings(PREINSTALL)?;
            if names.iter().any(|n| !is_package_name(n)) {
                return Err(v.expected(PREINSTALL));
            }
            names
        }
        None => Vec::new(),
    };
    Ok(DriverConfig {
        name,
        base_root,
        apt_network,
        preinstall,
    })
}

/// Debian's rule for package names (lower case letters, digits, `+`, `-`, `.`; at least two
/// characters, starting with a letter or digit), so nothing else reaches apt-get's argv.
fn is_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

fn provisioner_config(
    section: Option<Located>,
    levels: &[&IndexMap<String, Located>],
    instance: &str,
    warnings: &mut Vec<String>,
) -> Result<ProvisionerConfig> {
    let fields = section_fields(&section);
    warn_unknown(
        &fields,
        PROVISIONER_KEYS,
        &format!("{instance} provisioner"),
        warnings,
    );
    let name = match fields.get("name") {
        Some(v) => {
            let name = v.as_string("the provisioner's `name` to be a string")?;
            if !PROVISIONERS.contains(&name.as_str()) {
                return Err(Error::compile(
                    v.location.clone(),
                    format!(
                        "provisioner `{name}` is not supported: use one of {}",
                        PROVISIONERS.join(", ")
                    ),
                ));
            }
            name
        }
        None => "skillet".to_string(),
    };
    let multiple_converge = match fields.get("multiple_converge") {
        Some(v) => {
            let n = v.as_u64("`multiple_converge` to be a number of converges")?;
            u32::try_from(n.max(1)).unwrap_or(u32::MAX)
        }
        None => 1,
    };
    let enforce_idempotency = match fields.get("enforce_idempotency") {
        Some(v) => v.as_bool("`enforce_idempotency` to be true or false")?,
        None => false,
    };
    Ok(ProvisionerConfig {
        name,
        run_list: run_list(&fields, levels)?,
        attributes: attributes(&fields, levels)?,
        multiple_converge,
        enforce_idempotency,
        environment: environment(&fields)?,
        chef_server: chef_server(&fields)?,
    })
}

/// `chef_server: goiardi` (`false` or null turns off one a wider level set).
fn chef_server(provisioner: &IndexMap<String, Located>) -> Result<Option<ChefServer>> {
    let Some(value) = provisioner.get("chef_server") else {
        return Ok(None);
    };
    match &value.tree {
        Tree::Scalar(Value::Null | Value::Bool(false)) => Ok(None),
        Tree::Scalar(Value::String(name)) if name == "goiardi" => Ok(Some(ChefServer::Goiardi)),
        Tree::Scalar(Value::String(name)) => Err(Error::compile(
            value.location.clone(),
            format!(
                "expected {CHEF_SERVER}, found `{name}`: goiardi is the server skillet can start"
            ),
        )),
        _ => Err(value.expected(CHEF_SERVER)),
    }
}

/// Test Kitchen's rule: the platform's run list items come before the suite's (and, in a
/// multi-host suite, the suite's before the host's); a run list in the provisioner section is
/// used when none names one.
fn run_list(
    provisioner: &IndexMap<String, Located>,
    levels: &[&IndexMap<String, Located>],
) -> Result<Vec<String>> {
    let what = "`run_list` to be a list of recipe[...] / role[...] items";
    let mut items = Vec::new();
    for fields in levels {
        if let Some(v) = fields.get("run_list").filter(|v| !v.is_null()) {
            items.extend(v.as_strings(what)?);
        }
    }
    if items.is_empty() {
        if let Some(v) = provisioner.get("run_list").filter(|v| !v.is_null()) {
            items = v.as_strings(what)?;
        }
    }
    Ok(items)
}

/// Attributes: the provisioner's, then the platform's, then the suite's (then the host's),
/// deep-merged.
fn attributes(
    provisioner: &IndexMap<String, Located>,
    levels: &[&IndexMap<String, Located>],
) -> Result<Value> {
    let mut merged: Option<Located> = None;
    for value in std::iter::once(provisioner.get("attributes"))
        .chain(levels.iter().map(|l| l.get("attributes")))
        .flatten()
        .filter(|v| !v.is_null())
    {
        value.as_map("`attributes` to be a mapping")?;
        merged = Some(match merged {
            Some(m) => deep_merge(&m, value),
            None => value.clone(),
        });
    }
    Ok(merged.map_or_else(|| Value::Object(Default::default()), |m| m.to_json()))
}

fn environment(provisioner: &IndexMap<String, Located>) -> Result<Option<String>> {
    for key in ["client_rb", "solo_rb"] {
        if let Some(rb) = provisioner.get(key) {
            let map = rb.as_map(&format!("`{key}` to be a mapping"))?;
            if let Some(env) = map.get("environment") {
                return Ok(Some(env.as_string("`environment` to be a name")?));
            }
        }
    }
    Ok(None)
}

fn verifier_config(
    section: Option<Located>,
    instance: &str,
    warnings: &mut Vec<String>,
) -> Result<VerifierConfig> {
    let fields = section_fields(&section);
    warn_unknown(
        &fields,
        VERIFIER_KEYS,
        &format!("{instance} verifier"),
        warnings,
    );
    let name = match fields.get("name") {
        Some(v) => v.as_string("the verifier's `name` to be a string")?,
        None => "shell".to_string(),
    };
    if name != "shell" {
        push_warning(
            warnings,
            format!("{instance}: verifier `{name}` is not available here; verify will fail (use `verifier: {{name: shell}}`)"),
        );
    }
    let command = match fields.get("command") {
        Some(v) => Some(v.as_string("the verifier's `command` to be a string")?),
        None => None,
    };
    let timeout = match fields.get("timeout") {
        Some(v) => Duration::from_secs(v.as_u64("`timeout` to be a number of seconds")?),
        None => Duration::from_secs(600),
    };
    let from_lab = match fields.get("from") {
        Some(v) => match v.as_string(VERIFY_FROM)?.as_str() {
            "lab" => true,
            "host" => false,
            _ => return Err(v.expected(VERIFY_FROM)),
        },
        None => false,
    };
    Ok(VerifierConfig {
        name,
        command,
        timeout,
        from_lab,
    })
}

fn warn_unknown(
    fields: &IndexMap<String, Located>,
    known: &[&str],
    what: &str,
    warnings: &mut Vec<String>,
) {
    for (key, value) in fields {
        if !known.contains(&key.as_str()) {
            push_warning(
                warnings,
                format!(
                    "{}: `{key}` in {what} means nothing to skillet; ignored",
                    value.location
                ),
            );
        }
    }
}

fn push_warning(warnings: &mut Vec<String>, warning: String) {
    if !warnings.contains(&warning) {
        warnings.push(warning);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<KitchenConfig> {
        from_document(&Located::parse(text, Path::new("kitchen.yml"))?)
    }

    const BASIC: &str = "\
driver:
  name: namespace
provisioner:
  name: chef_zero
  attributes: {app: {port: 80, user: web}}
platforms:
  - name: debian-12.5
    run_list: ['recipe[base]']
  - name: ubuntu_22/04
suites:
  - name: default
    run_list: ['recipe[app]']
    attributes: {app: {port: 8080}}
  - name: web
    excludes: [ubuntu_22/04]
    provisioner:
      multiple_converge: 2
      enforce_idempotency: true
";

    #[test]
    fn instance_names_follow_test_kitchen_character_rules() {
        assert_eq!(
            instance_name("default", "debian-12.5"),
            "default-debian-125"
        );
        assert_eq!(
            instance_name("my_suite", "ubuntu/22,x"),
            "my-suite-ubuntu-22-x"
        );
    }

    #[test]
    fn instances_are_suites_times_platforms_minus_excludes() {
        let c = config(BASIC).unwrap();
        let names: Vec<&str> = c.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "default-debian-125",
                "default-ubuntu-22-04",
                "web-debian-125"
            ]
        );
        assert_eq!(c.instances[2].index, 2);
    }

    #[test]
    fn preinstall_lists_package_names_and_a_suite_may_set_its_own() {
        let text = BASIC.replace(
            "name: namespace",
            "name: namespace\n  preinstall: [nginx, rinetd]",
        );
        let c = config(&text).unwrap();
        assert_eq!(c.instances[0].driver.preinstall, ["nginx", "rinetd"]);
        assert!(config(BASIC).unwrap().instances[0]
            .driver
            .preinstall
            .is_empty());
        for bad in ["preinstall: nginx", "preinstall: [nginx, 'x; rm -rf /']"] {
            let text = BASIC.replace("name: namespace", &format!("name: namespace\n  {bad}"));
            let err = config(&text).unwrap_err().to_string();
            assert!(err.contains("kitchen.yml:3:"), "{err}");
            assert!(err.contains("list of Debian package names"), "{err}");
        }
    }

    #[test]
    fn apt_network_is_isolated_unless_the_platform_asks_for_the_machine() {
        let text = BASIC.replace(
            "  - name: ubuntu_22/04\n",
            "  - name: ubuntu_22/04\n    driver: {apt_network: machine}\n",
        );
        let c = config(&text).unwrap();
        assert_eq!(c.instances[0].driver.apt_network, AptNetwork::Host);
        assert_eq!(c.instances[1].driver.apt_network, AptNetwork::Machine);
        let bad = BASIC.replace("name: namespace", "name: namespace\n  apt_network: lab");
        let err = config(&bad).unwrap_err().to_string();
        assert!(err.contains("kitchen.yml:3:16"), "{err}");
        assert!(err.contains("`machine`, `cache` or `host`"), "{err}");
    }

    #[test]
    fn apt_network_cache_is_its_own_value() {
        let text = BASIC.replace(
            "  - name: ubuntu_22/04\n",
            "  - name: ubuntu_22/04\n    driver: {apt_network: cache}\n",
        );
        let c = config(&text).unwrap();
        assert_eq!(c.instances[0].driver.apt_network, AptNetwork::Host);
        assert_eq!(c.instances[1].driver.apt_network, AptNetwork::Cache);
    }

    #[test]
    fn the_verifier_runs_from_the_host_unless_it_says_lab() {
        let text = BASIC.replace(
            "  - name: ubuntu_22/04\n",
            "  - name: ubuntu_22/04\n    verifier: {from: lab}\n",
        );
        let c = config(&text).unwrap();
        assert!(!c.instances[0].verifier.from_lab);
        assert!(c.instances[1].verifier.from_lab);
        let bad = BASIC.replace(
            "  - name: ubuntu_22/04\n",
            "  - name: ubuntu_22/04\n    verifier: {from: outside}\n",
        );
        let err = config(&bad).unwrap_err().to_string();
        assert!(err.contains("kitchen.yml:"), "{err}");
        assert!(err.contains("`host` or `lab`"), "{err}");
    }

    #[test]
    fn includes_keep_only_the_named_platforms() {
        let text = BASIC.replace("excludes: [ubuntu_22/04]", "includes: [ubuntu_22/04]");
        let c = config(&text).unwrap();
        assert_eq!(c.instances.last().unwrap().name, "web-ubuntu-22-04");
    }

    #[test]
    fn platform_run_list_comes_before_the_suites() {
        let c = config(BASIC).unwrap();
        assert_eq!(
            c.instances[0].provisioner.run_list,
            ["recipe[base]", "recipe[app]"]
        );
    }

    #[test]
    fn suite_attributes_deep_merge_over_the_provisioners() {
        let c = config(BASIC).unwrap();
        assert_eq!(
            c.instances[0].provisioner.attributes,
            serde_json::json!({"app": {"port": 8080, "user": "web"}})
        );
    }

    #[test]
    fn suite_provisioner_settings_override_the_common_ones() {
        let c = config(BASIC).unwrap();
        let web = &c.instances[2].provisioner;
        assert_eq!(web.name, "chef_zero");
        assert_eq!(web.multiple_converge, 2);
        assert!(web.enforce_idempotency);
        assert_eq!(c.instances[0].provisioner.multiple_converge, 1);
    }

    #[test]
    fn a_section_given_as_a_string_is_its_name() {
        let c = config("driver: namespace\nprovisioner: chef_solo\nplatforms: [{name: p}]\nsuites: [{name: s}]\n").unwrap();
        assert_eq!(c.instances[0].provisioner.name, "chef_solo");
        assert_eq!(c.instances[0].verifier.name, "shell");
    }

    #[test]
    fn unknown_keys_are_warnings_with_their_place() {
        let c =
            config("platforms: [{name: p}]\nsuites: [{name: s, colour: red}]\nbogus: 1\n").unwrap();
        assert!(c
            .warnings
            .iter()
            .any(|w| w.starts_with("kitchen.yml:3:8: `bogus`")));
        assert!(c.warnings.iter().any(|w| w.contains("`colour`")));
    }

    #[test]
    fn wrong_types_are_errors_at_their_place() {
        let err =
            config("platforms: [{name: p}]\nsuites:\n  - name: s\n    run_list: 5\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("kitchen.yml:4:15: expected `run_list`"),
            "{err}"
        );
        let err = config(
            "provisioner: {multiple_converge: many}\nplatforms: [{name: p}]\nsuites: [{name: s}]\n",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("kitchen.yml:1:34:"), "{err}");
    }

    #[test]
    fn unsupported_provisioner_is_an_error() {
        let err = config("provisioner: ansible\nplatforms: [{name: p}]\nsuites: [{name: s}]\n")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("provisioner `ansible` is not supported"),
            "{err}"
        );
    }

    #[test]
    fn select_takes_exact_names_then_regexes() {
        let c = config(BASIC).unwrap();
        assert_eq!(c.select(Some("web")).unwrap().len(), 1);
        assert_eq!(c.select(Some("default")).unwrap().len(), 2);
        assert_eq!(c.select(None).unwrap().len(), 3);
        assert!(c.select(Some("nothing")).is_err());
    }

    const HOSTS: &str = "\
provisioner: {attributes: {common: 1}}
platforms:
  - name: debian-12
suites:
  - name: migration
    attributes: {mysql: {port: 3306}}
    hosts:
      - name: db1
        run_list: ['role[db_master]']
        attributes: {mysql: {server_id: 1}}
        driver: {apt_network: machine}
      - name: lb1
        run_list: ['role[lb]']
        provisioner: {enforce_idempotency: true}
";

    #[test]
    fn a_suite_with_hosts_is_one_instance_of_named_hosts() {
        let c = config(HOSTS).unwrap();
        assert_eq!(c.instances.len(), 1);
        let migration = &c.instances[0];
        assert_eq!(migration.name, "migration-debian-12");
        assert!(migration.is_multi_host());
        let names: Vec<&str> = migration.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["db1", "lb1"]);
        let db1 = &migration.hosts[0];
        assert_eq!(db1.provisioner.run_list, ["role[db_master]"]);
        assert_eq!(
            db1.provisioner.attributes,
            serde_json::json!({"common": 1, "mysql": {"port": 3306, "server_id": 1}})
        );
        assert_eq!(db1.driver.apt_network, AptNetwork::Machine);
        let lb1 = &migration.hosts[1];
        assert_eq!(lb1.driver.apt_network, AptNetwork::Host);
        assert!(lb1.provisioner.enforce_idempotency);
        assert!(!db1.provisioner.enforce_idempotency);
        let view = migration.for_host(lb1);
        assert_eq!(view.name, "migration-debian-12/lb1");
        assert_eq!(view.provisioner.run_list, ["role[lb]"]);
        assert!(!c.instances[0].hosts.is_empty());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn hosts_of_the_wrong_shape_are_errors_at_their_place() {
        let err = config("platforms: [{name: p}]\nsuites:\n  - name: s\n    hosts: db1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("kitchen.yml:4:12: expected `hosts` to be a list"),
            "{err}"
        );
        let err = config(
            "platforms: [{name: p}]\nsuites:\n  - name: s\n    hosts:\n      - name: db1\n      - name: db1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("kitchen.yml:6:15:"), "{err}");
        assert!(err.contains("`db1` twice"), "{err}");
        let err = config(
            "platforms: [{name: p}]\nsuites:\n  - name: s\n    hosts:\n      - run_list: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("kitchen.yml:5:9: expected each of `hosts` to have a `name`"),
            "{err}"
        );
        let err = config(
            "platforms: [{name: p}]\nsuites:\n  - name: s\n    hosts:\n      - name: db_1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("kitchen.yml:5:15: expected a host name"),
            "{err}"
        );
        let err = config("platforms: [{name: p}]\nsuites:\n  - name: s\n    hosts: [a]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("kitchen.yml:4:13: expected each of `hosts` to be a mapping"),
            "{err}"
        );
    }

    #[test]
    fn chef_server_is_off_unless_a_level_names_goiardi() {
        let c = config(BASIC).unwrap();
        assert_eq!(c.instances[0].chef_server(), None);
        let text = BASIC.replace(
            "name: chef_zero\n",
            "name: chef_zero\n  chef_server: goiardi\n",
        );
        let c = config(&text).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(c
            .instances
            .iter()
            .all(|i| i.chef_server() == Some(ChefServer::Goiardi)));
        // A platform or a suite turns it off again.
        let off = text.replace(
            "    excludes: [ubuntu_22/04]\n    provisioner:\n",
            "    excludes: [ubuntu_22/04]\n    provisioner:\n      chef_server: false\n",
        );
        let c = config(&off).unwrap();
        assert_eq!(c.instances[0].chef_server(), Some(ChefServer::Goiardi));
        assert_eq!(c.instances[2].chef_server(), None);
    }

    #[test]
    fn chef_server_of_a_multi_host_suite_may_be_set_per_host() {
        let text = HOSTS.replace(
            "provisioner: {enforce_idempotency: true}",
            "provisioner: {enforce_idempotency: true, chef_server: goiardi}",
        );
        let c = config(&text).unwrap();
        let suite = &c.instances[0];
        assert_eq!(suite.chef_server(), Some(ChefServer::Goiardi));
        assert_eq!(suite.hosts[0].provisioner.chef_server, None);
        assert_eq!(
            suite.hosts[1].provisioner.chef_server,
            Some(ChefServer::Goiardi)
        );
        assert_eq!(
            suite.for_host(&suite.hosts[1]).chef_server(),
            Some(ChefServer::Goiardi)
        );
        let all = format!(
            "provisioner: {{chef_server: goiardi}}\n{}",
            &HOSTS[HOSTS.find('\n').unwrap() + 1..]
        );
        let c = config(&all).unwrap();
        assert!(c.instances[0]
            .hosts
            .iter()
            .all(|h| h.provisioner.chef_server == Some(ChefServer::Goiardi)));
    }

    #[test]
    fn an_unknown_chef_server_is_an_error_at_its_place() {
        let err = config(
            "provisioner: {chef_server: chef_zero}\nplatforms: [{name: p}]\nsuites: [{name: s}]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("kitchen.yml:1:28: expected `chef_server` to be `goiardi`"),
            "{err}"
        );
        assert!(err.contains("found `chef_zero`"), "{err}");
        let err = config(
            "platforms: [{name: p}]\nsuites:\n  - name: s\n    provisioner:\n      chef_server: [goiardi]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("kitchen.yml:5:20:"), "{err}");
        assert!(err.contains("found a list"), "{err}");
    }

    #[test]
    fn unknown_keys_of_a_host_are_warnings() {
        let c = config(
            "platforms: [{name: p}]\nsuites:\n  - name: s\n    hosts:\n      - name: a\n        colour: red\n",
        )
        .unwrap();
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("`colour` in host a of s")),
            "{:?}",
            c.warnings
        );
    }
}
