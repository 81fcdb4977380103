"""Quarto project scripts of the healthgap book (see ``project:`` in _quarto.yml).

Quarto runs a ``.py`` project script with the Python it uses for Jupyter ($QUARTO_PYTHON, else
python3 on the PATH), so this imports the healthgap that runs the chapters.
Usage: hooks.py pre-render | post-render (healthgap.render.hooks).
"""

import sys

try:
    from healthgap.render.hooks import main
except ImportError as exc:  # Quarto's Python is not the one healthgap is installed in
    sys.exit(
        f"healthgap is not installed for {sys.executable} ({exc}). Set QUARTO_PYTHON to the "
        "Python of the environment where you installed healthgap (e.g. .venv/bin/python)."
    )

sys.exit(main(sys.argv[1:]))
