-- berth metadata, version 5: revocable console credentials, and upload sessions that belong to a
-- repository's identity and count against its quota. Never edit this file once shipped: add
-- 0006_*.sql instead.

-- A disabled console user cannot log in and holds no sessions or tokens.
ALTER TABLE console_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

-- Console sessions, by the SHA-256 of the random id the browser holds: logging out deletes the
-- row, and a password change, disable or delete removes all of a user's rows.
CREATE TABLE console_sessions (
    id_hash BLOB    PRIMARY KEY,
    user    INTEGER NOT NULL REFERENCES console_users (id),
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX console_sessions_by_user ON console_sessions (user, created);

-- Upload sessions name the repository by id (one deleted and created again under the same name
-- cannot continue them) and note the bytes they hold (counted against the quota). Nothing
-- refers to uploads, so the table is rebuilt; a session whose repository is gone is dropped
-- (garbage collection removes its bytes as a session storage holds and metadata does not know).
CREATE TABLE uploads_v5 (
    id            TEXT    PRIMARY KEY,
    repository    INTEGER NOT NULL REFERENCES repositories (id),
    name          TEXT    NOT NULL,
    received      INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
    started       INTEGER NOT NULL,
    last_activity INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO uploads_v5 (id, repository, name, received, started, last_activity)
    SELECT u.id, r.id, u.name, 0, u.started, u.last_activity
    FROM uploads u
    JOIN repositories r ON r.name = substr(u.name, 1, instr(u.name || '/', '/') - 1);
DROP TABLE uploads;
ALTER TABLE uploads_v5 RENAME TO uploads;
CREATE INDEX uploads_by_last_activity ON uploads (last_activity, id);
CREATE INDEX uploads_by_repository ON uploads (repository, id);
