//! `file`: a file's content, owner, group and mode (Chef's `Chef::Provider::File`).
//!
//! The content logic here is shared with `template` and `cookbook_file`: they differ only in
//! where the new content comes from ([`FileProperties::check`] takes it as a closure). Content is
//! managed only when the resource has some; owner, group and mode only when specified. Every
//! write stages a temp file beside the destination and renames it over (see
//! `crate::platform::fs`), so a file is never half-written.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::access::AccessControl;
use crate::platform::accounts::Accounts;
use crate::platform::clock::LocalTime;
use crate::platform::command::CommandSpec;
use crate::platform::diff::{content_diff, DiffSide};
use crate::platform::fs::{self, Ownership, PathState};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The property list of a file-like resource: the properties every one of them has (those
/// [`FileProperties::read`] reads), then the resource's own.
macro_rules! file_like_properties {
    ($($own:literal),* $(,)?) => {
        &[
            "path",
            "owner",
            "group",
            "mode",
            "backup",
            "checksum",
            "atomic_update",
            "force_unlink",
            "manage_symlink_source",
            "verify",
            $($own),*
        ]
    };
}
pub(crate) use file_like_properties;

/// Properties of `file`.
pub const PROPERTIES: &[&str] = file_like_properties!["content"];

/// Actions of `file`, `template` and `cookbook_file`.
pub const ACTIONS: &[Action] = &[
    Action::Create,
    Action::CreateIfMissing,
    Action::Delete,
    Action::Touch,
];

/// Symlink hops followed before a path counts as a loop.
const MAX_SYMLINK_HOPS: usize = 40;

/// The properties file, template and cookbook_file share, and the content logic.
#[derive(Debug, Clone)]
pub struct FileProperties {
    /// The managed path as the recipe names it (absolute).
    pub path: PathBuf,
    /// `owner`, `group` and `mode`.
    pub access: AccessControl,
    /// How many backups to keep; 0 disables them.
    pub backup: u32,
    /// Expected SHA-256 of the content.
    pub checksum: Option<String>,
    /// Accepted for compatibility; writes are always staged and renamed.
    pub atomic_update: bool,
    /// Replace a non-file at the path instead of failing.
    pub force_unlink: bool,
    /// `None`: follow a symlink to a regular file (Chef warns); `Some(false)`: do not.
    pub manage_symlink_source: Option<bool>,
    /// Commands run against the staged file, `%{path}` replaced by its path.
    pub verify: Vec<String>,
}

/// One step of a file plan, carried out in order by `apply`.
#[derive(Debug)]
enum Step {
    /// Remove a non-file at the path (`force_unlink`).
    Unlink,
    /// Copy the current file into the backup directory.
    Backup,
    /// Stage the content beside the destination, verify, rename over.
    Write {
        content: Vec<u8>,
        staged: PathBuf,
        ownership: Ownership,
    },
    /// Set owner, group and mode.
    SetAccess(Ownership),
    /// Set atime/mtime to now.
    Touch,
    /// Remove the file (after its backup).
    Delete { backup: bool },
}

/// What `check` found and `apply` needs: where the file really is, and the steps.
#[derive(Debug)]
struct FilePlan {
    /// The logical path being managed (the symlink's target when following one).
    logical: PathBuf,
    steps: Vec<Step>,
}

/// What `check` learned about the managed path.
struct Target {
    logical: PathBuf,
    host: PathBuf,
    /// The metadata of the regular file there, if there is one.
    existing: Option<std::fs::Metadata>,
    /// A non-file at the path that `force_unlink` removes first.
    unlink: Option<&'static str>,
    /// Where new content is staged (host path); the diff header names it too.
    staged: PathBuf,
}

impl FileProperties {
    /// Reads the shared properties; `path` defaults to the resource name.
    pub fn read(props: &Properties<'_>) -> Result<Self> {
        let decl = props.decl();
        let path = PathBuf::from(props.string("path")?.unwrap_or_else(|| decl.name.clone()));
        if !path.is_absolute() {
            return Err(Error::compile(
                props.location("path"),
                format!(
                    "expected `path` to be an absolute path, got \"{}\"",
                    path.display()
                ),
            ));
        }
        let backup = match props.get("backup").map(|p| &p.value) {
            Some(serde_json::Value::Bool(false)) => 0,
            Some(serde_json::Value::Bool(true)) => 5,
            _ => props.u32("backup")?.unwrap_or(5),
        };
        let checksum = props.string("checksum")?.map(|c| c.to_ascii_lowercase());
        if let Some(sum) = &checksum {
            if sum.len() != 64 || !sum.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::compile(
                    props.location("checksum"),
                    "expected `checksum` to be a SHA-256 checksum (64 hex digits)",
                ));
            }
        }
        Ok(Self {
            path,
            access: AccessControl {
                owner: props.principal("owner")?,
                group: props.principal("group")?,
                mode: props.mode("mode")?,
            },
            backup,
            checksum,
            atomic_update: props.bool("atomic_update")?.unwrap_or(true),
            force_unlink: props.bool("force_unlink")?.unwrap_or(false),
            manage_symlink_source: props.bool("manage_symlink_source")?,
            verify: read_verify(props)?,
        })
    }

    /// The plan for `action`; `content` yields the new content (`None`: content unmanaged) and
    /// is only called when the content matters.
    pub fn check(
        &self,
        action: Action,
        cx: &Context,
        sensitive: bool,
        content: &dyn Fn(&Context) -> Result<Option<Vec<u8>>>,
    ) -> Result<Plan> {
        match action {
            Action::Create | Action::CreateIfMissing | Action::Touch => {
                self.check_create(action, cx, sensitive, content)
            }
            Action::Delete => self.check_delete(cx),
            _ => Ok(Plan::up_to_date()),
        }
    }

    fn check_create(
        &self,
        action: Action,
        cx: &Context,
        sensitive: bool,
        content: &dyn Fn(&Context) -> Result<Option<Vec<u8>>>,
    ) -> Result<Plan> {
        let target = self.locate(cx)?;
        if action == Action::CreateIfMissing && target.existing.is_some() {
            return Ok(Plan::up_to_date());
        }
        let mut plan = Plan::up_to_date();
        let mut steps = Vec::new();
        if let Some(kind) = target.unlink {
            plan.push(Change::new(format!(
                "unlink {kind} at {}",
                self.path.display()
            )));
            steps.push(Step::Unlink);
        }
        let new_content = content(cx)?;
        if let (Some(bytes), Some(_)) = (&new_content, &self.checksum) {
            self.check_checksum(&fs::sha256_hex(bytes))?;
        }
        let accounts = self.accounts();
        let access = self
            .access
            .changes(target.existing.as_ref(), &accounts, cx.why_run)?;
        let wanted = self.access.resolve(&accounts, cx.why_run)?;
        match &target.existing {
            None => {
                plan.push(Change::new(format!(
                    "create new file {}",
                    target.logical.display()
                )));
                let bytes = new_content.clone().unwrap_or_default();
                if new_content.is_some() && !cx.why_run {
                    self.describe_content(&mut plan, &target, None, &bytes, cx, sensitive);
                }
                steps.push(Step::Write {
                    staged: target.staged.clone(),
                    content: bytes,
                    ownership: wanted,
                });
            }
            // The current content is read only when content is managed or verified; a no-op
            // compares bytes and hashes nothing.
            Some(meta) if new_content.is_some() || self.checksum.is_some() => {
                let current = fs::read(&target.host)?;
                match &new_content {
                    Some(bytes) if *bytes != current => {
                        self.describe_content(
                            &mut plan,
                            &target,
                            Some(&current),
                            bytes,
                            cx,
                            sensitive,
                        );
                        if self.backup > 0 {
                            steps.push(Step::Backup);
                        }
                        steps.push(Step::Write {
                            staged: target.staged.clone(),
                            content: bytes.clone(),
                            ownership: wanted.or_existing(Some(meta)),
                        });
                    }
                    None => self.check_checksum(&fs::sha256_hex(&current))?,
                    Some(_) => {}
                }
            }
            Some(_) => {}
        }
        if !access.is_empty() {
            plan.changes.extend(access.changes);
            steps.push(Step::SetAccess(access.ownership));
        }
        if action == Action::Touch {
            plan.push(Change::new(format!(
                "update utime on file {}",
                target.logical.display()
            )));
            steps.push(Step::Touch);
        }
        if !plan.is_empty() {
            plan.set_payload(FilePlan {
                logical: target.logical,
                steps,
            });
        }
        Ok(plan)
    }

    fn check_delete(&self, cx: &Context) -> Result<Plan> {
        let host = cx.host_path(&self.path);
        let state = PathState::of(&host)?;
        let backup = match &state {
            PathState::Missing => return Ok(Plan::up_to_date()),
            // A dangling link counts as absent, as Ruby's File.exist? does.
            PathState::Symlink(_) if std::fs::metadata(&host).is_err() => {
                return Ok(Plan::up_to_date())
            }
            PathState::Symlink(_) => false,
            PathState::File(_) => self.backup > 0,
            PathState::Directory(_) | PathState::Other(..) => {
                return Err(Error::resource(
                    "Chef::Exceptions::FileTypeMismatch",
                    format!(
                        "Cannot delete {}: it is a {}, not a file",
                        self.path.display(),
                        state.type_name()
                    ),
                ))
            }
        };
        let mut plan = Plan::up_to_date();
        plan.push(Change::new(format!("delete file {}", self.path.display())));
        plan.set_payload(FilePlan {
            logical: self.path.clone(),
            steps: vec![Step::Delete { backup }],
        });
        Ok(plan)
    }

    /// Carries out a plan made by [`FileProperties::check`].
    pub fn apply(&self, mut plan: Plan, cx: &Context) -> Result<()> {
        let Some(file_plan) = plan.take_payload::<FilePlan>() else {
            return Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no file plan for {}", self.path.display()),
            ));
        };
        let host = cx.host_path(&file_plan.logical);
        let logical = &file_plan.logical;
        for step in file_plan.steps {
            match step {
                Step::Unlink => remove_any(&cx.host_path(&self.path))?,
                Step::Backup => fs::backup(&host, logical, &cx.file_backup_path, self.backup)?,
                Step::Write {
                    content,
                    staged,
                    ownership,
                } => {
                    let write = if self.atomic_update {
                        fs::stage_and_rename
                    } else {
                        fs::stage_and_copy
                    };
                    write(&host, &staged, &content, ownership, &|p| {
                        self.run_verify(p, &content, cx)
                    })?
                }
                Step::SetAccess(ownership) => fs::set_ownership(&host, ownership, true)?,
                Step::Touch => fs::touch_times(&host)?,
                Step::Delete { backup } => {
                    if backup {
                        fs::backup(&host, logical, &cx.file_backup_path, self.backup)?;
                    }
                    std::fs::remove_file(&host).map_err(|e| Error::io(&host, e))?;
                }
            }
        }
        Ok(())
    }

    /// Finds the regular file to manage: the path itself, or a symlink's target.
    fn locate(&self, cx: &Context) -> Result<Target> {
        let host = cx.host_path(&self.path);
        self.check_parent(cx)?;
        let state = PathState::of(&host)?;
        let mut target = Target {
            logical: self.path.clone(),
            host: host.clone(),
            existing: None,
            unlink: None,
            staged: fs::staging_path(&host),
        };
        match state {
            PathState::Missing => {}
            PathState::File(meta) => target.existing = Some(meta),
            PathState::Symlink(_) if self.force_unlink => target.unlink = Some("symlink"),
            PathState::Symlink(_) if self.manage_symlink_source != Some(false) => {
                let resolved = resolve_symlink(cx, &self.path)?;
                let resolved_host = cx.host_path(&resolved);
                match PathState::of(&resolved_host)? {
                    PathState::File(meta) => {
                        target.staged = fs::staging_path(&resolved_host);
                        target.logical = resolved;
                        target.host = resolved_host;
                        target.existing = Some(meta);
                    }
                    other => {
                        return Err(Error::resource(
                            "Chef::Exceptions::FileTypeMismatch",
                            format!(
                                "File {} is a symlink to {} which is a {}, not a file",
                                self.path.display(),
                                resolved.display(),
                                other.type_name()
                            ),
                        ))
                    }
                }
            }
            other if self.force_unlink => target.unlink = Some(other.type_name()),
            other => {
                return Err(Error::resource(
                    "Chef::Exceptions::FileTypeMismatch",
                    format!(
                        "File {} exists, but is a {}, set force_unlink to true to remove",
                        self.path.display(),
                        other.type_name()
                    ),
                ))
            }
        }
        Ok(target)
    }

    /// A missing parent is an error, except in why-run where Chef assumes an earlier
    /// resource would have created it.
    fn check_parent(&self, cx: &Context) -> Result<()> {
        let Some(parent) = self.path.parent() else {
            return Ok(());
        };
        if cx.why_run || cx.host_path(parent).is_dir() {
            return Ok(());
        }
        Err(Error::resource(
            "Chef::Exceptions::EnclosingDirectoryDoesNotExist",
            format!("Parent directory {} does not exist.", parent.display()),
        ))
    }

    fn check_checksum(&self, actual: &str) -> Result<()> {
        match &self.checksum {
            Some(expected) if expected != actual => Err(Error::resource(
                "Chef::Exceptions::ChecksumMismatch",
                format!(
                    "Checksum on resource ({}...) does not match checksum on content ({}...)",
                    expected.chars().take(6).collect::<String>(),
                    actual.chars().take(6).collect::<String>()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `update content in file P from OLD to NEW` and the diff (or the sensitive notice).
    fn describe_content(
        &self,
        plan: &mut Plan,
        target: &Target,
        current: Option<&[u8]>,
        new: &[u8],
        cx: &Context,
        sensitive: bool,
    ) {
        let old_sum = current.map(fs::sha256_hex);
        let line = format!(
            "update content in file {} from {} to {}",
            target.logical.display(),
            fs::short_checksum(old_sum.as_deref()),
            fs::short_checksum(Some(&fs::sha256_hex(new)))
        );
        if sensitive {
            plan.push(Change::new(line));
            plan.push(Change::new("suppressed sensitive resource"));
            return;
        }
        let now = LocalTime::now().diff_stamp();
        let old_time = target
            .existing
            .as_ref()
            .and_then(|m| m.modified().ok())
            .map(|t| LocalTime::of(t).diff_stamp())
            .unwrap_or_else(|| now.clone());
        let old_label = format!("{}\t{old_time}", target.logical.display());
        let staged = target
            .logical
            .with_file_name(target.staged.file_name().unwrap_or_default());
        let new_label = format!("{}\t{now}", staged.display());
        let diff = content_diff(
            DiffSide {
                content: current.unwrap_or_default(),
                label: &old_label,
            },
            DiffSide {
                content: new,
                label: &new_label,
            },
            &cx.diff,
        );
        plan.push(Change::with_diff(line, diff));
    }

    /// Runs every `verify` command against the staged file; on failure keeps the proposed
    /// content under `file_cache_path/failed_validations/` and fails.
    fn run_verify(&self, staged: &Path, content: &[u8], cx: &Context) -> Result<()> {
        for template in &self.verify {
            let command = template.replace("%{path}", &staged.to_string_lossy());
            let ok = CommandSpec::shell(command)
                .run(&cx.command_env())
                .map(|o| o.success())
                .unwrap_or(false);
            if !ok {
                self.keep_failed_validation(content, cx);
                return Err(Error::resource(
                    "Chef::Exceptions::ValidationFailed",
                    format!(
                        "Proposed content for {} failed verification {template}",
                        self.path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn keep_failed_validation(&self, content: &[u8], cx: &Context) {
        let dir = cx.file_cache_path.join("failed_validations");
        let name = self.path.file_name().unwrap_or_default();
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join(name), content);
        }
    }

    /// /etc/passwd and /etc/group are read only when an owner or group is named.
    fn accounts(&self) -> Accounts {
        if self.access.owner.is_some() || self.access.group.is_some() {
            Accounts::load()
        } else {
            Accounts::default()
        }
    }
}

fn read_verify(props: &Properties<'_>) -> Result<Vec<String>> {
    let Some(prop) = props.get("verify") else {
        return Ok(Vec::new());
    };
    let commands: Vec<String> = match &prop.value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                super::properties::type_error(
                    "verify",
                    "a command string or array of strings",
                    prop,
                )
            })?,
        _ => {
            return Err(super::properties::type_error(
                "verify",
                "a command string or array of strings",
                prop,
            ))
        }
    };
    if commands.iter().any(|c| c.contains("%{file}")) {
        return Err(Error::compile(
            prop.location.clone(),
            "`verify` commands must use %{path}, not %{file}",
        ));
    }
    Ok(commands)
}

/// Follows a symlink chain through the context's root; `InvalidSymlink` when it dangles or loops.
fn resolve_symlink(cx: &Context, logical: &Path) -> Result<PathBuf> {
    let invalid = || {
        Error::resource(
            "Chef::Exceptions::InvalidSymlink",
            format!(
                "Could not resolve symlink at {} to a real file",
                logical.display()
            ),
        )
    };
    let mut current = logical.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        let host = cx.host_path(&current);
        match PathState::of(&host)? {
            PathState::Missing => return Err(invalid()),
            PathState::Symlink(_) => {
                let text = std::fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
                let parent = current.parent().unwrap_or(Path::new("/"));
                current = normalize(&parent.join(text));
            }
            _ => return Ok(current),
        }
    }
    Err(invalid())
}

/// Removes `.` and `..` lexically (a symlink target is resolved relative to the link's dir).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Removes whatever is at `path`, a directory with its contents.
pub(crate) fn remove_any(path: &Path) -> Result<()> {
    let result = match PathState::of(path)? {
        PathState::Missing => Ok(()),
        PathState::Directory(_) => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    };
    result.map_err(|e| Error::io(path, e))
}

/// `file "/path"`: content given inline.
#[derive(Debug)]
pub struct FileResource {
    id: ResourceId,
    common: Common,
    file: FileProperties,
    content: Option<Vec<u8>>,
}

/// Builds a `file` from its declaration.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    Ok(Box::new(FileResource {
        id: ResourceId::new("file", &decl.name),
        common,
        file: FileProperties::read(&props)?,
        content: props.string("content")?.map(String::into_bytes),
    }))
}

