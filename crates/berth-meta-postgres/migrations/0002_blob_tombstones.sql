-- Blobs a collector forgot and whose bytes it is deleting: recording one again is refused until
-- the collector finishes (see MetadataStore::forget_blob).
CREATE TABLE blob_tombstones (
    digest text COLLATE "C" PRIMARY KEY,
    since  bigint NOT NULL
);
