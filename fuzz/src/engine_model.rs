//! Target `engine_model`: the engine against a plain-Rust model, over the
//! in-memory backend, with storage failures injected by countdown (the
//! technique of redb's fuzzers).
//!
//! The input is decoded ([`Program::decode`]) into a configuration byte and
//! at most [`MAX_OPS`] operations: namespace and class DDL (create, drop,
//! add or remove a field, add, change or remove an index, optionality),
//! inserts, updates and deletes, alone or several in one transaction,
//! reopens, reindex requests, `check_reindex_tasks`, and "arm a failure"
//! (`MemStore::fail_after(n)`, `n < 8`: the next `n` mutating storage
//! operations succeed, every later one fails).
//!
//! Every operation runs against the engine and against the model (`Model`:
//! `BTreeMap`s), which predicts its outcome exactly: success, or the kind
//! of error (`UniqueViolation`, `MissingField`, `UnknownObject`, ...).
//! After every step, the reads of every class it may have changed agree
//! with the model: the class definition, its objects by `get`,
//! `scan_class`, `scan_objects`, and for every ready index `find_all`,
//! `find_unique` and ordered scans (whole, reverse, paged, bounded, prefix)
//! over every value of the field's small value pool; every other index
//! answers `UnknownIndex` (an unindexed field), `NotIndexed` (a query the
//! index kind does not answer) or `IndexNotReady`. `verify` must be clean: it runs
//! after every 4th step that wrote, after every reopen and injected
//! failure, and at the end (where, as after failures, every class is read).
//! With the configuration's snapshot bit, a snapshot taken before each step
//! must still read the state before it.
//!
//! When an operation hits an injected failure, it must fail with
//! `Error::Io` and leave the database exactly as before the operation (the
//! model does not change): the failure is cleared, the database is compared
//! with the model, reopened ("disk" = the model), compared again, its
//! interrupted index builds finished by `check_reindex_tasks`, and compared
//! once more.
//!
//! Index builds run right after their DDL, or are left pending ("deferred")
//! while writes go on: the index is then not read until a later
//! `check_reindex_tasks`, and under a pending unique index a write that
//! duplicates a value may be refused or not (see `Model::unique_outcome`).
//! A unique index over duplicate values ends `Failed` as the model
//! predicts, and is removed again (so no write ever meets a failed unique
//! index).
//!
//! Checked to fail (seed corpus replay) when the engine is broken on
//! purpose: a batch applied in part before an injected failure, the unique
//! check against committed holders skipped, a catalog change published
//! although its write failed, build conflicts ignored, snapshot reads
//! answered from the latest state.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Bound;
use std::time::Duration;

use rockhold::{
    ClassSpec, Db, Error, FieldSpec, FieldType, IndexKind, IndexState, MemStore, ObjectId, Options,
    RangeScan, Snapshot, TaskState, Value,
};

/// Operations decoded from one input, at most.
pub const MAX_OPS: usize = 40;
/// Live objects at most: an insert beyond is skipped.
pub const MAX_OBJECTS: usize = 50;
/// Writes in one transaction, at most.
pub const MAX_TXN: usize = 4;
/// `fail_after(n)` is armed with `n` below this.
pub const MAX_FAIL_AFTER: u8 = 8;
/// `verify` runs after this many steps that may have written (and after
/// every reopen and injected failure, and at the end): it is the costliest
/// check, and a violation stays until it is seen.
const VERIFY_EVERY: u32 = 4;

/// The classes a program works on: (namespace, class name), by slot. The
/// third lives in a namespace the program creates and drops.
pub const SLOTS: [(&str, &str); 3] = [("default", "c0"), ("default", "c1"), ("ns1", "c2")];

/// The fields a class may have: (name, type), by pool index. A field has
/// the same type in every class.
pub const FIELDS: [(&str, FieldType); 4] = [
    ("a", FieldType::U64),
    ("b", FieldType::String),
    ("c", FieldType::F64),
    ("d", FieldType::Bytes),
];

/// The index a field has in the model: none, or a one-field index named
/// after the field (what `FieldSpec::index` declares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldIndex {
    /// Not indexed.
    None,
    /// A hash index.
    Hash {
        /// At most one object per value.
        unique: bool,
    },
    /// An ordered index.
    Ordered {
        /// At most one object per value.
        unique: bool,
    },
}

impl FieldIndex {
    /// Whether the field has an index.
    pub fn is_indexed(self) -> bool {
        self != FieldIndex::None
    }

    /// Whether the field's index is unique.
    pub fn is_unique(self) -> bool {
        self.kind().is_some_and(IndexKind::is_unique)
    }

