-- berth metadata, version 4: what the management API counts and lists. Never edit this file once
-- shipped: add 0005_….sql instead.

-- How many images a repository holds: raised by the push that creates an image, under the
-- repository's row lock like `used`. Images are never removed on their own (only with their
-- repository), so nothing lowers it.
ALTER TABLE repositories
    ADD COLUMN image_count bigint NOT NULL DEFAULT 0 CHECK (image_count >= 0);
UPDATE repositories r
    SET image_count = (SELECT count(*) FROM images i WHERE i.repository = r.id);

-- list_console_users: an account's console users, or the administrators (account IS NULL), by
-- username.
CREATE INDEX console_users_account_username ON console_users (account, username);

-- list_api_tokens: a user's tokens newest first, ties by hash (and the foreign key's lookups).
DROP INDEX api_tokens_console_user;
CREATE INDEX api_tokens_console_user ON api_tokens (console_user, created DESC, token_hash);
