"""The documentation site: `make docs` (Sphinx -W, myst-nb, the committed notebooks, not re-run),
then every page of the series in headless Chromium with the network cut off.

Per notebook page: the math is typeset by the bundled MathJax (no raw `$$` or `\\(` left), every
image has loaded (naturalWidth > 0), the browser console has no SEVERE entry (a request to any
other host fails, and shows up there). On notebook 03: the three kernel-free explorers render
from the saved widget state and each responds to a slider (the frame shown changes); a
screenshot goes to results/docs_03.png. Also: no built page refers to another host, the API page
covers every public name, and every "Built in notebooks/…" backlink is a working link.

Chromium is Debian's (/usr/bin/chromium, /usr/bin/chromedriver), driven by selenium; without it
these tests skip, except in CI (CI=true), where they fail.
"""
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "notebooks" / "_build" / "html"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _unavailable(why: str):
    if IN_CI:
        pytest.fail(f"{why} — CI (CI=true) needs the browser test: .ci/run installs it")
    pytest.skip(f"{why}; install it (apt-get install chromium chromium-driver) to run the browser test")


@pytest.fixture(scope="module")
def site() -> Path:
    """Build the site exactly as `make docs` does (warnings are errors) and check that its last
    line names the built index.html."""
    out = subprocess.run(["make", "-s", "docs"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"make docs failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    last = out.stdout.strip().splitlines()[-1]
    assert Path(last) == SITE / "index.html" and Path(last).is_file(), last
    return SITE


@pytest.fixture(scope="module")
def server(site):
    """The site over http://127.0.0.1:<port>/ (MathJax fetches its fonts, which file:// blocks)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with no network: every host name but 127.0.0.1 fails to resolve, and
    every other address goes to a proxy that does not exist."""
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).exists():
            _unavailable(f"{exe} is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e .[docs])")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1500",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
                "--proxy-server=http://127.0.0.1:9"):   # loopback bypasses a proxy implicitly
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, script: str, timeout: float = 30.0, what: str = ""):
    """Poll a JS expression until it is truthy; its value, or a failure naming `what`."""
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(script))
    except Exception as e:  # TimeoutException: say what never happened
        raise AssertionError(f"timed out waiting for {what or script}") from e


def _open(driver, url: str):
    """Load a page, wait for it, its images and MathJax's typesetting; return the console log
    so far (reading it clears it)."""
    driver.get_log("browser")
    driver.get(url)
    _wait(driver, "return document.readyState === 'complete'", what="the page to load")
    _wait(driver, "return Array.from(document.images).every(i => i.complete)", what="images to load")
    _wait(driver, """
        if (!window.MathJax) return true;                      // a page without math loads none
        if (!MathJax.startup || !MathJax.startup.promise) return false;
        if (window.__typeset === undefined) {
            window.__typeset = false; MathJax.startup.promise.then(() => { window.__typeset = true; });
        }
        return window.__typeset;""", what="MathJax to typeset the page")
    return driver.get_log("browser")


def _severe(log) -> list:
    return [e["message"] for e in log if e["level"] == "SEVERE"]


def test_built_pages_load_nothing_from_another_host(site):
    external = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= len(NOTEBOOKS) + 5
    offenders = [str(p.relative_to(site)) for p in pages if external.search(p.read_text(errors="replace"))]
    assert not offenders, f"pages that load from another host: {offenders}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (site / "_static" / "html-manager" / "embed-amd.js").is_file()


def test_no_student_copy_in_the_site(site):
    assert not (site / "student").exists()
    assert all((site / f"{nb}.html").is_file() for nb in NOTEBOOKS)


@pytest.mark.parametrize("nb", NOTEBOOKS)
def test_notebook_page_renders_offline(browser, server, nb):
    log = _open(browser, f"{server}/{nb}.html")
    math = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    text = browser.execute_script("return document.querySelector('article').innerText")
    source = (ROOT / "notebooks" / f"{nb}.ipynb").read_text()
    if "$" in source:
        assert math > 0, f"{nb}: no typeset math"
    assert "$$" not in text and "\\(" not in text and "\\[" not in text, f"{nb}: raw TeX left in the page"
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.naturalWidth > 0)).map(i => i.src)")
    assert browser.execute_script("return document.images.length") > 0 and not broken, f"{nb}: broken images {broken}"
    assert not _severe(log), f"{nb}: console errors {_severe(log)}"


