//! Message files: one immutable file per message under `msg/<bucket>/<id>` (bucket = id >> 13),
//! and the spool in `DATA/tmp/` where incoming messages are written and fsync'ed before an account
//! links them into place.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::ids::MessageId;

/// Counts fsync-like calls (see [`crate::metrics::FSYNCS`]).
pub fn count_fsyncs(n: u64) {
    crate::metrics::FSYNCS.add(n);
}

pub fn fsync_file(file: &File) -> io::Result<()> {
    count_fsyncs(1);
    file.sync_all()
}

pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    count_fsyncs(1);
    File::open(dir)?.sync_all()
}

/// The message files of one account.
#[derive(Debug, Clone)]
pub struct MessageFiles {
    root: PathBuf,
}

impl MessageFiles {
    pub fn new(root: PathBuf) -> MessageFiles {
        MessageFiles { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bucket(&self, id: MessageId) -> PathBuf {
        self.root.join((id.0 >> 13).to_string())
    }

    pub fn path(&self, id: MessageId) -> PathBuf {
        self.bucket(id).join(id.0.to_string())
    }

    /// Hard-links `source` as the file of `id`, creating its bucket when needed. The directories
    /// to fsync before the index may refer to the file are added to `dirty`.
    ///
    /// A file already at that place is an orphan from a crash between link and commit (ids are
    /// only ever referenced once the commit that allocated them is durable): it is replaced.
    pub fn link_in(&self, source: &Path, id: MessageId, dirty: &mut BTreeSet<PathBuf>) -> io::Result<()> {
        let bucket = self.bucket(id);
        if !bucket.is_dir() {
            fs::create_dir_all(&bucket)?;
            dirty.insert(self.root.clone());
        }
        let dest = bucket.join(id.0.to_string());
        match fs::hard_link(source, &dest) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&dest)?;
                fs::hard_link(source, &dest)?;
            }
            other => other?,
        }
        dirty.insert(bucket);
        Ok(())
    }

    /// Removes the file of `id`; a file already gone is not an error.
    pub fn remove(&self, id: MessageId) -> io::Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// A message being received: kept in memory while small, moved to a file in the spool directory
/// when it grows. [`Spool::finish`] makes it a durable file.
pub struct Spool {
    dir: PathBuf,
    memory: Vec<u8>,
    file: Option<(PathBuf, io::BufWriter<File>)>,
    len: u64,
}

/// Messages up to this size are kept in memory until they are complete.
pub const SPOOL_MEMORY_LIMIT: usize = 1 << 20;

static SPOOL_SEQ: AtomicU64 = AtomicU64::new(0);

fn spool_name(dir: &Path) -> PathBuf {
    let n = SPOOL_SEQ.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{}-{n}.msg", std::process::id()))
}

impl Spool {
    pub fn new(dir: PathBuf) -> Spool {
        Spool { dir, memory: Vec::new(), file: None, len: 0 }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `data`. Blocking (file I/O once large): call from the blocking pool when the spool
    /// is on disk (see [`Spool::in_memory`]).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.len += data.len() as u64;
        if let Some((_, w)) = &mut self.file {
            return w.write_all(data);
        }
        self.memory.extend_from_slice(data);
        if self.memory.len() > SPOOL_MEMORY_LIMIT {
            let path = spool_name(&self.dir);
            let mut w = io::BufWriter::with_capacity(1 << 16, File::create(&path)?);
            w.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some((path, w));
        }
        Ok(())
    }

    /// Whether appending `n` more bytes touches no file.
    pub fn in_memory_after(&self, n: usize) -> bool {
        self.file.is_none() && self.memory.len() + n <= SPOOL_MEMORY_LIMIT
    }

    /// Writes out and fsyncs the message, returning its file and its bytes (read back when it was
    /// spooled to disk, for parsing). Blocking.
    pub fn finish(mut self) -> io::Result<(SpooledFile, Vec<u8>)> {
        match self.file.take() {
            Some((path, w)) => {
                let spooled = SpooledFile { path };
                let file = w.into_inner().map_err(|e| e.into_error())?;
                fsync_file(&file)?;
                let data = fs::read(spooled.path())?;
                Ok((spooled, data))
            }
            None => {
                let spooled = SpooledFile { path: spool_name(&self.dir) };
                let mut file = File::create(spooled.path())?;
                file.write_all(&self.memory)?;
                fsync_file(&file)?;
                Ok((spooled, std::mem::take(&mut self.memory)))
            }
        }
    }

}

impl Drop for Spool {
    /// A spool dropped before [`Spool::finish`] is a partial message: its file goes too.
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// A complete, durable message file in the spool. Removed when dropped: by then every account
/// that received it has its own link.
#[derive(Debug)]
pub struct SpooledFile {
    path: PathBuf,
}

impl SpooledFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `data` as a new durable spool file. Blocking.
    pub fn create(dir: &Path, data: &[u8]) -> io::Result<SpooledFile> {
        let mut spool = Spool::new(dir.to_path_buf());
        spool.write(data)?;
        Ok(spool.finish()?.0)
    }
}

impl Drop for SpooledFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes what a crash may have left in the spool directory. Run at start, before any listener.
pub fn clean_spool(dir: &Path) -> io::Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}
