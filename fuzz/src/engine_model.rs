//! Target `engine_model`: the engine against a plain-Rust model, over the
//! in-memory backend, with storage failures injected by countdown (the
//! technique of redb's fuzzers: a wrapper of the backend,
//! `rockhold::testing::FaultyStore`, the engine's `testing` feature).
//!
//! The input is decoded ([`Program::decode`]) into a configuration byte and
//! at most [`MAX_OPS`] operations: namespace and class DDL (create, drop,
//! add or remove a field, add, change or remove an index, optionality),
//! inserts, updates and deletes, alone or several in one transaction,
//! read transactions (below), reopens, reindex requests,
//! `check_reindex_tasks`, and "arm a failure" (`FaultyStore::fail_after(n)`,
//! `n < 8`: the next `n` mutating storage operations succeed, every later
//! one fails).
//!
//! The schema (format v2): six pool fields — `a: u64`, `b: string`,
//! `c: f64`, `d: bytes`, `e: struct { city: string, zip: optional u64 }`,
//! `f: list<string>` — and eight possible indexes ([`INDEXES`]), each of
//! any kind (hash or ordered, unique or not): the one-field indexes of
//! `a`, `b`, `c`, `d` and `f` (multi-valued: one entry per distinct
//! element), `city` on the nested path `e.city`, the compound `ab` on
//! `(a, b)`, and the compound, nested and multi-valued `zf` on
//! `(e.zip, f)`. Values include lists with duplicate elements, empty lists,
//! a struct without its optional member and one with it explicitly absent,
//! and a struct lacking a required member (`WrongType`).
//!
//! Every operation runs against the engine and against the model (`Model`:
//! `BTreeMap`s), which predicts its outcome exactly: success, or the kind
//! of error (`UniqueViolation`, `MissingField`, `WrongType`,
//! `UnknownObject`, `InvalidIndex`, ...). An index's entries are computed
//! by brute force: the distinct tuples of the cartesian product of each
//! part's values (every element for the list), none when a part is absent
//! or an empty list. After every step, the reads of every class it may
//! have changed agree with the model: the class definition (fields and
//! indexes with their parts), its objects by `get`, `scan_class`,
//! `scan_objects`, and for every ready index `find_all`, `find_page`,
//! `find_unique` and ordered scans (whole, reverse, paged, bounded by a
//! leading subset of a compound index or a whole tuple, prefix) over every
//! tuple the model's objects hold and one more; queries of the wrong shape
//! or type fail as predicted; every other index answers `UnknownIndex` or
//! `IndexNotReady`. `verify` must be clean after every step, successful
//! or not, and at every stage of the recovery from an injected failure
//! (after which, as at the end, every class is read). With the
//! configuration's snapshot bit, a snapshot taken before each step must
//! still read the state before it.
//!
//! When an operation hits an injected failure, it must fail with
//! `Error::Io` and leave the database exactly as before the operation (the
//! model does not change): the failure is cleared, the database is compared
//! with the model (and verified), reopened ("disk" = the model), compared
//! again, its interrupted index builds finished by `check_reindex_tasks`,
//! and compared once more.
//!
//! Read transactions ([`Op::ReadTxn`], issue 24 items 1, 3 and 4): a
//! transaction stages up to [`MAX_READ_TXN`] writes and reads in any order
//! (inserts, updates and deletes of live or gone objects; `tx.get`,
//! `tx.find_unique` on a ready unique index, `tx.find_page(first(n))` on a
//! ready non-unique one, `tx.scan(all().limit(n))` of a ready ordered one,
//! forward or reversed; a page and a scan may read their next page by
//! cursor; `n` is 1 to 3; the value looked up is one the staged state holds,
//! or one more). Each read must answer what the model's staged state gives
//! (`Staging`: the writes so far over the model, a refused write changing
//! nothing): the transaction's own writes, a read after a refused write
//! failing with its error, a unique value held twice (two updates swapping
//! values, a read between them) failing its lookup and an ordered scan of
//! that unique index that reaches it with `UniqueViolation` while every
//! other read answers. Then a blind write (`Db::insert`, `update` or
//! `delete`, judged as [`Op::Write`]) commits, and the transaction commits.
//! The oracle is serializability at the commit point (the model after the
//! blind write): each read is replayed there, after the staged writes it
//! followed.
//! - `Ok`: the model predicts success for the writes staged over the blind
//!   write's state (as `Op::Txn`), and every read answers there what it
//!   answered. The one exception: answers that changed only through an
//!   object the transaction wrote (its staged update was computed from the
//!   snapshot's record; the engine validates what a transaction read, not
//!   the records it only wrote) pass if the transaction then serializes
//!   before the blind write instead (same blind outcome after it, same
//!   final state); they are counted. A transaction that wrote nothing
//!   commits `Ok` (its snapshot is its point). The model then takes the
//!   staged state.
//! - `Conflict`: the model is the state after the blind write. Allowed
//!   whenever the transaction read and wrote something; when no answer
//!   changed and the blind write changed no object the transaction read
//!   or wrote, it is counted as a false conflict (intervals may cover more
//!   than the answer).
//! - `Conflict` is required, whatever else would fail (`UnknownObject` of a
//!   stale read, `UniqueViolation`, ...), when the transaction wrote and
//!   either the blind write changed an object it had read by `get`, or an
//!   answer changed through an object it did not write. Only
//!   `UnknownNamespace`, which the commit resolves first, goes before.
//! - Any other error: as the model predicts for the writes at the commit
//!   point (`Op::Txn`'s rules).
//!
//! An injected failure in a staged insert (its id) or the blind write
//! drops the transaction uncommitted; in the commit, it must fail with `Io`;
//! either way the recovery compares the database with the model (the
//! state after the blind write if it committed). Counters of the outcomes:
//! [`read_txn_stats`] (printed now and then with `ENGINE_MODEL_STATS` set).
//! Not covered: a writer slipping between a validation and its write
//! (item 2) needs concurrent commits; a program runs one call at a time.
//!
//! Index builds run right after their DDL, or are left pending ("deferred")
//! while writes go on: the index is then not read until a later
//! `check_reindex_tasks`, and under a pending unique index a write that
//! duplicates a value may be refused or not (see `Model::unique_outcome`).
//! A unique index over duplicate tuples ends `Failed` as the model
//! predicts, and is removed again (so no write ever meets a failed unique
//! index).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use rockhold::testing::FaultyStore;
use rockhold::{
    ClassSpec, Cursor, Db, Error, FieldSpec, FieldType, FindAll, IndexKind, IndexSpec, IndexState,
    MemberDef, ObjectId, Options, RangeScan, Snapshot, TaskState, Transaction, Value,
};

/// Operations decoded from one input, at most.
pub const MAX_OPS: usize = 40;
/// Live objects at most: an insert beyond is skipped.
pub const MAX_OBJECTS: usize = 50;
/// Writes in one transaction, at most.
pub const MAX_TXN: usize = 4;
/// Writes and reads of one [`Op::ReadTxn`], at most.
pub const MAX_READ_TXN: usize = 8;
/// `fail_after(n)` is armed with `n` below this.
pub const MAX_FAIL_AFTER: u8 = 8;

/// The classes a program works on: (namespace, class name), by slot. The
/// third lives in a namespace the program creates and drops.
pub const SLOTS: [(&str, &str); 3] = [("default", "c0"), ("default", "c1"), ("ns1", "c2")];

/// How many pool fields there are.
pub const NFIELDS: usize = 6;
/// The names of the pool fields, by pool index. A field has the same type
/// in every class ([`field_type`]).
pub const FIELDS: [&str; NFIELDS] = ["a", "b", "c", "d", "e", "f"];
/// The pool index of the struct field `e`.
const STRUCT_FIELD: usize = 4;
/// The pool index of the list field `f`.
const LIST_FIELD: usize = 5;

/// The type of pool field `pool`.
pub fn field_type(pool: usize) -> FieldType {
    match pool {
        0 => FieldType::U64,
        1 => FieldType::String,
        2 => FieldType::F64,
        3 => FieldType::Bytes,
        STRUCT_FIELD => FieldType::Struct(vec![
            MemberDef {
                name: "city".into(),
                ty: FieldType::String,
                optional: false,
            },
            MemberDef {
                name: "zip".into(),
                ty: FieldType::U64,
                optional: true,
            },
        ]),
        _ => FieldType::List(Box::new(FieldType::String)),
    }
}

/// One part of an index: a pool field and, for a nested path, the member
/// of the struct field it reads.
pub type Part = (usize, Option<&'static str>);

/// How many possible indexes there are.
pub const NINDEXES: usize = 8;
/// The indexes a class may have: (name, parts), by index number. The first
/// [`OWN_INDEXES`] are one-field indexes declared on their field
/// (`FieldSpec::index`, named after it); the others are declared on the
/// class (`ClassSpec::index`).
pub const INDEXES: [(&str, &[Part]); NINDEXES] = [
    ("a", &[(0, None)]),
    ("b", &[(1, None)]),
    ("c", &[(2, None)]),
    ("d", &[(3, None)]),
    ("f", &[(LIST_FIELD, None)]),
    ("city", &[(STRUCT_FIELD, Some("city"))]),
    ("ab", &[(0, None), (1, None)]),
    ("zf", &[(STRUCT_FIELD, Some("zip")), (LIST_FIELD, None)]),
];
/// Indexes below this number are a field's own index.
pub const OWN_INDEXES: usize = 5;

/// Index kinds, by kind byte (`None`: no index).
pub const KINDS: [Option<IndexKind>; 5] = [
    None,
    Some(IndexKind::Hash { unique: false }),
    Some(IndexKind::Hash { unique: true }),
    Some(IndexKind::Ordered { unique: false }),
    Some(IndexKind::Ordered { unique: true }),
];

/// How many values each field's pool has.
pub const POOL: usize = 5;

/// The `i`-th of the [`POOL`] values field `field` takes: few, so that
/// values collide; strings and bytes prefixes of each other (and with a
/// zero byte), `-0.0 == 0.0` and NaN, lists with repeated and no elements,
/// structs with and without their optional member (once explicitly
/// absent), and one struct without its required member (not of the type).
pub fn pool_value(field: usize, i: usize) -> Value {
    let i = i % POOL;
    let s = |x: &str| Value::String(x.to_string());
    match field {
        0 => Value::U64([0, 1, 2, 3, u64::MAX][i]),
        1 => s(["", "x", "xy", "y", "x\0"][i]),
        2 => Value::F64([-0.0, 0.0, 1.5, f64::NAN, f64::NEG_INFINITY][i]),
        3 => Value::Bytes([&[][..], &[0], &[0, 1], &[1], &[0xff]][i].to_vec()),
        STRUCT_FIELD => {
            let city = |c: &str| ("city".to_string(), s(c));
            let zip = |z: Value| ("zip".to_string(), z);
            // Entries sorted by key, as `Value::map` would.
            Value::Map(match i {
                0 => vec![city("x")],
                1 => vec![city("y"), zip(Value::U64(1))],
                2 => vec![city("x"), zip(Value::U64(2))],
                3 => vec![city(""), zip(Value::Absent)],
                _ => vec![zip(Value::U64(1))],
            })
        }
        _ => Value::List(
            match i {
                0 => &[][..],
                1 => &["x"],
                2 => &["x", "x"],
                3 => &["y", "x", "y"],
                _ => &["xy", "y"],
            }
            .iter()
            .map(|e| s(e))
            .collect(),
        ),
    }
}

/// Whether pool value `i` of `field` is of the field's type (the model's
/// own knowledge: only the struct without `city` is not).
pub fn pool_valid(field: usize, i: usize) -> bool {
    !(field == STRUCT_FIELD && i % POOL == 4)
}

/// Three values a part takes (or could take), for lookups and scan bounds.
fn part_probes(part: Part) -> [Value; 3] {
    match part {
        (STRUCT_FIELD, Some("city")) => ["x".into(), "y".into(), "".into()],
        (STRUCT_FIELD, _) => [Value::U64(1), Value::U64(2), Value::U64(0)],
        (LIST_FIELD, _) => ["x".into(), "y".into(), "xy".into()],
        (f, _) => [pool_value(f, 1), pool_value(f, 3), pool_value(f, 0)],
    }
}

/// Whether a part's values are strings or bytes (prefix scans).
fn part_is_text(part: Part) -> Option<bool> {
    match part {
        (1, None) | (STRUCT_FIELD, Some("city")) | (LIST_FIELD, None) => Some(true),
        (3, None) => Some(false),
        _ => None,
    }
}

/// The path of a part as an `IndexSpec` names it.
fn part_path(part: Part) -> String {
    match part.1 {
        Some(m) => format!("{}.{m}", FIELDS[part.0]),
        None => FIELDS[part.0].to_string(),
    }
}

/// The own index of a pool field, if it may have one.
fn own_index(pool: usize) -> Option<usize> {
    (0..OWN_INDEXES).find(|i| INDEXES[*i].1[0].0 == pool)
}

/// The value a query gives for `values` of an index with `parts` parts:
/// the value itself for a one-part index, the list of them otherwise.
fn query(parts: usize, values: &[Value]) -> Value {
    match values {
        [v] if parts == 1 => v.clone(),
        _ => Value::List(values.to_vec()),
    }
}

// ---------------------------------------------------------------------------
// The program: what an input decodes to

/// Options of the database, from the first input byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// `Options::reindex_chunk`, 1 to 4.
    pub chunk: u8,
    /// Builds sort and ingest (`bulk_build_memory` default) rather than
    /// backfill chunk by chunk (`bulk_build_memory(0)`).
    pub bulk: bool,
    /// The unique-lookup cache is on.
    pub unique_cache: bool,
    /// The object → class cache is on.
    pub class_cache: bool,
    /// Value hashes keep 2 bits only: distinct values collide in hash indexes.
    pub few_hash_bits: bool,
    /// A snapshot is taken before every step (but reopens) and read after
    /// it: it must still show the state before the step.
    pub snapshots: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chunk: 2,
            bulk: true,
            unique_cache: true,
            class_cache: true,
            few_hash_bits: false,
            snapshots: false,
        }
    }
}

/// The value a write gives a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Given {
    /// The field's pool value of this index (0 to 4).
    Value(u8),
    /// `Value::Absent` (clears an optional field, refused for a required one).
    Absent,
    /// The field is not given.
    No,
}

/// What a write gives each pool field.
pub type Values = [Given; NFIELDS];

/// The object an update or delete is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The n-th live object (modulo their number, in id order); the write
    /// is skipped when there is none.
    Live(u8),
    /// The n-th id that is not (or no longer) an object: deleted, in a
    /// dropped namespace, or of an insert that failed.
    Gone(u8),
}

/// One object write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Inserts into class `slot`. Unless `strict`, only the fields the
    /// class has are given.
    Insert {
        /// The class slot (see [`SLOTS`]).
        slot: u8,
        /// Give fields the class does not have (`UnknownField`).
        strict: bool,
        /// The values given.
        values: Values,
    },
    /// A partial update of an object.
    Update {
        /// The object.
        target: Target,
        /// Give fields the class does not have (`UnknownField`).
        strict: bool,
        /// The values given.
        values: Values,
    },
    /// Deletes an object.
    Delete {
        /// The object.
        target: Target,
    },
}

