"""The sandbox imports a workflow's module afresh for every run; the worker makes sure
that import reads bytecode instead of compiling the source each time."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from workflows import sandbox

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

WORKFLOW = '''
from temporalio import workflow


@workflow.defn
class TinyWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "ok"
'''


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A workflow module in a package of its own, imported as PYTHONDONTWRITEBYTECODE=1
    imports it: no bytecode written."""
    name = f"tinyflows_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tiny.py").write_text(WORKFLOW)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield importlib.import_module(f"{name}.tiny")
    for module in (f"{name}.tiny", name):
        sys.modules.pop(module, None)


def bytecode(module: ModuleType) -> Path:
    assert module.__file__ is not None
    return Path(importlib.util.cache_from_source(module.__file__))


def test_precompile_leaves_bytecode_the_import_uses_instead_of_the_source(
    tiny: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = sys.modules[tiny.__name__.rsplit(".", 1)[0]]
    assert not bytecode(tiny).exists() and not bytecode(package).exists()

    sandbox.precompile([tiny.TinyWorkflow])

    assert bytecode(tiny).exists() and bytecode(package).exists()

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled from source")

    # What the sandbox's import of the module does: the loader's get_code.
    monkeypatch.setattr(importlib.machinery.SourceFileLoader, "source_to_code", no_compiling)
    assert tiny.__file__ is not None
    loader = importlib.machinery.SourceFileLoader(tiny.__name__, tiny.__file__)
    assert loader.get_code(tiny.__name__) is not None


def test_precompile_rewrites_bytecode_the_source_has_outdated(tiny: ModuleType) -> None:
    sandbox.precompile([tiny.TinyWorkflow])
    before = bytecode(tiny).read_bytes()
    assert tiny.__file__ is not None
    source = Path(tiny.__file__)
    source.write_text(WORKFLOW + "\nEDITED = True\n")
    stat = source.stat()
    os.utime(source, (stat.st_atime, stat.st_mtime + 10))  # an edit, later than the .pyc
    sandbox.precompile([tiny.TinyWorkflow])
    assert bytecode(tiny).read_bytes() != before
