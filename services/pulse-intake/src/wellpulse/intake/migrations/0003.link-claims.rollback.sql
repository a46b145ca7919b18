ALTER TABLE intake.links DROP CONSTRAINT links_spent_unclaimed;
ALTER TABLE intake.links DROP COLUMN claimed_at;
