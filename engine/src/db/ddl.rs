//! The facade: ddl.

use rockhold_format::ClassDef;

use crate::catalog::schema::{ClassSpec, FieldSpec, IndexSpec, IndexState};
use crate::catalog::ClassAt;
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// Creates a namespace. Names are 1–128 bytes without control characters.
    pub fn create_namespace(&self, name: &str) -> Result<()> {
        self.inner.changing(|cx, fx| cx.create_namespace(fx, name))
    }

    /// The names of every namespace, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        self.inner.namespaces()
    }

    /// Drops a namespace and everything in it: its classes, objects, indexes
    /// and tasks. Deletes exactly the namespace's own key ranges. The default
    /// namespace cannot be dropped.
    pub fn drop_namespace(&self, name: &str) -> Result<()> {
        self.inner.changing(|cx, fx| cx.drop_namespace(fx, name))
    }

    /// Creates a class in a namespace.
    pub fn create_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.create_class(fx, namespace, spec))
    }

    /// Changes a class to match `spec` (same name), adding and changing
    /// but never removing: fields are matched by name, new ones added with
    /// fresh ids; a field may become optional, and required only while the
    /// class has no objects (`RequiredFieldOnNonEmptyClass`, also for a new
    /// required field); its type changes only by additions (a new enum
    /// variant, a new optional struct member, a member made optional; any
    /// other change is `FieldTypeChange`, saying what changed). Indexes
    /// are matched by name: new ones are added, and one whose kind or parts
    /// differ from the stored one is rebuilt under a new id (its old entries
    /// deleted). A field or index the class has and the spec leaves out is
    /// refused with `ImplicitRemoval`, nothing changed: remove it with
    /// [`Db::drop_field`] / [`Db::drop_index`], or give the spec to
    /// [`Db::replace_class`].
    ///
    /// An index added to a class that has objects gets a `Pending` reindex
    /// task in the same batch and answers `IndexNotReady` until it is built;
    /// writes maintain it from this commit on. A spec that changes nothing
    /// writes nothing and returns the stored definition.
    pub fn update_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.update_class(fx, namespace, spec))
    }

    /// Changes a class to match `spec` exactly, as [`Db::update_class`]
    /// does, except that it **removes what the spec leaves out**: every
    /// field the spec does not name, with its values (they are no longer
    /// read; a field added again later gets a fresh id and starts empty),
    /// and every index the spec does not declare, with its index entries.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let full = ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash())
    ///     .field(FieldSpec::new("nick", FieldType::String).optional());
    /// db.create_class("default", &full)?;
    /// let email_only = ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash());
    /// // update_class refuses to drop `nick` implicitly; replace_class drops it.
    /// assert!(matches!(db.update_class("default", &email_only),
    ///                  Err(rockhold::Error::ImplicitRemoval { .. })));
    /// let def = db.replace_class("default", &email_only)?;
    /// assert!(def.field("nick").is_none());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn replace_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.replace_class(fx, namespace, spec))
    }

    /// Adds a field to a class. Refuses a name the class already has
    /// (`DuplicateName`), and a required field while the class has objects
    /// (`RequiredFieldOnNonEmptyClass`: they have no value for it). A field
    /// declared with its own index (`FieldSpec::hash` …) gets it too; it is
    /// complete at once (no object holds a value yet).
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String)))?;
    /// db.insert("default", "user", [("email", "a@x")])?;
    /// let def = db.add_field("default", "user",
    ///     FieldSpec::new("nick", FieldType::String).optional().hash())?;
    /// assert!(def.field("nick").is_some() && def.index("nick").is_some());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn add_field(&self, namespace: &str, class: &str, field: FieldSpec) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.add_field(fx, namespace, class, field))
    }

    /// Adds an index to a class. Refuses a name the class already has
    /// (`DuplicateName`) and parts that do not resolve (`InvalidIndex`).
    /// On a class with objects, a `Pending` reindex task is queued in the
    /// same batch: queries on the index answer `IndexNotReady` until the
    /// runner (or [`Db::check_reindex_tasks`]) has built it; writes
    /// maintain it from this commit on.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, IndexKind, IndexSpec, MemStore,
    ///                Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String)))?;
    /// let a = db.insert("default", "user", [("email", "a@x")])?;
    /// db.add_index("default", "user",
    ///     IndexSpec::new("by_email", IndexKind::Hash { unique: true }, ["email"]))?;
    /// db.check_reindex_tasks()?; // wait for the build
    /// assert_eq!(db.find_unique("default", "user", "by_email", &"a@x".into())?, Some(a));
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn add_index(&self, namespace: &str, class: &str, index: IndexSpec) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.add_index(fx, namespace, class, index))
    }

    /// **Destructive**: drops an index of a class and deletes its entries
    /// (a build task of it is marked `Remove`). `index` is the index's name
    /// (a field's own index is named after the field; the field stays).
    /// An unknown name is `UnknownIndex`.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash()))?;
    /// let def = db.drop_index("default", "user", "email")?;
    /// assert!(def.index("email").is_none() && def.field("email").is_some());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn drop_index(&self, namespace: &str, class: &str, index: &str) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.drop_index(fx, namespace, class, index))
    }

    /// **Destructive**: drops a field of a class, and with it **every index
    /// that reads the field** (its own, and any compound or nested-path
    /// index with a part in it), their entries deleted. The objects' values
    /// of the field are no longer read; a field added again under the same
    /// name gets a fresh id and starts empty. An unknown name is
    /// `UnknownField`. The definition returned lists what is left.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, IndexKind, IndexSpec, MemStore,
    ///                Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash())
    ///     .field(FieldSpec::new("age", FieldType::U64).optional())
    ///     .index(IndexSpec::new("by_age_email", IndexKind::Ordered { unique: false },
    ///                           ["age", "email"])))?;
    /// let def = db.drop_field("default", "user", "age")?;
    /// assert!(def.field("age").is_none());
    /// assert!(def.index("by_age_email").is_none()); // it read `age`
    /// assert!(def.index("email").is_some());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn drop_field(&self, namespace: &str, class: &str, field: &str) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.drop_field(fx, namespace, class, field))
    }

    /// Makes sure a class fits `spec` (a model's schema), changing it only
    /// by additions, and returns its definition:
    ///
    /// - a namespace that does not exist is created, then the class;
    /// - a class that does not exist is created from `spec` (a class made
    ///   by ingest, still provisional, adopts `spec` as `create_class` does);
    /// - otherwise the stored class is compared with `spec`: new fields
    ///   (optional ones, or required ones while the class has no objects),
    ///   new indexes (built by the runner when the class has objects), a
    ///   stored required field the spec declares optional, and an optional
    ///   one it declares required while the class has no objects, and a
    ///   field type the spec adds to (a new enum variant, a new optional
    ///   struct member, a member made optional, at any depth) are applied
    ///   in one change, through the same path as `update_class`.
    ///   What the spec leaves out or narrows is kept: a stored optional
    ///   field (also one the spec declares required while the class has
    ///   objects: an older model from before it was made optional), a
    ///   stored index, a variant or optional member of a stored type (an
    ///   older model fits the evolved class). Nothing else is changed: a
    ///   field whose type differs otherwise (the error says where inside
    ///   it), a new required field (or struct member) on a class with
    ///   objects, a stored required field the spec lacks (objects
    ///   written by the model would have no value for it) and an index of
    ///   the same name with another kind or parts are `ModelMismatch`
    ///   naming the field (or index), nothing written.
    ///
    /// A spec the class already fits writes nothing (the revision stays).
    /// Callers racing to create the same class all succeed with the one
    /// created.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let v1 = ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String));
    /// let def = db.ensure_class("default", &v1)?;          // created
    /// assert_eq!(db.ensure_class("default", &v1)?, def);    // unchanged
    /// db.insert("default", "user", [("email", "a@x")])?;
    /// let v2 = v1.clone().field(FieldSpec::new("nick", FieldType::String).optional().hash());
    /// let def2 = db.ensure_class("default", &v2)?;          // an additive change
    /// assert_eq!(def2.revision, def.revision + 1);
    /// let retyped = ClassSpec::new("user").field(FieldSpec::new("email", FieldType::I64));
    /// assert!(matches!(db.ensure_class("default", &retyped),
    ///                  Err(rockhold::Error::ModelMismatch { field, .. }) if field == "email"));
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn ensure_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.inner
            .changing(|cx, fx| cx.ensure_class(fx, namespace, spec))
    }

    /// Every class of a namespace, sorted by name.
    pub fn classes(&self, namespace: &str) -> Result<Vec<ClassDef>> {
        self.inner.classes(namespace)
    }

    /// Whether an index answers queries (`index` is its name; a one-field
    /// index declared on a field is named after the field). A name that is
    /// a field without an index is `IndexState::None`.
    pub fn index_state(&self, namespace: &str, class: &str, index: &str) -> Result<IndexState> {
        self.inner.index_state(namespace, class, index)
    }

    /// `index_state` of the class `at` names.
    pub(crate) fn index_state_at(&self, at: ClassAt<'_>, index: &str) -> Result<IndexState> {
        self.inner.index_state_at(at, index)
    }
}