/// How a class created by the program declares a pool field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldChoice {
    /// The class has the field.
    pub present: bool,
    /// The field is optional.
    pub optional: bool,
}

/// One step of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `create_namespace("ns1")`.
    CreateNamespace,
    /// `drop_namespace("ns1")`.
    DropNamespace,
    /// `create_class` of a slot, its fields in pool order, with every index
    /// of [`INDEXES`] whose kind is given and whose fields the class has.
    CreateClass {
        /// The class slot.
        slot: u8,
        /// Each pool field.
        fields: [FieldChoice; NFIELDS],
        /// Each index's kind, an index into [`KINDS`].
        indexes: [u8; NINDEXES],
    },
    /// `replace_class` giving an index of [`INDEXES`] another kind (or
    /// none). A field's own index on a field the class lacks is a no-op; a
    /// class index over a field the class lacks is refused
    /// (`InvalidIndex`). The build runs at once unless `defer`.
    SetIndex {
        /// The class slot.
        slot: u8,
        /// The index number.
        index: u8,
        /// The new kind, an index into [`KINDS`].
        kind: u8,
        /// Leave the build pending.
        defer: bool,
    },
    /// `replace_class` removing the field (and every index that reads it),
    /// or adding it (at the end, with its own index of kind `kind`).
    ToggleField {
        /// The class slot.
        slot: u8,
        /// The pool field.
        field: u8,
        /// An added field is optional.
        optional: bool,
        /// An added field's own index kind, an index into [`KINDS`].
        kind: u8,
    },
    /// `replace_class` making a field optional or required.
    SetOptional {
        /// The class slot.
        slot: u8,
        /// The pool field.
        field: u8,
        /// Optional (else required).
        optional: bool,
    },
    /// One write, by `Db::insert`, `Db::update` or `Db::delete`.
    Write(Write),
    /// Several writes in one transaction.
    Txn(Vec<Write>),
    /// A read-write transaction (see the module doc): its writes and
    /// transactional reads in order, each read checked against the staged
    /// state; then the `blind` write commits (`Db::insert`, `update` or
    /// `delete`, as [`Op::Write`]); then the transaction commits, judged by
    /// serializability at its commit point.
    ReadTxn {
        /// The transaction's writes and reads, in order.
        steps: Vec<TxStep>,
        /// The write that commits between the reads and the commit.
        blind: Option<Write>,
    },
    /// `close` and `open_memory` again.
    Reopen,
    /// `reindex` of one index or (`None`) every index of a class; the
    /// builds run at once unless `defer`.
    Reindex {
        /// The class slot.
        slot: u8,
        /// The index number, or every index of the class.
        index: Option<u8>,
        /// Leave the builds pending.
        defer: bool,
    },
    /// `check_reindex_tasks`: finishes every pending build.
    Settle,
    /// `FaultyStore::fail_after(writes)`.
    ArmFailure {
        /// Mutating storage operations that still succeed.
        writes: u8,
    },
}

/// One step of an [`Op::ReadTxn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStep {
    /// A write staged in the transaction.
    Write(Write),
    /// A read through the transaction.
    Read(Read),
}

/// A transactional read. The class slot's index is chosen when the read
/// runs: the `index`-th (modulo their number) of its ready indexes that
/// answer the read (unique for `Unique`, not unique for `Page`, ordered
/// for `Scan`); the value looked up is the `probe`-th (modulo) of the
/// tuples the staged state holds in it and one more. The read is skipped
/// when no index fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// `tx.get` of an object (resolved against the staged state).
    Get {
        /// The object.
        target: Target,
    },
    /// `tx.find_unique` on a unique index.
    Unique {
        /// The class slot.
        slot: u8,
        /// Which fitting index (0 to 7).
        index: u8,
        /// Which value (0 to 31).
        probe: u8,
    },
    /// `tx.find_page(first(limit))` on a non-unique index, and with `next`
    /// the page after its cursor (when it has one).
    Page {
        /// The class slot.
        slot: u8,
        /// Which fitting index (0 to 7).
        index: u8,
        /// Which value (0 to 31).
        probe: u8,
        /// The page size, 1 to 3.
        limit: u8,
        /// Read the next page too.
        next: bool,
    },
    /// `tx.scan(RangeScan::all().limit(limit))` of an ordered index,
    /// reversed or not, and with `next` the page after its cursor.
    Scan {
        /// The class slot.
        slot: u8,
        /// Which fitting index (0 to 7).
        index: u8,
        /// The page size, 1 to 3.
        limit: u8,
        /// Scan backwards.
        reverse: bool,
        /// Read the next page too.
        next: bool,
    },
}

/// A decoded input: the options and the operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Options of the database.
    pub config: Config,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// Opcodes, by opcode byte modulo their number (writes weigh more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    CreateNamespace,
    DropNamespace,
    CreateClass,
    SetIndex,
    ToggleField,
    SetOptional,
    Insert,
    Update,
    Delete,
    Txn,
    Reopen,
    Reindex,
    Settle,
    Arm,
    ReadTxn,
}

const CODES: [Code; 22] = [
    Code::CreateNamespace,
    Code::DropNamespace,
    Code::CreateClass,
    Code::SetIndex,
    Code::ToggleField,
    Code::SetOptional,
    Code::Insert,
    Code::Update,
    Code::Delete,
    Code::Txn,
    Code::Reopen,
    Code::Reindex,
    Code::Settle,
    Code::Arm,
    Code::CreateClass,
    Code::SetIndex,
    Code::Insert,
    Code::Insert,
    Code::Update,
    Code::Txn,
    Code::ReadTxn,
    Code::ReadTxn,
];

/// The canonical opcode byte of a code (its first place in [`CODES`]).
fn code_byte(code: Code) -> u8 {
    CODES.iter().position(|c| *c == code).unwrap_or(0) as u8
}

/// Reads bytes; `None` once the input is spent.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    /// The next byte.
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
}

/// A value byte (mod 8): 0 to 4 a pool value, 5 absent, 6 and 7 not given.
fn decode_given(b: u8) -> Given {
    match b % 8 {
        i @ 0..=4 => Given::Value(i),
        5 => Given::Absent,
        _ => Given::No,
    }
}

/// The canonical value byte.
fn encode_given(g: Given) -> u8 {
    match g {
        Given::Value(i) => i % POOL as u8,
        Given::Absent => 5,
        Given::No => 6,
    }
}

/// One value byte per pool field.
fn decode_values(r: &mut Reader<'_>) -> Option<Values> {
    let mut values = [Given::No; NFIELDS];
    for v in &mut values {
        *v = decode_given(r.byte()?);
    }
    Some(values)
}

/// A target byte: bits 0..4 = the index, bits 5..7 = live (0 to 4), live
/// and flag (5), gone (6), gone and flag (7).
fn decode_target(b: u8) -> (Target, bool) {
    let n = b & 0x1f;
    match b >> 5 {
        0..=4 => (Target::Live(n), false),
        5 => (Target::Live(n), true),
        6 => (Target::Gone(n), false),
        _ => (Target::Gone(n), true),
    }
}

/// The canonical target byte.
fn encode_target(t: Target, flag: bool) -> u8 {
    let (kind, n) = match (t, flag) {
        (Target::Live(n), false) => (0, n),
        (Target::Live(n), true) => (5, n),
        (Target::Gone(n), false) => (6, n),
        (Target::Gone(n), true) => (7, n),
    };
    (kind << 5) | (n & 0x1f)
}

/// A slot-and-number byte: bits 0..1 = slot (mod 3), bits 2..4 = a field
/// or index number, bit 5 = a flag.
fn decode_slot_number(b: u8) -> (u8, u8, bool) {
    ((b & 3) % 3, (b >> 2) & 7, b & 0x20 != 0)
}

/// The canonical slot-and-number byte.
fn encode_slot_number(slot: u8, number: u8, flag: bool) -> u8 {
    (slot % 3) | ((number & 7) << 2) | (u8::from(flag) << 5)
}

/// A write of kind `kind` (mod 3: insert, update, delete) and its arguments.
fn decode_write(kind: u8, r: &mut Reader<'_>) -> Option<Write> {
    Some(match kind % 3 {
        0 => {
            let b = r.byte()?;
            Write::Insert {
                slot: (b & 3) % 3,
                strict: b & 0x1c == 0x1c,
                values: decode_values(r)?,
            }
        }
        1 => {
            let (target, strict) = decode_target(r.byte()?);
            Write::Update {
                target,
                strict,
                values: decode_values(r)?,
            }
        }
        _ => Write::Delete {
            target: decode_target(r.byte()?).0,
        },
    })
}

/// The kind byte of a write in a transaction, and its argument bytes.
fn encode_write(w: &Write, out: &mut Vec<u8>) -> u8 {
    match w {
        Write::Insert {
            slot,
            strict,
            values,
        } => {
            out.push((slot % 3) | if *strict { 0x1c } else { 0 });
            out.extend(values.iter().map(|g| encode_given(*g)));
            0
        }
        Write::Update {
            target,
            strict,
            values,
        } => {
            out.push(encode_target(*target, *strict));
            out.extend(values.iter().map(|g| encode_given(*g)));
            1
        }
        Write::Delete { target } => {
            out.push(encode_target(*target, false));
            2
        }
    }
}

/// A step of a read transaction: a kind byte (mod 7: insert, update,
/// delete, get, unique lookup, page, scan) and its argument bytes. A get
/// takes a target byte; the other reads two bytes: slot (bits 0..1, mod 3),
/// index (bits 2..4), `next` of a page or `reverse` of a scan (bit 5),
/// `next` of a scan (bit 6); then probe (bits 0..4) and limit - 1 (bits
/// 5..6, mod 3).
fn decode_step(r: &mut Reader<'_>) -> Option<TxStep> {
    let kind = r.byte()? % 7;
    if kind < 3 {
        return Some(TxStep::Write(decode_write(kind, r)?));
    }
    if kind == 3 {
        return Some(TxStep::Read(Read::Get {
            target: decode_target(r.byte()?).0,
        }));
    }
    let (a, b) = (r.byte()?, r.byte()?);
    let (slot, index) = ((a & 3) % 3, (a >> 2) & 7);
    let (flag, flag2) = (a & 0x20 != 0, a & 0x40 != 0);
    let (probe, limit) = (b & 0x1f, 1 + ((b >> 5) & 3) % 3);
    Some(TxStep::Read(match kind {
        4 => Read::Unique { slot, index, probe },
        5 => Read::Page {
            slot,
            index,
            probe,
            limit,
            next: flag,
        },
        _ => Read::Scan {
            slot,
            index,
            limit,
            reverse: flag,
            next: flag2,
        },
    }))
}

/// The canonical bytes of a read transaction's step.
fn encode_step(step: &TxStep, out: &mut Vec<u8>) {
    let read = match step {
        TxStep::Write(w) => {
            let mut args = Vec::new();
            out.push(encode_write(w, &mut args));
            out.extend(args);
            return;
        }
        TxStep::Read(read) => read,
    };
    let a = |slot: u8, index: u8, flag: bool, flag2: bool| {
        (slot % 3) | ((index & 7) << 2) | (u8::from(flag) << 5) | (u8::from(flag2) << 6)
    };
    let b = |probe: u8, limit: u8| (probe & 0x1f) | ((limit.clamp(1, 3) - 1) << 5);
    match *read {
        Read::Get { target } => out.extend([3, encode_target(target, false)]),
        Read::Unique { slot, index, probe } => {
            out.extend([4, a(slot, index, false, false), b(probe, 1)])
        }
        Read::Page {
            slot,
            index,
            probe,
            limit,
            next,
        } => out.extend([5, a(slot, index, next, false), b(probe, limit)]),
        Read::Scan {
            slot,
            index,
            limit,
            reverse,
            next,
        } => out.extend([6, a(slot, index, reverse, next), b(0, limit)]),
    }
}

impl Config {
    /// Bits 0..1 chunk - 1, bit 2 chunked builds, bit 3 no unique cache,
    /// bit 4 2-bit hashes, bit 5 no class cache, bit 6 snapshots.
    fn decode(b: u8) -> Config {
        Config {
            chunk: 1 + (b & 3),
            bulk: b & 4 == 0,
            unique_cache: b & 8 == 0,
            few_hash_bits: b & 16 != 0,
            snapshots: b & 64 != 0,
            class_cache: b & 32 == 0,
        }
    }

    /// The canonical configuration byte.
    fn encode(self) -> u8 {
        (self.chunk.clamp(1, 4) - 1)
            | (u8::from(!self.bulk) << 2)
            | (u8::from(!self.unique_cache) << 3)
            | (u8::from(self.few_hash_bits) << 4)
            | (u8::from(self.snapshots) << 6)
            | (u8::from(!self.class_cache) << 5)
    }

    /// The engine's options for this configuration: no runner thread (every
    /// build runs in `check_reindex_tasks`, deterministically), a fixed hash
    /// seed, retries without backoff and never out of attempts.
    pub fn options(self) -> Options {
        let mut opts = Options::default()
            .runner_threads(0)
            .fixed_hash_seed(1, 2)
            .max_attempts(u32::MAX)
            .retry_backoff(Duration::ZERO)
            .reindex_chunk(usize::from(self.chunk))
            .lock_stripes(16)
            .unique_cache_entries(if self.unique_cache { 64 } else { 0 })
            .class_cache_entries(if self.class_cache { 64 } else { 0 });
        if !self.bulk {
            opts = opts.bulk_build_memory(0);
        }
        if self.few_hash_bits {
            opts = opts.test_hash_bits(2);
        }
        opts
    }
}

impl Program {
    /// Decodes an input: deterministic, total (every input decodes; an
    /// operation cut short by the end of the input is dropped).
    pub fn decode(data: &[u8]) -> Program {
        let mut r = Reader { data };
        let config = r.byte().map_or_else(Config::default, Config::decode);
        let mut ops = Vec::new();
        while ops.len() < MAX_OPS {
            match Program::decode_op(&mut r) {
                Some(op) => ops.push(op),
                None => break,
            }
        }
        Program { config, ops }
    }

