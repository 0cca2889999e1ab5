from __future__ import annotations

import subprocess
import sys


def test_import_has_no_side_effects_and_no_web_stack() -> None:
    code = (
        "import os, sys; before = dict(os.environ); import modelref, modelref.client.sources; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'sqlalchemy', 'uvicorn', 'starlette', 'alembic', 'pydantic_settings')); "
        "assert not heavy, heavy; assert dict(os.environ) == before; print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
