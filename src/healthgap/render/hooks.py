"""The book's Quarto project scripts: ``pre-render`` and ``post-render``.

``_quarto.yml`` runs them through the script ``_extensions/nhs/hooks.py``::

    project:
      pre-render: _extensions/nhs/hooks.py pre-render
      post-render: _extensions/nhs/hooks.py post-render

A ``.py`` project script is run by Quarto with the Python it uses for Jupyter
(``$QUARTO_PYTHON``, else ``python3`` on the PATH; ``src/core/run/python.ts``), not with
whatever ``python`` is first on the PATH, so the hooks import the healthgap that runs the
chapters.

``pre-render``
    Writes the ``healthgap-report`` profile (``_quarto-healthgap-report.yml``) from the
    config the chapters will use (``$HEALTHGAP_CONFIG``, relative to the project folder, else
    ``data/default.yml``): the config's report title, subtitle and organisation replace
    ``_quarto.yml``'s ``book.title``, ``book.subtitle`` and ``book.author``. ``_quarto.yml``
    makes that profile always active (``profile: group: [[healthgap-report]]``) and Quarto
    reads the project's configuration again after its pre-render scripts, so ``quarto render``,
    ``quarto preview`` and ``quarto publish`` show the configured organisation, as
    ``healthgap render`` does.
``post-render``
    :func:`healthgap.render.post.main`: downloads, their manifest and the chart bundle.

References
----------
.. [1] Quarto, "Project scripts", https://quarto.org/docs/projects/scripts.html
.. [2] Quarto, "Project profiles", https://quarto.org/docs/projects/profiles.html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from healthgap.render.report import PROFILE_MARKER, QUARTO_PROFILE, quarto_profile_yaml, report_overrides

__all__ = ["main", "pre_render", "profile_path", "ERR_PROFILE_TAKEN", "ERR_USAGE"]

ERR_USAGE = "usage: hooks.py pre-render|post-render (Quarto's project scripts, see _quarto.yml)"
ERR_PROFILE_TAKEN = (
    "{path} exists and was not written by healthgap: it is where the book's title, subtitle and "
    "organisation from the config go. Rename your file and render again."
)


def profile_path(project: Path) -> Path:
    """``<project>/_quarto-healthgap-report.yml``."""
    return project / f"_quarto-{QUARTO_PROFILE}.yml"


def pre_render(project: Path, *, config: str | Path | None = None) -> Path:
    """Write the ``healthgap-report`` profile for the config the render will use.

    Parameters
    ----------
    project : the project folder.
    config : the config file; default ``$HEALTHGAP_CONFIG`` (relative to ``project``), else
        ``<project>/data/default.yml``. No config file: the profile sets nothing.

    Returns
    -------
    Path
        The profile written (with only a comment when the config overrides nothing).

    Raises
    ------
    healthgap.errors.ConfigError
        The config named by ``config`` or ``$HEALTHGAP_CONFIG`` is missing or invalid.
    FileExistsError
        A file of that name exists that healthgap did not write.
    """
    from healthgap.config import ORIGIN_DEFAULT, load_config, select_config

    project = Path(project).resolve()
    if config is None and (value := os.environ.get("HEALTHGAP_CONFIG", "").strip()):
        config = value if Path(value).expanduser().is_absolute() else project / value
    path, origin = select_config(config, project=project)
    loaded = None if origin == ORIGIN_DEFAULT and not path.is_file() else load_config(path)
    target = profile_path(project)
    if target.exists():
        first = target.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        if first != PROFILE_MARKER:
            raise FileExistsError(ERR_PROFILE_TAKEN.format(path=target))
    overrides = report_overrides(loaded)
    target.write_text(
        quarto_profile_yaml(overrides) if overrides else PROFILE_MARKER + "\n", encoding="utf-8"
    )
    return target


def main(argv: list[str] | None = None) -> int:
    """Run one hook: ``pre-render`` or ``post-render``; 0 on success, an exit code otherwise."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["post-render"]:
        from healthgap.render.post import main as post_main

        return post_main([])
    if args == ["pre-render"]:
        from healthgap.errors import ConfigError

        project = Path(os.environ.get("QUARTO_PROJECT_DIR", "").strip() or os.getcwd())
        try:
            written = pre_render(project)
        except (ConfigError, FileExistsError, OSError) as exc:
            print(f"healthgap pre-render failed: {exc}", file=sys.stderr)
            return 1
        print(f"healthgap: book title, subtitle and organisation from the config in {written.name}")
        return 0
    print(ERR_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
