//! The usage spool: every usage record is appended to a local file, one JSON line with one
//! plain `write` (no fsync: the page cache outlives a killed process), before it is queued for
//! the batch writer and before the answer's last byte leaves. Start-up replays what a killed
//! process left (see `replay`), so a `kill -9` loses no record of an answered request.
//!
//! Segments are named `<instance>-<n>.jsonl`. The batch writer starts a new one at each
//! flush; a segment's file is removed when it is no longer current and every record written to
//! it has been committed to the event log: each queued record holds its segment (`Arc`), and the
//! writer drops those only after its commit.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tollgate_aggregates::usage::UsageRecord;

/// The lock file that keeps a second process off a spool directory.
const LOCK: &str = "spool.lock";
const EXTENSION: &str = "jsonl";

/// One spool file. Dropped (no longer current, no record in it waiting), it is removed.
pub struct Segment {
    path: PathBuf,
    file: File,
    /// Set when a record in it could not be handed to the writer: the file then stays for
    /// the next start-up to replay.
    keep: AtomicBool,
}

impl Segment {
    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.keep.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, path = %self.path.display(), "spool segment not removed");
        }
    }
}

/// What a queued record holds: the segment it was written to (none if the write failed or
/// there is no spool).
pub type Token = Option<Arc<Segment>>;

pub struct Spool {
    dir: PathBuf,
    instance: String,
    next: AtomicU64,
    current: Mutex<Option<Arc<Segment>>>,
    /// Held (an exclusive `flock`) while the process lives; the kernel releases it when the
    /// process dies, however it dies.
    _lock: File,
}

impl Spool {
    /// Creates `dir` if needed and locks it; returns the spool and the segments an earlier
    /// process left there (to replay before serving).
    pub fn open(dir: &Path, instance: &str) -> anyhow::Result<(Arc<Self>, Vec<PathBuf>)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("spool directory {}: {e}", dir.display()))?;
        let lock = lock(dir)?;
        let mut left = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == EXTENSION) {
                left.push(path);
            }
        }
        left.sort();
        let spool = Arc::new(Self {
            dir: dir.to_path_buf(),
            instance: instance.to_string(),
            next: AtomicU64::new(0),
            current: Mutex::new(None),
            _lock: lock,
        });
        spool.rotate()?;
        Ok((spool, left))
    }

    /// Appends `record` as one line to the current segment, in one `write`. Returns the
    /// segment that holds it and the line's JSON, which the usage event copies rather than
    /// writing the record again.
    pub fn append(&self, record: &UsageRecord) -> (Token, Option<String>) {
        let Some(segment) = self.current.lock().ok().and_then(|c| c.clone()) else {
            return (None, None);
        };
        // The event log's own writer: serde's derived one cost about 6,000 instructions a
        // record; this one writes the same bytes for a fraction.
        let mut line = String::with_capacity(768);
        tollgate_aggregates::usage_json::write_record(&mut line, record);
        line.push('\n');
        // O_APPEND: concurrent writers' lines never overlap.
        if let Err(e) = (&segment.file).write_all(line.as_bytes()) {
            tracing::error!(error = %e, request_id = %record.request_id, "usage record not spooled");
            return (None, None);
        }
        line.pop();
        (Some(segment), Some(line))
    }

    /// Starts a new segment; the previous one goes once its records are committed.
    pub fn rotate(&self) -> anyhow::Result<()> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{}-{n}.{EXTENSION}", self.instance));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("spool segment {}: {e}", path.display()))?;
        let segment = Arc::new(Segment {
            path,
            file,
            keep: AtomicBool::new(false),
        });
        let old = self
            .current
            .lock()
            .map(|mut c| c.replace(segment))
            .ok()
            .flatten();
        drop(old);
        Ok(())
    }

    /// After a drain: nothing more is recorded, and the last segment goes (once committed).
    pub fn retire(&self) {
        let old = self.current.lock().ok().and_then(|mut c| c.take());
        drop(old);
    }
}

/// Takes the directory's lock, or explains who holds it.
fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("spool lock {}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        anyhow::bail!(
            "the usage spool {} is in use by another tollgate process (pid {}); give each \
             process its own TOLLGATE_SPOOL_DIR",
            dir.display(),
            holder.trim()
        );
    }
    // The holder's pid, for the message above (the lock itself is what counts).
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// The records of one segment. A last line without its newline was torn by the process's
/// death mid-write and is skipped (its request had not been answered); so is any line that
/// does not parse.
pub fn read_segment(path: &Path) -> std::io::Result<Vec<UsageRecord>> {
    let bytes = std::fs::read(path)?;
    Ok(parse_lines(&bytes, path))
}

fn parse_lines(bytes: &[u8], path: &Path) -> Vec<UsageRecord> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while let Some(end) = rest.iter().position(|b| *b == b'\n') {
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(r) => records.push(r),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "spool line skipped");
            }
        }
    }
    if !rest.is_empty() {
        tracing::warn!(path = %path.display(), bytes = rest.len(), "torn spool line skipped");
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> UsageRecord {
        UsageRecord {
            request_id: id.into(),
            organization_id: "org".into(),
            cost_nano_usd: 42,
            ..UsageRecord::default()
        }
    }

    #[test]
    fn a_segment_is_read_back_without_its_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, left) = Spool::open(dir.path(), "i").unwrap();
        assert!(left.is_empty());
        let tokens: Vec<Token> = ["a", "b"].map(|id| spool.append(&record(id)).0).into();
        let segment = tokens[0].as_ref().unwrap().path.clone();
        // A write cut short by the process's death.
        let torn = serde_json::to_vec(&record("c")).unwrap();
        let mut f = OpenOptions::new().append(true).open(&segment).unwrap();
        f.write_all(&torn[..torn.len() / 2]).unwrap();
        let read = read_segment(&segment).unwrap();
        assert_eq!(read, vec![record("a"), record("b")]);
    }

    #[test]
    fn a_segment_goes_once_rotated_and_committed_and_a_second_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), "i").unwrap();
        let (token, json) = spool.append(&record("a"));
        let expected = tollgate_aggregates::usage_json::usage_recorded_json(&[record("a")]);
        assert!(
            expected.contains(&json.unwrap()),
            "the line is the event's JSON"
        );
        let path = token.as_ref().unwrap().path.clone();
        spool.rotate().unwrap();
        assert!(path.exists(), "a record in it is not committed yet");
        drop(token);
        assert!(!path.exists(), "rotated and committed: removed");
        let refused = Spool::open(dir.path(), "j").err().unwrap().to_string();
        assert!(
            refused.contains("in use by another tollgate process"),
            "{refused}"
        );
        drop(spool);
        assert!(
            Spool::open(dir.path(), "j").is_ok(),
            "the lock went with its holder"
        );
    }
}
