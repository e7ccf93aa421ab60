//! Scan throughput and peak memory against `rg` and peer scanners, in the same run.
//!
//! `cargo bench -p evict-scan --bench scan` builds (once, under target/bench-data) a tree of
//! distinct files copied from real source files on this machine with secrets planted, then
//! times, on a warm page cache:
//! - `rg -c AKIA` over the tree (the I/O + memchr ceiling; Debian `ripgrep`),
//! - Evict's scanner (in a child process, so its peak RSS is its own),
//! - `ripsecrets` and `detect-secrets` when installed (`cargo install ripsecrets`,
//!   `pip install detect-secrets`).
//!
//! For git history: a repository of `EVICT_BENCH_BLOBS` blobs (default 100,000) built with
//! `git fast-import`, scanned by Evict against `git cat-file --batch-all-objects --batch | rg`.
//!
//! Sizes: `EVICT_BENCH_TREE_MB` (default 300), `EVICT_BENCH_BLOBS`; sources copied:
//! `EVICT_BENCH_SOURCES` (colon-separated; default the cargo registry and /usr/include).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use evict_model::FingerprintKey;
use evict_scan::{Collector, Engine, IgnoreList, RuleSet, Sink, TreeOptions, scan_path};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn engine() -> Engine {
    Engine::new(
        RuleSet::builtin().unwrap(),
        FingerprintKey::from_bytes([1; 32]),
        jiff::Timestamp::now(),
    )
}

/// Child: scan one tree or repository and print `seconds bytes findings peak_mib`.
fn child(mode: &str, target: &Path) {
    let engine = engine();
    let collector = Collector::default();
    let ignore = IgnoreList::default();
    let sink = Sink {
        engine: &engine,
        collector: &collector,
        ignore: &ignore,
    };
    let start = Instant::now();
    match mode {
        "tree" => scan_path(sink, target, &TreeOptions::default()),
        "git" => {
            evict_scan::history::scan_history(sink, target, TreeOptions::default().threads)
                .unwrap();
        }
        other => panic!("unknown mode {other}"),
    }
    let seconds = start.elapsed().as_secs_f64();
    let (findings, stats, _) = collector.finish();
    println!(
        "{seconds} {} {} {} {}",
        stats.bytes,
        findings.len(),
        peak_rss_mib(),
        stats.files + stats.blobs
    );
}

fn run_child(mode: &str, target: &Path) -> (f64, u64, usize, f64, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", mode])
        .arg(target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    (
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    )
}

/// Best of `runs` wall-clock times of a shell command, or None when it cannot run.
fn time_command(shell: &str, runs: usize) -> Option<f64> {
    let mut best: Option<f64> = None;
    for _ in 0..runs {
        let start = Instant::now();
        let status = Command::new("sh")
            .args(["-c", shell])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        // rg exits 1 when nothing matches, detect-secrets 1 when it finds secrets.
        if status.code().is_none_or(|c| c > 1) {
            return None;
        }
        let t = start.elapsed().as_secs_f64();
        best = Some(best.map_or(t, |b: f64| b.min(t)));
    }
    best
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn bench_data() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("bench-data")
}

fn tree(mb: u64) -> PathBuf {
    let dir = bench_data().join(format!("tree-{mb}mb"));
    let done = dir.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let sources: Vec<PathBuf> = std::env::var("EVICT_BENCH_SOURCES")
            .map(|s| s.split(':').map(PathBuf::from).collect())
            .unwrap_or_else(|_| {
                let home = std::env::var("CARGO_HOME").map_or_else(
                    |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"),
                    PathBuf::from,
                );
                vec![home.join("registry/src"), PathBuf::from("/usr/include")]
            });
        eprintln!("generating a {mb} MB tree in {} …", dir.display());
        let truth = evict_testkit::write_source_tree(7, &sources, &dir, mb << 20, 500).unwrap();
        eprintln!(
            "  {} files, {} bytes, {} planted secrets",
            truth.files,
            truth.bytes,
            truth.planted.len()
        );
        std::fs::write(&done, b"").unwrap();
    }
    dir
}

fn repo(blobs: u64) -> PathBuf {
    let dir = bench_data().join(format!("repo-{blobs}"));
    let done = dir.join(".git/evict-bench-complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "generating a {blobs}-blob git repository in {} …",
            dir.display()
        );
        evict_testkit::write_git_history(11, &dir, blobs).unwrap();
        std::fs::write(&done, b"").unwrap();
    }
    dir
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        child(&args[at + 1], Path::new(&args[at + 2]));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let mb = env_u64("EVICT_BENCH_TREE_MB", 300);
    let blobs = env_u64("EVICT_BENCH_BLOBS", 100_000);
    let tree = tree(mb);
    let tree_arg = tree.display().to_string();
    // Warm the page cache so every tool reads from memory.
    time_command(
        &format!("cat $(find {tree_arg} -type f) > /dev/null 2>&1 || true"),
        1,
    );

    println!("| input | tool | seconds | MB/s | vs rg | peak RSS | findings |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let rg = time_command(&format!("rg -c AKIA {tree_arg}"), 3);
    let (seconds, bytes, findings, rss, _) = run_child("tree", &tree);
    let mbs = |s: f64| bytes as f64 / 1e6 / s;
    let input = format!("tree, {:.0} MB", bytes as f64 / 1e6);
    if let Some(rg) = rg {
        println!(
            "| {input} | rg -c AKIA | {rg:.3} | {:.0} | 1.00 | - | - |",
            mbs(rg)
        );
    } else {
        println!("| {input} | rg -c AKIA | not installed (apt-get install ripgrep) | | | | |");
    }
    let ratio = |s: f64| rg.map_or("-".to_string(), |rg| format!("{:.2}", rg / s));
    println!(
        "| {input} | evict scan | {seconds:.3} | {:.0} | {} | {rss:.0} MiB | {findings} |",
        mbs(seconds),
        ratio(seconds)
    );
    for (tool, command) in [
        ("ripsecrets", format!("ripsecrets {tree_arg}")),
        (
            "detect-secrets",
            format!("detect-secrets scan --all-files {tree_arg}"),
        ),
    ] {
        if !have(tool) {
            println!("| {input} | {tool} | not installed | | | | |");
            continue;
        }
        match time_command(&format!("cd {tree_arg} && timeout 1200 {command}"), 1) {
            Some(s) => println!(
                "| {input} | {tool} | {s:.3} | {:.0} | {} | - | - |",
                mbs(s),
                ratio(s)
            ),
            None => println!("| {input} | {tool} | failed | | | | |"),
        }
    }

    let repo = repo(blobs);
    let repo_arg = repo.display().to_string();
    let ceiling = time_command(
        &format!("git -C {repo_arg} cat-file --batch-all-objects --batch | rg -c AKIA"),
        2,
    );
    let (seconds, bytes, findings, rss, scanned) = run_child("git", &repo);
    let input = format!("git, {scanned} blobs, {:.0} MB", bytes as f64 / 1e6);
    if let Some(c) = ceiling {
        println!(
            "| {input} | git cat-file --batch-all-objects \\| rg -c AKIA | {c:.3} | {:.0} | 1.00 | - | - |",
            bytes as f64 / 1e6 / c
        );
    }
    println!(
        "| {input} | evict scan --git | {seconds:.3} | {:.0} | {} | {rss:.0} MiB | {findings} |",
        bytes as f64 / 1e6 / seconds,
        ceiling.map_or("-".into(), |c| format!("{:.2}", c / seconds))
    );
}
