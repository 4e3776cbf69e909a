"""Plain-text article files, manifests and directory walking (parsers/text.py, parsers/__init__)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers import batched, iter_files, iter_path
from parsers.text import read_text_file


def test_seeds_read_with_manifest_metadata(
    seeds_dir: Path, seed_expectations: dict[str, Any]
) -> None:
    items = list(iter_path(seeds_dir))
    assert all(isinstance(item, Article) for item in items)
    by_guid = {item.guid: item for item in items if isinstance(item, Article)}
    first = by_guid["000_134b5bdc4cbcbe50"]
    second = by_guid["004_9152477c205a2e8e"]
    assert first.published == datetime(2025, 1, 21, tzinfo=UTC)
    assert second.published == datetime(2026, 2, 4, tzinfo=UTC)
    assert {first.source, second.source} == {"seeds"}
    assert first.language == second.language == "en"
    assert first.title == seed_expectations["000_134b5bdc4cbcbe50.txt"]["title"]
    assert not first.text.startswith(first.title)


def test_title_is_first_line_and_file_stem_is_guid(tmp_path: Path) -> None:
    path = tmp_path / "story-42.txt"
    path.write_text("The headline\n\nFirst paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    article = read_text_file(path, source="desk")
    assert (article.title, article.guid, article.source) == ("The headline", "story-42", "desk")
    assert article.paragraphs == ["First paragraph.", "Second paragraph."]
    assert article.published is None


def test_windows_1252_and_bom(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("Caf\xe9 talks\n\nBody \x93quoted\x94.".encode("latin-1"))
    (tmp_path / "b.txt").write_bytes("\ufeffTitle B\n\nBody.".encode())
    items = [i for i in iter_path(tmp_path) if isinstance(i, Article)]
    assert [i.title for i in items] == ["Café talks", "Title B"]
    assert items[0].text == "Body “quoted”."


def test_bad_files_are_errors_not_exceptions(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good\n\nBody.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    items = list(iter_path(tmp_path))
    errors = {Path(i.origin).name: i.message for i in items if isinstance(i, SourceError)}
    assert set(errors) == {"binary.txt", "empty.txt"}
    assert "binary" in errors["binary.txt"] and "empty" in errors["empty.txt"]
    assert [i.title for i in items if isinstance(i, Article)] == ["Good"]


def test_missing_path_and_unsupported_file(tmp_path: Path) -> None:
    [missing] = list(iter_path(tmp_path / "nope"))
    assert isinstance(missing, SourceError) and "no such file" in missing.message
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF")
    [unsupported] = list(iter_path(pdf))
    assert isinstance(unsupported, SourceError) and "unsupported file type .pdf" in str(unsupported)


def test_broken_manifest_is_reported_and_files_still_read(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("articles: [not, a, mapping]", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Title\n\nBody.", encoding="utf-8")
    items = list(iter_path(tmp_path))
    assert isinstance(items[0], SourceError) and "manifest" in str(items[0])
    assert isinstance(items[1], Article)


def test_unknown_manifest_field_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("defaults: {sauce: x}", encoding="utf-8")
    [error] = list(iter_path(tmp_path))
    assert isinstance(error, SourceError) and "sauce" in error.message


def test_batched_is_lazy_and_complete() -> None:
    sizes = [len(b) for b in batched(iter(range(7)), 3)]
    assert sizes == [3, 3, 1]


def test_a_tree_is_walked_in_order_without_hidden_entries(tmp_path: Path) -> None:
    """Directories in sorted order (the top one first), files sorted within each; hidden
    files and directories and unsupported files left out; a symlinked directory's own files
    read (what is below it is not walked)."""
    hidden = [".hidden/f.txt", ".hidden/deep/i.txt", "m/.cache/j.txt"]
    for relative in ["b.txt", "a.txt", "z/c.txt", "m/n/d.txt", "m/e.txt", *hidden]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("Title\n\nBody of the story.\n", encoding="utf-8")
    (tmp_path / ".g.txt").write_text("hidden\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "h.txt").write_text("Title\n\nBody.\n", encoding="utf-8")
    (tmp_path / "linked").symlink_to(outside, target_is_directory=True)
    found = [item[0] for item in iter_files(tmp_path) if isinstance(item, tuple)]
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.txt",
        "b.txt",
        "linked/h.txt",
        "m/e.txt",
        "m/n/d.txt",
        "z/c.txt",
    ]
