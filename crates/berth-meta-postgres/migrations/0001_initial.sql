-- berth metadata, version 1. Never edit this file once shipped: add 0002_….sql instead.
--
-- Conventions: ids are bigint identities (accounts carry the operator's id); times are bigint
-- Unix milliseconds; digests, names and tags are text in the "C" collation, so that ordering is
-- byte order, as the OCI tag list and catalog (and the in-memory reference) sort them; sizes and
-- counts are bigint (never negative).

CREATE TABLE accounts (
    id      bigint PRIMARY KEY,
    name    text   NOT NULL,
    created bigint NOT NULL
);

CREATE TABLE console_users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account       bigint REFERENCES accounts (id),
    username      text COLLATE "C" NOT NULL,
    password_hash text   NOT NULL,
    created       bigint NOT NULL,
    CONSTRAINT console_users_username_key UNIQUE (username)
);

CREATE TABLE api_tokens (
    token_hash   bytea  PRIMARY KEY,
    console_user bigint NOT NULL REFERENCES console_users (id),
    description  text   NOT NULL,
    created      bigint NOT NULL,
    expires      bigint
);
CREATE INDEX api_tokens_console_user ON api_tokens (console_user);

CREATE TABLE repositories (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account bigint NOT NULL REFERENCES accounts (id),
    name    text COLLATE "C" NOT NULL,
    access  text   NOT NULL CHECK (access IN ('public', 'private')),
    -- NULL: no limit.
    quota   bigint CHECK (quota >= 0),
    -- Sum of the sizes of the distinct digests in artifact_refs for this repository; changed only
    -- while this row is locked (FOR UPDATE), which is what makes the quota check race-free.
    used    bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    created bigint NOT NULL,
    CONSTRAINT repositories_name_key UNIQUE (name)
);
-- list_repositories: an account's repositories by name.
CREATE INDEX repositories_account_name ON repositories (account, name);

CREATE TABLE images (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository     bigint NOT NULL REFERENCES repositories (id),
    name           text COLLATE "C" NOT NULL,
    -- `<repository>/<name>`: the key every lookup by OCI name uses, and the catalog's order
    -- (which is not the order of (repository, name): '-' sorts before '/').
    full_name      text COLLATE "C" NOT NULL,
    artifact_count bigint NOT NULL DEFAULT 0 CHECK (artifact_count >= 0),
    pull_count     bigint NOT NULL DEFAULT 0 CHECK (pull_count >= 0),
    last_push      bigint,
    last_pull      bigint,
    -- list_images: a repository's images by name.
    CONSTRAINT images_repository_name_key UNIQUE (repository, name),
    CONSTRAINT images_full_name_key UNIQUE (full_name)
);

CREATE TABLE artifacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image         bigint NOT NULL REFERENCES images (id),
    digest        text COLLATE "C" NOT NULL,
    media_type    text   NOT NULL,
    artifact_type text,
    manifest_size bigint NOT NULL CHECK (manifest_size >= 0),
    total_size    bigint NOT NULL CHECK (total_size >= 0),
    subject       text COLLATE "C",
    annotations   jsonb  NOT NULL DEFAULT '{}',
    pushed_at     bigint NOT NULL,
    pulled_at     bigint,
    pull_count    bigint NOT NULL DEFAULT 0 CHECK (pull_count >= 0),
    CONSTRAINT artifacts_image_digest_key UNIQUE (image, digest)
);
-- list_artifacts: newest first, ties by digest.
CREATE INDEX artifacts_image_pushed_at ON artifacts (image, pushed_at DESC, digest);
-- referrers.
CREATE INDEX artifacts_image_subject ON artifacts (image, subject, digest) WHERE subject IS NOT NULL;

-- The distinct digests (blobs and its own manifest) an artifact counts towards its repository's
-- usage. The repository is repeated here so that the two reference counts are index probes:
-- (repository, digest) for usage, (digest) for garbage collection. Counting rows instead of
-- keeping counters avoids a hot counter row per popular base layer shared by every repository.
CREATE TABLE artifact_refs (
    artifact   bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    repository bigint NOT NULL REFERENCES repositories (id),
    digest     text COLLATE "C" NOT NULL,
    size       bigint NOT NULL CHECK (size >= 0),
    PRIMARY KEY (artifact, digest)
);
CREATE INDEX artifact_refs_repository_digest ON artifact_refs (repository, digest);
CREATE INDEX artifact_refs_digest ON artifact_refs (digest);

CREATE TABLE tags (
    image    bigint NOT NULL REFERENCES images (id),
    name     text COLLATE "C" NOT NULL,
    artifact bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    -- list_tags: keyset `n`/`last` by (image, name).
    PRIMARY KEY (image, name)
);
-- An artifact's tags (artifact reads and deletes).
CREATE INDEX tags_artifact ON tags (artifact, name);

CREATE TABLE blobs (
    digest     text COLLATE "C" PRIMARY KEY,
    size       bigint NOT NULL CHECK (size >= 0),
    first_seen bigint NOT NULL,
    last_seen  bigint NOT NULL
);
-- unreferenced_blobs: oldest first.
CREATE INDEX blobs_last_seen ON blobs (last_seen, digest);

CREATE TABLE uploads (
    id            text COLLATE "C" PRIMARY KEY,
    name          text   NOT NULL,
    started       bigint NOT NULL,
    last_activity bigint NOT NULL
);
-- idle_uploads.
CREATE INDEX uploads_last_activity ON uploads (last_activity, id);

CREATE TABLE repository_users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account     bigint NOT NULL REFERENCES accounts (id),
    name        text COLLATE "C" NOT NULL,
    secret_hash bytea   NOT NULL,
    description text    NOT NULL,
    expires     bigint,
    disabled    boolean NOT NULL DEFAULT false,
    created     bigint  NOT NULL,
    CONSTRAINT repository_users_name_key UNIQUE (name)
);
-- list_repository_users: an account's users by name.
CREATE INDEX repository_users_account_name ON repository_users (account, name);

CREATE TABLE repository_user_permissions (
    repository_user bigint NOT NULL REFERENCES repository_users (id) ON DELETE CASCADE,
    repository      bigint NOT NULL REFERENCES repositories (id),
    permission      text   NOT NULL CHECK (permission IN ('pull', 'push_pull')),
    PRIMARY KEY (repository_user, repository)
);
-- Who may use a repository (and the foreign key's own lookups).
CREATE INDEX repository_user_permissions_repository ON repository_user_permissions (repository);

CREATE TABLE history (
    -- Ties at the same millisecond list newest first by insertion order.
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository bigint NOT NULL REFERENCES repositories (id),
    at         bigint NOT NULL,
    actor      text   NOT NULL,
    action     text   NOT NULL,
    image      text,
    target     text,
    detail     text
);
-- history: a repository's events, newest first.
CREATE INDEX history_repository_at ON history (repository, at DESC, id DESC);
