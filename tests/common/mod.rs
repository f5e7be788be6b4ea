//! A chef-repo in a temp directory and the binary run against it, as a user would.

#![allow(dead_code)]

pub mod deb;
pub mod goiardi;
pub mod kitchen_hosts;
pub mod ohai_paths;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A repository under construction in a temp dir; `root()` is where managed files may go.
pub struct Repo {
    dir: tempfile::TempDir,
}

/// The result of one run of the binary.
pub struct Run {
    pub output: Output,
}

impl Repo {
    /// An empty repo with a solo.json pointing every path inside the temp dir.
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo { dir };
        repo.write(
            "solo.json",
            r#"{
  "cookbook_path": ["cookbooks"],
  "node_path": "nodes",
  "file_cache_path": "cache",
  "file_backup_path": "backup",
  "node_name": "test-node"
}"#,
        );
        repo
    }

    /// The repo directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A directory for managed files, inside the repo's temp dir.
    pub fn root(&self) -> PathBuf {
        let p = self.dir.path().join("host");
        std::fs::create_dir_all(&p).expect("mkdir host");
        p
    }

    /// Writes a file relative to the repo, creating directories.
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        self
    }

    /// A cookbook with metadata.json.
    pub fn cookbook(&self, name: &str, version: &str) -> &Self {
        self.write(
            &format!("cookbooks/{name}/metadata.json"),
            &format!(r#"{{"name": "{name}", "version": "{version}"}}"#),
        )
    }

    /// A YAML recipe; `{root}` in the text is replaced by [`Repo::root`].
    pub fn recipe(&self, cookbook: &str, name: &str, yaml: &str) -> &Self {
        let text = yaml.replace("{root}", &self.root().display().to_string());
        self.write(&format!("cookbooks/{cookbook}/recipes/{name}.yml"), &text)
    }

    /// Reads a file below the managed root.
    pub fn read_host(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root().join(rel)).ok()
    }

    /// `skillet solo -c solo.json` plus `args`.
    pub fn solo(&self, args: &[&str]) -> Run {
        let mut all = vec!["solo", "-c", "solo.json", "--no-color"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// The binary with `args`, in the repo directory.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("the binary runs");
        Run { output }
    }

    /// The command, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skillet"));
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }
}

impl Run {
    /// Standard output as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard error as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// The exit code.
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    /// Asserts success and returns self.
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code(), 0, "run failed:\n{}", self.all());
        self
    }

    /// Asserts the final line reports `n/m resources updated`.
    pub fn updated(&self, n: usize, m: usize) -> &Self {
        let want = format!("{n}/{m} resources updated");
        assert!(
            self.stdout().contains(&want),
            "expected `{want}` in:\n{}",
            self.all()
        );
        self
    }

    /// Asserts the output contains `text`.
    pub fn shows(&self, text: &str) -> &Self {
        assert!(
            self.all().contains(text),
            "expected `{text}` in:\n{}",
            self.all()
        );
        self
    }
}
