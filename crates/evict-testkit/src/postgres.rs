//! Where the tests and benchmarks find the real PostgreSQL they run against, and how a program
//! (`evict demo --live`) starts a throwaway cluster of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::servers::{
    NotInstalled, ServerProcess, StartError, find_program, free_port, is_executable,
};

/// The superuser URL of the test server: `EVICT_TEST_POSTGRES_URL`, or the machine's
/// PostgreSQL on 127.0.0.1:5432 (trust authentication, as on the development machines and CI).
pub fn admin_url() -> String {
    std::env::var("EVICT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its user and password replaced: how a test logs in as a role it created.
pub fn url_as(url: &str, user: &str, password: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("postgres://{user}:{password}@{host}")
}

/// A new, empty database `name` on the test server (dropped first if it exists), made with
/// `psql`; returns its URL, or why it could not be made (for `servers::missing`).
pub fn fresh_database(name: &str) -> Result<String, String> {
    let admin = admin_url();
    let made = std::process::Command::new("psql")
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "{admin}: {}",
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

/// What is missing when no PostgreSQL server programs are found.
fn postgres_not_installed(why: String) -> NotInstalled {
    NotInstalled {
        component: "PostgreSQL (initdb, pg_ctl, postgres)",
        why,
        install: "apt-get install postgresql",
    }
}

/// A PostgreSQL installation: the folder holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// The folder of the server programs.
    pub bin: PathBuf,
}

impl Install {
    fn complete(bin: &Path) -> bool {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| is_executable(&bin.join(p)))
    }

    /// The server's version, as `postgres --version` says it.
    pub fn version(&self) -> Option<String> {
        let out = Command::new(self.bin.join("postgres"))
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        // `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`: the first number.
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
    }
}

/// The server programs: `initdb` on PATH (its folder, links followed), else the newest
/// `/usr/lib/postgresql/VERSION/bin` (Debian and Ubuntu keep them off PATH).
pub fn locate() -> Result<Install, NotInstalled> {
    if let Some(initdb) = find_program("initdb") {
        let bin = std::fs::canonicalize(&initdb)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        if let Some(bin) = bin.filter(|b| Install::complete(b)) {
            return Ok(Install { bin });
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| Install::complete(bin))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| Install { bin })
        .ok_or_else(|| {
            postgres_not_installed(
                "initdb is neither on PATH nor in /usr/lib/postgresql/*/bin".into(),
            )
        })
}

/// Whose account a throwaway cluster's programs run under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    /// This process's user.
    Me,
    /// Another user, through `runuser -u NAME --` (initdb refuses to run as root).
    User {
        /// The user's name.
        name: String,
        /// Its user id.
        uid: u32,
        /// Its group id.
        gid: u32,
        /// The `runuser` program.
        runuser: PathBuf,
    },
}

impl RunAs {
    /// This user when it is not root; for root, the `postgres` user through `runuser`, or
    /// why a cluster cannot be started here.
    pub fn for_cluster() -> Result<RunAs, String> {
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .map_err(|e| format!("cannot tell which user this is: {e}"))?;
        if me != 0 {
            return Ok(RunAs::Me);
        }
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let (uid, gid) = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == "postgres")
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .ok_or("running as root, whom initdb refuses, and there is no 'postgres' user")?;
        let runuser = find_program("runuser")
            .or_else(|| {
                ["/usr/sbin/runuser", "/sbin/runuser"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| is_executable(p))
            })
            .ok_or("running as root, whom initdb refuses, and runuser is not installed")?;
        Ok(RunAs::User {
            name: "postgres".into(),
            uid,
            gid,
            runuser,
        })
    }

    fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::Me => Command::new(program),
            RunAs::User { name, runuser, .. } => {
                let mut c = Command::new(runuser);
                c.args(["-u", name, "--"]).arg(program);
                c
            }
        }
    }

    /// Hands `path` to the user the cluster runs as.
    fn give(&self, path: &Path) -> std::io::Result<()> {
        match self {
            RunAs::Me => Ok(()),
            RunAs::User { uid, gid, .. } => std::os::unix::fs::chown(path, Some(*uid), Some(*gid)),
        }
    }
}

/// A throwaway PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only, with
/// password (SCRAM) authentication over TCP; stopped (`pg_ctl stop -m fast`) and removed when
/// dropped.
#[derive(Debug)]
pub struct Cluster {
    server: ServerProcess,
    pg_ctl: PathBuf,
    data: PathBuf,
    run_as: RunAs,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Makes a cluster with `initdb` (superuser `postgres`, password `password`) and starts it
    /// on a free port.
    pub fn start(install: &Install, run_as: &RunAs, password: &str) -> Result<Cluster, StartError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            StartError::Failed(format!("PostgreSQL throwaway cluster: {what}: {e}"))
        };
        // Another user's cluster lives where that user can reach it: $TMPDIR may be private.
        let base = match run_as {
            RunAs::Me => std::env::temp_dir(),
            RunAs::User { .. } => PathBuf::from("/tmp"),
        };
        let dir = tempfile::Builder::new()
            .prefix("evict-pg-")
            .tempdir_in(base)
            .map_err(|e| failed("cannot make its folder", &e))?;
        run_as
            .give(dir.path())
            .map_err(|e| failed("cannot hand its folder to the postgres user", &e))?;
        let data = dir.path().join("data");
        let pwfile = dir.path().join("superuser-password");
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&pwfile)
                .map_err(|e| failed("cannot write the password file", &e))?;
            std::io::Write::write_all(&mut file, password.as_bytes())
                .map_err(|e| failed("cannot write the password file", &e))?;
        }
        run_as
            .give(&pwfile)
            .map_err(|e| failed("cannot hand the password file over", &e))?;
        let made = run_as
            .command(&install.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-host=scram-sha-256", "--auth-local=trust"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| failed("cannot run initdb", &e))?;
        let _ = std::fs::remove_file(&pwfile);
        if !made.status.success() {
            return Err(failed(
                "initdb failed",
                &String::from_utf8_lossy(&made.stderr).trim(),
            ));
        }
        let port = free_port();
        let mut command = run_as.command(&install.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .current_dir(dir.path());
        let log = dir.path().join("postgres.log");
        let pg_ctl = install.bin.join("pg_ctl");
        let server = ServerProcess::start_logged(command, port, Duration::from_secs(30), &log)
            .map_err(|e| {
                stop(run_as, &pg_ctl, &data, dir.path());
                failed("the server did not start", &e)
            })?;
        Ok(Cluster {
            server,
            pg_ctl,
            data,
            run_as: run_as.clone(),
            dir,
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The folder it lives in (removed when dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Stops the cluster in `data` with a fast shutdown, which ends every session and the server's
/// own processes (killing the postmaster alone would leave its backends to notice by
/// themselves, and a `runuser` in between would not pass the signal on).
fn stop(run_as: &RunAs, pg_ctl: &Path, data: &Path, dir: &Path) {
    let _ = run_as
        .command(pg_ctl)
        .arg("stop")
        .arg("-D")
        .arg(data)
        .args(["-m", "fast", "-w", "-t", "20"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop(&self.run_as, &self.pg_ctl, &self.data, self.dir.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_rewritten_for_another_role() {
        assert_eq!(
            url_as("postgres://postgres@127.0.0.1:5432/db", "r", "p"),
            "postgres://r:p@127.0.0.1:5432/db"
        );
        assert_eq!(url_as("postgres://h/db", "r", "p"), "postgres://r:p@h/db");
    }
}
