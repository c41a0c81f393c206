-- berth metadata, version 9: replication rules, their executions and the executions' tasks.
-- Never edit this file once shipped: add 0010_*.sql instead.
CREATE TABLE replication_rules (
    id                 INTEGER PRIMARY KEY,
    account            INTEGER NOT NULL REFERENCES accounts (id),
    name               TEXT    NOT NULL,
    direction          TEXT    NOT NULL CHECK (direction IN ('push', 'pull')),
    registry           INTEGER NOT NULL REFERENCES remote_registries (id),
    source             TEXT    NOT NULL,
    destination        TEXT    NOT NULL,
    tag_filter         TEXT,
    trigger            TEXT    NOT NULL CHECK (trigger IN ('manual', 'event', 'schedule')),
    -- The interval of a schedule, in seconds.
    every_secs         INTEGER,
    delete_propagation INTEGER NOT NULL CHECK (delete_propagation IN (0, 1)),
    copy_referrers     INTEGER NOT NULL CHECK (copy_referrers IN (0, 1)),
    enabled            INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    -- Bytes per second; NULL for no limit.
    bandwidth_limit    INTEGER,
    created            INTEGER NOT NULL,
    -- When the scheduler last started an execution (compare-and-set by the scheduler).
    scheduled          INTEGER
) STRICT;
CREATE UNIQUE INDEX replication_rules_by_name ON replication_rules (account, name);
CREATE INDEX replication_rules_by_registry ON replication_rules (registry);

CREATE TABLE replication_executions (
    id          INTEGER PRIMARY KEY,
    rule        INTEGER NOT NULL REFERENCES replication_rules (id),
    trigger     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    planned     INTEGER NOT NULL CHECK (planned IN (0, 1)),
    started     INTEGER NOT NULL,
    finished    INTEGER,
    total       INTEGER NOT NULL DEFAULT 0,
    copied      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    bytes       INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    -- The node running it and until when; a lapsed lease may be claimed by any node.
    lease_owner TEXT,
    lease_until INTEGER
) STRICT;
CREATE INDEX replication_executions_by_rule ON replication_executions (rule, id);
CREATE INDEX replication_executions_running ON replication_executions (id)
    WHERE status = 'running';

CREATE TABLE replication_tasks (
    execution INTEGER NOT NULL REFERENCES replication_executions (id),
    seq       INTEGER NOT NULL,
    image     TEXT    NOT NULL,
    reference TEXT    NOT NULL,
    action    TEXT    NOT NULL CHECK (action IN ('copy', 'delete')),
    state     TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'copied', 'skipped', 'failed')),
    bytes     INTEGER,
    error     TEXT,
    PRIMARY KEY (execution, seq)
) STRICT, WITHOUT ROWID;
