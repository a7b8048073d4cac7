//! The dynamic API's class handle: [`Class`], a class resolved once by
//! name, whose calls read and write by its ids.
//!
//! May call: `read` (the views), `txn` (staging and committing), `feed`,
//! `catalog`.

use rockhold_format::{ClassDef, FieldType, ObjectId, Value};

use crate::catalog::schema::paths::part_type;
use crate::catalog::schema::IndexState;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::feed::Watch;
use crate::read::{FindAll, FindPage, Object, RangeScan, ScanPage};
use crate::txn::{class_mismatch, collect_fields, ClassIds};

/// A class of the dynamic API, resolved once: its calls take field and
/// index names and [`Value`]s, but look neither the namespace nor the
/// class up again. Made by [`Db::class`]; cheap to clone. If the class is
/// dropped, its calls fail with `UnknownClass` (also when a class of the
/// same name is created since: class ids are never reused).
///
/// ```
/// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options, Value};
///
/// let db = Db::open_memory(&MemStore::new(), Options::default())?;
/// db.create_class("default", &ClassSpec::new("user")
///     .field(FieldSpec::new("email", FieldType::String).unique_hash()))?;
/// let users = db.class("default", "user")?;
/// let id = users.insert([("email", Value::from("ada@x.org"))])?;
/// assert_eq!(users.find_unique("email", &"ada@x.org".into())?, Some(id));
/// assert_eq!(users.get(id)?.and_then(|o| o.get("email").cloned()), Some("ada@x.org".into()));
/// assert_eq!(users.def()?.name, "user");
/// # Ok::<(), rockhold::Error>(())
/// ```
#[derive(Clone)]
pub struct Class {
    db: Db,
    namespace: String,
    ids: ClassIds,
}

impl std::fmt::Debug for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Class")
            .field("namespace", &self.namespace)
            .field("class", &self.ids)
            .finish()
    }
}

impl Db {
    /// The handle of class `class` of `namespace` (see [`Class`]);
    /// `UnknownNamespace` or `UnknownClass` when there is none.
    pub fn class(&self, namespace: &str, class: &str) -> Result<Class> {
        let cat = self.inner.catalog.load();
        let entry = cat.class(namespace, class)?;
        Ok(Class {
            db: self.clone(),
            namespace: namespace.to_string(),
            ids: ClassIds::of(entry, entry.def.name.clone()),
        })
    }
}

impl Class {
    /// The class's name.
    pub fn name(&self) -> &str {
        &self.ids.name
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The class's current definition.
    pub fn def(&self) -> Result<ClassDef> {
        Ok(self
            .db
            .inner
            .catalog
            .load()
            .class_at(self.ids.at())?
            .def
            .clone())
    }

    /// Inserts an object of this class; returns its id.
    pub fn insert<I, K, V>(&self, fields: I) -> Result<ObjectId>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        self.db
            .commit_one(|tx| tx.insert_in(self.ids.clone(), collect_fields(fields)))
    }

    /// The object `id`, or `None`; `ClassMismatch` when `id` is an object
    /// of another class.
    pub fn get(&self, id: ObjectId) -> Result<Option<Object>> {
        let view = self.db.view();
        // One read of the class's record; the locator only on a miss, to
        // tell an object of another class from none.
        let rec = match view.record_in(self.ids.ns, self.ids.class, id)? {
            Some(rec) => Some(rec),
            None => view.record(self.ids.ns, id)?,
        };
        match rec {
            None => Ok(None),
            Some(rec) if rec.class == self.ids.class => {
                let def = self.def()?;
                Ok(Some(crate::read::into_object(id, &def, rec)))
            }
            Some(rec) => Err(class_mismatch(
                &self.db.inner.catalog.load(),
                id,
                &self.ids.name,
                rec.class,
            )),
        }
    }

    /// Sets some fields of object `id` (`Value::Absent` clears an optional
    /// one); `ClassMismatch` when it is of another class.
    pub fn update<I, K, V>(&self, id: ObjectId, fields: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        self.db.inner.commit_one(|tx| {
            tx.update_in(self.ids.clone(), id, collect_fields(fields));
            Ok(())
        })
    }

