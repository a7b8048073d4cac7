//! Reading format v1 records, for the migration of v1 databases.
//!
//! Format v1 framed every record like v2 (`u8 frame version | u8 kind |
//! u32 BE crc32(header 2 bytes + body) | body`) with frame version **1**, and
//! coded the body with bincode 1 (`DefaultOptions` with varint integers,
//! little endian, trailing bytes rejected). This module decodes those bodies
//! by hand (bincode is no longer a dependency) and converts them to the v2
//! types:
//!
//! | v1 body item                     | bytes                                          |
//! |----------------------------------|------------------------------------------------|
//! | `u8`                             | 1 byte (never varint)                          |
//! | `u16`/`u32`/`u64` (varint)       | a byte `b`: `b < 251` is the value; `251` → `u16` LE follows, `252` → `u32` LE, `253` → `u64` LE (`254`, a `u128`, is refused); a value too large for the target type is refused |
//! | `i64`                            | zigzag (`0, -1, 1, -2, …` ↦ `0, 1, 2, 3, …`), then as `u64` |
//! | `f64`                            | 8 bytes LE                                     |
//! | `bool`                           | `u8` `00` / `01`                               |
//! | `Option<T>`                      | `u8` `00`, or `01` + `T`                       |
//! | string, `Vec<T>`                 | varint `u64` length/count + UTF-8 / elements   |
//! | enum                             | varint `u32` variant index + the variant's fields in order |
//! | struct, tuple, newtype (ids)     | the fields in declaration order, nothing else  |
//!
//! v1 types, as they were coded (variant indexes in parentheses):
//!
//! - `MetaValue`: FormatVersion(u32) (0), HashSeed{k0: u64, k1: u64} (1), Counter(u64) (2).
//! - `NameEntry`: id u32.
//! - `ClassDef`: id u32, name, revision u64, next_field_id u32, fields
//!   `Vec<FieldDef>`, provisional bool; `FieldDef`: id u32, name, ty
//!   `FieldType` (Bool 0, I64 1, U64 2, F64 3, String 4, Bytes 5, Ref 6),
//!   optional bool, index `IndexKind` (None 0, Hash{unique: bool} 1,
//!   Ordered{unique: bool} 2).
//! - `ObjectRecord`: class u32, fields `Vec<(u32, Value)>`; `Value`:
//!   Absent 0, Bool(bool) 1, I64 2, U64 3, F64 4, String 5, Bytes (`Vec<u8>`:
//!   count + raw bytes) 6, Ref(u64) 7.
//! - `TaskRecord`: state (Pending 0, InProgress 1, Done 2, Failed 3,
//!   Remove 4), revision u64, attempts u32, created_at_ms u64, updated_at_ms
//!   u64, not_before_ms u64, cursor `Option<u64>`, entries_added u64,
//!   stale_removed u64, last_error `Option<String>`, conflicts `Vec<u64>`.
//!
//! Conversions: a v1 class's indexed field becomes a one-part [`IndexDef`]
//! named after the field, with the field's id as its [`IndexId`] (so a v1
//! task key's field id names the same index: [`decode_task_key`]), and
//! `next_index_id = next_field_id`. A v1 object's `Absent` fields are
//! dropped (v2 does not store them). v1 `IH`/`IR` keys are not converted:
//! migration deletes and rebuilds them.

use crate::coding::Input;
use crate::error::{Error, Result};
use crate::frame::{check_body_len, checksum, RecordKind};
use crate::hash::HashSeed;
use crate::ids::{ClassId, FieldId, IndexId, ObjectId};
use crate::keys::{Key, TaskKey};
use crate::records::{
    ClassDef, FieldDef, FieldPath, FieldType, IndexDef, IndexKind, MetaValue, NameEntry,
    ObjectRecord, TaskRecord, TaskState,
};
use crate::value::Value;

/// The frame version of format v1.
pub const FRAME_VERSION: u8 = 1;

/// A bincode 1 (varint, little endian) reader over an untrusted v1 body.
struct Bincode<'a> {
    i: Input<'a>,
}

impl<'a> Bincode<'a> {
    fn new(body: &'a [u8], what: &'static str) -> Self {
        Bincode {
            i: Input::new(body, what),
        }
    }

    fn malformed(&self, what: impl std::fmt::Display) -> Error {
        Error::malformed(format!("{}: {what}", self.i.what()))
    }

