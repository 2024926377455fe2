//! The `tollgate` command line: serve, projections rebuild, bootstrap, openapi.

use clap::{Parser, Subcommand};
use tollgate_aggregates::organization::OrganizationCommand;
use tollgate_aggregates::types::Role;

use crate::app::{App, AppState, Meta};
use crate::config::Config;
use crate::crypto::{new_member_token, token_hash};

#[derive(Parser, Debug)]
#[command(name = "tollgate", version, about = "An LLM API gateway")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Manage the read models.
    Projections {
        #[command(subcommand)]
        action: ProjectionsAction,
    },
    /// Create an organization with an owner and print the owner's management token.
    Bootstrap {
        /// Name of the new organization.
        #[arg(long, default_value = "My organization")]
        organization: String,
        /// The owner's email address.
        #[arg(long)]
        email: String,
    },
    /// Print the OpenAPI document of the management API.
    Openapi,
    /// Run a mock LLM provider (OpenAI- and Anthropic-shaped) for benchmarks and tests.
    MockProvider {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: String,
        /// Chunks per streamed answer.
        #[arg(long, default_value_t = 8)]
        chunks: u32,
        /// Delay between streamed chunks, in milliseconds.
        #[arg(long, default_value_t = 0)]
        chunk_delay_ms: u64,
        /// Delay before the first byte, in milliseconds.
        #[arg(long, default_value_t = 0)]
        first_byte_delay_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProjectionsAction {
    /// Drop every read model and replay the event log.
    Rebuild,
}

/// What `bootstrap` created.
#[derive(Debug)]
pub struct Bootstrapped {
    pub organization_id: String,
    pub member_id: String,
    pub token: String,
}

/// Creates an organization and its first owner, recorded with actor `bootstrap`.
pub async fn bootstrap(
    app: &AppState,
    organization: &str,
    email: &str,
) -> anyhow::Result<Bootstrapped> {
    let meta = Meta {
        actor: "bootstrap".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let organization_id = uuid::Uuid::now_v7().to_string();
    let member_id = uuid::Uuid::now_v7().to_string();
    let token = new_member_token();
    let create = OrganizationCommand::Create {
        name: organization.into(),
        project_limit: None,
    };
    let owner = OrganizationCommand::AddMember {
        member_id: member_id.clone(),
        email: email.into(),
        role: Role::Owner,
        token_hash: token_hash(&token),
    };
    for cmd in [create, owner] {
        app.execute(&app.organizations, &organization_id, cmd, &meta)
            .await?;
    }
    Ok(Bootstrapped {
        organization_id,
        member_id,
        token,
    })
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => print!("{}", crate::api::openapi::document()),
        Command::MockProvider {
            listen,
            chunks,
            chunk_delay_ms,
            first_byte_delay_ms,
        } => {
            let config = crate::mock::MockConfig {
                chunks,
                chunk_delay: std::time::Duration::from_millis(chunk_delay_ms),
                first_byte_delay: std::time::Duration::from_millis(first_byte_delay_ms),
                ..Default::default()
            };
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            println!("mock provider listening on {}", listener.local_addr()?);
            let counters = std::sync::Arc::new(crate::mock::Counters::default());
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|t| {
                let _ = t.set_nodelay(true);
            });
            axum::serve(listener, crate::mock::router(config, counters))
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        Command::Serve => {
            let listen = config.server.listen.clone();
            let addr = tokio::net::lookup_host(&listen)
                .await?
                .next()
                .ok_or_else(|| anyhow::anyhow!("listen address {listen} resolves to nothing"))?;
            // Bound before the database is opened: a busy port is refused at once.
            let listener = crate::server::bind_shared(addr)?;
            let app = App::start(config).await?;
            let threads = app.config.server.threads;
            tracing::info!(
                address = %listener.local_addr()?,
                threads,
                max_connections = app.config.server.max_connections,
                "tollgate listening"
            );
            if threads == 0 {
                crate::server::serve(app, listener, shutdown_signal()).await?;
            } else {
                crate::server::serve_threads(app, listener, threads, shutdown_signal()).await?;
            }
        }
        Command::Projections {
            action: ProjectionsAction::Rebuild,
        } => {
            let app = App::start_without_spool(config).await?;
            let started = std::time::Instant::now();
            let position = app.projector.rebuild().await?;
            println!(
                "read models rebuilt up to position {position} in {:.2?}",
                started.elapsed()
            );
        }
        Command::Bootstrap {
            organization,
            email,
        } => {
            let app = App::start_without_spool(config).await?;
            let b = bootstrap(&app, &organization, &email).await?;
            println!("organization_id: {}", b.organization_id);
            println!("member_id:       {}", b.member_id);
            println!("owner token:     {}", b.token);
            println!("(shown once; use it as: Authorization: Bearer <token>)");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
