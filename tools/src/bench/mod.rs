//! `rockhold bench`: the same workloads on rockhold (its dynamic API and its
//! typed API), on raw RocksDB writing exactly rockhold's keys (the floor),
//! and on the peers a user would pick instead, SQLite and redb, in one run,
//! printed as ops/s with ratios against the best peer and the floor, peak
//! RSS and on-disk sizes. Each repetition of each system runs in a child
//! process of its own (a fresh `rockhold bench --system ... --reps 1`), so
//! its peak RSS is its own, and the repetitions run in rounds of every
//! system, so that load from elsewhere on the machine is shared out; the
//! data is generated before any clock starts, and every store lives in a
//! fresh directory. The build profile is printed first: a benchmark built
//! with debug assertions or overflow checks does not measure what users
//! run (`scripts/bench.sh` builds it as users do).

mod data;
mod raw;
mod redb_store;
mod rockhold_store;
mod sqlite;
mod typed_store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use crate::open::dir_size;
use data::{generate, Data, Person};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

/// The workloads, in the order they print.
pub const WORKLOADS: [(&str, &str); 10] = [
    ("w1", "insert, 1 object per commit"),
    ("w2", "insert, 1,000 objects per commit"),
    ("w3", "lookup by email, cold (after reopen)"),
    ("w3w", "lookup by email, warm (same lookups again)"),
    ("w4", "full class scan with decode"),
    ("w5", "build the unique email index over existing objects"),
    ("w6", "update the indexed email, 1 per commit"),
    ("w7", "delete, 1 per commit"),
    ("w8", "range scan on age, 100 rows per query"),
    ("w9", "insert, 4 writer threads, 1 object per commit each"),
];

/// W9's writer threads.
const WRITERS: usize = 4;

/// One target of the read-path issue (issue 26; W3w's from the round-2
/// performance issue), for both rockhold systems: minimum ratios against
/// the best peer and against raw RocksDB (0: none).
struct Target {
    workload: &'static str,
    vs_peer: f64,
    vs_raw: f64,
}

const fn target(workload: &'static str, vs_peer: f64, vs_raw: f64) -> Target {
    Target {
        workload,
        vs_peer,
        vs_raw,
    }
}

const TARGETS: [Target; 10] = [
    target("w1", 4.0, 0.9),
    target("w2", 2.0, 0.9),
    target("w3", 1.0, 0.9),
    target("w3w", 3.0, 0.0),
    target("w4", 1.0, 0.9),
    target("w5", 1.0, 0.0),
    target("w6", 2.3, 0.9),
    target("w7", 4.0, 0.9),
    target("w8", 1.0, 1.0),
    target("w9", 4.0, 0.9),
];

/// W9's target: a rockhold system's W9 over its own W1.
const W9_SCALING_TARGET: f64 = 1.5;

/// The systems, in the order they run and print: (key, name).
const SYSTEMS: [(&str, &str); 5] = [
    ("rockhold", "rockhold"),
    ("typed", "rockhold typed"),
    ("rocksdb", "raw RocksDB"),
    ("sqlite", "SQLite"),
    ("redb", "redb"),
];

/// The systems measured against the targets.
const ROCKHOLDS: [&str; 2] = ["rockhold", "typed"];
/// The peers: the faster of them on a workload is its "best peer".
const PEERS: [&str; 2] = ["sqlite", "redb"];
/// The floor.
const FLOOR: &str = "rocksdb";

