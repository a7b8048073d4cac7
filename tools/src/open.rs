//! How the commands open a database: read-only commands as a RocksDB
//! secondary instance (they work while another process holds the database
//! open and writes to it), writing commands as the primary.

use std::path::Path;

use rockhold::{Db, Options};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A read-only view of the database at `path`, current as of this call.
pub struct ReadOnly {
    pub db: Db,
    _scratch: tempfile::TempDir,
}

pub fn read_only(path: &Path) -> Result<ReadOnly> {
    if !path.join("CURRENT").exists() {
        return Err(format!("{}: no database here", path.display()).into());
    }
    let scratch = tempfile::Builder::new().prefix("rockhold-ro-").tempdir()?;
    let db = Db::open_read_only(path, scratch.path(), Options::default())?;
    Ok(ReadOnly {
        db,
        _scratch: scratch,
    })
}

pub fn writable(path: &Path) -> Result<Db> {
    Ok(Db::open(path, Options::default().create_if_missing(false))?)
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
