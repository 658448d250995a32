//! `bazaar nats-setup`: the credentials and the server configuration of a
//! closed bus.
//!
//! Every identity of [`Principal::all`] gets an nkey user: its seed goes to
//! `<dir>/<name>.nk` (mode 0600, kept when it exists, so running the command
//! again after an upgrade changes permissions, not credentials), and the
//! server configuration `<dir>/nats-server.conf` lists each public key with
//! the permissions the contract gives it. nkey users in the server's own
//! configuration, rather than operator/account JWTs, because one deployment
//! is one account: there is no resolver to run and nothing to sign, the file
//! holds no secret (public keys only), and revoking an identity is writing
//! the file again and reloading the server.

use std::io::Write;
use std::path::{Path, PathBuf};

use bazaar_subjects::bus::{Permissions, Principal};
use serde_json::{Value, json};

/// The server configuration's file name in the setup directory.
pub const SERVER_CONFIG: &str = "nats-server.conf";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an nkey user seed: {reason}")]
    BadSeed { path: PathBuf, reason: String },
    #[error("the base configuration {path} is not a JSON object: {reason}")]
    BadBase { path: PathBuf, reason: String },
    #[error("cannot create an nkey: {0}")]
    Key(String),
}

/// What `nats-setup` wrote.
#[derive(Debug, Clone)]
pub struct BusSetup {
    pub dir: PathBuf,
    /// Identities whose seeds were created now (the others were kept).
    pub created: Vec<Principal>,
}

impl BusSetup {
    pub fn server_config(&self) -> PathBuf {
        self.dir.join(SERVER_CONFIG)
    }
}

/// Writes (or refreshes) the credentials and the server configuration in
/// `dir`. `base`, a JSON server configuration (as NixOS writes one), is
/// merged in: everything of it is kept and `authorization` is added.
pub fn write(dir: &Path, base: Option<&Path>) -> Result<BusSetup, SetupError> {
    create_private_dir(dir)?;
    let mut created = Vec::new();
    let mut users = Vec::new();
    for principal in Principal::all() {
        let path = dir.join(format!("{}.nk", principal.name()));
        let key = if path.exists() {
            read_seed(&path)?
        } else {
            let key = nkeys::KeyPair::new_user();
            let seed = key.seed().map_err(|e| SetupError::Key(e.to_string()))?;
            write_private(&path, format!("{seed}\n").as_bytes())?;
            created.push(principal);
            key
        };
        users.push(user(&key.public_key(), &principal.permissions()));
    }
    let mut config = match base {
        Some(path) => read_base(path)?,
        None => json!({}),
    };
    config["authorization"] = json!({ "users": users });
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    // Public keys and permissions only: readable by the server's own user.
    let config_path = dir.join(SERVER_CONFIG);
    std::fs::write(&config_path, text).map_err(|source| SetupError::Write {
        path: config_path.clone(),
        source,
    })?;
    set_mode(&config_path, 0o644)?;
    Ok(BusSetup {
        dir: dir.to_owned(),
        created,
    })
}

fn user(public_key: &str, p: &Permissions) -> Value {
    json!({
        "nkey": public_key,
        "permissions": {
            "publish": { "allow": p.publish },
            "subscribe": { "allow": p.subscribe },
            "allow_responses": p.allow_responses,
        }
    })
}

fn read_seed(path: &Path) -> Result<nkeys::KeyPair, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |reason: String| SetupError::BadSeed {
        path: path.to_owned(),
        reason,
    };
    let key = nkeys::KeyPair::from_seed(text.trim()).map_err(|e| bad(e.to_string()))?;
    if !key.public_key().starts_with('U') {
        return Err(bad("not a user key".into()));
    }
    Ok(key)
}

fn read_base(path: &Path) -> Result<Value, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |reason: String| SetupError::BadBase {
        path: path.to_owned(),
        reason,
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if !value.is_object() {
        return Err(bad("not an object".into()));
    }
    Ok(value)
}

fn create_private_dir(dir: &Path) -> Result<(), SetupError> {
    std::fs::create_dir_all(dir).map_err(|source| SetupError::Write {
        path: dir.to_owned(),
        source,
    })?;
    set_mode(dir, 0o755)
}

/// Writes a secret readable by its owner only, from its first byte.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SetupError> {
    let err = |source| SetupError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(err)?;
    file.write_all(bytes).map_err(err)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SetupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| SetupError::Write {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// The permissions as a Markdown table, one row per identity, by what the
/// contract names (the server configuration spells each out in subjects).
/// README's Security section shows it; a test keeps the two the same.
pub fn permissions_table() -> String {
    let mut out = String::from(
        "| identity | serves (listens to) | requests | publishes | reads streams | queues to | KV buckets | Object Store |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "–".to_owned()
        } else {
            items
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    for p in Principal::all() {
        let Some(g) = p.grants() else {
            out.push_str(&format!(
                "| {} | everything (`>`): the operator's commands on the box |||||||\n",
                p.name()
            ));
            continue;
        };
        let serves = match p {
            Principal::Node(d) => vec![format!("{}.>", d.name())],
            _ => bazaar_subjects::bus::edge_listens()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        let requests = match p {
            Principal::Edge => "every endpoint".to_owned(),
            _ => list(g.calls.iter().map(|s| (*s).to_owned()).collect()),
        };
        let streams = |s: &[bazaar_subjects::Stream]| s.iter().map(|s| s.name.to_owned()).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            p.name(),
            list(serves),
            requests,
            list(g.publishes.iter().map(|s| (*s).to_owned()).collect()),
            list(streams(&g.reads)),
            list(streams(&g.queues_to)),
            list(g.kv.iter().map(|s| (*s).to_owned()).collect()),
            list(g.objects.iter().map(|s| (*s).to_owned()).collect()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_private_and_kept_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), None).unwrap();
        assert_eq!(first.created.len(), Principal::all().len());
        let seed = std::fs::read_to_string(dir.path().join("catalog.nk")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("catalog.nk"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = write(dir.path(), None).unwrap();
        assert!(again.created.is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("catalog.nk")).unwrap(),
            seed
        );
        let config = std::fs::read_to_string(first.server_config()).unwrap();
        let public = nkeys::KeyPair::from_seed(seed.trim()).unwrap().public_key();
        assert!(config.contains(&public));
        assert!(
            !config.contains(seed.trim()),
            "no seed in the server config"
        );
    }

    #[test]
    fn a_base_configuration_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.json");
        std::fs::write(&base, r#"{"port": 4222, "jetstream": {"store_dir": "/x"}}"#).unwrap();
        let setup = write(&dir.path().join("bus"), Some(&base)).unwrap();
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(setup.server_config()).unwrap()).unwrap();
        assert_eq!(config["port"], 4222);
        assert_eq!(config["jetstream"]["store_dir"], "/x");
        assert!(config["authorization"]["users"].as_array().unwrap().len() > 5);
    }

    #[test]
    fn the_readme_shows_the_permissions_the_contract_gives() {
        let readme = include_str!("../../../README.md");
        let table = permissions_table();
        assert!(
            readme.contains(&table),
            "README's permissions table is out of date; `bazaar nats-setup --print-permissions` prints it:\n{table}"
        );
    }

    #[test]
    fn a_broken_seed_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("edge.nk"), "not a seed").unwrap();
        let err = write(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("edge.nk"), "{err}");
    }
}
