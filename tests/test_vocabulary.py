"""The dataset vocabulary is a leaf module shared by loading, the config parser and ``init``."""

from __future__ import annotations

import ast
from pathlib import Path

import healthgap.vocabulary as vocabulary
from healthgap.vocabulary import BOOLEAN_TOKENS, SYNONYMS, guess_codes, guess_columns

SRC = Path(vocabulary.__file__)


def test_vocabulary_imports_nothing_above_the_contract():
    tree = ast.parse(SRC.read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("healthgap")
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("healthgap")
    }
    assert imported <= {"healthgap.contract"}


def test_boolean_tokens_and_guessers():
    assert BOOLEAN_TOKENS["Y".lower()] is True and BOOLEAN_TOKENS["0.0"] is False
    assert guess_codes("statin", ["yes", "maybe"]) == ({}, ["maybe"])
    assert guess_codes("sex", ["M", "F", "female"]) == ({"M": "male", "F": "female"}, [])
    assert guess_columns(["Gender", "PatientAge"]) == {"sex": "Gender", "age": "PatientAge"}
    assert all(s == s.lower() and s.isalnum() for names in SYNONYMS.values() for s in names)
