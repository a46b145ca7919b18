-- depends: 0002.roster-and-links
-- A link being sent: one submission claims it in one statement, publishes with no row lock and no
-- pooled connection held, then spends it (or releases the claim if the broker refused). A claim
-- older than the publish timeout may be taken again, after a crash between publish and spend.
-- The claim's time is finer than the day, so it lives only as long as the claim: spending or
-- releasing the link clears it, and a spent link never keeps one.

ALTER TABLE intake.links ADD COLUMN claimed_at timestamptz;
ALTER TABLE intake.links ADD CONSTRAINT links_spent_unclaimed CHECK (spent_on IS NULL OR claimed_at IS NULL);
