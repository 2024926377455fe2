//! The environment layer: one table from each `TOLLGATE_*` variable to its key in the
//! configuration, applied onto the file's TOML tree before the tree is deserialized.

use tollgate_aggregates::Provider;
use toml::{Table, Value};

/// How a variable's text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Kept as a string.
    Text,
    /// Kept as a string; an empty value leaves the key as it was (unset secrets, paths).
    NonEmpty,
    /// An integer, a float or a boolean when it reads as one, else a string (for the
    /// deserializer to refuse with the field's expected type).
    Scalar,
}

/// Every variable with a fixed name, and its key. The providers' variables are added by
/// `variables` for each known provider.
pub const VARIABLES: &[(&str, &[&str], Kind)] = &[
    ("TOLLGATE_LISTEN", &["server", "listen"], Kind::Text),
    (
        "TOLLGATE_SERVER_THREADS",
        &["server", "threads"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_WORKER_THREADS",
        &["server", "worker_threads"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_HEADER_TIMEOUT_MS",
        &["server", "header_timeout_ms"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_IDLE_TIMEOUT_MS",
        &["server", "idle_timeout_ms"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_BODY_TIMEOUT_MS",
        &["server", "body_timeout_ms"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_MAX_CONNECTIONS",
        &["server", "max_connections"],
        Kind::Scalar,
    ),
    ("TOLLGATE_DATABASE_URL", &["database", "url"], Kind::Text),
    (
        "TOLLGATE_PROJECTOR_POLL_MS",
        &["database", "projector_poll_ms"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_MAX_BODY_BYTES",
        &["proxy", "max_body_bytes"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_CREDITS_FEE_PERCENT",
        &["proxy", "credits_fee_percent"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_UPSTREAM_TIMEOUT_SECS",
        &["proxy", "upstream_timeout_secs"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_MAX_RETRIES",
        &["proxy", "max_retries"],
        Kind::Scalar,
    ),
    (
        "TOLLGATE_ALLOWED_UPSTREAM_NETWORKS",
        &["proxy", "allowed_upstream_networks"],
        Kind::Text,
    ),
    (
        "TOLLGATE_SPOOL_DIR",
        &["usage", "spool_dir"],
        Kind::NonEmpty,
    ),
    (
        "TOLLGATE_ALERTS_POLL_MS",
        &["alerts", "poll_ms"],
        Kind::Scalar,
    ),
    ("TOLLGATE_ADMIN_TOKEN", &["admin_token"], Kind::NonEmpty),
    ("TOLLGATE_SECRET_KEY", &["secret_key"], Kind::NonEmpty),
    ("TOLLGATE_LOG_FORMAT", &["log_format"], Kind::Text),
];

/// One variable: its name, its key's path, and how its text is read.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub path: Vec<String>,
    pub kind: Kind,
}

impl Variable {
    /// The key as the file spells it: `server.listen`.
    pub fn key(&self) -> String {
        self.path.join(".")
    }
}

/// The whole table: `VARIABLES`, then `TOLLGATE_PROVIDER_<ID>_API_KEY` and `_BASE_URL` for
/// every known provider.
pub fn variables() -> Vec<Variable> {
    let fixed = VARIABLES.iter().map(|(name, path, kind)| Variable {
        name: name.to_string(),
        path: path.iter().map(|s| s.to_string()).collect(),
        kind: *kind,
    });
    let providers = Provider::ALL.iter().map(|p| p.id()).flat_map(|id| {
        ["api_key", "base_url"].map(|field| Variable {
            name: format!(
                "TOLLGATE_PROVIDER_{}_{}",
                id.to_uppercase(),
                field.to_uppercase()
            ),
            path: vec!["providers".into(), id.to_string(), field.into()],
            kind: Kind::NonEmpty,
        })
    });
    fixed.chain(providers).collect()
}

/// The variable that sets the key `key` (`server.listen`), if any.
pub fn variable_for(key: &str) -> Option<String> {
    variables()
        .into_iter()
        .find(|v| v.key() == key)
        .map(|v| v.name)
}

/// Sets onto `tree` every variable `get` returns a value for; returns the variables applied.
pub fn overlay(tree: &mut Table, get: impl Fn(&str) -> Option<String>) -> Vec<Variable> {
    let mut applied = Vec::new();
    for var in variables() {
        let Some(text) = get(&var.name) else { continue };
        if var.kind == Kind::NonEmpty && text.is_empty() {
            continue;
        }
        let value = match var.kind {
            Kind::Text | Kind::NonEmpty => Value::String(text),
            Kind::Scalar => scalar(text),
        };
        insert(tree, &var.path, value);
        applied.push(var);
    }
    applied
}

fn scalar(text: String) -> Value {
    let trimmed = text.trim();
    if let Ok(n) = trimmed.parse::<i64>() {
        Value::Integer(n)
    } else if let Ok(f) = trimmed.parse::<f64>() {
        Value::Float(f)
    } else if let Ok(b) = trimmed.parse::<bool>() {
        Value::Boolean(b)
    } else {
        Value::String(text)
    }
}

/// Sets `path` in `tree`, creating the tables on the way (a non-table there is replaced: the
/// environment wins).
fn insert(tree: &mut Table, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut table = tree;
    for part in parents {
        let entry = table
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        table = entry.as_table_mut().expect("a table");
    }
    table.insert(last.clone(), value);
}
