-- berth metadata, version 5: revocable console credentials, and upload sessions that belong to a
-- repository's identity and count against its quota. Never edit this file once shipped: add
-- 0006_….sql instead.

-- A disabled console user cannot log in and holds no sessions or tokens.
ALTER TABLE console_users ADD COLUMN disabled boolean NOT NULL DEFAULT false;

-- Console sessions, by the SHA-256 of the random id the browser holds: logging out deletes the
-- row, and a password change, disable or delete removes all of a user's rows.
CREATE TABLE console_sessions (
    id_hash      bytea  PRIMARY KEY,
    console_user bigint NOT NULL REFERENCES console_users (id),
    created      bigint NOT NULL,
    expires      bigint NOT NULL
);
CREATE INDEX console_sessions_console_user ON console_sessions (console_user, created);

-- Upload sessions name the repository by id (one deleted and created again under the same name
-- cannot continue them) and note the bytes they hold (counted against the quota). A session
-- whose repository is gone is dropped (garbage collection removes its bytes as a session
-- storage holds and metadata does not know).
ALTER TABLE uploads
    ADD COLUMN repository bigint REFERENCES repositories (id),
    ADD COLUMN received bigint NOT NULL DEFAULT 0 CHECK (received >= 0);
UPDATE uploads u SET repository = r.id
    FROM repositories r WHERE r.name = split_part(u.name, '/', 1);
DELETE FROM uploads WHERE repository IS NULL;
ALTER TABLE uploads ALTER COLUMN repository SET NOT NULL;
-- create_upload's count and upload_usage; the foreign key's lookups.
CREATE INDEX uploads_repository ON uploads (repository, id);
