//! Package layers: `driver: {preinstall: [...]}` installs Debian packages once into a cached
//! squashfs image that hosts start from. The tests install a real package from the machine's
//! registry; without root or a reachable registry they say so and pass.

mod common;

use common::kitchen_hosts::{assert_nothing_left, exec, machine_knows, Hosts};
use common::registry::apt_unusable;
use common::Repo;
use skillet::kitchen::driver::layer::{image_path, LAYER_DIR};
use std::path::Path;

fn unusable(packages: &[&str]) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("kitchen hosts need root".into());
    }
    if !Path::new("/usr/bin/mksquashfs").exists() {
        return Some("mksquashfs is not installed (squashfs-tools)".into());
    }
    apt_unusable(packages)
}

/// A project whose one suite installs `package` and whose driver preinstalls `preinstall`.
fn project(package: &str, preinstall: &str) -> Repo {
    let repo = Repo::new();
    repo.cookbook("pkg", "0.1.0").recipe(
        "pkg",
        "default",
        &format!("resources:\n  - type: package\n    name: {package}\n"),
    );
    repo.write(
        "kitchen.yml",
        &format!(
            "driver:\n  name: namespace\n  preinstall: {preinstall}\nprovisioner: chef_zero\n\
             platforms:\n  - name: debian-12\nsuites:\n  - name: default\n    run_list: ['recipe[pkg]']\n"
        ),
    );
    repo
}

/// The loop devices backed by `image`, as `losetup` lists them.
fn loops_of(image: &Path) -> Vec<String> {
    let out = std::process::Command::new("losetup")
        .arg("-a")
        .output()
        .unwrap();
    let name = image.file_name().unwrap().to_string_lossy().into_owned();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&name))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_preinstalled_package_comes_from_the_cached_layer_and_goes_with_the_host() {
    let package = "rinetd";
    if let Some(why) = unusable(&[package]) {
        eprintln!("skipping the package layer test: {why}");
        return;
    }
    let repo = project(package, &format!("[{package}]"));
    let hosts = Hosts { repo: &repo };
    let image = image_path(Path::new("/"), &[package.to_string()]).unwrap();

    let run = repo.run(&["kitchen", "converge"]);
    run.ok();
    assert!(image.is_file(), "no layer at {}", image.display());
    assert!(
        run.stdout().contains(&format!(
            "apt_package[{package}] action install (up to date)"
        )),
        "the host did not start with the package:\n{}",
        run.stdout()
    );
    let status = exec(
        &repo,
        "default-debian-12",
        &format!("dpkg-query -W {package}"),
    );
    assert!(status.starts_with(package), "{status}");
    assert_eq!(loops_of(&image).len(), 1, "one loop device per host");
    if !machine_knows(package) {
        assert!(
            !Path::new("/usr/sbin/rinetd").exists(),
            "leaked to the machine"
        );
    }

    // A second create reuses the image as it is.
    let built = std::fs::metadata(&image).unwrap().modified().unwrap();
    repo.run(&["kitchen", "destroy"]).ok();
    let run = repo.run(&["kitchen", "test"]);
    run.ok();
    assert!(!run.stdout().contains("Building the package layer"));
    assert_eq!(
        std::fs::metadata(&image).unwrap().modified().unwrap(),
        built
    );
    drop(hosts);
    assert!(loops_of(&image).is_empty(), "{:?}", loops_of(&image));
    assert_nothing_left(&repo, package);
}

#[test]
fn a_package_apt_cannot_find_fails_create_with_apts_reason_and_leaves_nothing() {
    if let Some(why) = unusable(&["rinetd"]) {
        eprintln!("skipping the package layer test: {why}");
        return;
    }
    let missing = "skillet-no-such-package";
    let repo = project("less", &format!("[{missing}]"));
    let hosts = Hosts { repo: &repo };
    let run = repo.run(&["kitchen", "create"]);
    let text = format!("{}{}", run.stdout(), run.stderr());
    assert!(!run.output.status.success(), "{text}");
    assert!(
        text.contains(&format!("building the package layer of {missing} failed")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Unable to locate package {missing}")),
        "{text}"
    );
    let image = image_path(Path::new("/"), &[missing.into()]).unwrap();
    let stem = image.file_stem().unwrap().to_string_lossy().into_owned();
    let left: Vec<String> = std::fs::read_dir(LAYER_DIR)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&stem) && !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Only the instance's record of the failed action is left, which destroy clears.
    drop(hosts);
    assert_nothing_left(&repo, missing);
}

/// A host hides the machine's /srv, /home and the like; what the layer's packages put there
/// (vsftpd's /srv/ftp) still shows.
#[test]
fn what_the_layers_packages_put_in_hidden_directories_shows_in_the_host() {
    let package = "vsftpd";
    if let Some(why) = unusable(&[package]) {
        eprintln!("skipping the package layer test: {why}");
        return;
    }
    let repo = project(package, &format!("[{package}]"));
    let hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create"]).ok();
    let listing = exec(
        &repo,
        "default-debian-12",
        "ls -d /srv/ftp && ls /home | wc -l",
    );
    assert_eq!(listing, "/srv/ftp\n0\n");
    drop(hosts);
    assert_nothing_left(&repo, package);
}
