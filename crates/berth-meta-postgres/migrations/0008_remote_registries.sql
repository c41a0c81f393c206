-- berth metadata, version 8: remote registries (the endpoints berth talks to as a client) and
-- proxy repositories, whose images are fetched from one. Never edit this file once shipped: add
-- 0009_*.sql instead.
CREATE TABLE remote_registries (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account  bigint NOT NULL REFERENCES accounts (id),
    name     text COLLATE "C" NOT NULL,
    url      text NOT NULL,
    username text,
    -- Sealed by the engine with the configured key; never in clear.
    password bytea,
    insecure boolean NOT NULL DEFAULT false,
    created  bigint NOT NULL,
    CONSTRAINT remote_registries_name_key UNIQUE (account, name)
);

ALTER TABLE repositories ADD COLUMN proxy_registry bigint REFERENCES remote_registries (id);
ALTER TABLE repositories ADD COLUMN proxy_namespace text;
CREATE INDEX repositories_by_proxy_registry ON repositories (proxy_registry)
    WHERE proxy_registry IS NOT NULL;
