"""`newsflow optimize`: the full-text index merged, the planner's statistics gathered, and a
SQLite file made with 4 KB pages rewritten with 16 KB ones, its articles and searches intact;
a file another process has open is left as it was, with a clear error."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import make_url

from flows.cli import main
from newsflow import api
from newsflow.errors import DatabaseError
from newsflow.pipeline import prepare_database, tagger_for
from storage.db import PAGE_SIZE, close_all
from storage.queries import ArticleQuery
from tests.conftest import ingest_plain
from tests.test_faults import make_corpus


def _stored(url: str, corpus: Path) -> None:
    ingest_plain(prepare_database(url, tagger_for(None)), corpus)
    close_all()


def _old_file(tmp_path: Path) -> str:
    """A newsflow database made before new files got 16 KB pages: SQLite's 4 KB ones."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as plain:
        plain.execute("PRAGMA page_size=4096")
        plain.execute("VACUUM")  # an empty file takes the page size now
    url = f"sqlite:///{path}"
    _stored(url, make_corpus(tmp_path / "corpus", 30))
    return url


def _page_size(url: str) -> int:
    with closing(sqlite3.connect(str(make_url(url).database))) as plain:
        return int(plain.execute("PRAGMA page_size").fetchone()[0])


def _search(url: str) -> list[tuple[int, str]]:
    rows = api.find_articles(ArticleQuery(text="report", limit=100), url)
    return [(row.id, row.title) for row in rows]


def test_an_old_sqlite_file_is_rewritten_with_16_kb_pages(tmp_path: Path) -> None:
    url = _old_file(tmp_path)
    before = _search(url)
    assert _page_size(url) == 4096 and len(before) == 30

    result = api.optimize_database(url)
    close_all()
    assert result.steps == [
        "merged the full-text index",
        "gathered the query planner's statistics",
        "rewrote the file with 16 KB pages",
    ]
    assert (result.page_size_before, result.page_size) == (4096, PAGE_SIZE)
    assert _page_size(url) == PAGE_SIZE
    assert _search(url) == before  # the same articles, found the same way
    assert api.database_stats(url).articles == 30
    with closing(sqlite3.connect(str(make_url(url).database))) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert plain.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0

    again = api.optimize_database(url)  # pages right: no rewrite unless asked
    close_all()
    assert "rewrote the file" not in " ".join(again.steps)
    forced = api.optimize_database(url, vacuum=True)
    close_all()
    assert forced.steps[-1] == "rewrote the file" and _search(url) == before


def test_a_file_another_process_has_open_is_left_as_it_was(tmp_path: Path) -> None:
    url = _old_file(tmp_path)
    path = str(make_url(url).database)
    with closing(sqlite3.connect(path)) as other:
        other.execute("SELECT count(*) FROM articles").fetchone()  # a reader keeps it open
        with pytest.raises(DatabaseError, match="another process has it open"):
            api.optimize_database(url)
    close_all()
    assert _page_size(url) == 4096 and len(_search(url)) == 30
    with closing(sqlite3.connect(path)) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.postgres
def test_postgres_tables_are_vacuumed_and_analysed(postgres_url: str, tmp_path: Path) -> None:
    _stored(postgres_url, make_corpus(tmp_path / "corpus", 5))
    result = api.optimize_database(postgres_url)
    assert result.steps == ["vacuumed and analysed articles, article_topics, topics, sources"]
    assert result.page_size is None and len(_search(postgres_url)) == 5


def test_the_command_says_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _old_file(tmp_path)
    assert main(["optimize", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Rewrote the file with 16 KB pages." in out and "16 KB pages, in" in out
    assert main(["optimize", "--db", url, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["page_size"] == PAGE_SIZE and data["steps"][0] == "merged the full-text index"
    close_all()
