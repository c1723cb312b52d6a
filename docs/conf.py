"""Sphinx configuration of galcat's documentation: every ``docs/*.md`` page, the API reference.

Build: ``sphinx-build -W --keep-going -b html docs <out>`` (``pip install -e ".[docs]"``).
Pages are Markdown (MyST); the API reference is generated from the docstrings by
sphinx-automodapi; the example notebooks are shown as committed, never executed here (the test
suite executes them: ``tests/test_notebooks.py``).
"""

from __future__ import annotations

import sphinx_automodapi.automodsumm as _automodsumm
from sphinx_automodapi.utils import find_mod_objs as _find_mod_objs

import galcat


def _own_objects(modname, onlylocals=False, sort=False):
    """automodsumm lists a module without ``__all__`` with everything it imports, but generates
    stubs only for the module's own objects; list those same objects (a module's ``__all__``,
    when it has one, still decides)."""
    return _find_mod_objs(modname, onlylocals=onlylocals or True, sort=sort)


_automodsumm.find_mod_objs = _own_objects

project = "galcat"
author = "galcat contributors"
copyright = "galcat contributors"
release = galcat.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "sphinx_automodapi.automodapi",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"

# API reference: one page per public package, stubs generated into docs/api/ (not committed).
automodapi_toctreedirnm = "api"
automodapi_writereprocessed = False
automodsumm_inherited_members = False
autodoc_typehints = "none"  # signatures show the defaults; names in hints need not resolve
autodoc_default_options = {"show-inheritance": False}
default_role = "code"  # `x` in a docstring is code, as the docstrings write it
suppress_warnings = ["myst.header"]


html_theme = "alabaster"
html_title = f"galcat {release}"