/// What a store must do for the workloads. Ids are the store's own.
pub trait Store: Sized {
    /// A new, empty store in `dir`; `email_index` false leaves email unindexed (for W5).
    fn create(dir: &Path, email_index: bool) -> Result<Self>;
    /// Closes and opens again (cold caches for W3).
    fn reopen(self, dir: &Path) -> Result<Self>;
    /// Waits until the store's background work on the loaded data (RocksDB
    /// flushes and compactions; SQLite's WAL checkpoint; redb's commits
    /// kept in memory) is finished, so a timed read or index build does not
    /// share the cores with it.
    fn settle(&mut self) -> Result<()>;
    fn insert_one(&mut self, p: &Person) -> Result<u64>;
    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>>;
    /// Inserts each part on a thread of its own, one object per commit,
    /// through the store's handles for concurrent use (W9).
    fn insert_concurrently(&mut self, parts: &[&[Person]]) -> Result<()>;
    fn lookup(&mut self, email: &str) -> Result<Option<u64>>;
    /// Reads and decodes every object; returns how many.
    fn scan_all(&mut self) -> Result<u64>;
    fn build_email_index(&mut self) -> Result<()>;
    fn update_email(&mut self, id: u64, email: &str) -> Result<()>;
    fn delete(&mut self, id: u64) -> Result<()>;
    /// Up to 100 (age, id) with age >= `lower`, in order; returns how many.
    fn range(&mut self, lower: u64) -> Result<usize>;
    /// A full compaction: the space of deleted and overwritten data given
    /// back as far as the store can (RocksDB: every level rewritten;
    /// SQLite: `VACUUM`; redb: `compact`).
    fn compact(self, dir: &Path) -> Result<Self>;
}

