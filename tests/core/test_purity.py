"""The core knows no I/O: importing all of it loads neither SQLAlchemy nor httpx, nor any adapter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import syncd.core

ADAPTER_PACKAGES = ("sqlalchemy", "httpx", "psycopg", "websockets", "apscheduler", "prometheus_client")


def test_core_modules_import_no_adapter_in_a_fresh_interpreter() -> None:
    modules = sorted(f"syncd.core.{m.name}" for m in pkgutil.iter_modules(syncd.core.__path__))
    assert "syncd.core.sync" in modules and "syncd.core.rows" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(__import__("json").loads(done.stdout))
    adapters = sorted(m for m in loaded if m.split(".")[0] in ADAPTER_PACKAGES)
    assert adapters == [], f"the core loaded {adapters[:10]}"
    # within syncd the core depends only on itself and the rooted exception tree
    outside = sorted(m for m in loaded if m.startswith("syncd.") and not m.startswith("syncd.core")
                     and m != "syncd.errors")
    assert outside == [], f"the core imports {outside}"
