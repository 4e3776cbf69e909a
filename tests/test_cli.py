"""The command line: help everywhere, output formats, one-line errors and exit codes.

Databases are filled with the plain pipeline functions here; the Prefect-run ingest command is
covered in test_flow.py and test_main_job.py.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from flows.cli import app, main
from tests.conftest import ingest_plain

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(sqlite_url: str, seeds_dir: Path) -> str:
    from newsflow.pipeline import prepare_database, tagger_for

    ingest_plain(prepare_database(sqlite_url, tagger_for(None)), seeds_dir)
    return sqlite_url


def _commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, TyperGroup):
            found += _commands(command, (*prefix, name))
    return found


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(COMMANDS) >= {"ingest", "query", "show", "topics", "stats", "retag"}
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    commands = _commands(group)
    assert ("topics", "test") in dict(commands) and ("topics", "evaluate") in dict(commands)
    for path, command in commands:
        assert command.help and len(command.help) > 20, path
        code, out, _ = run(capsys, *path, "--help")
        assert code == 0 and "Usage:" in out, path
        # metavars are words a reader understands, never Python types
        assert "list[" not in out and "<class" not in out, out
        for param in command.params:
            if param.name not in {"help", "ctx"}:
                assert getattr(param, "help", None), f"{path} {param.name}"
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(name in out for name in COMMANDS)


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--limit", "zero"],
        ["query", "--format", "xml"],
        ["query", "--since", "last tuesday"],
        ["show", "abc"],
        ["nosuchcommand"],
        ["ingest"],
    ],
)
def test_bad_arguments_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("newsflow: error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err


def test_query_formats(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run(capsys, "query", "--db", db)
    assert code == 0 and "Russia and China Deepen" in out and "arms-control" in out
    code, out, _ = run(capsys, "query", "--db", db, "--format", "json", "--topic", "arms-control")
    rows = json.loads(out)
    assert [r["title"][:20] for r in rows] == ["Putin and Xi Jinping"]
    assert rows[0]["published"] == "2026-02-04T00:00:00+00:00"
    code, out, _ = run(capsys, "query", "--db", db, "--format", "jsonl", "--text", "reactors")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [1]
    code, out, _ = run(capsys, "query", "--db", db, "--format", "json", "--until", "2025-01-21")
    assert [r["id"] for r in json.loads(out)] == [1]  # a bare date includes that day
    code, out, _ = run(capsys, "query", "--db", db, "--format", "csv", "--since", "2026-01-01")
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["source"] == "seeds" and "russia-china" in row["topics"].split(";")
    code, out, _ = run(capsys, "query", "--db", db)
    assert "copy of" not in out
    code, out, err = run(capsys, "query", "--db", db, "--source", "nobody")
    assert code == 0 and "No articles match" in err


def test_show_explains_tags(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run(capsys, "show", "2", "--db", db)
    assert code == 0
    assert "arms-control (Arms control) score" in out
    assert "[disarmament]" in out and "cooccur  russia+china: " in out
    assert "Lin Jian, a spokesperson" in out  # the body follows
    code, out, _ = run(capsys, "show", "1", "--db", db, "--format", "json")
    data = json.loads(out)
    assert "arms-control" not in data["topics"] and data["tags"][0]["evidence"]


def test_topics_and_stats(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run(capsys, "topics", "--db", db, "--format", "json")
    counts = {t["slug"]: t["articles"] for t in json.loads(out)}
    assert (
        counts["russia-china"] == 2 and counts["arms-control"] == 1 and counts["ukraine-war"] == 0
    )
    code, out, _ = run(capsys, "topics", "--db", db)
    assert code == 0 and "Russia–China relations" in out
    code, out, _ = run(capsys, "stats", "--db", db, "--format", "json")
    assert json.loads(out)["articles"] == 2
    code, out, _ = run(capsys, "stats", "--db", db)
    assert "seeds 2" in out


def test_a_source_with_only_copies_is_listed(capsys: pytest.CaptureFixture[str], db: str) -> None:
    from newsflow.article import Article
    from newsflow.pipeline import ingest_batch, tagger_for
    from storage.db import open_database
    from storage.queries import get_article

    engine = open_database(db)
    seed = get_article(engine, 1)
    assert seed is not None
    copy = Article(source="wire", title="Wire copy", text=seed.text, origin="w.txt", guid="w-1")
    assert ingest_batch([copy], engine, tagger_for(None), None).duplicates == 1
    code, out, _ = run(capsys, "stats", "--db", db, "--format", "json")
    data = json.loads(out)
    assert (data["articles"], data["duplicates"]) == (2, 1)
    assert data["sources"] == {"seeds": 2, "wire": 0}
    assert data["source_copies"] == {"wire": 1}
    code, out, _ = run(capsys, "stats", "--db", db)
    assert "seeds 2, wire 0" in out and "source copies    wire 1" in out
    # its copies are hidden by default, and the listing says how to see them
    code, out, err = run(capsys, "query", "--db", db, "--source", "wire")
    assert code == 0 and out == ""
    assert "No articles match; copies of stored articles do (--include-duplicates" in err
    code, out, err = run(capsys, "query", "--db", db, "--source", "nobody")
    assert code == 0 and err == "No articles match.\n"
    code, out, _ = run(capsys, "query", "--db", db, "--source", "wire", "--include-duplicates")
    assert code == 0 and "Wire copy" in out and "copy of" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "99"], "no article with id 99"),
        (["query", "--topic", "cooking"], "unknown topic 'cooking'"),
        (["query", "--text", '""'], "no words"),
        (["query", "--since", "2026-02-01", "--until", "2025-01-01"], "--since must be earlier"),
    ],
)
def test_clear_errors_exit_1(
    capsys: pytest.CaptureFixture[str], db: str, args: list[str], message: str
) -> None:
    code, _out, err = run(capsys, *args, "--db", db)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_unreachable_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_DB_READ_RETRY_SECONDS", "0")  # no waiting for the closed port
    code, _, err = run(capsys, "stats", "--db", "mysql://root@127.0.0.1/x")
    assert code == 1 and "unsupported database" in err and "Traceback" not in err
    code, _, err = run(capsys, "stats", "--db", "postgresql://postgres@127.0.0.1:1/x")
    assert code == 1 and err.startswith("newsflow: error: cannot open postgresql")
    code, _, err = run(capsys, "query", "--db", f"sqlite:///{tmp_path}/no/such/dir.db")
    assert code == 1 and "no database at" in err and "newsflow ingest" in err


def test_read_commands_do_not_create_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/news.db"
    for args in (["query"], ["show", "1"], ["stats"]):
        code, _, err = run(capsys, *args, "--db", db)
        assert code == 1 and err.startswith("newsflow: error: no database at"), args
    code, out, _ = run(capsys, "topics", "--db", db, "--format", "json")
    assert code == 0 and {t["articles"] for t in json.loads(out)} == {0}
    assert not (tmp_path / "news.db").exists()


def test_ingest_checks_before_starting_prefect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "ingest", str(tmp_path / "missing"))
    assert code == 1 and "no such file or directory" in err
    bad = tmp_path / "tax.yaml"
    bad.write_text("version: 1\ntopics: {}\n")
    code, _, err = run(
        capsys,
        "ingest",
        str(tmp_path),
        "--taxonomy",
        str(bad),
        "--db",
        f"sqlite:///{tmp_path}/n.db",
    )
    assert code == 1 and "taxonomy" in err and "at least one topic" in err


def test_output_is_escaped(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path: Path
) -> None:
    from newsflow.pipeline import prepare_database, tagger_for

    (tmp_path / "a.txt").write_text("[bold red]Markup[/] <script>x</script>\n\nBody.")
    ingest_plain(prepare_database(sqlite_url, tagger_for(None)), tmp_path)
    _, out, _ = run(capsys, "query", "--db", sqlite_url)
    assert "[bold red]Markup[/]" in out
    _, out, _ = run(capsys, "show", "1", "--db", sqlite_url)
    assert "[bold red]Markup[/] <script>x</script>" in out


def test_version_and_bare_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("newsflow 0.")
    for args in ([], ["sources"]):
        code, _, err = run(capsys, *args)
        assert code == 2 and err.startswith("Usage: newsflow") and "\nCommands:\n" in err
