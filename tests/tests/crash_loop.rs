//! Crash loop: a child process runs random inserts, updates, deletes and
//! index changes (with the runner on) using synced writes, logging an intent
//! before and an acknowledgement after each operation; the parent kills it
//! (SIGKILL) at a random moment, reopens, checks the full invariant, and
//! checks that every acknowledged operation is present (the one in flight may
//! go either way). Cycles: `ROCKHOLD_CRASH_CYCLES` (default 100).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, ObjectId, Options, Value};
use rockhold_tests::assert_invariant;

fn spec(tag_index: bool) -> ClassSpec {
    let tag = FieldSpec::new("tag", FieldType::U64).optional();
    ClassSpec::new("item")
        .field(FieldSpec::new("sku", FieldType::String).unique_hash())
        .field(FieldSpec::new("n", FieldType::U64).ordered())
        .field(if tag_index { tag.ordered() } else { tag })
}

fn cycles() -> u64 {
    std::env::var("ROCKHOLD_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The child: works on the database until it is killed.
#[test]
#[ignore = "run by acknowledged_writes_survive_kill_9 in a child process"]
fn crash_loop_child() {
    let (Ok(dir), Ok(seed)) = (
        std::env::var("ROCKHOLD_CRASH_DIR"),
        std::env::var("ROCKHOLD_CRASH_SEED"),
    ) else {
        return;
    };
    let mut rng = Rng(seed.parse::<u64>().expect("seed") | 1);
    let db = Db::open(
        &dir,
        Options::default()
            .sync_writes(true)
            .runner_threads(1)
            .reindex_chunk(16),
    )
    .expect("open");
    if db.class("default", "item").is_err() {
        db.create_class("default", &spec(false)).expect("class");
    }
    let mut ids = db
        .scan_class("default", "item", None, usize::MAX)
        .expect("ids");
    let mut tag_index = db
        .class("default", "item")
        .and_then(|c| c.def())
        .expect("class")
        .index("tag")
        .is_some();
    let out = std::io::stdout();
    let mut out = out.lock();
    for seq in 0u64.. {
        let r = rng.next();
        let sku = format!("s{}", r % 40);
        let n = (r >> 8) % 100;
        let tag = (r >> 16) % 5;
        let line = match r % 23 {
            0 => {
                tag_index = !tag_index;
                writeln!(out, "@@ I {seq} schema").expect("log");
                out.flush().expect("flush");
                db.replace_class("default", &spec(tag_index))
                    .expect("schema change");
                // A backup while the new index builds (a kill may cut it
                // short: BackupEngine then drops the unfinished one).
                if let Ok(backups) = std::env::var("ROCKHOLD_CRASH_BACKUPS") {
                    db.create_backup(&backups).expect("backup");
                    // And a checkpoint, renamed into place once complete.
                    let root = std::path::Path::new(&backups).parent().expect("parent");
                    let partial = root.join(format!("partial-cp{seq}"));
                    db.checkpoint(&partial).expect("checkpoint");
                    std::fs::rename(&partial, root.join(format!("cp{seq}"))).expect("rename");
                }
                "ok".to_string()
            }
            1..=9 => {
                writeln!(out, "@@ I {seq} insert {sku} {n} {tag}").expect("log");
                out.flush().expect("flush");
                match db.insert(
                    "default",
                    "item",
                    [
                        ("sku", Value::from(sku.as_str())),
                        ("n", n.into()),
                        ("tag", tag.into()),
                    ],
                ) {
                    Ok(id) => {
                        ids.push(id);
                        id.0.to_string()
                    }
                    Err(Error::UniqueViolation { .. }) => "refused".into(),
                    Err(e) => panic!("{e}"),
                }
            }
            10..=18 if !ids.is_empty() => {
                let id = ids[(r >> 24) as usize % ids.len()];
                writeln!(out, "@@ I {seq} update {} {sku} {n}", id.0).expect("log");
                out.flush().expect("flush");
                match db.update(
                    "default",
                    id,
                    [("sku", Value::from(sku.as_str())), ("n", n.into())],
                ) {
                    Ok(()) => "ok".into(),
                    Err(Error::UniqueViolation { .. }) => "refused".into(),
                    Err(e) => panic!("{e}"),
                }
            }
            _ if !ids.is_empty() => {
                let id = ids.swap_remove((r >> 24) as usize % ids.len());
                writeln!(out, "@@ I {seq} delete {}", id.0).expect("log");
                out.flush().expect("flush");
                db.delete("default", id).expect("delete");
                "ok".into()
            }
            _ => continue,
        };
        writeln!(out, "@@ A {seq} {line}").expect("log");
        out.flush().expect("flush");
    }
}

/// (sku, n) of every object.
type Model = BTreeMap<ObjectId, (String, u64)>;

fn read_db(dir: &std::path::Path) -> (Db, Model) {
    let db = Db::open(dir, Options::default().runner_threads(0)).expect("reopen after kill");
    let mut m = Model::new();
    for o in db
        .scan_objects("default", "item", None, usize::MAX)
        .expect("scan")
    {
        let sku = match o.get("sku") {
            Some(Value::String(s)) => s.clone(),
            other => panic!("sku {other:?}"),
        };
        let n = match o.get("n") {
            Some(Value::U64(n)) => *n,
            other => panic!("n {other:?}"),
        };
        m.insert(o.id, (sku, n));
    }
    (db, m)
}

/// Applies one logged operation to the model; `ack` is its acknowledgement.
fn apply(model: &mut Model, op: &[&str], ack: &str) {
    match op {
        ["insert", sku, n, _] if ack != "refused" => {
            model.insert(
                ObjectId(ack.parse().expect("id")),
                (sku.to_string(), n.parse().expect("n")),
            );
        }
        ["update", id, sku, n] if ack == "ok" => {
            model.insert(
                ObjectId(id.parse().expect("id")),
                (sku.to_string(), n.parse().expect("n")),
            );
        }
        ["delete", id] => {
            model.remove(&ObjectId(id.parse().expect("id")));
        }
        _ => {}
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut model = Model::new();
    let mut rng = Rng(0xC0FFEE);
    let (mut acked, mut in_flight_applied) = (0u64, 0u64);
    let copies = tempfile::tempdir().expect("tempdir for backups");
    let backups = copies.path().join("backups");
    let mut restored = 0u64;
    for cycle in 0..cycles() {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "crash_loop_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ROCKHOLD_CRASH_DIR", dir.path())
            .env("ROCKHOLD_CRASH_SEED", rng.next().to_string())
            .env("ROCKHOLD_CRASH_BACKUPS", &backups)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let kill_after = 5 + rng.next() % 300;
        let mut log: Vec<String> = Vec::new();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut read = |log: &mut Vec<String>, limit: u64| {
            while (log.len() as u64) < limit {
                let Some(Ok(line)) = lines.next() else { break };
                // The test harness may print on the same line before the marker.
                if let Some((_, entry)) = line.split_once("@@ ") {
                    log.push(entry.to_string());
                }
            }
        };
        read(&mut log, kill_after);
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        // What the child logged before it died, after the moment we stopped reading.
        read(&mut log, u64::MAX);
        // Replay acknowledged operations; remember the one in flight.
        let mut in_flight: Option<Vec<String>> = None;
        for line in &log {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["I", _, op @ ..] => in_flight = Some(op.iter().map(|s| s.to_string()).collect()),
                ["A", _, ack] => {
                    let op = in_flight.take().expect("ack follows intent");
                    let op: Vec<&str> = op.iter().map(String::as_str).collect();
                    apply(&mut model, &op, ack);
                    acked += 1;
                }
                _ => {}
            }
        }
        let (db, found) = read_db(dir.path());
        if found != model {
            // Only the operation in flight may explain a difference.
            let op = in_flight
                .as_ref()
                .unwrap_or_else(|| panic!("cycle {cycle}: state differs with nothing in flight"));
            let op: Vec<&str> = op.iter().map(String::as_str).collect();
            let mut with = model.clone();
            match op.as_slice() {
                ["insert", ..] => {
                    let new: Vec<_> = found.keys().filter(|id| !model.contains_key(id)).collect();
                    assert_eq!(new.len(), 1, "cycle {cycle}: one object more at most");
                    apply(&mut with, &op, &new[0].0.to_string());
                }
                _ => apply(&mut with, &op, "ok"),
            }
            assert_eq!(
                found, with,
                "cycle {cycle}: the state is neither before nor after the in-flight {op:?}"
            );
            model = with;
            in_flight_applied += 1;
        }
        assert_invariant(&db);
        db.close().expect("close");
        // The newest backup, taken while an index built, restores to a
        // database that verify passes.
        if let Some(last) = rockhold::list_backups(&backups)
            .ok()
            .and_then(|l| l.last().cloned())
        {
            let target = copies.path().join(format!("restored{cycle}"));
            rockhold::restore_backup(&backups, Some(last.id), &target, false).expect("restore");
            let copy =
                Db::open(&target, Options::default().runner_threads(0)).expect("open restored");
            assert_invariant(&copy);
            copy.close().expect("close");
            std::fs::remove_dir_all(&target).expect("remove restored copy");
            restored += 1;
        }
        for entry in std::fs::read_dir(copies.path()).expect("ls") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            if name.starts_with("cp") {
                let copy =
                    Db::open(&path, Options::default().runner_threads(0)).expect("open checkpoint");
                assert_invariant(&copy);
                copy.close().expect("close");
                restored += 1;
            }
            if name.starts_with("cp") || name.starts_with("partial-cp") {
                std::fs::remove_dir_all(&path).expect("remove checkpoint");
            }
        }
    }
    // Finish any index build the kills interrupted, and check once more.
    let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
    db.check_reindex_tasks().expect("finish tasks");
    assert_invariant(&db);
    assert!(cycles() < 20 || restored > 0, "some cycle took a backup");
    eprintln!("crash loop: {} cycles, {acked} acknowledged operations, {in_flight_applied} in-flight operations found applied, {} objects, {restored} backups and checkpoints restored and verified", cycles(), model.len());
}
