//! Where the tests, and `evict demo --live`, start and reach the real servers they talk to
//! (moto, oidc-provider, scim2-server, a Shared Signals receiver): where each program is
//! installed (or the command that installs it), a free loopback port, a child process that is
//! killed when dropped, and — for tests only — the one rule for a server that is missing:
//! under `CI=true` the test fails loudly; elsewhere it is skipped with a printed notice.
//!
//! This module is the testkit's edge: unlike the generator it reads the environment and starts
//! processes.

use std::fmt::{self, Display};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this run is CI's (`CI=true`), where every real component must be present.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A real component `what` is not there because of `why`: fails the test under `CI=true`,
/// prints a notice elsewhere. Call it, then return from the test. Test policy only: a program
/// reports a missing component with [`NotInstalled`].
#[track_caller]
pub fn missing(what: &str, why: impl Display) {
    if under_ci() {
        panic!("CI=true and {what} is not available: {why}");
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("skipping outside CI: {what} is not available: {why}");
    }
}

/// A real component that is not installed, and the command that installs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotInstalled {
    /// What is missing, for people: `moto_server (AWS IAM and STS)`.
    pub component: &'static str,
    /// What was looked for and not found.
    pub why: String,
    /// The command that installs it.
    pub install: &'static str,
}

impl Display for NotInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not installed ({}); install it with: {}",
            self.component, self.why, self.install
        )
    }
}

impl std::error::Error for NotInstalled {}

/// Why a server did not start: it is not installed, or it is and starting it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The program, or what it needs, is not installed.
    NotInstalled(NotInstalled),
    /// It is installed and did not start: which program and why.
    Failed(String),
}

impl Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotInstalled(n) => n.fmt(f),
            StartError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StartError {}

impl From<NotInstalled> for StartError {
    fn from(n: NotInstalled) -> Self {
        StartError::NotInstalled(n)
    }
}

/// The first executable file called `name` in a folder of `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// Whether `path` is a file someone may execute.
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A TCP port on 127.0.0.1 that nothing listens on at the moment of asking.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface gives out a port")
}

/// A server process on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl ServerProcess {
    /// Starts `command` (which must listen on 127.0.0.1:`port`) and waits until the port
    /// accepts connections; its stderr is this process's. The error says which program failed
    /// and why, for [`missing`].
    pub fn start(command: Command, port: u16, within: Duration) -> Result<Self, String> {
        Self::start_with(command, port, within, Stdio::inherit())
    }

    /// [`ServerProcess::start`] with the server's stderr (where these servers log each
    /// request) written to the file `log` instead.
    pub fn start_logged(
        command: Command,
        port: u16,
        within: Duration,
        log: &Path,
    ) -> Result<Self, String> {
        let file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create the log file {}: {e}", log.display()))?;
        Self::start_with(command, port, within, Stdio::from(file))
    }

    fn start_with(
        mut command: Command,
        port: u16,
        within: Duration,
        stderr: Stdio,
    ) -> Result<Self, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let mut server = ServerProcess { child, port };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + within;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{program} exited ({status}) before listening on {addr}"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{program} did not listen on {addr} within {within:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's `tests/` folder, where the test servers' scripts are.
fn test_scripts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// Where scim2-server (PyPI) is: `scim2-server` on PATH.
pub fn locate_scim2_server() -> Result<PathBuf, NotInstalled> {
    find_program("scim2-server").ok_or_else(|| NotInstalled {
        component: "scim2-server (SCIM 2.0)",
        why: "scim2-server is not on PATH".into(),
        install: "pip install scim2-server",
    })
}

/// scim2-server (PyPI) on a free port, accepting `token` as its bearer token, its access log
/// (a line a request) written to `log`. Its SCIM base is `base_url() + "/v2"`.
pub fn scim2_server(token: &str, log: &Path) -> Result<ServerProcess, StartError> {
    let program = locate_scim2_server()?;
    let port = free_port();
    let mut command = Command::new(program);
    command
        .args(["--hostname", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--bearer-token")
        .arg(token);
    ServerProcess::start_logged(command, port, Duration::from_secs(60), log)
        .map_err(StartError::Failed)
}

/// Where moto's server is: `moto_server` on PATH.
pub fn locate_moto() -> Result<PathBuf, NotInstalled> {
    find_program("moto_server").ok_or_else(|| NotInstalled {
        component: "moto_server (AWS IAM and STS)",
        why: "moto_server is not on PATH".into(),
        install: "pip install 'moto[server]'",
    })
}

/// moto's IAM/STS server (PyPI `moto[server]`) on a free port, its access log (a line a
/// request) written to `log`. It takes any signature until [`moto_check_signatures`].
pub fn moto_server(log: &Path) -> Result<ServerProcess, StartError> {
    let program = locate_moto()?;
    let port = free_port();
    let mut command = Command::new(program);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    ServerProcess::start_logged(command, port, Duration::from_secs(60), log)
        .map_err(StartError::Failed)
}

/// From now on the moto server on `port` checks every request's signature and the caller's
/// policies (`POST /moto-api/reset-auth` with `0`).
pub fn moto_check_signatures(port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("moto on port {port}: {e}"))?;
    write!(
        stream,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\n0"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    if answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "moto refused reset-auth: {}",
            answer.lines().next().unwrap_or("")
        ))
    }
}

