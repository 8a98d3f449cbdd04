"""The one TOML reader/writer: what it writes reads back equal, and nothing else in irtool parses TOML."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from irtool.tomlio import TOMLDecodeError, dumps, format_value, loads, read_toml

PACKAGE = Path(__file__).resolve().parents[1] / "irtool"


def test_written_documents_read_back_equal():
    data = {
        "name": 'quote " back\\slash \t tab\nnewline \x01 ctrl \x7f del é ünïcode',
        "flag": True,
        "off": False,
        "count": 12,
        "negative": -3,
        "small": 2e-5,  # a learning rate: must not be rounded away
        "third": 1 / 3,
        "huge": 1e300,
        "infinite": math.inf,
        "betas": (0.9, 0.999),
        "words": ["a", "b c"],
        "inline": [{"x": 1}],
        "task_mix": {"denoise": 1.0, "sr2": 0.4},
        "measured": {"psnr sigma25": 30.5, "nested": {"deeper": "yes"}},
    }
    text = dumps(data)
    back = loads(text)
    assert back == {**data, "betas": [0.9, 0.999]}  # TOML has arrays, not tuples
    assert text.index("[task_mix]") > text.index("count = 12")  # plain values before tables


def test_none_values_are_left_out_and_nan_reads_back_as_nan():
    back = loads(dumps({"kept": 1, "dropped": None, "table": {"also_dropped": None, "nan": math.nan}}))
    assert set(back) == {"kept", "table"} and set(back["table"]) == {"nan"}
    assert math.isnan(back["table"]["nan"])


def test_a_named_table_puts_everything_under_its_header():
    text = dumps({"preset": "p", "training": {"lr": 0.001}}, table="models.my-model")
    assert text.startswith("[models.my-model]\n")
    assert loads(text) == {"models": {"my-model": {"preset": "p", "training": {"lr": 0.001}}}}


def test_tables_of_tables_need_no_header_of_their_own():
    assert dumps({"models": {"a": {"x": 1}, "b": {}}}) == "[models.a]\nx = 1\n\n[models.b]\n"
    assert loads(dumps({"models": {"a": {"x": 1}, "b": {}}})) == {"models": {"a": {"x": 1}, "b": {}}}


def test_values_toml_cannot_hold_are_refused():
    with pytest.raises(TypeError):
        format_value(None)
    with pytest.raises(TypeError):
        format_value([1, object()])


def test_invalid_files_raise_the_decode_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("key = = 1\n", encoding="utf-8")
    with pytest.raises(TOMLDecodeError):
        read_toml(bad)
    with pytest.raises(OSError):
        read_toml(tmp_path / "missing.toml")


def test_only_tomlio_imports_the_toml_parser():
    sources = {p.relative_to(PACKAGE).as_posix(): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}
    importers = [name for name, text in sources.items() if "import tomllib" in text or "import tomli " in text]
    assert importers == ["tomlio.py"]


def test_tomli_is_declared_for_python_before_3_11():
    pyproject = read_toml(PACKAGE.parent / "pyproject.toml")
    declared = [d.replace(" ", "") for d in pyproject["project"]["dependencies"]]
    assert "tomli>=2;python_version<'3.11'" in declared
    assert pyproject["project"]["requires-python"] == ">=3.10"
