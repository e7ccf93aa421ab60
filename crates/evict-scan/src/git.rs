//! Git history as a set of blobs to scan once each.
//!
//! [`GitHistory::open`] walks every commit reachable from any reference of a repository (local and
//! remote branches, tags, `HEAD`, notes, replace refs, and every entry of the stash reflog), oldest
//! first, and records each distinct blob once, together with the first commit and path where it
//! appears. Subtrees already walked (same object id) are skipped, so the walk costs one read per
//! distinct tree, not per commit. A secret scanner then reads and scans each blob once with
//! [`GitHistory::for_each_blob`], in parallel and in bounded memory, and for the few blobs that hold
//! a secret asks [`GitHistory::commits_carrying`] which later commits still carry them.
//!
//! Damage does not stop the walk: an object that cannot be read (missing from a shallow or partial
//! clone, a corrupt pack or loose object) is recorded as a [`GitProblem`] naming the repository,
//! the object, where it was referenced from and why it failed, and the walk goes on past it.
//!
//! What is and isn't a blob here:
//! * regular and executable files are blobs;
//! * symbolic links are blobs too (their content is the link target) and are included;
//! * submodules (gitlink entries) point at commits of another repository and are skipped;
//! * a reference pointing straight at a tree or blob (no commit) is not walked; it is reported as a
//!   [`GitProblemKind::NotACommit`] problem.
//!
//! Paths are converted from git's bytes to UTF-8 lossily (invalid sequences become U+FFFD).
//!
//! Replacement refs (`refs/replace/`) are *not* applied: reading an object always yields its real
//! content, and the replacement commits are walked as ordinary references, so nothing can be
//! hidden behind a replacement.

use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use gix::ObjectId;
use gix::objs::Kind;
use gix::objs::commit::ref_iter::Token;
use gix::prelude::{Find, Header as _};

/// A map keyed by object id, hashing only the first bytes of the id (they are already random).
type OidMap<V> = gix::hashtable::HashMap<ObjectId, V>;

/// Trees nested deeper than this are not descended (git itself refuses more than 4096 by default).
const MAX_TREE_DEPTH: usize = 4096;

/// Bounds of the number of blobs handed to a reader thread at a time (consecutive in pack order,
/// so that delta bases are found in the thread's own cache).
const MIN_READ_CHUNK: usize = 64;
const MAX_READ_CHUNK: usize = 1024;

/// Delta-chain cache of the tree walks ([`PackReader`]). Reading trees oldest first goes up
/// every delta chain of every directory at once, so the cache must hold the chains of the
/// directories being changed: a repository with 500 busy directories of ~150 files needs about
/// 24 MiB; below that, evicted chains are re-inflated (twice as slow at 16 MiB).
const TREE_CACHE_BYTES: usize = 32 << 20;
/// Delta-chain cache of each blob reader thread ([`PackReader`]). Blobs are read right after
/// their delta base ([`GitHistory::read_order`]), so a small cache does (4 MiB reads as fast as
/// 32 MiB).
const BLOB_CACHE_BYTES: usize = 8 << 20;

/// A reader thread gives back buffer memory above this after reading a larger blob.
const KEEP_BUFFER_BYTES: usize = 8 << 20;

/// Why a repository could not be opened or read at all. Problems with single objects are not
/// errors: they are collected as [`GitProblem`]s and the walk continues.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The path does not exist or cannot be read.
    #[error(
        "cannot scan git repository {}: the path does not exist or is not readable ({source}); \
         check the path given",
        path.display()
    )]
    Path {
        /// The path given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but holds no git repository.
    #[error(
        "{} is not a git repository (no .git directory there, and not a bare repository); \
         give the top directory of the work tree or the repository's .git directory",
        path.display()
    )]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// What gix said.
        #[source]
        source: gix::Error,
    },
    /// The repository exists but could not be opened (bad configuration, unreadable files...).
    #[error("cannot open git repository {}: {reason}", path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// The whole cause chain on one line.
        reason: String,
        /// What gix said.
        #[source]
        source: gix::Error,
    },
    /// The references (branches, tags...) could not be listed, so there is nothing to walk.
    #[error(
        "cannot list the references (branches, tags) of git repository {}: {reason}; \
         check .git/refs and .git/packed-refs",
        path.display()
    )]
    References {
        /// The repository.
        path: PathBuf,
        /// The whole cause chain on one line.
        reason: String,
        /// What gix said.
        #[source]
        source: gix::Error,
    },
    /// Pre-commit mode needs an index, which a bare repository does not have.
    #[error(
        "git repository {} is bare: it has no index of staged files to scan; \
         run the pre-commit scan inside a work tree",
        path.display()
    )]
    Bare {
        /// The repository.
        path: PathBuf,
    },
    /// The index (staging area) or `HEAD` could not be read in pre-commit mode.
    #[error("cannot read the {what} of git repository {}: {reason}", path.display())]
    Staging {
        /// The repository.
        path: PathBuf,
        /// What was being read: "index", "HEAD commit"...
        what: &'static str,
        /// The whole cause chain on one line.
        reason: String,
    },
    /// A staged blob or a tree of `HEAD` could not be read in pre-commit mode.
    #[error("cannot read {what} {id} of git repository {}: {reason}", path.display())]
    Object {
        /// The repository.
        path: PathBuf,
        /// What kind of object, and where it was referenced from.
        what: String,
        /// The object.
        id: ObjectId,
        /// Why it could not be read.
        reason: String,
    },
}

/// What went wrong with one object or reference; the walk went on without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GitProblemKind {
    /// The object is not in the object database: expected beyond the boundary of a shallow clone
    /// or in a partial clone, otherwise the repository is damaged.
    Missing,
    /// The object is there but could not be read or decoded: corrupt loose object or pack, wrong
    /// object type, I/O error.
    Unreadable,
    /// A blob larger than the size limit given to [`GitHistory::for_each_blob`]; not read.
    TooLarge,
    /// A reference that points at a tree or blob rather than a commit; it was not walked.
    NotACommit,
    /// A reference that could not be read or resolved.
    BadReference,
    /// A tree nested deeper than git allows; its contents were not walked.
    TooDeep,
}

impl fmt::Display for GitProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GitProblemKind::Missing => "missing object",
            GitProblemKind::Unreadable => "unreadable object",
            GitProblemKind::TooLarge => "blob too large, skipped",
            GitProblemKind::NotACommit => "reference to a non-commit, skipped",
            GitProblemKind::BadReference => "bad reference",
            GitProblemKind::TooDeep => "tree too deep, skipped",
        })
    }
}

/// An object or reference that could not be used; the rest of the history was still walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitProblem {
    /// The object concerned; `None` for a reference that could not be read at all.
    pub object: Option<ObjectId>,
    /// What kind of problem.
    pub kind: GitProblemKind,
    /// A complete sentence naming the repository, the object, where it was referenced from and
    /// the cause, e.g. `git repository /srv/app: blob 3b18e5… (config/prod.env, first seen in
    /// commit 9fceb02…) cannot be read: zlib stream is corrupt`.
    pub reason: String,
}

impl fmt::Display for GitProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

/// One commit of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Full object id in hexadecimal.
    pub id: String,
    /// The author, as `Name <email>`.
    pub author: String,
    /// The **committer** time: when the commit entered this history (after a rebase or
    /// cherry-pick, that is later than the author time).
    pub time: jiff::Timestamp,
}

/// Where a blob first appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobOrigin<'a> {
    /// The blob.
    pub blob: ObjectId,
    /// The first commit (in oldest-first order) whose tree holds the blob.
    pub commit: &'a Commit,
    /// Its path in that commit's tree (`/`-separated, relative to the repository root). When the
    /// same content sits at several paths of that commit, the first in tree order.
    pub path: &'a str,
}

/// A later place where a blob is still present: see [`GitHistory::commits_carrying`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobCarrier<'a> {
    /// A commit whose tree holds the blob.
    pub commit: &'a Commit,
    /// The blob's path in that commit's tree.
    pub path: String,
}

/// One distinct blob and where it first appeared (indices into [`GitHistory`]'s tables).
#[derive(Debug, Clone, Copy)]
struct BlobRecord {
    id: ObjectId,
    commit: u32,
    path: u32,
}

/// One distinct tree: what `commits_carrying` needs to skip it without reading it.
#[derive(Debug, Clone, Copy)]
struct TreeRecord {
    id: ObjectId,
    info: TreeInfo,
}

/// The hash of an object id in the tables below: its first eight bytes (ids are uniformly
/// random).
fn id_hash(id: &gix::oid) -> u64 {
    let bytes = id.as_bytes();
    let mut first = [0u8; 8];
    let n = bytes.len().min(8);
    first[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(first)
}

/// Records with an object id, stored once each in a `Vec` in insertion order and found by id
/// through a hash table of `u32` indices: 5 bytes per slot (6 to 11 per record) besides the
/// record, where a map from id to index costs 25 bytes per slot and holds every id twice.
struct IdTable<T> {
    records: Vec<T>,
    index: gix::hashtable::hash_table::HashTable<u32>,
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable {
            records: Vec::new(),
            index: gix::hashtable::hash_table::HashTable::new(),
        }
    }
}

impl<T> IdTable<T> {
    /// The index of the record with id `id`, where `key` gives a record's id.
    fn find(&self, id: &gix::oid, key: impl Fn(&T) -> &ObjectId) -> Option<u32> {
        let records = &self.records;
        self.index
            .find(id_hash(id), |&i| key(&records[i as usize]).as_ref() == id)
            .copied()
    }

    /// The index of the record with id `id`; when there is none, `make()` is added as a new one.
    /// The `bool` says whether it was added.
    fn find_or_insert(
        &mut self,
        id: &gix::oid,
        key: impl Fn(&T) -> &ObjectId,
        make: impl FnOnce() -> T,
    ) -> (u32, bool) {
        use gix::hashtable::hash_table::Entry;
        let records = &self.records;
        match self.index.entry(
            id_hash(id),
            |&i| key(&records[i as usize]).as_ref() == id,
            |&i| id_hash(key(&records[i as usize])),
        ) {
            Entry::Occupied(found) => (*found.get(), false),
            Entry::Vacant(vacant) => {
                let n = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
                vacant.insert(n);
                self.records.push(make());
                (n, true)
            }
        }
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}

/// Distinct paths, interned: all their bytes in one `String`, each found by its number.
#[derive(Default)]
struct PathTable {
    text: String,
    /// Where each path ends in `text` (it starts where the previous one ends).
    ends: Vec<usize>,
    /// Path numbers, by hash of the path.
    index: gix::hashtable::hash_table::HashTable<u32>,
    hasher: std::hash::RandomState,
}

/// Path number `n` of `text` and `ends` ([`PathTable`]).
fn path_at<'t>(text: &'t str, ends: &[usize], n: u32) -> &'t str {
    let n = n as usize;
    let start = if n == 0 { 0 } else { ends[n - 1] };
    &text[start..ends[n]]
}

