//! The harness every end-to-end test shares: a temporary $EVICT_HOME, the `evict` binary with a
//! fixed "now", and the run's exit code and output.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses part of it

use std::path::PathBuf;

use assert_cmd::Command;
use evict_testkit::REFERENCE_NOW;
use serde_json::Value;

pub mod aws;

pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn evict(&self) -> Command {
        let mut cmd = Command::cargo_bin("evict").unwrap();
        cmd.env("EVICT_HOME", self.home())
            .env_remove("EVICT_DATABASE_URL")
            .env("EVICT_NOW", REFERENCE_NOW)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut cmd = self.evict();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Env {
    /// Generates testkit data into `data/` (`evict generate` with `args`, e.g. `--users 20
    /// --logs 3000`) and imports its credential report; returns the data folder.
    pub fn organisation(&self, args: &[&str]) -> PathBuf {
        let data = self.path("data");
        let mut generate = vec!["generate", "--out", data.to_str().unwrap()];
        generate.extend_from_slice(args);
        let run = self.run(&generate);
        assert_eq!(run.code, 0, "generate: {}", run.stderr);
        let report = data.join("credential-report.csv");
        let run = self.run(&[
            "import",
            "aws-credential-report",
            report.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(run.code, 0, "import: {}", run.stderr);
        data
    }
}
