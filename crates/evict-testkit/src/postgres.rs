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
