"""make setup picks a supported Python, or says in one line which one it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "mk" / "find_python.sh"


def _run(lo: str, hi: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), lo, hi, "Sangam"], capture_output=True, text=True)


def test_the_running_python_is_accepted_when_in_range() -> None:
    v = sys.version_info
    res = _run(f"{v.major}.{v.minor}", f"{v.major}.{v.minor + 1}")
    assert res.returncode == 0, res.stderr
    out = subprocess.run(
        [res.stdout.strip(), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout
    assert out.strip() == str((v.major, v.minor))


def test_an_unsupported_python_gets_one_line_naming_the_range_and_the_fix() -> None:
    res = _run("3.99", "3.100")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert ">= 3.99 and < 3.100" in lines[0] and "found: Python" in lines[0] and "PY=" in lines[0]


def test_the_lock_covers_every_supported_python() -> None:
    repo = SCRIPT.parents[1]
    assert 'requires-python = ">=3.11,<3.14"' in (repo / "pyproject.toml").read_text()
    assert "--universal" in (repo / "requirements.lock").read_text().splitlines()[1]
