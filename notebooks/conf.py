"""Sphinx configuration of the documentation site (`make docs` -> notebooks/_build/html/index.html).

The sources live beside the notebooks: this file, index.md (the README), series.md (the README's
series table and the notebooks in order), teachers.md (the README's "For teachers"), results.md
(notebooks/results/) and api.md (generated here from the modules' __all__). The notebooks are
rendered as committed, executed, never re-run (myst-nb, nb_execution_mode "off"); their saved
widget state makes notebook 03's explorers respond without a kernel.

Works offline: MathJax, require.js and the ipywidgets html-manager come from the npm registry
(`npm pack`, pinned versions and integrity hashes below) into the git-ignored cache
notebooks/_build/jscache/ on the first build, and are copied into the site; no page loads anything
from another host (tests/test_docs.py checks it in headless Chromium with the network blocked).
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent          # notebooks/: the source directory
ROOT = HERE.parent
JS_CACHE = HERE / "_build" / "jscache"          # npm tarballs and the files taken from them

project = "nint_lite"
author = "the nint_lite authors"
copyright = "nint_lite authors, MIT licence"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax"]
exclude_patterns = ["_build", "student", "**/.ipynb_checkpoints"]
html_theme = "furo"
html_title = "nint_lite"
html_static_path = ["_static", str(JS_CACHE / "static")]
html_css_files = ["nint.css"]
html_favicon = "_static/favicon.svg"
# after MathJax (priority 500, deferred), before the widgets render: see the file
html_js_files = [("mathjax2-hub-shim.js", {"defer": "defer", "priority": 600})]
html_show_sourcelink = False
html_copy_source = False             # the notebooks are large; the site links none of its sources

# myst-nb: render what is committed; `$…$` and `$$…$$` math as in Jupyter
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# everything from this site, nothing from a CDN
mathjax_path = "mathjax/tex-chtml.js"
nb_ipywidgets_js = {"require.js": {}, "html-manager/embed-amd.js": {}}

autodoc_member_order = "bysource"

# npm package -> (sha512 integrity, {path in the tarball: path under jscache/static/}); a path
# ending in "/" takes the whole folder. MathJax: the TeX + CHTML component, its fonts, and what
# it loads on demand (TeX extensions, the menu, accessibility); not the 24 MB of everything.
JS_PACKAGES = {
    "mathjax@3.2.2": (
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        {"es5/tex-chtml.js": "mathjax/tex-chtml.js",
         "es5/output/chtml/fonts/woff-v2/": "mathjax/output/chtml/fonts/woff-v2/",
         "es5/input/tex/extensions/": "mathjax/input/tex/extensions/",
         "es5/ui/": "mathjax/ui/", "es5/a11y/": "mathjax/a11y/"}),
    "@jupyter-widgets/html-manager@1.0.15": (     # the ipywidgets 8 embed bundle (AMD) + its fonts
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        {"dist/": "html-manager/"}),
    "requirejs@2.3.8": (
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        {"require.js": "require.js"}),
}


def fetch_js(cache: Path = JS_CACHE) -> Path:
    """`npm pack` each of JS_PACKAGES into `cache` (once: a stamp names the pinned set), check its
    integrity, and extract the listed files into cache/static/. Returns cache/static."""
    static, stamp = cache / "static", cache / "static" / ".packages"
    want = "\n".join(f"{p} {h}" for p, (h, _) in JS_PACKAGES.items())
    if stamp.is_file() and stamp.read_text() == want:
        return static
    if shutil.which("npm") is None:
        raise RuntimeError("the docs need npm once, to fetch MathJax and the widget manager from the "
                           "npm registry (Debian: apt-get install npm)")
    shutil.rmtree(static, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    for spec, (integrity, files) in JS_PACKAGES.items():
        name = subprocess.run(["npm", "pack", "--silent", spec], cwd=cache, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
        data = (cache / name).read_bytes()
        got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if got != integrity:
            raise RuntimeError(f"{spec}: integrity {got} differs from the pinned {integrity}")
        with tarfile.open(cache / name) as tar:
            for m in tar.getmembers():
                path = m.name.removeprefix("package/")
                for src, dst in files.items():
                    hit = path.startswith(src) if src.endswith("/") else path == src
                    if m.isfile() and hit and not path.endswith(".map"):
                        out = static / (dst + path[len(src):] if src.endswith("/") else dst)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(tar.extractfile(m).read())
    stamp.write_text(want)
    return static


# ---- the README as the site's pages --------------------------------------------------------

def readme_links(text: str) -> str:
    """The README's relative links, made relative to notebooks/ (where every page lives):
    notebooks/X -> X (a notebook becomes its page, results/*.md theirs); anything else, outside
    the site's sources, -> path:../X (myst: a download of that file, e.g. data/README.md)."""
    def fix(m):
        target = m.group(2)
        if re.match(r"[a-z]+:|#", target):
            return m.group(0)
        return m.group(1) + (target.removeprefix("notebooks/") if target.startswith("notebooks/")
                             else "path:../" + target) + ")"
    return re.sub(r"(\]\()([^)\s]+)\)", fix, text)


def series() -> list[tuple[str, str]]:
    """(notebook stem, run time) for each row of the README's series table, in order."""
    rows = re.findall(r"^\| \[(\d\d_\w+)\]\(notebooks/\1\.ipynb\) \|.*\| ([^|]+?) \|$",
                      (ROOT / "README.md").read_text(), flags=re.M)
    if not rows:
        raise RuntimeError("README.md has no series table rows `| [NN_name](notebooks/NN_name.ipynb) | … | time |`")
    return rows


def series_toctree() -> str:
    lines = [f"{stem} ({time}) <{stem}>" for stem, time in series()]
    return "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(lines) + "\n```\n"


def results_markdown() -> str:
    """One section per report results/<stem>.md: a link to its page, its figures <stem>_*.png
    and its raw <stem>.json; then the figures and JSON of no report (e.g. drift.png)."""
    folder, out, seen = HERE / "results", ["```{toctree}", ":hidden:", ":glob:", "", "results/*", "```", ""], set()

    def files(paths):
        seen.update(paths)
        for f in paths:
            if f.suffix == ".png":
                out.extend([f"```{{figure}} results/{f.name}", f":alt: {f.stem}", "", f"`{f.name}`", "```", ""])
        data = [f for f in paths if f.suffix == ".json"]
        if data:
            out.extend(["Raw data: " + ", ".join(f"{{download}}`{f.name} <results/{f.name}>`" for f in data) + ".", ""])

    for md in sorted(folder.glob("*.md")):
        title = md.read_text().splitlines()[0].lstrip("# ").strip()
        out.extend([f"## {md.stem}", "", f"[{title}](results/{md.name})", ""])
        files(sorted(folder.glob(f"{md.stem}_*.png")) + sorted(folder.glob(f"{md.stem}.json")))
    rest = [f for f in sorted(folder.glob("*")) if f.suffix in (".png", ".json") and f not in seen]
    if rest:
        out.extend(["## Other results", ""])
        files(rest)
    return "\n".join(out)


# ---- the API reference ------------------------------------------------------------------------

def api_modules() -> list:
    """nint_lite and every module and subpackage under it, in walk order (no __main__, no
    private module)."""
    import nint_lite

    names = ["nint_lite"] + [m.name for m in pkgutil.walk_packages(nint_lite.__path__, "nint_lite.")
                             if not any(p.startswith("_") for p in m.name.split("."))]
    return [importlib.import_module(n) for n in names]


def public_names(module) -> list[str]:
    """`__all__`, or (a module without one) the public names it defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [n for n, o in vars(module).items()
            if not n.startswith("_") and getattr(o, "__module__", None) == module.__name__]


def api_index() -> list[dict]:
    """One row per public name of every module: {"module", "name", "kind", "target"}, where
    target is the full name under which the object is documented: its own module when that module
    lists it (a re-export is a link there), else this module."""
    modules = api_modules()
    listed = {m.__name__: public_names(m) for m in modules}
    rows = []
    for m in modules:
        for name in listed[m.__name__]:
            obj = getattr(m, name)
            if inspect.ismodule(obj):
                rows.append({"module": m.__name__, "name": name, "kind": "module", "target": obj.__name__})
                continue
            home = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
            if home is None:        # data: the deepest non-package module listing the same object
                homes = [k for k, names in listed.items() if name in names
                         and getattr(importlib.import_module(k), name) is obj
                         and not hasattr(importlib.import_module(k), "__path__")]
                home = max(homes, key=len) if homes else m.__name__
            if name not in listed.get(home, ()):
                home = m.__name__
            kind = "class" if inspect.isclass(obj) else "function" if inspect.isroutine(obj) else "data"
            rows.append({"module": m.__name__, "name": name, "kind": kind, "target": f"{home}.{name}"})
    return rows


def api_markdown() -> str:
    """The API page body: per module, its docstring, then each public name documented (autodoc)
    or, when it is defined elsewhere, linked to where it is. Autodoc runs inside eval-rst: in
    MyST a directive's content would be read as Markdown, and autodoc's output is rST."""
    out, rows = [], api_index()
    for m in api_modules():
        mine = [r for r in rows if r["module"] == m.__name__]
        links = [r for r in mine if r["kind"] == "module" or r["target"] != f"{m.__name__}.{r['name']}"]
        out += [f"## `{m.__name__}`", "", "```{eval-rst}", f".. automodule:: {m.__name__}", ""]
        for r in mine:
            if r not in links:
                out += [f".. auto{r['kind']}:: {r['target']}", *(["   :members:"] if r["kind"] == "class" else []), ""]
        out += ["```", ""]
        if links:                      # re-exports: a table of links to where each is documented
            role = {"module": "py:mod"}
            out += ["| also here | documented as |", "|---|---|"]
            out += [f"| `{r['name']}` | {{{role.get(r['kind'], 'py:obj')}}}`{r['target']}` |" for r in links]
            out.append("")
    return "\n".join(out)


NOTEBOOK_REF = re.compile(r"notebooks/(\d\d_\w+)\.ipynb")


def docstring_as_text(app, what, name, obj, options, lines):
    """Docstrings here are plain text laid out for a terminal (aligned tables, shapes like
    `(N, C)`, `|x|`), not reStructuredText: show them preformatted, as written, with every
    `notebooks/NN_name.ipynb` (the "Built in notebooks/…" backlinks) a link to that page."""
    if not lines:
        return
    def esc(s):          # every markup character taken literally (a backslash escape in rST)
        return re.sub(r"([\\`*_|\[\]<>:])", r"\\\1", s)

    def line(s):
        parts = NOTEBOOK_REF.split(s)         # text, stem, text, stem, …
        return "".join(esc(p) if i % 2 == 0 else f":doc:`notebooks/{p}.ipynb </{p}>`"
                       for i, p in enumerate(parts))
    body = [("   " + line(s)) if s.strip() else "" for s in lines]
    lines[:] = [".. parsed-literal::", "   :class: nint-doc", "", *body, ""]


def plain_docstrings(app, doctree):
    """A docstring without any markup character gives a parsed-literal whose text equals its
    source, which Sphinx takes for a code block and highlights as Python; an empty rawsource
    keeps it plain text like every other docstring."""
    from docutils import nodes

    for node in doctree.findall(nodes.literal_block):
        if "nint-doc" in node["classes"]:
            node.rawsource = ""


def source_pages(app, docname, source):
    """Fill the generated parts: the series toctree and the API reference."""
    if docname == "series":
        source[0] = source[0].replace("<!-- series toctree -->", series_toctree())
    elif docname == "results":
        source[0] = source[0].replace("<!-- results -->", results_markdown())
    elif docname == "api":
        source[0] = source[0].replace("<!-- api -->", api_markdown())


def include_readme(app, relative_path, parent_docname, content):
    if (app.srcdir / relative_path).resolve() == (ROOT / "README.md").resolve():
        content[0] = readme_links(content[0])


def add_js(app, config):
    fetch_js()


def setup(app):
    app.connect("config-inited", add_js)
    app.connect("source-read", source_pages)
    app.connect("include-read", include_readme)
    app.connect("autodoc-process-docstring", docstring_as_text)
    app.connect("doctree-read", plain_docstrings)
    return {"parallel_read_safe": True}
