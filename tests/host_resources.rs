//! Host resources (user, group, service, cron, sysctl) through the binary in why-run, which
//! reads this machine's real account files and process table but changes nothing.

mod common;

use common::Repo;

#[test]
fn why_run_reports_host_resources_as_chef_prints_them() {
    let repo = Repo::new();
    repo.cookbook("host", "1.0.0").recipe(
        "host",
        "default",
        r#"resources:
  - type: user
    name: root
  - type: user
    name: skillet-no-such-user
    action: remove
  - type: service
    name: skillet-no-such-daemon
    action: [start, restart]
  - type: cron
    name: skillet nightly
    user: skillet-no-such-user
    minute: "0"
    command: /bin/true
"#,
    );
    let run = repo.solo(&["-W", "-o", "recipe[host]"]);
    run.ok()
        .shows("* linux_user[root] action create (up to date)")
        .shows("* linux_user[skillet-no-such-user] action remove (up to date)")
        .shows("- Would start service service[skillet-no-such-daemon]")
        .shows("- Would restart service service[skillet-no-such-daemon]")
        .shows("- Would add crontab entry for cron[skillet nightly]");
    assert!(
        run.stdout().contains("would have been updated"),
        "{}",
        run.all()
    );
}

#[test]
fn a_service_without_init_script_stops_the_run_naming_it() {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if pid1.trim() == "systemd" {
        eprintln!("skipped: under systemd the unit would be asked for, not an init script");
        return;
    }
    let repo = Repo::new();
    repo.cookbook("host", "1.0.0").recipe(
        "host",
        "default",
        r#"resources:
  - type: service
    name: skillet-no-such-daemon
    action: start
"#,
    );
    let run = repo.solo(&["-o", "recipe[host]"]);
    assert_ne!(run.code(), 0);
    run.shows("service[skillet-no-such-daemon]")
        .shows("/etc/init.d/skillet-no-such-daemon does not exist!");
}
