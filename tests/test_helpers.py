"""The test helpers whose behaviour other tests rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REQUIRE_SHARED_ENV, ROOT, SHARED, require_shared


def test_missing_shared_skips_for_a_developer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(REQUIRE_SHARED_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"missing \(\.\./shared not checked out\)"):
        require_shared(tmp_path / "absent" / "k8s_validate.py")


def test_missing_shared_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(REQUIRE_SHARED_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_SHARED_ENV}=1 requires them"):
        require_shared(tmp_path / "absent" / "k8s_validate.py")


def test_present_shared_is_returned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(REQUIRE_SHARED_ENV, "1")
    present = tmp_path / "k8s_validate.py"
    present.write_text("")
    assert require_shared(present) == present


def test_ci_requires_shared() -> None:
    """.ci/run sets the variable before `make test`, so CI cannot skip the upstream checks."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert f"export {REQUIRE_SHARED_ENV}=1" in lines
    assert lines.index(f"export {REQUIRE_SHARED_ENV}=1") < lines.index("make test")
    assert SHARED == ROOT.parent / "shared"
