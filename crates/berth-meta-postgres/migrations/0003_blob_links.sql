-- Which repositories a blob is readable through: the ones it was uploaded or mounted into.
CREATE TABLE blob_links (
    repository bigint NOT NULL REFERENCES repositories (id),
    digest     text COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX blob_links_by_digest ON blob_links (digest);
