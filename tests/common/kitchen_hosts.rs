//! Kitchen hosts in tests: destroying them even when an assertion fails, running commands in
//! them, and checking that nothing of them is left on the machine.

use super::Repo;
use skillet::kitchen::lab::Lab;
use std::process::Command;

/// Destroys the project's hosts when dropped, so a failed assertion leaves nothing running.
pub struct Hosts<'a> {
    /// The project whose hosts these are.
    pub repo: &'a Repo,
}

impl Drop for Hosts<'_> {
    fn drop(&mut self) {
        let _ = self.repo.command(&["kitchen", "destroy"]).output();
    }
}

/// `skillet kitchen exec <instance> -c <command>`, asserted to succeed: the command's output
/// without kitchen's `----->` banner.
pub fn exec(repo: &Repo, instance: &str, command: &str) -> String {
    let run = repo.run(&["kitchen", "exec", instance, "-c", command]);
    run.ok();
    run.stdout()
        .lines()
        .filter(|l| !l.starts_with("----->"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Whether the machine's own dpkg database knows `package`.
pub fn machine_knows(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", package])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Asserts nothing of the project's lab is left: no network namespace or veth named after the
/// lab, no process or mount naming the project or the package, no host state.
pub fn assert_nothing_left(repo: &Repo, package: &str) {
    let lab = Lab::for_project(repo.path());
    let netns: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&lab.name))
                .collect()
        })
        .unwrap_or_default();
    assert!(netns.is_empty(), "network namespaces left: {netns:?}");
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains(&lab.name), "veth left:\n{links}");
    let project = repo.path().to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.contains(&project) && !cmdline.contains(package),
            "process left: {cmdline}"
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&project), "mount left");
    let states: Vec<_> = std::fs::read_dir(repo.path().join(".kitchen"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(states.is_empty(), "state left: {states:?}");
}