    /// The engine's index kind, `None` when unindexed.
    pub fn kind(self) -> Option<IndexKind> {
        match self {
            FieldIndex::None => None,
            FieldIndex::Hash { unique } => Some(IndexKind::Hash { unique }),
            FieldIndex::Ordered { unique } => Some(IndexKind::Ordered { unique }),
        }
    }

    /// The index the definition `def` gives field `field`: a one-part index
    /// over the field itself, named after it.
    fn of(def: &rockhold_format::ClassDef, field: &rockhold_format::FieldDef) -> FieldIndex {
        let own = def.indexes.iter().find(|i| {
            i.name == field.name
                && matches!(&i.parts[..], [p] if p.field == field.id && p.members.is_empty())
        });
        match own.map(|i| i.kind) {
            None => FieldIndex::None,
            Some(IndexKind::Hash { unique }) => FieldIndex::Hash { unique },
            Some(IndexKind::Ordered { unique }) => FieldIndex::Ordered { unique },
        }
    }
}

/// Index kinds, by index byte.
pub const KINDS: [FieldIndex; 5] = [
    FieldIndex::None,
    FieldIndex::Hash { unique: false },
    FieldIndex::Hash { unique: true },
    FieldIndex::Ordered { unique: false },
    FieldIndex::Ordered { unique: true },
];

/// The `i`-th of the four values field `field` takes (few, so that values
/// collide; with prefixes of each other, `-0.0 == 0.0` and NaN).
pub fn pool_value(field: usize, i: usize) -> Value {
    let i = i % 4;
    match field {
        0 => Value::U64([0, 1, 2, 3][i]),
        1 => Value::from(["", "x", "xy", "y"][i]),
        2 => Value::F64([-0.0, 0.0, 1.5, f64::NAN][i]),
        _ => Value::Bytes([&[][..], &[0], &[0, 1], &[1]][i].to_vec()),
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
    /// The field's pool value of this index (0 to 3).
    Value(u8),
    /// `Value::Absent` (clears an optional field, refused for a required one).
    Absent,
    /// The field is not given.
    No,
}

/// What a write gives each pool field.
pub type Values = [Given; 4];

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
    /// Its index kind, an index into [`KINDS`].
    pub index: u8,
}

/// One step of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `create_namespace("ns1")`.
    CreateNamespace,
    /// `drop_namespace("ns1")`.
    DropNamespace,
    /// `create_class` of a slot, its fields in pool order.
    CreateClass {
        /// The class slot.
        slot: u8,
        /// Each pool field.
        fields: [FieldChoice; 4],
    },
    /// `update_class` giving a field another index kind (same spec when
    /// the class lacks the field: a no-op). The build runs at once unless
    /// `defer`.
    SetIndex {
        /// The class slot.
        slot: u8,
        /// The pool field.
        field: u8,
        /// The new index kind, an index into [`KINDS`].
        index: u8,
        /// Leave the build pending.
        defer: bool,
    },
    /// `update_class` removing the field, or adding it (at the end).
    ToggleField {
        /// The class slot.
        slot: u8,
        /// The pool field.
        field: u8,
        /// An added field is optional.
        optional: bool,
        /// An added field's index kind, an index into [`KINDS`].
        index: u8,
    },
    /// `update_class` making a field optional or required.
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
    /// `close` and `open_memory` again.
    Reopen,
    /// `reindex` of one field or (`None`) every index of a class; the
    /// builds run at once unless `defer`.
    Reindex {
        /// The class slot.
        slot: u8,
        /// The pool field, or every index of the class.
        field: Option<u8>,
        /// Leave the builds pending.
        defer: bool,
    },
    /// `check_reindex_tasks`: finishes every pending build.
    Settle,
    /// `MemStore::fail_after(writes)`.
    ArmFailure {
        /// Mutating storage operations that still succeed.
        writes: u8,
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
}

