-- berth metadata, version 8: remote registries (the endpoints berth talks to as a client) and
-- proxy repositories, whose images are fetched from one. Never edit this file once shipped: add
-- 0009_*.sql instead.
CREATE TABLE remote_registries (
    id       INTEGER PRIMARY KEY,
    account  INTEGER NOT NULL REFERENCES accounts (id),
    name     TEXT    NOT NULL,
    url      TEXT    NOT NULL,
    username TEXT,
    -- Sealed by the engine with the configured key; never in clear.
    password BLOB,
    insecure INTEGER NOT NULL DEFAULT 0 CHECK (insecure IN (0, 1)),
    created  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX remote_registries_by_name ON remote_registries (account, name);

ALTER TABLE repositories ADD COLUMN proxy_registry INTEGER REFERENCES remote_registries (id);
ALTER TABLE repositories ADD COLUMN proxy_namespace TEXT;
CREATE INDEX repositories_by_proxy_registry ON repositories (proxy_registry)
    WHERE proxy_registry IS NOT NULL;
