DROP TABLE intake.rounds;
DROP TABLE intake.org_units;
