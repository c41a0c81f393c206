-- Blobs a collector forgot and whose bytes it is deleting: recording one again is refused until
-- the collector finishes (see MetadataStore::forget_blob).
CREATE TABLE blob_tombstones (
    digest TEXT    PRIMARY KEY,
    since  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
