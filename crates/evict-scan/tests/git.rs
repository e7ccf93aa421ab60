//! Tests of `evict_scan::git` on real repositories made with the `git` command line at test time.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use evict_scan::git::{GitError, GitHistory, GitProblemKind, staged_blobs};
use gix::ObjectId;

/// A scratch repository with a deterministic git environment (no global or system config, fixed
/// identities, signing off) and a commit clock that ticks one day per commit.
struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
    day: u32,
}

impl Repo {
    fn init() -> Repo {
        Self::init_with(&["init", "-q", "-b", "main"])
    }

    fn init_with(args: &[&str]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir(&root).unwrap();
        let repo = Repo {
            _dir: dir,
            root,
            day: 0,
        };
        repo.git(args);
        repo
    }

    fn path(&self) -> &Path {
        &self.root
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(&self.root, args, &[])
    }

    fn write(&self, path: &str, content: &str) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    /// Stages everything and commits; returns the commit id.
    fn commit(&mut self, message: &str) -> String {
        self.day += 1;
        // Noon UTC on 2020-01-01 plus one day per commit.
        let date = format!("{} +0000", 1_577_880_000 + u64::from(self.day - 1) * 86_400);
        self.git(&["add", "-A"]);
        git_in(
            &self.root,
            &["commit", "-q", "--allow-empty", "-m", message],
            &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
        );
        self.rev("HEAD")
    }

    fn rev(&self, spec: &str) -> String {
        self.git(&["rev-parse", spec]).trim().to_owned()
    }

    fn blob(&self, spec: &str) -> ObjectId {
        ObjectId::from_hex(self.rev(spec).as_bytes()).unwrap()
    }

    /// The path of the loose object file of `id`.
    fn loose_object(&self, id: &ObjectId) -> PathBuf {
        let hex = id.to_string();
        self.root
            .join(".git/objects")
            .join(&hex[..2])
            .join(&hex[2..])
    }
}

