"""Hostile text is shown and exported as written, and never reaches SQL as code.

Titles and sources with Rich markup, HTML, SQL, pipes, line breaks and ANSI escapes go through
``query`` (table, CSV, JSON), ``show``, ``stats`` and the ingest run's Markdown artifact; search
strings with quotes, semicolons and FTS operators go through ``query --text`` on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from flows.cli import main
from flows.reporting import report_markdown
from newsflow.escape import markdown_cell
from newsflow.pipeline import ingest_batch, tagger_for
from parsers import iter_path
from storage import models

HOSTILE_TITLES = [
    "[red]x[/red] and [/] and [bold]",
    "<script>alert(1)</script>",
    "'; DROP TABLE articles; --",
    "a | b | c",
    "\x1b[31mred\x1b[0m title",
]
HOSTILE_SOURCE = "[bold]wire[/bold] | <b>"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def hostile(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "hostile.jsonl"
    records = [
        {
            "id": f"h{n}",
            "title": title,
            "source": HOSTILE_SOURCE,
            "text": f"Story {n} about [italic]markup[/italic], <b>tags</b> and 'quotes'; "
            f"-- and | pipes, number {n} of {len(HOSTILE_TITLES)}.",
            "url": f"https://example.org/story-{n}?q=';--",
        }
        for n, title in enumerate(HOSTILE_TITLES)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    result = ingest_batch(list(iter_path(path)), engine, tagger_for(None), None)
    assert result.new == len(HOSTILE_TITLES)
    # A title stored by other means may still hold an escape sequence: output must drop it.
    with Session(engine) as session, session.begin():
        session.execute(
            update(models.Article)
            .where(models.Article.guid == "h4")
            .values(title="\x1b[31mred\x1b[0m title\x07")
        )
    return engine


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def stored_titles(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(models.Article.title).order_by(models.Article.id)))


def test_parsed_titles_keep_markup_and_lose_control_characters(hostile: Engine) -> None:
    titles = stored_titles(hostile)
    assert titles[:4] == HOSTILE_TITLES[:4]
    assert titles[4] == "\x1b[31mred\x1b[0m title\x07"  # as planted above
    with Session(hostile) as session:
        assert session.scalars(select(models.Source.name)).all() == [HOSTILE_SOURCE]


def test_show_prints_titles_and_text_as_written(
    hostile: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(hostile) as session:
        ids = session.scalars(select(models.Article.id).order_by(models.Article.id)).all()
    for article_id, title in zip(ids, HOSTILE_TITLES, strict=True):
        code, out, err = run(capsys, "show", str(article_id), "--db", _url(hostile))
        assert code == 0, err
        first = out.splitlines()[0]
        assert first == title.replace("\x1b", ""), first
        assert "\x1b" not in out and "\x07" not in out
        assert "[italic]markup[/italic]" in out and HOSTILE_SOURCE in out


def test_query_table_does_not_read_markup(
    hostile: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "query", "--db", _url(hostile), "--limit", "10")
    assert code == 0, err
    assert "\x1b" not in out
    flat = re.sub(r"[\s│|]+", "", out)  # cells fold long titles over several lines
    assert "[red]x[/red]" in flat and "[/]" in flat and "<script>" in flat


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_exports_keep_titles_exactly(
    hostile: Engine, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, err = run(capsys, "query", "--db", _url(hostile), "--format", fmt, "--limit", "10")
    assert code == 0, err
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    elif fmt == "json":
        rows = json.loads(out)
    else:
        rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["title"] for r in rows) == sorted(stored_titles(hostile))
    assert {r["source"] for r in rows} == {HOSTILE_SOURCE}


def test_stats_prints_source_names_as_written(
    hostile: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "stats", "--db", _url(hostile))
    assert code == 0, err
    assert f"{HOSTILE_SOURCE} 5" in out


def test_markdown_artifact_cells_stay_in_their_table() -> None:
    errors = [
        ("in/a|b.txt", "line one\nline two | <script>alert(1)</script>"),
        ("in/\x1b[2Jc.txt", "[red]x[/red] [click](http://example.org)"),
    ]
    report = report_markdown("ingest run #1", [], [], errors)
    table = report.split("| input | error |")[1].strip().splitlines()
    for line in table[1:]:
        assert len(re.findall(r"(?<!\\)\|", line)) == 3, line
        assert "<script>" not in line and "\x1b" not in line and "](" not in line
    assert table[1] == (
        "| in/a\\|b.txt | line one line two \\| \\<script\\>alert\\(1\\)\\</script\\> |"
    )
    assert markdown_cell("[red]x[/red]") == "\\[red\\]x\\[/red\\]"


SEARCHES = [
    '"unterminated',
    "'; DROP TABLE articles; --",
    "story; DELETE FROM articles",
    "markup OR",
    "OR",
    "-story",
    "NEAR(story markup)",
    "story*",
    "title:story",
    '"quotes" AND -"pipes"',
    "^story",
    "\\",
    "%",
    "story\x00",
]


def test_searches_with_quotes_semicolons_and_operators(
    hostile: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(hostile)
    for search in SEARCHES:
        code, out, err = run(capsys, "query", "--db", url, "--text", search, "--format", "json")
        if code == 0:
            assert isinstance(json.loads(out), list), search
        else:
            assert code == 1 and "has no words to look for" in err, (search, err)
        assert "unexpected error" not in err
    code, out, err = run(capsys, "query", "--db", url, "--text", "story markup", "--format", "json")
    assert code == 0 and len(json.loads(out)) == len(HOSTILE_TITLES)
    code, out, err = run(capsys, "query", "--db", url, "--source", "'; DROP TABLE articles; --")
    assert code == 0 and "No articles match." in err
    code, out, err = run(capsys, "query", "--db", url, "--topic", "x'; DROP TABLE topics; --")
    assert code == 1 and "unknown topic" in err
    with Session(hostile) as session:  # everything still there
        assert session.scalar(select(func.count()).select_from(models.Article)) == 5
        assert (session.scalar(select(func.count()).select_from(models.Topic)) or 0) > 0
