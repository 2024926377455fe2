//! Test harness: a real server on port 0 over a fresh database (a new SQLite file or a new
//! Postgres database per test), and a small JSON client.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollgate::app::{App, AppState};
use tollgate::config::Config;

pub const ADMIN: &str = "test-admin-token";
/// 32 zero bytes, base64: tests only.
pub const SECRET_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per store: `both!(name)` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub app: AppState,
    pub database_url: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    /// Last: the database goes once the server has stopped.
    _scratch: Option<Scratch>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        // Its spool (a directory of its own, see `test_config`) goes with it.
        if let Some(dir) = &self.app.config.usage.spool_dir {
            if dir.starts_with(test_spool_root()) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// Where the tests' spool directories are made: one per gateway, since gateways of one test
/// may share a database (replicas) and two processes never share a spool.
pub fn test_spool_root() -> std::path::PathBuf {
    std::env::temp_dir().join("tollgate-test-spools")
}

/// Where the test databases live (the `test` database's server by default).
pub fn postgres_admin_url() -> String {
    std::env::var("TOLLGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// What a test's database leaves behind, removed when this is dropped (at the end of the
/// test, or as a failing test unwinds): the SQLite file's temporary directory, or the
/// Postgres database.
pub enum Scratch {
    Dir(tempfile::TempDir),
    Postgres(PgDatabase),
}

impl Scratch {
    /// The SQLite file's directory.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Dir(dir) => dir.path(),
            Self::Postgres(db) => panic!("{} is a Postgres database, not a directory", db.name),
        }
    }
}

/// A test's Postgres database, dropped with this value.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = std::mem::take(&mut self.admin_url);
        let name = std::mem::take(&mut self.name);
        // Drop runs inside the test's runtime (which may be unwinding), where blocking on
        // async work is refused: a fresh connection on a runtime of its own thread does it.
        // `WITH (FORCE)` ends the connections the gateway's pools still hold.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| format!("{name}: {e}"))?;
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            // Not a panic: this may run while a failing test unwinds.
            eprintln!("test database not dropped: {e}");
        }
    }
}

/// A fresh, empty database URL for `backend`, and what to remove once the test is over.
pub async fn fresh_database(backend: Backend) -> (String, Option<Scratch>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/tollgate.db", dir.path().display());
            (url, Some(Scratch::Dir(dir)))
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let admin = postgres_admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("Postgres must run at TOLLGATE_TEST_POSTGRES_URL (see README)");
            drop_stale_databases(&mut conn).await;
            let now = chrono::Utc::now().timestamp();
            let name = format!("tollgate_t_{now}_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            let url = format!("{base}/{name}");
            let db = PgDatabase {
                admin_url: admin.clone(),
                name,
            };
            (url, Some(Scratch::Postgres(db)))
        }
    }
}

/// Test databases are named `tollgate_t_<unix seconds>_<random>`; those over an hour old
/// belong to runs that were killed before their tests ended, and are dropped (best effort).
async fn drop_stale_databases(conn: &mut sqlx::PgConnection) {
    use sqlx::Row;
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'tollgate_t_%'")
        .fetch_all(&mut *conn)
        .await
    else {
        return;
    };
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    for row in rows {
        let name: String = row.get("datname");
        let born = name.split('_').nth(2).and_then(|s| s.parse::<i64>().ok());
        if born.is_none_or(|t| t < cutoff) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *conn)
                .await;
        }
    }
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config {
        admin_token: Some(ADMIN.to_string().into()),
        secret_key: Some(SECRET_KEY.to_string().into()),
        ..Config::default()
    };
    config.database.url = database_url.to_string();
    config.database.projector_poll_ms = 50;
    config.proxy.max_body_bytes = 64 * 1024;
    // The mock providers listen on loopback.
    config.proxy.allowed_upstream_networks = vec!["127.0.0.0/8,::1/128".into()];
    config.usage.spool_dir =
        Some(test_spool_root().join(uuid::Uuid::new_v4().simple().to_string()));
    config
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let (database_url, dir) = fresh_database(backend).await;
    spawn_with(test_config(&database_url), dir).await
}

pub async fn spawn_with(config: Config, scratch: Option<Scratch>) -> TestApp {
    // Logs go through the test harness's capture (shown for failing tests only).
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
    let database_url = config.database.url.clone();
    let app = App::start(config).await.expect("app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::clone(&app);
    let server = tokio::spawn(async move {
        tollgate::server::serve(served, listener, std::future::pending())
            .await
            .expect("server runs");
    });
    TestApp {
        base,
        app,
        database_url,
        client: reqwest::Client::new(),
        server,
        _scratch: scratch,
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl Resp {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn param(&self) -> &str {
        self.body["error"]["param"].as_str().unwrap_or("")
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("id in body").to_string()
    }
}

impl TestApp {
    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Creates an organization as admin; returns its id.
    pub async fn org(&self, name: &str) -> String {
        let r = self
            .post("/api/organizations", ADMIN, json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.id()
    }

    /// Adds a member; returns (member id, token).
    pub async fn member(&self, org: &str, email: &str, role: &str) -> (String, String) {
        let r = self
            .post(
                &format!("/api/organizations/{org}/members"),
                ADMIN,
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (
            r.body["member"]["id"].as_str().unwrap().to_string(),
            r.body["token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates a project as `token`; returns its id.
    pub async fn project(&self, org: &str, token: &str, name: &str) -> String {
        let r = self
            .post(
                "/api/projects",
                token,
                json!({"organization_id": org, "name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.id()
    }

    /// Creates an API key as `token`; returns (key id, key token).
    pub async fn key(&self, project: &str, token: &str) -> (String, String) {
        let r = self
            .post(
                &format!("/api/projects/{project}/keys"),
                token,
                json!({"description": "test key"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (
            r.body["key"]["id"].as_str().unwrap().to_string(),
            r.body["token"].as_str().unwrap().to_string(),
        )
    }

    /// An organization with an owner, an admin and a developer, plus one project.
    pub async fn team(&self, name: &str) -> Team {
        let org = self.org(name).await;
        let owner = self
            .member(&org, &format!("owner@{name}.io"), "owner")
            .await;
        let admin = self
            .member(&org, &format!("admin@{name}.io"), "admin")
            .await;
        let dev = self
            .member(&org, &format!("dev@{name}.io"), "developer")
            .await;
        let project = self.project(&org, &owner.1, "main").await;
        Team {
            org,
            owner,
            admin,
            dev,
            project,
        }
    }
}

pub struct Team {
    pub org: String,
    pub owner: (String, String),
    pub admin: (String, String),
    pub dev: (String, String),
    pub project: String,
}
