"""The sandbox imports a workflow's module afresh for every run; the worker makes sure
that import reads bytecode instead of compiling the source each time."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from workflows import sandbox

WORKFLOW = '''
from temporalio import workflow


@workflow.defn
class TinyWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "ok"
'''


def test_precompile_leaves_bytecode_the_import_uses_instead_of_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "tinyflows"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tiny.py").write_text(WORKFLOW)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as PYTHONDONTWRITEBYTECODE=1
    module = importlib.import_module("tinyflows.tiny")
    try:
        cached = [Path(importlib.util.cache_from_source(str(package / f)))
                  for f in ("__init__.py", "tiny.py")]
        assert not any(c.exists() for c in cached)

        sandbox.precompile([module.TinyWorkflow])

        assert all(c.exists() for c in cached)

        def no_compiling(*args: object, **kwargs: object) -> None:
            raise AssertionError("compiled from source")

        # What the sandbox's import of the module does: the loader's get_code.
        monkeypatch.setattr(importlib.machinery.SourceFileLoader, "source_to_code", no_compiling)
        loader = importlib.machinery.SourceFileLoader("tinyflows.tiny", str(package / "tiny.py"))
        assert loader.get_code("tinyflows.tiny") is not None
    finally:
        for name in ("tinyflows.tiny", "tinyflows"):
            sys.modules.pop(name, None)


def test_precompile_rewrites_bytecode_the_source_has_outdated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "tinyflows2"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = package / "tiny.py"
    source.write_text(WORKFLOW)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("tinyflows2.tiny")
    try:
        sandbox.precompile([module.TinyWorkflow])
        cached = Path(importlib.util.cache_from_source(str(source)))
        before = cached.read_bytes()
        source.write_text(WORKFLOW + "\nEDITED = True\n")
        stat = source.stat()
        os.utime(source, (stat.st_atime, stat.st_mtime + 10))  # an edit, later than the .pyc
        sandbox.precompile([module.TinyWorkflow])
        assert cached.read_bytes() != before
    finally:
        for name in ("tinyflows2.tiny", "tinyflows2"):
            sys.modules.pop(name, None)
