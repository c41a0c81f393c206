//! A `MetadataStore` on SQLite: berth's embedded, zero-configuration default for metadata.
