//! Where the tests and benchmarks find the real PostgreSQL they run against.

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
