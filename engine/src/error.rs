//! The engine's error type: bad input, constraint violations, corruption,
//! storage failures and unsupported versions kept apart.
//!
//! May call: no layer (it is the bottom; `rockhold_format` only).

use rockhold_format::{FormatVersion, ObjectId, TaskRecord, Value};

/// Everything that can go wrong in rockhold. Errors caused by the caller
/// (bad input, constraint violations) leave the database unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- bad input ----
    /// No namespace of that name.
    #[error("unknown namespace {namespace:?}")]
    UnknownNamespace {
        /// The name asked for.
        namespace: String,
    },
    /// No class of that name in the namespace.
    #[error("unknown class {class:?} in namespace {namespace:?}")]
    UnknownClass {
        /// The namespace searched.
        namespace: String,
        /// The name asked for.
        class: String,
    },
    /// The class has no field of that name.
    #[error("class {class:?} has no field {field:?}")]
    UnknownField {
        /// The class.
        class: String,
        /// The name asked for.
        field: String,
    },
    /// No object with that id in the namespace.
    #[error("no object {id} in namespace {namespace:?}")]
    UnknownObject {
        /// The namespace searched.
        namespace: String,
        /// The id asked for.
        id: ObjectId,
    },
    /// A value of the wrong type (or shape) for its field.
    #[error("field {class}.{field}{path} holds {expected} values, got {found}")]
    WrongType {
        /// The class.
        class: String,
        /// The field.
        field: String,
        /// Where inside the field's value (`.member`, `[index]`, `{"key"}`,
        /// `::Variant` steps; empty for the value itself).
        path: String,
        /// The expected type.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A value nested deeper than `rockhold_format::MAX_DEPTH`.
    #[error("field {class}.{field} nests {depth} levels deep, more than the limit of {max}")]
    TooDeep {
        /// The class.
        class: String,
        /// The field.
        field: String,
        /// Its nesting depth.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// A required field without a value.
    #[error("required field {class}.{field} has no value")]
    MissingField {
        /// The class.
        class: String,
        /// The field.
        field: String,
    },
    /// A name already taken (namespace, class, or field within a class).
    #[error("{kind} name {name:?} is already taken")]
    DuplicateName {
        /// What kind of name: "namespace", "class" or "field".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A name that is empty, too long or contains control characters.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        /// What kind of name.
        kind: &'static str,
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value too large to be stored (in an ordered index key, or a record).
    #[error("value of {class}.{field} is {len} bytes encoded, more than the limit of {max}")]
    ValueTooLarge {
        /// The class.
        class: String,
        /// The field.
        field: String,
        /// Its encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A class update that changes a field's type.
    #[error(
        "field {class}.{field} cannot change type from {from} to {to}; add a new field instead"
    )]
    FieldTypeChange {
        /// The class.
        class: String,
        /// The field.
        field: String,
        /// Its current type.
        from: String,
        /// The type asked for.
        to: String,
    },
    /// A class definition that could be written but not read back: it
    /// breaks a limit the decoder enforces on definitions read from disk
    /// (for example more type constructors nested than it reads). Nothing
    /// was written.
    #[error(
        "definition of class {class:?}{} refused: {reason}",
        .field.as_ref().map_or(String::new(), |f| format!(", field {f:?}"))
    )]
    InvalidDefinition {
        /// The class.
        class: String,
        /// The field whose type breaks the limit, when one alone does.
        field: Option<String>,
        /// The decoder's reason.
        reason: String,
    },
    /// The class has no index of that name.
    #[error("class {class:?} has no index {index:?}")]
    UnknownIndex {
        /// The class.
        class: String,
        /// The name asked for.
        index: String,
    },
    /// An index definition that cannot be built: an unknown or repeated
    /// field, a path not in the schema, two multi-valued parts, too many
    /// parts. Nothing was changed.
    #[error("index {class}.{index} is invalid: {reason}")]
    InvalidIndex {
        /// The class.
        class: String,
        /// The index.
        index: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A query on an index of another kind than the query needs.
    #[error("index {class}.{index} is not a {needed} index")]
    NotIndexed {
        /// The class.
        class: String,
        /// The index.
        index: String,
        /// The kind of index the query needs ("unique", "hash or ordered", "ordered").
        needed: &'static str,
    },
    /// A write on a database opened read-only (a secondary instance).
    #[error("the database is open read-only")]
    ReadOnly,
    /// A cursor given to a scan or lookup other than the one that returned it.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// Why it does not fit.
        reason: &'static str,
    },
    /// An object given under its id (ingest) that exists in another class.
    #[error("object {id} is of class {found:?}, not {class:?}")]
    ClassMismatch {
        /// The object.
        id: ObjectId,
        /// The class it was given for.
        class: String,
        /// The class it has.
        found: String,
    },
    /// A typed value that does not map to its class (serde's message kept).
    #[error("{what} (class {class:?}): {source}")]
    Serde {
        /// The class.
        class: String,
        /// What did not map.
        what: String,
        /// serde's error.
        source: BackendError,
    },
    /// An integer that its field's type cannot hold (a negative value for a
    /// `u64` field, one above `i64::MAX` for an `i64` field, a byte over 255).
    #[error("field {class}.{field} holds {expected} values: {value} is out of range")]
    OutOfRange {
        /// The class.
        class: String,
        /// The field.
        field: String,
        /// The value given.
        value: String,
        /// The field's type.
        expected: String,
    },
    /// Anything else the caller asked for that cannot be done (the message
    /// says what). Internal failures are never reported as this.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A directory given for a database, backup or restore that cannot be
    /// used as asked (missing, not a backup directory, nested in the
    /// database, holding other files). Nothing was changed.
    #[error("{}: {reason}", .path.display())]
    BadPath {
        /// The path given.
        path: std::path::PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// A class update whose spec leaves out fields or indexes the stored
    /// class has: `update_class` never removes implicitly. Nothing was
    /// changed. Remove them with [`crate::Db::drop_field`] /
    /// [`crate::Db::drop_index`], or pass the spec to
    /// [`crate::Db::replace_class`], which removes what it leaves out.
    #[error(
        "class {class:?}: the spec leaves out fields {fields:?} and indexes {indexes:?}, which \
         update_class does not remove: use drop_field / drop_index, or replace_class to remove \
         everything the spec leaves out (with its index entries)"
    )]
    ImplicitRemoval {
        /// The class.
        class: String,
        /// Stored fields the spec leaves out.
        fields: Vec<String>,
        /// Stored indexes the spec leaves out (including those of the fields).
        indexes: Vec<String>,
    },
    /// A schema change that makes a field required (a new required field,
    /// or an optional one made required) on a class that has objects:
    /// they may have no value for it. Nothing was changed.
    #[error(
        "field {class}.{field} cannot be required while class {class:?} has objects \
         (they may have no value for it): declare it optional"
    )]
    RequiredFieldOnNonEmptyClass {
        /// The class.
        class: String,
        /// The field.
        field: String,
    },
    /// A model (a spec given to [`crate::Db::ensure_class`]) that the
    /// stored class cannot take by an additive change: a field's type
    /// differs, a new required field on a class with objects, a stored
    /// required field the model lacks, an index of the same name with
    /// another kind or parts. Nothing was changed.
    #[error("class {class:?} does not fit the model at {field:?}: {reason}")]
    ModelMismatch {
        /// The class.
        class: String,
        /// The field (or, for an index that differs, the index) the model
        /// and the stored class disagree on.
        field: String,
        /// How they disagree, and what to do about it.
        reason: String,
    },

    /// A model with a type that contains itself (`struct Node { next:
    /// Option<Box<Node>> }`): a stored value is finite, so the type has no
    /// stored form. Nothing was changed.
    #[error(
        "the model of class {class:?} is recursive: type {type_name} contains itself at \
         {path:?}; store a reference to another object (an Id or ObjectId) instead"
    )]
    RecursiveType {
        /// The model's class.
        class: String,
        /// The type found inside itself.
        type_name: String,
        /// Where, from the model's field (`next.next`, `child::Some`).
        path: String,
    },

    // ---- constraints and state ----
    /// A unique value already held by another object. Nothing was written.
    #[error("unique violation: {class}.{index} = {value} is already held by object {existing}")]
    UniqueViolation {
        /// The class.
        class: String,
        /// The unique index.
        index: String,
        /// The value (for a compound index, the list of its parts' values).
        value: Value,
        /// The object that holds it (committed, or earlier in the same batch).
        existing: ObjectId,
    },
    /// A class definition that existing (ingested) objects do not satisfy:
    /// they lack a field it requires. Nothing was written.
    #[error("field {class}.{field} cannot be required: objects {objects:?} have no value for it")]
    RequiredFieldMissing {
        /// The class.
        class: String,
        /// The required field.
        field: String,
        /// Objects without it (at most the first 100).
        objects: Vec<ObjectId>,
    },
    /// Every object id, up to `u64::MAX`, has been handed out or reserved by
    /// an ingest: ids are never reused, so no object can be inserted.
    #[error("object ids are exhausted: u64::MAX has been used and ids are never reused")]
    IdsExhausted,
    /// The operation met a concurrent change it cannot be ordered with;
    /// nothing was written, and retrying it is safe.
    #[error("conflict with a concurrent change, retry: {reason}")]
    Conflict {
        /// What changed meanwhile.
        reason: String,
    },
    /// A [`crate::Db::write`] closure met a conflict on each of its
    /// attempts; nothing was written. `last` is the last attempt's
    /// conflict.
    #[error("gave up after {attempts} conflicting attempts: {last}")]
    ConflictRetriesExhausted {
        /// How many times the closure ran.
        attempts: u32,
        /// The conflict of the last attempt.
        #[source]
        last: Box<Error>,
    },
    /// The index is being built (or failed to build) and cannot answer yet.
    #[error("index {class}.{index} is not ready ({state})")]
    IndexNotReady {
        /// The class.
        class: String,
        /// The index.
        index: String,
        /// The state of its build task.
        state: &'static str,
    },
    /// Reindex tasks that [`crate::Db::check_reindex_tasks`] ran or waited
    /// for ended `Failed` (duplicates under a unique index, a value over the
    /// ordered-key limit, attempts exhausted). Each names its class, field
    /// and `last_error`; [`crate::Db::retry_failed_tasks`] requeues them.
    #[error("{} reindex task(s) failed: {}", tasks.len(), describe_failed(tasks))]
    ReindexFailed {
        /// The failed tasks as persisted (state `Failed`, `last_error` set).
        tasks: Vec<TaskInfo>,
    },
    /// The database directory is held open by another process (or by
    /// another `Db` of this one). Nothing in it was touched.
    #[error("{}: the database is held open by another process", .path.display())]
    Locked {
        /// The database directory.
        path: std::path::PathBuf,
    },
    /// A [`crate::Watch`] fell further behind than the feed retains
    /// (`Options::feed_capacity`): the changes of `missed` commits (whole
    /// commits, counted whether or not they match the watch) are lost to
    /// it. Reported once; the watch continues with the oldest commit the
    /// feed still holds.
    #[error("the watch fell behind: the changes of {missed} commit(s) were dropped from the feed")]
    Lagged {
        /// Commits whose changes the watch missed.
        missed: u64,
    },
    /// The database of a [`crate::Watch`] is closed, and every change
    /// committed before was delivered.
    #[error("the database of this watch is closed")]
    WatchClosed,

    // ---- data on disk ----
    /// Bytes read from disk do not decode. Names the key (escaped), and
    /// what it is the key of where it decodes.
    #[error("corruption at key {key}{}: {source}", .decoded.as_ref().map_or(String::new(), |d| format!(" ({d})")))]
    Corruption {
        /// The key, escaped for printing.
        key: String,
        /// The key decoded (family, namespace, object, class, field ids),
        /// or `None` when it does not decode.
        decoded: Option<String>,
        /// What is wrong.
        source: rockhold_format::Error,
    },
    /// The database is of an older format version that this build reads
    /// only to migrate it: run `rockhold migrate` (or [`crate::Db::migrate`])
    /// once, offline. Nothing was written.
    #[error(
        "the database is of format version {found}; this build reads version {supported}: \
         migrate it once with `rockhold migrate <path>` (offline; from v1, the indexes are rebuilt after)"
    )]
    NeedsMigration {
        /// The version on disk.
        found: FormatVersion,
        /// The version this build reads and writes.
        supported: FormatVersion,
    },
    /// The database is of a format version this build does not read.
    #[error("unsupported database format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version number on disk (one this build may not know).
        found: u32,
        /// The version this build reads and writes.
        supported: FormatVersion,
    },
    /// The path is not a rockhold database (nothing was written to it).
    #[error("{path} is not a rockhold database: {reason}")]
    NotADatabase {
        /// The path given.
        path: String,
        /// What was found there instead.
        reason: String,
    },
    /// A read-only view could not reach a consistent cut of a live
    /// database: the primary deleted a WAL file (and changed its MANIFEST)
    /// during each of `attempts` catch-ups, that is, its WALs were deleted
    /// faster than one catch-up runs. Nothing is wrong on disk; open the
    /// view again later.
    #[error("no consistent view of the live database after {attempts} catch-ups; retry")]
    ViewNotConsistent {
        /// Catch-ups tried.
        attempts: u32,
    },
    /// Writes that were recorded as durable are missing at open: the newest
    /// WAL was deleted or truncated behind RocksDB's back. Nothing was
    /// written; `Options::accept_lost_writes` opens it anyway.
    #[error(
        "{path}: writes recorded as durable are missing (sequence {found} on disk, {recorded} recorded): \
         a WAL file was deleted or truncated; restore a backup, or open with accept_lost_writes to accept the loss"
    )]
    WritesLost {
        /// The database directory.
        path: String,
        /// The last sequence number recorded as durable.
        recorded: u64,
        /// The last sequence number found after recovery.
        found: u64,
    },
    /// The database contradicts itself (for example a class id with no definition).
    #[error("inconsistent database: {0}")]
    Inconsistent(String),
    /// A persisted counter is at its maximum and cannot advance (a task's
    /// attempts, a class's revision or next field id, the task revision, a
    /// generation marker). Only a damaged or deliberately edited database
    /// gets there; nothing was written.
    #[error("counter {counter} is exhausted: the database holds its maximum value")]
    CounterExhausted {
        /// The counter, e.g. `task.attempts` or `meta.next_task_revision`.
        counter: &'static str,
    },

    // ---- storage ----
    /// The storage backend reported corruption of its own files.
    #[error("storage corruption: {source}")]
    StorageCorruption {
        /// The backend's error.
        source: BackendError,
    },
    /// The device is full. Reads keep working; writes fail until space is freed.
    #[error("storage full{}: {source}", at(.path))]
    StorageFull {
        /// The file being written, when known.
        path: Option<std::path::PathBuf>,
        /// The backend's or the OS's error.
        source: BackendError,
    },
    /// An I/O error, of the storage backend or of a file rockhold writes itself.
    #[error("I/O error{}: {source}", at(.path))]
    Io {
        /// The file or directory, when known.
        path: Option<std::path::PathBuf>,
        /// The backend's or the OS's error.
        source: BackendError,
    },
    /// Any other error of the storage backend.
    #[error("storage error ({kind}): {source}")]
    Storage {
        /// The backend's kind of error (RocksDB's status code).
        kind: &'static str,
        /// The backend's error.
        source: BackendError,
    },
    /// The operation is not available on this database (e.g. a backup of an
    /// in-memory database).
    #[error("not supported: {what}")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// A failure inside rockhold that is neither the caller's nor the
    /// storage's (e.g. registering its metrics).
    #[error("internal error: {what}: {source}")]
    Internal {
        /// What failed.
        what: &'static str,
        /// The underlying error.
        source: BackendError,
    },
}