    fn raw<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.i.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        self.i.u8()
    }

    fn varint(&mut self) -> Result<u64> {
        Ok(match self.u8()? {
            b @ 0..=250 => u64::from(b),
            251 => u64::from(u16::from_le_bytes(self.raw()?)),
            252 => u64::from(u32::from_le_bytes(self.raw()?)),
            253 => u64::from_le_bytes(self.raw()?),
            b => return Err(self.malformed(format_args!("varint marker {b}"))),
        })
    }

    fn u64(&mut self) -> Result<u64> {
        self.varint()
    }

    fn u32(&mut self) -> Result<u32> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| self.malformed(format_args!("{v} does not fit a u32")))
    }

    fn i64(&mut self) -> Result<i64> {
        let n = self.varint()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.raw()?))
    }

    fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.malformed(format_args!("bool byte {b:#04x}"))),
        }
    }

    fn option(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.malformed(format_args!("option tag {b:#04x}"))),
        }
    }

    fn variant(&mut self) -> Result<u32> {
        self.u32()
    }

    /// A length or count of items of at least `min_item_len` bytes each,
    /// refused when the bytes left cannot hold them (so nothing is
    /// allocated for a corrupt count).
    fn len(&mut self, min_item_len: usize) -> Result<usize> {
        let n = self.varint()?;
        let left = self.i.remaining().len() as u64;
        if n.saturating_mul(min_item_len.max(1) as u64) > left {
            return Err(Error::Truncated {
                what: self.i.what(),
            });
        }
        Ok(n as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.i.take(n)
    }

    fn string(&mut self) -> Result<String> {
        let b = self.bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(self.malformed("string is not UTF-8")),
        }
    }

    fn finish(self) -> Result<()> {
        self.i.finish()
    }
}

/// Checks a v1 frame (checksum, frame version 1, kind, body length) and
/// returns its body.
pub fn unframe(framed: &[u8], kind: RecordKind) -> Result<&[u8]> {
    let mut i = Input::new(framed, "v1 record frame");
    let header = i.take(2)?;
    let header = [header[0], header[1]];
    let stored = u32::from_be_bytes(i.take(4)?.try_into().map_err(|_| Error::Truncated {
        what: "v1 record frame",
    })?);
    let body = i.remaining();
    let actual = checksum(header, body);
    if stored != actual {
        return Err(Error::ChecksumMismatch {
            expected: stored,
            actual,
        });
    }
    if header[0] != FRAME_VERSION {
        return Err(Error::UnsupportedVersion(header[0]));
    }
    if header[1] != kind as u8 {
        return Err(Error::WrongKind {
            expected: kind as u8,
            found: header[1],
        });
    }
    check_body_len(body.len() as u64)?;
    Ok(body)
}

