//! Instance state in `.kitchen/<instance>.json`, as Test Kitchen keeps it.
//!
//! The state is what lets `create`, `converge`, `login` and `verify` be separate invocations:
//! it names each host's PID 1 (one host, or the named hosts of a multi-host suite) (with its start time, so a recycled PID is never mistaken for it),
//! its network namespace, veth and address, and the Chef server the instance started, if any. Files are written to a temporary name and renamed,
//! so a crash never leaves half a state file.

use crate::error::{Error, IoContext, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What is known about one instance between commands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// The instance's name.
    pub name: String,
    /// The last action that finished: create, converge, verify (destroy removes the file).
    pub last_action: Option<String>,
    /// The error of the last action that failed, if the last one failed.
    pub last_error: Option<String>,
    /// The instance's hosts once created: one, or a multi-host suite's in declared order.
    #[serde(default)]
    pub hosts: Vec<HostState>,
    /// The Chef server the instance started (`provisioner: {chef_server: ...}`), while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerState>,
}

/// A Chef server started for an instance, running in the lab's network namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    /// The server's PID, as seen from the machine.
    pub pid: i32,
    /// Its start time in clock ticks (field 22 of /proc/PID/stat), so a recycled PID is never
    /// taken for it.
    pub start_time: u64,
    /// The URL the hosts use (`http://<gateway>:<port>`).
    pub url: String,
    /// The lab network namespace it listens in.
    pub lab: String,
    /// Its directory: configuration, keys, data and log.
    pub dir: PathBuf,
}

impl InstanceState {
    /// The first host (the only one of a one-host suite).
    pub fn first_host(&self) -> Option<&HostState> {
        self.hosts.first()
    }
}

/// A running host made by the namespace driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    /// The host's name in a multi-host suite (its hostname); for a one-host suite, the
    /// instance's hostname.
    #[serde(default)]
    pub name: String,
    /// PID of the host's PID 1, as seen from the machine.
    pub pid: i32,
    /// Its start time in clock ticks (field 22 of /proc/PID/stat).
    pub start_time: u64,
    /// The host's network namespace (under /run/netns).
    pub netns: String,
    /// The lab end of the host's veth.
    pub veth: String,
    /// The lab network namespace the host is attached to.
    pub lab: String,
    /// The host's address on the lab bridge.
    pub address: String,
    /// The lab bridge the host is plugged into (`br0`, or its multi-host instance's own).
    #[serde(default = "shared_bridge")]
    pub bridge: String,
    /// The host's hostname.
    pub hostname: String,
    /// The directory the host's root was built in (a tmpfs mount point in the host only).
    pub scratch: PathBuf,
}

fn shared_bridge() -> String {
    super::lab::BRIDGE.to_string()
}

/// The `.kitchen` directory of a project.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// `.kitchen/` under the project directory.
    pub fn new(project_dir: &Path) -> StateDir {
        StateDir {
            dir: project_dir.join(".kitchen"),
        }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, instance: &str) -> PathBuf {
        self.dir.join(format!("{instance}.json"))
    }

    /// The state of `instance`; a missing file is an instance never created.
    pub fn load(&self, instance: &str) -> Result<InstanceState> {
        let path = self.file(instance);
        match std::fs::read_to_string(&path) {
            Ok(text) => crate::repo::yaml::from_json(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(InstanceState {
                name: instance.to_string(),
                ..InstanceState::default()
            }),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes the state atomically (temporary file in the same directory, then rename).
    pub fn save(&self, state: &InstanceState) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_path(&self.dir)?;
        let path = self.file(&state.name);
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).with_path(&self.dir)?;
        tmp.write_all(text.as_bytes()).with_path(tmp.path())?;
        tmp.as_file().sync_all().with_path(&path)?;
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        Ok(())
    }

    /// Removes the state of a destroyed instance.
    pub fn remove(&self, instance: &str) -> Result<()> {
        let path = self.file(instance);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// Every instance that has a state file, by name.
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::new(dir.path());
        let state = InstanceState {
            name: "default-debian".into(),
            last_action: Some("create".into()),
            last_error: None,
            hosts: vec![HostState {
                name: "default-debian".into(),
                pid: 42,
                start_time: 7,
                netns: "n".into(),
                veth: "v".into(),
                lab: "l".into(),
                address: "10.200.0.10".into(),
                bridge: "br0".into(),
                hostname: "default-debian".into(),
                scratch: "/x".into(),
            }],
            server: Some(ServerState {
                pid: 43,
                start_time: 8,
                url: "http://10.200.0.1:8889".into(),
                lab: "l".into(),
                dir: "/p/.kitchen/default-debian/server".into(),
            }),
        };
        states.save(&state).unwrap();
        assert_eq!(states.load("default-debian").unwrap(), state);
        assert_eq!(states.names(), ["default-debian"]);
        states.remove("default-debian").unwrap();
        assert_eq!(states.load("default-debian").unwrap().last_action, None);
    }

    #[test]
    fn no_temporary_file_is_left_beside_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::new(dir.path());
        states
            .save(&InstanceState {
                name: "a".into(),
                ..InstanceState::default()
            })
            .unwrap();
        let count = std::fs::read_dir(states.path()).unwrap().count();
        assert_eq!(count, 1);
    }
}
