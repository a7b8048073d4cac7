//! The `rockhold` command: a demo of the engine, the benchmark, and operator
//! tools to inspect and check a database, also while another process holds it
//! open (read-only commands open it as a RocksDB secondary instance).
//!
//! Exit status: see [`EXIT_CODES`] (also printed by `--help`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[macro_use]
mod out;
mod admin;
mod bench;
mod demo;
mod dump;
mod get;
mod open;
mod stats;

/// The exit status of every command, one code per kind of failure.
const EXIT_CODES: &str = "Exit status:
  0  success (also when the reader of stdout stops early, as `| head` does)
  1  verify found violations or could not check an index that is not built
     (verdict `incomplete`), reindex left a task failed, or get found no
     object
  2  usage: bad arguments, unknown class or field, a path refused as given
  3  not a rockhold database, or a format version this build does not read
     (a format-1 database: run `rockhold migrate` first)
  4  the database is held open by another process
  5  corruption: damaged records, RocksDB files or catalog, or lost WAL writes
  6  I/O or storage error (permission denied, device full, a live view that
     could not reach a consistent cut: retry)";

#[derive(Parser)]
#[command(
    name = "rockhold",
    version,
    about = "rockhold: a typed object store with secondary indexes on RocksDB",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Builds a small database and shows inserts, lookups, scans and a refused duplicate.
    Demo {
        /// Where to build the database (default: a temporary directory, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Every key decoded by family, with its value (read-only; works on a live database).
    Dump {
        /// The database directory.
        db: PathBuf,
        /// Only these families (meta, name, class, object, locator, hash, ordered, task); repeatable.
        #[arg(long = "family")]
        families: Vec<String>,
        /// Only keys of this namespace.
        #[arg(long)]
        namespace: Option<String>,
        /// Only keys of this class (in --namespace, default "default").
        #[arg(long)]
        class: Option<String>,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One object, by id or by its value in a unique index (read-only; works on a live database).
    Get {
        /// The database directory.
        db: PathBuf,
        /// The object's class.
        #[arg(long)]
        class: String,
        /// The class's namespace.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// The object's id.
        #[arg(long, conflicts_with_all = ["keys", "index"])]
        id: Option<u64>,
        /// The value the object holds in a unique index, typed by the index's
        /// part (a compound index: one --key per part, in order).
        #[arg(long = "key", allow_hyphen_values = true)]
        keys: Vec<String>,
        /// The unique index (default: the class's only one).
        #[arg(long)]
        index: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Checks every record checksum and the index invariant; exit 1 on any violation.
    Verify {
        /// The database directory.
        db: PathBuf,
        /// JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Counts and bytes per family, namespace, class and index; task states; RocksDB sizes.
    Stats {
        /// The database directory.
        db: PathBuf,
    },
    /// Lists the reindex tasks with their state and progress.
    Tasks {
        /// The database directory.
        db: PathBuf,
        /// Requeue every failed task (as `Db::retry_failed_tasks`), run them
        /// to an end, then list; exit code 1 if one fails again. Needs the
        /// database not open elsewhere.
        #[arg(long)]
        retry_failed: bool,
    },
    /// Rebuilds the indexes of a class (or one index) to completion, with a progress bar.
    Reindex {
        /// The database directory (must not be open elsewhere).
        db: PathBuf,
        /// The class.
        #[arg(long)]
        class: String,
        /// Only this index (a one-field index is named after its field).
        #[arg(long, alias = "field")]
        index: Option<String>,
        /// The class's namespace.
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// Migrates a database of format version 1 to the current version, in
    /// place and offline, then rebuilds its indexes; safe to run again after
    /// an interruption.
    Migrate {
        /// The database directory (must not be open elsewhere).
        db: PathBuf,
    },
    /// Removes a damaged object that delete, update and ingest fail on:
    /// its record and every index entry naming it (Db::quarantine). Needs
    /// the database not open elsewhere. Requeue failed builds after with
    /// `rockhold tasks --retry-failed DB`.
    Repair {
        /// The database directory (must not be open elsewhere).
        db: PathBuf,
        /// The id of the object to remove.
        #[arg(long = "drop-object", value_name = "ID")]
        drop_object: u64,
        /// The object's namespace.
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// Incremental backups with RocksDB's BackupEngine.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Writes a checkpoint (an openable copy, hard-linked where possible) of the database.
    Checkpoint {
        /// The database directory.
        db: PathBuf,
        /// Where to write it (must not exist).
        dir: PathBuf,
    },
    /// Compacts the database fully, giving back the space of deleted and
    /// replaced objects and removed index entries; prints the size before
    /// and after.
    Compact {
        /// The database directory (must not be open elsewhere).
        db: PathBuf,
    },
    /// Measures rockhold (dynamic and typed API) against raw RocksDB (same keys), SQLite and redb.
    Bench {
        /// Objects per workload.
        #[arg(long, default_value_t = 200_000)]
        n: usize,
        /// Repetitions; the table shows the median and the min–max.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Comma-separated workloads (w1,w2,w3,w3w,w4,w5,w6,w7,w8,w9); default all.
        #[arg(long, value_delimiter = ',')]
        workloads: Option<Vec<String>>,
        /// Where the stores are created (default: a fresh folder under /var/tmp).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// One cache budget for every system, in MiB (rockhold's memory
        /// budget, RocksDB's block cache, SQLite's page cache, redb's cache);
        /// default: each system's own default.
        #[arg(long)]
        cache_mib: Option<usize>,
        /// Internal: run one system in this process and print raw samples.
        #[arg(long, hide = true)]
        system: Option<String>,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Takes a new (incremental) backup of DB into DIR.
    Create { db: PathBuf, dir: PathBuf },
    /// Lists the backups in DIR.
    List { dir: PathBuf },
    /// Verifies one backup (or all) in DIR.
    Verify {
        dir: PathBuf,
        #[arg(long)]
        id: Option<u32>,
    },
    /// Restores a backup (default: the latest) from DIR into TARGET, which
    /// must not exist, be empty, or (with --force) hold a database no process
    /// has open.
    Restore {
        dir: PathBuf,
        target: PathBuf,
        #[arg(long)]
        id: Option<u32>,
        /// Replace the database in TARGET.
        #[arg(long)]
        force: bool,
    },
    /// Deletes all but the newest N backups in DIR.
    Purge {
        dir: PathBuf,
        #[arg(long)]
        keep: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir } => demo::run(dir),
        Command::Get {
            db,
            class,
            namespace,
            id,
            keys,
            index,
            json,
        } => get::run(
            &db,
            get::GetArgs {
                namespace,
                class,
                id,
                keys,
                index,
                json,
            },
        ),
        Command::Dump {
            db,
            families,
            namespace,
            class,
            limit,
            json,
        } => dump::run(
            &db,
            dump::DumpArgs {
                families,
                namespace,
                class,
                limit,
                json,
            },
        ),
        Command::Verify { db, json } => admin::verify(&db, json),
        Command::Stats { db } => stats::run(&db),
        Command::Tasks { db, retry_failed } => admin::tasks(&db, retry_failed),
        Command::Reindex {
            db,
            class,
            index,
            namespace,
        } => admin::reindex(&db, &namespace, &class, index.as_deref()),
        Command::Migrate { db } => admin::migrate(&db),
        Command::Repair {
            db,
            drop_object,
            namespace,
        } => admin::repair(&db, &namespace, drop_object),
        Command::Backup { command } => admin::backup(match command {
            BackupCommand::Create { db, dir } => admin::BackupCmd::Create { db, dir },
            BackupCommand::List { dir } => admin::BackupCmd::List { dir },
            BackupCommand::Verify { dir, id } => admin::BackupCmd::Verify { dir, id },
            BackupCommand::Restore {
                dir,
                target,
                id,
                force,
            } => admin::BackupCmd::Restore {
                dir,
                target,
                id,
                force,
            },
            BackupCommand::Purge { dir, keep } => admin::BackupCmd::Purge { dir, keep },
        }),
        Command::Checkpoint { db, dir } => admin::checkpoint(&db, &dir),
        Command::Compact { db } => admin::compact(&db),
        Command::Bench {
            n,
            reps,
            workloads,
            dir,
            cache_mib,
            system,
        } => bench::run(bench::BenchArgs {
            n,
            reps,
            workloads,
            dir,
            cache_mib,
            system,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) if out::is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "rockhold: {e}");
            ExitCode::from(exit_code(&*e))
        }
    }
}

/// The exit status for an error (see [`EXIT_CODES`]).
fn exit_code(e: &(dyn std::error::Error + 'static)) -> u8 {
    use rockhold::Error as E;
    if let Some(f) = e.downcast_ref::<open::Fail>() {
        return f.code;
    }
    if e.downcast_ref::<std::io::Error>().is_some() {
        return 6;
    }
    match e.downcast_ref::<E>() {
        Some(E::Locked { .. }) => 4,
        Some(E::UnsupportedVersion { .. } | E::NeedsMigration { .. } | E::NotADatabase { .. }) => 3,
        Some(
            E::Corruption { .. }
            | E::StorageCorruption { .. }
            | E::Inconsistent(_)
            | E::WritesLost { .. },
        ) => 5,
        Some(
            E::Io { .. }
            | E::StorageFull { .. }
            | E::Storage { .. }
            | E::Internal { .. }
            | E::ViewNotConsistent { .. },
        ) => 6,
        _ => 2,
    }
}
