//! A `MetadataStore` on PostgreSQL, shared by every node of a scaled-out berth.