# the three explorers of notebook 03 (top-level widget boxes, in page order), each as built there
EXPLORERS = 3
TOP_BOXES = """return Array.from(document.querySelectorAll('.widget-vbox'))
                    .filter(b => !b.parentElement.closest('.widget-vbox'))"""


def test_notebook_03_widgets_respond_without_a_kernel(browser, server):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    log = _open(browser, f"{server}/03_kernel_leverage.html")
    _wait(browser, TOP_BOXES + f".filter(b => b.querySelector('img')).length === {EXPLORERS}",
          what="the three explorers to render from the saved widget state")
    boxes = browser.execute_script(TOP_BOXES)
    for k, box in enumerate(boxes):
        shown = lambda: [i.get_attribute("src") for i in box.find_elements("css selector", "img")  # noqa: E731
                         if i.is_displayed()]
        before = shown()
        assert len(before) == 1 and browser.execute_script(
            "return arguments[0].querySelector('img').naturalWidth", box) > 0, f"explorer {k}: {before}"
        handles = box.find_elements("css selector", ".noUi-handle")
        assert handles, f"explorer {k} has no slider"
        handle = handles[-1]
        label = box.find_elements("css selector", ".widget-readout")[-1].text
        browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", handle)
        handle.send_keys(Keys.HOME if k == 1 else Keys.ARROW_RIGHT)   # 03's step slider starts at its end
        WebDriverWait(browser, 10).until(lambda d: len(shown()) == 1 and shown() != before,
                                         message=f"explorer {k}: the frame did not change")
        after = box.find_elements("css selector", ".widget-readout")[-1].text
        assert after != label, f"explorer {k}: the slider did not move ({label})"
    # the screenshot: §6's typeset math, then the explorers below it (as the slider moves left them)
    browser.execute_script("""
        Array.from(document.querySelectorAll('article p'))
             .find(e => e.innerText.startsWith('The diagonal term is a small part'))
             .scrollIntoView({block: 'start', behavior: 'instant'});""")   # furo scrolls smoothly
    out = ROOT / "results" / "docs_03.png"
    out.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(out))
    assert not _severe(log + browser.get_log("browser")), _severe(log)


def test_api_page_covers_every_public_name(site):
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import conf
    finally:
        sys.path.pop(0)
    html = (site / "api.html").read_text()
    ids = set(re.findall(r'id="([^"]+)"', html))
    rows = conf.api_index()
    names = {(r["module"], r["name"]) for r in rows}
    import nint_lite
    assert {("nint_lite", n) for n in nint_lite.__all__} <= names
    for mod in ("nint_lite.ntk", "nint_lite.baselines", "nint_lite.beyond", "nint_lite.classroom",
                "nint_lite.classroom.checks", "nint_lite.shapes", "nint_lite.lab.compare"):
        assert {(mod, n) for n in conf.public_names(__import__(mod, fromlist=["_"]))} <= names, mod
    missing = [f"{r['module']}.{r['name']}" for r in rows
               if (f"module-{r['target']}" if r["kind"] == "module" else r["target"]) not in ids]
    assert not missing, f"not documented on the API page: {missing}"


def test_built_in_backlinks_resolve(site):
    """Every "Built in notebooks/NN_name.ipynb" backlink of a docstring is, on the API page, a
    link to that notebook's built page (Sphinx -W already fails on a link to a missing page)."""
    import nint_lite

    html = (site / "api.html").read_text()
    wanted = set()
    for path in Path(nint_lite.__file__).parent.rglob("*.py"):
        for line in path.read_text().splitlines():
            if "Built in notebooks/" in line:
                wanted |= set(re.findall(r"notebooks/(\d\d_\w+)\.ipynb", line))
    link = r'<a class="reference internal" href="(\d\d_\w+)\.html"><span class="doc">notebooks/\1\.ipynb</span></a>'
    linked = set(re.findall(link, html))
    assert wanted and wanted <= linked, f"backlinks without a link: {sorted(wanted - linked)}"
    assert all((site / f"{stem}.html").is_file() for stem in linked)
    unlinked = re.findall(r"notebooks/\d\d_\w+\.ipynb", re.sub(link, "", html))
    assert not unlinked, f"notebook names on the API page that are not links: {unlinked[:5]}"
