DROP TABLE team_benchmarks;
