"""Small Sphinx fixes for the course's book (loaded through `local_extensions` in _config.yml).

- sphinx-thebe 0.3.1 adds its inline configuration script once per `env-before-read-docs`
  event, and a second copy reaches every page, so every page declared `const THEBE_JS_URL`
  twice and the browser logged a SyntaxError. The course does not use Thebe (its launch
  buttons open JupyterLab, Binder or Colab), so the duplicate script tags are dropped.
- pydata-sphinx-theme 0.17 logs "Got invalid theme mode" to the console on a reader's first
  visit (nothing stored yet and an empty default mode in its template): the default becomes "auto"
  (follow the reader's system setting), which the theme documents as its default.
"""

from __future__ import annotations


def _default_mode(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "auto"  # read by the theme's layout.html


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        # the copies differ only in their filename: None for one, "" for the other
        key = (getattr(script, "filename", script) or "",
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", _default_mode)
    # after the other extensions' handlers: one of them adds the copies page by page
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
