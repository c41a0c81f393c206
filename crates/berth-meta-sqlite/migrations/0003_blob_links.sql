-- Which repositories a blob is readable through: the ones it was uploaded or mounted into.
CREATE TABLE blob_links (
    repository INTEGER NOT NULL REFERENCES repositories (id),
    digest     TEXT    NOT NULL,
    PRIMARY KEY (repository, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_links_by_digest ON blob_links (digest);