impl PathTable {
    fn get(&self, n: u32) -> &str {
        path_at(&self.text, &self.ends, n)
    }

    /// The number of `path`, added if new.
    fn intern(&mut self, path: &str) -> u32 {
        use gix::hashtable::hash_table::Entry;
        use std::hash::BuildHasher as _;
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        match self.index.entry(
            hasher.hash_one(path),
            |&n| path_at(text, ends, n) == path,
            |&n| hasher.hash_one(path_at(text, ends, n)),
        ) {
            Entry::Occupied(found) => *found.get(),
            Entry::Vacant(vacant) => {
                let n = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
                vacant.insert(n);
                self.text.push_str(path);
                self.ends.push(self.text.len());
                n
            }
        }
    }
}

/// Every distinct blob of every reachable commit of a repository, with its first appearance.
///
/// Compact, as it grows with the history: commits are interned in one `Vec` (oldest first) and
/// referred to by `u32` index, paths are interned once each in one string, and blobs and trees
/// are records in a `Vec` found through a table of indices (about 35 bytes per blob and 63 per
/// tree, plus about 15 bytes per distinct path besides its text).
pub struct GitHistory {
    repo: gix::ThreadSafeRepository,
    path: PathBuf,
    shallow: bool,
    /// Oldest first: every commit comes after its parents, and among commits whose parents have
    /// all come, the one with the earliest committer time comes first.
    commits: Vec<Commit>,
    /// The root tree of each commit, parallel to `commits`.
    commit_trees: Vec<ObjectId>,
    /// In order of first appearance.
    blobs: IdTable<BlobRecord>,
    /// What `commits_carrying` needs to skip trees without reading them.
    trees: IdTable<TreeRecord>,
    paths: PathTable,
    problems: Vec<GitProblem>,
    /// Delta-cache buffers between uses, so that each phase reuses the memory of the last.
    cache_pool: CachePool,
}

impl fmt::Debug for GitHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHistory")
            .field("path", &self.path)
            .field("shallow", &self.shallow)
            .field("commits", &self.commits.len())
            .field("blobs", &self.blobs.len())
            .field("trees", &self.trees.len())
            .field("problems", &self.problems.len())
            .finish_non_exhaustive()
    }
}

impl GitHistory {
    /// Walks all refs (local and remote branches, tags, `HEAD`, notes, replace refs, and every
    /// entry of the stash reflog), every reachable commit, oldest first, each tree once (subtrees
    /// already seen by id are skipped), recording each new blob with the first commit and path
    /// where it appears. Blob contents are not read here.
    ///
    /// `repo` is a work tree (with `.git` inside), a `.git` directory or a bare repository; it is
    /// not searched upwards. Global and system git configuration and `GIT_*` environment variables
    /// are ignored. An empty repository (no commits) gives an empty history; a shallow clone gives
    /// the history it has ([`GitHistory::is_shallow`]).
    ///
    /// # Errors
    /// Only when the repository cannot be opened or its references cannot be listed. Unreadable
    /// objects and references are collected in [`GitHistory::problems`] instead.
    pub fn open(repo: &Path) -> Result<GitHistory, GitError> {
        let safe = open_repository(repo, true)?;
        let local = safe.to_thread_local();
        let mut problems = Vec::new();
        let (shallow, shallow_commits) = shallow_boundary(&local, repo, &mut problems);
        let tips = reference_tips(&local, repo, &mut problems)?;
        let cache_pool = CachePool::default();
        // The tree walk's cache goes back to the pool at the end of this block, for the blob
        // readers.
        let (commits, commit_trees, walked) = {
            let mut packs = PackReader::new(
                safe.objects_dir(),
                local.object_hash(),
                TREE_CACHE_BYTES,
                Some(&cache_pool),
            );
            let mut graph = read_commits(
                &local,
                &mut packs,
                repo,
                &tips,
                &shallow_commits,
                &mut problems,
            );
            let order = oldest_first(&graph);

            let mut commits = Vec::with_capacity(order.len());
            let mut commit_trees = Vec::with_capacity(order.len());
            for &old in &order {
                let raw = &mut graph.commits[old as usize];
                commits.push(Commit {
                    id: raw.id.to_string(),
                    author: std::mem::take(&mut raw.author),
                    time: jiff::Timestamp::from_second(raw.time)
                        .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                });
                commit_trees.push(raw.tree);
            }
            drop(graph);

            let mut walker = TreeWalker {
                repo: &local,
                packs,
                display: repo,
                trees: IdTable::default(),
                blobs: IdTable::default(),
                paths: PathTable::default(),
                bufs: Vec::new(),
                problems,
            };
            let mut path = String::new();
            for (index, tree) in commit_trees.iter().enumerate() {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                let (record, new) = walker.trees.find_or_insert(tree, tree_id, || TreeRecord {
                    id: *tree,
                    info: TreeInfo {
                        first: index,
                        blobs: BlobBloom::ALL,
                    },
                });
                if !new {
                    continue;
                }
                path.clear();
                let blobs = walker.walk(*tree, index, &commits[index as usize].id, &mut path, 0);
                walker.trees.records[record as usize].info.blobs = blobs;
            }
            (commits, commit_trees, walker.finish())
        };
        let Walked {
            trees,
            blobs,
            paths,
            problems,
        } = walked;

        Ok(GitHistory {
            repo: safe,
            path: repo.to_path_buf(),
            shallow,
            commits,
            commit_trees,
            blobs,
            trees,
            paths,
            problems,
            cache_pool,
        })
    }

    /// The repository path as given to [`GitHistory::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many distinct blobs the history holds.
    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// How many commits were walked.
    pub fn commit_count(&self) -> usize {
        self.commits.len()
    }

    /// The commits, oldest first (every commit after its parents).
    pub fn commits(&self) -> &[Commit] {
        &self.commits
    }

    /// `true` for a shallow clone: history is cut off at the shallow boundary, and only what is
    /// present was walked.
    pub fn is_shallow(&self) -> bool {
        self.shallow
    }

    /// Objects and references that could not be read during [`GitHistory::open`] (corrupt pack,
    /// missing object...), each with the object id and the reason. The walk continued past them.
    pub fn problems(&self) -> &[GitProblem] {
        &self.problems
    }

    /// Every blob with its first appearance, in order of first appearance.
    pub fn blobs(&self) -> impl ExactSizeIterator<Item = BlobOrigin<'_>> + '_ {
        self.blobs
            .records
            .iter()
            .map(|record| self.origin_of(record))
    }

