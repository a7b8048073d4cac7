//! The `rockhold` command: a demo of the engine, and operator tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

#[derive(Parser)]
#[command(
    name = "rockhold",
    version,
    about = "rockhold: a typed object store with secondary indexes on RocksDB"
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
    /// Checks every record checksum and the index invariant; exit 1 on any violation.
    Verify {
        /// The database directory.
        db: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir } => demo::run(dir),
        Command::Verify { db } => verify(db),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rockhold: {e}");
            ExitCode::from(2)
        }
    }
}

fn verify(path: PathBuf) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let db = rockhold::Db::open(&path, rockhold::Options::default().create_if_missing(false))?;
    let report = db.verify()?;
    for p in &report.problems {
        println!("{} {}: {}", p.family, p.key, p.what);
    }
    println!(
        "{} objects, {} index entries, {} other records: {}",
        report.objects,
        report.index_entries,
        report.other_records,
        if report.is_clean() {
            "clean".to_string()
        } else {
            format!("{} problem(s)", report.problems.len())
        }
    );
    db.close()?;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
