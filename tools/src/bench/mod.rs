//! `rockhold bench`: the same workloads on rockhold, on raw RocksDB writing
//! exactly rockhold's keys, and on SQLite, in one run, printed as ops/s with
//! ratios. Each system runs in a child process of its own (a fresh `rockhold
//! bench --system ...`), so its peak RSS is its own; the data is generated
//! before any clock starts, and every store lives in a fresh directory.

mod data;
mod raw;
mod rockhold_store;
mod sqlite;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use data::{generate, Data, Person};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The workloads, in the order they run and print.
pub const WORKLOADS: [(&str, &str); 9] = [
    ("w1", "insert, 1 object per commit"),
    ("w2", "insert, 1,000 objects per commit"),
    ("w3", "lookup by email, cold (after reopen)"),
    ("w3w", "lookup by email, warm (same lookups again)"),
    ("w4", "full class scan with decode"),
    ("w5", "build the unique email index over existing objects"),
    ("w6", "update the indexed email, 1 per commit"),
    ("w7", "delete, 1 per commit"),
    ("w8", "range scan on age, 100 rows per query"),
];

/// The targets of the performance issue: (workload, minimum rockhold/raw, minimum rockhold/SQLite).
const TARGETS: [(&str, f64, f64); 9] = [
    ("w1", 1.0, 5.0),
    ("w2", 0.0, 3.0),
    ("w3", 0.0, 1.2),
    ("w3w", 0.0, 3.0),
    ("w4", 0.0, 1.0),
    ("w5", 0.0, 1.0),
    ("w6", 0.0, 3.0),
    ("w7", 0.0, 3.0),
    ("w8", 0.0, 1.0),
];

const SYSTEMS: [&str; 3] = ["rockhold", "rocksdb", "sqlite"];

/// What a store must do for the workloads. Ids are the store's own.
pub trait Store: Sized {
    /// A new, empty store in `dir`; `email_index` false leaves email unindexed (for W5).
    fn create(dir: &Path, email_index: bool) -> Result<Self>;
    /// Closes and opens again (cold caches for W3).
    fn reopen(self, dir: &Path) -> Result<Self>;
    /// Waits until the store's background work on the loaded data (RocksDB
    /// flushes and compactions; SQLite's WAL checkpoint) is finished, so a
    /// timed read or index build does not share the cores with it.
    fn settle(&mut self) -> Result<()>;
    fn insert_one(&mut self, p: &Person) -> Result<u64>;
    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>>;
    fn lookup(&mut self, email: &str) -> Result<Option<u64>>;
    /// Reads and decodes every object; returns how many.
    fn scan_all(&mut self) -> Result<u64>;
    fn build_email_index(&mut self) -> Result<()>;
    fn update_email(&mut self, id: u64, email: &str) -> Result<()>;
    fn delete(&mut self, id: u64) -> Result<()>;
    /// Up to 100 (age, id) with age >= `lower`, in order; returns how many.
    fn range(&mut self, lower: u64) -> Result<usize>;
}

struct Plan {
    n: usize,
    lookups: usize,
    changes: usize,
    ranges: usize,
    workloads: Vec<String>,
}

impl Plan {
    fn wants(&self, w: &str) -> bool {
        self.workloads.iter().any(|x| x == w)
    }
}

