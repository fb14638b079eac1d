"""Mistakes on the command line are answered before torch is imported (a fraction of a second, not
the seconds torch takes): checked in a fresh interpreter that reports whether torch got loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
from srfacebench.cli import main
code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "nosuch"], "unknown model 'nosuch'"),
        (["--model", "zoo:span-x4-ch5"], "unknown zoo model"),
        (["--model", "missing_file.py"], "file missing_file.py not found"),
        (["--protocol", "lfw-verifcation"], "lfw-verification"),
        (["--fr", "dlibb"], "unknown FR network 'dlibb'"),
        (["--scale", "3"], "not divisible by the scale 3"),
        (["--degradation", "bicubic:80"], "leaving 0 where SSIM needs 11"),
        (["--degradation", "blurr:sigma=2+bicubic:4"], "blurr"),
    ],
)
def test_a_mistake_is_an_error_before_torch_loads(tiny_data, tmp_path, extra, message):
    data_root, proto = tiny_data
    args = ["run", "--model", "bicubic", "--protocol", str(proto), "--data-root", str(data_root),
            "--out", str(tmp_path / "o"), "--no-progress"]  # fmt: skip
    if "--scale" not in extra and "--degradation" not in extra:
        args += ["--scale", "4"]
    if "--protocol" in extra:
        args = [a for a in args if a != str(proto)]
        args.remove("--protocol")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args + extra)], capture_output=True, text=True, cwd=tmp_path
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 2 and message in proc.stderr, proc.stderr
    assert result["torch"] is False, f"torch was imported before the error: {proc.stderr}"
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