    /// Where `blob` first appeared, or `None` when it is not in this history.
    pub fn origin(&self, blob: &gix::oid) -> Option<BlobOrigin<'_>> {
        let index = self.blobs.find(blob, blob_id)?;
        Some(self.origin_of(&self.blobs.records[index as usize]))
    }

    fn origin_of(&self, record: &BlobRecord) -> BlobOrigin<'_> {
        BlobOrigin {
            blob: record.id,
            commit: &self.commits[record.commit as usize],
            path: self.paths.get(record.path),
        }
    }

    /// Reads every blob's bytes and calls `scan` on it, on `threads` worker threads (0: one per
    /// available core), each with its own thread-local repository handle, one reusable buffer and
    /// an 8 MiB cache of decoded delta bases (reusing the memory of the tree walk's cache), so
    /// memory stays bounded by about `threads` × (2 × largest blob read + 8 MiB). Blobs are read
    /// each right after its delta base, which keeps delta chains cheap; `scan` therefore sees
    /// them in no particular order.
    ///
    /// Blobs larger than `max_blob_bytes` are not read: they are reported as
    /// [`GitProblemKind::TooLarge`]. Blobs that cannot be read are reported too; the others are
    /// still scanned. The problems come back ordered by first appearance of the blob. A panic in
    /// `scan` is propagated to the caller once the other threads have stopped.
    pub fn for_each_blob<F>(&self, threads: usize, max_blob_bytes: u64, scan: F) -> Vec<GitProblem>
    where
        F: Fn(BlobOrigin<'_>, &[u8]) + Sync,
    {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            threads
        };
        let threads = threads
            .min(self.blobs.len().div_ceil(MIN_READ_CHUNK))
            .max(1);
        let order = self.read_order();
        let chunk = (order.len() / (threads * 16)).clamp(MIN_READ_CHUNK, MAX_READ_CHUNK);
        let next = AtomicUsize::new(0);
        let (scan, next, order) = (&scan, &next, order.as_slice());
        let outcomes: Vec<std::thread::Result<Vec<(u32, GitProblem)>>> =
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(move || {
                            self.read_blobs(order, chunk, next, max_blob_bytes, scan)
                        })
                    })
                    .collect();
                workers.into_iter().map(|worker| worker.join()).collect()
            });
        let mut problems = Vec::new();
        for outcome in outcomes {
            match outcome {
                Ok(found) => problems.extend(found),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        problems.sort_by_key(|(index, _)| *index);
        problems.into_iter().map(|(_, problem)| problem).collect()
    }

    /// Blob indices in an order that makes delta chains cheap: each blob stored as a delta of
    /// another blob comes right after that base (a depth-first walk of each pack's delta
    /// forest, roots and siblings in pack order), so that the base has just been decoded and is
    /// still in the reader's cache, however far from each other the pack stores them. Blobs not
    /// found in a pack index (loose, or in an alternate object database) come last, in order of
    /// first appearance. A pack that cannot be read only costs speed: its blobs are read anyway.
    fn read_order(&self) -> Vec<u32> {
        const NONE: u32 = u32::MAX;
        let n = self.blobs.len();
        let to_u32 = |i: usize| u32::try_from(i).unwrap_or(NONE);
        let hash_kind = self.repo.to_thread_local().object_hash();
        let packs: Vec<gix::odb::pack::Bundle> = pack_indices(self.repo.objects_dir())
            .iter()
            .filter_map(|path| gix::odb::pack::Bundle::at(path, hash_kind).ok())
            .collect();
        // Where each blob is stored (the first pack holding it).
        let mut location = vec![(NONE, 0u64); n];
        for (pack, bundle) in packs.iter().enumerate() {
            for entry in bundle.index.iter() {
                if let Some(blob) = self.blobs.find(&entry.oid, blob_id) {
                    let at = &mut location[blob as usize];
                    if at.0 == NONE {
                        *at = (to_u32(pack), entry.pack_offset);
                    }
                }
            }
        }
        // Packed blobs in pack order.
        let mut packed: Vec<u32> = (0..n)
            .filter(|&blob| location[blob].0 != NONE)
            .map(to_u32)
            .collect();
        packed.sort_unstable_by_key(|&blob| location[blob as usize]);
        // The base of each blob stored as a delta of a blob of this history, in the same pack
        // and before it (so that the links cannot loop, even in a damaged pack).
        let base_of = |blob: u32| -> u32 {
            use gix::odb::pack::data::entry::Header;
            let (pack, offset) = location[blob as usize];
            let Ok(entry) = packs[pack as usize].pack.entry(offset) else {
                return NONE;
            };
            let Header::OfsDelta { base_distance } = entry.header else {
                return NONE;
            };
            match entry.checked_base_pack_offset(base_distance) {
                Some(base) if base < offset => packed
                    .binary_search_by_key(&(pack, base), |&other| location[other as usize])
                    .map_or(NONE, |found| packed[found]),
                _ => NONE,
            }
        };
        let bases: Vec<u32> = packed.iter().map(|&blob| base_of(blob)).collect();
        drop(location);
        // Children of each blob (as positions in `packed`), in pack order.
        let mut first_child = vec![0u32; n + 1];
        for &base in &bases {
            if base != NONE {
                first_child[base as usize + 1] += 1;
            }
        }
        for i in 1..=n {
            first_child[i] += first_child[i - 1];
        }
        let mut fill = first_child.clone();
        let mut children = vec![0u32; first_child[n] as usize];
        for (position, &base) in bases.iter().enumerate() {
            if base != NONE {
                children[fill[base as usize] as usize] = packed[position];
                fill[base as usize] += 1;
            }
        }
        drop(fill);
        let mut order = Vec::with_capacity(n);
        let mut stack = Vec::new();
        for (position, &root) in packed.iter().enumerate() {
            if bases[position] != NONE {
                continue;
            }
            stack.push(root);
            while let Some(blob) = stack.pop() {
                order.push(blob);
                let range =
                    first_child[blob as usize] as usize..first_child[blob as usize + 1] as usize;
                stack.extend(children[range].iter().rev());
            }
        }
        drop((bases, children, first_child, stack));
        // Then the blobs outside the packs, in order of first appearance.
        let mut placed = vec![false; n];
        for &blob in &order {
            placed[blob as usize] = true;
        }
        order.extend((0..n).filter(|&blob| !placed[blob]).map(to_u32));
        order
    }

    /// One reader thread: takes chunks of `order` until none are left.
    fn read_blobs<F>(
        &self,
        order: &[u32],
        chunk: usize,
        next: &AtomicUsize,
        max_blob_bytes: u64,
        scan: &F,
    ) -> Vec<(u32, GitProblem)>
    where
        F: Fn(BlobOrigin<'_>, &[u8]) + Sync,
    {
        let repo = self.repo.to_thread_local();
        let mut packs = PackReader::new(
            self.repo.objects_dir(),
            repo.object_hash(),
            BLOB_CACHE_BYTES,
            Some(&self.cache_pool),
        );
        let mut buf = Vec::new();
        let mut problems = Vec::new();
        loop {
            let start = next.fetch_add(chunk, Ordering::Relaxed);
            if start >= order.len() {
                break;
            }
            let end = (start + chunk).min(order.len());
            for &index in &order[start..end] {
                let record = &self.blobs.records[index as usize];
                let origin = self.origin_of(record);
                match read_blob(&repo, Some(&mut packs), record.id, max_blob_bytes, &mut buf) {
                    Ok(data) => scan(origin, data),
                    Err((kind, cause)) => {
                        let what = format!(
                            "blob ({}, first seen in commit {})",
                            origin.path, origin.commit.id
                        );
                        problems.push((index, problem(&self.path, record.id, kind, &what, &cause)));
                    }
                }
                if buf.capacity() > KEEP_BUFFER_BYTES {
                    buf = Vec::new();
                }
            }
        }
        problems
    }

    /// For the given blobs, every commit whose tree still contains the blob, with the path
    /// there, besides the blob's origin (its first commit at its first path; the same content at
    /// another path of that commit is listed). Every requested blob is a key of the result; blobs
    /// not in this history are searched for too.
    ///
    /// Cost: commits before the earliest origin of the wanted blobs are skipped, and so is every
    /// subtree first walked before that origin (it cannot hold a blob that appeared later) or
    /// whose Bloom filter of blobs (built by [`GitHistory::open`]) rules out every wanted blob.
    /// The other trees are read at most once each: for each, the entries that lead to a wanted
    /// blob are memoised, and commits sharing a subtree reuse them. For a few blobs this reads a
    /// small part of what [`GitHistory::open`] read. Trees that cannot be read (already in
    /// [`GitHistory::problems`]) are taken as holding no wanted blob.
    pub fn commits_carrying(&self, blobs: &[ObjectId]) -> HashMap<ObjectId, Vec<BlobCarrier<'_>>> {
        let mut result: HashMap<ObjectId, Vec<BlobCarrier<'_>>> =
            blobs.iter().map(|id| (*id, Vec::new())).collect();
        if blobs.is_empty() {
            return result;
        }
        // Wanted blob -> its index in `blobs`.
        let mut wanted: OidMap<u32> = OidMap::default();
        for (n, id) in blobs.iter().enumerate() {
            wanted
                .entry(*id)
                .or_insert(u32::try_from(n).unwrap_or(u32::MAX));
        }
        // Blobs not in this history could be anywhere: search from the first commit.
        let earliest = blobs
            .iter()
            .map(|id| {
                self.blobs
                    .find(id, blob_id)
                    .map_or(0, |i| self.blobs.records[i as usize].commit)
            })
            .min()
            .unwrap_or(0);

        let repo = self.repo.to_thread_local();
        let mut finder = CarrierFinder {
            repo: &repo,
            packs: PackReader::new(
                self.repo.objects_dir(),
                repo.object_hash(),
                TREE_CACHE_BYTES,
                Some(&self.cache_pool),
            ),
            wanted: &wanted,
            wanted_ids: blobs,
            earliest,
            trees: &self.trees,
            masks: blobs.iter().map(|id| BlobBloom::of(id)).collect(),
            memo: vec![NOT_SEARCHED; self.trees.len()],
            lists: Vec::new(),
            entries: Vec::new(),
            pending: Vec::new(),
            names: String::new(),
            bufs: Vec::new(),
        };
        let mut found: Vec<(ObjectId, String)> = Vec::new();
        let mut path = String::new();
        for (index, tree) in self.commit_trees.iter().enumerate().skip(earliest as usize) {
            let Some(list) = finder.relevant(*tree, 0) else {
                continue;
            };
            path.clear();
            finder.emit(list, &mut path, &mut found);
            let commit = &self.commits[index];
            for (blob, blob_path) in found.drain(..) {
                if let Some(origin) = self.origin(&blob)
                    && std::ptr::eq(origin.commit, commit)
                    && origin.path == blob_path
                {
                    continue;
                }
                if let Some(carriers) = result.get_mut(&blob) {
                    carriers.push(BlobCarrier {
                        commit,
                        path: blob_path,
                    });
                }
            }
        }
        result
    }
}

/// A blob staged in the index, as it would be committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedBlob {
    /// Path in the work tree, `/`-separated (converted lossily to UTF-8).
    pub path: String,
    /// The staged blob's id.
    pub id: ObjectId,
    /// The staged content (what will be committed, not what is in the work tree now).
    pub bytes: Vec<u8>,
}

/// Pre-commit hook mode: the blobs staged in the index that differ from `HEAD` (added or
/// modified files, including symbolic links), with their path and bytes. In a repository without
/// commits yet, every staged file. Submodules, intent-to-add entries (`git add -N`) and unmerged
/// entries are left out; deleted files have nothing to scan.
///
/// Unlike [`GitHistory::open`], this honours `GIT_INDEX_FILE`, which git sets for hooks run by
/// `git commit -a` or `git commit <paths>`. Each staged blob is read whole into memory.
///
/// # Errors
/// When `repo` is not a repository, is bare, or its index, `HEAD` or a staged blob cannot be read.
pub fn staged_blobs(repo: &Path) -> Result<Vec<StagedBlob>, GitError> {
    let safe = open_repository(repo, false)?;
    let local = safe.to_thread_local();
    if local.workdir().is_none() {
        return Err(GitError::Bare {
            path: repo.to_path_buf(),
        });
    }
    let staging = |what: &'static str| {
        move |err: gix::Error| GitError::Staging {
            path: repo.to_path_buf(),
            what,
            reason: error_chain(&err),
        }
    };
    let index = local.index_or_empty().map_err(staging("index"))?;
    let head_tree = local
        .head_tree_id_or_empty()
        .map_err(staging("HEAD commit"))?
        .detach();

    // Path -> blob id of everything in HEAD.
    let mut head_blobs: HashMap<Vec<u8>, ObjectId> = HashMap::new();
    let mut pending = vec![(head_tree, Vec::<u8>::new())];
    let mut buf = Vec::new();
    while let Some((tree, prefix)) = pending.pop() {
        if tree.is_empty_tree() {
            continue;
        }
        let data =
            read_object(&local, None, tree, Kind::Tree, &mut buf).map_err(|(_, cause)| {
                GitError::Object {
                    path: repo.to_path_buf(),
                    what: format!("tree of HEAD at '{}'", String::from_utf8_lossy(&prefix)),
                    id: tree,
                    reason: cause,
                }
            })?;
        for entry in gix::objs::TreeRefIter::from_bytes(data, tree.kind()) {
            let entry = entry.map_err(|err| GitError::Object {
                path: repo.to_path_buf(),
                what: format!("tree of HEAD at '{}'", String::from_utf8_lossy(&prefix)),
                id: tree,
                reason: format!("cannot be decoded: {}", error_chain(&err)),
            })?;
            let mut path = prefix.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(entry.filename);
            if entry.mode.is_tree() {
                pending.push((entry.oid.to_owned(), path));
            } else if entry.mode.is_blob_or_symlink() {
                head_blobs.insert(path, entry.oid.to_owned());
            }
        }
    }

    use gix::index::entry::{Flags, Mode};
    let mut staged = Vec::new();
    for entry in index.entries() {
        if entry.stage_raw() != 0
            || entry.flags.contains(Flags::INTENT_TO_ADD)
            || !(entry.mode.contains(Mode::FILE) || entry.mode.contains(Mode::SYMLINK))
            || entry.mode.contains(Mode::COMMIT)
        {
            continue;
        }
        let path = entry.path(&index);
        if head_blobs.get(path.as_ref() as &[u8]) == Some(&entry.id) {
            continue;
        }
        let path = String::from_utf8_lossy(path).into_owned();
        let bytes = read_blob(&local, None, entry.id, u64::MAX, &mut buf)
            .map(<[u8]>::to_vec)
            .map_err(|(_, cause)| GitError::Object {
                path: repo.to_path_buf(),
                what: format!("staged blob '{path}'"),
                id: entry.id,
                reason: cause,
            })?;
        staged.push(StagedBlob {
            path,
            id: entry.id,
            bytes,
        });
    }
    Ok(staged)
}