fn git_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = git_command(dir, args, env).output().unwrap();
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn git_command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "gc.auto=0",
        ])
        .args([
            "-c",
            "core.autocrlf=false",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Author")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Cy Committer")
        .env("GIT_COMMITTER_EMAIL", "cy@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn ids(history: &GitHistory) -> BTreeSet<ObjectId> {
    history.blobs().map(|origin| origin.blob).collect()
}

/// What a scan saw: blob -> (path, content).
type Scanned = BTreeMap<ObjectId, (String, Vec<u8>)>;

/// Scans every blob and returns what the scanner saw, and the problems.
fn scan_all(history: &GitHistory, threads: usize) -> (Scanned, Vec<evict_scan::git::GitProblem>) {
    let seen = Mutex::new(BTreeMap::new());
    let problems = history.for_each_blob(threads, u64::MAX, |origin, bytes| {
        let previous = seen
            .lock()
            .unwrap()
            .insert(origin.blob, (origin.path.to_owned(), bytes.to_vec()));
        assert!(previous.is_none(), "blob {} scanned twice", origin.blob);
    });
    (seen.into_inner().unwrap(), problems)
}

// (1) A blob added in commit 1, kept in commits 2 and 3, deleted in commit 4.
#[test]
fn blob_reported_once_with_origin_and_later_carriers() {
    let mut repo = Repo::init();
    repo.write("secret.txt", "AKIA0000SECRET\n");
    repo.write("notes.txt", "v1\n");
    let c1 = repo.commit("add secret");
    let secret = repo.blob("HEAD:secret.txt");
    repo.write("notes.txt", "v2\n");
    let c2 = repo.commit("edit notes");
    repo.write("notes.txt", "v3\n");
    let c3 = repo.commit("edit notes again");
    std::fs::remove_file(repo.path().join("secret.txt")).unwrap();
    let c4 = repo.commit("remove secret");

    let history = GitHistory::open(repo.path()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    assert!(!history.is_shallow());
    assert_eq!(history.commit_count(), 4);
    let order: Vec<&str> = history.commits().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(order, [&c1, &c2, &c3, &c4], "oldest first");
    assert_eq!(history.commits()[0].author, "Ada Author <ada@example.com>");
    assert_eq!(
        history.commits()[0].time.to_string(),
        "2020-01-01T12:00:00Z"
    );
    // secret + three versions of notes.txt
    assert_eq!(history.blob_count(), 4);

    let origins: Vec<_> = history.blobs().filter(|o| o.blob == secret).collect();
    assert_eq!(origins.len(), 1, "reported once");
    assert_eq!(origins[0].commit.id, c1);
    assert_eq!(origins[0].path, "secret.txt");

    let (scanned, problems) = scan_all(&history, 2);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(scanned.len(), 4);
    assert_eq!(
        scanned[&secret],
        ("secret.txt".to_owned(), b"AKIA0000SECRET\n".to_vec())
    );

    let carrying = history.commits_carrying(&[secret]);
    let carriers: Vec<(&str, &str)> = carrying[&secret]
        .iter()
        .map(|c| (c.commit.id.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(
        carriers,
        [(c2.as_str(), "secret.txt"), (c3.as_str(), "secret.txt")]
    );
}

// (2) The same content at two paths is one blob; the second path is a carrier of the same commit.
#[test]
fn same_content_at_two_paths_is_one_blob() {
    let mut repo = Repo::init();
    repo.write("a.txt", "same content\n");
    repo.write("deep/er/b.txt", "same content\n");
    repo.write("c.txt", "other\n");
    let c1 = repo.commit("two copies");
    let blob = repo.blob("HEAD:a.txt");
    assert_eq!(blob, repo.blob("HEAD:deep/er/b.txt"));

    let history = GitHistory::open(repo.path()).unwrap();
    assert_eq!(history.blob_count(), 2);
    let origin = history.origin(&blob).unwrap();
    assert_eq!(origin.path, "a.txt", "first path in tree order");
    assert_eq!(origin.commit.id, c1);

    let (scanned, _) = scan_all(&history, 1);
    assert_eq!(scanned.len(), 2);

    let carrying = history.commits_carrying(&[blob]);
    let carriers: Vec<(&str, &str)> = carrying[&blob]
        .iter()
        .map(|c| (c.commit.id.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(carriers, [(c1.as_str(), "deep/er/b.txt")]);
}

// (3) Blobs reachable only from a side branch, only from a tag, or only from the stash.
#[test]
fn side_branch_tag_and_stash_blobs_are_found() {
    let mut repo = Repo::init();
    repo.write("main.txt", "main\n");
    repo.commit("main");

    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.txt", "only on the side branch\n");
    let side_commit = repo.commit("side");
    let side_blob = repo.blob("HEAD:side.txt");

    repo.git(&["checkout", "-q", "--detach", "main"]);
    repo.write("tagged.txt", "only in a tag\n");
    let tagged_commit = repo.commit("tagged");
    let tagged_blob = repo.blob("HEAD:tagged.txt");
    repo.git(&["tag", "-a", "-m", "annotated", "v1"]);
    repo.write("light.txt", "only in a lightweight tag\n");
    repo.commit("light");
    let light_blob = repo.blob("HEAD:light.txt");
    repo.git(&["tag", "light"]);
    repo.git(&["checkout", "-q", "main"]);

    // Two stash entries: the older one is only in the reflog of refs/stash.
    repo.write("main.txt", "stashed one\n");
    repo.git(&["stash", "-q"]);
    repo.write("main.txt", "stashed two\n");
    repo.git(&["stash", "-q"]);
    let stash_old = repo.blob("stash@{1}:main.txt");
    let stash_new = repo.blob("stash@{0}:main.txt");

    let history = GitHistory::open(repo.path()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    let found = ids(&history);
    for blob in [side_blob, tagged_blob, light_blob, stash_old, stash_new] {
        assert!(found.contains(&blob), "blob {blob} not found");
    }
    assert_eq!(history.origin(&side_blob).unwrap().commit.id, side_commit);
    assert_eq!(
        history.origin(&tagged_blob).unwrap().commit.id,
        tagged_commit
    );
    assert_eq!(history.origin(&stash_old).unwrap().path, "main.txt");
    // Every commit comes after its parents.
    let position: BTreeMap<&str, usize> = history
        .commits()
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    for commit in history.commits() {
        for parent in repo
            .git(&["rev-list", "--parents", "-n1", &commit.id])
            .split_whitespace()
            .skip(1)
        {
            assert!(
                position[parent] < position[commit.id.as_str()],
                "parent {parent} after {}",
                commit.id
            );
        }
    }
}

// (4) A shallow clone opens, says so, and yields the blobs of the visible commit.
#[test]
fn shallow_clone() {
    let mut source = Repo::init();
    source.write("a.txt", "old a\n");
    source.write("b.txt", "old b\n");
    source.commit("one");
    let old_a = source.blob("HEAD:a.txt");
    source.write("a.txt", "new a\n");
    source.commit("two");
    source.write("c.txt", "c\n");
    let head = source.commit("three");

    let target = source._dir.path().join("shallow");
    let url = format!("file://{}", source.path().display());
    git_in(
        source._dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            target.to_str().unwrap(),
        ],
        &[],
    );

    let history = GitHistory::open(&target).unwrap();
    assert!(history.is_shallow());
    assert_eq!(history.commit_count(), 1);
    assert_eq!(history.commits()[0].id, head);
    assert!(
        history.problems().is_empty(),
        "the shallow boundary is not a problem: {:?}",
        history.problems()
    );
    let expected: BTreeSet<ObjectId> = git_in(
        &target,
        &["ls-tree", "-r", "--format=%(objectname)", "HEAD"],
        &[],
    )
    .lines()
    .map(|l| ObjectId::from_hex(l.as_bytes()).unwrap())
    .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(ids(&history), expected);
    assert!(!ids(&history).contains(&old_a));
    let (scanned, problems) = scan_all(&history, 2);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(scanned.len(), 3);

    let full = GitHistory::open(source.path()).unwrap();
    assert!(!full.is_shallow());
    assert_eq!(full.commit_count(), 3);
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom};
    let mut permissions = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(path, permissions).unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

// (5a) Corrupt and missing loose objects: listed as problems, the rest still scanned.
#[test]
fn corrupt_loose_objects_are_problems_not_panics() {
    let mut repo = Repo::init();
    repo.write("good.txt", "good content\n");
    repo.write("bad.txt", &"bad content that will be damaged\n".repeat(20));
    repo.write("gone.txt", "this object will be deleted\n");
    repo.write("dir/inner.txt", "below a damaged tree\n");
    repo.commit("one");
    let good = repo.blob("HEAD:good.txt");
    let bad = repo.blob("HEAD:bad.txt");
    let gone = repo.blob("HEAD:gone.txt");
    let inner = repo.blob("HEAD:dir/inner.txt");
    let dir_tree = repo.blob("HEAD:dir");

    // Damage the middle of the zlib stream of bad.txt, delete gone.txt, and truncate dir's tree.
    let bad_file = repo.loose_object(&bad);
    let length = std::fs::metadata(&bad_file).unwrap().len();
    overwrite(&bad_file, length / 2, b"\xde\xad\xbe\xef\xde\xad\xbe\xef");
    std::fs::remove_file(repo.loose_object(&gone)).unwrap();
    let tree_file = repo.loose_object(&dir_tree);
    overwrite(&tree_file, 2, b"\x00\x00\x00\x00\x00\x00");

    let history = GitHistory::open(repo.path()).unwrap();
    let problems = history.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    eprintln!("{}", problems[0]);
    assert_eq!(problems[0].object, Some(dir_tree));
    assert_eq!(problems[0].kind, GitProblemKind::Unreadable);
    assert!(
        problems[0].reason.contains(&dir_tree.to_string()),
        "{}",
        problems[0].reason
    );
    assert!(
        problems[0].reason.contains("'dir/'"),
        "{}",
        problems[0].reason
    );
    assert!(
        problems[0]
            .reason
            .contains(&repo.path().display().to_string()),
        "{}",
        problems[0].reason
    );
    assert!(!ids(&history).contains(&inner));

    let (scanned, problems) = scan_all(&history, 2);
    assert!(
        scanned.contains_key(&good),
        "the intact blob is still scanned"
    );
    assert_eq!(scanned[&good].1, b"good content\n");
    assert!(!scanned.contains_key(&bad) && !scanned.contains_key(&gone));
    let by_object: BTreeMap<ObjectId, GitProblemKind> = problems
        .iter()
        .map(|p| (p.object.unwrap(), p.kind))
        .collect();
    assert_eq!(
        by_object,
        BTreeMap::from([
            (bad, GitProblemKind::Unreadable),
            (gone, GitProblemKind::Missing)
        ]),
        "{problems:?}"
    );
    for problem in &problems {
        eprintln!("{problem}");
        assert!(
            problem
                .reason
                .contains(&problem.object.unwrap().to_string()),
            "{problem}"
        );
        assert!(problem.reason.contains(".txt"), "names the path: {problem}");
    }
}

// (5b) A corrupt entry in a pack: that blob is a problem, the others are scanned.
#[test]
fn corrupt_pack_entry_is_a_problem() {
    let mut repo = Repo::init();
    // Unrelated, incompressible-ish contents so that neither is stored as a delta of the other.
    let noise = |seed: u64| {
        let mut x = seed;
        (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect::<String>()
    };
    repo.write("victim.txt", &noise(1));
    repo.write("fine.txt", &noise(2));
    repo.commit("one");
    let victim = repo.blob("HEAD:victim.txt");
    let fine = repo.blob("HEAD:fine.txt");
    repo.git(&["repack", "-a", "-d", "-q"]);
    repo.git(&["prune-packed"]);
    assert!(!repo.loose_object(&victim).exists());

    let pack_dir = repo.path().join(".git/objects/pack");
    let index = std::fs::read_dir(&pack_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let listing = repo.git(&["verify-pack", "-v", index.to_str().unwrap()]);
    // "<id> blob <size> <size-in-pack> <offset>"
    let (in_pack, offset) = listing
        .lines()
        .find(|l| l.starts_with(&victim.to_string()))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f[1], "blob");
            (f[3].parse::<u64>().unwrap(), f[4].parse::<u64>().unwrap())
        })
        .unwrap();
    overwrite(
        &index.with_extension("pack"),
        offset + in_pack / 2,
        &[0x55; 16],
    );

    let history = GitHistory::open(repo.path()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    let (scanned, problems) = scan_all(&history, 2);
    assert_eq!(scanned.keys().copied().collect::<Vec<_>>(), [fine]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].object, Some(victim));
    assert_eq!(problems[0].kind, GitProblemKind::Unreadable);
    eprintln!("{}", problems[0]);
    assert!(
        problems[0].reason.contains("victim.txt"),
        "{}",
        problems[0].reason
    );
}

// Size limit: larger blobs are not read but reported.
#[test]
fn blobs_over_the_limit_are_skipped_and_reported() {
    let mut repo = Repo::init();
    repo.write("small.txt", "small\n");
    repo.write("large.bin", &"x".repeat(10_000));
    repo.commit("one");
    let large = repo.blob("HEAD:large.bin");
    let history = GitHistory::open(repo.path()).unwrap();
    let seen = Mutex::new(Vec::new());
    let problems = history.for_each_blob(1, 1000, |origin, _| {
        seen.lock().unwrap().push(origin.path.to_owned())
    });
    assert_eq!(seen.into_inner().unwrap(), ["small.txt"]);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].object, Some(large));
    assert_eq!(problems[0].kind, GitProblemKind::TooLarge);
    assert!(
        problems[0].reason.contains("10000 bytes"),
        "{}",
        problems[0].reason
    );
}

// (6) Pre-commit mode: staged changes only.
#[test]
fn staged_blobs_are_added_and_modified_files_only() {
    let mut repo = Repo::init();
    repo.write("unchanged.txt", "tracked, untouched\n");
    repo.write("modified.txt", "before\n");
    repo.write("unstaged.txt", "committed\n");
    repo.commit("base");
    repo.write("modified.txt", "after, staged\n");
    repo.write("added/new.txt", "new file\n");
    repo.git(&["add", "modified.txt", "added/new.txt"]);
    repo.write("modified.txt", "after, staged, then edited again\n");
    repo.write("unstaged.txt", "changed in the work tree only\n");
    repo.write("untracked.txt", "never added\n");

    let staged = staged_blobs(repo.path()).unwrap();
    let got: BTreeMap<&str, &[u8]> = staged
        .iter()
        .map(|s| (s.path.as_str(), s.bytes.as_slice()))
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([
            ("added/new.txt", b"new file\n".as_slice()),
            ("modified.txt", b"after, staged\n".as_slice()),
        ])
    );
}

#[test]
fn staged_blobs_without_commits_are_every_staged_file() {
    let repo = Repo::init();
    repo.write("one.txt", "1\n");
    repo.write("sub/two.txt", "2\n");
    repo.write("untracked.txt", "?\n");
    repo.git(&["add", "one.txt", "sub/two.txt"]);
    let staged = staged_blobs(repo.path()).unwrap();
    let paths: Vec<&str> = staged.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["one.txt", "sub/two.txt"]);
    assert_eq!(staged[1].bytes, b"2\n");
}

// Pre-commit mode end to end: a real pre-commit hook runs this test binary (in "child" mode)
// during `git commit -a`, where git stages into a temporary index named by GIT_INDEX_FILE.
#[test]
fn staged_blobs_in_a_real_pre_commit_hook() {
    if let Some(repo) = std::env::var_os("EVICT_TEST_HOOK_REPO") {
        // Child: we are the hook.
        for staged in staged_blobs(Path::new(&repo)).unwrap() {
            println!(
                "STAGED {} {}",
                staged.path,
                String::from_utf8_lossy(&staged.bytes).trim()
            );
        }
        return;
    }
    let mut repo = Repo::init();
    repo.write("tracked.txt", "old\n");
    repo.write("other.txt", "unchanged\n");
    repo.commit("base");
    repo.write("tracked.txt", "modified, staged only by commit -a\n");
    let output = repo.path().join("hook-output.txt");
    let hook = repo.path().join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nset -e\ntest -n \"$GIT_INDEX_FILE\"\nEVICT_TEST_HOOK_REPO=\"$PWD\" exec '{}' --exact staged_blobs_in_a_real_pre_commit_hook --nocapture --test-threads=1 > '{}'\n",
            std::env::current_exe().unwrap().display(),
            output.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    // `git commit -a` stages tracked.txt into a temporary index only, then runs the hook.
    git_in(repo.path(), &["commit", "-q", "-a", "-m", "second"], &[]);
    let printed = std::fs::read_to_string(output).unwrap();
    let staged: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.split_once("STAGED ").map(|(_, rest)| rest))
        .collect();
    assert_eq!(
        staged,
        ["tracked.txt modified, staged only by commit -a"],
        "hook printed: {printed}"
    );
}

