"""The golden-vector helpers the layers' vector tests share (``a27_ledger.vectors``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from a27_ledger import EncodingVectors, read_vector_file, write_vector_file


@dataclasses.dataclass(frozen=True)
class Number:
    """A sample encoding: one byte."""

    value: int

    def encode(self) -> bytes:
        return bytes([self.value])

    @classmethod
    def decode(cls, data: bytes) -> Number:
        return cls(data[0])


Decoders = dict[str, Callable[[bytes], Any]]


def golden(path: Path, decoders: Decoders | None = None) -> EncodingVectors:
    return EncodingVectors(path, lambda: {"one": Number(1), "two": Number(2)},
                           decoders or {"one": Number.decode, "two": Number.decode}, lambda: {"one.value": "1"})


def test_a_file_written_from_the_samples_matches_them_both_ways(tmp_path: Path) -> None:
    vectors = golden(tmp_path / "v.json")
    assert vectors.build() == {"one": "01", "two": "02", "one.value": "1"}
    assert write_vector_file(vectors.path, vectors.build())
    assert read_vector_file(vectors.path) == vectors.load() == vectors.build()
    assert vectors.unmatched_names() == set()
    assert vectors.decoded("two") == Number(2)


@pytest.mark.parametrize(("file", "decoders", "unmatched"), [
    ({"one": "01", "two": "02", "one.value": "1", "three": "03"}, None, {"three"}),
    ({"one": "01", "one.value": "1"}, None, {"two"}),
    ({"one": "01", "two": "02", "one.value": "1"}, {"one": Number.decode}, {"two"}),
])
def test_a_name_missing_on_one_side_is_reported(tmp_path: Path, file: dict[str, str],
                                                decoders: Decoders | None, unmatched: set[str]) -> None:
    write_vector_file(tmp_path / "v.json", file)
    assert golden(tmp_path / "v.json", decoders).unmatched_names() == unmatched
