-- berth metadata, version 7: an image goes with its last artifact, and a repository may delete an
-- artifact's referrers with it (on by default). Never edit this file once shipped: add
-- 0008_….sql instead.
ALTER TABLE repositories ADD COLUMN delete_orphan_referrers boolean NOT NULL DEFAULT true;
-- Images emptied before this version: nothing refers to an image without artifacts or tags.
DELETE FROM images WHERE artifact_count = 0;
UPDATE repositories r SET image_count = (SELECT count(*) FROM images i WHERE i.repository = r.id);
