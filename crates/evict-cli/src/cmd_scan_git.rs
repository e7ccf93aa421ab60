//! Temporary until the git module lands (see the scan issue).

use std::path::Path;

use evict_scan::Sink;

pub fn scan_history(_sink: Sink<'_>, repo: &Path, _threads: usize) -> anyhow::Result<()> {
    anyhow::bail!("{}: git history scanning is not built yet", repo.display())
}

pub fn scan_staged(_sink: Sink<'_>, repo: &Path) -> anyhow::Result<()> {
    anyhow::bail!("{}: staged scanning is not built yet", repo.display())
}
