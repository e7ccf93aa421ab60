//! The servers of `evict demo --live`: every one found before anything starts (or every missing
//! one named with the command that installs it), then started together, and stopped by their
//! guards on every way out.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use evict_testkit::postgres::{Cluster, Install, RunAs};
use evict_testkit::servers::{
    self, NotInstalled, OidcInstall, OidcProvider, ServerProcess, StartError,
};

/// Where the story's PostgreSQL comes from.
#[derive(Debug)]
pub enum PostgresSource {
    /// A throwaway cluster made for the run (initdb) and removed after it.
    Cluster { install: Install, run_as: RunAs },
    /// A server that already runs: the run makes a fresh database and its own roles there, and
    /// drops them after.
    Running {
        admin_url: String,
        /// Which server, and why not a throwaway cluster.
        why: String,
    },
}

/// Every component the story needs, found; nothing started yet.
#[derive(Debug)]
pub struct Found {
    oidc: OidcInstall,
    postgres: PostgresSource,
}

/// Finds every component without starting anything; `Err` lists every one that is missing.
pub fn preflight() -> Result<Found, Vec<NotInstalled>> {
    let mut missing = Vec::new();
    if let Err(n) = servers::locate_moto() {
        missing.push(n);
    }
    if let Err(n) = servers::locate_scim2_server() {
        missing.push(n);
    }
    let oidc = servers::locate_oidc_provider()
        .map_err(|n| missing.push(n))
        .ok();
    let postgres = postgres_source().map_err(|n| missing.push(n)).ok();
    match (oidc, postgres) {
        (Some(oidc), Some(postgres)) if missing.is_empty() => Ok(Found { oidc, postgres }),
        _ => Err(missing),
    }
}

/// `host:port` of a PostgreSQL URL, when it can be read.
fn address_of(url: &str) -> Option<(String, u16)> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).ok()?;
    Some((options.get_host().to_string(), options.get_port()))
}

/// Whether a PostgreSQL URL's server accepts TCP connections (nothing is sent).
fn answers(url: &str) -> bool {
    let Some((host, port)) = address_of(url) else {
        return false;
    };
    (host.as_str(), port)
        .to_socket_addrs()
        .into_iter()
        .flatten()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok())
}

/// `EVICT_DEMO_POSTGRES_URL` when set (it must answer); else a throwaway cluster when the
/// server programs are installed and can run here; else the machine's server on
/// 127.0.0.1:5432 when one answers.
fn postgres_source() -> Result<PostgresSource, NotInstalled> {
    if let Some(url) = std::env::var("EVICT_DEMO_POSTGRES_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
    {
        if answers(&url) {
            let (host, port) = address_of(&url).unwrap_or_default();
            return Ok(PostgresSource::Running {
                admin_url: url,
                why: format!("the server EVICT_DEMO_POSTGRES_URL names ({host}:{port})"),
            });
        }
        return Err(NotInstalled {
            component: "PostgreSQL at EVICT_DEMO_POSTGRES_URL",
            why: match address_of(&url) {
                Some((host, port)) => format!("nothing accepts connections on {host}:{port}"),
                None => "it is not a postgres:// URL".into(),
            },
            install: "start that server, or unset EVICT_DEMO_POSTGRES_URL",
        });
    }
    let no_cluster = match evict_testkit::postgres::locate() {
        Ok(install) => match RunAs::for_cluster() {
            Ok(run_as) => return Ok(PostgresSource::Cluster { install, run_as }),
            Err(why) => why,
        },
        Err(n) => n.why,
    };
    let local = "postgres://postgres@127.0.0.1:5432/postgres";
    if answers(local) {
        return Ok(PostgresSource::Running {
            admin_url: local.into(),
            why: format!("the server on 127.0.0.1:5432 (no throwaway cluster: {no_cluster})"),
        });
    }
    Err(NotInstalled {
        component: "PostgreSQL (initdb, pg_ctl, postgres)",
        why: format!("{no_cluster}, and nothing answers on 127.0.0.1:5432"),
        install: "apt-get install postgresql",
    })
}

/// The story's PostgreSQL, started or reached.
// No Debug: it holds a plaintext secret made for the run.
pub struct Postgres {
    /// The throwaway cluster, when the run made one (stopped and removed on drop).
    pub cluster: Option<Cluster>,
    /// A superuser's URL (its password, for a cluster, made for the run).
    pub admin_url: String,
    /// Which server it is, for people.
    pub described: String,
}

/// The four servers. Dropping it stops every one that was started.
// No Debug: it holds a plaintext secret made for the run.
pub struct Lab {
    pub moto: ServerProcess,
    pub scim: ServerProcess,
    /// scim2-server's bearer token (made for the run).
    pub scim_token: String,
    pub oidc: OidcProvider,
    /// The `service` client's secret at oidc-provider (made for the run).
    pub oidc_service_secret: String,
    pub postgres: Postgres,
}

impl Lab {
    /// The ports of the servers the run started (not a server it only reached).
    pub fn ports(&self) -> Vec<u16> {
        let mut ports = vec![self.moto.port, self.scim.port, self.oidc.server.port];
        ports.extend(self.postgres.cluster.as_ref().map(Cluster::port));
        ports
    }
}

/// A random secret as hex, made at run time.
pub fn random_hex(bytes: usize) -> Result<String, StartError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|e| StartError::Failed(format!("the system's random source failed: {e}")))?;
    Ok(hex::encode(buffer))
}