/// The oidc-provider test server (`tests/oidc/server.mjs`), embedded so that a program can run
/// it from anywhere: clients `app` (authorization code + PKCE, refresh tokens) and `service`
/// (client credentials), their secrets from `OIDC_APP_SECRET` and `OIDC_SERVICE_SECRET`.
pub const OIDC_SERVER_SCRIPT: &str = include_str!("../../../tests/oidc/server.mjs");

/// The major version of oidc-provider the script is written for.
const OIDC_PROVIDER_MAJOR: u64 = 8;
/// The oldest Node.js major oidc-provider 8 runs on.
const NODE_MAJOR: u64 = 18;

/// Node.js and an oidc-provider package it can import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcInstall {
    /// The `node` program.
    pub node: PathBuf,
    /// The `node_modules` folder holding `oidc-provider`.
    pub modules: PathBuf,
    /// oidc-provider's version there.
    pub version: String,
}

/// The `node_modules` folders oidc-provider may be in, in the order they are tried: the
/// repository's `tests/oidc/node_modules` (above the current folder or the running program),
/// then npm's global folder (`npm root -g`), then each folder of `NODE_PATH`.
fn node_modules_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let modules = dir.join("tests/oidc/node_modules");
            if modules.is_dir() && !out.contains(&modules) {
                out.push(modules);
            }
        }
    }
    if let Some(npm) = find_program("npm")
        && let Ok(answer) = Command::new(npm)
            .args(["root", "-g"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
        && answer.status.success()
    {
        let root = PathBuf::from(String::from_utf8_lossy(&answer.stdout).trim());
        if root.is_dir() && !out.contains(&root) {
            out.push(root);
        }
    }
    if let Some(paths) = std::env::var_os("NODE_PATH") {
        for dir in std::env::split_paths(&paths) {
            if dir.is_dir() && !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}

/// The major version of a `vMAJOR.MINOR.PATCH` or `MAJOR.MINOR.PATCH` text.
fn major(version: &str) -> Option<u64> {
    version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Where Node.js (18 or later) and oidc-provider 8 are, or what to install.
pub fn locate_oidc_provider() -> Result<OidcInstall, NotInstalled> {
    let node_missing = |why: String| NotInstalled {
        component: "Node.js (for oidc-provider)",
        why,
        install: "apt-get install nodejs npm && npm install -g oidc-provider@8",
    };
    let node = find_program("node").ok_or_else(|| node_missing("node is not on PATH".into()))?;
    let version = Command::new(&node)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| node_missing(format!("cannot run {}: {e}", node.display())))?;
    let node_version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    if major(&node_version).is_none_or(|m| m < NODE_MAJOR) {
        return Err(node_missing(format!(
            "{} is {node_version:?}; oidc-provider 8 needs Node.js {NODE_MAJOR} or later",
            node.display()
        )));
    }
    let mut seen = Vec::new();
    for modules in node_modules_candidates() {
        let manifest = modules.join("oidc-provider/package.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_default();
        if major(&version) == Some(OIDC_PROVIDER_MAJOR) {
            return Ok(OidcInstall {
                node,
                modules,
                version,
            });
        }
        seen.push(format!("{version} in {}", modules.display()));
    }
    Err(NotInstalled {
        component: "oidc-provider 8 (npm)",
        why: if seen.is_empty() {
            "not in tests/oidc/node_modules, npm's global folder or NODE_PATH".into()
        } else {
            format!("found only {}", seen.join(", "))
        },
        install: "npm install -g oidc-provider@8",
    })
}

/// oidc-provider running [`OIDC_SERVER_SCRIPT`] on a free port; stopped, and its folder
/// removed, when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    /// The server; its issuer is `base_url()`.
    pub server: ServerProcess,
    _dir: tempfile::TempDir,
}

impl OidcProvider {
    /// The issuer, `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        self.server.base_url()
    }

    /// `http://127.0.0.1:PORT`, the issuer.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
}

/// oidc-provider (found by [`locate_oidc_provider`]) on a free port, with the client secrets
/// of its `app` (authorization code + PKCE, refresh tokens) and `service` (client
/// credentials) clients; its warnings on this process's stderr.
pub fn oidc_provider(app_secret: &str, service_secret: &str) -> Result<OidcProvider, StartError> {
    let install = locate_oidc_provider()?;
    start_oidc_provider(&install, app_secret, service_secret, None)
}

/// Starts oidc-provider from `install` with the clients' secrets; its warnings go to `log`
/// when given, else to this process's stderr. The script is written to a temporary folder
/// whose `node_modules` is a link to the install's (how Node resolves an ES module import).
pub fn start_oidc_provider(
    install: &OidcInstall,
    app_secret: &str,
    service_secret: &str,
    log: Option<&Path>,
) -> Result<OidcProvider, StartError> {
    let failed =
        |what: &str, e: std::io::Error| StartError::Failed(format!("oidc-provider: {what}: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("evict-oidc-")
        .tempdir()
        .map_err(|e| failed("cannot make its folder", e))?;
    std::fs::write(dir.path().join("server.mjs"), OIDC_SERVER_SCRIPT)
        .map_err(|e| failed("cannot write server.mjs", e))?;
    std::os::unix::fs::symlink(&install.modules, dir.path().join("node_modules"))
        .map_err(|e| failed("cannot link node_modules", e))?;
    let port = free_port();
    let mut command = Command::new(&install.node);
    command
        .arg("server.mjs")
        .arg(port.to_string())
        .current_dir(dir.path())
        .env("OIDC_APP_SECRET", app_secret)
        .env("OIDC_SERVICE_SECRET", service_secret);
    let within = Duration::from_secs(30);
    let server = match log {
        Some(log) => ServerProcess::start_logged(command, port, within, log),
        None => ServerProcess::start(command, port, within),
    }
    .map_err(|e| StartError::Failed(format!("oidc-provider {}: {e}", install.version)))?;
    Ok(OidcProvider { server, _dir: dir })
}

/// The throttling proxy (`tests/throttle/proxy.py`) in front of `upstream`: each distinct
/// request is refused once (a read 429 with Retry-After: 1, a write 503), then passed on;
/// `POST /_proxy/reset` starts that over. One JSON line a request (method, path, status) goes
/// to `log`.
pub fn throttling_proxy(upstream: &str, log: &Path) -> Result<ServerProcess, String> {
    let port = free_port();
    let mut command = Command::new("python3");
    command
        .arg(test_scripts().join("throttle/proxy.py"))
        .arg(port.to_string())
        .arg(upstream);
    ServerProcess::start_logged(command, port, Duration::from_secs(30), log)
        .map_err(|e| format!("the throttling proxy (python3 tests/throttle/proxy.py): {e}"))
}

/// The lying SCIM service (`tests/scim-liar/liar.py`): 204 to every change, and every user
/// still `active: true`.
pub fn scim_liar() -> Result<ServerProcess, String> {
    let port = free_port();
    let mut command = Command::new("python3");
    command
        .arg(test_scripts().join("scim-liar/liar.py"))
        .arg(port.to_string());
    ServerProcess::start(command, port, Duration::from_secs(30))
}

/// The Shared Signals test receiver (`tests/ssf-receiver/receiver.py`, PyJWT): trusts the keys
/// in the JWKS file `jwks`, expects `issuer` and `audience`, records each POST as a JSON line
/// in `log`; `extra` adds its flags and `env` its environment. It takes SETs at
/// `base_url() + "/events"`.
pub fn ssf_receiver(
    jwks: &std::path::Path,
    issuer: &str,
    audience: &str,
    log: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Result<ServerProcess, String> {
    let port = free_port();
    let mut command = Command::new("python3");
    command
        .arg(test_scripts().join("ssf-receiver/receiver.py"))
        .args(["--port", &port.to_string()])
        .arg("--jwks")
        .arg(jwks)
        .args(["--issuer", issuer, "--audience", audience])
        .arg("--log")
        .arg(log)
        .args(extra)
        .envs(env.iter().copied());
    ServerProcess::start(command, port, Duration::from_secs(20))
        .map_err(|e| format!("the SSF test receiver (python3 with PyJWT): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_does_not_exist_is_named_in_the_error() {
        let err = ServerProcess::start(
            Command::new("evict-no-such-server"),
            free_port(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.contains("evict-no-such-server"), "{err}");
    }

    #[test]
    fn a_missing_program_names_its_install_command() {
        let err = NotInstalled {
            component: "moto_server (AWS IAM and STS)",
            why: "moto_server is not on PATH".into(),
            install: "pip install 'moto[server]'",
        };
        assert_eq!(
            StartError::from(err).to_string(),
            "moto_server (AWS IAM and STS) is not installed (moto_server is not on PATH); \
             install it with: pip install 'moto[server]'"
        );
    }

    #[test]
    fn versions_are_read_by_their_major() {
        assert_eq!(major("v20.20.2"), Some(20));
        assert_eq!(major("8.8.1\n"), Some(8));
        assert_eq!(major("x"), None);
    }

    #[test]
    fn a_program_that_exits_is_reported_not_waited_for() {
        let started = Instant::now();
        let err = ServerProcess::start(Command::new("true"), free_port(), Duration::from_secs(30))
            .unwrap_err();
        assert!(err.contains("exited"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
