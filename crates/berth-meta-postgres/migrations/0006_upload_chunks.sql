-- berth metadata, version 6: whether an upload session's last chunk was shorter than the blob
-- store's minimum chunk (OCI-Chunk-Min-Length), so that another chunk after it is refused on any
-- node. Never edit this file once shipped: add 0007_….sql instead.
ALTER TABLE uploads ADD COLUMN short_chunk boolean NOT NULL DEFAULT false;