/// The error of a storage backend or library underneath, kept as the
/// [`std::error::Error::source`] of an [`Error`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// " at PATH" for messages of errors that may name a file.
fn at(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map_or(String::new(), |p| format!(" at {}", p.display()))
}

/// Result alias of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders a key for error messages: printable ASCII kept, the rest escaped.
pub(crate) fn escape_key(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

/// `ns.class.field: last_error` for each failed task.
fn describe_failed(tasks: &[TaskInfo]) -> String {
    tasks
        .iter()
        .map(|t| {
            format!(
                "{}.{}.{}: {}",
                t.namespace,
                t.class,
                t.index.as_deref().unwrap_or("(whole class)"),
                t.record
                    .last_error
                    .as_deref()
                    .unwrap_or("no error recorded")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a key is the key of, in words, where it decodes.
pub(crate) fn describe_key(key: &[u8]) -> Option<String> {
    use rockhold_format::AnyKey;
    Some(match AnyKey::decode(key).ok()? {
        AnyKey::Meta(m) => format!("meta record {}", m.name()),
        AnyKey::Name(n) => format!("name record {:?} (parent {})", n.name, n.parent),
        AnyKey::Class(c) => format!("class {} in namespace {}", c.class, c.ns),
        AnyKey::Object(o) => format!("object {} of class {} in namespace {}", o.id, o.class, o.ns),
        AnyKey::Locator(l) => format!("locator of object {} in namespace {}", l.id, l.ns),
        AnyKey::Hash(h) => match h.id {
            Some(id) => format!(
                "hash index entry of object {id}, class {}, index {}, namespace {}",
                h.class, h.index, h.ns
            ),
            None => format!(
                "unique hash index key {:#018x}, class {}, index {}, namespace {}",
                h.hash, h.class, h.index, h.ns
            ),
        },
        AnyKey::Ordered(r) => format!(
            "ordered index entry of class {}, index {}, namespace {}",
            r.class, r.index, r.ns
        ),
        AnyKey::Task(t) => format!(
            "task of class {}, index {}, namespace {}",
            t.class, t.index, t.ns
        ),
        AnyKey::Generation(g) => format!("generation marker of column family {}", g.cf),
        _ => return None,
    })
}

impl Error {
    /// Maps an error of a format-crate counter step (`CounterExhausted`).
    pub(crate) fn counter(e: rockhold_format::Error) -> Self {
        match e {
            rockhold_format::Error::CounterExhausted { counter } => {
                Error::CounterExhausted { counter }
            }
            other => Error::Inconsistent(other.to_string()),
        }
    }

    /// Maps an error of reading the format version record under `key`:
    /// a version number this build does not know is `UnsupportedVersion`,
    /// anything else (not a version record) is corruption.
    pub(crate) fn format_version(key: &[u8], e: rockhold_format::Error) -> Self {
        match e {
            rockhold_format::Error::UnknownFormatVersion(found) => Error::UnsupportedVersion {
                found,
                supported: FormatVersion::CURRENT,
            },
            other => Error::corruption(key, other),
        }
    }

    /// Why a database of format version `found`, not the current one, is
    /// not opened: `NeedsMigration` for a version `Db::migrate` rewrites
    /// (v1, v2), `UnsupportedVersion` for any other.
    pub(crate) fn version_refused(found: FormatVersion) -> Self {
        match found {
            older if older < FormatVersion::CURRENT => Error::NeedsMigration {
                found,
                supported: FormatVersion::CURRENT,
            },
            other => Error::UnsupportedVersion {
                found: other.as_u32(),
                supported: FormatVersion::CURRENT,
            },
        }
    }

    pub(crate) fn corruption(key: &[u8], source: rockhold_format::Error) -> Self {
        Error::Corruption {
            key: escape_key(key),
            decoded: describe_key(key),
            source,
        }
    }

    /// Whether the device ran out of space: `StorageFull`, or an I/O error
    /// of the OS saying so (files rockhold writes itself, such as the SST
    /// files of an index build).
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Error::StorageFull { .. })
    }

    /// An I/O error on `path`, naming it.
    /// A full device is `StorageFull`.
    pub(crate) fn io_at(path: &std::path::Path, e: std::io::Error) -> Self {
        let path = Some(path.to_path_buf());
        if e.kind() == std::io::ErrorKind::StorageFull {
            Error::StorageFull {
                path,
                source: Box::new(e),
            }
        } else {
            Error::Io {
                path,
                source: Box::new(e),
            }
        }
    }

    /// Whether the error was caused by the caller's input or a constraint
    /// (the database is unchanged), as opposed to data or storage trouble.
    pub fn is_caller_error(&self) -> bool {
        !matches!(
            self,
            Error::Corruption { .. }
                | Error::UnsupportedVersion { .. }
                | Error::NeedsMigration { .. }
                | Error::WritesLost { .. }
                | Error::NotADatabase { .. }
                | Error::Inconsistent(_)
                | Error::CounterExhausted { .. }
                | Error::ReindexFailed { .. }
                | Error::StorageCorruption { .. }
                | Error::StorageFull { .. }
                | Error::Io { .. }
                | Error::Storage { .. }
                | Error::Internal { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A corruption error named its key only as escaped bytes; it now says
    /// what the key is of, and keeps the bytes.
    #[test]
    fn corruption_names_the_decoded_key() {
        use rockhold_format::{ClassId, Key, NamespaceId, ObjectId, ObjectKey};
        let key = ObjectKey {
            ns: NamespaceId(3),
            class: ClassId(5),
            id: ObjectId(77),
        }
        .encode();
        let e = Error::corruption(&key, rockhold_format::Error::Malformed("x".into()));
        let text = e.to_string();
        assert!(
            text.contains("object 77 of class 5 in namespace 3"),
            "{text}"
        );
        assert!(text.contains(&escape_key(&key)), "{text}");
        let junk = Error::corruption(b"\xffjunk", rockhold_format::Error::Malformed("x".into()));
        assert!(matches!(junk, Error::Corruption { decoded: None, .. }));
    }
}

/// A reindex task as listed by [`crate::Db::tasks`] and named by
/// [`Error::ReindexFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The namespace of the class.
    pub namespace: String,
    /// The class.
    pub class: String,
    /// The index the task builds (its name; a one-field index is named
    /// after its field); `None` for a whole-class task.
    pub index: Option<String>,
    /// The persisted record: state, revision, attempts, cursor, counters.
    pub record: TaskRecord,
}