    /// One operation: an opcode byte and its argument bytes.
    fn decode_op(r: &mut Reader<'_>) -> Option<Op> {
        let code = CODES[usize::from(r.byte()?) % CODES.len()];
        Some(match code {
            Code::CreateNamespace => Op::CreateNamespace,
            Code::DropNamespace => Op::DropNamespace,
            Code::CreateClass => {
                let slot = r.byte()? % 3;
                let mut fields = [FieldChoice {
                    present: false,
                    optional: false,
                }; NFIELDS];
                for f in &mut fields {
                    let b = r.byte()?;
                    *f = FieldChoice {
                        present: b & 1 != 0,
                        optional: b & 6 != 6,
                    };
                }
                let mut indexes = [0; NINDEXES];
                for k in &mut indexes {
                    *k = r.byte()? % 5;
                }
                Op::CreateClass {
                    slot,
                    fields,
                    indexes,
                }
            }
            Code::SetIndex => {
                let (slot, index, defer) = decode_slot_number(r.byte()?);
                Op::SetIndex {
                    slot,
                    index,
                    kind: r.byte()? % 5,
                    defer,
                }
            }
            Code::ToggleField => {
                let (slot, field, required) = decode_slot_number(r.byte()?);
                Op::ToggleField {
                    slot,
                    field: field % NFIELDS as u8,
                    optional: !required,
                    kind: r.byte()? % 5,
                }
            }
            Code::SetOptional => {
                let (slot, field, optional) = decode_slot_number(r.byte()?);
                Op::SetOptional {
                    slot,
                    field: field % NFIELDS as u8,
                    optional,
                }
            }
            Code::Insert => Op::Write(decode_write(0, r)?),
            Code::Update => Op::Write(decode_write(1, r)?),
            Code::Delete => Op::Write(decode_write(2, r)?),
            Code::Txn => {
                let n = 1 + usize::from(r.byte()?) % MAX_TXN;
                let mut writes = Vec::with_capacity(n);
                for _ in 0..n {
                    let kind = r.byte()?;
                    writes.push(decode_write(kind, r)?);
                }
                Op::Txn(writes)
            }
            Code::ReadTxn => {
                let n = 1 + usize::from(r.byte()?) % MAX_READ_TXN;
                let mut steps = Vec::with_capacity(n);
                for _ in 0..n {
                    steps.push(decode_step(r)?);
                }
                let kind = r.byte()?;
                let blind = match kind % 4 {
                    3 => None,
                    k => Some(decode_write(k, r)?),
                };
                Op::ReadTxn { steps, blind }
            }
            Code::Reopen => Op::Reopen,
            Code::Reindex => {
                let b = r.byte()?;
                let i = (b >> 2) & 15;
                Op::Reindex {
                    slot: (b & 3) % 3,
                    index: (i < NINDEXES as u8).then_some(i),
                    defer: b & 0x40 != 0,
                }
            }
            Code::Settle => Op::Settle,
            Code::Arm => Op::ArmFailure {
                writes: r.byte()? % MAX_FAIL_AFTER,
            },
        })
    }

