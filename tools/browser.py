"""Read the built book in a real browser, as a reader would, and report what is broken.

    python tools/browser.py [_build/html]     # after `make book`; exit 1 if a page has a problem

Every page of the built book is served over a local HTTP port and opened in headless Chromium
at 1280x900 (Debian's `chromium` and `chromium-driver`, driven by Selenium). Each page is
checked for:
- code or printed output wider than its box (the reader would have to scroll sideways),
  and tables wider than the page's text column;
- math that MathJax did not typeset (raw TeX left on the page);
- images that did not load;
- scripts, styles, fonts or images fetched from another host (the book must read offline);
- errors in the browser's console;
- internal links to a page or an anchor that does not exist.
Each problem names the page and the block. `tests/test_browser.py` runs this in `make test`.

`check_jupyterlab` opens a notebook in a real JupyterLab (`jupyter lab --no-browser` on a
local port) and checks its first screen: the title renders as a heading, the links of its
first cell are links (no MyST role left raw) and the setup cell's code starts folded.

    python tools/browser.py --lab labs/lab1_cnn.ipynb
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HTML = os.path.join(ROOT, "_build", "html")
WINDOW = (1280, 900)
SKIP = {"genindex.html", "search.html"}  # Sphinx's generated index and search pages
INSTALL = ("install them with `apt-get install chromium chromium-driver` (Debian/Ubuntu) "
           "and `pip install -r requirements.txt` (Selenium)")


class BrowserMissing(RuntimeError):
    pass


def _redirect(path: str) -> bool:
    """A page that only forwards to another (the book's index.html): inspecting it races
    the navigation, and its target is read in its own right."""
    with open(path, encoding="utf-8") as f:
        return 'http-equiv="Refresh"' in f.read(2000)


def pages(html_dir: str = HTML) -> list[str]:
    """The book's pages, relative to html_dir (no Sphinx index or search page)."""
    found = []
    for folder, dirs, files in os.walk(html_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("_"))
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(folder, name), html_dir)
            if name.endswith(".html") and rel not in SKIP and not _redirect(
                    os.path.join(folder, name)):
                found.append(rel)
    return found


