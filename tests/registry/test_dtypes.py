"""``to_dataframe`` dtypes as LaminDB 2.12 gives them, under pandas 2 and pandas 3; out-of-range datetimes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update

from syncd.registry import Instance, Space, SpaceBlock
from syncd.store.schema import space
from tests.support.registry_fixture import sqlite_instance

# what LaminDB 2.12.1 returns on the fixture (seen in the compatibility battery, under pandas 2)
SPACE_DTYPES = ["object", "object", "object", "datetime64[ns, UTC]", "float64"]
BLOCK_DTYPES = ["object", "object", "object", "object", "object", "bool", "datetime64[ns, UTC]", "int64", "int64",
                "int64", "int64"]
PROBE = textwrap.dedent("""
    import json, sys
    import pandas
    from syncd import registry
    from syncd.registry import Space, SpaceBlock
    registry.connect(sys.argv[1])
    print(json.dumps({
        "pandas": pandas.__version__,
        "space": [str(t) for t in Space.to_dataframe().dtypes],
        "block": [str(t) for t in SpaceBlock.to_dataframe().dtypes],
        "include": [str(t) for t in Space.to_dataframe(include=["ablocks__kind", "created_by__handle"]).dtypes],
        "index": str(Space.to_dataframe().index.dtype),
    }))
""")


def test_frames_have_lamindb_dtypes(reg: Instance) -> None:
    assert [str(t) for t in Space.to_dataframe().dtypes] == SPACE_DTYPES
    assert [str(t) for t in SpaceBlock.to_dataframe().dtypes] == BLOCK_DTYPES
    assert str(Space.to_dataframe().index.dtype) == "int64"


@pytest.fixture(scope="module")
def pandas3_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An interpreter with pandas 3 that sees everything else this one has (a child venv)."""
    if pd.__version__.startswith("3."):
        return sys.executable
    root = tmp_path_factory.mktemp("pandas3")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    python = str(root / "venv" / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "pandas>=3,<4"], capture_output=True,
                               text=True, timeout=600, check=False)
    if installed.returncode != 0:
        reason = f"cannot install pandas 3 in a child venv: {installed.stderr[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    child_site = subprocess.run([python, "-c", "import site; print(site.getsitepackages()[0])"],
                                capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    import site

    # the child's own pandas comes first; syncd and the rest come from this interpreter's site-packages
    Path(child_site, "zz_parent.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return python


@pytest.mark.slow
def test_frames_have_lamindb_dtypes_under_pandas_3(pandas3_python: str, tmp_path: Path) -> None:
    url = sqlite_instance(tmp_path)
    done = subprocess.run([pandas3_python, "-c", PROBE, url], capture_output=True, text=True, timeout=300,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["pandas"].startswith("3.")
    assert seen["space"] == SPACE_DTYPES
    assert seen["block"] == BLOCK_DTYPES
    assert seen["include"] == ["object", "object", "object", "object"]
    assert seen["index"] == "int64"


@pytest.fixture
def extreme_dates(reg: Instance) -> Iterator[tuple[int, int]]:
    """Two spaces created in year 9999 and in year 1, as a hub may store them."""
    late = Space(name="far future", uid="FUTUFUTUFUTU").save()
    early = Space(name="far past", uid="PASTPASTPAST").save()
    assert late.id is not None and early.id is not None
    with reg.write() as conn:
        conn.execute(update(space).where(space.c.id == late.id).values(
            created_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)))
        conn.execute(update(space).where(space.c.id == early.id).values(
            created_at=datetime(1, 1, 1, tzinfo=UTC)))
    try:
        yield late.id, early.id
    finally:
        late.delete()
        early.delete()


def test_out_of_range_datetimes_give_an_object_column_as_lamindb_does(
    reg: Instance, extreme_dates: tuple[int, int],
) -> None:
    late, early = extreme_dates
    frame = Space.to_dataframe(limit=None)
    # pandas (2.x, as LaminDB uses it) keeps such a column as Python datetimes instead of raising
    assert str(frame["created_at"].dtype) == "object"
    assert frame.loc[late, "created_at"] == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert frame.loc[early, "created_at"] == datetime(1, 1, 1, tzinfo=UTC)
    assert frame.loc[2, "created_at"] == datetime(2025, 1, 1, 11, 0, 0, 123456, tzinfo=UTC)
    # rows within range keep the usual dtype
    assert str(Space.filter(id__lt=5).to_dataframe()["created_at"].dtype) == "datetime64[ns, UTC]"
