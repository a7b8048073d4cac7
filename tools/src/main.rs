//! The `rockhold` command: a demo of the engine, and operator tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
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
    /// Measures rockhold against raw RocksDB (same keys) and SQLite, as ratios.
    Bench {
        /// Objects per workload.
        #[arg(long, default_value_t = 200_000)]
        n: usize,
        /// Repetitions; the table shows the median and the min–max.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Comma-separated workloads (w1,w2,w3,w3w,w4,w5,w6,w7,w8); default all.
        #[arg(long, value_delimiter = ',')]
        workloads: Option<Vec<String>>,
        /// Where the stores are created (default: a fresh folder under /var/tmp).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Internal: run one system in this process and print raw samples.
        #[arg(long, hide = true)]
        system: Option<String>,
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
        Command::Bench {
            n,
            reps,
            workloads,
            dir,
            system,
        } => bench::run(bench::BenchArgs {
            n,
            reps,
            workloads,
            dir,
            system,
        }),
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