fn decode<T>(
    framed: &[u8],
    kind: RecordKind,
    what: &'static str,
    body: impl FnOnce(&mut Bincode<'_>) -> Result<T>,
) -> Result<T> {
    let mut b = Bincode::new(unframe(framed, kind)?, what);
    let value = body(&mut b)?;
    b.finish()?;
    Ok(value)
}

/// Decodes a framed v1 meta value.
pub fn decode_meta(framed: &[u8]) -> Result<MetaValue> {
    decode(framed, RecordKind::Meta, "v1 meta value", |b| {
        Ok(match b.variant()? {
            0 => MetaValue::FormatVersion(b.u32()?),
            1 => MetaValue::HashSeed(HashSeed {
                k0: b.u64()?,
                k1: b.u64()?,
            }),
            2 => MetaValue::Counter(b.u64()?),
            v => return Err(b.malformed(format_args!("MetaValue variant {v}"))),
        })
    })
}

/// Decodes a framed v1 name entry.
pub fn decode_name(framed: &[u8]) -> Result<NameEntry> {
    decode(framed, RecordKind::Name, "v1 name entry", |b| {
        Ok(NameEntry { id: b.u32()? })
    })
}

fn field_type(b: &mut Bincode<'_>) -> Result<FieldType> {
    Ok(match b.variant()? {
        0 => FieldType::Bool,
        1 => FieldType::I64,
        2 => FieldType::U64,
        3 => FieldType::F64,
        4 => FieldType::String,
        5 => FieldType::Bytes,
        6 => FieldType::Ref,
        v => return Err(b.malformed(format_args!("FieldType variant {v}"))),
    })
}

fn index_kind(b: &mut Bincode<'_>) -> Result<Option<IndexKind>> {
    Ok(match b.variant()? {
        0 => None,
        1 => Some(IndexKind::Hash { unique: b.bool()? }),
        2 => Some(IndexKind::Ordered { unique: b.bool()? }),
        v => return Err(b.malformed(format_args!("IndexKind variant {v}"))),
    })
}

/// Decodes a framed v1 class definition and converts it to v2: each
/// indexed field becomes an index named after it, whose id is the field's
/// id; `next_index_id` is `next_field_id`.
pub fn decode_class(framed: &[u8]) -> Result<ClassDef> {
    decode(framed, RecordKind::Class, "v1 class definition", |b| {
        let id = ClassId(b.u32()?);
        let name = b.string()?;
        let revision = b.u64()?;
        let next_field_id = b.u32()?;
        // A field takes at least 5 bytes: id, name length, type, optional, index.
        let n = b.len(5)?;
        let mut fields = Vec::with_capacity(n);
        let mut indexes = Vec::new();
        for _ in 0..n {
            let field = FieldId(b.u32()?);
            let name = b.string()?;
            let ty = field_type(b)?;
            let optional = b.bool()?;
            if let Some(kind) = index_kind(b)? {
                indexes.push(IndexDef {
                    id: IndexId(field.0),
                    name: name.clone(),
                    kind,
                    parts: vec![FieldPath {
                        field,
                        members: Vec::new(),
                    }],
                });
            }
            fields.push(FieldDef {
                id: field,
                name,
                ty,
                optional,
            });
        }
        let provisional = b.bool()?;
        Ok(ClassDef {
            id,
            name,
            revision,
            next_field_id,
            next_index_id: next_field_id,
            fields,
            indexes,
            provisional,
        })
    })
}

fn value(b: &mut Bincode<'_>) -> Result<Value> {
    Ok(match b.variant()? {
        0 => Value::Absent,
        1 => Value::Bool(b.bool()?),
        2 => Value::I64(b.i64()?),
        3 => Value::U64(b.u64()?),
        4 => Value::F64(b.f64()?),
        5 => Value::String(b.string()?),
        6 => Value::Bytes(b.bytes()?.to_vec()),
        7 => Value::Ref(ObjectId(b.u64()?)),
        v => return Err(b.malformed(format_args!("Value variant {v}"))),
    })
}

/// Decodes a framed v1 object record into the v2 owned form (whose
/// [`crate::Record::encode`] writes it as v2). `Absent` fields are dropped;
/// field ids out of increasing order are malformed.
pub fn decode_object(framed: &[u8]) -> Result<ObjectRecord> {
    decode(framed, RecordKind::Object, "v1 object record", |b| {
        let class = ClassId(b.u32()?);
        // A field takes at least 2 bytes: id and value variant.
        let n = b.len(2)?;
        let mut fields: Vec<(FieldId, Value)> = Vec::with_capacity(n);
        let mut last: Option<FieldId> = None;
        for _ in 0..n {
            let id = FieldId(b.u32()?);
            if last.is_some_and(|l| l >= id) {
                return Err(b.malformed("field ids not strictly increasing"));
            }
            last = Some(id);
            let v = value(b)?;
            if !matches!(v, Value::Absent) {
                fields.push((id, v));
            }
        }
        Ok(ObjectRecord { class, fields })
    })
}

/// Decodes a framed v1 task record (its fields are those of v2).
pub fn decode_task(framed: &[u8]) -> Result<TaskRecord> {
    decode(framed, RecordKind::Task, "v1 task record", |b| {
        let state = match b.variant()? {
            0 => TaskState::Pending,
            1 => TaskState::InProgress,
            2 => TaskState::Done,
            3 => TaskState::Failed,
            4 => TaskState::Remove,
            v => return Err(b.malformed(format_args!("TaskState variant {v}"))),
        };
        let revision = b.u64()?;
        let attempts = b.u32()?;
        let created_at_ms = b.u64()?;
        let updated_at_ms = b.u64()?;
        let not_before_ms = b.u64()?;
        let cursor = if b.option()? {
            Some(ObjectId(b.u64()?))
        } else {
            None
        };
        let entries_added = b.u64()?;
        let stale_removed = b.u64()?;
        let last_error = if b.option()? { Some(b.string()?) } else { None };
        let n = b.len(1)?;
        let mut conflicts = Vec::with_capacity(n);
        for _ in 0..n {
            conflicts.push(ObjectId(b.u64()?));
        }
        Ok(TaskRecord {
            state,
            revision,
            attempts,
            created_at_ms,
            updated_at_ms,
            not_before_ms,
            cursor,
            entries_added,
            stale_removed,
            last_error,
            conflicts,
        })
    })
}

/// Decodes a v1 task key (`IT` + ns + class + field id, u32 BE each) as a
/// v2 one: the bytes are the same, the field id is read as the id of the
/// index [`decode_class`] made of that field (`0`, the whole class, stays
/// `IndexId::WHOLE_CLASS`).
pub fn decode_task_key(bytes: &[u8]) -> Result<TaskKey> {
    TaskKey::decode(bytes)
}

#[cfg(test)]
mod golden;
