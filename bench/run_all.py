"""`make bench`: every benchmark in one run, results appended to bench/RESULTS.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = []
    for script, extra in (("assign.py", []), ("coverage.py", []), ("tiles.py", []), ("load.py", [])):
        print(f"== {script}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), "--record", *extra], cwd=HERE.parent)
        if result.returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
