//! How the commands open a database: read-only commands as a RocksDB
//! secondary instance (they work while another process holds the database
//! open and writes to it), writing commands as the primary.

use std::path::Path;

use rockhold::{Db, Options};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A failure the command words itself, with its exit status.
#[derive(Debug)]
pub struct Fail {
    /// The exit status (see `EXIT_CODES` in main.rs).
    pub code: u8,
    /// What to print.
    pub msg: String,
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Fail {}

pub fn fail(code: u8, msg: String) -> Box<dyn std::error::Error> {
    Box::new(Fail { code, msg })
}

/// Refuses a path that holds no database, before anything opens it, and
/// reports why (missing, unreadable, no database files).
pub(crate) fn check_db_dir(path: &Path) -> Result<()> {
    let p = path.display();
    match path.try_exists() {
        Ok(true) => {}
        Ok(false) => return Err(fail(2, format!("{p}: no such directory"))),
        Err(e) => return Err(fail(6, format!("{p}: cannot read: {e}"))),
    }
    match path.join("CURRENT").try_exists() {
        Ok(true) => Ok(()),
        // Files without the CURRENT that names the MANIFEST: the engine's
        // open tells a damaged database (RocksDB's own files: exit 5) from
        // a directory that never held one (exit 3).
        Ok(false) if std::fs::read_dir(path).is_ok_and(|mut e| e.next().is_some()) => Ok(()),
        Ok(false) => Err(fail(
            3,
            format!("{p}: not a rockhold database (no RocksDB CURRENT file)"),
        )),
        Err(e) => Err(fail(6, format!("{p}: cannot read: {e}"))),
    }
}

/// A read-only view of the database at `path`, current as of this call.
pub struct ReadOnly {
    pub db: Db,
    _scratch: tempfile::TempDir,
}

pub fn read_only(path: &Path) -> Result<ReadOnly> {
    check_db_dir(path)?;
    let scratch = tempfile::Builder::new().prefix("rockhold-ro-").tempdir()?;
    let db = Db::open_read_only(path, scratch.path(), Options::default())?;
    Ok(ReadOnly {
        db,
        _scratch: scratch,
    })
}

pub fn writable(path: &Path) -> Result<Db> {
    check_db_dir(path)?;
    Db::open(path, Options::default().create_if_missing(false)).map_err(Into::into)
}

/// [`writable`] for a backup or checkpoint: a database another process
/// holds open is backed up from that process, through the API.
pub fn writable_for_copy(path: &Path) -> Result<Db> {
    check_db_dir(path)?;
    match Db::open(path, Options::default().create_if_missing(false)) {
        Ok(db) => Ok(db),
        Err(rockhold::Error::Locked { .. }) => Err(fail(
            4,
            format!(
                "{}: the database is held open by another process, so this command cannot \
                 copy it consistently. Take the backup or checkpoint from that application \
                 with Db::create_backup(dir) or Db::checkpoint(dir) (see README, \"Backups\"), \
                 or stop it and run this command again.",
                path.display()
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The bytes of every file below `dir` (the `compact` command's sizes, the
/// benchmark's disk figures).
pub fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress(len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let bar = if std::io::stderr().is_terminal() {
        match len {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        }
    } else {
        indicatif::ProgressBar::hidden()
    };
    let template = if len.is_some() {
        "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})"
    } else {
        "{msg} {spinner} {pos} keys ({per_sec})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}
