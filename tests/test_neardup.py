"""Near-duplicate keys (processing/neardup.py) and their evaluation on the labelled pairs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from bench import make_neardup_eval
from bench.eval_neardup import evaluate, load_pairs
from newsflow.article import Article
from newsflow.errors import ConfigError
from newsflow.pipeline import neardup_config
from newsflow.settings import load_settings
from processing.neardup import (
    SCHEME,
    SEED,
    NearDupConfig,
    Signature,
    band_keys,
    is_near_copy,
    permutations,
    shares_bucket,
    shingle_hash,
    shingles,
    signature,
    similarity,
    text_signature,
)
from tests.conftest import DATA, ROOT

CONFIG = NearDupConfig()
PAIRS = DATA / "neardup_pairs.jsonl"
CORPUS = ROOT.parent / "shared" / "corpora" / "feedparser"


def art(text: str, title: str = "T") -> Article:
    return Article(source="s", title=title, text=text, origin="o")


def test_shingles_are_word_runs_of_normalised_text() -> None:
    assert shingles("Putin met Xi — in MOSCOW.", 3) == {"putin met xi", "met xi in", "xi in moscow"}
    assert shingles("Too short", 5) == {"too short"}
    assert shingles(" ,. ", 5) == set()


def test_signature_ignores_the_headline_and_survives_storage() -> None:
    body = "Delegations met in Geneva on Friday to discuss strategic stability. " * 3
    a, b = signature(art(body, "One"), CONFIG), signature(art(body, "Two"), CONFIG)
    assert a is not None and b is not None
    assert np.array_equal(a.values, b.values) and a.size == b.size
    again = Signature.from_bytes(a.to_bytes(), a.size)
    assert np.array_equal(again.values, a.values) and len(a.to_bytes()) == 4 * CONFIG.num_perm
    assert signature(art("", "Title only words here"), CONFIG) is not None
    assert signature(art("", ""), CONFIG) is None


@pytest.mark.parametrize("num_perm", [128, 64])
def test_signatures_are_datasketchs_minhash(num_perm: int) -> None:
    """Stored signatures stay comparable: the array arithmetic gives what datasketch's
    ``MinHash.update_batch`` gives for the same shingles with the same shingle hash (texts of
    every script and length)."""
    texts = [a.text for a in list(load_pairs(PAIRS).texts.values())[:30]]
    texts += ["one", "Путин и Си Цзиньпин", "東京 北京 " * 40, "a b c d e f g h i j k l m n o p"]
    texts.append(" ".join(f"w{i}" for i in range(10_000)))  # more shingles than one chunk
    config = NearDupConfig(num_perm=num_perm, bands=num_perm // 4)
    for text in texts:
        grams = shingles(text, config.shingle_words)
        reference = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME, hashfunc=shingle_hash)
        reference.update_batch([g.encode("utf-8") for g in grams])
        sig = text_signature(text, config)
        assert sig is not None and sig.size == len(grams)
        assert np.array_equal(sig.values, np.asarray(reference.hashvalues, dtype=np.uint32))


@pytest.mark.parametrize("num_perm", [128, 64, 256, 1])
def test_permutations_are_datasketchs(num_perm: int) -> None:
    a, b = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations
    ours = permutations(num_perm)
    assert ours[0].dtype == ours[1].dtype == np.uint32
    assert np.array_equal(ours[0], a) and np.array_equal(ours[1], b)
    assert all(int(x) % 2 == 1 for x in ours[0])  # odd: each permutation is a bijection


def test_signing_does_not_import_datasketch() -> None:
    """A process that signs articles (a worker, a small ingest) does not pay for importing
    datasketch and SciPy: it is the tests' reference only."""
    script = (
        "import sys\n"
        "from processing.neardup import NearDupConfig, text_signature\n"
        "assert text_signature('one two three four five six seven', NearDupConfig())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('datasketch', 'scipy')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_band_keys_fit_a_signed_bigint() -> None:
    sig = text_signature("one two three four five six seven", CONFIG)
    assert sig is not None
    keys = band_keys(sig, CONFIG)
    assert len(keys) == CONFIG.bands and all(-(2**63) <= k < 2**63 for k in keys)


def test_containment_joins_a_prefix_that_jaccard_would_not() -> None:
    words = [f"w{i}" for i in range(400)]
    full = text_signature(" ".join(words), CONFIG)
    head = text_signature(" ".join(words[:280]), CONFIG)  # the first 70 %
    half = text_signature(" ".join(words[:150]), CONFIG)
    assert full is not None and head is not None and half is not None
    sim = similarity(full, head)
    assert 0.6 < sim.jaccard < 0.8 and sim.containment > 0.9
    assert is_near_copy(full, head, CONFIG) and shares_bucket(
        band_keys(full, CONFIG), band_keys(head, CONFIG)
    )
    assert not is_near_copy(full, half, CONFIG)  # under min_length_ratio: an excerpt


def test_config_checks_and_settings() -> None:
    with pytest.raises(ValueError, match="must divide"):
        NearDupConfig(num_perm=128, bands=30)
    with pytest.raises(ConfigError, match="neardup_bands"):
        load_settings(neardup_bands=30)
    config = neardup_config(load_settings(neardup_threshold=0.9, neardup_shingle_words=4))
    assert (config.threshold, config.shingle_words, config.rows) == (0.9, 4, 4)
    assert config.scheme != CONFIG.scheme  # shingle size changes the signatures


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_NEARDUP_ENABLED", "false")
    monkeypatch.setenv("NEWSFLOW_NEARDUP_THRESHOLD", "0.7")
    config = neardup_config()
    assert not config.enabled and config.threshold == 0.7


def test_labelled_set_precision_and_recall() -> None:
    data = load_pairs(PAIRS)
    expect = data.about["expect"]
    assert len(data.pairs) >= 300 and data.about["pairs"] == len(data.pairs)
    kinds = {p["kind"] for p in data.pairs}
    assert {"seed_pair", "seed_sections", "shared_boilerplate", "same_feed_template"} <= kinds
    assert {"header_footer", "headline", "edited", "prefix70", "combined"} <= kinds
    scores = evaluate(data, CONFIG)
    assert scores.precision >= expect["precision_at_least"], scores.errors
    assert scores.recall >= expect["recall_at_least"], scores.errors


def test_seeds_kept_apart_and_their_copies_joined() -> None:
    """The must-separate and must-join cases of the issue, on the seed articles."""
    data = load_pairs(PAIRS)
    seeds = [p for p in data.pairs if p["a"].startswith("seed-") and "-s" not in p["a"][5:]]
    must_join = {"header_footer", "headline", "edited", "prefix70"}
    checked = set()
    for pair in seeds:
        if pair["kind"] not in must_join | {"seed_pair"}:
            continue
        a, b = signature(data.texts[pair["a"]], CONFIG), signature(data.texts[pair["b"]], CONFIG)
        assert a is not None and b is not None
        joined = shares_bucket(band_keys(a, CONFIG), band_keys(b, CONFIG)) and is_near_copy(
            a, b, CONFIG
        )
        assert joined == (pair["label"] == "duplicate"), pair
        checked.add(pair["kind"])
    assert checked == must_join | {"seed_pair"}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feedparser corpus at {CORPUS}")
def test_labelled_set_is_reproducible(tmp_path: Path) -> None:
    builder = make_neardup_eval.build(CORPUS)
    rebuilt = [json.dumps(r, ensure_ascii=False) for r in make_neardup_eval.records(builder)]
    assert rebuilt == PAIRS.read_text(encoding="utf-8").splitlines()
