-- berth metadata, version 1. Never edit this file once shipped: add 0002_*.sql instead.
--
-- Conventions: times are integer unix milliseconds; digests, names and tags are text compared
-- bytewise (BINARY collation, the same order as Rust's `str`); sizes and counts are integers;
-- annotations are a JSON object in text. Tables are STRICT so a wrong type is an error, not a
-- silent conversion.

CREATE TABLE accounts (
    id      INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL,
    created INTEGER NOT NULL
) STRICT;

CREATE TABLE console_users (
    id            INTEGER PRIMARY KEY,
    account       INTEGER REFERENCES accounts (id),
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created       INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX console_users_by_username ON console_users (username);

CREATE TABLE api_tokens (
    token_hash  BLOB    PRIMARY KEY,
    user        INTEGER NOT NULL REFERENCES console_users (id),
    description TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX api_tokens_by_user ON api_tokens (user);

CREATE TABLE repositories (
    id      INTEGER PRIMARY KEY,
    account INTEGER NOT NULL REFERENCES accounts (id),
    name    TEXT    NOT NULL,
    access  TEXT    NOT NULL CHECK (access IN ('public', 'private')),
    quota   INTEGER CHECK (quota >= 0),
    -- Sum of the sizes of the rows of repository_digests, kept in step by every push and delete.
    used    INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    created INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX repositories_by_name ON repositories (name);
CREATE INDEX repositories_by_account ON repositories (account, name);

CREATE TABLE images (
    id             INTEGER PRIMARY KEY,
    repository     INTEGER NOT NULL REFERENCES repositories (id),
    name           TEXT    NOT NULL,
    -- `<repository>/<image>`: the catalog sorts by the whole name, which is not the order of
    -- (repository, name) when a repository name contains '-' or '.'.
    full_name      TEXT    NOT NULL,
    artifact_count INTEGER NOT NULL DEFAULT 0 CHECK (artifact_count >= 0),
    pull_count     INTEGER NOT NULL DEFAULT 0,
    last_push      INTEGER,
    last_pull      INTEGER
) STRICT;
CREATE UNIQUE INDEX images_by_repository ON images (repository, name);
CREATE UNIQUE INDEX images_by_full_name ON images (full_name);

CREATE TABLE artifacts (
    id            INTEGER PRIMARY KEY,
    image         INTEGER NOT NULL REFERENCES images (id),
    digest        TEXT    NOT NULL,
    media_type    TEXT    NOT NULL,
    artifact_type TEXT,
    manifest_size INTEGER NOT NULL,
    total_size    INTEGER NOT NULL,
    subject       TEXT,
    annotations   TEXT    NOT NULL DEFAULT '{}',
    pushed_at     INTEGER NOT NULL,
    pulled_at     INTEGER,
    pull_count    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX artifacts_by_digest ON artifacts (image, digest);
-- The console's listing: newest push first, ties by digest.
CREATE INDEX artifacts_by_pushed_at ON artifacts (image, pushed_at DESC, digest);
-- The referrers API: an image's artifacts with a given subject, by digest.
CREATE INDEX artifacts_by_subject ON artifacts (image, subject, digest) WHERE subject IS NOT NULL;

CREATE TABLE tags (
    image    INTEGER NOT NULL REFERENCES images (id),
    name     TEXT    NOT NULL,
    artifact INTEGER NOT NULL REFERENCES artifacts (id),
    PRIMARY KEY (image, name)
) STRICT, WITHOUT ROWID;
-- An artifact's tags, sorted, and the tags a delete removes.
CREATE INDEX tags_by_artifact ON tags (artifact, name);

-- What each artifact counts towards usage: its blobs and its own manifest, one row per digest.
CREATE TABLE artifact_digests (
    artifact INTEGER NOT NULL REFERENCES artifacts (id),
    digest   TEXT    NOT NULL,
    size     INTEGER NOT NULL,
    PRIMARY KEY (artifact, digest)
) STRICT, WITHOUT ROWID;

-- Per repository and digest: how many of the repository's artifacts reference it. A digest
-- counts towards usage while its row exists.
CREATE TABLE repository_digests (
    repository INTEGER NOT NULL REFERENCES repositories (id),
    digest     TEXT    NOT NULL,
    refs       INTEGER NOT NULL CHECK (refs > 0),
    PRIMARY KEY (repository, digest)
) STRICT, WITHOUT ROWID;

-- Per digest over all repositories: a blob with a row here is not a GC candidate.
CREATE TABLE digest_refs (
    digest TEXT    PRIMARY KEY,
    refs   INTEGER NOT NULL CHECK (refs > 0)
) STRICT, WITHOUT ROWID;

CREATE TABLE blobs (
    digest     TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX blobs_by_last_seen ON blobs (last_seen, digest);

-- Upload sessions name their image as text: a session may start before the repository exists
-- and is refused later, at commit.
CREATE TABLE uploads (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    started       INTEGER NOT NULL,
    last_activity INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX uploads_by_last_activity ON uploads (last_activity, id);

CREATE TABLE repository_users (
    id          INTEGER PRIMARY KEY,
    account     INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    secret_hash BLOB    NOT NULL,
    description TEXT    NOT NULL,
    expires     INTEGER,
    disabled    INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX repository_users_by_name ON repository_users (name);
CREATE INDEX repository_users_by_account ON repository_users (account, name);

CREATE TABLE repository_user_permissions (
    user       INTEGER NOT NULL REFERENCES repository_users (id),
    repository INTEGER NOT NULL REFERENCES repositories (id),
    permission TEXT    NOT NULL CHECK (permission IN ('pull', 'push_pull')),
    PRIMARY KEY (user, repository)
) STRICT, WITHOUT ROWID;
CREATE INDEX repository_user_permissions_by_repository
    ON repository_user_permissions (repository);

CREATE TABLE history (
    id         INTEGER PRIMARY KEY,
    repository INTEGER NOT NULL REFERENCES repositories (id),
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    image      TEXT,
    target     TEXT,
    detail     TEXT
) STRICT;
-- Newest first; events at the same millisecond in reverse order of recording.
CREATE INDEX history_by_repository ON history (repository, at DESC, id DESC);
