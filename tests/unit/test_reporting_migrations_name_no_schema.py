"""Reporting's migrations name no schema: ``wellpulse-reporting rebuild`` applies the very same
files to ``reporting_rebuild`` (yoyo sets ``search_path`` to the schema being migrated), so a
``reporting.`` in one would create or change the live table while a rebuild builds its copy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wellpulse.reporting.app import MIGRATIONS

QUALIFIED = re.compile(r"\breporting\s*\.\s*[a-z_\"]", re.IGNORECASE)
FILES = sorted(MIGRATIONS.glob("*.sql"))


def test_there_are_migrations_to_check() -> None:
    assert len(FILES) >= 4  # 0001 and 0002, each with its rollback


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_migration_leaves_the_schema_to_search_path(path: Path) -> None:
    sql = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
    found = QUALIFIED.findall(sql)
    assert not found, (
        f"{path.name} names the reporting schema ({found}): write `CREATE TABLE sessions`, not "
        "`CREATE TABLE reporting.sessions`; the rebuild migrates a copy of the schema with these files"
    )


def test_the_check_catches_a_qualified_name() -> None:
    assert QUALIFIED.search("CREATE TABLE reporting.sessions (id uuid)")
    assert QUALIFIED.search('ALTER TABLE Reporting."own_rollups" ADD x int')
    assert not QUALIFIED.search("CREATE TABLE sessions (id uuid); -- reporting's")