impl FileResource {
    /// The shared file properties.
    pub fn file(&self) -> &FileProperties {
        &self.file
    }
}

impl Resource for FileResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        self.file.check(action, cx, self.common.sensitive, &|_| {
            Ok(self.content.clone())
        })
    }

    fn apply(&self, _action: Action, plan: Plan, cx: &mut Context) -> Result<()> {
        self.file.apply(plan, cx)
    }
}

/// The mode bits of a metadata, for tests and callers that print them.
pub fn mode_of(meta: &std::fs::Metadata) -> u32 {
    meta.mode() & 0o7777
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;
    use std::os::unix::fs::MetadataExt;

    fn file(host: &Host, props: serde_json::Value) -> Box<dyn Resource> {
        host.build("file", "/etc/app.conf", props).unwrap()
    }

    fn stray_temp_files(host: &Host) -> Vec<String> {
        std::fs::read_dir(host.path("/etc"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".chef-"))
            .collect()
    }

    #[test]
    fn create_describes_like_chef_then_second_check_is_empty() {
        let mut host = Host::new();
        let r = file(&host, json!({"content": "a=1\n", "mode": "0600"}));
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(
            done,
            [
                "create new file /etc/app.conf",
                "update content in file /etc/app.conf from none to fe3209",
                "change mode from '' to '0600'",
            ]
        );
        assert_eq!(host.read("/etc/app.conf"), "a=1\n");
        let meta = std::fs::metadata(host.path("/etc/app.conf")).unwrap();
        assert_eq!(mode_of(&meta), 0o600);
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
        assert!(stray_temp_files(&host).is_empty());
    }

    #[test]
    fn content_update_has_checksums_and_a_unified_diff() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "old\n");
        let r = file(&host, json!({"content": "new\n"}));
        let plan = r.check(Action::Create, &mut host.cx).unwrap();
        assert_eq!(plan.changes.len(), 1);
        let change = &plan.changes[0];
        assert_eq!(
            change.description,
            "update content in file /etc/app.conf from 01d09d to 7aa7a5"
        );
        assert!(
            change.diff[0].starts_with("--- /etc/app.conf\t"),
            "{:?}",
            change.diff
        );
        assert!(
            change.diff[1].starts_with("+++ /etc/.chef-app"),
            "{:?}",
            change.diff
        );
        assert!(change.diff.contains(&"-old".to_string()));
        assert!(change.diff.contains(&"+new".to_string()));
    }

    #[test]
    fn sensitive_hides_the_diff() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "old\n");
        let r = file(&host, json!({"content": "secret\n", "sensitive": true}));
        let plan = r.check(Action::Create, &mut host.cx).unwrap();
        assert_eq!(plan.changes[1].description, "suppressed sensitive resource");
        assert!(plan.changes.iter().all(|c| c.diff.is_empty()));
    }

    #[test]
    fn why_run_check_changes_nothing_and_omits_new_file_content_line() {
        let mut host = Host::new();
        host.cx.why_run = true;
        let r = file(&host, json!({"content": "x\n", "mode": "0644"}));
        let lines = host.check(r.as_ref(), Action::Create);
        assert_eq!(
            lines,
            [
                "create new file /etc/app.conf",
                "change mode from '' to '0644'"
            ]
        );
        assert!(!host.path("/etc/app.conf").exists());
        assert_eq!(std::fs::read_dir(host.path("/etc")).unwrap().count(), 0);
    }

    #[test]
    fn why_run_assumes_a_missing_parent_would_be_created() {
        let mut host = Host::new();
        host.cx.why_run = true;
        let r = host
            .build("file", "/opt/app/conf", json!({"content": "x"}))
            .unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Create),
            ["create new file /opt/app/conf"]
        );
        host.cx.why_run = false;
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(
            err.class(),
            "Chef::Exceptions::EnclosingDirectoryDoesNotExist"
        );
    }

    #[test]
    fn content_is_replaced_by_rename_never_written_in_place() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "old\n");
        let before = std::fs::metadata(host.path("/etc/app.conf")).unwrap().ino();
        let r = file(&host, json!({"content": "new\n", "backup": false}));
        host.converge(r.as_ref(), Action::Create).unwrap();
        let after = std::fs::metadata(host.path("/etc/app.conf")).unwrap().ino();
        assert_ne!(
            before, after,
            "a new inode means the old file was never written to"
        );
        assert_eq!(host.read("/etc/app.conf"), "new\n");
    }

    #[test]
    fn atomic_update_false_writes_in_place_after_verifying() {
        let mut host = Host::new();
        host.write("/etc/hosts", "old\n");
        let before = std::fs::metadata(host.path("/etc/hosts")).unwrap().ino();
        let bad = host
            .build(
            "file",
            "/etc/hosts",
            json!({"content": "bad\n", "atomic_update": false, "verify": "false", "backup": false}),
        )
        .unwrap();
        assert!(host.converge(bad.as_ref(), Action::Create).is_err());
        assert_eq!(host.read("/etc/hosts"), "old\n");
        let r = host
            .build(
                "file",
                "/etc/hosts",
                json!({"content": "new\n", "atomic_update": false, "backup": false}),
            )
            .unwrap();
        host.converge(r.as_ref(), Action::Create).unwrap();
        let after = std::fs::metadata(host.path("/etc/hosts")).unwrap().ino();
        assert_eq!(before, after, "the same inode, written in place");
        assert_eq!(host.read("/etc/hosts"), "new\n");
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn backups_keep_the_newest_n_and_false_disables_them() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "v0\n");
        for i in 1..=4 {
            let r = file(&host, json!({"content": format!("v{i}\n"), "backup": 2}));
            host.converge(r.as_ref(), Action::Create).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let dir = host.cx.file_backup_path.join("etc");
        let mut kept: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|n| n.starts_with("app.conf.chef-")));
        assert_eq!(std::fs::read_to_string(dir.join(&kept[1])).unwrap(), "v3\n");

        let r = file(&host, json!({"content": "v5\n", "backup": false}));
        host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn verify_failure_leaves_the_old_file_and_keeps_the_proposal() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "good\n");
        let r = file(
            &host,
            json!({"content": "bad\n", "verify": "grep -q good %{path}"}),
        );
        let err = host.converge(r.as_ref(), Action::Create).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::ValidationFailed");
        assert_eq!(host.read("/etc/app.conf"), "good\n");
        assert!(stray_temp_files(&host).is_empty());
        let kept = host.cx.file_cache_path.join("failed_validations/app.conf");
        assert_eq!(std::fs::read_to_string(kept).unwrap(), "bad\n");

        let ok = file(
            &host,
            json!({"content": "good too\n", "verify": "grep -q good %{path}"}),
        );
        host.converge(ok.as_ref(), Action::Create).unwrap();
        assert_eq!(host.read("/etc/app.conf"), "good too\n");
    }

    #[test]
    fn verify_rejects_percent_file() {
        let host = Host::new();
        let err = host
            .build("file", "/etc/app.conf", json!({"verify": "check %{file}"}))
            .unwrap_err();
        assert!(err.to_string().contains("%{path}"), "{err}");
    }

    #[test]
    fn symlink_at_path_manages_the_source_file() {
        let mut host = Host::new();
        host.write("/srv/real.conf", "old\n");
        std::os::unix::fs::symlink("/srv/real.conf", host.path("/etc/app.conf")).unwrap();
        let r = file(&host, json!({"content": "new\n"}));
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(
            done,
            ["update content in file /srv/real.conf from 01d09d to 7aa7a5"]
        );
        assert_eq!(host.read("/srv/real.conf"), "new\n");
        let link = std::fs::symlink_metadata(host.path("/etc/app.conf")).unwrap();
        assert!(link.file_type().is_symlink());
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn relative_symlink_is_followed_from_its_directory() {
        let mut host = Host::new();
        host.write("/etc/real.conf", "x\n");
        std::os::unix::fs::symlink("real.conf", host.path("/etc/app.conf")).unwrap();
        let r = file(&host, json!({"content": "x\n"}));
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn dangling_symlink_is_invalid_and_unmanaged_symlink_mismatches() {
        let mut host = Host::new();
        std::os::unix::fs::symlink("/nowhere", host.path("/etc/app.conf")).unwrap();
        let r = file(&host, json!({"content": "x\n"}));
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::InvalidSymlink");

        let r = file(
            &host,
            json!({"content": "x\n", "manage_symlink_source": false}),
        );
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::FileTypeMismatch");

        let r = file(&host, json!({"content": "x\n", "force_unlink": true}));
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(done[0], "unlink symlink at /etc/app.conf");
        let meta = std::fs::symlink_metadata(host.path("/etc/app.conf")).unwrap();
        assert!(meta.file_type().is_file());
    }

    #[test]
    fn directory_at_path_is_a_type_mismatch_unless_force_unlink() {
        let mut host = Host::new();
        std::fs::create_dir(host.path("/etc/app.conf")).unwrap();
        let r = file(&host, json!({"content": "x\n"}));
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::FileTypeMismatch");
        assert!(
            err.to_string().contains("set force_unlink to true"),
            "{err}"
        );
        let r = file(&host, json!({"content": "x\n", "force_unlink": true}));
        host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(host.read("/etc/app.conf"), "x\n");
    }

    #[test]
    fn owner_and_group_by_name_and_by_id() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "x\n");
        let by_name = file(&host, json!({"owner": "nobody", "group": "daemon"}));
        let done = host.converge(by_name.as_ref(), Action::Create).unwrap();
        assert_eq!(
            done,
            [
                "change owner from 'root' to 'nobody'",
                "change group from 'root' to 'daemon'"
            ]
        );
        let meta = std::fs::metadata(host.path("/etc/app.conf")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 1));
        assert!(host.check(by_name.as_ref(), Action::Create).is_empty());

        let by_id = file(&host, json!({"owner": 0, "group": "0"}));
        let done = host.converge(by_id.as_ref(), Action::Create).unwrap();
        assert_eq!(
            done,
            [
                "change owner from '65534' to '0'",
                "change group from '1' to '0'"
            ]
        );
        assert!(host.check(by_id.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn unknown_owner_fails_with_user_id_not_found() {
        let mut host = Host::new();
        let r = file(&host, json!({"owner": "no-such-user-here"}));
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::UserIDNotFound");
    }

    #[test]
    fn create_if_missing_leaves_an_existing_file_alone() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "mine\n");
        let r = file(&host, json!({"content": "theirs\n", "mode": "0600"}));
        assert!(host.check(r.as_ref(), Action::CreateIfMissing).is_empty());
        std::fs::remove_file(host.path("/etc/app.conf")).unwrap();
        let done = host.converge(r.as_ref(), Action::CreateIfMissing).unwrap();
        assert_eq!(done[0], "create new file /etc/app.conf");
    }

    #[test]
    fn touch_always_updates_utime() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "x\n");
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        std::fs::File::options()
            .write(true)
            .open(host.path("/etc/app.conf"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let r = file(&host, json!({}));
        let done = host.converge(r.as_ref(), Action::Touch).unwrap();
        assert_eq!(done, ["update utime on file /etc/app.conf"]);
        let mtime = std::fs::metadata(host.path("/etc/app.conf"))
            .unwrap()
            .modified()
            .unwrap();
        assert!(mtime > old);
        assert_eq!(host.check(r.as_ref(), Action::Touch).len(), 1);
    }

    #[test]
    fn delete_backs_up_then_removes_and_is_then_up_to_date() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "x\n");
        let r = file(&host, json!({}));
        let done = host.converge(r.as_ref(), Action::Delete).unwrap();
        assert_eq!(done, ["delete file /etc/app.conf"]);
        assert!(!host.path("/etc/app.conf").exists());
        let backups = std::fs::read_dir(host.cx.file_backup_path.join("etc"))
            .unwrap()
            .count();
        assert_eq!(backups, 1);
        assert!(host.check(r.as_ref(), Action::Delete).is_empty());
    }

    #[test]
    fn checksum_must_match_the_content() {
        let mut host = Host::new();
        let wrong = "0".repeat(64);
        let r = file(&host, json!({"content": "x\n", "checksum": wrong}));
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::ChecksumMismatch");
        let right = fs::sha256_hex(b"x\n");
        let r = file(&host, json!({"content": "x\n", "checksum": right}));
        host.converge(r.as_ref(), Action::Create).unwrap();
    }

    #[test]
    fn unspecified_permissions_and_content_are_never_touched() {
        let mut host = Host::new();
        host.write("/etc/app.conf", "anything\n");
        let r = file(&host, json!({}));
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }
}