def _chromium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserMissing(f"Selenium is not installed: {INSTALL}") from error
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                   if shutil.which(n)), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/lib/chromium/chromedriver")
                   if p and os.path.exists(p)), None)
    if binary is None or driver is None:
        raise BrowserMissing(f"no Chromium and chromedriver found on PATH: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                # every other host is unreachable, as on a train: what the page needs from
                # elsewhere then shows up as a failed load
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


@contextlib.contextmanager
def _serve(html_dir: str):
    handler = functools.partial(_QuietHandler, directory=html_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# Runs in the page once MathJax is done; returns what the reader would find wrong.
_INSPECT = r"""
const done = arguments[arguments.length - 1];
// the document may still be settling when the driver hands over: wait for its body first
const loaded = new Promise((resolve) => (function poll() {
  if (document.readyState === 'complete' && document.body) return resolve();
  setTimeout(poll, 100);
})());
const typeset = loaded.then(() => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    || undefined);
let late = false;
const timer = new Promise((resolve) => setTimeout(() => { late = true; resolve(); }, 20000));
Promise.race([typeset, timer]).then(() => { try {
  const article = document.querySelector('article.bd-article') || document.body;
  const box = article.getBoundingClientRect();
  const first = (el) => (el.innerText || '').trim().split('\n')[0].slice(0, 70);
  const wide = [];
  for (const pre of article.querySelectorAll('pre')) {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      wide.push(`${pre.scrollWidth - pre.clientWidth}px too wide: "${first(pre)}"`);
    }
  }
  for (const table of article.querySelectorAll('table')) {
    const r = table.getBoundingClientRect();
    if (r.right > box.right + 1) wide.push(`table ${Math.round(r.right - box.right)}px `
                                           + `past the text column: "${first(table)}"`);
  }
  const tex = [];
  for (const m of article.querySelectorAll('.math')) {
    if (!m.querySelector('mjx-container')) tex.push(first(m) || m.textContent.slice(0, 70));
  }
  const images = [...document.querySelectorAll('img')]
      .filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.getAttribute('src'));
  const resources = performance.getEntriesByType('resource').map((e) => e.name);
  const links = [...article.querySelectorAll('a[href]')].map((a) => a.href);
  done({late, mathCount: article.querySelectorAll('.math').length, wide, tex, images, resources, links,
        navLinks: [...document.querySelectorAll('nav a[href]')].map((a) => a.href)});
} catch (error) { done({error: String(error)}); } });
"""


def _note(problems: list[str], where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def _anchors(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r'\sid="([^"]+)"', f.read()))


def check_book(html_dir: str = HTML, only: list[str] | None = None) -> list[str]:
    """Open every page (or those in `only`) and return one line per problem found."""
    if not os.path.exists(os.path.join(html_dir, "index.html")):
        raise FileNotFoundError(f"no built book in {html_dir}: run `make book` first")
    problems: list[str] = []
    anchors: dict[str, set[str]] = {}
    browser = _chromium()
    try:
        browser.set_script_timeout(60)
        with _serve(html_dir) as base:
            host = urllib.parse.urlparse(base).netloc
            for rel in only or pages(html_dir):
                for attempt in range(2):  # a page caught mid-load is read once more
                    browser.get(base + rel)
                    seen = browser.execute_async_script(_INSPECT)
                    if "error" not in seen:
                        break
                if "error" in seen:
                    raise RuntimeError(f"{rel}: the page inspection failed: {seen['error']}")
                say = functools.partial(_note, problems, rel)
                for what in seen["wide"]:
                    say(f"scrolls sideways at {WINDOW[0]}x{WINDOW[1]}: {what}")
                if seen["late"]:
                    say("MathJax did not finish typesetting within 20 s")
                for what in seen["tex"]:
                    say(f"math not typeset (raw TeX): {what}")
                for src in seen["images"]:
                    say(f"image did not load: {src}")
                for url in seen["resources"]:
                    if urllib.parse.urlparse(url).netloc not in (host, ""):
                        say(f"fetches from another host: {url}")
                for entry in browser.get_log("browser"):
                    if "/favicon.ico" in entry["message"]:
                        continue  # the browser asks every server for one; no page links it
                    if entry["level"] in ("SEVERE", "WARNING") and entry["source"] != "network":
                        say(f"console {entry['level'].lower()}: {entry['message'][:200]}")
                    elif entry["level"] == "SEVERE":
                        say(f"failed to load: {entry['message'][:200]}")
                for url in set(seen["links"]) | set(seen["navLinks"]):
                    parts = urllib.parse.urlparse(url)
                    if parts.netloc != host:
                        continue  # external links (launch buttons, references) are not fetched
                    target = os.path.join(html_dir, urllib.parse.unquote(parts.path.lstrip("/")))
                    if target.endswith("/"):
                        target += "index.html"
                    if not os.path.exists(target):
                        say(f"link to a missing page: {parts.path}")
                    elif parts.fragment and target.endswith(".html"):
                        if target not in anchors:
                            anchors[target] = _anchors(target)
                        if urllib.parse.unquote(parts.fragment) not in anchors[target]:
                            say(f"link to a missing anchor: {parts.path}#{parts.fragment}")
    finally:
        browser.quit()
    return problems


_FIRST_SCREEN = r"""
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 90000;
(function poll() {
  const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
  const title = document.querySelector('.jp-Notebook .jp-Cell .jp-RenderedMarkdown h1');
  if (!(cells.length > 3 && title)) {
    if (Date.now() < deadline) return setTimeout(poll, 500);
    return done({error: `no rendered notebook after 90 s (${cells.length} cells)`});
  }
  const first = cells[0].querySelector('.jp-RenderedMarkdown');
  const code = [...cells].find((c) => c.classList.contains('jp-CodeCell'));
  done({title: title.textContent.replace(/\u00b6/g, '').trim(),
        text: first ? first.innerText : '',
        links: first ? [...first.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'))
                     : [],
        // a folded input shows a placeholder with its first line instead of the editor
        setupFolded: !!(code && code.querySelector('.jp-InputPlaceholder'))});
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_jupyterlab(rel: str = "labs/lab1_cnn.ipynb", root: str = ROOT) -> list[str]:
    """Open ``rel`` in a fresh JupyterLab server; one line per problem of its first screen."""
    import nbformat

    nb = nbformat.read(os.path.join(root, rel), as_version=4)
    first = nb.cells[0].source
    want_title = first.splitlines()[0].lstrip("# ").strip()
    want_links = re.findall(r"\]\(([^)#\s:]+\.ipynb)", first)  # relative links only
    port, token = _free_port(), "cvbook-browser-test"
    home = tempfile.mkdtemp(prefix="cvbook-lab-")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=os.path.join(home, "config"),
               JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"))
    log = open(os.path.join(home, "lab.log"), "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--allow-root",
         f"--IdentityProvider.token={token}", f"--LabApp.workspaces_dir={home}",
         f"--LabApp.user_settings_dir={home}"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    problems: list[str] = []
    browser = None
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited; its log: {log.name}")
                time.sleep(0.5)
        browser = _chromium()
        browser.set_script_timeout(120)
        browser.get(f"{base}/lab/tree/{rel}?token={token}")
        seen = browser.execute_async_script(_FIRST_SCREEN)
        say = functools.partial(_note, problems, f"JupyterLab, {rel}")
        if "error" in seen:
            say(seen["error"])
            return problems
        if seen["title"] != want_title:
            say(f"the first heading is {seen['title']!r}, not the title {want_title!r}")
        for role in re.findall(r"\{(?:doc|ref|numref|glue|glue:\w+|eq|download)\}\S*",
                               seen["text"]):
            say(f"a MyST role shows as raw text: {role}")
        hrefs = [urllib.parse.unquote(h) for h in seen["links"]]
        for link in want_links:
            path = os.path.normpath(os.path.join(os.path.dirname(rel), link))
            if not any(path in h for h in hrefs):
                say(f"the link to {link} did not render as a link to {path} (found {hrefs})")
        if not seen["setupFolded"]:
            say("the setup cell's code is not folded")
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    return problems


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--lab"]:
        problems = check_jupyterlab(*(argv[1:2] or []))
        print("\n".join(problems) if problems else "the first screen reads cleanly")
        return 1 if problems else 0
    html_dir = os.path.abspath(argv[0]) if argv else HTML
    problems = check_book(html_dir, argv[1:] or None)
    print("\n".join(problems) if problems else f"{len(pages(html_dir))} pages read cleanly")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
