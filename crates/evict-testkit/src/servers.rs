//! Where the tests start and reach the real servers they talk to (moto, oidc-provider,
//! scim2-server, a Shared Signals receiver): a free loopback port, a child process that is
//! killed when the test ends, and the one rule for a server that is missing — under `CI=true`
//! the test fails loudly; elsewhere it is skipped with a printed notice.
//!
//! This module is the testkit's edge: unlike the generator it reads the environment and starts
//! processes.

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this run is CI's (`CI=true`), where every real component must be present.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A real component `what` is not there because of `why`: fails the test under `CI=true`,
/// prints a notice elsewhere. Call it, then return from the test.
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
    /// accepts connections. The error says which program failed and why, for [`missing`].
    pub fn start(mut command: Command, port: u16, within: Duration) -> Result<Self, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
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

/// scim2-server (PyPI) on a free port, accepting `token` as its bearer token, its access log
/// (a line a request) written to `log`. Its SCIM base is `base_url() + "/v2"`.
pub fn scim2_server(token: &str, log: &std::path::Path) -> Result<ServerProcess, String> {
    let port = free_port();
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "exec scim2-server \"$@\" 2>\"$SCIM_LOG\"",
            "scim2-server",
        ])
        .args(["--hostname", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--bearer-token")
        .arg(token)
        .env("SCIM_LOG", log);
    ServerProcess::start(command, port, Duration::from_secs(60))
        .map_err(|e| format!("scim2-server (PyPI; .ci/run installs it): {e}"))
}

/// moto's IAM/STS server (PyPI `moto[server]`) on a free port, its access log (a line a
/// request) written to `log`. It takes any signature until [`moto_check_signatures`].
pub fn moto_server(log: &std::path::Path) -> Result<ServerProcess, String> {
    let port = free_port();
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "exec moto_server \"$@\" 2>\"$MOTO_LOG\"",
            "moto_server",
        ])
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_LOG", log);
    ServerProcess::start(command, port, Duration::from_secs(60))
        .map_err(|e| format!("moto_server (pip install 'moto[server]'; .ci/run installs it): {e}"))
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

/// oidc-provider (npm, `tests/oidc/server.mjs` under node) on a free port, with the client
/// secrets of its `app` (authorization code + PKCE, refresh tokens) and `service` (client
/// credentials) clients. Its issuer is `base_url()`.
pub fn oidc_provider(app_secret: &str, service_secret: &str) -> Result<ServerProcess, String> {
    let dir = test_scripts().join("oidc");
    if !dir.join("node_modules/oidc-provider").is_dir() {
        return Err(
            "tests/oidc/node_modules is missing: run `npm ci --prefix tests/oidc` (.ci/run does)"
                .into(),
        );
    }
    let port = free_port();
    let mut command = Command::new("node");
    command
        .arg("server.mjs")
        .arg(port.to_string())
        .current_dir(&dir)
        .env("OIDC_APP_SECRET", app_secret)
        .env("OIDC_SERVICE_SECRET", service_secret);
    ServerProcess::start(command, port, Duration::from_secs(30))
        .map_err(|e| format!("oidc-provider (node tests/oidc/server.mjs): {e}"))
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
    fn a_program_that_exits_is_reported_not_waited_for() {
        let started = Instant::now();
        let err = ServerProcess::start(Command::new("true"), free_port(), Duration::from_secs(30))
            .unwrap_err();
        assert!(err.contains("exited"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
