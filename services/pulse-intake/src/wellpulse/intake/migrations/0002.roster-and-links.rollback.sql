DROP TABLE intake.signposts;
ALTER TABLE intake.rounds DROP COLUMN closed_on;
ALTER TABLE intake.rounds DROP COLUMN links_issued;
DROP TABLE intake.links;
DROP TABLE intake.roster;