/// Runs `work` on each part on a thread of its own and waits for all of
/// them; the first error (or panic) is returned.
pub(crate) fn on_threads<T: Sync>(
    parts: &[&[T]],
    work: impl Fn(&[T]) -> Result<()> + Sync,
) -> Result<()> {
    std::thread::scope(|scope| {
        let work = &work;
        let threads: Vec<_> = parts
            .iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        let mut first = Ok(());
        for t in threads {
            let done = t
                .join()
                .unwrap_or_else(|_| Err("a writer thread panicked".into()));
            if first.is_ok() {
                first = done;
            }
        }
        first
    })
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
    for family in [Family::Object, Family::Hash, Family::Ordered] {
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

/// What a repetition measures.
enum Sample<'a> {
    /// `ops` operations of a workload took this long.
    Ops(&'a str, u64, Duration),
    /// The store's files took this many bytes at a point of the run
    /// ("w2": after the load settled; "w7c": after W7 and a compaction).
    Disk(&'a str, u64),
}

/// One repetition of every wanted workload on one system. Every timed
/// phase is followed by untimed checks that the store did what was asked.
fn run_rep<S: Store>(
    plan: &Plan,
    data: &Data,
    root: &Path,
    report: &mut dyn FnMut(Sample<'_>),
) -> Result<()> {
    let people = &data.people;
    let n = people.len() as u64;
    if plan.wants("w1") {
        let dir = root.join("w1");
        let mut s = S::create(&dir, true)?;
        let (_, t) = timed(|| people.iter().try_for_each(|p| s.insert_one(p).map(drop)))?;
        report(Sample::Ops("w1", n, t));
        drop(s);
        std::fs::remove_dir_all(&dir)?;
    }
    if plan.wants("w9") {
        let dir = root.join("w9");
        let mut s = S::create(&dir, true)?;
        let parts: Vec<&[Person]> = people.chunks(people.len().div_ceil(WRITERS)).collect();
        let (_, t) = timed(|| s.insert_concurrently(&parts))?;
        report(Sample::Ops("w9", n, t));
        check(s.scan_all()? == n, "every writer's objects are stored")?;
        for part in &parts {
            if let Some(last) = part.last() {
                check(
                    s.lookup(&last.email)?.is_some(),
                    "each writer's last object is found",
                )?;
            }
        }
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
        report(Sample::Ops("w2", n, t));
        check(
            s.insert_one(&people[0]).is_err(),
            "a duplicate email is refused",
        )?;
        let mut s = s.reopen(&dir)?;
        s.settle()?;
        report(Sample::Disk("w2", dir_size(&dir)?));
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
                report(Sample::Ops(w, order.len() as u64, t));
            }
        }
        if plan.wants("w4") {
            let (count, t) = timed(|| s.scan_all())?;
            check(count == n, "the scan sees every object")?;
            report(Sample::Ops("w4", count, t));
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
            report(Sample::Ops(
                "w8",
                plan.ranges.min(data.ranges.len()) as u64,
                t,
            ));
        }
        let changes = &order[..plan.changes.min(order.len())];
        let moved = |i: usize| format!("moved{i:08}@example.org");
        if plan.wants("w6") {
            let (_, t) = timed(|| {
                changes
                    .iter()
                    .try_for_each(|&i| s.update_email(ids[i], &moved(i)))
            })?;
            report(Sample::Ops("w6", changes.len() as u64, t));
            if let Some(&i) = changes.first() {
                check(
                    s.lookup(&moved(i))? == Some(ids[i]),
                    "an updated email finds its object",
                )?;
                check(
                    s.lookup(&people[i].email)?.is_none(),
                    "an email updated away finds nothing",
                )?;
            }
        }
        if plan.wants("w7") {
            let (_, t) = timed(|| changes.iter().try_for_each(|&i| s.delete(ids[i])))?;
            report(Sample::Ops("w7", changes.len() as u64, t));
            if let Some(&i) = changes.first() {
                let email = if plan.wants("w6") {
                    moved(i)
                } else {
                    people[i].email.clone()
                };
                check(
                    s.lookup(&email)?.is_none(),
                    "a deleted object's email finds nothing",
                )?;
            }
            s = s.compact(&dir)?;
            report(Sample::Disk("w7c", dir_size(&dir)?));
            check(
                s.scan_all()? == n - changes.len() as u64,
                "after the deletes and the compaction, the scan sees the rest",
            )?;
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
        report(Sample::Ops("w5", n, t));
        let probe = &people[people.len() / 2];
        check(
            s.lookup(&probe.email)?.is_some(),
            "the built index finds an object",
        )?;
        check(
            s.insert_one(probe).is_err(),
            "the built index refuses a duplicate",
        )?;
        drop(s);
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// The 1-minute load average, as /proc/loadavg gives it ("?" if unreadable).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
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

/// The child side: runs one system and prints `SAMPLE workload ops
/// seconds`, `DISK point bytes` and `PEAK_RSS_KB kb` lines.
fn run_system(system: &str, plan: &Plan, reps: usize, root: &Path) -> Result<()> {
    let data = generate(plan.n, plan.lookups, plan.ranges);
    for rep in 0..reps {
        let dir = root.join(format!("{system}-{rep}"));
        let mut write_error = None;
        let mut report = |sample: Sample<'_>| {
            let line = match sample {
                Sample::Ops(w, ops, t) => {
                    crate::out::line(format_args!("SAMPLE {w} {ops} {:.6}", t.as_secs_f64()))
                }
                Sample::Disk(at, bytes) => crate::out::line(format_args!("DISK {at} {bytes}")),
            };
            if let Err(e) = line {
                write_error.get_or_insert(e);
            }
        };
        match system {
            "rockhold" => run_rep::<rockhold_store::RockholdStore>(plan, &data, &dir, &mut report)?,
            "typed" => run_rep::<typed_store::TypedStore>(plan, &data, &dir, &mut report)?,
            "rocksdb" => run_rep::<raw::RawStore>(plan, &data, &dir, &mut report)?,
            "sqlite" => run_rep::<sqlite::SqliteStore>(plan, &data, &dir, &mut report)?,
            "redb" => run_rep::<redb_store::RedbStore>(plan, &data, &dir, &mut report)?,
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

/// The cargo profile this binary was built under (see `tools/build.rs`).
const BUILD_PROFILE: &str = env!("ROCKHOLD_BUILD_PROFILE");

/// Whether arithmetic overflow panics in this build (`overflow-checks`),
/// found by overflowing once, the panic message silenced.
fn overflow_checks_on() -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let overflowed = std::panic::catch_unwind(|| {
        std::hint::black_box(std::hint::black_box(u8::MAX) + std::hint::black_box(1u8))
    })
    .is_err();
    std::panic::set_hook(hook);
    overflowed
}

/// Options of `rockhold bench`.
pub struct BenchArgs {
    pub n: usize,
    pub reps: usize,
    pub workloads: Option<Vec<String>>,
    pub dir: Option<PathBuf>,
    pub cache_mib: Option<usize>,
    pub system: Option<String>,
}

/// `--cache-mib` in bytes, set once per process before any store opens.
static CACHE_BYTES: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();

/// The cache budget every system is given (`None`: its own default).
pub(crate) fn cache_bytes() -> Option<usize> {
    CACHE_BYTES.get().copied().flatten()
}

pub fn run(args: BenchArgs) -> std::result::Result<ExitCode, Box<dyn std::error::Error>> {
    run_bench(args).map_err(|e| -> Box<dyn std::error::Error> { e })
}

fn run_bench(args: BenchArgs) -> Result<ExitCode> {
    let workloads: Vec<String> = match args.workloads {
        Some(w) => w.iter().map(|s| s.to_lowercase()).collect(),
        None => WORKLOADS.iter().map(|(w, _)| w.to_string()).collect(),
    };
    if let Some(bad) = workloads
        .iter()
        .find(|w| WORKLOADS.iter().all(|(k, _)| k != *w))
    {
        let known: Vec<&str> = WORKLOADS.iter().map(|(w, _)| *w).collect();
        return Err(format!("unknown workload {bad}; known: {}", known.join(" ")).into());
    }
    let _ = CACHE_BYTES.set(args.cache_mib.map(|m| m << 20));
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
    let debug_assertions = cfg!(debug_assertions);
    let overflow_checks = overflow_checks_on();
    let on_off = |on: bool| if on { "ON" } else { "off" };
    outln!(
        "rockhold bench: N = {}, {} rep(s), lookups {}, updates/deletes {}, range queries {}, \
         W9 writers {WRITERS}; data in {}",
        plan.n,
        args.reps,
        plan.lookups,
        plan.changes,
        plan.ranges,
        root.display()
    );
    outln!(
        "build: profile {BUILD_PROFILE}, debug assertions {}, overflow checks {}",
        on_off(debug_assertions),
        on_off(overflow_checks)
    );
    match args.cache_mib {
        Some(m) => outln!(
            "cache budget: {m} MiB for every system (rockhold's memory budget, at least 8 MiB; \
             raw RocksDB's and redb's cache; SQLite's page cache)"
        ),
        None => outln!(
            "cache budget: each system's default (rockhold 128 MiB, raw RocksDB 64 MiB, \
             SQLite 2 MiB, redb its own)"
        ),
    }
    if debug_assertions || overflow_checks {
        outln!(
            "WARNING: debug assertions or overflow checks are ON: this build does not measure \
             what users run; build with `scripts/bench.sh` (profile bench-user)."
        );
    }
    outln!(
        "Durability: rockhold and raw RocksDB write the WAL, no fsync per commit; SQLite: WAL, \
         synchronous=NORMAL;\n  redb: Durability::None, every commit reaching {} objects \
         since the last durable one Immediate (see redb_store.rs).",
        redb_store::DURABLE_EVERY
    );
    outln!("Background work on the loaded data settles before W3 and W5 are timed.\n");
    let mut results = Results::default();
    let exe = std::env::current_exe()?;
    let reps = args.reps.max(1);
    let load_at_start = load_average();
    // Repetition-major: every system runs once per round, in a child of
    // its own, so that other work on the shared machine that comes and
    // goes lands on a round of every system, not on all rounds of one.
    for rep in 0..reps {
        for (system, name) in SYSTEMS {
            eprintln!("rep {}/{reps}: {name} ...", rep + 1);
            let out = Command::new(&exe)
                .args([
                    "bench",
                    "--system",
                    system,
                    "--n",
                    &plan.n.to_string(),
                    "--reps",
                    "1",
                ])
                .args(["--workloads", &plan.workloads.join(",")])
                .args(
                    args.cache_mib
                        .map(|m| ["--cache-mib".to_string(), m.to_string()])
                        .into_iter()
                        .flatten(),
                )
                .arg("--dir")
                .arg(&root)
                .output()?;
            if !out.status.success() {
                return Err(
                    format!("{name} failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
                );
            }
            results.parse(system, &String::from_utf8_lossy(&out.stdout))?;
        }
    }
    outln!(
        "load average (1 min): {load_at_start} at the start, {} at the end, on {} cores\n",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    print_tables(&plan, args.reps, &results)?;
    Ok(ExitCode::SUCCESS)
}

/// Everything the children reported, by system.
#[derive(Default)]
struct Results {
    /// ops/s of each repetition, by (system, workload).
    ops: BTreeMap<(&'static str, String), Vec<f64>>,
    /// Bytes on disk of each repetition, by (system, point).
    disk: BTreeMap<(&'static str, String), Vec<f64>>,
    /// Peak RSS in KiB, by system: the highest of its children's.
    rss: BTreeMap<&'static str, u64>,
}

impl Results {
    /// Takes in the lines a child printed for `system`.
    fn parse(&mut self, system: &'static str, stdout: &str) -> Result<()> {
        for line in stdout.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["SAMPLE", w, ops, secs] => {
                    let (ops, secs): (f64, f64) = (ops.parse()?, secs.parse()?);
                    self.ops
                        .entry((system, w.to_string()))
                        .or_default()
                        .push(ops / secs.max(1e-9));
                }
                ["DISK", at, bytes] => {
                    self.disk
                        .entry((system, at.to_string()))
                        .or_default()
                        .push(bytes.parse::<f64>()?);
                }
                ["PEAK_RSS_KB", kb] => {
                    let kb = kb.parse::<u64>()?;
                    let peak = self.rss.entry(system).or_default();
                    *peak = (*peak).max(kb);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn median(&self, system: &'static str, w: &str) -> Option<f64> {
        self.ops
            .get(&(system, w.to_string()))
            .filter(|v| !v.is_empty())
            .map(|v| median(v))
    }

    /// The faster peer on `w` and its median.
    fn best_peer(&self, w: &str) -> Option<(&'static str, f64)> {
        PEERS
            .iter()
            .filter_map(|p| Some((*p, self.median(p, w)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn disk_median(&self, system: &'static str, at: &str) -> Option<f64> {
        self.disk
            .get(&(system, at.to_string()))
            .filter(|v| !v.is_empty())
            .map(|v| median(v))
    }
}

fn name_of(system: &str) -> &'static str {
    SYSTEMS
        .iter()
        .find(|(k, _)| *k == system)
        .map_or("?", |(_, name)| name)
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

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}x"))
}

fn fmt_mib(bytes: Option<f64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1} MiB", b / (1024.0 * 1024.0)))
}

fn print_tables(plan: &Plan, reps: usize, results: &Results) -> Result<()> {
    // W2 is the load of the read workloads: it is measured whenever they are.
    let loads = ["w3", "w3w", "w4", "w6", "w7", "w8"]
        .iter()
        .any(|x| plan.wants(x));
    let shown: Vec<(&str, &str)> = WORKLOADS
        .iter()
        .copied()
        .filter(|(w, _)| plan.wants(w) || (*w == "w2" && loads))
        .collect();

    outln!("ops/s, median (min–max) of {reps} rep(s)");
    let mut header = format!("{:<5}", "");
    for (_, name) in SYSTEMS {
        header.push_str(&format!(" {name:<23}"));
    }
    outln!("{}", header.trim_end());
    for (w, _) in &shown {
        let mut row = format!("{w:<5}");
        for (system, _) in SYSTEMS {
            let cell = match results.ops.get(&(system, w.to_string())) {
                Some(v) if !v.is_empty() => {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(0.0, f64::max);
                    format!("{} ({}–{})", fmt_ops(median(v)), fmt_ops(lo), fmt_ops(hi))
                }
                _ => "-".into(),
            };
            row.push_str(&format!(" {cell:<23}"));
        }
        outln!("{}", row.trim_end());
    }

    outln!(
        "\nratios of medians; best peer = the faster of SQLite and redb on the workload; \
         floor = raw RocksDB"
    );
    outln!(
        "{:<5} {:<11} {:>17} {:>8} {:>17} {:>8}  target (vs best peer, vs raw): rockhold, typed",
        "",
        "best peer",
        "rockhold vs peer",
        "vs raw",
        "typed vs peer",
        "vs raw"
    );
    for (w, _) in &shown {
        let peer = results.best_peer(w);
        let raw = results.median(FLOOR, w);
        let mut cells = Vec::new();
        let mut verdicts = Vec::new();
        let target = TARGETS.iter().find(|t| t.workload == *w);
        for system in ROCKHOLDS {
            let own = results.median(system, w);
            let vs_peer = own.zip(peer).map(|(a, (_, b))| a / b);
            let vs_raw = own.zip(raw).map(|(a, b)| a / b);
            cells.push((fmt_ratio(vs_peer), fmt_ratio(vs_raw)));
            if let Some(t) = target {
                let met = |min: f64, r: Option<f64>| min == 0.0 || r.is_some_and(|r| r >= min);
                let ok = met(t.vs_peer, vs_peer) && met(t.vs_raw, vs_raw);
                verdicts.push(if own.is_none() {
                    "-"
                } else if ok {
                    "met"
                } else {
                    "MISSED"
                });
            }
        }
        let target_text = match target {
            Some(t) => {
                let mut parts = vec![format!(">= {}x", t.vs_peer)];
                if t.vs_raw > 0.0 {
                    parts.push(format!(">= {}x raw", t.vs_raw));
                }
                format!("{}: {}", parts.join(", "), verdicts.join(", "))
            }
            None => String::new(),
        };
        outln!(
            "{w:<5} {:<11} {:>17} {:>8} {:>17} {:>8}  {target_text}",
            peer.map_or("-", |(p, _)| name_of(p)),
            cells[0].0,
            cells[0].1,
            cells[1].0,
            cells[1].1,
        );
    }

    if plan.wants("w9") && plan.wants("w1") {
        outln!(
            "\nW9 scaling: W9 ({WRITERS} writers) / W1 (1 writer) of the same system; \
             round 2's target for rockhold >= {W9_SCALING_TARGET}x"
        );
        for (system, name) in SYSTEMS {
            let scaling = results
                .median(system, "w9")
                .zip(results.median(system, "w1"))
                .map(|(a, b)| a / b);
            let verdict = if !ROCKHOLDS.contains(&system) {
                ""
            } else if scaling.is_some_and(|s| s >= W9_SCALING_TARGET) {
                "  met"
            } else {
                "  MISSED"
            };
            outln!("  {name:<15} {:>7}{verdict}", fmt_ratio(scaling));
        }
    }

    outln!("\nmemory and disk (disk: medians over the reps)");
    outln!(
        "  {:<15} {:>10} {:>15} {:>28}",
        "",
        "peak RSS",
        "disk after W2",
        "disk after W7 + compaction"
    );
    for (system, name) in SYSTEMS {
        let rss = results
            .rss
            .get(system)
            .map_or("-".into(), |kb| format!("{} MiB", kb / 1024));
        outln!(
            "  {name:<15} {rss:>10} {:>15} {:>28}",
            fmt_mib(results.disk_median(system, "w2")),
            fmt_mib(results.disk_median(system, "w7c"))
        );
    }
    outln!(
        "  (peak RSS: the highest of the system's child processes, one per rep, the generated \
         data included; disk: every file of the store)"
    );

    outln!();
    for (w, what) in WORKLOADS {
        outln!("  {w:<4} {what}");
    }
    outln!(
        "\nnotes: typed W4 is Collection::iter (records decoded in place); typed W6 is a \
         read-modify-write in a transaction;\n  typed W8 is Collection::range_ids (100 ids from \
         the index), the others return (age, id) pairs."
    );
    Ok(())
}
