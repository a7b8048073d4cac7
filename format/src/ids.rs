//! Typed integer ids. Names of namespaces and classes are interned to these so
//! that keys stay short (see docs/FORMAT.md, "Names").

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The id as its integer.
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Id of a namespace. `0` is the default namespace, which always exists.
    NamespaceId(u32)
);
id_type!(
    /// Id of a class, unique in the database (not only in its namespace).
    ClassId(u32)
);
id_type!(
    /// Id of a field inside its class. Starts at 1 and is never reused after the
    /// field is removed; `0` names the class as a whole in task keys.
    FieldId(u32)
);
id_type!(
    /// Id of a secondary index inside its class. Starts at 1 and is never
    /// reused after the index is dropped; `0` names the class as a whole in
    /// task keys.
    IndexId(u32)
);
id_type!(
    /// Id of an object: assigned by the engine, monotonic, never reused.
    ObjectId(u64)
);

impl NamespaceId {
    /// The default namespace, present in every database.
    pub const DEFAULT: NamespaceId = NamespaceId(0);
}

impl IndexId {
    /// The pseudo-index that names a whole class in a task key.
    pub const WHOLE_CLASS: IndexId = IndexId(0);
}
