"""Shared test fixtures: where the offline data is, a private cache per test session, and the scripts."""

import importlib.util
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("SIMVE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Keep caches (rendered glyphs) out of the user's home during tests."""
    old = os.environ.get("SIMVE_CACHE")
    os.environ["SIMVE_CACHE"] = str(tmp_path_factory.mktemp("simve-cache"))
    yield Path(os.environ["SIMVE_CACHE"])
    if old is None:
        del os.environ["SIMVE_CACHE"]
    else:
        os.environ["SIMVE_CACHE"] = old


def needs_shared(*parts: str):
    """Skip a test, with the reason, when a file of ../shared/data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"offline data not found at {path.resolve()}")


def load_script(name: str):
    """The module of ``scripts/<name>.py`` (the scripts folder is not a package), loaded afresh."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