/// Opens `path` exactly (no upward search), with replacement refs disabled. `isolated` ignores
/// global and system configuration and the environment.
fn open_repository(path: &Path, isolated: bool) -> Result<gix::ThreadSafeRepository, GitError> {
    if let Err(source) = std::fs::metadata(path) {
        return Err(GitError::Path {
            path: path.to_path_buf(),
            source,
        });
    }
    let options = if isolated {
        gix::open::Options::isolated()
    } else {
        gix::open::Options::default()
    };
    let options = options.config_overrides(["core.useReplaceRefs=false"]);
    gix::ThreadSafeRepository::open_opts(path, options).map_err(|source| {
        if source.is_not_found() {
            GitError::NotARepository {
                path: path.to_path_buf(),
                source,
            }
        } else {
            GitError::Open {
                path: path.to_path_buf(),
                reason: error_chain(&source),
                source,
            }
        }
    })
}

/// Whether the repository is shallow, and the commits whose parents were cut off.
fn shallow_boundary(
    repo: &gix::Repository,
    display: &Path,
    problems: &mut Vec<GitProblem>,
) -> (bool, gix::hashtable::HashSet<ObjectId>) {
    let mut boundary = gix::hashtable::HashSet::default();
    match repo.shallow_commits() {
        Ok(Some(commits)) => {
            boundary.extend(commits.iter().copied());
            (true, boundary)
        }
        Ok(None) => (false, boundary),
        Err(err) => {
            problems.push(GitProblem {
                object: None,
                kind: GitProblemKind::BadReference,
                reason: format!(
                    "git repository {}: the shallow file (list of cut-off commits) cannot be \
                     read: {}; missing parents will be reported as problems",
                    display.display(),
                    error_chain(&err)
                ),
            });
            (repo.is_shallow().unwrap_or(true), boundary)
        }
    }
}

/// The commits that references point at (after peeling tags), each with the name of one
/// reference pointing at it.
fn reference_tips(
    repo: &gix::Repository,
    display: &Path,
    problems: &mut Vec<GitProblem>,
) -> Result<Vec<(ObjectId, String)>, GitError> {
    let references_error = |source: gix::Error| GitError::References {
        path: display.to_path_buf(),
        reason: error_chain(&source),
        source,
    };
    let mut targets: Vec<(ObjectId, String)> = Vec::new();
    // HEAD: unborn in an empty repository, detached or on a branch otherwise.
    match repo.head() {
        Ok(head) => {
            if let Some(id) = head.id() {
                targets.push((id.detach(), "HEAD".to_owned()));
            }
        }
        Err(err) => problems.push(bad_reference(display, "HEAD", &err)),
    }
    let platform = repo.references().map_err(references_error)?;
    for reference in platform.all().map_err(references_error)? {
        match reference {
            Ok(reference) => {
                if let gix::refs::TargetRef::Object(id) = reference.target() {
                    targets.push((id.to_owned(), reference.name().as_bstr().to_string()));
                }
            }
            Err(err) => problems.push(bad_reference(display, "(unreadable reference)", &err)),
        }
    }
    // Older stash entries live only in the reflog of refs/stash.
    if let Ok(Some(stash)) = repo.try_find_reference("refs/stash") {
        let mut log = stash.log_iter();
        if let Ok(Some(lines)) = log.all() {
            // Oldest first in the file; stash@{0} is the newest.
            let ids: Vec<ObjectId> = lines
                .filter_map(|line| ObjectId::from_hex(line.ok()?.new_oid).ok())
                .collect();
            for (n, id) in ids.iter().rev().enumerate() {
                targets.push((*id, format!("stash@{{{n}}}")));
            }
        }
    }

    // Peel annotated tags down to what they point at.
    let mut tips = Vec::with_capacity(targets.len());
    let mut seen = gix::hashtable::HashSet::default();
    let mut buf = Vec::new();
    for (mut id, name) in targets {
        for _ in 0..64 {
            match repo.objects.try_find(&id, &mut buf) {
                Ok(Some(object)) if object.kind == Kind::Tag => {
                    match gix::objs::TagRefIter::from_bytes(object.data, id.kind()).target_id() {
                        Ok(target) => id = target,
                        Err(err) => {
                            problems.push(problem(
                                display,
                                id,
                                GitProblemKind::Unreadable,
                                &format!("tag object (reference {name})"),
                                &format!("cannot be decoded: {}", error_chain(&err)),
                            ));
                            break;
                        }
                    }
                }
                Ok(Some(object)) if object.kind == Kind::Commit => {
                    if seen.insert(id) {
                        tips.push((id, name));
                    }
                    break;
                }
                Ok(Some(object)) => {
                    problems.push(problem(
                        display,
                        id,
                        GitProblemKind::NotACommit,
                        &format!("{} (reference {name})", object.kind),
                        "is not a commit, so it has no history to attribute its content to; not scanned",
                    ));
                    break;
                }
                Ok(None) => {
                    problems.push(problem(
                        display,
                        id,
                        GitProblemKind::Missing,
                        &format!("object (reference {name})"),
                        "is not in the object database",
                    ));
                    break;
                }
                Err(err) => {
                    problems.push(problem(
                        display,
                        id,
                        GitProblemKind::Unreadable,
                        &format!("object (reference {name})"),
                        &format!("cannot be read: {}", error_chain(&err)),
                    ));
                    break;
                }
            }
        }
    }
    Ok(tips)
}

fn bad_reference(display: &Path, name: &str, err: &gix::Error) -> GitProblem {
    GitProblem {
        object: None,
        kind: GitProblemKind::BadReference,
        reason: format!(
            "git repository {}: reference {name} cannot be read: {}; its history was not walked",
            display.display(),
            error_chain(err)
        ),
    }
}

fn problem(
    display: &Path,
    id: ObjectId,
    kind: GitProblemKind,
    what: &str,
    cause: &str,
) -> GitProblem {
    let hint = match kind {
        GitProblemKind::Unreadable => {
            " (`git fsck --full` in the repository lists damaged objects)"
        }
        _ => "",
    };
    GitProblem {
        object: Some(id),
        kind,
        reason: format!(
            "git repository {}: {what} {id} {cause}{hint}",
            display.display()
        ),
    }
}

/// A commit as read, before ordering.
struct RawCommit {
    id: ObjectId,
    tree: ObjectId,
    /// Range into `CommitGraph::parents`.
    parents: std::ops::Range<u32>,
    time: i64,
    author: String,
}

struct CommitGraph {
    commits: Vec<RawCommit>,
    /// Parent indices into `commits`, for all commits; parents that could not be read are absent.
    parents: Vec<u32>,
}

/// Reads every commit reachable from `tips` (depth first), stopping at the shallow boundary.
fn read_commits(
    repo: &gix::Repository,
    packs: &mut PackReader,
    display: &Path,
    tips: &[(ObjectId, String)],
    shallow: &gix::hashtable::HashSet<ObjectId>,
    problems: &mut Vec<GitProblem>,
) -> CommitGraph {
    /// Who referred to a commit: a reference (index into `tips`) or a child commit.
    #[derive(Clone, Copy)]
    enum Via {
        Reference(usize),
        Child(ObjectId),
    }
    let mut index: OidMap<u32> = OidMap::default();
    let mut commits: Vec<RawCommit> = Vec::new();
    let mut parent_ids: Vec<ObjectId> = Vec::new();
    let mut stack: Vec<(ObjectId, Via)> = tips
        .iter()
        .enumerate()
        .rev()
        .map(|(n, (id, _))| (*id, Via::Reference(n)))
        .collect();
    let mut failed = gix::hashtable::HashSet::default();
    let mut buf = Vec::new();
    while let Some((id, via)) = stack.pop() {
        if index.contains_key(&id) || failed.contains(&id) {
            continue;
        }
        let context = || match via {
            Via::Reference(n) => format!("commit (reference {})", tips[n].1),
            Via::Child(child) => format!("commit (parent of commit {child})"),
        };
        let data = match read_object(repo, Some(&mut *packs), id, Kind::Commit, &mut buf) {
            Ok(data) => data,
            Err((kind, cause)) => {
                failed.insert(id);
                problems.push(problem(
                    display,
                    id,
                    kind,
                    &context(),
                    &format!("{cause}; the history behind it was not walked"),
                ));
                continue;
            }
        };
        let mut tree = None;
        let mut time = 0;
        let mut author = String::new();
        let start = parent_ids.len();
        let mut decode_error = None;
        for token in gix::objs::CommitRefIter::from_bytes(data, id.kind()) {
            match token {
                Ok(Token::Tree { id }) => tree = Some(id),
                Ok(Token::Parent { id }) => parent_ids.push(id),
                Ok(Token::Author { signature }) => {
                    author = format!("{} <{}>", signature.name, signature.email);
                }
                Ok(Token::Committer { signature }) => {
                    time = signature.seconds();
                    break;
                }
                Ok(_) => break,
                Err(err) => {
                    decode_error = Some(error_chain(&err));
                    break;
                }
            }
        }
        let Some(tree) = tree.filter(|_| decode_error.is_none()) else {
            parent_ids.truncate(start);
            failed.insert(id);
            let cause = decode_error.unwrap_or_else(|| "it names no tree".to_owned());
            problems.push(problem(
                display,
                id,
                GitProblemKind::Unreadable,
                &context(),
                &format!("cannot be decoded: {cause}; the history behind it was not walked"),
            ));
            continue;
        };
        if shallow.contains(&id) {
            // Its parents are beyond the shallow boundary: not in this clone.
            parent_ids.truncate(start);
        }
        for parent in parent_ids[start..].iter().rev() {
            stack.push((*parent, Via::Child(id)));
        }
        let n = u32::try_from(commits.len()).unwrap_or(u32::MAX);
        index.insert(id, n);
        commits.push(RawCommit {
            id,
            tree,
            parents: u32::try_from(start).unwrap_or(u32::MAX)
                ..u32::try_from(parent_ids.len()).unwrap_or(u32::MAX),
            time,
            author,
        });
    }
    // Parent ids -> indices; unreadable parents drop out.
    let mut parents = Vec::with_capacity(parent_ids.len());
    for commit in &mut commits {
        let start = parents.len();
        parents.extend(
            parent_ids[commit.parents.start as usize..commit.parents.end as usize]
                .iter()
                .filter_map(|id| index.get(id).copied()),
        );
        commit.parents = u32::try_from(start).unwrap_or(u32::MAX)
            ..u32::try_from(parents.len()).unwrap_or(u32::MAX);
    }
    CommitGraph { commits, parents }
}