    /// The canonical bytes of this program: `Program::decode` of them gives
    /// it back (for the seed corpus).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.config.encode()];
        for op in self.ops.iter().take(MAX_OPS) {
            match op {
                Op::CreateNamespace => out.push(code_byte(Code::CreateNamespace)),
                Op::DropNamespace => out.push(code_byte(Code::DropNamespace)),
                Op::CreateClass {
                    slot,
                    fields,
                    indexes,
                } => {
                    out.extend([code_byte(Code::CreateClass), slot % 3]);
                    out.extend(
                        fields
                            .iter()
                            .map(|f| u8::from(f.present) | if f.optional { 0 } else { 6 }),
                    );
                    out.extend(indexes.iter().map(|k| k % 5));
                }
                Op::SetIndex {
                    slot,
                    index,
                    kind,
                    defer,
                } => out.extend([
                    code_byte(Code::SetIndex),
                    encode_slot_number(*slot, *index, *defer),
                    kind % 5,
                ]),
                Op::ToggleField {
                    slot,
                    field,
                    optional,
                    kind,
                } => out.extend([
                    code_byte(Code::ToggleField),
                    encode_slot_number(*slot, field % NFIELDS as u8, !*optional),
                    kind % 5,
                ]),
                Op::SetOptional {
                    slot,
                    field,
                    optional,
                } => out.extend([
                    code_byte(Code::SetOptional),
                    encode_slot_number(*slot, field % NFIELDS as u8, *optional),
                ]),
                Op::Write(w) => {
                    let code = match w {
                        Write::Insert { .. } => Code::Insert,
                        Write::Update { .. } => Code::Update,
                        Write::Delete { .. } => Code::Delete,
                    };
                    out.push(code_byte(code));
                    encode_write(w, &mut out);
                }
                Op::Txn(writes) => {
                    let writes = &writes[..writes.len().clamp(1, MAX_TXN)];
                    out.extend([code_byte(Code::Txn), (writes.len() - 1) as u8]);
                    for w in writes {
                        let mut args = Vec::new();
                        let kind = encode_write(w, &mut args);
                        out.push(kind);
                        out.extend(args);
                    }
                }
                Op::ReadTxn { steps, blind } => {
                    let steps = &steps[..steps.len().clamp(1, MAX_READ_TXN)];
                    out.extend([code_byte(Code::ReadTxn), (steps.len() - 1) as u8]);
                    for step in steps {
                        encode_step(step, &mut out);
                    }
                    match blind {
                        None => out.push(3),
                        Some(w) => {
                            let mut args = Vec::new();
                            out.push(encode_write(w, &mut args));
                            out.extend(args);
                        }
                    }
                }
                Op::Reopen => out.push(code_byte(Code::Reopen)),
                Op::Reindex { slot, index, defer } => out.extend([
                    code_byte(Code::Reindex),
                    (slot % 3)
                        | (index.map_or(NINDEXES as u8, |i| i % NINDEXES as u8) << 2)
                        | (u8::from(*defer) << 6),
                ]),
                Op::Settle => out.push(code_byte(Code::Settle)),
                Op::ArmFailure { writes } => {
                    out.extend([code_byte(Code::Arm), writes % MAX_FAIL_AFTER])
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// The model

/// A field of a class in the model.
#[derive(Debug, Clone, PartialEq)]
struct FieldM {
    /// Index into [`FIELDS`].
    pool: usize,
    optional: bool,
}

/// An index of a class in the model.
#[derive(Debug, Clone, PartialEq)]
struct IndexM {
    /// Index into [`INDEXES`].
    idx: usize,
    kind: IndexKind,
    /// The index answers queries (no build pending).
    ready: bool,
}

/// A class in the model: its fields in declaration order, its indexes.
#[derive(Debug, Clone, PartialEq, Default)]
struct ClassM {
    fields: Vec<FieldM>,
    indexes: Vec<IndexM>,
}

impl ClassM {
    /// The field of pool index `pool`, if the class has it.
    fn field(&self, pool: usize) -> Option<&FieldM> {
        self.fields.iter().find(|f| f.pool == pool)
    }

    /// The field of pool index `pool`, mutably.
    fn field_mut(&mut self, pool: usize) -> Option<&mut FieldM> {
        self.fields.iter_mut().find(|f| f.pool == pool)
    }

    /// Index number `idx`, if the class has it.
    fn index(&self, idx: usize) -> Option<&IndexM> {
        self.indexes.iter().find(|i| i.idx == idx)
    }

    /// Whether the class has every field index `idx` reads.
    fn covers(&self, idx: usize) -> bool {
        INDEXES[idx].1.iter().all(|p| self.field(p.0).is_some())
    }

    /// The spec that declares this class in `slot`: the fields with their
    /// own indexes, then the class's other indexes.
    fn spec(&self, slot: usize) -> ClassSpec {
        let mut spec = ClassSpec::new(SLOTS[slot].1);
        for f in &self.fields {
            let mut fs = FieldSpec::new(FIELDS[f.pool], field_type(f.pool));
            if f.optional {
                fs = fs.optional();
            }
            if let Some(ix) = own_index(f.pool).and_then(|i| self.index(i)) {
                fs = fs.index(ix.kind);
            }
            spec = spec.field(fs);
        }
        for ix in self.indexes.iter().filter(|i| i.idx >= OWN_INDEXES) {
            let (name, parts) = INDEXES[ix.idx];
            spec = spec.index(IndexSpec::new(
                name,
                ix.kind,
                parts.iter().map(|p| part_path(*p)),
            ));
        }
        spec
    }
}

/// An object in the model: its class slot and its present values.
#[derive(Debug, Clone, PartialEq)]
struct Obj {
    slot: usize,
    values: BTreeMap<usize, Value>,
}

/// A tuple of values, one per part of an index.
type Tuple = Vec<Value>;

/// The values a part covers in an object's values: none when absent, every
/// element of the list field, the member of the struct field.
fn part_values(values: &BTreeMap<usize, Value>, part: Part) -> Vec<Value> {
    let Some(v) = values.get(&part.0) else {
        return Vec::new();
    };
    let v = match part.1 {
        Some(member) => match v.get(member) {
            Some(m) => m,
            None => return Vec::new(),
        },
        None => v,
    };
    match v {
        Value::Absent => Vec::new(),
        Value::List(items) if part.0 == LIST_FIELD => items.clone(),
        other => vec![other.clone()],
    }
}

/// The distinct tuples index `idx` holds for an object: the cartesian
/// product of its parts' values.
fn tuples(values: &BTreeMap<usize, Value>, idx: usize) -> BTreeSet<Tuple> {
    let mut out: BTreeSet<Tuple> = BTreeSet::from([Vec::new()]);
    for part in INDEXES[idx].1 {
        let vs = part_values(values, *part);
        out = out
            .iter()
            .flat_map(|t| {
                vs.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
    }
    out
}

/// Whether the leading values of `t` compare to the bound `b` as `ok` says.
fn cmp_leading(t: &[Value], b: &[Value]) -> std::cmp::Ordering {
    t[..b.len().min(t.len())].cmp(b)
}

/// Whether a tuple lies between two bounds on its leading values.
fn in_bounds(t: &[Value], lower: &Bound<Tuple>, upper: &Bound<Tuple>) -> bool {
    use std::cmp::Ordering::*;
    let low = match lower {
        Bound::Unbounded => true,
        Bound::Included(b) => cmp_leading(t, b) != Less,
        Bound::Excluded(b) => cmp_leading(t, b) == Greater,
    };
    let high = match upper {
        Bound::Unbounded => true,
        Bound::Included(b) => cmp_leading(t, b) != Greater,
        Bound::Excluded(b) => cmp_leading(t, b) == Less,
    };
    low && high
}

/// The expected state of the database.
#[derive(Debug, Clone, Default)]
struct Model {
    ns1: bool,
    classes: [Option<ClassM>; 3],
    objects: BTreeMap<ObjectId, Obj>,
    /// Ids that are not objects (deleted, dropped, never committed), with
    /// the slot whose namespace they were written to.
    gone: Vec<(ObjectId, usize)>,
}

/// The kind of an outcome's error, as the model predicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    UniqueViolation,
    MissingField,
    WrongType,
    UnknownObject,
    UnknownClass,
    UnknownNamespace,
    UnknownField,
    UnknownIndex,
    InvalidIndex,
    DuplicateName,
    InvalidRequest,
    RequiredOnNonEmpty,
    NotIndexed,
    IndexNotReady,
    ReindexFailed,
    Io,
    Other,
    /// Success or `UniqueViolation` (see [`Model::unique_outcome`]).
    MaybeUnique,
}

/// The kind of an engine error.
fn kind(e: &Error) -> Kind {
    match e {
        Error::UniqueViolation { .. } => Kind::UniqueViolation,
        Error::MissingField { .. } => Kind::MissingField,
        Error::WrongType { .. } => Kind::WrongType,
        Error::UnknownObject { .. } => Kind::UnknownObject,
        Error::UnknownClass { .. } => Kind::UnknownClass,
        Error::UnknownNamespace { .. } => Kind::UnknownNamespace,
        Error::UnknownField { .. } => Kind::UnknownField,
        Error::UnknownIndex { .. } => Kind::UnknownIndex,
        Error::InvalidIndex { .. } => Kind::InvalidIndex,
        Error::DuplicateName { .. } => Kind::DuplicateName,
        Error::InvalidRequest(_) => Kind::InvalidRequest,
        Error::RequiredFieldOnNonEmptyClass { .. } => Kind::RequiredOnNonEmpty,
        Error::NotIndexed { .. } => Kind::NotIndexed,
        Error::IndexNotReady { .. } => Kind::IndexNotReady,
        Error::ReindexFailed { .. } => Kind::ReindexFailed,
        Error::Io { .. } => Kind::Io,
        _ => Kind::Other,
    }
}

/// An expected outcome: success or the kind of error.
type Want = Result<(), Kind>;

/// A value a write gives: the pool field, the value, and whether it is of
/// the field's type.
type Give = (usize, Value, bool);

impl Model {
    /// Whether the namespace of `slot` exists.
    fn ns_exists(&self, slot: usize) -> bool {
        slot < 2 || self.ns1
    }

    /// The class of a slot, or the error an operation on it meets.
    fn class(&self, slot: usize) -> Result<&ClassM, Kind> {
        if !self.ns_exists(slot) {
            return Err(Kind::UnknownNamespace);
        }
        self.classes[slot].as_ref().ok_or(Kind::UnknownClass)
    }

    /// Whether the class of `slot` has objects (some DDL is refused then,
    /// and a new index must be built).
    fn has_objects(&self, slot: usize) -> bool {
        self.objects.values().any(|o| o.slot == slot)
    }

    /// The objects of `slot` holding `tuple` in index `idx`, by id.
    fn holders(&self, slot: usize, idx: usize, tuple: &Tuple) -> Vec<ObjectId> {
        self.objects
            .iter()
            .filter(|(_, o)| o.slot == slot && tuples(&o.values, idx).contains(tuple))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every entry of index `idx` of `slot`: (tuple, object), sorted.
    fn entries(&self, slot: usize, idx: usize) -> Vec<(Tuple, ObjectId)> {
        let mut out: Vec<(Tuple, ObjectId)> = self
            .objects
            .iter()
            .filter(|(_, o)| o.slot == slot)
            .flat_map(|(id, o)| tuples(&o.values, idx).into_iter().map(|t| (t, *id)))
            .collect();
        out.sort();
        out
    }

    /// Whether two objects of `slot` hold the same tuple in index `idx`.
    fn has_duplicates(&self, slot: usize, idx: usize) -> bool {
        let entries = self.entries(slot, idx);
        entries.windows(2).any(|w| w[0].0 == w[1].0)
    }

    /// The uniqueness outcome of a batch whose final state is `self` and
    /// which wrote the objects `touched`. A tuple held twice under a ready
    /// unique index is refused. Under a unique index still being built the
    /// engine checks the holders indexed so far (those written since the
    /// build was requested): a batch writing a tuple that another object
    /// holds may be refused or not (a second holder it accepts must not be
    /// in the index, which `verify` checks, and fails the build); a batch
    /// writing no such tuple is accepted.
    fn unique_outcome(&self, touched: &[ObjectId]) -> Want {
        let mut maybe = false;
        for slot in (0..3).filter(|s| self.ns_exists(*s)) {
            let Some(c) = &self.classes[slot] else {
                continue;
            };
            for ix in c.indexes.iter().filter(|i| i.kind.is_unique()) {
                if !self.has_duplicates(slot, ix.idx) {
                    continue;
                }
                if ix.ready {
                    return Err(Kind::UniqueViolation);
                }
                maybe |= touched.iter().any(|id| {
                    self.objects
                        .get(id)
                        .filter(|o| o.slot == slot)
                        .is_some_and(|o| {
                            tuples(&o.values, ix.idx)
                                .iter()
                                .any(|t| self.holders(slot, ix.idx, t).len() > 1)
                        })
                });
            }
        }
        if maybe {
            Err(Kind::MaybeUnique)
        } else {
            Ok(())
        }
    }

    /// The fields a write gives, in pool order: unless `strict`, only those
    /// the class has.
    fn given(&self, slot: usize, strict: bool, values: &Values) -> Vec<Give> {
        let class = self.classes[slot].as_ref().filter(|_| self.ns_exists(slot));
        values
            .iter()
            .enumerate()
            .filter(|(pool, _)| strict || class.is_some_and(|c| c.field(*pool).is_some()))
            .filter_map(|(pool, g)| match g {
                Given::Value(i) => {
                    let i = usize::from(*i);
                    Some((pool, pool_value(pool, i), pool_valid(pool, i)))
                }
                Given::Absent => Some((pool, Value::Absent, true)),
                Given::No => None,
            })
            .collect()
    }

    /// The object a target names, with its slot.
    fn resolve(&self, target: Target) -> Option<(ObjectId, usize)> {
        match target {
            Target::Live(n) => {
                let len = self.objects.len();
                let (id, o) = self.objects.iter().nth(usize::from(n) % len.max(1))?;
                Some((*id, o.slot))
            }
            Target::Gone(n) => {
                let len = self.gone.len();
                self.gone.get(usize::from(n) % len.max(1)).copied()
            }
        }
    }

    /// Sets `given` on `values` as the engine does: an unknown field fails
    /// first (every name is looked up before any value is checked); then,
    /// field by field, an absent value of a required one or a value not of
    /// the field's type; then every required field must have a value.
    fn set_fields(class: &ClassM, values: &mut BTreeMap<usize, Value>, given: &[Give]) -> Want {
        if given
            .iter()
            .any(|(pool, _, _)| class.field(*pool).is_none())
        {
            return Err(Kind::UnknownField);
        }
        for (pool, v, valid) in given {
            let f = class.field(*pool).ok_or(Kind::UnknownField)?;
            if *v == Value::Absent {
                if !f.optional {
                    return Err(Kind::MissingField);
                }
                values.remove(pool);
            } else if !valid {
                return Err(Kind::WrongType);
            } else {
                // Stored as the engine stores it: a struct member given as
                // absent is the member missing.
                let v = match v {
                    Value::Map(entries) if *pool == STRUCT_FIELD => Value::Map(
                        entries
                            .iter()
                            .filter(|(_, m)| *m != Value::Absent)
                            .cloned()
                            .collect(),
                    ),
                    other => other.clone(),
                };
                values.insert(*pool, v);
            }
        }
        match class
            .fields
            .iter()
            .any(|f| !f.optional && !values.contains_key(&f.pool))
        {
            true => Err(Kind::MissingField),
            false => Ok(()),
        }
    }

    /// Applies an insert of `id` (validation only; uniqueness is checked
    /// on the whole batch).
    fn stage_insert(&mut self, slot: usize, id: ObjectId, given: &[Give]) -> Want {
        let class = self.class(slot)?;
        let mut values = BTreeMap::new();
        Model::set_fields(class, &mut values, given)?;
        self.objects.insert(id, Obj { slot, values });
        Ok(())
    }

    /// Applies a partial update (validation only, as `stage_insert`).
    fn stage_update(&mut self, id: ObjectId, slot: usize, given: &[Give]) -> Want {
        if !self.ns_exists(slot) {
            return Err(Kind::UnknownNamespace);
        }
        let Some(obj) = self.objects.get(&id) else {
            return Err(Kind::UnknownObject);
        };
        let class = self.class(obj.slot).map_err(|_| Kind::Other)?;
        let mut values = obj.values.clone();
        Model::set_fields(class, &mut values, given)?;
        if let Some(obj) = self.objects.get_mut(&id) {
            obj.values = values;
        }
        Ok(())
    }

    /// An object's fields as `get` returns them: in class order, present ones.
    fn fields_of(&self, o: &Obj) -> Vec<(String, Value)> {
        self.classes[o.slot]
            .iter()
            .flat_map(|c| &c.fields)
            .filter_map(|f| {
                o.values
                    .get(&f.pool)
                    .map(|v| (FIELDS[f.pool].to_string(), v.clone()))
            })
            .collect()
    }

    /// Applies a delete.
    fn stage_delete(&mut self, id: ObjectId, slot: usize) -> Want {
        if !self.ns_exists(slot) {
            return Err(Kind::UnknownNamespace);
        }
        match self.objects.remove(&id) {
            Some(_) => {
                self.gone.push((id, slot));
                Ok(())
            }
            None => Err(Kind::UnknownObject),
        }
    }

    /// The tuples to look up in index `idx` of `slot`: every tuple an
    /// object holds, and one made of each part's third probe.
    fn probes(&self, slot: usize, idx: usize) -> BTreeSet<Tuple> {
        let mut probes: BTreeSet<Tuple> = self
            .entries(slot, idx)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        probes.insert(
            INDEXES[idx]
                .1
                .iter()
                .map(|p| part_probes(*p)[2].clone())
                .collect(),
        );
        probes
    }
}

// ---------------------------------------------------------------------------
// Read transactions: reads, their answers, the staged state

/// A transactional read resolved to its arguments, as it ran: replayed as
/// is at the commit point.
#[derive(Debug, Clone)]
enum Call {
    /// `tx.get` in the namespace of `slot`.
    Get { id: ObjectId, slot: usize },
    /// `tx.find_unique` of `tuple`.
    Unique {
        slot: usize,
        idx: usize,
        tuple: Tuple,
    },
    /// `tx.find_page(first(limit))` of `tuple`, after the holder `after`.
    Page {
        slot: usize,
        idx: usize,
        tuple: Tuple,
        limit: usize,
        after: Option<ObjectId>,
    },
    /// `tx.scan(all().limit(limit))`, after the key `after` (a tuple, and
    /// the id unless the index is unique: a unique entry's key has none).
    Scan {
        slot: usize,
        idx: usize,
        limit: usize,
        reverse: bool,
        after: Option<(Tuple, Option<ObjectId>)>,
    },
}

/// What a read answered (a page: with whether it had a cursor).
#[derive(Debug, Clone)]
enum Answer {
    /// An object: its class and fields.
    Object(Option<(String, Vec<(String, Value)>)>),
    Holder(Option<ObjectId>),
    Ids(Vec<ObjectId>, bool),
    Hits(Vec<(Value, ObjectId)>, bool),
}

/// A read's answer or the kind of its error.
type Answered = Result<Answer, Kind>;

/// Whether two answers are the same (fields as [`same_fields`]).
fn same_answer(a: &Answered, b: &Answered) -> bool {
    match (a, b) {
        (Ok(Answer::Object(x)), Ok(Answer::Object(y))) => match (x, y) {
            (Some((cx, fx)), Some((cy, fy))) => cx == cy && same_fields(fx, fy),
            (None, None) => true,
            _ => false,
        },
        (Ok(Answer::Holder(x)), Ok(Answer::Holder(y))) => x == y,
        (Ok(Answer::Ids(x, cx)), Ok(Answer::Ids(y, cy))) => x == y && cx == cy,
        (Ok(Answer::Hits(x, cx)), Ok(Answer::Hits(y, cy))) => x == y && cx == cy,
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

/// A read a transaction made: after how many of its writes, the call, and
/// what it answered.
struct ReadRec {
    pos: usize,
    call: Call,
    seen: Answered,
}

/// What a single write was and did: the object it changed, or the kind of
/// its error.
struct Blind {
    resolved: Resolved,
    outcome: Result<ObjectId, Kind>,
}

/// A transaction's writes staged over a model, as its reads see them.
struct Staging {
    model: Model,
    /// The first write refused: staging stops there, so every later read
    /// fails with it (and so does the commit).
    first_error: Option<Kind>,
    /// An update or delete in a namespace that does not exist (the commit
    /// resolves every namespace before anything else).
    unknown_ns: bool,
    /// The objects written (inserted, updated or deleted).
    written: Vec<ObjectId>,
}

impl Staging {
    fn new(model: Model) -> Staging {
        Staging {
            model,
            first_error: None,
            unknown_ns: false,
            written: Vec::new(),
        }
    }

    /// Stages one write (`id`: an insert's).
    fn write(&mut self, r: &Resolved, id: Option<ObjectId>) {
        let m = &mut self.model;
        let staged = match r {
            Resolved::Insert { slot, given } => match id {
                Some(id) => {
                    self.written.push(id);
                    m.stage_insert(*slot, id, given)
                }
                None => Err(Kind::Other),
            },
            Resolved::Update { id, slot, given } => {
                self.unknown_ns |= !m.ns_exists(*slot);
                self.written.push(*id);
                m.stage_update(*id, *slot, given)
            }
            Resolved::Delete { id, slot } => {
                self.unknown_ns |= !m.ns_exists(*slot);
                self.written.push(*id);
                m.stage_delete(*id, *slot)
            }
        };
        // A refused write changes nothing (staging is all or nothing).
        if let Err(k) = staged {
            self.first_error.get_or_insert(k);
        }
    }

    /// The commit's outcome, as `Run::txn` predicts it.
    fn want(&self) -> Want {
        if self.unknown_ns {
            Err(Kind::UnknownNamespace)
        } else if let Some(k) = self.first_error {
            Err(k)
        } else {
            self.model.unique_outcome(&self.written)
        }
    }

    /// A read's answer over the staged state.
    fn answer(&self, call: &Call) -> Answered {
        match self.first_error {
            Some(k) => Err(k),
            None => self.model.answer(call),
        }
    }
}

/// The staged state of `writes` over `base`, and the answers of `reads`
/// replayed over it, each after the writes it followed.
fn replay(
    base: &Model,
    writes: &[(Resolved, Option<ObjectId>)],
    reads: &[ReadRec],
) -> (Staging, Vec<Answered>) {
    let mut st = Staging::new(base.clone());
    let mut answers = Vec::with_capacity(reads.len());
    let mut reads = reads.iter().peekable();
    for k in 0..=writes.len() {
        while let Some(r) = reads.next_if(|r| r.pos <= k) {
            answers.push(st.answer(&r.call));
        }
        if let Some((w, id)) = writes.get(k) {
            st.write(w, *id);
        }
    }
    (st, answers)
}

/// Whether a committed transaction whose reads changed at its commit point
/// is still serializable with the blind write after it: the transaction
/// succeeds on `before` (its reads were checked there), the blind write
/// has the same outcome after it, and the final state is the engine's
/// (`after`: the transaction's writes over the blind write's). The engine
/// validates the records it read, not those it only wrote (a staged update
/// is computed from the snapshot's record, e.g. a compound index entry
/// keeping an old value of the part it did not set).
fn reordered(
    before: &Model,
    writes: &[(Resolved, Option<ObjectId>)],
    blind: &Blind,
    after: &Model,
) -> bool {
    let (st, _) = replay(before, writes, &[]);
    if !matches!(st.want(), Ok(()) | Err(Kind::MaybeUnique)) {
        return false;
    }
    let mut m = st.model;
    let want = match &blind.resolved {
        Resolved::Insert { slot, given } => match blind.outcome {
            Ok(id) => m
                .stage_insert(*slot, id, given)
                .and_then(|()| m.unique_outcome(&[id])),
            Err(_) => return false,
        },
        Resolved::Update { id, slot, given } => m
            .stage_update(*id, *slot, given)
            .and_then(|()| m.unique_outcome(&[*id])),
        Resolved::Delete { id, slot } => m.stage_delete(*id, *slot),
    };
    let same_outcome = match (&blind.outcome, want) {
        (Ok(_), Ok(()) | Err(Kind::MaybeUnique)) => true,
        (Err(k), Err(Kind::MaybeUnique)) => *k == Kind::UniqueViolation,
        (Err(k), Err(w)) => *k == w,
        _ => false,
    };
    same_outcome && m.objects == after.objects
}

/// Counters of the read transactions run in this process (see
/// [`read_txn_stats`]).
struct Stats {
    read_txns: AtomicU64,
    reads: AtomicU64,
    committed: AtomicU64,
    conflicts: AtomicU64,
    false_conflicts: AtomicU64,
    reordered: AtomicU64,
}

static STATS: Stats = Stats {
    read_txns: AtomicU64::new(0),
    reads: AtomicU64::new(0),
    committed: AtomicU64::new(0),
    conflicts: AtomicU64::new(0),
    false_conflicts: AtomicU64::new(0),
    reordered: AtomicU64::new(0),
};

/// What the read transactions of this process came to: how many ran
/// ([`Op::ReadTxn`] commits reached), their checked reads, commits that
/// succeeded, conflicts, conflicts where no read's answer and no object
/// the transaction read or wrote had changed (allowed: false conflicts),
/// and successes whose reads changed only through an object the
/// transaction wrote, serialized before the blind write.
pub fn read_txn_stats() -> String {
    let n = |c: &AtomicU64| c.load(Relaxed);
    format!(
        "read transactions {}, reads {}, committed {}, conflicts {} (false {}), serialized before the blind write {}",
        n(&STATS.read_txns),
        n(&STATS.reads),
        n(&STATS.committed),
        n(&STATS.conflicts),
        n(&STATS.false_conflicts),
        n(&STATS.reordered)
    )
}

impl Model {
    /// The `index`-th (modulo) ready index of `slot` whose kind passes
    /// `fits`, by index number.
    fn fitting(
        &self,
        slot: u8,
        index: u8,
        fits: impl Fn(IndexKind) -> bool,
    ) -> Option<(usize, usize)> {
        let slot = usize::from(slot) % 3;
        let class = self.class(slot).ok()?;
        let mut ok: Vec<usize> = class
            .indexes
            .iter()
            .filter(|i| i.ready && fits(i.kind))
            .map(|i| i.idx)
            .collect();
        ok.sort_unstable();
        let idx = *ok.get(usize::from(index) % ok.len().max(1))?;
        Some((slot, idx))
    }

    /// The `probe`-th (modulo) of the tuples to look up in an index.
    fn probe(&self, slot: usize, idx: usize, probe: u8) -> Tuple {
        let probes: Vec<Tuple> = self.probes(slot, idx).into_iter().collect();
        probes[usize::from(probe) % probes.len()].clone()
    }

    /// A read's answer over this state, as a transaction's read sees its
    /// staged state: a unique value held twice fails its lookup (and an
    /// ordered scan that reaches it) with `UniqueViolation`.
    fn answer(&self, call: &Call) -> Answered {
        match call {
            Call::Get { id, slot } => {
                if !self.ns_exists(*slot) {
                    return Err(Kind::UnknownNamespace);
                }
                Ok(Answer::Object(
                    self.objects
                        .get(id)
                        .map(|o| (SLOTS[o.slot].1.to_string(), self.fields_of(o))),
                ))
            }
            Call::Unique { slot, idx, tuple } => match self.holders(*slot, *idx, tuple)[..] {
                [_, _, ..] => Err(Kind::UniqueViolation),
                ref one => Ok(Answer::Holder(one.first().copied())),
            },
            Call::Page {
                slot,
                idx,
                tuple,
                limit,
                after,
            } => {
                let ids: Vec<ObjectId> = self
                    .holders(*slot, *idx, tuple)
                    .into_iter()
                    .filter(|id| after.is_none_or(|a| *id > a))
                    .take(*limit)
                    .collect();
                let full = ids.len() == *limit;
                Ok(Answer::Ids(ids, full))
            }
            Call::Scan {
                slot,
                idx,
                limit,
                reverse,
                after,
            } => {
                let unique = self.classes[*slot]
                    .as_ref()
                    .and_then(|c| c.index(*idx))
                    .is_some_and(|i| i.kind.is_unique());
                // The keys in order: a unique index's with every holder.
                let mut keys: Vec<(Tuple, Vec<ObjectId>)> = Vec::new();
                for (t, id) in self.entries(*slot, *idx) {
                    match keys.last_mut() {
                        Some((last, ids)) if unique && *last == t => ids.push(id),
                        _ => keys.push((t, vec![id])),
                    }
                }
                if *reverse {
                    keys.reverse();
                }
                let n = INDEXES[*idx].1.len();
                let mut hits = Vec::new();
                for (t, ids) in keys {
                    if let Some((at, at_id)) = after {
                        use std::cmp::Ordering::*;
                        let ord = t.cmp(at).then_with(|| match at_id {
                            Some(a) => ids[0].cmp(a),
                            None => Equal,
                        });
                        if ord != if *reverse { Less } else { Greater } {
                            continue;
                        }
                    }
                    if ids.len() > 1 {
                        return Err(Kind::UniqueViolation);
                    }
                    hits.push((query(n, &t), ids[0]));
                    if hits.len() == *limit {
                        return Ok(Answer::Hits(hits, true));
                    }
                }
                Ok(Answer::Hits(hits, false))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The run

/// An engine call's result, and whether it met an injected failure.
struct Called<T> {
    result: Result<T, Error>,
    injected: bool,
}

/// A write resolved against the model: what to send to the engine.
#[derive(Debug, Clone)]
enum Resolved {
    Insert {
        slot: usize,
        given: Vec<Give>,
    },
    Update {
        id: ObjectId,
        slot: usize,
        given: Vec<Give>,
    },
    Delete {
        id: ObjectId,
        slot: usize,
    },
}

/// Pool-indexed values as the engine takes them, by field name.
fn named(given: &[Give]) -> Vec<(String, Value)> {
    given
        .iter()
        .map(|(pool, v, _)| (FIELDS[*pool].to_string(), v.clone()))
        .collect()
}

/// Equal values, and for floats the same bits (a stored `-0.0` stays
/// `-0.0`) or both NaN, at every depth.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same_value(a, b))
        }
        (Value::Variant(x), Value::Variant(y)) => x.0 == y.0 && same_value(&x.1, &y.1),
        _ => a == b,
    }
}

/// The same fields in the same order, with the same values (see [`same_value`]).
fn same_fields(got: &[(String, Value)], want: &[(String, Value)]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|((n, v), (wn, wv))| n == wn && same_value(v, wv))
}

/// One run of a program: the store, the open database (none between a
/// failed open and the recovery), the model and the bookkeeping of checks.
struct Run {
    store: FaultyStore,
    opts: Options,
    db: Option<Db>,
    model: Model,
    /// The last object id handed out: every new one is above it.
    last_id: Option<ObjectId>,
    /// The current step met an injected failure.
    injected: bool,
    /// The class slots the current step may have changed: `check` reads
    /// those (every write still runs `verify` over everything).
    touched: [bool; 3],
    /// A `check_reindex_tasks` met an injected failure since the last one
    /// that ran through: a build the model has pending may be done.
    maybe_built: bool,
    /// The program and the index of the current step, for failure messages.
    program: Program,
    step: usize,
    /// Every engine call and its outcome, when `ENGINE_MODEL_TRACE` is set
    /// (costly, so off while fuzzing).
    trace: Option<String>,
}

impl Run {
    /// Panics with `msg`, the steps so far, the trace and the model.
    fn fail(&self, msg: impl std::fmt::Display) -> ! {
        let mut steps = format!("{:?}\n", self.program.config);
        for (i, op) in self.program.ops.iter().enumerate().take(self.step + 1) {
            let _ = writeln!(steps, "{i}: {op:?}");
        }
        let calls = self.trace.as_deref().unwrap_or(
            "(set ENGINE_MODEL_TRACE=1 and replay the input for every call and its outcome)\n",
        );
        panic!(
            "engine_model: step {}: {msg}\n-- steps so far --\n{steps}-- calls --\n{calls}-- model --\n{:#?}",
            self.step, self.model
        )
    }

    /// Adds a line to the trace, when tracing.
    fn note(&mut self, line: impl std::fmt::Display) {
        if let Some(trace) = &mut self.trace {
            let _ = writeln!(trace, "{line}");
        }
    }

    /// A handle of the open database (dropped before any reopen).
    fn db(&self) -> Db {
        match &self.db {
            Some(db) => db.clone(),
            None => self.fail("no database open"),
        }
    }

    /// Runs an engine call, noting whether it met an injected failure (an
    /// error then must be `Io`).
    fn call<T>(&mut self, what: &str, f: impl FnOnce() -> Result<T, Error>) -> Called<T> {
        let before = self.store.injected_failures();
        let result = f();
        let injected = self.store.injected_failures() > before;
        match &result {
            Ok(_) => self.note(format_args!(
                "  {what}: ok{}",
                if injected {
                    " (injected failure absorbed)"
                } else {
                    ""
                }
            )),
            Err(e) => self.note(format_args!("  {what}: {e}")),
        }
        if injected {
            self.injected = true;
            if let Err(e) = &result {
                if kind(e) != Kind::Io {
                    self.fail(format_args!(
                        "{what}: an injected failure surfaced as {e:?}"
                    ));
                }
            }
        }
        Called { result, injected }
    }

    /// Judges a call against the model's prediction; `Some` when it
    /// succeeded (the model then applies it). After an injected failure the
    /// call must have failed or succeeded as predicted.
    fn judge<T>(&self, what: &str, called: Called<T>, want: Want) -> Option<T> {
        match (called.result, want) {
            (Ok(v), Ok(()) | Err(Kind::MaybeUnique)) => Some(v),
            (Err(e), Err(Kind::MaybeUnique)) if kind(&e) == Kind::UniqueViolation => None,
            (Err(_), _) if called.injected => None,
            (Err(e), Err(k)) if kind(&e) == k => None,
            (Ok(_), Err(k)) => {
                self.fail(format_args!("{what}: succeeded, the model expects {k:?}"))
            }
            (Err(e), want) => self.fail(format_args!(
                "{what}: failed with {e:?}, the model expects {want:?}"
            )),
        }
    }

    /// `open_faulty`: fails only by an injected failure.
    fn open(&mut self) {
        let before = self.store.injected_failures();
        match Db::open_faulty(&self.store, self.opts.clone()) {
            Ok(db) => {
                self.note("  open: ok");
                self.db = Some(db);
            }
            Err(e) => {
                self.note(format_args!("  open: {e}"));
                if self.store.injected_failures() == before || kind(&e) != Kind::Io {
                    self.fail(format_args!("open failed: {e:?}"));
                }
                self.injected = true;
            }
        }
    }

    /// `close` (must succeed) and `open`.
    fn reopen(&mut self) {
        if let Some(db) = self.db.take() {
            if let Err(e) = db.close() {
                self.fail(format_args!("close failed: {e:?}"));
            }
        }
        self.open();
    }

    /// Checks that a new id is above every id handed out before.
    fn new_id(&mut self, id: ObjectId) {
        if let Some(last) = self.last_id {
            if id <= last {
                self.fail(format_args!("new id {id} is not above {last}"));
            }
        }
        self.last_id = Some(id);
    }

    // ---- operations ----

    /// Runs one operation against the engine and the model.
    fn run_op(&mut self, op: &Op) {
        match op {
            Op::CreateNamespace | Op::DropNamespace => self.touched[2] = true,
            Op::CreateClass { slot, .. }
            | Op::SetIndex { slot, .. }
            | Op::ToggleField { slot, .. }
            | Op::SetOptional { slot, .. }
            | Op::Reindex { slot, .. } => self.touched[usize::from(*slot)] = true,
            // A build may be finished in any class; writes touch their objects'.
            Op::Settle | Op::Reopen => self.touched = [true; 3],
            Op::Write(_) | Op::Txn(_) | Op::ReadTxn { .. } | Op::ArmFailure { .. } => {}
        }
        match op {
            Op::CreateNamespace => {
                let want = if self.model.ns1 {
                    Err(Kind::DuplicateName)
                } else {
                    Ok(())
                };
                let db = self.db();
                let c = self.call("create_namespace", || db.create_namespace("ns1"));
                if self.judge("create_namespace", c, want).is_some() {
                    self.model.ns1 = true;
                }
            }
            Op::DropNamespace => {
                let want = if self.model.ns1 {
                    Ok(())
                } else {
                    Err(Kind::UnknownNamespace)
                };
                let db = self.db();
                let c = self.call("drop_namespace", || db.drop_namespace("ns1"));
                if self.judge("drop_namespace", c, want).is_some() {
                    let m = &mut self.model;
                    m.ns1 = false;
                    m.classes[2] = None;
                    let dropped: Vec<ObjectId> = m
                        .objects
                        .iter()
                        .filter(|(_, o)| o.slot == 2)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in dropped {
                        m.objects.remove(&id);
                        m.gone.push((id, 2));
                    }
                }
            }
            Op::CreateClass {
                slot,
                fields,
                indexes,
            } => {
                let slot = usize::from(*slot);
                let want = match self.model.class(slot) {
                    Ok(_) => Err(Kind::DuplicateName),
                    Err(Kind::UnknownClass) => Ok(()),
                    Err(k) => Err(k),
                };
                let mut class = ClassM {
                    fields: fields
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| f.present)
                        .map(|(pool, f)| FieldM {
                            pool,
                            optional: f.optional,
                        })
                        .collect(),
                    indexes: Vec::new(),
                };
                // Only the indexes whose fields the class has.
                for (idx, k) in indexes.iter().enumerate() {
                    if let Some(kind) = KINDS[usize::from(*k) % 5].filter(|_| class.covers(idx)) {
                        class.indexes.push(IndexM {
                            idx,
                            kind,
                            ready: true,
                        });
                    }
                }
                let spec = class.spec(slot);
                let db = self.db();
                let c = self.call("create_class", || db.create_class(SLOTS[slot].0, &spec));
                if self.judge("create_class", c, want).is_some() {
                    self.model.classes[slot] = Some(class);
                }
            }
            Op::SetIndex {
                slot,
                index,
                kind,
                defer,
            } => {
                let (slot, idx) = (usize::from(*slot), usize::from(*index) % NINDEXES);
                let kind = KINDS[usize::from(*kind) % 5];
                let has_objects = self.model.has_objects(slot);
                let mut want = self.model.class(slot).map(drop);
                let mut class = self.model.classes[slot].clone().unwrap_or_default();
                let mut build = false;
                let current = class.index(idx).map(|i| i.kind);
                if class.covers(idx) {
                    if current != kind {
                        class.indexes.retain(|i| i.idx != idx);
                        if let Some(kind) = kind {
                            // A changed kind is a new index: built anew.
                            class.indexes.push(IndexM {
                                idx,
                                kind,
                                ready: !has_objects,
                            });
                            build = has_objects && !defer;
                        }
                    }
                } else if let Some(kind) = kind.filter(|_| idx >= OWN_INDEXES) {
                    // An index over a field the class lacks: refused.
                    want = want.and(Err(Kind::InvalidIndex));
                    class.indexes.push(IndexM {
                        idx,
                        kind,
                        ready: true,
                    });
                }
                if self.update_class(slot, class, want, None) && build {
                    self.settle();
                }
            }
            Op::ToggleField {
                slot,
                field,
                optional,
                kind,
            } => {
                let (slot, pool) = (usize::from(*slot), usize::from(*field) % NFIELDS);
                let has_objects = self.model.has_objects(slot);
                let mut want = self.model.class(slot).map(drop);
                let mut class = self.model.classes[slot].clone().unwrap_or_default();
                let mut removed = None;
                if class.field(pool).is_some() {
                    class.fields.retain(|f| f.pool != pool);
                    // Every index that reads it goes with it.
                    class
                        .indexes
                        .retain(|i| INDEXES[i.idx].1.iter().all(|p| p.0 != pool));
                    removed = Some(pool);
                } else {
                    if !optional && has_objects {
                        want = want.and(Err(Kind::RequiredOnNonEmpty));
                    }
                    class.fields.push(FieldM {
                        pool,
                        optional: *optional,
                    });
                    if let (Some(idx), Some(kind)) =
                        (own_index(pool), KINDS[usize::from(*kind) % 5])
                    {
                        // No object holds the new field: its index is
                        // complete at once, with no build.
                        class.indexes.push(IndexM {
                            idx,
                            kind,
                            ready: true,
                        });
                    }
                }
                self.update_class(slot, class, want, removed);
            }
            Op::SetOptional {
                slot,
                field,
                optional,
            } => {
                let (slot, pool) = (usize::from(*slot), usize::from(*field) % NFIELDS);
                let has_objects = self.model.has_objects(slot);
                let mut want = self.model.class(slot).map(drop);
                let mut class = self.model.classes[slot].clone().unwrap_or_default();
                if let Some(f) = class.field_mut(pool) {
                    if f.optional && !optional && has_objects {
                        want = want.and(Err(Kind::RequiredOnNonEmpty));
                    }
                    f.optional = *optional;
                }
                self.update_class(slot, class, want, None);
            }
            Op::Write(w) => {
                self.single_write(w);
            }
            Op::ReadTxn { steps, blind } => self.read_txn(steps, blind.as_ref()),
            Op::Txn(writes) => self.txn(writes),
            Op::Reopen => self.reopen(),
            Op::Reindex { slot, index, defer } => {
                self.reindex(usize::from(*slot), index.map(usize::from), *defer)
            }
            Op::Settle => self.settle(),
            Op::ArmFailure { writes } => {
                self.store.fail_after(u64::from(*writes));
            }
        }
    }

    /// `replace_class` of `slot` to `class`, expecting `want`; on success
    /// the model takes `class`, and the objects lose their values of the
    /// field `removed`. Whether it succeeded.
    fn update_class(
        &mut self,
        slot: usize,
        class: ClassM,
        want: Want,
        removed: Option<usize>,
    ) -> bool {
        let spec = class.spec(slot);
        let db = self.db();
        // The whole spec, removals included (`update_class` refuses those).
        let c = self.call("replace_class", || db.replace_class(SLOTS[slot].0, &spec));
        if self.judge("replace_class", c, want).is_none() {
            return false;
        }
        self.model.classes[slot] = Some(class);
        if let Some(pool) = removed {
            for o in self.model.objects.values_mut().filter(|o| o.slot == slot) {
                o.values.remove(&pool);
            }
        }
        true
    }

    /// Marks the class of a write's object as touched.
    fn touch(&mut self, r: &Resolved) {
        let slot = match r {
            Resolved::Insert { slot, .. }
            | Resolved::Update { slot, .. }
            | Resolved::Delete { slot, .. } => *slot,
        };
        self.touched[slot] = true;
    }

    /// A write resolved against `model` (`None`: skipped).
    fn resolve(model: &Model, w: &Write) -> Option<Resolved> {
        Some(match w {
            Write::Insert {
                slot,
                strict,
                values,
            } => {
                if model.objects.len() >= MAX_OBJECTS {
                    return None;
                }
                let slot = usize::from(*slot);
                Resolved::Insert {
                    slot,
                    given: model.given(slot, *strict, values),
                }
            }
            Write::Update {
                target,
                strict,
                values,
            } => {
                let (id, slot) = model.resolve(*target)?;
                let class_slot = model.objects.get(&id).map_or(slot, |o| o.slot);
                Resolved::Update {
                    id,
                    slot,
                    given: model.given(class_slot, *strict, values),
                }
            }
            Write::Delete { target } => {
                let (id, slot) = model.resolve(*target)?;
                Resolved::Delete { id, slot }
            }
        })
    }

    /// One write by `Db::insert`, `Db::update` or `Db::delete`; what it
    /// was and did (`None`: skipped).
    fn single_write(&mut self, w: &Write) -> Option<Blind> {
        let Some(r) = Run::resolve(&self.model, w) else {
            self.note("  skipped");
            return None;
        };
        self.touch(&r);
        let db = self.db();
        let resolved = r.clone();
        let outcome = match r {
            Resolved::Insert { slot, given } => {
                let mut next = self.model.clone();
                let placeholder = ObjectId(u64::MAX);
                let want = next
                    .stage_insert(slot, placeholder, &given)
                    .and_then(|()| next.unique_outcome(&[placeholder]));
                let (ns, class) = SLOTS[slot];
                let fields = named(&given);
                let c = self.call("insert", || db.insert(ns, class, fields));
                let got = c.result.as_ref().copied().map_err(kind);
                if let Some(id) = self.judge("insert", c, want) {
                    self.new_id(id);
                    if let Err(k) = self.model.stage_insert(slot, id, &given) {
                        self.fail(format_args!("insert of {id}: the model refuses it ({k:?})"));
                    }
                }
                got
            }
            Resolved::Update { id, slot, given } => {
                let mut next = self.model.clone();
                let want = next
                    .stage_update(id, slot, &given)
                    .and_then(|()| next.unique_outcome(&[id]));
                let fields = named(&given);
                let c = self.call("update", || db.update(SLOTS[slot].0, id, fields));
                let got = c.result.as_ref().map(|_| id).map_err(kind);
                if self.judge("update", c, want).is_some() {
                    self.model = next;
                }
                got
            }
            Resolved::Delete { id, slot } => {
                let mut next = self.model.clone();
                let want = next.stage_delete(id, slot);
                let c = self.call("delete", || db.delete(SLOTS[slot].0, id));
                let got = c.result.as_ref().map(|_| id).map_err(kind);
                if self.judge("delete", c, want).is_some() {
                    self.model = next;
                }
                got
            }
        };
        Some(Blind { resolved, outcome })
    }

    /// Writes in one transaction: refused as a whole by the first error,
    /// in the order the commit finds them.
    fn txn(&mut self, writes: &[Write]) {
        let db = self.db();
        let mut tx = db.transaction();
        let mut next = self.model.clone();
        let mut first_error: Option<Kind> = None;
        // The commit resolves the namespace of every update and delete
        // before it applies any operation.
        let mut unknown_ns = false;
        let mut allocated = Vec::new();
        let mut written = Vec::new();
        for w in writes {
            let Some(r) = Run::resolve(&next, w) else {
                self.note("  (write skipped)");
                continue;
            };
            self.touch(&r);
            let staged = match r {
                Resolved::Insert { slot, given } => {
                    let (ns, class) = SLOTS[slot];
                    let fields = named(&given);
                    let c = self.call("tx.insert", || tx.insert(ns, class, fields));
                    let Ok(id) = c.result else {
                        // Only an injected failure (checked by `call`).
                        if !c.injected {
                            self.fail("tx.insert failed without an injected failure");
                        }
                        self.model.gone.extend(allocated.iter().copied());
                        return;
                    };
                    self.new_id(id);
                    allocated.push((id, slot));
                    written.push(id);
                    next.stage_insert(slot, id, &given)
                }
                Resolved::Update { id, slot, given } => {
                    self.note(format_args!("  tx.update {id}"));
                    unknown_ns |= !next.ns_exists(slot);
                    tx.update(SLOTS[slot].0, id, named(&given));
                    written.push(id);
                    next.stage_update(id, slot, &given)
                }
                Resolved::Delete { id, slot } => {
                    self.note(format_args!("  tx.delete {id}"));
                    unknown_ns |= !next.ns_exists(slot);
                    tx.delete(SLOTS[slot].0, id);
                    written.push(id);
                    next.stage_delete(id, slot)
                }
            };
            // A refused write changes nothing (staging is all or nothing).
            if let Err(k) = staged {
                first_error.get_or_insert(k);
            }
        }
        let want = if unknown_ns {
            Err(Kind::UnknownNamespace)
        } else if let Some(k) = first_error {
            Err(k)
        } else {
            next.unique_outcome(&written)
        };
        let c = self.call("commit", || tx.commit());
        if self.judge("commit", c, want).is_some() {
            self.model = next;
        } else {
            self.model.gone.extend(allocated);
        }
    }

    /// A read-write transaction with reads between its writes, a blind
    /// write committed before it, and its commit judged by
    /// serializability at its commit point (see the module doc).
    fn read_txn(&mut self, steps: &[TxStep], blind: Option<&Write>) {
        let db = self.db();
        let mut tx = db.transaction();
        let mut st = Staging::new(self.model.clone());
        let mut allocated = Vec::new();
        let mut writes: Vec<(Resolved, Option<ObjectId>)> = Vec::new();
        let mut reads: Vec<ReadRec> = Vec::new();
        for step in steps {
            let w = match step {
                TxStep::Read(read) => {
                    self.tx_read(&mut tx, &st, read, writes.len(), &mut reads);
                    continue;
                }
                TxStep::Write(w) => w,
            };
            let Some(r) = Run::resolve(&st.model, w) else {
                self.note("  (write skipped)");
                continue;
            };
            self.touch(&r);
            let id = match &r {
                Resolved::Insert { slot, given } => {
                    let (ns, class) = SLOTS[*slot];
                    let fields = named(given);
                    let c = self.call("tx.insert", || tx.insert(ns, class, fields));
                    let Ok(id) = c.result else {
                        // Only an injected failure (checked by `call`).
                        if !c.injected {
                            self.fail("tx.insert failed without an injected failure");
                        }
                        self.model.gone.extend(allocated.iter().copied());
                        return;
                    };
                    self.new_id(id);
                    allocated.push((id, *slot));
                    Some(id)
                }
                Resolved::Update { id, slot, given } => {
                    self.note(format_args!("  tx.update {id}"));
                    tx.update(SLOTS[*slot].0, *id, named(given));
                    None
                }
                Resolved::Delete { id, slot } => {
                    self.note(format_args!("  tx.delete {id}"));
                    tx.delete(SLOTS[*slot].0, *id);
                    None
                }
            };
            st.write(&r, id);
            writes.push((r, id));
        }
        // The blind write commits; the model then is the state at the
        // transaction's commit point.
        let before = self.model.clone();
        let blind = blind.and_then(|w| {
            self.note("  blind write:");
            self.single_write(w)
        });
        if self.injected {
            // Dropped uncommitted: the recovery compares with the model.
            self.note("  (transaction dropped after an injected failure)");
            self.model.gone.extend(allocated);
            return;
        }
        // The object the blind write changed (an update may leave it as it
        // was: then its record is unchanged, and so is any read of it).
        let blind_id = blind
            .as_ref()
            .and_then(|b| b.outcome.ok())
            .filter(|id| before.objects.get(id) != self.model.objects.get(id));
        let (at, answers) = replay(&self.model, &writes, &reads);
        let changed: Vec<usize> = (0..reads.len())
            .filter(|i| !same_answer(&reads[*i].seen, &answers[*i]))
            .collect();
        // Objects the engine recorded as read: those a `get` returned from.
        let got: BTreeSet<ObjectId> = reads
            .iter()
            .filter_map(|r| match (&r.call, &r.seen) {
                (Call::Get { id, .. }, Ok(_)) => Some(*id),
                _ => None,
            })
            .collect();
        let written: BTreeSet<ObjectId> = at.written.iter().copied().collect();
        let has_ops = !writes.is_empty();
        let blind_got = blind_id.is_some_and(|id| got.contains(&id));
        let blind_written = blind_id.is_some_and(|id| written.contains(&id));
        // A changed answer is a conflict, unless it changed only through an
        // object the transaction wrote (its staged write was computed from
        // the snapshot's record; see `reordered`).
        let must_conflict =
            has_ops && !at.unknown_ns && (blind_got || (!changed.is_empty() && !blind_written));
        let describe = |i: &usize| {
            let r = &reads[*i];
            format!(
                "\n  read {i} (after {} staged writes) {:?}: saw {:?}, at the commit point {:?}",
                r.pos, r.call, r.seen, answers[*i]
            )
        };
        let changes: String = changed.iter().map(describe).collect();
        let want = if has_ops { at.want() } else { Ok(()) };
        let c = self.call("commit", || tx.commit());
        STATS.read_txns.fetch_add(1, Relaxed);
        match c.result {
            Err(_) if c.injected => {
                self.model.gone.extend(allocated);
            }
            Err(Error::Conflict { .. }) => {
                if !has_ops || reads.is_empty() {
                    self.fail(format_args!(
                        "commit: Conflict, but the transaction {}",
                        if has_ops {
                            "read nothing"
                        } else {
                            "wrote nothing"
                        }
                    ));
                }
                STATS.conflicts.fetch_add(1, Relaxed);
                if changed.is_empty() && !blind_got && !blind_written {
                    // Allowed (intervals may cover more than the answer).
                    STATS.false_conflicts.fetch_add(1, Relaxed);
                    self.note("  (a false conflict: no answer changed)");
                }
                self.model.gone.extend(allocated);
            }
            Ok(()) => {
                if must_conflict {
                    self.fail(format_args!(
                        "commit: Ok, but {} changed before it: no serial order gives the reads and the commit{changes}",
                        if blind_got { "an object the transaction read" } else { "what the transaction read" }
                    ));
                }
                if !matches!(want, Ok(()) | Err(Kind::MaybeUnique)) {
                    self.fail(format_args!(
                        "commit: succeeded, the model expects {want:?} at the commit point"
                    ));
                }
                if has_ops && !changed.is_empty() {
                    let blind = blind
                        .as_ref()
                        .unwrap_or_else(|| self.fail("no blind write"));
                    if !reordered(&before, &writes, blind, &at.model) {
                        self.fail(format_args!(
                            "commit: Ok, but reads changed at the commit point, and the blind write cannot be ordered after the transaction either{changes}"
                        ));
                    }
                    STATS.reordered.fetch_add(1, Relaxed);
                    self.note(format_args!(
                        "  (serialized before the blind write){changes}"
                    ));
                }
                STATS.committed.fetch_add(1, Relaxed);
                self.model = at.model;
            }
            Err(e) => {
                if must_conflict {
                    self.fail(format_args!(
                        "commit: failed with {e:?}, the model expects Conflict: {} changed before it{changes}",
                        if blind_got { "an object the transaction read" } else { "what the transaction read" }
                    ));
                }
                let c = Called {
                    result: Err::<(), _>(e),
                    injected: false,
                };
                self.judge("commit", c, want);
                self.model.gone.extend(allocated);
            }
        }
    }

    /// One transactional read (and its next page), checked against the
    /// staged state `st`; recorded with `pos`, the writes staged before it.
    fn tx_read(
        &mut self,
        tx: &mut Transaction<'_>,
        st: &Staging,
        read: &Read,
        pos: usize,
        reads: &mut Vec<ReadRec>,
    ) {
        let m = &st.model;
        let call = match *read {
            Read::Get { target } => m.resolve(target).map(|(id, slot)| Call::Get { id, slot }),
            Read::Unique { slot, index, probe } => {
                m.fitting(slot, index, |k| k.is_unique())
                    .map(|(slot, idx)| Call::Unique {
                        slot,
                        idx,
                        tuple: m.probe(slot, idx, probe),
                    })
            }
            Read::Page {
                slot,
                index,
                probe,
                limit,
                ..
            } => m
                .fitting(slot, index, |k| !k.is_unique())
                .map(|(slot, idx)| Call::Page {
                    slot,
                    idx,
                    tuple: m.probe(slot, idx, probe),
                    limit: usize::from(limit),
                    after: None,
                }),
            Read::Scan {
                slot,
                index,
                limit,
                reverse,
                ..
            } => m
                .fitting(slot, index, |k| k.is_ordered())
                .map(|(slot, idx)| Call::Scan {
                    slot,
                    idx,
                    limit: usize::from(limit),
                    reverse,
                    after: None,
                }),
        };
        let Some(call) = call else {
            self.note("  (read skipped: no object or index fits)");
            return;
        };
        let (seen, cursor) = self.tx_call(tx, &call, None);
        self.check_read(st, &call, &seen);
        reads.push(ReadRec {
            pos,
            call: call.clone(),
            seen: seen.clone(),
        });
        let next = matches!(
            read,
            Read::Page { next: true, .. } | Read::Scan { next: true, .. }
        );
        let Some(cursor) = cursor.filter(|_| next) else {
            return;
        };
        // The next page: after the last entry of this one.
        let call = match (call, seen) {
            (
                Call::Page {
                    slot,
                    idx,
                    tuple,
                    limit,
                    ..
                },
                Ok(Answer::Ids(ids, _)),
            ) => Call::Page {
                slot,
                idx,
                tuple,
                limit,
                after: ids.last().copied(),
            },
            (
                Call::Scan {
                    slot,
                    idx,
                    limit,
                    reverse,
                    ..
                },
                Ok(Answer::Hits(hits, _)),
            ) => {
                let unique = m.classes[slot]
                    .as_ref()
                    .and_then(|c| c.index(idx))
                    .is_some_and(|i| i.kind.is_unique());
                let after = hits.last().map(|(v, id)| {
                    let tuple = match v {
                        Value::List(items) if INDEXES[idx].1.len() > 1 => items.clone(),
                        v => vec![v.clone()],
                    };
                    (tuple, (!unique).then_some(*id))
                });
                Call::Scan {
                    slot,
                    idx,
                    limit,
                    reverse,
                    after,
                }
            }
            _ => self.fail("a cursor without a page"),
        };
        let (seen, _) = self.tx_call(tx, &call, Some(cursor));
        self.check_read(st, &call, &seen);
        reads.push(ReadRec { pos, call, seen });
    }

    /// Fails unless a read's answer is the staged state's.
    fn check_read(&self, st: &Staging, call: &Call, seen: &Answered) {
        STATS.reads.fetch_add(1, Relaxed);
        let want = st.answer(call);
        if !same_answer(seen, &want) {
            self.fail(format_args!(
                "transactional read {call:?}: {seen:?}, the model expects {want:?} (the staged state)"
            ));
        }
    }

    /// Runs a read through the transaction: its answer and its cursor.
    fn tx_call(
        &mut self,
        tx: &mut Transaction<'_>,
        call: &Call,
        cursor: Option<Cursor>,
    ) -> (Answered, Option<Cursor>) {
        let what = format!("tx read {call:?}");
        let c = match call {
            Call::Get { id, slot } => self.call(&what, || {
                let o = tx.get(SLOTS[*slot].0, *id)?;
                Ok((Answer::Object(o.map(|o| (o.class, o.fields))), None))
            }),
            Call::Unique { slot, idx, tuple } => {
                let (ns, class) = SLOTS[*slot];
                let (iname, parts) = INDEXES[*idx];
                let v = query(parts.len(), tuple);
                self.call(&what, || {
                    let h = tx.find_unique(ns, class, iname, &v)?;
                    Ok((Answer::Holder(h), None))
                })
            }
            Call::Page {
                slot,
                idx,
                tuple,
                limit,
                ..
            } => {
                let (ns, class) = SLOTS[*slot];
                let (iname, parts) = INDEXES[*idx];
                let v = query(parts.len(), tuple);
                let mut find = FindAll::first(*limit);
                if let Some(c) = cursor {
                    find = find.after(c);
                }
                self.call(&what, || {
                    let p = tx.find_page(ns, class, iname, &v, &find)?;
                    Ok((Answer::Ids(p.ids, p.cursor.is_some()), p.cursor))
                })
            }
            Call::Scan {
                slot,
                idx,
                limit,
                reverse,
                ..
            } => {
                let (ns, class) = SLOTS[*slot];
                let mut q = RangeScan::all().limit(*limit);
                if *reverse {
                    q = q.reverse();
                }
                if let Some(c) = cursor {
                    q = q.after(c);
                }
                self.call(&what, || {
                    let p = tx.scan(ns, class, INDEXES[*idx].0, &q)?;
                    Ok((Answer::Hits(p.hits, p.cursor.is_some()), p.cursor))
                })
            }
        };
        if c.injected {
            self.fail(format_args!("{what}: a read met an injected failure"));
        }
        match c.result {
            Ok((answer, cursor)) => (Ok(answer), cursor),
            Err(e) => (Err(kind(&e)), None),
        }
    }

    /// `reindex` of one index or of every index of a class, then (unless
    /// `defer`) `check_reindex_tasks`.
    fn reindex(&mut self, slot: usize, index: Option<usize>, defer: bool) {
        let (want, affected) = match self.model.class(slot) {
            Err(k) => (Err(k), Vec::new()),
            Ok(c) => match index {
                Some(i) if c.index(i).is_none() => (Err(Kind::UnknownIndex), Vec::new()),
                Some(i) => (Ok(()), vec![i]),
                None => (Ok(()), c.indexes.iter().map(|i| i.idx).collect()),
            },
        };
        let db = self.db();
        let (ns, class) = SLOTS[slot];
        let name = index.map(|i| INDEXES[i].0);
        let c = self.call("reindex", || db.reindex(ns, class, name));
        if self.judge("reindex", c, want).is_none() {
            return;
        }
        if let Some(c) = self.model.classes[slot].as_mut() {
            for ix in c.indexes.iter_mut().filter(|i| affected.contains(&i.idx)) {
                ix.ready = false;
            }
        }
        if !defer {
            self.settle();
        }
    }

    /// The engine's state of an index.
    fn index_state(&self, db: &Db, slot: usize, idx: usize) -> IndexState {
        let (ns, class) = SLOTS[slot];
        db.index_state(ns, class, INDEXES[idx].0)
            .unwrap_or_else(|e| {
                self.fail(format_args!(
                    "index_state {class}.{}: {e:?}",
                    INDEXES[idx].0
                ))
            })
    }

    /// `check_reindex_tasks`: every pending build ends `Done`, except a
    /// unique index over duplicates, which ends `Failed` (and is removed).
    fn settle(&mut self) {
        let db = self.db();
        let mut pending = Vec::new();
        for slot in 0..3 {
            if let Ok(c) = self.model.class(slot) {
                for ix in c.indexes.iter().filter(|i| !i.ready) {
                    let conflict = ix.kind.is_unique() && self.model.has_duplicates(slot, ix.idx);
                    let runnable = matches!(
                        self.index_state(&db, slot, ix.idx),
                        IndexState::Building(TaskState::Pending | TaskState::InProgress)
                    );
                    pending.push((slot, ix.idx, conflict, runnable));
                }
            }
        }
        // The call names the tasks it ran (or waited for) that failed.
        let listed: BTreeSet<(String, String, String)> = pending
            .iter()
            .filter(|(_, _, conflict, runnable)| *conflict && *runnable)
            .map(|(slot, idx, _, _)| {
                let (ns, class) = SLOTS[*slot];
                (
                    ns.to_string(),
                    class.to_string(),
                    INDEXES[*idx].0.to_string(),
                )
            })
            .collect();
        let c = self.call("check_reindex_tasks", || db.check_reindex_tasks());
        if c.injected {
            self.maybe_built = true;
            return;
        }
        self.maybe_built = false;
        match c.result {
            Ok(()) if listed.is_empty() => {}
            Err(Error::ReindexFailed { tasks }) if !listed.is_empty() => {
                let got: BTreeSet<(String, String, String)> = tasks
                    .iter()
                    .map(|t| {
                        (
                            t.namespace.clone(),
                            t.class.clone(),
                            t.index.clone().unwrap_or_default(),
                        )
                    })
                    .collect();
                if got != listed {
                    self.fail(format_args!(
                        "check_reindex_tasks: failed tasks {got:?}, the model expects {listed:?}"
                    ));
                }
            }
            other => self.fail(format_args!(
                "check_reindex_tasks: {other:?}, the model expects failed tasks {listed:?}"
            )),
        }
        for (slot, idx, conflict, _) in pending {
            let state = self.index_state(&db, slot, idx);
            let expected = if conflict {
                IndexState::Building(TaskState::Failed)
            } else {
                IndexState::Ready
            };
            if state != expected {
                self.fail(format_args!(
                    "after check_reindex_tasks {}.{} is {state:?}, the model expects {expected:?}",
                    SLOTS[slot].1, INDEXES[idx].0
                ));
            }
            if let Some(ix) = self.model.classes[slot]
                .as_mut()
                .and_then(|c| c.indexes.iter_mut().find(|i| i.idx == idx))
            {
                ix.ready = !conflict;
            }
        }
        // A unique index that cannot be built is removed again.
        for slot in 0..3 {
            let Ok(c) = self.model.class(slot) else {
                continue;
            };
            let failed: Vec<usize> = c
                .indexes
                .iter()
                .filter(|i| !i.ready)
                .map(|i| i.idx)
                .collect();
            for idx in failed {
                let mut c = self.model.class(slot).cloned().unwrap_or_default();
                c.indexes.retain(|i| i.idx != idx);
                if !self.update_class(slot, c, Ok(()), None) {
                    return; // injected: the recovery settles again
                }
            }
        }
    }

    // ---- the comparison with the model ----

    /// Compares the reads of the touched classes with the model and runs
    /// `verify` (over the whole database).
    fn check(&mut self, when: &str) {
        self.note(format_args!("  check ({when})"));
        let slots = std::mem::take(&mut self.touched);
        let db = self.db();
        let m = &self.model;
        let mut namespaces = vec!["default".to_string()];
        if m.ns1 {
            namespaces.push("ns1".to_string());
        }
        if db.namespaces() != namespaces {
            self.fail(format_args!(
                "{when}: namespaces {:?}, the model has {namespaces:?}",
                db.namespaces()
            ));
        }
        for slot in (0..3).filter(|s| slots[*s]) {
            self.check_class(&db, slot, when);
        }
        for (id, o) in m.objects.iter().filter(|(_, o)| slots[o.slot]) {
            let (ns, class) = SLOTS[o.slot];
            let got = db
                .get(ns, *id)
                .unwrap_or_else(|e| self.fail(format_args!("{when}: get {id}: {e:?}")));
            let Some(got) = got else {
                self.fail(format_args!("{when}: object {id} is missing"));
            };
            let want = m.fields_of(o);
            let same = got.class == class && same_fields(&got.fields, &want);
            if !same {
                self.fail(format_args!(
                    "{when}: object {id} is {}{:?}, the model has {class}{want:?}",
                    got.class, got.fields
                ));
            }
        }
        // The latest ids that are not objects.
        let gone: Vec<(ObjectId, usize)> = m
            .gone
            .iter()
            .rev()
            .take(8)
            .filter(|(_, s)| slots[*s])
            .copied()
            .collect();
        for (id, slot) in &gone {
            let ns = SLOTS[*slot].0;
            match db.get(ns, *id) {
                Ok(None) => {}
                Err(Error::UnknownNamespace { .. }) if !m.ns_exists(*slot) => {}
                other => self.fail(format_args!("{when}: get {id} (not an object): {other:?}")),
            }
            // Through the object → class cache.
            match db.class_of(ns, *id) {
                Ok(None) => {}
                Err(Error::UnknownNamespace { .. }) if !m.ns_exists(*slot) => {}
                other => self.fail(format_args!(
                    "{when}: class_of {id} (not an object): {other:?}"
                )),
            }
        }
        // Per namespace: class_of every object, and get_many of the objects
        // and the ids that are not, in one call.
        for ns in namespaces.iter().map(String::as_str) {
            let mut ids = Vec::new();
            let mut want = Vec::new();
            for (id, o) in m
                .objects
                .iter()
                .filter(|(_, o)| slots[o.slot] && SLOTS[o.slot].0 == ns)
            {
                let class = SLOTS[o.slot].1;
                match db.class_of(ns, *id) {
                    Ok(Some(c)) if c == class => {}
                    other => self.fail(format_args!(
                        "{when}: class_of {id}: {other:?}, the model has {class}"
                    )),
                }
                ids.push(*id);
                want.push(Some(m.fields_of(o)));
            }
            for (id, _) in gone.iter().filter(|(_, s)| SLOTS[*s].0 == ns) {
                ids.push(*id);
                want.push(None);
            }
            let got = db
                .get_many(ns, &ids)
                .unwrap_or_else(|e| self.fail(format_args!("{when}: get_many {ids:?}: {e:?}")));
            let same = got.len() == want.len()
                && got.iter().zip(&want).all(|(g, w)| match (g, w) {
                    (Some(g), Some(w)) => same_fields(&g.fields, w),
                    (None, None) => true,
                    _ => false,
                });
            if !same {
                self.fail(format_args!(
                    "{when}: get_many {ids:?}: {got:?}, the model has {want:?}"
                ));
            }
        }
        // No violation; an index still being built is allowed (it makes
        // `is_clean()` false, as `skipped`).
        match db.verify() {
            Ok(report) if report.no_violations() => {}
            Ok(report) => self.fail(format_args!(
                "{when}: verify found problems:\n{}",
                report
                    .problems
                    .iter()
                    .map(|p| format!("  [{}] {}: {}", p.family, p.key, p.what))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            Err(e) => self.fail(format_args!("{when}: verify: {e:?}")),
        }
    }

    /// The definition, the objects and every index of one class slot.
    fn check_class(&self, db: &Db, slot: usize, when: &str) {
        let (ns, name) = SLOTS[slot];
        let m = &self.model;
        let class = match m.class(slot) {
            Err(k) => {
                match db.class(ns, name).and_then(|c| c.def()) {
                    Err(e) if kind(&e) == k => {}
                    other => self.fail(format_args!(
                        "{when}: class {name}: {other:?}, the model expects {k:?}"
                    )),
                }
                return;
            }
            Ok(c) => c,
        };
        let def = db
            .class(ns, name)
            .and_then(|c| c.def())
            .unwrap_or_else(|e| self.fail(format_args!("{when}: class {name}: {e:?}")));
        let fields: Vec<(&str, &FieldType, bool)> = def
            .fields
            .iter()
            .map(|f| (f.name.as_str(), &f.ty, f.optional))
            .collect();
        let types: Vec<FieldType> = class.fields.iter().map(|f| field_type(f.pool)).collect();
        let want: Vec<(&str, &FieldType, bool)> = class
            .fields
            .iter()
            .zip(&types)
            .map(|(f, ty)| (FIELDS[f.pool], ty, f.optional))
            .collect();
        if fields != want {
            self.fail(format_args!(
                "{when}: class {name} has fields {fields:?}, the model {want:?}"
            ));
        }
        // Indexes by name, with their parts as paths.
        let mut indexes: Vec<(String, IndexKind, Vec<String>)> = def
            .indexes
            .iter()
            .map(|i| {
                let parts = i
                    .parts
                    .iter()
                    .map(|p| {
                        let field = def.field_by_id(p.field).map_or("?", |f| f.name.as_str());
                        std::iter::once(field.to_string())
                            .chain(p.members.iter().cloned())
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .collect();
                (i.name.clone(), i.kind, parts)
            })
            .collect();
        indexes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want: Vec<(String, IndexKind, Vec<String>)> = class
            .indexes
            .iter()
            .map(|i| {
                let (iname, parts) = INDEXES[i.idx];
                (
                    iname.to_string(),
                    i.kind,
                    parts.iter().map(|p| part_path(*p)).collect(),
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        if indexes != want {
            self.fail(format_args!(
                "{when}: class {name} has indexes {indexes:?}, the model {want:?}"
            ));
        }
        let ids: Vec<ObjectId> = m
            .objects
            .iter()
            .filter(|(_, o)| o.slot == slot)
            .map(|(id, _)| *id)
            .collect();
        match db.scan_class(ns, name, None, usize::MAX) {
            Ok(got) if got == ids => {}
            other => self.fail(format_args!(
                "{when}: scan_class {name}: {other:?}, the model has {ids:?}"
            )),
        }
        // The objects again, in pages of 3 (batched reads).
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = db
                .scan_objects(ns, name, after, 3)
                .unwrap_or_else(|e| self.fail(format_args!("{when}: scan_objects {name}: {e:?}")));
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for o in &page {
                let want = m.objects.get(&o.id).map(|obj| m.fields_of(obj));
                if want.as_ref().is_none_or(|w| !same_fields(&o.fields, w)) {
                    self.fail(format_args!(
                        "{when}: scan_objects {name}: object {} has {:?}, the model {want:?}",
                        o.id, o.fields
                    ));
                }
            }
            paged.extend(page.iter().map(|o| o.id));
            if paged.len() > ids.len() {
                break;
            }
        }
        if paged != ids {
            self.fail(format_args!(
                "{when}: scan_objects {name}: {paged:?}, the model has {ids:?}"
            ));
        }
        for (idx, (iname, parts)) in INDEXES.iter().enumerate() {
            let first: Vec<Value> = parts.iter().map(|p| part_probes(*p)[0].clone()).collect();
            let probe = query(parts.len(), &first);
            let Some(ix) = class.index(idx) else {
                // Not an index of the class: a field's name without its
                // own index is `IndexState::None`.
                let field_named = idx < OWN_INDEXES && class.field(parts[0].0).is_some();
                match db.index_state(ns, name, iname) {
                    Ok(IndexState::None) if field_named => {}
                    Err(Error::UnknownIndex { .. }) if !field_named => {}
                    other => self.fail(format_args!(
                        "{when}: index_state of {name}.{iname} (no such index): {other:?}"
                    )),
                }
                match db.find_all(ns, name, iname, &probe) {
                    Err(Error::UnknownIndex { .. }) => {}
                    other => self.fail(format_args!(
                        "{when}: find_all on {name}.{iname} (no such index): {other:?}"
                    )),
                }
                continue;
            };
            let state = self.index_state(db, slot, idx);
            match (ix.ready, state) {
                (true, IndexState::Ready) => self.check_index(db, slot, ix, when),
                (false, IndexState::Ready) if self.maybe_built => {
                    self.check_index(db, slot, ix, when)
                }
                (false, IndexState::Building(TaskState::Pending | TaskState::InProgress)) => {}
                // An interrupted settle may have run the build already.
                (false, IndexState::Building(TaskState::Failed))
                    if ix.kind.is_unique() && m.has_duplicates(slot, idx) => {}
                (ready, state) => self.fail(format_args!(
                    "{when}: index {name}.{iname} is {state:?}, the model has it {}",
                    if ready { "ready" } else { "building" }
                )),
            }
            if state != IndexState::Ready {
                match db.find_all(ns, name, iname, &probe) {
                    Err(Error::IndexNotReady { .. }) => {}
                    other => self.fail(format_args!(
                        "{when}: find_all on building {name}.{iname}: {other:?}"
                    )),
                }
            }
        }
    }

    /// Every lookup and scan of a ready index: lookups of every tuple the
    /// model's objects hold and one more, queries of the wrong shape, and
    /// for an ordered index scans whole, reversed, paged, bounded (by the
    /// leading part alone, or whole tuples) and by prefix.
    fn check_index(&self, db: &Db, slot: usize, ix: &IndexM, when: &str) {
        let (ns, name) = SLOTS[slot];
        let (iname, parts) = INDEXES[ix.idx];
        let n = parts.len();
        let unique = ix.kind.is_unique();
        let m = &self.model;
        let bad = |what: &str, got: &dyn std::fmt::Debug, want: &dyn std::fmt::Debug| -> ! {
            self.fail(format_args!(
                "{when}: {what} on {name}.{iname}: {got:?}, the model expects {want:?}"
            ))
        };
        for (i, t) in m.probes(slot, ix.idx).iter().enumerate() {
            let v = query(n, t);
            let want = m.holders(slot, ix.idx, t);
            match db.find_all(ns, name, iname, &v) {
                Ok(got) if got == want => {}
                other => bad(&format!("find_all {v:?}"), &other, &want),
            }
            if !unique && want.len() >= 2 {
                // One holder per page.
                let mut paged = Vec::new();
                let mut find = FindAll::first(1);
                loop {
                    let page = db
                        .find_page(ns, name, iname, &v, &find)
                        .unwrap_or_else(|e| bad(&format!("find_page {v:?}"), &e, &want));
                    paged.extend(page.ids);
                    match page.cursor {
                        Some(c) if paged.len() <= want.len() => find = FindAll::first(1).after(c),
                        _ => break,
                    }
                }
                if paged != want {
                    bad(&format!("paged find_page {v:?}"), &paged, &want);
                }
            }
            // A non-unique index refuses find_unique (asked once).
            if !unique && i > 0 {
                continue;
            }
            let got = db.find_unique(ns, name, iname, &v);
            match (&got, unique) {
                (Ok(got), true) if want.len() <= 1 && *got == want.first().copied() => {}
                (Err(Error::NotIndexed { .. }), false) => {}
                _ => bad(&format!("find_unique {v:?}"), &got, &want),
            }
        }
        // Queries of the wrong type or shape.
        let first: Vec<Value> = parts.iter().map(|p| part_probes(*p)[0].clone()).collect();
        let mut typo = first.clone();
        typo[0] = Value::Bool(true);
        let mut wrong = vec![(query(n, &typo), Kind::WrongType)];
        if n == 1 && parts[0].0 == LIST_FIELD {
            // A list index is asked for an element, not a list.
            wrong.push((Value::List(first.clone()), Kind::WrongType));
        }
        if n > 1 {
            wrong.push((first[0].clone(), Kind::WrongType));
            wrong.push((Value::List(first[..1].to_vec()), Kind::InvalidRequest));
        }
        for (v, k) in wrong {
            match db.find_all(ns, name, iname, &v) {
                Err(e) if kind(&e) == k => {}
                other => bad(&format!("find_all {v:?}"), &other, &k),
            }
        }
        if !ix.kind.is_ordered() {
            match db.scan(ns, name, iname, &RangeScan::all()) {
                Err(Error::NotIndexed { .. }) => {}
                other => bad("scan", &other, &"NotIndexed"),
            }
            return;
        }
        let hit = |(t, id): &(Tuple, ObjectId)| (query(n, t), *id);
        let entries: Vec<(Value, ObjectId)> = m.entries(slot, ix.idx).iter().map(hit).collect();
        let scan = |q: &RangeScan| {
            db.scan(ns, name, iname, q).unwrap_or_else(|e| {
                self.fail(format_args!("{when}: scan {q:?} on {name}.{iname}: {e:?}"))
            })
        };
        let all = scan(&RangeScan::all());
        if all.hits != entries || all.cursor.is_some() {
            bad("scan all", &all.hits, &entries);
        }
        let reversed: Vec<_> = entries.iter().rev().cloned().collect();
        let rev = scan(&RangeScan::all().reverse());
        if rev.hits != reversed {
            bad("reverse scan", &rev.hits, &reversed);
        }
        for reverse in [false, true] {
            let mut q = RangeScan::all().limit(3);
            if reverse {
                q = q.reverse();
            }
            let mut paged = Vec::new();
            loop {
                let page = scan(&q);
                paged.extend(page.hits);
                match page.cursor {
                    Some(c) if paged.len() <= entries.len() => q = q.after(c),
                    _ => break,
                }
            }
            let want = if reverse { &reversed } else { &entries };
            if paged != *want {
                bad(&format!("paged scan (reverse {reverse})"), &paged, want);
            }
        }
        // Bounds: the leading part's probes alone (a leading subset of a
        // compound index), and whole tuples of probes.
        let lead = |k: usize| vec![part_probes(parts[0])[k].clone()];
        let full =
            |k: usize| -> Tuple { parts.iter().map(|p| part_probes(*p)[k].clone()).collect() };
        let bounds: [(Bound<Tuple>, Bound<Tuple>); 5] = [
            (Bound::Included(lead(0)), Bound::Excluded(lead(1))),
            (Bound::Excluded(lead(0)), Bound::Included(lead(1))),
            (Bound::Unbounded, Bound::Included(lead(2))),
            (Bound::Included(full(2)), Bound::Unbounded),
            (Bound::Excluded(full(0)), Bound::Excluded(full(1))),
        ];
        let as_value = |b: &Bound<Tuple>| match b {
            Bound::Included(t) => Bound::Included(query(n, t)),
            Bound::Excluded(t) => Bound::Excluded(query(n, t)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let all_entries = m.entries(slot, ix.idx);
        for (lower, upper) in &bounds {
            let want: Vec<_> = all_entries
                .iter()
                .filter(|(t, _)| in_bounds(t, lower, upper))
                .map(hit)
                .collect();
            let q = RangeScan::between(as_value(lower), as_value(upper));
            let got = scan(&q);
            if got.hits != want {
                bad(&format!("scan {q:?}"), &got.hits, &want);
            }
            // Reversed, and in pages of 2 both ways (cursor and bounds).
            let reversed: Vec<_> = want.iter().rev().cloned().collect();
            let q = q.reverse();
            let got = scan(&q);
            if got.hits != reversed {
                bad(&format!("scan {q:?}"), &got.hits, &reversed);
            }
            for reverse in [false, true] {
                let mut q = RangeScan::between(as_value(lower), as_value(upper)).limit(2);
                if reverse {
                    q = q.reverse();
                }
                let mut paged = Vec::new();
                loop {
                    let page = scan(&q);
                    paged.extend(page.hits);
                    match page.cursor {
                        Some(c) if paged.len() <= want.len() => q = q.after(c),
                        _ => break,
                    }
                }
                let expected = if reverse { &reversed } else { &want };
                if paged != *expected {
                    bad(&format!("paged scan {q:?}"), &paged, expected);
                }
            }
        }
        // Prefix scans: the leading parts given exactly, the last (a string
        // or bytes) as a prefix; a prefix on a part of another type is refused.
        let last = parts[n - 1];
        if let Some(text) = part_is_text(last) {
            for k in 0..2 {
                let mut values = full(k);
                let prefix = match (text, k) {
                    (true, 0) => Value::from("x"),
                    (true, _) => Value::from(""),
                    (false, 0) => Value::Bytes(vec![0]),
                    (false, _) => Value::Bytes(Vec::new()),
                };
                values[n - 1] = prefix.clone();
                let want: Vec<_> = all_entries
                    .iter()
                    .filter(|(t, _)| {
                        t[..n - 1] == values[..n - 1]
                            && match (&t[n - 1], &prefix) {
                                (Value::String(s), Value::String(p)) => s.starts_with(p.as_str()),
                                (Value::Bytes(b), Value::Bytes(p)) => b.starts_with(p),
                                _ => false,
                            }
                    })
                    .map(hit)
                    .collect();
                let q = RangeScan::prefix(query(n, &values));
                let got = scan(&q);
                if got.hits != want {
                    bad(&format!("scan {q:?}"), &got.hits, &want);
                }
            }
        }
        if part_is_text(parts[0]).is_none() {
            let q = RangeScan::prefix(query(n, &lead(0)));
            match db.scan(ns, name, iname, &q) {
                Err(Error::InvalidRequest(_)) => {}
                other => bad(&format!("scan {q:?}"), &other, &"InvalidRequest"),
            }
        }
    }

    /// Reads through a snapshot taken before the step: the objects, class
    /// scans and ready indexes of the state `before` it.
    fn check_snapshot(&self, snap: &Snapshot<'_>, before: &Model) {
        let when = "snapshot taken before the step";
        for (slot, (ns, name)) in SLOTS.into_iter().enumerate() {
            let Ok(class) = before.class(slot) else {
                continue;
            };
            let ids: Vec<ObjectId> = before
                .objects
                .iter()
                .filter(|(_, o)| o.slot == slot)
                .map(|(id, _)| *id)
                .collect();
            match snap.scan_class(ns, name, None, usize::MAX) {
                Ok(got) if got == ids => {}
                other => self.fail(format_args!(
                    "{when}: scan_class {name}: {other:?}, the model had {ids:?}"
                )),
            }
            for ix in class.indexes.iter().filter(|i| i.ready) {
                let (iname, parts) = INDEXES[ix.idx];
                for t in before.probes(slot, ix.idx) {
                    let v = query(parts.len(), &t);
                    let want = before.holders(slot, ix.idx, &t);
                    match snap.find_all(ns, name, iname, &v) {
                        Ok(got) if got == want => {}
                        other => self.fail(format_args!(
                            "{when}: find_all {v:?} on {name}.{iname}: {other:?}, the model had {want:?}"
                        )),
                    }
                }
            }
        }
        for (id, o) in &before.objects {
            let want = before.fields_of(o);
            match snap.get(SLOTS[o.slot].0, *id) {
                Ok(Some(got)) if same_fields(&got.fields, &want) => {}
                other => self.fail(format_args!(
                    "{when}: get {id}: {other:?}, the model had {want:?}"
                )),
            }
        }
    }

    // ---- failures ----

    /// After an injected failure: the database must equal the model before
    /// and after a reopen, and once its interrupted builds are finished.
    fn recover(&mut self) {
        self.injected = false;
        self.touched = [true; 3];
        self.store.clear_failure();
        self.note("  (failure cleared)");
        if self.db.is_none() {
            self.open();
        } else {
            self.check("after an injected failure");
            self.reopen();
        }
        self.touched = [true; 3];
        self.check("reopened after an injected failure");
        self.touched = [true; 3];
        self.settle();
        if self.injected {
            self.fail("a failure was injected after clear_failure");
        }
        self.touched = [true; 3];
        self.check("settled after an injected failure");
    }
}

/// Target `engine_model`: decodes the input into a [`Program`] and runs it
/// against the engine (in memory) and the model, checking after every step;
/// panics at the first disagreement, with the steps so far.
pub fn check_engine_model(data: &[u8]) {
    let program = Program::decode(data);
    run_program(&program);
}

/// Runs a program (see [`check_engine_model`]).
pub fn run_program(program: &Program) {
    let mut run = Run {
        store: FaultyStore::default(),
        opts: program.config.options(),
        db: None,
        model: Model::default(),
        last_id: None,
        injected: false,
        maybe_built: false,
        touched: [true; 3],
        program: program.clone(),
        step: 0,
        trace: std::env::var_os("ENGINE_MODEL_TRACE").map(|_| format!("{:?}\n", program.config)),
    };
    run.open();
    for (i, op) in program.ops.iter().enumerate() {
        run.step = i;
        run.note(format_args!("{i}: {op:?}"));
        if program.config.snapshots && *op != Op::Reopen {
            // Dropped before any recovery (which reopens).
            let db = run.db();
            let before = run.model.clone();
            let snapshot = db.snapshot();
            run.run_op(op);
            run.check_snapshot(&snapshot, &before);
        } else {
            run.run_op(op);
        }
        if run.injected {
            run.recover();
        } else {
            run.check("after the step");
        }
    }
    // The end: nothing armed, restarted, every build finished.
    run.store.clear_failure();
    run.note("end");
    run.reopen();
    if run.injected {
        run.recover();
    }
    run.touched = [true; 3];
    run.check("reopened at the end");
    run.touched = [true; 3];
    run.settle();
    if run.injected {
        run.recover();
    }
    run.touched = [true; 3];
    run.check("settled at the end");
    if let Some(db) = run.db.take() {
        if let Err(e) = db.close() {
            run.fail(format_args!("close at the end: {e:?}"));
        }
    }
    if let Some(trace) = &run.trace {
        eprintln!("{trace}");
    }
    // With ENGINE_MODEL_STATS set, the read transactions' counters after
    // runs 1, 2, 4, 8, ... of this process.
    let runs = RUNS.fetch_add(1, Relaxed) + 1;
    if runs.is_power_of_two() && std::env::var_os("ENGINE_MODEL_STATS").is_some() {
        eprintln!("engine_model after {runs} runs: {}", read_txn_stats());
    }
}

/// Programs run in this process.
static RUNS: AtomicU64 = AtomicU64::new(0);
