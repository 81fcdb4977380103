"""Finish a built site: downloads, their manifest and the chart assets.

Run by Quarto as the project's post-render script (``_quarto.yml``)::

    project:
      post-render:
        - python -m healthgap.render.post

Quarto sets ``QUARTO_PROJECT_OUTPUT_DIR`` (the site folder). The chapters'
downloads are read from ``$HEALTHGAP_DOWNLOADS`` or ``<project>/_build/downloads``.
The built-in renderer calls :func:`finish_site` directly.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["finish_site", "main", "CHART_ASSETS_DIR", "ERR_NO_OUTPUT_DIR"]

#: Where the chart bundle goes, relative to the site root.
CHART_ASSETS_DIR = "site_libs/healthgap"
ERR_NO_OUTPUT_DIR = (
    "healthgap.render.post is Quarto's post-render script: QUARTO_PROJECT_OUTPUT_DIR is not set. "
    "Run `quarto render` or `healthgap render` instead of running it by hand, "
    "or set QUARTO_PROJECT_OUTPUT_DIR to the site folder."
)
MSG_NO_CHARTS = (
    "Note: healthgap.charts is not available ({detail}); chart scripts were not copied into the site."
)


def finish_site(
    site: Path,
    *,
    downloads: Path | None = None,
    progress: Callable[[str], None] | None = None,
    chart_bundle: str | None = None,
) -> None:
    """Copy downloads into ``site/downloads``, write their manifest and the chart assets.

    Parameters
    ----------
    site : the built site folder.
    downloads : where the chapters wrote their downloads; skipped when it is ``site/downloads``
        already or does not exist.
    progress : receives notes (e.g. that the chart module is missing).
    chart_bundle : the output of :func:`healthgap.charts.html.bundle_command`, when the caller ran
        it already (the built-in renderer runs it while the chapters execute).

    References
    ----------
    .. [1] Quarto, "Project scripts", https://quarto.org/docs/projects/scripts.html
    """
    say = progress or (lambda message: None)
    site = Path(site)
    target = site / "downloads"
    if downloads is not None and Path(downloads).is_dir() and Path(downloads).resolve() != target.resolve():
        shutil.copytree(downloads, target, dirs_exist_ok=True)
    if target.is_dir():
        from healthgap.downloads import FRAGMENT_DIR, MANIFEST_NAME, write_manifest

        write_manifest(target)
        # the per-chapter fragments are build bookkeeping, merged into manifest.json: not published
        fragments = target / FRAGMENT_DIR
        if fragments.is_dir() and (target / MANIFEST_NAME).is_file():
            shutil.rmtree(fragments)
    try:
        from healthgap.charts import write_chart_assets
    except ImportError as exc:
        say(MSG_NO_CHARTS.format(detail=exc))
        return
    write_chart_assets(site / CHART_ASSETS_DIR, bundle=chart_bundle)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m healthgap.render.post``."""
    output = os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "").strip()
    if not output:
        print(ERR_NO_OUTPUT_DIR, file=sys.stderr)
        return 2
    project = Path(os.environ.get("QUARTO_PROJECT_DIR", "").strip() or os.getcwd())
    site = Path(output) if Path(output).is_absolute() else project / output
    env_downloads = os.environ.get("HEALTHGAP_DOWNLOADS", "").strip()
    downloads = Path(env_downloads) if env_downloads else project / "_build" / "downloads"
    try:
        finish_site(site, downloads=downloads, progress=lambda m: print(m, file=sys.stderr))
    except (OSError, ValueError) as exc:
        print(f"healthgap post-render failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