const CODES: [Code; 20] = [
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

/// A value byte: 0 to 3 a pool value, 4 absent, 5 to 7 not given.
fn decode_given(b: u8) -> Given {
    match b % 8 {
        i @ 0..=3 => Given::Value(i),
        4 => Given::Absent,
        _ => Given::No,
    }
}

/// The canonical value byte.
fn encode_given(g: Given) -> u8 {
    match g {
        Given::Value(i) => i % 4,
        Given::Absent => 4,
        Given::No => 5,
    }
}

/// Four value bytes, by pool field.
fn decode_values(r: &mut Reader<'_>) -> Option<Values> {
    let mut values = [Given::No; 4];
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

/// A slot-and-field byte: bits 0..1 = slot (mod 3), bits 2..3 = field,
/// bit 4 = a flag.
fn decode_slot_field(b: u8) -> (u8, u8, bool) {
    ((b & 3) % 3, (b >> 2) & 3, b & 0x10 != 0)
}

/// The canonical slot-and-field byte.
fn encode_slot_field(slot: u8, field: u8, flag: bool) -> u8 {
    (slot % 3) | ((field & 3) << 2) | (u8::from(flag) << 4)
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
                    index: 0,
                }; 4];
                for f in &mut fields {
                    let b = r.byte()?;
                    *f = FieldChoice {
                        present: b & 1 != 0,
                        optional: b & 6 != 6,
                        index: (b >> 3) % 5,
                    };
                }
                Op::CreateClass { slot, fields }
            }
            Code::SetIndex => {
                let (slot, field, defer) = decode_slot_field(r.byte()?);
                Op::SetIndex {
                    slot,
                    field,
                    index: r.byte()? % 5,
                    defer,
                }
            }
            Code::ToggleField => {
                let (slot, field, required) = decode_slot_field(r.byte()?);
                Op::ToggleField {
                    slot,
                    field,
                    optional: !required,
                    index: r.byte()? % 5,
                }
            }
            Code::SetOptional => {
                let (slot, field, optional) = decode_slot_field(r.byte()?);
                Op::SetOptional {
                    slot,
                    field,
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
            Code::Reopen => Op::Reopen,
            Code::Reindex => {
                let b = r.byte()?;
                let f = (b >> 2) & 7;
                Op::Reindex {
                    slot: (b & 3) % 3,
                    field: (f < 4).then_some(f),
                    defer: b & 0x20 != 0,
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
                Op::CreateClass { slot, fields } => {
                    out.extend([code_byte(Code::CreateClass), slot % 3]);
                    out.extend(fields.iter().map(|f| {
                        u8::from(f.present) | if f.optional { 0 } else { 6 } | ((f.index % 5) << 3)
                    }));
                }
                Op::SetIndex {
                    slot,
                    field,
                    index,
                    defer,
                } => out.extend([
                    code_byte(Code::SetIndex),
                    encode_slot_field(*slot, *field, *defer),
                    index % 5,
                ]),
                Op::ToggleField {
                    slot,
                    field,
                    optional,
                    index,
                } => out.extend([
                    code_byte(Code::ToggleField),
                    encode_slot_field(*slot, *field, !*optional),
                    index % 5,
                ]),
                Op::SetOptional {
                    slot,
                    field,
                    optional,
                } => out.extend([
                    code_byte(Code::SetOptional),
                    encode_slot_field(*slot, *field, *optional),
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
                Op::Reopen => out.push(code_byte(Code::Reopen)),
                Op::Reindex { slot, field, defer } => out.extend([
                    code_byte(Code::Reindex),
                    (slot % 3) | (field.map_or(4, |f| f & 3) << 2) | (u8::from(*defer) << 5),
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
    index: FieldIndex,
    /// The index answers queries (no build pending).
    ready: bool,
}

/// A class in the model: its fields in declaration order.
#[derive(Debug, Clone, PartialEq, Default)]
struct ClassM {
    fields: Vec<FieldM>,
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

    /// The spec that declares this class in `slot`.
    fn spec(&self, slot: usize) -> ClassSpec {
        self.fields
            .iter()
            .fold(ClassSpec::new(SLOTS[slot].1), |spec, f| {
                let (name, ty) = (FIELDS[f.pool].0, FIELDS[f.pool].1.clone());
                let mut fs = FieldSpec::new(name, ty);
                if let Some(kind) = f.index.kind() {
                    fs = fs.index(kind);
                }
                if f.optional {
                    fs = fs.optional();
                }
                spec.field(fs)
            })
    }
}

/// An object in the model: its class slot and its present values.
#[derive(Debug, Clone, PartialEq)]
struct Obj {
    slot: usize,
    values: BTreeMap<usize, Value>,
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
    UnknownObject,
    UnknownClass,
    UnknownNamespace,
    UnknownField,
    DuplicateName,
    InvalidRequest,
    NotIndexed,
    UnknownIndex,
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
        Error::UnknownObject { .. } => Kind::UnknownObject,
        Error::UnknownClass { .. } => Kind::UnknownClass,
        Error::UnknownNamespace { .. } => Kind::UnknownNamespace,
        Error::UnknownField { .. } => Kind::UnknownField,
        Error::DuplicateName { .. } => Kind::DuplicateName,
        Error::InvalidRequest(_) => Kind::InvalidRequest,
        Error::NotIndexed { .. } => Kind::NotIndexed,
        Error::UnknownIndex { .. } => Kind::UnknownIndex,
        Error::IndexNotReady { .. } => Kind::IndexNotReady,
        Error::ReindexFailed { .. } => Kind::ReindexFailed,
        Error::Io { .. } => Kind::Io,
        _ => Kind::Other,
    }
}

/// An expected outcome: success or the kind of error.
type Want = Result<(), Kind>;

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

    /// Whether the class of `slot` has objects (some DDL is refused then).
    fn has_objects(&self, slot: usize) -> bool {
        self.objects.values().any(|o| o.slot == slot)
    }

    /// The objects of `slot` holding `value` in field `pool`, by id.
    fn holders(&self, slot: usize, pool: usize, value: &Value) -> Vec<ObjectId> {
        self.objects
            .iter()
            .filter(|(_, o)| o.slot == slot && o.values.get(&pool) == Some(value))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether two objects of `slot` hold the same value in field `pool`.
    fn has_duplicates(&self, slot: usize, pool: usize) -> bool {
        let mut seen: Vec<&Value> = Vec::new();
        for o in self.objects.values().filter(|o| o.slot == slot) {
            if let Some(v) = o.values.get(&pool) {
                if seen.contains(&v) {
                    return true;
                }
                seen.push(v);
            }
        }
        false
    }

    /// The uniqueness outcome of a batch whose final state is `self` and
    /// which wrote the objects `touched`. A value held twice under a ready
    /// unique index is refused. Under a unique index still being built the
    /// engine checks the holders indexed so far (those written since the
    /// build was requested): a batch writing a value that another object
    /// holds may be refused or not (a second holder it accepts must not be
    /// in the index, which `verify` checks, and fails the build); a batch
    /// writing no such value is accepted.
    fn unique_outcome(&self, touched: &[ObjectId]) -> Want {
        let mut maybe = false;
        for slot in (0..3).filter(|s| self.ns_exists(*s)) {
            let Some(c) = &self.classes[slot] else {
                continue;
            };
            for f in c.fields.iter().filter(|f| f.index.is_unique()) {
                if !self.has_duplicates(slot, f.pool) {
                    continue;
                }
                if f.ready {
                    return Err(Kind::UniqueViolation);
                }
                maybe |= touched.iter().any(|id| {
                    self.objects
                        .get(id)
                        .filter(|o| o.slot == slot)
                        .and_then(|o| o.values.get(&f.pool))
                        .is_some_and(|v| self.holders(slot, f.pool, v).len() > 1)
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
    fn given(&self, slot: usize, strict: bool, values: &Values) -> Vec<(usize, Value)> {
        let class = self.classes[slot].as_ref().filter(|_| self.ns_exists(slot));
        values
            .iter()
            .enumerate()
            .filter(|(pool, _)| strict || class.is_some_and(|c| c.field(*pool).is_some()))
            .filter_map(|(pool, g)| match g {
                Given::Value(i) => Some((pool, pool_value(pool, usize::from(*i)))),
                Given::Absent => Some((pool, Value::Absent)),
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

    /// Sets `given` on `values` as the engine does, field by field: the
    /// first unknown field, or absent value of a required one, fails.
    fn set_fields(
        class: &ClassM,
        values: &mut BTreeMap<usize, Value>,
        given: &[(usize, Value)],
    ) -> Want {
        for (pool, v) in given {
            let f = class.field(*pool).ok_or(Kind::UnknownField)?;
            if *v == Value::Absent {
                if !f.optional {
                    return Err(Kind::MissingField);
                }
                values.remove(pool);
            } else {
                values.insert(*pool, v.clone());
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
    fn stage_insert(&mut self, slot: usize, id: ObjectId, given: &[(usize, Value)]) -> Want {
        let class = self.class(slot)?;
        let mut values = BTreeMap::new();
        Model::set_fields(class, &mut values, given)?;
        self.objects.insert(id, Obj { slot, values });
        Ok(())
    }

    /// Applies a partial update (validation only, as `stage_insert`).
    fn stage_update(&mut self, id: ObjectId, slot: usize, given: &[(usize, Value)]) -> Want {
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
                    .map(|v| (FIELDS[f.pool].0.to_string(), v.clone()))
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
}

// ---------------------------------------------------------------------------
// The run

/// An engine call's result, and whether it met an injected failure.
struct Called<T> {
    result: Result<T, Error>,
    injected: bool,
}

/// A write resolved against the model: what to send to the engine.
enum Resolved {
    Insert {
        slot: usize,
        given: Vec<(usize, Value)>,
    },
    Update {
        id: ObjectId,
        slot: usize,
        given: Vec<(usize, Value)>,
    },
    Delete {
        id: ObjectId,
        slot: usize,
    },
}

/// Pool-indexed values as the engine takes them, by field name.
fn named(given: &[(usize, Value)]) -> Vec<(String, Value)> {
    given
        .iter()
        .map(|(pool, v)| (FIELDS[*pool].0.to_string(), v.clone()))
        .collect()
}

/// Equal values, and for floats the same bits (a stored `-0.0` stays
/// `-0.0`) or both NaN.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
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
    store: MemStore,
    opts: Options,
    db: Option<Db>,
    model: Model,
    /// The last object id handed out: every new one is above it.
    last_id: Option<ObjectId>,
    /// The current step met an injected failure.
    injected: bool,
    /// Steps since the last `verify` whose engine calls may have written
    /// something (a call succeeded, or met an injected failure).
    unverified: u32,
    /// An engine call of the current step may have written something.
    wrote: bool,
    /// The next check runs `verify` whatever `unverified` says (after a
    /// reopen, an injected failure, at the end).
    force_verify: bool,
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
        self.wrote |= injected || result.is_ok();
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

    /// `open_memory`: fails only by an injected failure.
    fn open(&mut self) {
        self.wrote = true;
        self.force_verify = true;
        let before = self.store.injected_failures();
        match Db::open_memory(&self.store, self.opts.clone()) {
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
            Op::Write(_) | Op::Txn(_) | Op::ArmFailure { .. } => {}
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
            Op::CreateClass { slot, fields } => {
                let slot = usize::from(*slot);
                let want = match self.model.class(slot) {
                    Ok(_) => Err(Kind::DuplicateName),
                    Err(Kind::UnknownClass) => Ok(()),
                    Err(k) => Err(k),
                };
                let class = ClassM {
                    fields: fields
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| f.present)
                        .map(|(pool, f)| FieldM {
                            pool,
                            optional: f.optional,
                            index: KINDS[usize::from(f.index) % 5],
                            ready: true,
                        })
                        .collect(),
                };
                let spec = class.spec(slot);
                let db = self.db();
                let c = self.call("create_class", || db.create_class(SLOTS[slot].0, &spec));
                if self.judge("create_class", c, want).is_some() {
                    self.model.classes[slot] = Some(class);
                }
            }
            Op::SetIndex {
                slot,
                field,
                index,
                defer,
            } => {
                let (slot, pool) = (usize::from(*slot), usize::from(*field));
                let kind = KINDS[usize::from(*index) % 5];
                let has_objects = self.model.has_objects(slot);
                let want = self.model.class(slot).map(drop);
                let mut class = self.model.classes[slot].clone().unwrap_or_default();
                let mut build = false;
                if let Some(f) = class.field_mut(pool) {
                    if f.index != kind {
                        f.index = kind;
                        f.ready = !(kind.is_indexed() && has_objects);
                        build = !f.ready && !defer;
                    }
                }
                if self.update_class(slot, class, want, None) && build {
                    self.settle();
                }
            }
            Op::ToggleField {
                slot,
                field,
                optional,
                index,
            } => {
                let (slot, pool) = (usize::from(*slot), usize::from(*field));
                let has_objects = self.model.has_objects(slot);
                let mut want = self.model.class(slot).map(drop);
                let mut class = self.model.classes[slot].clone().unwrap_or_default();
                let mut removed = None;
                let mut build = false;
                if class.field(pool).is_some() {
                    class.fields.retain(|f| f.pool != pool);
                    removed = Some(pool);
                } else {
                    if !optional && has_objects {
                        want = want.and(Err(Kind::InvalidRequest));
                    }
                    // Format v2 engine: the index of a field added to a
                    // class with objects is built by a task, like any index
                    // added over data (although no object holds the new
                    // field yet).
                    let kind = KINDS[usize::from(*index) % 5];
                    let ready = !(kind.is_indexed() && has_objects);
                    build = !ready;
                    class.fields.push(FieldM {
                        pool,
                        optional: *optional,
                        index: kind,
                        ready,
                    });
                }
                if self.update_class(slot, class, want, removed) && build {
                    self.settle();
                }
            }
            Op::SetOptional {
                slot,
                field,
                optional,
            } => {
                let (slot, pool) = (usize::from(*slot), usize::from(*field));
                let has_objects = self.model.has_objects(slot);
                let mut want = self.model.class(slot).map(drop);
                let mut class = self.model.classes[slot].clone().unwrap_or_default();
                if let Some(f) = class.field_mut(pool) {
                    if f.optional && !optional && has_objects {
                        want = want.and(Err(Kind::InvalidRequest));
                    }
                    f.optional = *optional;
                }
                self.update_class(slot, class, want, None);
            }
            Op::Write(w) => self.single_write(w),
            Op::Txn(writes) => self.txn(writes),
            Op::Reopen => self.reopen(),
            Op::Reindex { slot, field, defer } => self.reindex(usize::from(*slot), *field, *defer),
            Op::Settle => self.settle(),
            Op::ArmFailure { writes } => {
                self.store.fail_after(u64::from(*writes));
            }
        }
    }

    /// `update_class` of `slot` to `class`, expecting `want`; on success
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
        let c = self.call("update_class", || db.update_class(SLOTS[slot].0, &spec));
        if self.judge("update_class", c, want).is_none() {
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

    /// One write by `Db::insert`, `Db::update` or `Db::delete`.
    fn single_write(&mut self, w: &Write) {
        let Some(r) = Run::resolve(&self.model, w) else {
            self.note("  skipped");
            return;
        };
        self.touch(&r);
        let db = self.db();
        match r {
            Resolved::Insert { slot, given } => {
                let mut next = self.model.clone();
                let placeholder = ObjectId(u64::MAX);
                let want = next
                    .stage_insert(slot, placeholder, &given)
                    .and_then(|()| next.unique_outcome(&[placeholder]));
                let (ns, class) = SLOTS[slot];
                let fields = named(&given);
                let c = self.call("insert", || db.insert(ns, class, fields));
                if let Some(id) = self.judge("insert", c, want) {
                    self.new_id(id);
                    if let Err(k) = self.model.stage_insert(slot, id, &given) {
                        self.fail(format_args!("insert of {id}: the model refuses it ({k:?})"));
                    }
                }
            }
            Resolved::Update { id, slot, given } => {
                let mut next = self.model.clone();
                let want = next
                    .stage_update(id, slot, &given)
                    .and_then(|()| next.unique_outcome(&[id]));
                let fields = named(&given);
                let c = self.call("update", || db.update(SLOTS[slot].0, id, fields));
                if self.judge("update", c, want).is_some() {
                    self.model = next;
                }
            }
            Resolved::Delete { id, slot } => {
                let mut next = self.model.clone();
                let want = next.stage_delete(id, slot);
                let c = self.call("delete", || db.delete(SLOTS[slot].0, id));
                if self.judge("delete", c, want).is_some() {
                    self.model = next;
                }
            }
        }
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

    /// `reindex` of a field or of every index of a class, then (unless
    /// `defer`) `check_reindex_tasks`.
    fn reindex(&mut self, slot: usize, field: Option<u8>, defer: bool) {
        let pool = field.map(usize::from);
        let (want, affected) = match self.model.class(slot) {
            Err(k) => (Err(k), Vec::new()),
            Ok(c) => match pool {
                Some(p) => match c.field(p) {
                    // Indexes are named: an unknown field has no index either.
                    None => (Err(Kind::UnknownIndex), Vec::new()),
                    Some(f) if !f.index.is_indexed() => (Err(Kind::UnknownIndex), Vec::new()),
                    Some(_) => (Ok(()), vec![p]),
                },
                None => (
                    Ok(()),
                    c.fields
                        .iter()
                        .filter(|f| f.index.is_indexed())
                        .map(|f| f.pool)
                        .collect(),
                ),
            },
        };
        let db = self.db();
        let (ns, class) = SLOTS[slot];
        let name = pool.map(|p| FIELDS[p].0);
        let c = self.call("reindex", || db.reindex(ns, class, name));
        if self.judge("reindex", c, want).is_none() {
            return;
        }
        if let Some(c) = self.model.classes[slot].as_mut() {
            for f in c.fields.iter_mut().filter(|f| affected.contains(&f.pool)) {
                f.ready = false;
            }
        }
        if !defer {
            self.settle();
        }
    }

    /// The engine's index state of a field.
    fn index_state(&self, db: &Db, slot: usize, pool: usize) -> IndexState {
        let (ns, class) = SLOTS[slot];
        db.index_state(ns, class, FIELDS[pool].0)
            .unwrap_or_else(|e| {
                self.fail(format_args!(
                    "index_state {class}.{}: {e:?}",
                    FIELDS[pool].0
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
                for f in c.fields.iter().filter(|f| !f.ready) {
                    let conflict = f.index.is_unique() && self.model.has_duplicates(slot, f.pool);
                    let runnable = matches!(
                        self.index_state(&db, slot, f.pool),
                        IndexState::Building(TaskState::Pending | TaskState::InProgress)
                    );
                    pending.push((slot, f.pool, conflict, runnable));
                }
            }
        }
        // The call names the tasks it ran (or waited for) that failed.
        let listed: BTreeSet<(String, String, String)> = pending
            .iter()
            .filter(|(_, _, conflict, runnable)| *conflict && *runnable)
            .map(|(slot, pool, _, _)| {
                let (ns, class) = SLOTS[*slot];
                (
                    ns.to_string(),
                    class.to_string(),
                    FIELDS[*pool].0.to_string(),
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
        for (slot, pool, conflict, _) in pending {
            let state = self.index_state(&db, slot, pool);
            let expected = if conflict {
                IndexState::Building(TaskState::Failed)
            } else {
                IndexState::Ready
            };
            if state != expected {
                self.fail(format_args!(
                    "after check_reindex_tasks {}.{} is {state:?}, the model expects {expected:?}",
                    SLOTS[slot].1, FIELDS[pool].0
                ));
            }
            if let Some(f) = self.model.classes[slot]
                .as_mut()
                .and_then(|c| c.field_mut(pool))
            {
                f.ready = !conflict;
            }
        }
        // A unique index that cannot be built is removed again.
        for slot in 0..3 {
            let Ok(c) = self.model.class(slot) else {
                continue;
            };
            let failed: Vec<usize> = c
                .fields
                .iter()
                .filter(|f| !f.ready)
                .map(|f| f.pool)
                .collect();
            for pool in failed {
                let mut c = self.model.class(slot).cloned().unwrap_or_default();
                if let Some(f) = c.field_mut(pool) {
                    f.index = FieldIndex::None;
                    f.ready = true;
                }
                if !self.update_class(slot, c, Ok(()), None) {
                    return; // injected: the recovery settles again
                }
            }
        }
    }

    // ---- the comparison with the model ----

    /// Compares the reads of the touched classes with the model and runs
    /// `verify` every [`VERIFY_EVERY`] steps that may have written, and
    /// whenever it is forced.
    fn check(&mut self, when: &str) {
        self.note(format_args!("  check ({when})"));
        if std::mem::take(&mut self.wrote) {
            self.unverified += 1;
        }
        let verify = std::mem::take(&mut self.force_verify) || self.unverified >= VERIFY_EVERY;
        if verify {
            self.unverified = 0;
        }
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
        for (id, slot) in m.gone.iter().rev().take(8).filter(|(_, s)| slots[*s]) {
            let ns = SLOTS[*slot].0;
            match db.get(ns, *id) {
                Ok(None) => {}
                Err(Error::UnknownNamespace { .. }) if !m.ns_exists(*slot) => {}
                other => self.fail(format_args!("{when}: get {id} (not an object): {other:?}")),
            }
        }
        match if verify {
            db.verify()
        } else {
            Ok(Default::default())
        } {
            Ok(report) if report.is_clean() => {}
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
                match db.class(ns, name) {
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
            .unwrap_or_else(|e| self.fail(format_args!("{when}: class {name}: {e:?}")));
        let fields: Vec<(&str, FieldType, bool, FieldIndex)> = def
            .fields
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.ty.clone(),
                    f.optional,
                    FieldIndex::of(&def, f),
                )
            })
            .collect();
        let want: Vec<(&str, FieldType, bool, FieldIndex)> = class
            .fields
            .iter()
            .map(|f| {
                (
                    FIELDS[f.pool].0,
                    FIELDS[f.pool].1.clone(),
                    f.optional,
                    f.index,
                )
            })
            .collect();
        if fields != want {
            self.fail(format_args!(
                "{when}: class {name} has fields {fields:?}, the model {want:?}"
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
        for f in &class.fields {
            let fname = FIELDS[f.pool].0;
            let probe = pool_value(f.pool, 1);
            if !f.index.is_indexed() {
                match db.find_all(ns, name, fname, &probe) {
                    Err(Error::UnknownIndex { .. }) => {}
                    other => self.fail(format_args!(
                        "{when}: find_all on unindexed {name}.{fname}: {other:?}"
                    )),
                }
                continue;
            }
            let state = self.index_state(db, slot, f.pool);
            match (f.ready, state) {
                (true, IndexState::Ready) => self.check_index(db, slot, f, when),
                (false, IndexState::Ready) if self.maybe_built => {
                    self.check_index(db, slot, f, when)
                }
                (false, IndexState::Building(TaskState::Pending | TaskState::InProgress)) => {}
                // An interrupted settle may have run the build already.
                (false, IndexState::Building(TaskState::Failed))
                    if f.index.is_unique() && m.has_duplicates(slot, f.pool) => {}
                (ready, state) => self.fail(format_args!(
                    "{when}: index {name}.{fname} is {state:?}, the model has it {}",
                    if ready { "ready" } else { "building" }
                )),
            }
            if state != IndexState::Ready {
                match db.find_all(ns, name, fname, &probe) {
                    Err(Error::IndexNotReady { .. }) => {}
                    other => self.fail(format_args!(
                        "{when}: find_all on building {name}.{fname}: {other:?}"
                    )),
                }
            }
        }
    }

    /// Every lookup and scan of a ready index, over the field's value pool.
    fn check_index(&self, db: &Db, slot: usize, f: &FieldM, when: &str) {
        let (ns, name) = SLOTS[slot];
        let fname = FIELDS[f.pool].0;
        let m = &self.model;
        let bad = |what: &str, got: &dyn std::fmt::Debug, want: &dyn std::fmt::Debug| -> ! {
            self.fail(format_args!(
                "{when}: {what} on {name}.{fname}: {got:?}, the model expects {want:?}"
            ))
        };
        for i in 0..4 {
            let v = pool_value(f.pool, i);
            let want = m.holders(slot, f.pool, &v);
            match db.find_all(ns, name, fname, &v) {
                Ok(got) if got == want => {}
                other => bad(&format!("find_all {v:?}"), &other, &want),
            }
            // A non-unique index refuses find_unique (asked once).
            if !f.index.is_unique() && i > 0 {
                continue;
            }
            let unique = db.find_unique(ns, name, fname, &v);
            match (&unique, f.index.is_unique()) {
                (Ok(got), true) if want.len() <= 1 && *got == want.first().copied() => {}
                (Err(Error::NotIndexed { .. }), false) => {}
                _ => bad(&format!("find_unique {v:?}"), &unique, &want),
            }
        }
        let ordered = matches!(f.index, FieldIndex::Ordered { .. });
        if !ordered {
            match db.scan(ns, name, fname, &RangeScan::all()) {
                Err(Error::NotIndexed { .. }) => {}
                other => bad("scan", &other, &"NotIndexed"),
            }
            return;
        }
        let mut entries: Vec<(Value, ObjectId)> = m
            .objects
            .iter()
            .filter(|(_, o)| o.slot == slot)
            .filter_map(|(id, o)| o.values.get(&f.pool).map(|v| (v.clone(), *id)))
            .collect();
        entries.sort();
        let scan = |q: &RangeScan| {
            db.scan(ns, name, fname, q).unwrap_or_else(|e| {
                self.fail(format_args!("{when}: scan {q:?} on {name}.{fname}: {e:?}"))
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
        let (low, high) = (pool_value(f.pool, 1), pool_value(f.pool, 3));
        let want: Vec<_> = entries
            .iter()
            .filter(|(v, _)| *v >= low && *v < high)
            .cloned()
            .collect();
        let got = scan(&RangeScan::between(
            Bound::Included(low),
            Bound::Excluded(high),
        ));
        if got.hits != want {
            bad("bounded scan", &got.hits, &want);
        }
        let prefix = match FIELDS[f.pool].1 {
            FieldType::String => Some(Value::from("x")),
            FieldType::Bytes => Some(Value::Bytes(vec![0])),
            _ => None,
        };
        if let Some(p) = prefix {
            let want: Vec<_> = entries
                .iter()
                .filter(|(v, _)| match (v, &p) {
                    (Value::String(s), Value::String(x)) => s.starts_with(x.as_str()),
                    (Value::Bytes(b), Value::Bytes(x)) => b.starts_with(x),
                    _ => false,
                })
                .cloned()
                .collect();
            let got = scan(&RangeScan::prefix(p));
            if got.hits != want {
                bad("prefix scan", &got.hits, &want);
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
            for f in class
                .fields
                .iter()
                .filter(|f| f.ready && f.index.is_indexed())
            {
                let fname = FIELDS[f.pool].0;
                for i in 0..4 {
                    let v = pool_value(f.pool, i);
                    let want = before.holders(slot, f.pool, &v);
                    match snap.find_all(ns, name, fname, &v) {
                        Ok(got) if got == want => {}
                        other => self.fail(format_args!(
                            "{when}: find_all {v:?} on {name}.{fname}: {other:?}, the model had {want:?}"
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
        self.force_verify = true;
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
        self.force_verify = true;
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
        store: MemStore::new(),
        opts: program.config.options(),
        db: None,
        model: Model::default(),
        last_id: None,
        injected: false,
        unverified: 0,
        wrote: false,
        force_verify: false,
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
    run.force_verify = true;
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
}
