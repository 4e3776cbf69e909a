"""The ``newsflow`` command: a thin layer over :mod:`newsflow.api` and the ingest flow."""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from typer.core import TyperArgument, TyperCommand
from typer.exceptions import TyperException

from newsflow import api
from newsflow.article import document_of
from newsflow.errors import DatabaseError, NewsflowError
from newsflow.escape import TerminalText as Text  # no markup, no control characters
from newsflow.pipeline import IngestSummary
from parsers.dates import parse_date
from storage.errors import DatabaseBusy
from storage.queries import ArticleQuery, ArticleRow
from storage.retry import lock_wait_listener, retry_listener

if TYPE_CHECKING:
    from newsflow.backfill import BackfillSummary
    from newsflow.polling import PollSummary

app = typer.Typer(
    name="newsflow",
    help="Ingest news articles, tag them with topics and query the stored database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
# Piped or redirected, lines are written whole (no wrapping at Rich's 80-column default);
# on a terminal, Rich wraps them to its width. Tables keep their layout either way.
out.soft_wrap = not out.is_terminal
err.soft_wrap = not err.is_terminal


def _show_version(value: bool) -> None:
    if value:
        from newsflow import __version__

        sys.stdout.write(f"newsflow {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Ingest news articles, tag them with topics and query the stored database."""


class _NamedArgument(TyperArgument):
    """An argument shown in help by its metavar alone (``PATH...``)."""

    def display_type_rich(self, ctx: object) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return f"{self.metavar}..." if self.nargs != 1 else str(self.metavar)


class _Command(TyperCommand):
    """A command whose help shows its arguments with a metavar by that name alone: Typer adds
    the Python type (``PATH... <list[Path]>``), which means nothing to a reader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument and param.metavar:
                param.__class__ = _NamedArgument


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    jsonl = "jsonl"


class DocFormat(StrEnum):
    text = "text"
    json = "json"


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL or SQLite path [env: NEWSFLOW_DATABASE_URL; "
        "default: sqlite:///newsflow.db]",
        show_default=False,
    ),
]


def _date(value: str | None, flag: str, *, whole_day: bool = False) -> datetime | None:
    """A date option; with ``whole_day``, a bare YYYY-MM-DD means the end of that day."""
    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise typer.BadParameter(
            f"{value!r} is not a date (use YYYY-MM-DD or ISO 8601)", param_hint=flag
        )
    if whole_day and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return parsed + timedelta(days=1)  # the query's bound is exclusive
    return parsed


RERUN_HINT = (
    "The run is recorded as failed; the batches stored before the failure are kept and the "
    "failed batch was not stored: run the same command again to ingest the rest "
    "(articles already stored are skipped)"
)


P = ParamSpec("P")
R = TypeVar("R")


def _reading(command: Callable[P, R]) -> Callable[P, R]:
    """A read-only command: when its database is locked or unreachable, one line on stderr
    says so as the first retry starts (then it retries for ``db_read_retry_seconds``)."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with retry_listener(_said_once("retrying for up to {seconds:g} s")):
            return command(*args, **kwargs)

    return run


def _said_once(then: str) -> Callable[[DatabaseBusy, float], None]:
    """A wait listener that puts its first error on stderr, followed by ``then`` (formatted
    with the wait's budget, ``seconds``), and stays silent afterwards, whichever threads (a
    flow's tasks) call it."""
    told = False
    lock = threading.Lock()

    def tell(error: DatabaseBusy, seconds: float) -> None:
        nonlocal told
        with lock:
            if told:
                return
            told = True
        _error(f"{error}; {then.format(seconds=seconds)}")

    return tell


@contextmanager
def _flow_runs(verbose: bool, flow_module: str) -> Iterator[None]:
    """Prefect set up for flow runs from the command line: quiet, offline, and with a local
    server of its own session when none is configured (see flows/local_server.py), stopped on
    the way out, after an interrupted run has been recorded. ``flow_module``, the flows' module,
    is imported first, while a server started early (flows/entry.py) is still starting."""
    from flows.runtime import configure_prefect

    configure_prefect(verbose)
    importlib.import_module(flow_module)
    from flows.local_server import server_for_runs

    with server_for_runs():
        yield


def _interrupted(what_is_kept: str) -> typer.Exit:
    """Ctrl-C during a flow run: one line, exit code 130."""
    sys.stderr.write(f"newsflow: interrupted; {what_is_kept}\n")
    return typer.Exit(130)


INTERRUPTED_INGEST = "the batches stored before are kept, and the same command stores the rest"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _write_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, never styled or wrapped."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=256,
        help="Processes that parse, extract and tag articles (default: one per CPU; 1: all in "
        "this process); started only for inputs bigger than one batch, or polls with a few "
        "seconds of such work [env: NEWSFLOW_WORKERS].",
        show_default=False,
    ),
]