/// Commit indices ordered so that every commit comes after its parents, and among those ready,
/// the earliest committer time (then discovery order) first.
fn oldest_first(graph: &CommitGraph) -> Vec<u32> {
    let n = graph.commits.len();
    let mut pending_parents = vec![0u32; n];
    let mut child_count = vec![0u32; n + 1];
    for (c, commit) in graph.commits.iter().enumerate() {
        let parents = &graph.parents[commit.parents.start as usize..commit.parents.end as usize];
        pending_parents[c] = u32::try_from(parents.len()).unwrap_or(u32::MAX);
        for &p in parents {
            child_count[p as usize + 1] += 1;
        }
    }
    // Children lists, compressed: children of c are children[offsets[c]..offsets[c + 1]].
    for i in 1..=n {
        child_count[i] += child_count[i - 1];
    }
    let offsets = child_count;
    let mut fill = offsets.clone();
    let mut children = vec![0u32; offsets[n] as usize];
    for (c, commit) in graph.commits.iter().enumerate() {
        for &p in &graph.parents[commit.parents.start as usize..commit.parents.end as usize] {
            children[fill[p as usize] as usize] = u32::try_from(c).unwrap_or(u32::MAX);
            fill[p as usize] += 1;
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<(i64, u32)>> = graph
        .commits
        .iter()
        .enumerate()
        .filter(|(c, _)| pending_parents[*c] == 0)
        .map(|(c, commit)| std::cmp::Reverse((commit.time, u32::try_from(c).unwrap_or(u32::MAX))))
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse((_, c))) = ready.pop() {
        order.push(c);
        for &child in &children[offsets[c as usize] as usize..offsets[c as usize + 1] as usize] {
            pending_parents[child as usize] -= 1;
            if pending_parents[child as usize] == 0 {
                ready.push(std::cmp::Reverse((
                    graph.commits[child as usize].time,
                    child,
                )));
            }
        }
    }
    order
}

/// What [`TreeWalker`] found.
struct Walked {
    trees: IdTable<TreeRecord>,
    blobs: IdTable<BlobRecord>,
    paths: PathTable,
    problems: Vec<GitProblem>,
}

/// The first-appearance walk over trees.
struct TreeWalker<'r> {
    repo: &'r gix::Repository,
    packs: PackReader<'r>,
    display: &'r Path,
    trees: IdTable<TreeRecord>,
    blobs: IdTable<BlobRecord>,
    paths: PathTable,
    /// One reusable buffer per tree depth.
    bufs: Vec<Vec<u8>>,
    problems: Vec<GitProblem>,
}

impl TreeWalker<'_> {
    fn finish(self) -> Walked {
        Walked {
            trees: self.trees,
            blobs: self.blobs,
            paths: self.paths,
            problems: self.problems,
        }
    }

    /// Walks `tree` (already marked as seen), whose entries' paths start with `path`; returns the
    /// Bloom filter of all blobs below it.
    fn walk(
        &mut self,
        tree: ObjectId,
        commit: u32,
        commit_id: &str,
        path: &mut String,
        depth: usize,
    ) -> BlobBloom {
        if depth >= MAX_TREE_DEPTH {
            self.tree_problem(
                tree,
                GitProblemKind::TooDeep,
                commit_id,
                path,
                format!("is nested deeper than {MAX_TREE_DEPTH} trees; not walked"),
            );
            return BlobBloom::ALL;
        }
        if tree.is_empty_tree() {
            return BlobBloom::default();
        }
        let mut bloom = BlobBloom::default();
        if self.bufs.len() <= depth {
            self.bufs.resize_with(depth + 1, Vec::new);
        }
        let mut buf = std::mem::take(&mut self.bufs[depth]);
        match read_object(self.repo, Some(&mut self.packs), tree, Kind::Tree, &mut buf) {
            Ok(data) => {
                for entry in gix::objs::TreeRefIter::from_bytes(data, tree.kind()) {
                    let entry = match entry {
                        Ok(entry) => entry,
                        Err(err) => {
                            let cause =
                                format!("cannot be decoded past this point: {}", error_chain(&err));
                            self.tree_problem(
                                tree,
                                GitProblemKind::Unreadable,
                                commit_id,
                                path,
                                cause,
                            );
                            bloom = BlobBloom::ALL;
                            break;
                        }
                    };
                    let base = path.len();
                    if entry.mode.is_tree() {
                        let id = entry.oid.to_owned();
                        // Unknown until walked: "may hold anything".
                        let (record, new) =
                            self.trees.find_or_insert(&id, tree_id, || TreeRecord {
                                id,
                                info: TreeInfo {
                                    first: commit,
                                    blobs: BlobBloom::ALL,
                                },
                            });
                        if new {
                            push_name(path, entry.filename);
                            path.push('/');
                            let below = self.walk(id, commit, commit_id, path, depth + 1);
                            path.truncate(base);
                            self.trees.records[record as usize].info.blobs = below;
                        }
                        bloom.add(self.trees.records[record as usize].info.blobs);
                    } else if entry.mode.is_blob_or_symlink() {
                        bloom.add(BlobBloom::of(entry.oid));
                        let (record, new) =
                            self.blobs
                                .find_or_insert(entry.oid, blob_id, || BlobRecord {
                                    id: entry.oid.to_owned(),
                                    commit,
                                    path: u32::MAX,
                                });
                        if new {
                            push_name(path, entry.filename);
                            self.blobs.records[record as usize].path = self.paths.intern(path);
                            path.truncate(base);
                        }
                    }
                    // Gitlinks (submodule commits) belong to another repository: skipped.
                }
            }
            Err((kind, cause)) => {
                self.tree_problem(tree, kind, commit_id, path, cause);
                bloom = BlobBloom::ALL;
            }
        }
        self.bufs[depth] = buf;
        bloom
    }

    fn tree_problem(
        &mut self,
        tree: ObjectId,
        kind: GitProblemKind,
        commit_id: &str,
        path: &str,
        cause: String,
    ) {
        let location = if path.is_empty() {
            "the root tree".to_owned()
        } else {
            format!("'{path}'")
        };
        self.problems.push(problem(
            self.display,
            tree,
            kind,
            &format!("tree ({location} of commit {commit_id})"),
            &format!("{cause}; the blobs below it were not recorded"),
        ));
    }
}

fn push_name(path: &mut String, name: &[u8]) {
    path.push_str(&String::from_utf8_lossy(name));
}

fn blob_id(record: &BlobRecord) -> &ObjectId {
    &record.id
}

fn tree_id(record: &TreeRecord) -> &ObjectId {
    &record.id
}

/// What the walk remembers of each distinct tree, so that `commits_carrying` can skip it.
#[derive(Debug, Clone, Copy)]
struct TreeInfo {
    /// Index of the first commit in which the tree was walked. A tree only holds blobs whose
    /// first appearance is at or before that commit.
    first: u32,
    /// Every blob below the tree, recursively.
    blobs: BlobBloom,
}

/// A 256-bit Bloom filter of blob ids, two bits per blob (object ids are uniformly random, so
/// two pairs of their bytes serve as the two hashes): 32 bytes per distinct tree. A directory of
/// 20 files gives about 2% false positives, one of 50 about 10%; the top trees of a large
/// repository saturate, which only costs reading them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct BlobBloom([u64; BLOOM_WORDS]);

const BLOOM_WORDS: usize = 4;

impl BlobBloom {
    /// "May hold any blob": for trees not (completely) read.
    const ALL: BlobBloom = BlobBloom([u64::MAX; BLOOM_WORDS]);

    fn of(id: &gix::oid) -> BlobBloom {
        let mut bloom = BlobBloom::default();
        let bytes = id.as_bytes();
        for pair in [[bytes[0], bytes[1]], [bytes[2], bytes[3]]] {
            let bit = usize::from(u16::from_le_bytes(pair)) % (BLOOM_WORDS * 64);
            bloom.0[bit / 64] |= 1 << (bit % 64);
        }
        bloom
    }

    fn add(&mut self, other: BlobBloom) {
        for (word, other) in self.0.iter_mut().zip(other.0) {
            *word |= other;
        }
    }

    fn may_contain(self, mask: BlobBloom) -> bool {
        self.0
            .iter()
            .zip(mask.0)
            .all(|(word, mask)| word & mask == mask)
    }
}

/// Memoised search for the paths of wanted blobs below trees, for `commits_carrying`.
struct CarrierFinder<'a> {
    repo: &'a gix::Repository,
    packs: PackReader<'a>,
    /// Wanted blob -> its index in `wanted_ids`.
    wanted: &'a OidMap<u32>,
    wanted_ids: &'a [ObjectId],
    earliest: u32,
    trees: &'a IdTable<TreeRecord>,
    /// Bloom bits of each wanted blob.
    masks: Vec<BlobBloom>,
    /// Per tree of `trees`: [`NOT_SEARCHED`], [`NOTHING_WANTED`] or its index into `lists`.
    memo: Vec<u32>,
    /// The relevant entries of each tree holding a wanted blob: a range of `entries`.
    lists: Vec<std::ops::Range<u32>>,
    entries: Vec<Relevant>,
    /// Entries of the trees being searched (deepest last), before they move to `entries`.
    pending: Vec<Relevant>,
    /// The names of `entries`, back to back.
    names: String,
    bufs: Vec<Vec<u8>>,
}

