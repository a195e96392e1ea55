"""report.html in a real browser: headless Chromium (Debian's `chromium`, installed by
scripts/install_system_deps.sh) opens the report of a small run, takes a screenshot, and every
chart's region must hold a drawn plot (pixel variance, plotly's SVG present) with no console message.

The helpers here are shared with tests/round/ (the round report)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

WIDTH = 1280
# Collected into the DOM after the page's scripts ran: every chart's box and whether plotly drew it.
_PROBE = """<script>
addEventListener('load', () => setTimeout(() => {
  const charts = [...document.querySelectorAll('.chart')].map(el => {
    const r = el.getBoundingClientRect();
    return {id: el.dataset.chart, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
            svgs: el.querySelectorAll('svg.main-svg').length};
  });
  const pre = document.createElement('pre'); pre.id = 'probe-out';
  pre.textContent = JSON.stringify({charts, height: document.documentElement.scrollHeight, errors: window.__errs});
  document.body.appendChild(pre);
}, 200));
</script>"""
_CATCH = "<script>window.__errs=[];addEventListener('error',e=>__errs.push(String(e.message)));</script>"


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: run scripts/install_system_deps.sh")
        pytest.skip("chromium is not installed (scripts/install_system_deps.sh installs it)")
    return exe


def _chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--force-device-scale-factor=1", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
           f"--user-data-dir={page.parent / '.chromium-profile'}", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def console_messages(stderr: str) -> list[str]:
    """What the page logged or threw (chromium prints each as an `INFO:CONSOLE` line)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def render(page: Path, png: Path) -> dict:
    """Lay out ``page`` (chart boxes, JS errors), then screenshot the whole of it to ``png``."""
    probe = page.with_name(page.stem + ".probe.html")
    text = page.read_text()
    probe.write_text(text.replace("<head>", "<head>" + _CATCH, 1).replace("</body>", _PROBE + "</body>", 1))
    res = _chromium(probe, f"--window-size={WIDTH},1000", "--dump-dom")
    found = re.search(r'<pre id="probe-out">(.*?)</pre>', res.stdout, re.DOTALL)
    assert found, f"the page did not finish loading: {res.stderr[-2000:]}"
    import html

    info = json.loads(html.unescape(found.group(1)))
    shot = _chromium(page, f"--window-size={WIDTH},{min(int(info['height']) + 20, 16000)}", f"--screenshot={png}")
    assert png.is_file(), shot.stderr[-2000:]
    info["console"] = console_messages(res.stderr) + console_messages(shot.stderr)
    return info


def drawn(png: Path, box: dict) -> tuple[float, float]:
    """(grey-level standard deviation, share of non-white pixels) inside ``box`` of the screenshot."""
    from PIL import Image, ImageStat

    with Image.open(png) as img:
        crop = img.convert("L").crop((int(box["x"]) + 2, int(box["y"]) + 2,
                                      int(box["x"] + box["w"]) - 2, int(box["y"] + box["h"]) - 2))
        ink = sum(1 for p in crop.getdata() if p < 235) / max(1, crop.width * crop.height)
        return ImageStat.Stat(crop).stddev[0], ink


def assert_charts_drew(page: Path, png: Path, expected: set[str]) -> dict:
    info = render(page, png)
    assert not info["console"] and not info["errors"], (info["console"], info["errors"])
    boxes = {c["id"]: c for c in info["charts"]}
    assert expected <= set(boxes), f"charts on the page: {sorted(boxes)}"
    for cid, box in boxes.items():
        assert box["svgs"] >= 1 and box["w"] > 300 and box["h"] > 150, (cid, box)
        spread, ink = drawn(png, box)
        assert spread > 12 and ink > 0.01, f"chart {cid} looks blank: stddev {spread:.1f}, ink {ink:.3f}"
    return info


def small_run(tmp_path: Path):
    """A 40-item run with failures (every 7th item), verdicts and a weighted score per candidate."""
    from synthgen.config import PipelineConfig
    from synthgen.runner import run_pipeline
    from tests.fixtures.plugins_for_tests import registry_for_tests

    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps({"id": f"i-{i}", "prompt": f"p{i}"}) + "\n" for i in range(40)))
    cfg = PipelineConfig.model_validate({
        "name": "small", "sources": [{"path": str(src)}],
        "generator": {"name": "echo_for_tests", "options": {"broken_every": 7}},
        "verifiers": [{"name": "parity_for_tests"}], "verify": {"mode": "weighted"}})
    return run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry_for_tests(), progress=False)


@pytest.mark.slow
def test_run_report_charts_draw_in_chromium(tmp_path):
    chromium()
    summary = small_run(tmp_path)
    page = Path(summary.run_dir) / "report.html"
    text = page.read_text()
    # self-contained: no script or stylesheet fetched from elsewhere (plotly.js is inlined)
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*\shref=", text)
    info = assert_charts_drew(page, tmp_path / "report.png", {"funnel", "pass-rates", "score-0", "reasons"})
    assert info["height"] > 1000


@pytest.mark.slow
def test_the_browser_check_sees_a_chart_that_did_not_draw(tmp_path):
    """The same report without plotly.js: the check must see the error and the blank charts."""
    chromium()
    summary = small_run(tmp_path)
    page = Path(summary.run_dir) / "report.html"
    text = page.read_text()
    head_end = text.index("</head>")
    script_start = text.rindex("<script", 0, head_end)
    broken = page.with_name("broken.html")
    broken.write_text(text[:script_start] + text[head_end:])
    info = render(broken, tmp_path / "broken.png")
    assert any("Plotly is not defined" in m for m in info["console"]), info["console"]
    box = next(c for c in info["charts"] if c["id"] == "funnel")
    assert box["svgs"] == 0 and drawn(tmp_path / "broken.png", box)[0] < 12