@app.command(cls=_Command)
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Files or directories to read (.txt, .html, .json articles; .jsonl dumps; "
            ".warc/.warc.gz archives).",
            show_default=False,
        ),
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            help="Sources file (YAML): poll its feeds that are due and store their articles.",
        ),
    ] = None,
    feeds: Annotated[
        bool, typer.Option("--feeds", help="Poll the due feeds stored with `sources add`.")
    ] = False,
    db: DbOption = None,
    taxonomy: Annotated[
        Path | None, typer.Option(help="Taxonomy YAML [env: NEWSFLOW_TAXONOMY]")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Articles per batch (task).")
    ] = None,
    workers: WorkersOption = None,
    output: Annotated[DocFormat, typer.Option("--format", help="Summary format.")] = DocFormat.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Read, clean, deduplicate, tag and store articles, as a Prefect flow run."""
    paths = paths or []
    if not paths and sources is None and not feeds:
        raise typer.BadParameter(
            "name files or directories, --sources FILE or --feeds", param_hint="PATH"
        )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise NewsflowError(f"no such file or directory: {', '.join(missing)}")
    if sources is not None or feeds:
        _poll(paths, sources, db, taxonomy, output, verbose, batch_size, workers)
        return
    from newsflow.pipeline import prepare_database, start_workers_for, tagger_for
    from newsflow.settings import load_settings

    # Fail fast, before Prefect starts, on a bad database URL or taxonomy.
    settings = load_settings(
        database_url=db, taxonomy=taxonomy, batch_size=batch_size, workers=workers
    )
    prepare_database(settings.database_url, tagger_for(settings.taxonomy))
    # a big input's worker processes start while Prefect does (the flow's pool takes them)
    start_workers_for(paths, settings)

    started = time.monotonic()
    try:
        with _flow_runs(verbose, "flows.ingest"):
            from flows.ingest import ingest_flow

            summary: IngestSummary = ingest_flow(
                [str(p) for p in paths],
                database_url=settings.database_url,
                taxonomy=str(settings.taxonomy) if settings.taxonomy else None,
                batch_size=settings.batch_size,
                workers=settings.workers,
            )
    except DatabaseError as exc:
        raise DatabaseError(f"{exc}. {RERUN_HINT}") from None
    except KeyboardInterrupt:
        raise _interrupted(INTERRUPTED_INGEST) from None
    seconds = time.monotonic() - started  # what the user waited, Prefect start-up included
    if output is DocFormat.json:
        _write_json({**summary.as_dict(), "seconds": round(seconds, 3)})
    else:
        _print_summary(summary, seconds)
    if summary.errors:
        raise typer.Exit(1)


def _print_topics_and_errors(
    topics: Sequence[tuple[str, int]], errors: Sequence[tuple[str, str]]
) -> None:
    if topics:
        out.print(f"  topics (new and updated): {' · '.join(f'{k} {v}' for k, v in topics)}")
    for origin, message in errors[:20]:
        err.print(Text(f"  skipped {origin}: {message}"))
    if len(errors) > 20:
        err.print(f"  … and {len(errors) - 20} more errors (see `newsflow stats`)")


def _print_summary(summary: IngestSummary, seconds: float) -> None:
    t = summary.totals
    where = ", ".join(summary.inputs)
    if t.new == t.updated == t.duplicates == 0 and not summary.errors:
        skipped = f" and {_count(t.no_text, 'page')} with no article text" if t.no_text else ""
        out.print(
            Text(
                f"Read {_count(t.read, 'article')}{skipped} from {where}: nothing new, "
                f"all {t.unchanged} already stored in {summary.database} (run #{summary.run_id})."
            )
        )
        return
    out.print(
        Text(f"Ingested {where} into {summary.database} (run #{summary.run_id}, {seconds:.1f} s)")
    )
    no_text = f" · no article text {t.no_text}" if t.no_text else ""
    out.print(
        f"  read {summary.read} · new {t.new} · updated {t.updated} · "
        f"duplicates {t.duplicates} · unchanged {t.unchanged} · errors {t.errors}{no_text}"
    )
    _print_topics_and_errors(summary.topics, summary.errors)


def _poll(
    paths: list[Path],
    sources: Path | None,
    db: str | None,
    taxonomy: Path | None,
    output: DocFormat,
    verbose: bool,
    batch_size: int | None = None,
    workers: int | None = None,
) -> None:
    """``ingest --sources/--feeds``: the files first (if any), then the due feeds."""
    from newsflow.pipeline import prepare_database, tagger_for
    from newsflow.polling import feeds_to_poll, start_workers_for_poll
    from newsflow.settings import load_settings
    from newsflow.sources import load_sources

    settings = load_settings(
        database_url=db, taxonomy=taxonomy, batch_size=batch_size, workers=workers
    )
    if sources is not None:
        load_sources(sources)  # fail fast, before Prefect starts, on a bad sources file
    tagger = tagger_for(settings.taxonomy)
    engine = prepare_database(settings.database_url, tagger)
    taxonomy_file = str(settings.taxonomy) if settings.taxonomy else None
    # without files the feeds' due list is read once, here; after files, again (time passed)
    due = None if paths else feeds_to_poll(engine, tagger, sources)
    if paths or due:
        from flows.local_server import start_early

        start_early(services=False)  # a flow will run: its server starts while Prefect loads
    if due:
        start_workers_for_poll(due, settings)  # many feeds: their workers start meanwhile too

    started = time.monotonic()
    failed = False
    results: list[dict[str, Any]] = []
    with ExitStack() as prefect:  # Prefect starts only when there is a flow to run
        try:
            if paths:
                prefect.enter_context(_flow_runs(verbose, "flows.ingest"))
                from flows.ingest import ingest_flow

                files: IngestSummary = ingest_flow(
                    [str(p) for p in paths],
                    database_url=settings.database_url,
                    taxonomy=taxonomy_file,
                    batch_size=settings.batch_size,
                    workers=settings.workers,
                )
                failed = bool(files.errors)
                results.append(files.as_dict())
                if output is DocFormat.text:
                    _print_summary(files, time.monotonic() - started)
            if due is None:
                due = feeds_to_poll(engine, tagger, sources)
            if not due:
                stored = feeds_to_poll(engine, tagger, sources, due_only=False)
                if output is DocFormat.json:
                    results.append({"feeds": [], "due": 0, "configured": len(stored)})
                else:
                    upcoming = min((f.next_poll_at for f in stored if f.next_poll_at), default=None)
                    when = f"; the next is due at {upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else ""
                    out.print(f"No feeds are due ({len(stored)} configured{when}).", soft_wrap=True)
            else:
                if not paths:
                    prefect.enter_context(_flow_runs(verbose, "flows.poll"))
                from flows.poll import poll_flow

                started_feeds = time.monotonic()
                summary: PollSummary = poll_flow(
                    str(sources) if sources else None,
                    database_url=settings.database_url,
                    taxonomy=taxonomy_file,
                    workers=settings.workers,
                )
                failed = failed or bool(summary.errors)
                results.append(summary.as_dict())
                if output is DocFormat.text:
                    _print_poll(summary, time.monotonic() - started_feeds)
        except KeyboardInterrupt:
            prefect.close()  # the local server stops before the line is written
            raise _interrupted(INTERRUPTED_INGEST) from None
    if output is DocFormat.json:
        seconds = round(time.monotonic() - started, 3)
        _write_json({**results[0], "seconds": seconds} if len(results) == 1 else results)
    if failed:
        raise typer.Exit(1)


def _print_poll(summary: PollSummary, seconds: float) -> None:
    t = summary.totals
    states = {"ok": 0, "not-modified": 0, "error": 0}
    for feed in summary.feeds:
        states[feed.outcome] = states.get(feed.outcome, 0) + 1
    out.print(
        Text(
            f"Polled {len(summary.feeds)} feeds into {summary.database} "
            f"(run #{summary.run_id}, {seconds:.1f} s): {states['ok']} ok · "
            f"{states['not-modified']} not modified · {states['error']} failed"
        ),
        soft_wrap=True,
    )
    out.print(
        f"  read {summary.read} · new {t.new} · updated {t.updated} · "
        f"duplicates {t.duplicates} · unchanged {t.unchanged} · errors {t.errors}"
    )
    if summary.topics:
        out.print(
            f"  topics (new and updated): {' · '.join(f'{k} {v}' for k, v in summary.topics)}"
        )
    for feed in summary.feeds:
        if feed.error:
            err.print(Text(f"  feed {feed.name} failed: {feed.error}"), soft_wrap=True)
    problems = [(p.origin, p.message) for f in summary.feeds for p in f.problems]
    for origin, message in problems[:20]:
        err.print(Text(f"  skipped {origin}: {message}"), soft_wrap=True)
    if len(problems) > 20:
        err.print(f"  … and {len(problems) - 20} more errors (see `newsflow stats`)")


sources_app = typer.Typer(
    help="Manage the feeds stored in the database (add, list, remove).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(sources_app, name="sources")


@sources_app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="Feed name: the source of its articles.")],
    url: Annotated[str, typer.Argument(help="Feed URL (RSS, Atom or JSON Feed).")],
    interval: Annotated[
        str | None,
        typer.Option(help="Poll interval: seconds, or 30m, 2h, 1d [default: poll_interval]."),
    ] = None,
    full_text: Annotated[
        bool, typer.Option("--full-text", help="Fetch each linked page for its full text.")
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TOPIC", help="Topic given to every article (repeatable)."),
    ] = None,
    taxonomy: Annotated[
        Path | None, typer.Option(help="Taxonomy YAML [env: NEWSFLOW_TAXONOMY]")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Edit this sources file instead of the database (rewritten: comments go).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add a feed to the database (or a sources file); `ingest` and `serve` poll it."""
    from newsflow.sources import make_source

    try:
        source = make_source(name, url, interval, full_text, tag or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if file is not None:
        api.add_feed_to_file(file, source, str(taxonomy) if taxonomy else None)
        out.print(Text(f"Added feed {source.name} ({source.url}) to {file}."), soft_wrap=True)
        return
    record = api.add_feed(source, db, str(taxonomy) if taxonomy else None)
    out.print(Text(f"Added feed {record.name} ({record.url})."), soft_wrap=True)


@sources_app.command("list")
@_reading
def sources_list(
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
    file: Annotated[
        Path | None, typer.Option("--file", help="List this sources file's feeds instead.")
    ] = None,
    db: DbOption = None,
) -> None:
    """List the stored feeds with their state: last poll, errors, next poll."""
    if file is not None:
        _print_sources_file(file, output)
        return
    records = api.list_feeds(db)
    if output is DocFormat.json:
        _write_json([r.as_dict() for r in records])
        return
    if not records:
        err.print("No feeds (add one with `newsflow sources add NAME URL`).")
        return
    table = Table()
    for column in ("name", "url", "every", "last poll", "status", "errors", "next poll"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            Text(r.name),
            Text(r.url),
            f"{r.poll_interval}s" if r.poll_interval else "default",
            f"{r.last_polled_at:%Y-%m-%d %H:%M}" if r.last_polled_at else "never",
            Text(f"{r.last_outcome or '-'} {r.last_status or ''}".strip()),
            Text(f"{r.error_count}: {r.last_error}" if r.error_count else "0"),
            f"{r.next_poll_at:%Y-%m-%d %H:%M}" if r.next_poll_at else "now",
        )
    out.print(table)


def _print_sources_file(file: Path, output: DocFormat) -> None:
    """``sources list --file``: the file's feeds as configured, as a table or JSON."""
    from newsflow.sources import load_sources

    configured = load_sources(file)
    if output is DocFormat.json:
        _write_json([s.as_dict() for s in configured])
        return
    if not configured:
        err.print(
            Text(f"No feeds in {file} (add one with `newsflow sources add NAME URL --file`).")
        )
        return
    table = Table()
    for column in ("name", "url", "every", "full text", "tags"):
        table.add_column(column, overflow="fold")
    for s in configured:
        table.add_row(
            Text(s.name),
            Text(s.url),
            f"{s.poll_interval}s" if s.poll_interval else "default",
            "yes" if s.fetch_full_text else "no",
            Text(", ".join(s.tags)),
        )
    out.print(table)


@sources_app.command("remove")
def sources_remove(
    name: Annotated[str, typer.Argument(help="Name of the feed to stop polling.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Edit this sources file instead of the database (rewritten: comments go).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Remove a feed from the database (or a sources file); its articles are kept."""
    if file is not None:
        from newsflow.sources import remove_from_file

        removed = remove_from_file(file, name)
        out.print(Text(f"Removed feed {removed.name} ({removed.url}) from {file}."), soft_wrap=True)
        return
    record = api.remove_feed(name, db)
    out.print(
        Text(f"Removed feed {record.name} ({record.url}); its articles are kept."), soft_wrap=True
    )


@app.command(cls=_Command)
def serve(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Files or directories the ingest flow reads each run [setting: serve_paths].",
            show_default=False,
        ),
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            help="Sources file (YAML) the poll flow polls [setting: serve_sources]; with "
            "neither paths nor sources, the stored feeds.",
        ),
    ] = None,
    interval: Annotated[
        int | None,
        typer.Option(
            min=10,
            help="Seconds between runs [setting: schedule_interval; default: 300].",
            show_default=False,
        ),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(
            help="Cron expression (UTC) for the runs, instead of an interval "
            "[setting: schedule_cron].",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    taxonomy: Annotated[
        Path | None, typer.Option(help="Taxonomy YAML [env: NEWSFLOW_TAXONOMY]")
    ] = None,
    workers: WorkersOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Serve the ingest and/or poll flow on a schedule until stopped (Ctrl-C or SIGTERM)."""
    from newsflow.pipeline import prepare_database, tagger_for
    from newsflow.settings import load_settings
    from newsflow.sources import load_sources

    settings = load_settings(database_url=db, taxonomy=taxonomy)
    from flows.runtime import configure_prefect

    configure_prefect(verbose)
    from flows.serving import serve_plan

    try:
        plan = serve_plan(settings, paths or [], sources, interval, cron)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cron") from None
    missing = [p for p in plan.paths if not Path(p).exists()]
    if missing:
        raise NewsflowError(f"no such file or directory: {', '.join(missing)}")
    if plan.sources is not None:
        load_sources(Path(plan.sources))
    prepare_database(settings.database_url, tagger_for(settings.taxonomy))
    from flows.local_server import local_prefect_server
    from flows.serving import exit_on_sigterm

    exit_on_sigterm()
    with local_prefect_server() as started:
        from flows.serving import deployments, serve_until_stopped

        served = deployments(
            plan,
            settings.database_url,
            str(settings.taxonomy) if settings.taxonomy else None,
            workers,
        )
        if started:
            where = f"a local Prefect server at {started}"
        else:
            from prefect.settings import get_current_settings

            where = f"the Prefect server at {get_current_settings().api.url}"
        out.print(
            f"Serving {plan.describe()} on {where} (Ctrl-C stops).",
            soft_wrap=True,
        )
        sys.stdout.flush()
        serve_until_stopped(served)


def _print_rows(rows: Sequence[ArticleRow], fmt: ListFormat) -> None:
    records = [row.as_dict() for row in rows]
    if fmt is ListFormat.json:
        _write_json(records)
    elif fmt is ListFormat.jsonl:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif fmt is ListFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(ArticleRow.__dataclass_fields__), lineterminator="\n"
        )
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "topics": ";".join(record["topics"])})
        sys.stdout.write(buffer.getvalue())
    else:
        if not rows:
            err.print("No articles match.")
            return
        table = Table(show_lines=False, expand=False)
        table.add_column("id", justify="right", no_wrap=True)
        table.add_column("published", no_wrap=True, min_width=10)
        table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=16)
        table.add_column("title", overflow="fold")
        table.add_column("topics", overflow="fold", max_width=30)
        copies = any(row.duplicate_of for row in rows)
        if copies:
            table.add_column("copy of", justify="right", no_wrap=True)
        for row in rows:
            cells: list[str | Text] = [
                str(row.id),
                row.published.date().isoformat() if row.published else "",
                Text(row.source),
                Text(row.title),
                Text(", ".join(row.topics)),
            ]
            table.add_row(*cells, *([str(row.duplicate_of or "")] if copies else []))
        out.print(table)


@app.command()
@_reading
def query(
    topic: Annotated[
        str | None, typer.Option(help="Only articles tagged with this topic slug.")
    ] = None,
    text: Annotated[
        str | None, typer.Option(help='Full-text search: words, "phrases", OR, -word.')
    ] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Published on or before (YYYY-MM-DD, that whole day; or a timestamp)."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only articles from this source.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many articles.")] = 20,
    include_duplicates: Annotated[bool, typer.Option(help="Also list stored copies.")] = False,
    output: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.table,
    db: DbOption = None,
) -> None:
    """List stored articles, newest first (best match first with --text)."""
    spec = ArticleQuery(
        topic=topic,
        text=text,
        since=_date(since, "--since"),
        until=_date(until, "--until", whole_day=True),
        source=source,
        limit=limit,
        include_duplicates=include_duplicates,
    )
    rows = api.find_articles(spec, db)
    if not rows and output is ListFormat.table and api.copies_match(spec, db):
        err.print(
            "No articles match; copies of stored articles do (--include-duplicates lists them)."
        )
        return
    _print_rows(rows, output)


@app.command()
@_reading
def show(
    article_id: Annotated[int, typer.Argument(metavar="ID", help="Article id (from `query`).")],
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
    db: DbOption = None,
) -> None:
    """Print one article with its topics and the evidence for each."""
    detail = api.get_article(article_id, db)
    if output is DocFormat.json:
        _write_json(detail.as_dict())
        return
    row = detail.row
    out.print(Text(row.title, style="bold"))
    meta = [
        f"id {row.id}",
        f"source {row.source}",
        f"published {row.published.isoformat() if row.published else 'unknown'}",
        f"language {row.language or 'unknown'}",
        f"{detail.word_count} words",
    ]
    out.print(Text(" · ".join(meta)))
    if row.url:
        out.print(Text(row.url))
    if row.duplicate_of:
        out.print(f"duplicate of article {row.duplicate_of}")
    if detail.copies:
        out.print(f"copies: {', '.join(map(str, detail.copies))}")
    out.print()
    if not detail.tags:
        out.print("Topics: none")
    document = document_of(row.title, detail.text)
    for tag in detail.tags:
        _line(
            Text(
                f"{tag.topic} ({tag.label}) score {tag.score:.2f} [{tag.tagger_version}]",
                style="bold",
            )
        )
        for item in tag.evidence:
            _line(Text("  " + _evidence_line(item, document)))
    out.print()
    out.print(Text(detail.text))


topics_app = typer.Typer(
    help="List the taxonomy's topics; test and evaluate taxonomy rules.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(topics_app, name="topics")

TaxonomyOption = Annotated[Path | None, typer.Option(help="Taxonomy YAML [env: NEWSFLOW_TAXONOMY]")]


@topics_app.callback()
@_reading
def topics(
    ctx: typer.Context,
    taxonomy: TaxonomyOption = None,
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
    db: DbOption = None,
) -> None:
    """List the taxonomy's topics with the number of articles tagged with each."""
    if ctx.invoked_subcommand is not None:
        return
    items = api.list_topics(db, str(taxonomy) if taxonomy else None)
    if output is DocFormat.json:
        _write_json([item.__dict__ for item in items])
        return
    table = Table()
    table.add_column("topic", no_wrap=True)
    table.add_column("label", overflow="fold")
    table.add_column("articles", justify="right")
    for item in items:
        table.add_row(item.slug, Text(item.label), str(item.articles))
    out.print(table)


def _line(text: Text) -> None:
    """One line as is: explanations are read (and grepped) line by line, never re-wrapped."""
    out.print(text, soft_wrap=True)


def _evidence_line(item: dict[str, Any], document: str) -> str:
    """One piece of evidence: its weight, kind and rule, and the matched text in context."""
    weight, kind = f"+{item['weight']:<5}", f"{item['kind']:<8}"
    if item["kind"] == "source":  # given by the feed's configuration, not a rule
        return f"{weight} {kind} feed {item['phrase']}"
    start, end = int(item["start"]), int(item["end"])
    where = (
        str(item["phrase"])
        if item["kind"] == "cooccur" or end > len(document) or start == end
        else _context(document, start, end)
    )
    return f"{weight} {kind} {item.get('rule', '')}: {where}"


def _context(document: str, start: int, end: int, width: int = 40) -> str:
    """The matched span with some text either side, on one line."""
    before = document[max(0, start - width) : start]
    after = document[end : end + width]
    snippet = f"{before}[{document[start:end]}]{after}"
    return (
        ("…" if start > width else "")
        + " ".join(snippet.split())
        + ("…" if end + width < len(document) else "")
    )


@topics_app.command("test")
def topics_test(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="An article: a text file (first line the title), a JSONL dump, or - for stdin.",
        ),
    ],
    taxonomy: TaxonomyOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list the topics with no evidence at all.")
    ] = False,
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
) -> None:
    """Show which topics a text gets and why: the evidence, the score and what is missing."""
    explanations = api.explain_topics(file, str(taxonomy) if taxonomy else None)
    if output is DocFormat.json:
        _write_json([e.as_dict(show_all) for e in explanations])
        return
    for number, explanation in enumerate(explanations):
        if number:
            out.print()
        article = explanation.article
        tagged = [r.topic for r in explanation.results if r.tagged]
        _line(Text(article.title, style="bold"))
        _line(Text(f"topics: {', '.join(tagged) if tagged else 'none'}"))
        silent = []
        for result in explanation.results:
            if not (result.evidence or result.tagged):
                silent.append(result.topic)
                continue
            threshold = explanation.thresholds[result.topic]
            verdict = "TAGGED" if result.tagged else f"not tagged: {result.reason}"
            _line(
                Text(
                    f"  {result.topic}  score {result.score:.2f} (threshold {threshold:.2f})"
                    f"  {verdict}",
                    style="bold" if result.tagged else "",
                )
            )
            for ev in result.evidence:
                _line(Text("    " + _evidence_line(ev.as_dict(), article.document)))
        if silent and show_all:
            _line(Text(f"  no evidence: {', '.join(silent)}"))


@topics_app.command("evaluate")
def topics_evaluate(
    labelled: Annotated[
        Path,
        typer.Argument(
            metavar="LABELLED",
            help="JSONL of articles with their expected topics (id, title, text, topics).",
        ),
    ],
    taxonomy: TaxonomyOption = None,
    mistakes: Annotated[
        bool, typer.Option("--mistakes", help="List every false positive and false negative.")
    ] = False,
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
) -> None:
    """Measure a taxonomy against labelled articles: precision and recall per topic."""
    evaluation = api.evaluate_taxonomy(labelled, str(taxonomy) if taxonomy else None)
    if output is DocFormat.json:
        _write_json(evaluation.as_dict())
        return
    table = Table(
        title=f"{evaluation.articles} labelled articles", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("topic", no_wrap=True)
    for name in ("labelled", "wrong", "missed", "precision", "recall", "F1"):
        table.add_column(name, justify="right", min_width=len(name))
    rows = [evaluation.topics[t] for t in sorted(evaluation.topics)] + [evaluation.micro]
    for s in rows:
        table.add_row(
            s.topic,
            str(s.support),
            str(s.false_positives),
            str(s.false_negatives),
            f"{s.precision:.2f}",
            f"{s.recall:.2f}",
            f"{s.f1:.2f}",
        )
    out.print(table)
    if mistakes:
        for m in evaluation.mistakes:
            _line(Text(f"{m.kind}: {m.topic} on {m.article} ({m.title}): {m.detail}"))


@app.command()
def retag(
    topic: Annotated[
        str | None, typer.Option(help="Re-evaluate only this topic; other tags stay.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only articles published on or after (YYYY-MM-DD).")
    ] = None,
    taxonomy: TaxonomyOption = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Articles per batch (task).")
    ] = None,
    output: Annotated[DocFormat, typer.Option("--format", help="Summary format.")] = DocFormat.text,
    db: DbOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Re-apply the (changed) taxonomy to stored articles, as a backfill flow run."""
    from newsflow.pipeline import tagger_for
    from newsflow.retag import check_topic
    from newsflow.settings import load_settings

    settings = load_settings(database_url=db, taxonomy=taxonomy, batch_size=batch_size)
    api.engine_for(settings.database_url, settings)  # fail fast: no database, nothing to retag
    check_topic(tagger_for(settings.taxonomy), topic)
    from_date = _date(since, "--since")

    started = time.monotonic()
    try:
        with _flow_runs(verbose, "flows.retag"):
            from flows.retag import retag_flow

            summary = retag_flow(
                database_url=settings.database_url,
                taxonomy=str(settings.taxonomy) if settings.taxonomy else None,
                topic=topic,
                since=from_date,
                batch_size=settings.batch_size,
                show_progress=output is DocFormat.text,
            )
    except KeyboardInterrupt:
        raise _interrupted(
            "the batches re-tagged before are kept; run the same command again to finish"
        ) from None
    seconds = time.monotonic() - started
    if output is DocFormat.json:
        _write_json({**summary.as_dict(), "seconds": round(seconds, 3)})
        return
    c = summary.counts
    out.print(
        Text(
            f"Re-tagged {_count(c.articles, 'article')} in {summary.database} "
            f"with {summary.tagger_version} in {seconds:.1f} s: {c.added} tags added, "
            f"{c.removed} removed, "
            f"{c.changed} changed, {c.restamped} re-stamped with the new version only, "
            f"{c.unchanged} unchanged."
        )
    )
    if c.by_topic:
        table = Table()
        for name in ("topic", "added", "removed", "changed"):
            table.add_column(name, justify="left" if name == "topic" else "right")
        for slug, per in sorted(c.by_topic.items()):
            table.add_row(slug, str(per["added"]), str(per["removed"]), str(per["changed"]))
        out.print(table)


@app.command(cls=_Command)
def backfill(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="Files or directories: .txt, .html, .json articles; .jsonl dumps; "
            ".warc/.warc.gz archives (such as CC-NEWS).",
            show_default=False,
        ),
    ],
    since: Annotated[
        str | None, typer.Option(help="Only articles published on or after (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only articles published on or before (YYYY-MM-DD, that whole day)."),
    ] = None,
    include_undated: Annotated[
        bool,
        typer.Option(
            "--include-undated", help="With --since/--until, keep articles with no date too."
        ),
    ] = False,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Ignore the checkpoints: read every input from the start."),
    ] = False,
    db: DbOption = None,
    taxonomy: TaxonomyOption = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Articles per batch (task).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Batches stored at once [env: NEWSFLOW_BACKFILL_CONCURRENCY]."
        ),
    ] = None,
    workers: WorkersOption = None,
    output: Annotated[DocFormat, typer.Option("--format", help="Summary format.")] = DocFormat.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Ingest history (trees, dumps, WARC archives) as a resumable Prefect flow run."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise NewsflowError(f"no such file or directory: {', '.join(missing)}")
    from_date = _date(since, "--since")
    to_date = _date(until, "--until", whole_day=True)
    if from_date and to_date and to_date <= from_date:
        raise typer.BadParameter("--until is before --since", param_hint="--until")
    from newsflow.pipeline import prepare_database, tagger_for
    from newsflow.settings import load_settings

    settings = load_settings(
        database_url=db,
        taxonomy=taxonomy,
        batch_size=batch_size,
        backfill_concurrency=concurrency,
        workers=workers,
    )
    prepare_database(settings.database_url, tagger_for(settings.taxonomy))  # fail fast

    started = time.monotonic()
    try:
        with _flow_runs(verbose, "flows.backfill"):
            from flows.backfill import backfill_flow

            summary = backfill_flow(
                [str(p) for p in paths],
                database_url=settings.database_url,
                taxonomy=str(settings.taxonomy) if settings.taxonomy else None,
                batch_size=settings.batch_size,
                since=from_date,
                until=to_date,
                include_undated=include_undated,
                restart=restart,
                concurrency=settings.backfill_concurrency,
                workers=settings.workers,
                show_progress=output is DocFormat.text,
            )
    except KeyboardInterrupt:
        raise _interrupted("what was stored is kept, and the same command resumes") from None
    seconds = time.monotonic() - started
    if output is DocFormat.json:
        _write_json({**summary.as_dict(), "seconds": round(seconds, 3)})
    else:
        _print_backfill(summary, seconds)
    if summary.errors:
        raise typer.Exit(1)


def _print_backfill(summary: BackfillSummary, seconds: float) -> None:
    t = summary.totals
    if summary.read == 0 and not summary.errors:
        done = sum(r.files_complete_before for r in summary.inputs)
        out.print(
            Text(
                f"Nothing to backfill from {', '.join(r.input for r in summary.inputs)}: "
                f"{_count(done, 'file')} complete in earlier runs, in {summary.database} "
                f"(run #{summary.run_id}; --restart reads them again)."
            )
        )
        return
    out.print(
        Text(
            f"Backfilled {', '.join(r.input for r in summary.inputs)} into {summary.database} "
            f"(run #{summary.run_id}, {summary.batches} batches, {seconds:.1f} s)"
        )
    )
    out.print(
        f"  read {summary.read} · new {t.new} · updated {t.updated} · "
        f"duplicates {t.duplicates} · unchanged {t.unchanged} · errors {t.errors} · "
        f"no article text {t.no_text} · skipped by date {summary.skipped_by_date}"
    )
    for r in summary.inputs:
        rt = r.totals
        files = _count(r.files, "file")
        notes = [
            f"{r.files_complete_before} complete before" if r.files_complete_before else "",
            f"{r.files_resumed} resumed" if r.files_resumed else "",
        ]
        extra = ", ".join(n for n in notes if n)
        out.print(
            Text(
                f"  {r.input}: {files}{f' ({extra})' if extra else ''} · read {r.read} · "
                f"new {rt.new} · updated {rt.updated} · duplicates {rt.duplicates} · "
                f"unchanged {rt.unchanged} · errors {rt.errors} · no article text {rt.no_text} · "
                f"skipped by date {r.skipped_by_date}"
            )
        )
    _print_topics_and_errors(summary.topics, summary.errors)


@app.command()
@_reading
def stats(
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
    db: DbOption = None,
) -> None:
    """Summarise the database: articles, copies, sources, dates, runs, errors."""
    data = api.database_stats(db).as_dict()
    if output is DocFormat.json:
        _write_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        out.print(Text(f"{key.replace('_', ' '):<16} {value if value is not None else '-'}"))


@app.command()
def optimize(
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="Rewrite a SQLite file even when its pages are right, giving back the space "
            "of deleted rows.",
        ),
    ] = False,
    output: Annotated[DocFormat, typer.Option("--format", help="Output format.")] = DocFormat.text,
    db: DbOption = None,
) -> None:
    """Merge the full-text index, refresh the query planner's statistics, and rewrite a SQLite
    file made before 16 KB pages with them (no other process may use it meanwhile; it needs
    as much free disk again)."""
    result = api.optimize_database(db, vacuum=vacuum)
    if output is DocFormat.json:
        _write_json(asdict(result))
        return
    for step in result.steps:
        out.print(Text(f"{step[0].upper()}{step[1:]}."))
    if result.page_size is not None and result.bytes_after is not None:
        before = f"{(result.bytes_before or 0) / 1e6:,.1f} MB"
        out.print(
            Text(
                f"{result.database}: {result.bytes_after / 1e6:,.1f} MB (was {before}), "
                f"{result.page_size // 1024} KB pages, in {result.seconds:.1f} s."
            )
        )
    else:
        out.print(Text(f"{result.database}: done in {result.seconds:.1f} s."))


def _error(message: str) -> None:
    """One line on stderr, never wrapped or styled."""
    sys.stderr.write(f"newsflow: {' '.join(message.split())}\n")


def _telling_lock_waits() -> AbstractContextManager[None]:
    """A command that writes says once on stderr, as it starts waiting, that another writer
    holds the SQLite file's lock (then it waits for up to ``db_retry_seconds``)."""
    return lock_wait_listener(_said_once("waiting for its lock for up to {seconds:g} s"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: runs the CLI and turns every failure into one line and an exit code."""
    debug = os.environ.get("NEWSFLOW_DEBUG") == "1"
    try:
        with _telling_lock_waits():
            result = app(
                args=list(argv) if argv is not None else None,
                prog_name="newsflow",
                standalone_mode=False,
            )
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _error("aborted")
        return 130
    except TyperException as exc:  # bad arguments: usage errors carry exit code 2
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as written
            sys.stderr.write(exc.format_message().rstrip() + "\n")
            return 2
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        _error(f"error: {exc.format_message() if hasattr(exc, 'format_message') else exc}{hint}")
        return int(getattr(exc, "exit_code", 2))
    except NewsflowError as exc:
        _error(f"error: {exc}")
        return 1
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug:
            raise
        _error(
            f"unexpected error: {type(exc).__name__}: {exc} "
            "(set NEWSFLOW_DEBUG=1 for the traceback)"
        )
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
