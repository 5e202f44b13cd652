"""report.html renders in headless Chromium with its plots: a real audit's page, screenshotted, must show
non-blank PNG plots (decoded from the page itself) and a non-blank screenshot. Skips when chromium is absent."""
import base64
import io
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest

from edgeq import api

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _ink(png: bytes) -> float:
    """Share of pixels that are not near-white."""
    img = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    return float(np.mean(img.min(axis=-1) < 0.9))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(digits, tmp_path):
    api.audit({"int8": digits.project}, digits.x[:16], digits.y[:16], attacks="pgd_linf,deepfool,geoda",
              out_dir=tmp_path / "audit")
    page = tmp_path / "audit" / "report.html"
    plots = re.findall(r'src="data:image/png;base64,([^"]+)"', page.read_text())
    assert len(plots) == 2 and all(_ink(base64.b64decode(p)) > 0.01 for p in plots)
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.is_file() and _ink(shot.read_bytes()) > 0.02
