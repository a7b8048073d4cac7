//! The facade: watch.

use crate::catalog::ClassAt;
use crate::db::Db;
use crate::error::Result;
use crate::feed::{Filter, Watch};

impl Db {
    /// Watches the changes committed from now on to the objects of
    /// `namespace`, of one class (`Some(name)`) or of all of them (`None`).
    /// Fails with `UnknownNamespace` or `UnknownClass`. See [`Watch`] for
    /// what it delivers; a class's objects removed with its namespace are
    /// not reported as deletes.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, MemStore, Options};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("a").field(FieldSpec::new("v", FieldType::U64)))?;
    /// db.create_class("default", &ClassSpec::new("b").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut only_b = db.watch("default", Some("b"))?;
    /// db.insert("default", "a", [("v", 1u64)])?;
    /// let b = db.insert("default", "b", [("v", 2u64)])?;
    /// assert_eq!(only_b.recv()?.id, b);
    /// assert!(matches!(db.watch("default", Some("c")), Err(Error::UnknownClass { .. })));
    /// assert!(matches!(db.watch("nope", None), Err(Error::UnknownNamespace { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch(&self, namespace: &str, class: Option<&str>) -> Result<Watch> {
        let cat = self.inner.catalog.load();
        let ns = cat.namespace_id(namespace)?;
        let class = match class {
            Some(name) => Some(cat.class(namespace, name)?.def.id),
            None => None,
        };
        Ok(self.subscribe(Filter {
            ns: Some(ns),
            class,
        }))
    }

    /// Watches the changes of the class a handle resolved.
    pub(crate) fn watch_class(&self, at: ClassAt<'_>) -> Result<Watch> {
        let cat = self.inner.catalog.load();
        let entry = cat.class_at(at)?;
        Ok(self.subscribe(Filter {
            ns: Some(entry.ns),
            class: Some(entry.def.id),
        }))
    }

    /// Watches the changes committed from now on to every object of every
    /// namespace. See [`Watch`].
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_namespace("other")?;
    /// db.create_class("other", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut all = db.watch_all();
    /// db.insert("other", "n", [("v", 1u64)])?;
    /// assert_eq!(all.recv()?.namespace, "other");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch_all(&self) -> Watch {
        self.subscribe(Filter {
            ns: None,
            class: None,
        })
    }

    fn subscribe(&self, filter: Filter) -> Watch {
        crate::feed::watch(&self.inner.feed, filter)
    }
}