/// [`CarrierFinder::memo`]: the tree has not been searched yet.
const NOT_SEARCHED: u32 = u32::MAX;
/// [`CarrierFinder::memo`]: the tree holds no wanted blob.
const NOTHING_WANTED: u32 = u32::MAX - 1;

/// An entry of a tree that is, or leads to, a wanted blob.
struct Relevant {
    /// Range of `CarrierFinder::names`.
    name: std::ops::Range<usize>,
    target: RelevantTarget,
}

enum RelevantTarget {
    /// Index into `CarrierFinder::wanted_ids`.
    Blob(u32),
    /// Index into `CarrierFinder::lists`.
    Tree(u32),
}

impl CarrierFinder<'_> {
    /// The relevant entries of `tree` (as an index into `lists`), or `None` when it cannot hold a
    /// wanted blob.
    fn relevant(&mut self, tree: ObjectId, depth: usize) -> Option<u32> {
        // Never walked: unreadable (already a problem) or not in this history.
        let record = self.trees.find(&tree, tree_id)? as usize;
        let info = self.trees.records[record].info;
        // Walked before the earliest wanted blob appeared, or its Bloom filter rules out every
        // wanted blob: cannot hold one.
        if info.first < self.earliest
            || !self.masks.iter().any(|mask| info.blobs.may_contain(*mask))
        {
            return None;
        }
        match self.memo[record] {
            NOT_SEARCHED => {}
            NOTHING_WANTED => return None,
            list => return Some(list),
        }
        if depth >= MAX_TREE_DEPTH || tree.is_empty_tree() {
            return None;
        }
        if self.bufs.len() <= depth {
            self.bufs.resize_with(depth + 1, Vec::new);
        }
        let mut buf = std::mem::take(&mut self.bufs[depth]);
        let mark = self.pending.len();
        if let Ok(data) = read_object(self.repo, Some(&mut self.packs), tree, Kind::Tree, &mut buf)
        {
            for entry in gix::objs::TreeRefIter::from_bytes(data, tree.kind()) {
                let Ok(entry) = entry else { break };
                let target = if entry.mode.is_tree() {
                    match self.relevant(entry.oid.to_owned(), depth + 1) {
                        Some(list) => RelevantTarget::Tree(list),
                        None => continue,
                    }
                } else if entry.mode.is_blob_or_symlink()
                    && let Some(&blob) = self.wanted.get(entry.oid)
                {
                    RelevantTarget::Blob(blob)
                } else {
                    continue;
                };
                let start = self.names.len();
                push_name(&mut self.names, entry.filename);
                self.pending.push(Relevant {
                    name: start..self.names.len(),
                    target,
                });
            }
        }
        self.bufs[depth] = buf;
        let result = if self.pending.len() == mark {
            NOTHING_WANTED
        } else {
            let start = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            self.entries.extend(self.pending.drain(mark..));
            let end = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            self.lists.push(start..end);
            u32::try_from(self.lists.len() - 1).unwrap_or(NOTHING_WANTED)
        };
        self.memo[record] = result;
        (result != NOTHING_WANTED).then_some(result)
    }

    /// Appends every wanted blob below list `list` with its path (prefixed by `path`).
    fn emit(&self, list: u32, path: &mut String, out: &mut Vec<(ObjectId, String)>) {
        let range = self.lists[list as usize].clone();
        for entry in &self.entries[range.start as usize..range.end as usize] {
            let base = path.len();
            path.push_str(&self.names[entry.name.clone()]);
            match entry.target {
                RelevantTarget::Blob(blob) => {
                    out.push((self.wanted_ids[blob as usize], path.clone()))
                }
                RelevantTarget::Tree(sub) => {
                    path.push('/');
                    self.emit(sub, path, out);
                }
            }
            path.truncate(base);
        }
    }
}

/// Reads blob `id` whole into `buf` unless it is larger than `max_bytes`.
fn read_blob<'b>(
    repo: &gix::Repository,
    packs: Option<&mut PackReader>,
    id: ObjectId,
    max_bytes: u64,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], (GitProblemKind, String)> {
    read_object_limited(repo, packs, id, Kind::Blob, max_bytes, buf)
}

/// Reads object `id`, which must be of kind `kind`, into `buf`.
fn read_object<'b>(
    repo: &gix::Repository,
    packs: Option<&mut PackReader>,
    id: ObjectId,
    kind: Kind,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], (GitProblemKind, String)> {
    read_object_limited(repo, packs, id, kind, u64::MAX, buf)
}

/// Reads object `id`, which must be of kind `kind`, into `buf` unless it is larger than
/// `max_bytes`: through `packs` when it can, else (and for every error) through gix.
fn read_object_limited<'b>(
    repo: &gix::Repository,
    packs: Option<&mut PackReader>,
    id: ObjectId,
    kind: Kind,
    max_bytes: u64,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], (GitProblemKind, String)> {
    let too_large = |size: u64| {
        (
            GitProblemKind::TooLarge,
            format!("is {size} bytes, more than the {max_bytes}-byte limit; not read"),
        )
    };
    if let Some(packs) = packs {
        match packs.read(&id, max_bytes, buf) {
            PackRead::Done(found) if found == kind => return Ok(buf.as_slice()),
            PackRead::TooLarge(size) => return Err(too_large(size)),
            PackRead::Done(_) | PackRead::Fallback => {}
        }
    }
    if max_bytes != u64::MAX {
        match repo.objects.try_header(&id) {
            Ok(Some(header)) if header.size() > max_bytes => return Err(too_large(header.size())),
            Ok(_) => {}
            Err(err) => {
                return Err((
                    GitProblemKind::Unreadable,
                    format!("cannot be read: {}", error_chain(&err)),
                ));
            }
        }
    }
    match repo.objects.try_find(&id, buf) {
        Ok(Some(object)) if object.kind == kind => Ok(object.data),
        Ok(Some(object)) => Err((
            GitProblemKind::Unreadable,
            format!("is a {}, not a {kind} as its parent says", object.kind),
        )),
        // git treats the empty blob and tree as always present.
        Ok(None)
            if (kind == Kind::Blob && id.is_empty_blob())
                || (kind == Kind::Tree && id.is_empty_tree()) =>
        {
            Ok(&[])
        }
        Ok(None) => Err((
            GitProblemKind::Missing,
            "is not in the object database (shallow or partial clone, or a damaged repository)"
                .to_owned(),
        )),
        Err(err) => Err((
            GitProblemKind::Unreadable,
            format!("cannot be read: {}", error_chain(&err)),
        )),
    }
}

/// An error and its causes on one line, each cause once.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !message.is_empty() && !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// What [`PackReader::read`] did.
enum PackRead {
    /// The object is in `out`.
    Done(Kind),
    /// The object is larger than the limit given; not read.
    TooLarge(u64),
    /// Not in a pack this reader knows, stored in a way it leaves to gix (a delta against an
    /// object named by id), over its size caps, or damaged: read it through gix, which also
    /// gives the authoritative error.
    Fallback,
}

/// Reads objects straight from the repository's pack files, keeping *every* object of each delta
/// chain it resolves in a byte-bounded cache.
///
/// gix's own delta-base cache only keeps the objects asked for, so reading the trees of a
/// history oldest first (packs store old versions as deltas of newer ones) re-inflates most of a
/// chain (up to 50 deltas) for every tree. With the intermediates cached, each object of a chain
/// is inflated about once. Anything unusual is left to gix ([`PackRead::Fallback`]), so this is
/// only ever an accelerator.
struct PackReader<'p> {
    packs: Vec<gix::odb::pack::Bundle>,
    inflate: gix::zlib::Inflate,
    cache: ChainCache<'p>,
    /// Offsets and entries of the deltas of the chain being resolved, top first.
    chain: Vec<gix::odb::pack::data::Entry>,
    /// Decompressed delta instructions, parallel to `chain`.
    deltas: Vec<Vec<u8>>,
    scratch: Vec<u8>,
}

/// Objects above this size (bases, deltas or results) are left to gix.
const PACK_READER_MAX_OBJECT: u64 = 256 << 20;
/// Delta chains longer than this are left to gix (git writes at most 50 by default; a loop in a
/// damaged pack would be endless).
const PACK_READER_MAX_CHAIN: usize = 10_000;

