//! The shell scripts run on the target, one per step: probe, upload, install, converge,
//! collect.
//!
//! Only POSIX `sh`, coreutils, `tar`, `df` and `uname` are assumed on the target. The upload
//! lands in a private directory (`mktemp -d`) as the login user; the install then copies
//! each piece to a temporary name beside its destination, fsyncs it and only then renames
//! everything into place, after checking free space, so a failure (full disk, a killed
//! connection) leaves the previous installation, or none, but never half of one.

use super::bundle::{Layout, CONFIG_DIR, CRON_FILE};
use super::transport::shell_quote;

/// What the probe learned about the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// `uname -s`.
    pub kernel: String,
    /// `uname -m`.
    pub machine: String,
    /// The login user's uid.
    pub uid: u32,
    /// KiB free on the file system that will hold the install directory.
    pub install_free_kib: u64,
    /// KiB free in the upload's temporary directory.
    pub upload_free_kib: u64,
    /// The SHA-256 of the installed binary, when it has the size of the one bootstrapping.
    pub installed_digest: Option<String>,
}

/// The exit status the install script uses for "not enough space".
pub const NO_SPACE: i32 = 90;
/// The exit status the install script uses for "the binary does not run on the target".
pub const NOT_RUNNABLE: i32 = 91;

/// `uname -s`, `uname -m`, `id -u`, the KiB free for the install directory (on its nearest
/// existing ancestor) and in the temporary directory, one a line, then the installed
/// binary's SHA-256 if its size is `size` (a binary of another size cannot be the same, and
/// is not read).
pub fn probe_script(layout: &Layout, size: u64) -> String {
    format!(
        r#"uname -s; uname -m; id -u
p={dir}
while [ ! -d "$p" ]; do p=$(dirname "$p"); done
df -Pk "$p" | awk 'NR==2 {{print $4}}'
df -Pk "${{TMPDIR:-/tmp}}" | awk 'NR==2 {{print $4}}'
b={binary}
if [ -f "$b" ] && [ "$(wc -c < "$b")" -eq {size} ]; then sha256sum < "$b"; fi"#,
        dir = shell_quote(&layout.install_dir),
        binary = shell_quote(&layout.binary())
    )
}

/// Reads the probe's output.
pub fn parse_probe(text: &str) -> Option<Probe> {
    let mut lines = text.lines().map(str::trim);
    Some(Probe {
        kernel: lines.next()?.to_string(),
        machine: lines.next()?.to_string(),
        uid: lines.next()?.parse().ok()?,
        install_free_kib: lines.next()?.parse().ok()?,
        upload_free_kib: lines.next()?.parse().ok()?,
        installed_digest: lines
            .next()
            .and_then(|l| l.split_whitespace().next())
            .filter(|d| d.len() == 64)
            .map(str::to_string),
    })
}

/// Whether a target's `uname -m` runs a binary built for `arch` (Rust's `ARCH` name).
pub fn arch_matches(machine: &str, arch: &str) -> bool {
    let normal = match machine {
        "x86_64" | "amd64" => "x86_64",
        "aarch64" | "arm64" | "armv8l" => "aarch64",
        "i386" | "i486" | "i586" | "i686" => "x86",
        m if m.starts_with("armv") => "arm",
        "riscv64" => "riscv64",
        "ppc64le" => "powerpc64",
        "s390x" => "s390x",
        other => other,
    };
    normal == arch
}

/// Unpacks the tar stream on standard input into a fresh private directory and prints its
/// path; the directory is removed when unpacking fails.
pub fn upload_script() -> &'static str {
    r#"set -u
d=$(mktemp -d "${TMPDIR:-/tmp}/skillet-bootstrap.XXXXXX") || exit 1
if tar -x -o -f - -C "$d"; then echo "$d"; else s=$?; rm -rf "$d"; exit $s; fi"#
}