/// Polls `busy` until it reports no background work (at most a minute).
pub(crate) fn wait_until_idle(mut busy: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    while busy()? && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Whether a RocksDB store with rockhold's column families has background
/// work to do, reading integer properties through `property(family, name)`.
pub(crate) fn rocksdb_busy(
    mut property: impl FnMut(rockhold::Family, &str) -> Result<Option<u64>>,
) -> Result<bool> {
    use rockhold::Family;
    for family in [
        Family::Object,
        Family::FullScan,
        Family::Hash,
        Family::Ordered,
    ] {
        for name in [
            "rocksdb.num-running-compactions",
            "rocksdb.num-running-flushes",
            "rocksdb.compaction-pending",
            "rocksdb.mem-table-flush-pending",
        ] {
            if property(family, name)?.unwrap_or(0) > 0 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let start = Instant::now();
    let out = f()?;
    Ok((out, start.elapsed()))
}

fn check(cond: bool, what: &str) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(format!("benchmark self-check failed: {what}").into())
    }
}

/// One repetition of every wanted workload on one system.
fn run_rep<S: Store>(
    plan: &Plan,
    data: &Data,
    root: &Path,
    report: &mut dyn FnMut(&str, u64, Duration),
) -> Result<()> {
    let people = &data.people;
    if plan.wants("w1") {
        let dir = root.join("w1");
        let mut s = S::create(&dir, true)?;
        let (_, t) = timed(|| people.iter().try_for_each(|p| s.insert_one(p).map(drop)))?;
        report("w1", people.len() as u64, t);
        drop(s);
        std::fs::remove_dir_all(&dir)?;
    }
    if ["w2", "w3", "w3w", "w4", "w6", "w7", "w8"]
        .iter()
        .any(|w| plan.wants(w))
    {
        let dir = root.join("main");
        let mut s = S::create(&dir, true)?;
        let (ids, t) = timed(|| {
            let mut ids = Vec::with_capacity(people.len());
            for chunk in people.chunks(1000) {
                ids.extend(s.insert_batch(chunk)?);
            }
            Ok(ids)
        })?;
        report("w2", people.len() as u64, t);
        let mut s = s.reopen(&dir)?;
        s.settle()?;
        let order = &data.order[..plan.lookups.min(data.order.len())];
        for w in ["w3", "w3w"] {
            if plan.wants(w) {
                let (found, t) = timed(|| {
                    let mut found = 0u64;
                    for &i in order {
                        found += u64::from(s.lookup(&people[i].email)? == Some(ids[i]));
                    }
                    Ok(found)
                })?;
                check(found == order.len() as u64, "every lookup finds its object")?;
                report(w, order.len() as u64, t);
            }
        }
        if plan.wants("w4") {
            let (count, t) = timed(|| s.scan_all())?;
            check(count == people.len() as u64, "the scan sees every object")?;
            report("w4", count, t);
        }
        if plan.wants("w8") {
            let (rows, t) = timed(|| {
                data.ranges
                    .iter()
                    .take(plan.ranges)
                    .map(|a| s.range(*a))
                    .sum::<Result<usize>>()
            })?;
            check(
                rows >= plan.ranges.min(data.ranges.len()) * 50,
                "range queries return rows",
            )?;
            report("w8", plan.ranges.min(data.ranges.len()) as u64, t);
        }
        let changes = &order[..plan.changes.min(order.len())];
        if plan.wants("w6") {
            let (_, t) = timed(|| {
                changes
                    .iter()
                    .try_for_each(|&i| s.update_email(ids[i], &format!("moved{i:08}@example.org")))
            })?;
            report("w6", changes.len() as u64, t);
        }
        if plan.wants("w7") {
            let (_, t) = timed(|| changes.iter().try_for_each(|&i| s.delete(ids[i])))?;
            report("w7", changes.len() as u64, t);
        }
        drop(s);
        std::fs::remove_dir_all(&dir)?;
    }
    if plan.wants("w5") {
        let dir = root.join("w5");
        let mut s = S::create(&dir, false)?;
        for chunk in people.chunks(1000) {
            s.insert_batch(chunk)?;
        }
        s.settle()?;
        let (_, t) = timed(|| s.build_email_index())?;
        report("w5", people.len() as u64, t);
        drop(s);
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The child side: runs one system and prints `SAMPLE workload ops seconds` lines.
fn run_system(system: &str, plan: &Plan, reps: usize, root: &Path) -> Result<()> {
    let data = generate(plan.n, plan.lookups, plan.ranges);
    for rep in 0..reps {
        let dir = root.join(format!("{system}-{rep}"));
        let mut write_error = None;
        let mut report = |w: &str, ops: u64, t: Duration| {
            if let Err(e) =
                crate::out::line(format_args!("SAMPLE {w} {ops} {:.6}", t.as_secs_f64()))
            {
                write_error.get_or_insert(e);
            }
        };
        match system {
            "rockhold" => run_rep::<rockhold_store::RockholdStore>(plan, &data, &dir, &mut report)?,
            "rocksdb" => run_rep::<raw::RawStore>(plan, &data, &dir, &mut report)?,
            "sqlite" => run_rep::<sqlite::SqliteStore>(plan, &data, &dir, &mut report)?,
            other => return Err(format!("unknown system {other}").into()),
        }
        if let Some(e) = write_error {
            return Err(e.into());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    outln!("PEAK_RSS_KB {}", peak_rss_kb());
    Ok(())
}

/// Options of `rockhold bench`.
pub struct BenchArgs {
    pub n: usize,
    pub reps: usize,
    pub workloads: Option<Vec<String>>,
    pub dir: Option<PathBuf>,
    pub system: Option<String>,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let workloads: Vec<String> = match args.workloads {
        Some(w) => w.iter().map(|s| s.to_lowercase()).collect(),
        None => WORKLOADS.iter().map(|(w, _)| w.to_string()).collect(),
    };
    if let Some(bad) = workloads
        .iter()
        .find(|w| WORKLOADS.iter().all(|(k, _)| k != *w))
    {
        return Err(format!("unknown workload {bad}; known: w1 w2 w3 w3w w4 w5 w6 w7 w8").into());
    }
    let plan = Plan {
        n: args.n.max(1000),
        lookups: (args.n / 2).clamp(1, 100_000),
        changes: (args.n / 4).clamp(1, 50_000),
        ranges: 20_000,
        workloads,
    };
    let temp;
    let root = match args.dir {
        Some(d) => d,
        None => {
            // On disk (not tmpfs) where possible: /var/tmp survives reboots and is disk-backed.
            temp = tempfile::Builder::new()
                .prefix("rockhold-bench-")
                .tempdir_in("/var/tmp")?;
            temp.path().to_path_buf()
        }
    };
    if let Some(system) = &args.system {
        run_system(system, &plan, args.reps.max(1), &root)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "rockhold bench: N = {}, {} rep(s), lookups {}, updates/deletes {}, range queries {}; data in {}",
        plan.n, args.reps, plan.lookups, plan.changes, plan.ranges, root.display()
    );
    outln!("WAL on, no fsync per commit, for all systems; SQLite: WAL, synchronous=NORMAL.");
    outln!("Background work on the loaded data settles before W3 and W5 are timed.\n");
    let mut samples: BTreeMap<(&str, String), Vec<f64>> = BTreeMap::new();
    let mut rss = BTreeMap::new();
    let exe = std::env::current_exe()?;
    for system in SYSTEMS {
        eprintln!("running {system} ...");
        let out = Command::new(&exe)
            .args([
                "bench",
                "--system",
                system,
                "--n",
                &plan.n.to_string(),
                "--reps",
                &args.reps.to_string(),
            ])
            .args(["--workloads", &plan.workloads.join(",")])
            .arg("--dir")
            .arg(&root)
            .output()?;
        if !out.status.success() {
            return Err(
                format!("{system} failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
            );
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["SAMPLE", w, ops, secs] => {
                    let (ops, secs): (f64, f64) = (ops.parse()?, secs.parse()?);
                    samples
                        .entry((system, w.to_string()))
                        .or_default()
                        .push(ops / secs.max(1e-9));
                }
                ["PEAK_RSS_KB", kb] => {
                    rss.insert(system, kb.parse::<u64>()?);
                }
                _ => {}
            }
        }
    }
    print_table(&plan, &samples, &rss)?;
    Ok(ExitCode::SUCCESS)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn fmt_ops(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn print_table(
    plan: &Plan,
    samples: &BTreeMap<(&str, String), Vec<f64>>,
    rss: &BTreeMap<&str, u64>,
) -> Result<()> {
    outln!(
        "{:<5} {:<24} {:<24} {:<24} {:>8} {:>8}  target (vs raw, vs SQLite)",
        "",
        "rockhold ops/s",
        "raw RocksDB ops/s",
        "SQLite ops/s",
        "vs raw",
        "vs SQL",
    );
    // W2 is the load of the read workloads: it is measured whenever they are.
    let loads = ["w3", "w3w", "w4", "w6", "w7", "w8"]
        .iter()
        .any(|x| plan.wants(x));
    for (w, what) in WORKLOADS {
        if !(plan.wants(w) || (w == "w2" && loads)) {
            continue;
        }
        let cell = |sys: &str| -> (String, Option<f64>) {
            match samples.get(&(sys, w.to_string())) {
                Some(v) if !v.is_empty() => {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(0.0, f64::max);
                    let m = median(v);
                    (
                        format!("{} ({}–{})", fmt_ops(m), fmt_ops(lo), fmt_ops(hi)),
                        Some(m),
                    )
                }
                _ => ("-".into(), None),
            }
        };
        let (rh, rhm) = cell("rockhold");
        let (raw, rawm) = cell("rocksdb");
        let (sql, sqlm) = cell("sqlite");
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "-".into(),
        };
        let target = TARGETS
            .iter()
            .find(|t| t.0 == w)
            .map_or(String::new(), |(_, vr, vs)| {
                let ok = |min: f64, r: Option<f64>| {
                    if min == 0.0 {
                        ""
                    } else if r.is_some_and(|r| r >= min) {
                        " met"
                    } else {
                        " MISSED"
                    }
                };
                let rr = rhm.zip(rawm).map(|(a, b)| a / b);
                let rs = rhm.zip(sqlm).map(|(a, b)| a / b);
                let mut parts = Vec::new();
                if *vr > 0.0 {
                    parts.push(format!(">= {vr}x raw{}", ok(*vr, rr)));
                }
                parts.push(format!(">= {vs}x SQLite{}", ok(*vs, rs)));
                parts.join(", ")
            });
        outln!(
            "{w:<5} {rh:<24} {raw:<24} {sql:<24} {:>8} {:>8}  {target}",
            ratio(rhm, rawm),
            ratio(rhm, sqlm)
        );
        let _ = what;
    }
    outln!();
    for (w, what) in WORKLOADS {
        outln!("  {w:<4} {what}");
    }
    outln!(
        "\npeak RSS: rockhold {} MiB, raw RocksDB {} MiB, SQLite {} MiB",
        rss.get("rockhold").copied().unwrap_or(0) / 1024,
        rss.get("rocksdb").copied().unwrap_or(0) / 1024,
        rss.get("sqlite").copied().unwrap_or(0) / 1024
    );
    Ok(())
}