impl<'p> PackReader<'p> {
    /// Opens every pack of `objects_dir` (pack files that cannot be opened are left to gix). The
    /// cache holds up to `cache_bytes`, in buffers taken from `pool` and given back to it when
    /// the reader is dropped.
    fn new(
        objects_dir: &Path,
        hash_kind: gix::hash::Kind,
        cache_bytes: usize,
        pool: Option<&'p CachePool>,
    ) -> PackReader<'p> {
        PackReader {
            packs: pack_indices(objects_dir)
                .iter()
                .filter_map(|path| gix::odb::pack::Bundle::at(path, hash_kind).ok())
                .collect(),
            inflate: gix::zlib::Inflate::default(),
            cache: ChainCache::new(cache_bytes, pool),
            chain: Vec::new(),
            deltas: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Reads object `id` into `out` unless it is larger than `limit` bytes.
    fn read(&mut self, id: &gix::oid, limit: u64, out: &mut Vec<u8>) -> PackRead {
        for pack in 0..self.packs.len() {
            let index = &self.packs[pack].index;
            if let Some(entry) = index.lookup(id) {
                let offset = index.pack_offset_at_index(entry);
                let read = self.resolve(pack, offset, limit, out);
                // Give back memory held after an unusually large object.
                if self.scratch.capacity() > KEEP_BUFFER_BYTES {
                    self.scratch = Vec::new();
                }
                for delta in &mut self.deltas {
                    if delta.capacity() > KEEP_BUFFER_BYTES {
                        *delta = Vec::new();
                    }
                }
                if pack != 0 && matches!(read, PackRead::Done(_)) {
                    // Objects read together tend to live in the same pack.
                    self.packs.swap(0, pack);
                }
                return read;
            }
        }
        PackRead::Fallback
    }

    fn resolve(&mut self, pack: usize, offset: u64, limit: u64, out: &mut Vec<u8>) -> PackRead {
        use gix::odb::pack::data::entry::Header;
        self.chain.clear();
        let file = &self.packs[pack].pack;
        let key = |offset: u64| (u32::try_from(pack).unwrap_or(u32::MAX), offset);
        let mut at = offset;
        // Down the chain to a cached object or a full base.
        let kind = loop {
            if let Some(kind) = self.cache.get(key(at), out) {
                if self.chain.is_empty() && out.len() as u64 > limit {
                    return PackRead::TooLarge(out.len() as u64);
                }
                break kind;
            }
            let Ok(entry) = file.entry(at) else {
                return PackRead::Fallback;
            };
            if entry.decompressed_size > PACK_READER_MAX_OBJECT {
                return PackRead::Fallback;
            }
            let kind = match entry.header {
                Header::OfsDelta { base_distance } => {
                    let Some(base) = entry.checked_base_pack_offset(base_distance) else {
                        return PackRead::Fallback;
                    };
                    let depth = self.chain.len();
                    if depth >= PACK_READER_MAX_CHAIN {
                        return PackRead::Fallback;
                    }
                    if self.deltas.len() <= depth {
                        self.deltas.push(Vec::new());
                    }
                    let delta = &mut self.deltas[depth];
                    if !inflate_entry(file, &entry, &mut self.inflate, delta) {
                        return PackRead::Fallback;
                    }
                    if depth == 0 {
                        // The requested object's size is the first delta's result size.
                        let Some((_, size, _)) = delta_sizes(delta) else {
                            return PackRead::Fallback;
                        };
                        if size > limit {
                            return PackRead::TooLarge(size);
                        }
                    }
                    self.chain.push(entry);
                    at = base;
                    continue;
                }
                Header::RefDelta { .. } => return PackRead::Fallback,
                Header::Commit => Kind::Commit,
                Header::Tree => Kind::Tree,
                Header::Blob => Kind::Blob,
                Header::Tag => Kind::Tag,
            };
            if self.chain.is_empty() && entry.decompressed_size > limit {
                return PackRead::TooLarge(entry.decompressed_size);
            }
            if !inflate_entry(file, &entry, &mut self.inflate, out) {
                return PackRead::Fallback;
            }
            if !self.chain.is_empty() {
                self.cache.put(key(at), kind, out);
            }
            break kind;
        };
        // Back up the chain, keeping each intermediate object.
        for depth in (0..self.chain.len()).rev() {
            let delta = &self.deltas[depth];
            let Some((base_size, size, instructions)) = delta_sizes(delta) else {
                return PackRead::Fallback;
            };
            if base_size != out.len() as u64 || size > PACK_READER_MAX_OBJECT {
                return PackRead::Fallback;
            }
            self.scratch.clear();
            self.scratch
                .resize(usize::try_from(size).unwrap_or(usize::MAX), 0);
            if !apply_delta(out, &mut self.scratch, &delta[instructions..]) {
                return PackRead::Fallback;
            }
            std::mem::swap(out, &mut self.scratch);
            if depth > 0 {
                self.cache
                    .put(key(self.chain[depth].pack_offset()), kind, out);
            }
        }
        if !self.chain.is_empty() {
            self.cache.put(key(offset), kind, out);
        }
        PackRead::Done(kind)
    }
}

/// The pack index files of an object database, sorted by name (alternates are not included:
/// their objects are read through gix).
fn pack_indices(objects_dir: &Path) -> Vec<PathBuf> {
    let mut indices: Vec<PathBuf> = std::fs::read_dir(objects_dir.join("pack"))
        .map(|dir| {
            dir.filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
                .collect()
        })
        .unwrap_or_default();
    indices.sort();
    indices
}

/// Decompresses the data of pack `entry` (a whole object or delta instructions) into `out`.
fn inflate_entry(
    file: &gix::odb::pack::data::File,
    entry: &gix::odb::pack::data::Entry,
    inflate: &mut gix::zlib::Inflate,
    out: &mut Vec<u8>,
) -> bool {
    let Ok(size) = usize::try_from(entry.decompressed_size) else {
        return false;
    };
    out.clear();
    out.resize(size, 0);
    file.decompress_entry(entry, inflate, out).is_ok()
}

/// The base size, result size and instruction offset of git delta data.
fn delta_sizes(delta: &[u8]) -> Option<(u64, u64, usize)> {
    fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = *data.get(*at)?;
            *at += 1;
            if shift >= 64 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
    }
    let mut at = 0;
    let base = varint(delta, &mut at)?;
    let result = varint(delta, &mut at)?;
    Some((base, result, at))
}

/// Applies git delta `instructions` to `base`, filling `target` exactly; `false` when the
/// instructions are malformed or do not produce exactly `target.len()` bytes.
fn apply_delta(base: &[u8], target: &mut [u8], instructions: &[u8]) -> bool {
    let mut written = 0;
    let mut i = 0;
    while let Some(&command) = instructions.get(i) {
        i += 1;
        let bytes = if command & 0x80 != 0 {
            let mut offset = 0usize;
            let mut size = 0usize;
            for (bit, shift) in [(0x01, 0), (0x02, 8), (0x04, 16), (0x08, 24)] {
                if command & bit != 0 {
                    let Some(&byte) = instructions.get(i) else {
                        return false;
                    };
                    offset |= usize::from(byte) << shift;
                    i += 1;
                }
            }
            for (bit, shift) in [(0x10, 0), (0x20, 8), (0x40, 16)] {
                if command & bit != 0 {
                    let Some(&byte) = instructions.get(i) else {
                        return false;
                    };
                    size |= usize::from(byte) << shift;
                    i += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            let Some(bytes) = offset
                .checked_add(size)
                .and_then(|end| base.get(offset..end))
            else {
                return false;
            };
            bytes
        } else if command != 0 {
            let end = i + usize::from(command);
            let Some(bytes) = instructions.get(i..end) else {
                return false;
            };
            i = end;
            bytes
        } else {
            return false;
        };
        let Some(slot) = target.get_mut(written..written + bytes.len()) else {
            return false;
        };
        slot.copy_from_slice(bytes);
        written += bytes.len();
    }
    written == target.len()
}

/// Hasher of cache keys (pack number, offset in the pack): one multiply per word, as the keys
/// are not chosen by an attacker in a way that matters (a collision only costs time).
#[derive(Default, Clone, Copy)]
struct OffsetHasher(u64);

impl std::hash::Hasher for OffsetHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Where a cached object sits in its generation's blocks.
#[derive(Clone, Copy)]
struct Slot {
    kind: Kind,
    block: u32,
    start: usize,
    len: usize,
}

/// The delta caches are made of blocks of this size (smaller for a cache of less than two
/// blocks), handed from one cache to the next through a [`CachePool`].
const CACHE_BLOCK_BYTES: usize = 4 << 20;

/// One generation of [`ChainCache`]: objects stored back to back in a few large blocks rather
/// than allocated one by one. Per-object allocations fragment the heap: the memory of a cache
/// dropped by one phase could then neither be given back to the system nor reused by another
/// thread, and each phase's caches came on top of the last one's.
#[derive(Default)]
struct Generation {
    slots: HashMap<(u32, u64), Slot, std::hash::BuildHasherDefault<OffsetHasher>>,
    /// `blocks[..used]` hold objects; the others are empty, kept for reuse.
    blocks: Vec<Vec<u8>>,
    used: usize,
    /// Bytes charged: the objects plus an allowance per entry for `slots`.
    charged: usize,
}

impl Generation {
    fn clear(&mut self) {
        self.slots.clear();
        for block in &mut self.blocks {
            block.clear();
        }
        self.used = 0;
        self.charged = 0;
    }

    fn copy(&self, slot: Slot, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.blocks[slot.block as usize][slot.start..slot.start + slot.len]);
    }

    /// Appends `data` (at most `block_bytes` long) to the last block in use, or to a new one
    /// when it does not fit and fewer than `max_blocks` are in use; `None` when full.
    fn store(
        &mut self,
        data: &[u8],
        block_bytes: usize,
        max_blocks: usize,
        pool: Option<&CachePool>,
    ) -> Option<(u32, usize)> {
        let fits = |block: &Vec<u8>| block.len() + data.len() <= block_bytes;
        if self.used == 0 || !fits(&self.blocks[self.used - 1]) {
            if self.used >= max_blocks {
                return None;
            }
            if self.blocks.len() == self.used {
                let mut block = pool.map(CachePool::take).unwrap_or_default();
                block.clear();
                // The whole block at once (its pages are only touched as it fills), so that it
                // never grows by copying.
                block.reserve_exact(block_bytes);
                self.blocks.push(block);
            }
            self.used += 1;
        }
        let block = &mut self.blocks[self.used - 1];
        let start = block.len();
        block.extend_from_slice(data);
        Some((u32::try_from(self.used - 1).unwrap_or(u32::MAX), start))
    }
}

/// Decoded pack objects by (pack, offset), bounded in bytes. Two generations approximate LRU
/// at O(1) cost: new and re-used objects go to `young`; when it is full it becomes `old` and the
/// previous `old` is emptied and reused as `young`.
struct ChainCache<'p> {
    young: Generation,
    old: Generation,
    /// Budget of one generation: half the total.
    generation_bytes: usize,
    block_bytes: usize,
    /// Blocks per generation.
    max_blocks: usize,
    /// Where the blocks come from and go back to.
    pool: Option<&'p CachePool>,
}

/// What an entry of the cache costs besides its bytes (its slot in the hash table).
const CACHE_ENTRY_BYTES: usize = 64;

