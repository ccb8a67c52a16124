"""The HTML report of a real multirun, rendered in headless Chromium (Debian's ``chromium``).

Slow, and skipped where no chromium is installed (``apt-get install chromium``);
the default suite and CI do not need it.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from nasframe.analysis.html import html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium(page, tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=180)


def dom(page, tmp_path) -> str:
    r = chromium(page, tmp_path, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def root_attributes(rendered: str) -> str:
    """The attributes of the dumped page's <html> tag, where the page records readiness and errors."""
    return re.search(r"<html([^>]*)>", rendered).group(1)


def screenshot(page, tmp_path, size="1280,2000"):
    from PIL import Image

    shot = tmp_path / f"{page.stem}.png"
    r = chromium(page, tmp_path, f"--screenshot={shot}", f"--window-size={size}")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    return np.asarray(Image.open(shot).convert("L"), dtype=float)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_the_report_of_a_real_multirun_renders_in_chromium(shared_data, tmp_path):
    sweep = tmp_path / "sweep"
    r = subprocess.run([sys.executable, "-m", "nasframe", "-m", "strategy=random,rea", "seed=range(5)",
                        f"data.root={shared_data}", "budget.queries=50", "progress=false",
                        f"hydra.sweep.dir={sweep}"], capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert r.returncode == 0, r.stderr[-3000:]
    page = html_report(sweep)

    rendered = dom(page, tmp_path)
    attrs = root_attributes(rendered)
    assert 'data-ready="1"' in attrs  # every script ran to its end ...
    assert "data-errors" not in attrs  # ... and nothing reached window.onerror or console.error
    assert rendered.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>") == 2
    assert "10 run(s)" in rendered  # random and rea, 5 seeds each

    pixels = screenshot(page, tmp_path)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # not a blank page: figures, table and cells drawn
    top = pixels[:1000]
    assert (top < 128).mean() > 0.01  # dark ink (lines, text) in the upper half where the curves are


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_the_error_trap_sees_a_broken_script(tmp_path):
    # the check above can fail: a page whose script throws carries the message in its DOM
    from nasframe.analysis.html import _TRAP

    page = tmp_path / "broken.html"
    page.write_text(f"<!DOCTYPE html><html><head><script>{_TRAP}</script></head><body>x"
                    "<script>undefinedFunction()</script><script>console.error('boom')</script></body></html>")
    rendered = dom(page, tmp_path)
    attrs = root_attributes(rendered)
    assert "data-errors" in attrs and "undefinedFunction" in attrs and "boom" in attrs