    /// Deletes object `id` and its index entries; `ClassMismatch` when it
    /// is of another class.
    pub fn delete(&self, id: ObjectId) -> Result<()> {
        self.db.inner.commit_one(|tx| {
            tx.delete_in(self.ids.clone(), id);
            Ok(())
        })
    }

    /// The type of each part of index `index`, in key order (a
    /// multi-valued part's element type): what a lookup's value holds, one
    /// value per part (a compound index's value is the list of them).
    ///
    /// ```
    /// # use rockhold::{ClassSpec, Db, FieldSpec, FieldType, IndexKind, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("tags", FieldType::List(Box::new(FieldType::String)))
    ///         .index(IndexKind::Hash { unique: false })))?;
    /// let users = db.class("default", "user")?;
    /// assert_eq!(users.part_types("tags")?, vec![FieldType::String]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn part_types(&self, index: &str) -> Result<Vec<FieldType>> {
        let def = self.def()?;
        let Some(found) = def.index(index) else {
            return Err(Error::UnknownIndex {
                class: self.ids.name.to_string(),
                index: index.to_string(),
            });
        };
        found
            .parts
            .iter()
            .map(|path| {
                part_type(&def.fields, path).cloned().ok_or_else(|| {
                    Error::Inconsistent(format!(
                        "index {}.{index} has a part outside the class's schema",
                        self.ids.name
                    ))
                })
            })
            .collect()
    }

    /// The object holding `value` in a unique index, or `None`.
    pub fn find_unique(&self, index: &str, value: &Value) -> Result<Option<ObjectId>> {
        self.db.view().find_unique(self.ids.at(), index, value)
    }

    /// The object holding `value` in a unique index, in one read of its
    /// record.
    pub fn get_unique(&self, index: &str, value: &Value) -> Result<Option<Object>> {
        self.db.view().get_unique(self.ids.at(), index, value)
    }

    /// Every object holding `value` in an index, in id order.
    pub fn find_all(&self, index: &str, value: &Value) -> Result<Vec<ObjectId>> {
        self.db.view().find_all(self.ids.at(), index, value)
    }

    /// A page of the objects holding `value` in an index (see
    /// [`Db::find_page`]).
    pub fn find_page(&self, index: &str, value: &Value, find: &FindAll) -> Result<FindPage> {
        self.db.view().find_page(self.ids.at(), index, value, find)
    }

    /// A page of an ordered index scan.
    pub fn scan(&self, index: &str, scan: &RangeScan) -> Result<ScanPage> {
        self.db.view().scan(self.ids.at(), index, scan)
    }

    /// Up to `limit` objects in id order, after `after`.
    pub fn scan_objects(&self, after: Option<ObjectId>, limit: usize) -> Result<Vec<Object>> {
        self.db.view().scan_objects(self.ids.at(), after, limit)
    }

    /// The number of entries of an ordered index in the range of `scan`,
    /// from its keys alone (see [`crate::Db::count_range`]).
    pub fn count_range(&self, index: &str, scan: &RangeScan) -> Result<u64> {
        self.db.view().count_range(self.ids.at(), index, scan)
    }

    /// The number of objects of the class, counted from its record keys.
    pub fn count(&self) -> Result<u64> {
        self.db.view().count_class(self.ids.at())
    }

    /// Up to `limit` object ids in id order, after `after`.
    pub fn scan_ids(&self, after: Option<ObjectId>, limit: usize) -> Result<Vec<ObjectId>> {
        self.db.view().scan_class(self.ids.at(), after, limit)
    }

    /// Whether an index answers queries (see [`Db::index_state`]).
    pub fn index_state(&self, index: &str) -> Result<IndexState> {
        self.db.index_state_at(self.ids.at(), index)
    }

    /// The committed changes of this class's objects from now on (see
    /// [`Db::watch`]).
    pub fn watch(&self) -> Result<Watch> {
        self.db.watch_class(self.ids.at())
    }
}
