-- berth metadata, version 9: replication rules, their executions and the executions' tasks.
-- Never edit this file once shipped: add 0010_*.sql instead.
CREATE TABLE replication_rules (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account            bigint NOT NULL REFERENCES accounts (id),
    name               text COLLATE "C" NOT NULL,
    direction          text NOT NULL CHECK (direction IN ('push', 'pull')),
    registry           bigint NOT NULL REFERENCES remote_registries (id),
    source             text NOT NULL,
    destination        text NOT NULL,
    tag_filter         text,
    trigger            text NOT NULL CHECK (trigger IN ('manual', 'event', 'schedule')),
    -- The interval of a schedule, in seconds.
    every_secs         bigint,
    delete_propagation boolean NOT NULL,
    copy_referrers     boolean NOT NULL,
    enabled            boolean NOT NULL,
    -- Bytes per second; NULL for no limit.
    bandwidth_limit    bigint,
    created            bigint NOT NULL,
    -- When the scheduler last started an execution (compare-and-set by the scheduler).
    scheduled          bigint,
    CONSTRAINT replication_rules_name_key UNIQUE (account, name)
);
CREATE INDEX replication_rules_by_registry ON replication_rules (registry);

CREATE TABLE replication_executions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        bigint NOT NULL REFERENCES replication_rules (id),
    trigger     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    planned     boolean NOT NULL,
    started     bigint NOT NULL,
    finished    bigint,
    total       bigint NOT NULL DEFAULT 0,
    copied      bigint NOT NULL DEFAULT 0,
    skipped     bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL DEFAULT 0,
    error       text,
    -- The node running it and until when; a lapsed lease may be claimed by any node.
    lease_owner text,
    lease_until bigint
);
CREATE INDEX replication_executions_by_rule ON replication_executions (rule, id);
CREATE INDEX replication_executions_running ON replication_executions (id)
    WHERE status = 'running';

CREATE TABLE replication_tasks (
    execution bigint NOT NULL REFERENCES replication_executions (id),
    seq       bigint NOT NULL,
    image     text NOT NULL,
    reference text NOT NULL,
    action    text NOT NULL CHECK (action IN ('copy', 'delete')),
    state     text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'copied', 'skipped', 'failed')),
    bytes     bigint,
    error     text,
    PRIMARY KEY (execution, seq)
);
