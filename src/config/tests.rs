use std::io::Write;

use super::*;
use tollgate_aggregates::Provider;

fn key_of(c: &Config, provider: Provider) -> Option<&str> {
    Some(
        c.providers
            .get(&provider)?
            .api_key
            .as_ref()?
            .expose_secret(),
    )
}

/// The environment `vars` as `from_layers` reads it.
fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    }
}

fn from_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_layers(None, env(vars))
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn env_overrides_defaults_and_secrets_do_not_print() {
    let c = from_env(&[
        ("TOLLGATE_ADMIN_TOKEN", "super-secret-admin"),
        ("TOLLGATE_LISTEN", "0.0.0.0:9"),
    ])
    .unwrap();
    assert_eq!(c.server.listen, "0.0.0.0:9");
    assert_eq!(c.admin_token(), Some("super-secret-admin"));
    assert!(!format!("{c:?}").contains("super-secret-admin"));
}

#[test]
fn numeric_secrets_stay_strings_and_empty_ones_are_ignored() {
    let c = from_env(&[
        ("TOLLGATE_ADMIN_TOKEN", "12345"),
        ("TOLLGATE_SECRET_KEY", ""),
        ("TOLLGATE_PROVIDER_OPENAI_API_KEY", "sk-1"),
        ("TOLLGATE_PROVIDER_GROQ_BASE_URL", "http://127.0.0.1:9/v1"),
        ("TOLLGATE_PROVIDER_XAI_API_KEY", ""),
    ])
    .unwrap();
    assert_eq!(c.admin_token(), Some("12345"));
    assert!(c.secret_key.is_none());
    assert_eq!(key_of(&c, Provider::OpenAi), Some("sk-1"));
    assert_eq!(
        c.providers[&Provider::Groq].base_url.as_deref(),
        Some("http://127.0.0.1:9/v1")
    );
    assert!(!c.providers.contains_key(&Provider::Xai));
}

#[test]
fn bad_log_format_is_an_error() {
    let err = from_env(&[("TOLLGATE_LOG_FORMAT", "xml")]).unwrap_err();
    assert!(err.to_string().contains("TOLLGATE_LOG_FORMAT"), "{err}");
    let c = from_env(&[("TOLLGATE_LOG_FORMAT", "json")]).unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
}

#[test]
fn server_limits_must_be_positive_numbers() {
    for name in [
        "TOLLGATE_HEADER_TIMEOUT_MS",
        "TOLLGATE_IDLE_TIMEOUT_MS",
        "TOLLGATE_BODY_TIMEOUT_MS",
        "TOLLGATE_MAX_CONNECTIONS",
        "TOLLGATE_WORKER_THREADS",
    ] {
        for bad in ["0", "-5", "soon", "", "1.5"] {
            let err = from_env(&[(name, bad)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={bad}: {err}");
        }
    }
    let c = from_env(&[("TOLLGATE_MAX_CONNECTIONS", "7")]).unwrap();
    assert_eq!(c.server.max_connections, 7);
    assert!(c.validate().is_ok());
    let mut c = c;
    c.server.header_timeout_ms = 0;
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("server.header_timeout_ms (TOLLGATE_HEADER_TIMEOUT_MS)"),
        "{err}"
    );
}

#[test]
fn env_type_error_names_the_variable_and_the_key() {
    let err = from_env(&[("TOLLGATE_MAX_BODY_BYTES", "lots")]).unwrap_err();
    let err = err.to_string();
    assert!(err.contains("TOLLGATE_MAX_BODY_BYTES"), "{err}");
    assert!(err.contains("proxy.max_body_bytes"), "{err}");
    let err = from_env(&[("TOLLGATE_CREDITS_FEE_PERCENT", "-1")]).unwrap_err();
    assert!(
        err.to_string().contains("TOLLGATE_CREDITS_FEE_PERCENT"),
        "{err}"
    );
    let c = from_env(&[("TOLLGATE_CREDITS_FEE_PERCENT", "2.5")]).unwrap();
    assert_eq!(c.proxy.credits_fee_percent, 2.5);
    let c = from_env(&[("TOLLGATE_CREDITS_FEE_PERCENT", "3")]).unwrap();
    assert_eq!(c.proxy.credits_fee_percent, 3.0);
}

#[test]
fn a_nested_file_is_read() {
    let f = file(
        r#"
        admin_token = "from-file"
        log_format = "json"

        [server]
        listen = "0.0.0.0:7000"
        threads = 0
        worker_threads = 3
        max_connections = 99

        [database]
        url = "postgres://localhost/tg"
        projector_poll_ms = 40

        [proxy]
        credits_fee_percent = 7
        allowed_upstream_networks = ["10.0.0.0/8", "127.0.0.0/8"]

        [usage]
        batch_size = 10
        spool_dir = "/run/spool"

        [providers.openai]
        api_key = "sk-file"
        base_url = "http://127.0.0.1:9/v1"
        "#,
    );
    let c = Config::from_layers(Some(f.path()), env(&[])).unwrap();
    assert_eq!(c.admin_token(), Some("from-file"));
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.server.listen, "0.0.0.0:7000");
    assert_eq!(
        (
            c.server.threads,
            c.server.worker_threads,
            c.server.max_connections
        ),
        (0, 3, 99)
    );
    assert_eq!(c.server.header_timeout_ms, 5_000, "a default kept");
    assert_eq!(c.database.url, "postgres://localhost/tg");
    assert_eq!(c.database.projector_poll_ms, 40);
    assert_eq!(c.proxy.credits_fee_percent, 7.0);
    assert_eq!(c.proxy.allowed_upstream_networks.len(), 2);
    assert_eq!((c.usage.batch_size, c.usage.flush_ms), (10, 100));
    assert_eq!(c.spool_dir(), PathBuf::from("/run/spool"));
    assert_eq!(key_of(&c, Provider::OpenAi), Some("sk-file"));
}

