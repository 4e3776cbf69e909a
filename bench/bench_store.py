"""Storing alone: ``store_batch`` of the same processed articles, this code against a commit's.

    python bench/bench_store.py --baseline COMMIT [--articles 5000] [--rounds 2]
        [--postgres URL]

The articles (``bench/corpus.py``'s JSONL corpus) are processed once by each code (hash,
signature, tags: what the workers hand over) and saved; then each code stores them in batches
of 100 into a new database, then stores them again (a re-run: every record already stored),
each in a subprocess of its own, the two codes alternating for ``--rounds`` rounds. It
reports the CPU time of the storing process (less sensitive than wall time to other work on
the machine) and its wall time, the best of the rounds. ``--postgres URL`` stores into a new
database on that server instead of SQLite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402
from bench.bench_pipeline import extract_commit, new_postgres  # noqa: E402

# Run with one code's tree first on sys.path: process the corpus (argv: tree, jsonl, n, out).
PROCESS = """
import pickle, sys
from pathlib import Path
tree, source, n, out = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, tree)
from newsflow.article import Article
from newsflow.pipeline import neardup_config, process, tagger_for
from parsers import iter_path
articles = [a for a in iter_path(source) if isinstance(a, Article)][:n]
with open(out, "wb") as handle:
    pickle.dump(process(articles, tagger_for(None), neardup_config()), handle)
"""

# Store them twice (argv: tree, items, database URL); prints one JSON line.
STORE = """
import json, pickle, sys, time
tree, items_path, url = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, tree)
from newsflow.pipeline import neardup_config, prepare_database, tagger_for
from parsers import batched
from storage.repository import store_batch
with open(items_path, "rb") as handle:
    items = pickle.load(handle)
near = neardup_config()
engine = prepare_database(url, tagger_for(None))
marks = [(time.process_time(), time.perf_counter())]
new = 0
for batch in batched(iter(items), 100):
    new += store_batch(engine, batch, near).new
marks.append((time.process_time(), time.perf_counter()))
for batch in batched(iter(items), 100):
    assert store_batch(engine, batch, near).new == 0
marks.append((time.process_time(), time.perf_counter()))
engine.dispose()
(c0, w0), (c1, w1), (c2, w2) = marks
print(json.dumps({"cpu": c1 - c0, "wall": w1 - w0, "rerun_cpu": c2 - c1,
                  "rerun_wall": w2 - w1, "new": new}))
"""


def _database(postgres: str | None, work: Path, name: str) -> str:
    if postgres is None:
        return f"sqlite:///{work / name}.db"
    return new_postgres(postgres, f"newsflow_bench_store_{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a git commit to compare with")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL")
    args = parser.parse_args()
    source = corpus.corpus("jsonl", 10_000 if args.articles <= 10_000 else args.articles)
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-store-") as tmp:
        work = Path(tmp)
        trees = {"now": ROOT, "base": extract_commit(args.baseline, work / "base")}
        items = {}
        for name, tree in trees.items():
            items[name] = work / f"items-{name}.pkl"
            subprocess.run(
                [sys.executable, "-c", PROCESS, str(tree), str(source / "articles.jsonl"),
                 str(args.articles), str(items[name])],
                check=True,
            )  # fmt: skip
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                url = _database(args.postgres, work, f"{name}{round_}")
                out = subprocess.run(
                    [sys.executable, "-c", STORE, str(tree), str(items[name]), url],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                runs[name].append(json.loads(out.strip().splitlines()[-1]))
                print(name, runs[name][-1], flush=True)
    n = args.articles
    print(f"\n{n:,} articles, {'PostgreSQL' if args.postgres else 'SQLite'}, best of {args.rounds}")
    print("| code | store CPU s | ms / article | store wall s | re-run CPU s | re-run wall s |")
    print("|---|---|---|---|---|---|")
    for name in trees:
        best = {key: min(r[key] for r in runs[name]) for key in runs[name][0]}
        label = "now" if name == "now" else f"`{args.baseline}`"
        print(
            f"| {label} | {best['cpu']:.2f} | {best['cpu'] / n * 1000:.2f} | {best['wall']:.2f} "
            f"| {best['rerun_cpu']:.2f} | {best['rerun_wall']:.2f} |"
        )


if __name__ == "__main__":
    main()
