//! `skillet upload`: put a chef-repo's cookbooks, roles, environments, data bags and nodes on a
//! Chef server, as `knife upload` does; a second upload of the same repository sends nothing.

use super::UploadArgs;
use crate::converge::exit_code;
use crate::error::{Error, Result};
use crate::repo::{Config, Repository};
use crate::server::upload::{self, Outcome};
use std::path::PathBuf;

/// What can be uploaded, in the order it is uploaded (cookbooks before the roles that name them).
const KINDS: &[&str] = &["cookbooks", "roles", "environments", "data_bags", "nodes"];

/// Runs `upload` and returns the exit code.
pub fn run(args: &UploadArgs) -> i32 {
    match upload_all(args) {
        Ok(outcome) => {
            for what in &outcome.changed {
                println!("Uploaded {what}");
            }
            if outcome.changed.is_empty() {
                println!(
                    "Nothing to upload: the server already has all {} objects",
                    outcome.unchanged
                );
            } else {
                println!(
                    "Uploaded {} objects ({} cookbook files sent), {} unchanged",
                    outcome.changed.len(),
                    outcome.files_sent,
                    outcome.unchanged
                );
            }
            exit_code::SUCCESS
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            exit_code::for_error(&e)
        }
    }
}

fn upload_all(args: &UploadArgs) -> Result<Outcome> {
    for kind in &args.kinds {
        if !KINDS.contains(&kind.as_str()) {
            return Err(Error::input(
                "Chef::Exceptions::ConfigurationError",
                format!(
                    "cannot upload `{kind}`: expected one of {}",
                    KINDS.join(", ")
                ),
            ));
        }
    }
    let chosen = args.config.clone().or_else(|| {
        [".chef/config.rb", ".chef/knife.rb", "knife.rb"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    });
    let mut config = Config::load_for_server(chosen.as_deref())?;
    if let Some(repo) = &args.repo {
        let repo = crate::repo::config::absolute(repo);
        config.cookbook_path = vec![repo.join("cookbooks")];
        config.role_path = repo.join("roles");
        config.environment_path = repo.join("environments");
        config.data_bag_path = repo.join("data_bags");
        config.node_path = repo.join("nodes");
    }
    let url = crate::server::server_url(args.server_url.as_deref(), &config.server)?;
    let user = args
        .user
        .clone()
        .or_else(|| config.node_name.clone())
        .ok_or_else(|| {
            Error::input(
                "Chef::Exceptions::ConfigurationError",
                "no user: give -u NAME or set node_name in the config file",
            )
        })?;
    let key = args
        .key
        .clone()
        .or_else(|| config.server.client_key.clone())
        .ok_or_else(|| {
            Error::input(
                "Chef::Exceptions::ConfigurationError",
                "no key: give -k KEY or set client_key in the config file",
            )
        })?;
    let api = crate::server::connect(&url, &user, &key, &config.server)?;
    let repo = Repository::open(&config)?;
    let wanted: Vec<&str> = if args.kinds.is_empty() {
        KINDS[..4].to_vec()
    } else {
        KINDS
            .iter()
            .copied()
            .filter(|k| args.kinds.iter().any(|a| a == k))
            .collect()
    };
    let mut outcome = Outcome::default();
    for kind in wanted {
        match kind {
            "cookbooks" => upload::cookbooks(&api, &repo, &mut outcome)?,
            "roles" => upload::named_objects(&api, "roles", &config.role_path, &mut outcome)?,
            "environments" => {
                upload::named_objects(&api, "environments", &config.environment_path, &mut outcome)?
            }
            "data_bags" => upload::data_bags(&api, &repo, &mut outcome)?,
            _ => upload::named_objects(&api, "nodes", &config.node_path, &mut outcome)?,
        }
    }
    Ok(outcome)
}