/// Starts the four servers side by side (each waits for its port); their request logs go to
/// files in `logs`. When one fails, the ones already started are stopped before the error
/// returns.
pub fn start(found: Found, logs: &Path) -> Result<Lab, StartError> {
    let scim_token = random_hex(24)?;
    let oidc_service_secret = random_hex(24)?;
    let oidc_app_secret = random_hex(24)?;
    let Found { oidc, postgres } = found;
    std::thread::scope(|s| {
        let moto = s.spawn(|| servers::moto_server(&logs.join("moto_server.log")));
        let scim = s.spawn(|| servers::scim2_server(&scim_token, &logs.join("scim2-server.log")));
        let oidc = s.spawn(|| {
            servers::start_oidc_provider(
                &oidc,
                &oidc_app_secret,
                &oidc_service_secret,
                Some(&logs.join("oidc-provider.log")),
            )
        });
        let postgres = s.spawn(|| start_postgres(postgres));
        let (moto, scim, oidc, postgres) = (
            joined(moto.join()),
            joined(scim.join()),
            joined(oidc.join()),
            joined(postgres.join()),
        );
        Ok(Lab {
            moto: moto?,
            scim: scim?,
            scim_token: scim_token.clone(),
            oidc: oidc?,
            oidc_service_secret: oidc_service_secret.clone(),
            postgres: postgres?,
        })
    })
}

/// A start-up thread's result; a panic there is a failure to start.
fn joined<T>(r: std::thread::Result<Result<T, StartError>>) -> Result<T, StartError> {
    r.unwrap_or_else(|_| {
        Err(StartError::Failed(
            "a server's start-up thread panicked".into(),
        ))
    })
}

fn start_postgres(source: PostgresSource) -> Result<Postgres, StartError> {
    match source {
        PostgresSource::Cluster { install, run_as } => {
            let password = random_hex(18)?;
            let cluster = Cluster::start(&install, &run_as, &password)?;
            let user = match &run_as {
                RunAs::Me => "this user".to_string(),
                RunAs::User { name, .. } => format!("user {name}, as initdb refuses root"),
            };
            Ok(Postgres {
                admin_url: format!(
                    "postgres://postgres:{password}@127.0.0.1:{}/postgres",
                    cluster.port()
                ),
                described: format!(
                    "a throwaway PostgreSQL {} cluster on 127.0.0.1:{} ({}, run as {user})",
                    install.version().unwrap_or_default(),
                    cluster.port(),
                    install.bin.display(),
                ),
                cluster: Some(cluster),
            })
        }
        PostgresSource::Running { admin_url, why } => Ok(Postgres {
            cluster: None,
            admin_url,
            described: why,
        }),
    }
}