/// Copies the upload into place: binary, repo (a link swapped in one rename), config,
/// first-boot JSON and cron entry. Everything is copied and synced under temporary names
/// first; a failure before the renames removes them and leaves the host as it was.
pub fn install_script(stage: &str, layout: &Layout) -> String {
    let dir = shell_quote(&layout.install_dir);
    let stage = shell_quote(stage);
    format!(
        r#"set -eu
stage={stage}; dir={dir}; etc={CONFIG_DIR}; cron={CRON_FILE}
new=".skillet-new.$$"
cleanup() {{ rm -rf "$dir/bin/$new" "$dir/repos/$new" "$dir/$new" "$etc/$new".* "/etc/cron.d/$new"; }}
trap cleanup EXIT
need=$(( $(du -sk "$stage" | cut -f1) + 1024 ))
probe="$dir"
while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
free=$(df -Pk "$probe" | awk 'NR==2 {{print $4}}')
if [ "$free" -lt "$need" ]; then
  echo "not enough space for $dir: $need KiB needed, $free KiB free on the file system of $probe" >&2
  exit {NO_SPACE}
fi
mkdir -p "$dir/bin"
# Without an uploaded binary the installed one is this very build and stays.
if [ -f "$stage/skillet" ]; then
  cp "$stage/skillet" "$dir/bin/$new"; chmod 0755 "$dir/bin/$new"; sync "$dir/bin/$new"
  # A binary the target cannot run (an older C library, a noexec mount) stops here.
  if ! out=$("$dir/bin/$new" --version 2>&1); then
    echo "the uploaded skillet does not run there: $out" >&2
    exit {NOT_RUNNABLE}
  fi
fi
mkdir -p "$dir/nodes" "$etc"
# Solo mode ships a repo and solo.json; server mode client.rb and the validator's key (0600).
files=""
for f in solo.json client.rb validation.pem first-boot.json; do
  [ -f "$stage/$f" ] || continue
  (umask 077; cp "$stage/$f" "$etc/$new.$f")
  [ "$f" = validation.pem ] || chmod 0644 "$etc/$new.$f"
  files="$files $f"
done
if [ -f "$stage/cron" ]; then cp "$stage/cron" "/etc/cron.d/$new"; chmod 0644 "/etc/cron.d/$new"; fi
for f in $files; do sync "$etc/$new.$f"; done
if [ -d "$stage/repo" ]; then
  mkdir -p "$dir/repos"
  cp -R "$stage/repo" "$dir/repos/$new"
  find "$dir/repos/$new" -exec sync {{}} +
  id=$(date +%Y%m%d%H%M%S).$$
  mv "$dir/repos/$new" "$dir/repos/$id"
  ln -s "repos/$id" "$dir/$new"
fi
if [ -f "$dir/bin/$new" ]; then mv -f "$dir/bin/$new" "$dir/bin/skillet"; fi
if [ -d "$stage/repo" ]; then mv -fT "$dir/$new" "$dir/repo"; fi
for f in $files; do mv -f "$etc/$new.$f" "$etc/$f"; done
if [ -f "/etc/cron.d/$new" ]; then mv -f "/etc/cron.d/$new" "$cron"; fi
sync "$dir/bin" "$dir" "$etc"
if [ -d "$stage/repo" ]; then
  for old in "$dir"/repos/*; do [ "$old" = "$dir/repos/$id" ] || rm -rf "$old"; done
fi
"#
    )
}

/// The converge: the installed binary and config, or, in why-run, the uploaded ones.
pub fn run_script(stage: &str, layout: &Layout, why_run: bool, color: bool) -> String {
    let stage_q = shell_quote(stage);
    let color = if color { "--color" } else { "--no-color" };
    let report = format!("--report-file {stage_q}/report.json");
    if layout.server {
        return client_run_script(&stage_q, layout, why_run, color, &report);
    }
    if why_run {
        // Without an uploaded binary, the installed one is the same build.
        let installed = shell_quote(&layout.binary());
        format!(
            "cd {stage_q} && b=./skillet && {{ [ -f \"$b\" ] || b={installed}; }} && \
             exec \"$b\" solo -c why-run.json -W {color} {report}"
        )
    } else {
        format!(
            "exec {} solo -c {} {color} {report}",
            shell_quote(&layout.binary()),
            shell_quote(&layout.config())
        )
    }
}

/// Server mode's converge: `skillet client` with the first-boot JSON. A why-run uses the
/// uploaded config with the installed client key: registering would create the client on
/// the server with a key the host must then keep, so a node not yet registered is refused.
fn client_run_script(
    stage_q: &str,
    layout: &Layout,
    why_run: bool,
    color: &str,
    report: &str,
) -> String {
    let installed = shell_quote(&layout.binary());
    if why_run {
        format!(
            "k={CONFIG_DIR}/client.pem; if [ ! -f \"$k\" ]; then \
             echo \"this node is not registered with the Chef server yet ($k is missing), and \
             a why-run registers nothing: bootstrap once without -W\" >&2; exit 1; fi; \
             cd {stage_q} && b=./skillet && {{ [ -f \"$b\" ] || b={installed}; }} && \
             exec \"$b\" client -c why-run.rb -k \"$k\" -j first-boot.json -W {color} {report}"
        )
    } else {
        format!(
            "exec {installed} client -c {} -j {} {color} {report}",
            shell_quote(&layout.config()),
            shell_quote(&layout.first_boot())
        )
    }
}

/// Prints the run's JSON report, if any, and removes the upload directory.
pub fn collect_script(stage: &str) -> String {
    let stage = shell_quote(stage);
    format!("cat {stage}/report.json 2>/dev/null; rm -rf {stage}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_is_read_line_by_line() {
        assert_eq!(
            parse_probe("Linux\nx86_64\n1000\n2048\n4096\n"),
            Some(Probe {
                kernel: "Linux".into(),
                machine: "x86_64".into(),
                uid: 1000,
                install_free_kib: 2048,
                upload_free_kib: 4096,
                installed_digest: None,
            })
        );
        let digest = "ab".repeat(32);
        let probe = parse_probe(&format!("Linux\nx86_64\n0\n1\n1\n{digest}  -\n")).unwrap();
        assert_eq!(probe.installed_digest, Some(digest));
        assert_eq!(parse_probe("Linux\n"), None);
    }

    #[test]
    fn machines_map_to_rust_architectures() {
        assert!(arch_matches("x86_64", "x86_64"));
        assert!(arch_matches("aarch64", "aarch64"));
        assert!(arch_matches("armv7l", "arm"));
        assert!(!arch_matches("aarch64", "x86_64"));
        assert!(!arch_matches("i686", "x86_64"));
    }

    #[test]
    fn the_install_script_is_valid_sh() {
        let layout = Layout {
            install_dir: "/opt/it's here".into(),
            server: false,
        };
        for script in [
            install_script("/tmp/skillet-bootstrap.x", &layout),
            probe_script(&layout, 12),
            run_script("/tmp/x", &layout, true, false),
            run_script(
                "/tmp/x",
                &Layout {
                    server: true,
                    ..layout.clone()
                },
                true,
                false,
            ),
            run_script(
                "/tmp/x",
                &Layout {
                    server: true,
                    ..layout.clone()
                },
                false,
                true,
            ),
            collect_script("/tmp/x"),
            upload_script().to_string(),
        ] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .status()
                .unwrap();
            assert!(status.success(), "{script}");
        }
    }
}