#[test]
fn env_overrides_the_file() {
    let f = file(
        r#"
        [server]
        listen = "0.0.0.0:7000"
        max_connections = 99
        [proxy]
        allowed_upstream_networks = "10.0.0.0/8"
        [providers.openai]
        api_key = "sk-file"
        base_url = "http://127.0.0.1:9/v1"
        "#,
    );
    let c = Config::from_layers(
        Some(f.path()),
        env(&[
            ("TOLLGATE_MAX_CONNECTIONS", "5"),
            ("TOLLGATE_ALLOWED_UPSTREAM_NETWORKS", "127.0.0.0/8,::1/128"),
            ("TOLLGATE_PROVIDER_OPENAI_API_KEY", "sk-env"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.listen, "0.0.0.0:7000");
    assert_eq!(c.server.max_connections, 5);
    assert_eq!(c.proxy.allowed_upstream_networks, ["127.0.0.0/8,::1/128"]);
    assert!(c.upstream_policy().unwrap().allows("::1".parse().unwrap()));
    assert_eq!(key_of(&c, Provider::OpenAi), Some("sk-env"));
    assert_eq!(
        c.providers[&Provider::OpenAi].base_url.as_deref(),
        Some("http://127.0.0.1:9/v1")
    );
}

#[test]
fn unknown_keys_are_refused() {
    let f = file("[server]\nlisten = \"127.0.0.1:1\"\nthreadz = 4\n");
    let err = Config::from_layers(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("threadz") && err.contains("server"), "{err}");
    let f = file("max_body_bytes = 5\n");
    let err = Config::from_layers(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_body_bytes"), "{err}");
    let f = file("[providers.openai]\nkey = \"x\"\n");
    assert!(Config::from_layers(Some(f.path()), env(&[])).is_err());
}

#[test]
fn a_file_type_error_names_the_file_and_the_key() {
    let f = file("[usage]\nflush_ms = \"soon\"\n");
    let err = Config::from_layers(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("usage.flush_ms") && err.contains("config file"),
        "{err}"
    );
}

#[test]
fn every_variable_has_a_key_of_the_config() {
    let vars = variables();
    assert!(vars
        .iter()
        .any(|v| v.name == "TOLLGATE_PROVIDER_OPENAI_BASE_URL"
            && v.key() == "providers.openai.base_url"));
    for var in vars.iter().filter(|v| v.kind == Kind::Scalar) {
        // A number the field accepts: no scalar variable points at a missing key.
        let c = from_env(&[(var.name.as_str(), "3")]);
        assert!(c.is_ok(), "{}: {:?}", var.name, c.err());
    }
}

#[test]
fn data_dir_follows_the_sqlite_path() {
    let mut c = Config::default();
    assert_eq!(c.data_dir(), Some(PathBuf::from(".")));
    c.database.url = "sqlite:///var/lib/tg/x.db?mode=rwc".into();
    assert_eq!(c.data_dir(), Some(PathBuf::from("/var/lib/tg")));
    assert_eq!(c.spool_dir(), PathBuf::from("/var/lib/tg/tollgate-spool"));
    c.database.url = "postgres://localhost/x".into();
    assert_eq!(c.data_dir(), None);
    assert_eq!(c.spool_dir(), PathBuf::from("tollgate-spool"));
    let c = from_env(&[
        ("TOLLGATE_DATABASE_URL", "postgres://localhost/x"),
        ("TOLLGATE_SPOOL_DIR", "/run/tg-spool"),
    ])
    .unwrap();
    assert_eq!(c.spool_dir(), PathBuf::from("/run/tg-spool"));
}