impl<'p> ChainCache<'p> {
    fn new(bytes: usize, pool: Option<&'p CachePool>) -> ChainCache<'p> {
        let generation_bytes = bytes / 2;
        let block_bytes = generation_bytes.clamp(1, CACHE_BLOCK_BYTES);
        ChainCache {
            young: Generation::default(),
            old: Generation::default(),
            generation_bytes,
            block_bytes,
            max_blocks: (generation_bytes / block_bytes).max(1),
            pool,
        }
    }

    /// Copies the object at `key` into `out`.
    fn get(&mut self, key: (u32, u64), out: &mut Vec<u8>) -> Option<Kind> {
        if let Some(&slot) = self.young.slots.get(&key) {
            self.young.copy(slot, out);
            return Some(slot.kind);
        }
        let slot = self.old.slots.remove(&key)?;
        self.old.copy(slot, out);
        self.insert(key, slot.kind, out);
        Some(slot.kind)
    }

    fn put(&mut self, key: (u32, u64), kind: Kind, data: &[u8]) {
        // Objects too large for the cache would only flush it.
        if data.len() <= (self.generation_bytes / 8).min(self.block_bytes)
            && !self.young.slots.contains_key(&key)
        {
            self.insert(key, kind, data);
        }
    }

    fn insert(&mut self, key: (u32, u64), kind: Kind, data: &[u8]) {
        let size = data.len() + CACHE_ENTRY_BYTES;
        let mut stored = None;
        if self.young.charged + size <= self.generation_bytes {
            stored = self
                .young
                .store(data, self.block_bytes, self.max_blocks, self.pool);
        }
        if stored.is_none() {
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
            stored = self
                .young
                .store(data, self.block_bytes, self.max_blocks, self.pool);
        }
        let Some((block, start)) = stored else {
            return;
        };
        self.young.charged += size;
        self.young.slots.insert(
            key,
            Slot {
                kind,
                block,
                start,
                len: data.len(),
            },
        );
    }
}

impl Drop for ChainCache<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.pool {
            for block in self.young.blocks.drain(..).chain(self.old.blocks.drain(..)) {
                pool.give(block);
            }
        }
    }
}

/// The blocks of [`ChainCache`]s no longer in use, kept by a [`GitHistory`] for the next
/// caches: the tree walk's cache becomes the blob readers' caches, which become the carrier
/// search's. Without it, each phase would allocate its caches anew while the allocator may
/// still hold the last phase's memory (in another thread's arena, or too fragmented to give
/// back), and the peak would be the sum of the phases' caches instead of the largest.
#[derive(Default)]
struct CachePool(Mutex<Vec<Vec<u8>>>);

/// The most block capacity a [`CachePool`] keeps: the largest cache of any one phase.
const CACHE_POOL_BYTES: usize = TREE_CACHE_BYTES;

impl CachePool {
    /// A block kept, or a new one.
    fn take(&self) -> Vec<u8> {
        let mut blocks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        blocks.pop().unwrap_or_default()
    }

    /// Keeps `block` for the next cache, unless the pool holds enough already.
    fn give(&self, mut block: Vec<u8>) {
        if block.capacity() == 0 {
            return;
        }
        block.clear();
        let mut blocks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held: usize = blocks.iter().map(Vec::capacity).sum();
        if held + block.capacity() <= CACHE_POOL_BYTES {
            blocks.push(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .current_dir(dir)
            .args(["-c", "commit.gpgsign=false", "-c", "gc.auto=0"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "C")
            .env("GIT_COMMITTER_EMAIL", "c@example.com")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    // The pack reader resolves every object of a deep-delta pack itself (no fallback to gix),
    // and each result hashes to its id, whatever order the objects are read in.
    #[test]
    fn pack_reader_resolves_deltas_itself() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        for round in 0..40 {
            for file in 0..3 {
                let content: String = (0..80)
                    .map(|line| {
                        format!(
                            "f{file} l{line} {}\n",
                            if line % 9 == round % 9 { round } else { 0 }
                        )
                    })
                    .collect();
                std::fs::create_dir_all(root.join("d")).unwrap();
                std::fs::write(root.join(format!("d/f{file}")), content).unwrap();
            }
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", &format!("r{round}")]);
        }
        git(
            root,
            &[
                "repack",
                "-a",
                "-d",
                "-f",
                "-q",
                "--depth=50",
                "--window=50",
            ],
        );
        let repo = gix::open(root).unwrap();
        let objects_dir = repo.objects.store_ref().path().to_owned();
        let listing = git(
            root,
            &["rev-list", "--objects", "--all", "--no-object-names"],
        );
        let ids: Vec<ObjectId> = listing
            .lines()
            .map(|line| ObjectId::from_hex(line.as_bytes()).unwrap())
            .collect();
        let deltas = git(
            root,
            &[
                "verify-pack",
                "-v",
                &format!("{}/pack/{}", objects_dir.display(), {
                    std::fs::read_dir(objects_dir.join("pack"))
                        .unwrap()
                        .map(|e| e.unwrap().file_name().into_string().unwrap())
                        .find(|name| name.ends_with(".idx"))
                        .unwrap()
                }),
            ],
        )
        .lines()
        .filter(|line| line.split_whitespace().count() == 7)
        .count();
        assert!(
            deltas > 100,
            "the pack holds delta chains ({deltas} deltas)"
        );

        for order in [ids.clone(), ids.iter().rev().copied().collect()] {
            // A small cache, so that eviction happens too.
            let mut reader = PackReader::new(&objects_dir, repo.object_hash(), 64 << 10, None);
            let mut out = Vec::new();
            for id in &order {
                let PackRead::Done(kind) = reader.read(id, u64::MAX, &mut out) else {
                    panic!("object {id} was left to gix");
                };
                assert_eq!(gix::objs::compute_hash(id.kind(), kind, &out).unwrap(), *id);
            }
        }
        // Limits: the requested object's size, from the delta header for a delta.
        let mut reader = PackReader::new(&objects_dir, repo.object_hash(), 1 << 20, None);
        let mut out = Vec::new();
        let blob = ObjectId::from_hex(git(root, &["rev-parse", "HEAD~20:d/f0"]).trim().as_bytes())
            .unwrap();
        assert!(
            matches!(reader.read(&blob, 100, &mut out), PackRead::TooLarge(size) if size > 100)
        );
        assert!(matches!(
            reader.read(&blob, u64::MAX, &mut out),
            PackRead::Done(Kind::Blob)
        ));
        let missing = ObjectId::from_hex(b"3333333333333333333333333333333333333333").unwrap();
        assert!(matches!(
            reader.read(&missing, u64::MAX, &mut out),
            PackRead::Fallback
        ));
    }

    // The cache gives back what was put in, within its budget, and its blocks go back to the
    // pool for the next cache, which takes them instead of allocating.
    #[test]
    fn chain_cache_reuses_pooled_blocks() {
        let pool = CachePool::default();
        let object = |n: u64| -> Vec<u8> { (0..1000).map(|i| (n + i) as u8).collect() };
        let mut out = Vec::new();
        {
            let mut cache = ChainCache::new(64 << 10, Some(&pool));
            for n in 0..200 {
                cache.put((0, n), Kind::Blob, &object(n));
                assert_eq!(cache.get((0, n), &mut out), Some(Kind::Blob));
                assert_eq!(out, object(n));
            }
            // The latest objects are kept, the first ones were evicted.
            assert_eq!(cache.get((0, 199), &mut out), Some(Kind::Blob));
            assert_eq!(out, object(199));
            assert_eq!(cache.get((0, 0), &mut out), None);
            // Larger than an eighth of a generation: not kept.
            cache.put((1, 0), Kind::Tree, &vec![7; 5000]);
            assert_eq!(cache.get((1, 0), &mut out), None);
            let held: usize = [&cache.young, &cache.old]
                .iter()
                .flat_map(|generation| &generation.blocks)
                .map(Vec::capacity)
                .sum();
            assert!(held <= 64 << 10, "{held}");
        }
        let pooled = pool.0.lock().unwrap().len();
        assert_eq!(pooled, 2, "one block per generation");
        {
            let mut cache = ChainCache::new(64 << 10, Some(&pool));
            cache.put((0, 1), Kind::Blob, &object(1));
            assert_eq!(pool.0.lock().unwrap().len(), 1, "a pooled block was taken");
            assert_eq!(cache.get((0, 1), &mut out), Some(Kind::Blob));
            assert_eq!(out, object(1));
        }
        assert_eq!(pool.0.lock().unwrap().len(), 2);
    }

    #[test]
    fn path_and_id_tables_intern_once() {
        let mut paths = PathTable::default();
        let names = ["a", "b/c", "", "a/b", "b/c/d"];
        let numbers: Vec<u32> = names.iter().map(|name| paths.intern(name)).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
        for (name, n) in names.iter().zip(&numbers) {
            assert_eq!(paths.intern(name), *n);
            assert_eq!(paths.get(*n), *name);
        }
        let mut table: IdTable<BlobRecord> = IdTable::default();
        // Ids alike in their first eight bytes (the hash) are told apart too.
        let ids: Vec<ObjectId> = (1..=1000u32)
            .map(|n| {
                let mut bytes = [0u8; 20];
                bytes[16..].copy_from_slice(&n.to_be_bytes());
                ObjectId::from_bytes_or_panic(&bytes)
            })
            .collect();
        for (n, id) in ids.iter().enumerate() {
            let record = || BlobRecord {
                id: *id,
                commit: 0,
                path: 0,
            };
            assert_eq!(table.find_or_insert(id, blob_id, record), (n as u32, true));
            assert_eq!(table.find_or_insert(id, blob_id, record), (n as u32, false));
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(table.find(id, blob_id), Some(n as u32));
        }
        assert_eq!(
            table.find(&ObjectId::null(gix::hash::Kind::Sha1), blob_id),
            None
        );
        assert_eq!(table.len(), 1000);
    }

    #[test]
    fn apply_delta_rejects_malformed_instructions() {
        let base = b"0123456789";
        let mut target = [0u8; 4];
        // copy offset 2, size 4
        assert!(apply_delta(base, &mut target, &[0x91, 2, 4]));
        assert_eq!(&target, b"2345");
        // insert 4 bytes
        assert!(apply_delta(base, &mut target, &[4, b'a', b'b', b'c', b'd']));
        assert_eq!(&target, b"abcd");
        for bad in [
            &[0x91, 8, 4][..],    // copy past the end of the base
            &[0x91, 2, 3][..],    // too few bytes
            &[0x91, 2, 5][..],    // too many bytes
            &[5, b'a', b'b'][..], // truncated insert
            &[0x91][..],          // truncated copy
            &[0][..],             // reserved command
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..], // huge copy
        ] {
            assert!(!apply_delta(base, &mut target, bad), "{bad:?}");
        }
        assert_eq!(delta_sizes(&[0x80, 0x01, 0x05, 0x91]), Some((128, 5, 3)));
        assert_eq!(delta_sizes(&[0x80, 0x80]), None);
    }
}
