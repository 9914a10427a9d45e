"""The distribution ships every package and data file a non-editable install needs.

Tests run against an editable install, where a module or data file missing from the
distribution still imports from the source tree; a user's ``pip install geoshard`` would
not have it. This builds a real wheel and compares it with the source tree.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("common", "erasure", "storage_node", "satellite", "gateway", "geoshard")


def test_wheel_contains_every_module_the_migrations_and_the_pages(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("geoshard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for top in TOP:
        for path in (ROOT / top).rglob("*"):
            shipped = path.suffix in (".py", ".mako", ".json", ".html", ".js", ".css")  # code, migrations, pages
            if path.is_file() and "__pycache__" not in path.parts and shipped:
                expected.add(path.relative_to(ROOT).as_posix())
    missing = expected - names
    assert not missing, f"files a non-editable install would lack: {sorted(missing)[:20]}"