// (7) Not a repository; a path that does not exist.
#[test]
fn not_a_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.txt"), "not git").unwrap();
    let err = GitHistory::open(dir.path()).unwrap_err();
    assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
    let message = err.to_string();
    eprintln!("{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("is not a git repository"), "{message}");
    assert!(matches!(
        staged_blobs(dir.path()),
        Err(GitError::NotARepository { .. })
    ));

    let missing = dir.path().join("no-such-dir");
    let err = GitHistory::open(&missing).unwrap_err();
    assert!(matches!(err, GitError::Path { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn empty_repository_has_no_blobs() {
    let repo = Repo::init();
    let history = GitHistory::open(repo.path()).unwrap();
    assert_eq!((history.commit_count(), history.blob_count()), (0, 0));
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    let problems = history.for_each_blob(4, u64::MAX, |_, _| panic!("no blob to scan"));
    assert!(problems.is_empty());
    assert!(staged_blobs(repo.path()).unwrap().is_empty());
}

#[test]
fn bare_repository_opens_and_has_no_index() {
    let mut repo = Repo::init();
    repo.write("a.txt", "a\n");
    repo.write("b/c.txt", "c\n");
    repo.commit("one");
    let bare = repo._dir.path().join("bare.git");
    git_in(
        repo._dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            repo.path().to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
        &[],
    );
    let history = GitHistory::open(&bare).unwrap();
    assert_eq!(history.blob_count(), 2);
    assert_eq!(ids(&history), ids(&GitHistory::open(repo.path()).unwrap()));
    assert!(matches!(staged_blobs(&bare), Err(GitError::Bare { .. })));
}

// Submodules (gitlinks) are skipped without failing; symlinks are blobs and included.
#[test]
fn gitlinks_skipped_symlinks_included() {
    let mut repo = Repo::init();
    repo.write("target.txt", "pointed at\n");
    std::os::unix::fs::symlink("target.txt", repo.path().join("link")).unwrap();
    repo.commit("files");
    let missing_commit = "1111111111111111111111111111111111111111";
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{missing_commit},vendor/sub"),
    ]);
    repo.git(&["commit", "-q", "-m", "submodule"]);
    assert!(
        repo.git(&["ls-tree", "-r", "HEAD"])
            .contains("160000 commit")
    );

    let history = GitHistory::open(repo.path()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    let link = repo.blob("HEAD:link");
    assert_eq!(history.origin(&link).unwrap().path, "link");
    assert_eq!(history.blob_count(), 2);
    let (scanned, problems) = scan_all(&history, 2);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(scanned[&link].1, b"target.txt");
    // The staged gitlink and symlink in pre-commit mode: the symlink only.
    repo.git(&["rm", "-q", "--cached", "link"]);
    std::fs::remove_file(repo.path().join("link")).unwrap();
    std::os::unix::fs::symlink("elsewhere", repo.path().join("link")).unwrap();
    repo.git(&["add", "link"]);
    let staged = staged_blobs(repo.path()).unwrap();
    assert_eq!(staged.len(), 1);
    assert_eq!(
        (staged[0].path.as_str(), staged[0].bytes.as_slice()),
        ("link", b"elsewhere".as_slice())
    );
}

// commits_carrying: memoised search must agree with a brute-force listing by git, across
// renames, branches and merges.
#[test]
fn commits_carrying_matches_git_ls_tree() {
    let mut repo = Repo::init();
    repo.write("keep/secret.env", "TOKEN=abc\n");
    repo.write("other/x.txt", "x0\n");
    repo.commit("c1");
    let secret = repo.blob("HEAD:keep/secret.env");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("other/x.txt", "x1\n");
    repo.commit("f1");
    std::fs::create_dir(repo.path().join("moved")).unwrap();
    repo.git(&["mv", "keep/secret.env", "moved/secret.env"]);
    repo.commit("f2 rename");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("other/y.txt", "y\n");
    repo.commit("m1");
    repo.git(&["merge", "-q", "--no-edit", "feature"]);
    repo.write("copy.env", "TOKEN=abc\n");
    repo.commit("m2 copy");
    std::fs::remove_file(repo.path().join("copy.env")).unwrap();
    std::fs::remove_dir_all(repo.path().join("moved")).unwrap();
    repo.commit("m3 clean");

    let history = GitHistory::open(repo.path()).unwrap();
    let origin = history.origin(&secret).unwrap();
    let secret_hex = secret.to_string();
    let mut expected = BTreeSet::new();
    for commit in history.commits() {
        for line in repo
            .git(&[
                "ls-tree",
                "-r",
                "--format=%(objectname) %(path)",
                &commit.id,
            ])
            .lines()
        {
            let (id, path) = line.split_once(' ').unwrap();
            if id == secret_hex && !(commit.id == origin.commit.id && path == origin.path) {
                expected.insert((commit.id.clone(), path.to_owned()));
            }
        }
    }
    let got: BTreeSet<(String, String)> = history.commits_carrying(&[secret])[&secret]
        .iter()
        .map(|c| (c.commit.id.clone(), c.path.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        expected.len() >= 5,
        "the scenario covers renames and copies: {expected:?}"
    );
    // A blob that is nowhere: empty list.
    let absent = ObjectId::from_hex(b"2222222222222222222222222222222222222222").unwrap();
    assert!(history.commits_carrying(&[absent])[&absent].is_empty());
}

/// Benchmark (release): ~100k blobs made with `git fast-import`, then `GitHistory::open` and a
/// no-op `for_each_blob`. Run with
/// `cargo test -p evict-scan --release --test git -- --ignored --nocapture bench_100k_blobs`.
/// `EVICT_BENCH_REPO=<path>` reuses (or keeps) the generated repository.
/// Every blob git knows to be reachable, read from `repo`.
fn git_blobs(repo: &Path) -> BTreeSet<ObjectId> {
    let objects = git_in(
        repo,
        &[
            "rev-list",
            "--objects",
            "--all",
            "--reflog",
            "--no-object-names",
        ],
        &[],
    );
    let mut child = git_command(
        repo,
        &["cat-file", "--batch-check=%(objecttype) %(objectname)"],
        &[],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(objects.as_bytes()).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("blob "))
        .map(|id| ObjectId::from_hex(id.as_bytes()).unwrap())
        .collect()
}

/// Scans every blob and checks that its bytes hash to its id; returns how many were checked.
fn assert_contents_hash_to_ids(history: &GitHistory, threads: usize) -> usize {
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let problems = history.for_each_blob(threads, u64::MAX, |origin, bytes| {
        let id =
            gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, bytes).unwrap();
        assert_eq!(
            id, origin.blob,
            "bytes read for {} ({}) are not that blob",
            origin.blob, origin.path
        );
        checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(problems.is_empty(), "{problems:?}");
    checked.into_inner()
}

// Deep delta chains in a pack (repacked with depth 50): the walk finds exactly the blobs git
// finds, and every blob's bytes hash to its id (the delta resolution is right).
#[test]
fn packed_deltas_read_exactly() {
    let mut repo = Repo::init();
    let mut text = String::new();
    for round in 0..60 {
        if round == 30 {
            repo.git(&["checkout", "-q", "-b", "side"]);
        }
        if round == 45 {
            repo.git(&["checkout", "-q", "main"]);
        }
        for file in 0..4 {
            let mut content = String::new();
            for line in 0..60 {
                content.push_str(&format!(
                    "file {file} line {line}: {}\n",
                    if line % 7 == round % 7 { round } else { 0 }
                ));
            }
            repo.write(&format!("src/mod{}/file{file}.rs", file % 2), &content);
        }
        text.push_str(&format!("round {round}\n"));
        repo.write("README.md", &text);
        repo.commit(&format!("round {round}"));
    }
    repo.git(&[
        "repack",
        "-a",
        "-d",
        "-f",
        "-q",
        "--depth=50",
        "--window=50",
    ]);
    repo.git(&["prune-packed"]);
    let stats = repo.git(&["count-objects", "-v"]);
    assert!(stats.contains("count: 0"), "all objects packed: {stats}");

    let history = GitHistory::open(repo.path()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    assert_eq!(ids(&history), git_blobs(repo.path()));
    assert_eq!(
        assert_contents_hash_to_ids(&history, 2),
        history.blob_count()
    );
    // The chain cache is per thread: one thread reads everything in pack order.
    assert_eq!(
        assert_contents_hash_to_ids(&history, 1),
        history.blob_count()
    );
}

/// CPU time used by this process so far (user + system), from /proc: less disturbed than wall
/// time when other work shares the machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command name: state is field 0, utime 11, stime 12 (clock ticks, 100 per second).
    (ticks(11) + ticks(12)) / 100.0
}

#[test]
#[ignore = "benchmark: builds a 100k-blob repository"]
fn bench_100k_blobs() {
    use std::time::Instant;
    let keep = std::env::var_os("EVICT_BENCH_REPO").map(PathBuf::from);
    let dir = tempfile::tempdir().unwrap();
    let root = keep.clone().unwrap_or_else(|| dir.path().join("bench"));
    if !root.join("HEAD").exists() && !root.join(".git").exists() {
        std::fs::create_dir_all(&root).unwrap();
        git_in(&root, &["init", "-q", "--bare"], &[]);
        let started = Instant::now();
        // 2000 commits x 50 changed files over 5000 paths in 100 directories: 100k blobs, each
        // path changed ~20 times with small edits (so repacking stores most blobs as deltas).
        let mut child = git_command(&root, &["fast-import", "--quiet"], &[])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        {
            let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
            let mut versions = vec![0u32; 5000];
            for c in 0..2000u32 {
                write!(
                    stdin,
                    "commit refs/heads/main\nmark :{}\ncommitter Bench <bench@example.com> {} +0000\ndata 8\ncommit {}\n",
                    c + 1,
                    1_600_000_000 + u64::from(c) * 60,
                    c % 10
                )
                .unwrap();
                if c > 0 {
                    writeln!(stdin, "from :{c}").unwrap();
                }
                for f in 0..50u32 {
                    let file = ((c * 50 + f) * 7919) % 5000;
                    versions[file as usize] += 1;
                    let version = versions[file as usize];
                    let mut content = String::new();
                    for line in 0..40 {
                        content.push_str(&format!(
                            "file {file} line {line} constant text for delta compression\n"
                        ));
                    }
                    content.push_str(&format!("version {version} of file {file}\n"));
                    write!(
                        stdin,
                        "M 100644 inline dir{:02}/file{file:04}.txt\ndata {}\n{content}\n",
                        file % 100,
                        content.len()
                    )
                    .unwrap();
                }
            }
            stdin.flush().unwrap();
        }
        assert!(child.wait().unwrap().success());
        eprintln!("fast-import: {:.1?}", started.elapsed());
        let started = Instant::now();
        // -f: deltas chosen by git (newest version whole, older ones as deltas of it), as in a
        // repository that was cloned or gc'ed, not fast-import's old-to-new deltas.
        git_in(&root, &["repack", "-a", "-d", "-f", "-q"], &[]);
        eprintln!("git repack -a -d -f: {:.1?}", started.elapsed());
    }

    let (started, cpu) = (Instant::now(), cpu_seconds());
    let history = GitHistory::open(&root).unwrap();
    let open = started.elapsed();
    assert!(history.problems().is_empty());
    eprintln!(
        "GitHistory::open: {open:.2?} wall, {:.2}s CPU ({} commits, {} blobs)",
        cpu_seconds() - cpu,
        history.commit_count(),
        history.blob_count()
    );
    assert!(history.blob_count() >= 100_000, "{}", history.blob_count());
    for (threads, limit) in [(1, 1 << 20), (2, 1 << 20), (2, u64::MAX)] {
        let bytes = std::sync::atomic::AtomicU64::new(0);
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let problems = history.for_each_blob(threads, limit, |_, data| {
            bytes.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        });
        let read = started.elapsed();
        assert!(problems.is_empty());
        eprintln!(
            "for_each_blob, {threads} thread(s), limit {limit}: {read:.2?} wall, {:.2}s CPU ({} MB)",
            cpu_seconds() - cpu,
            bytes.into_inner() / 1_000_000
        );
    }
    let started = Instant::now();
    assert_eq!(
        assert_contents_hash_to_ids(&history, 2),
        history.blob_count()
    );
    eprintln!(
        "every blob's bytes hash to its id (checked in {:.2?})",
        started.elapsed()
    );
    let all: Vec<ObjectId> = history.blobs().map(|o| o.blob).collect();
    for (what, secrets) in [
        (
            "spread over the history",
            all.iter().step_by(20_000).copied().collect::<Vec<_>>(),
        ),
        (
            "from its last tenth",
            all[all.len() * 9 / 10..]
                .iter()
                .step_by(2_000)
                .copied()
                .collect(),
        ),
    ] {
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let carrying = history.commits_carrying(&secrets);
        eprintln!(
            "commits_carrying({} blobs {what}): {:.2?} wall, {:.2}s CPU ({} carriers)",
            secrets.len(),
            started.elapsed(),
            cpu_seconds() - cpu,
            carrying.values().map(Vec::len).sum::<usize>()
        );
    }
}
