"""Colours for healthgap charts: NHS identity colours chosen for accessibility.

API
---
- :data:`NHS_COLOURS` -- the NHS identity colours by name.
- :data:`CATEGORICAL` -- six NHS colours for groups (e.g. ethnic groups), each
  with at least 3:1 contrast against white (WCAG 2.2 SC 1.4.11, non-text
  contrast) and pairwise distinguishable under protanopia, deuteranopia and
  tritanopia (minimum CIE76 colour difference :data:`MIN_CVD_DELTA_E` after
  simulation).
- :data:`SEQUENTIAL` -- five steps from a pale tint of NHS Blue to NHS Dark Blue,
  monotonic in lightness, for maps and deprivation quintiles. Pale steps are
  below 3:1 against white, so map shapes always get a :data:`OUTLINE` stroke.
- :data:`DIVERGING` -- seven steps from NHS Blue through a near-white grey to
  Emergency Services Red, for signed quantities centred on zero (e.g. SHAP
  contributions: negative blue, positive red). Both end colours have at least
  3:1 contrast against white, the two sides mirror each other in lightness, and
  each step stays distinct from its mirror image under simulated colour-vision
  deficiency. Labels: white on the end steps, :data:`TEXT` on the inner five.
- :data:`FUNNEL` -- colours for funnel-plot positions (below / within / above).
- :data:`SUPPRESSED`, :data:`TEXT`, :data:`MUTED_TEXT`, :data:`REFERENCE`,
  :data:`OUTLINE`, :data:`BACKGROUND`.
- :func:`relative_luminance`, :func:`contrast_ratio` (WCAG 2.x),
  :func:`simulate_cvd` (Machado et al. 2009), :func:`to_lab` (CIELAB, D65),
  :func:`delta_e` (CIE76), :func:`min_cvd_delta_e`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import numpy as np

__all__ = [
    "NHS_COLOURS",
    "CATEGORICAL",
    "SEQUENTIAL",
    "SEQUENTIAL_DARK_FROM",
    "DIVERGING",
    "DIVERGING_DARK_ENDS",
    "FUNNEL",
    "SUPPRESSED",
    "TEXT",
    "MUTED_TEXT",
    "REFERENCE",
    "OUTLINE",
    "BACKGROUND",
    "MIN_CVD_DELTA_E",
    "relative_luminance",
    "contrast_ratio",
    "simulate_cvd",
    "to_lab",
    "delta_e",
    "min_cvd_delta_e",
]

#: NHS identity colours, https://www.england.nhs.uk/nhsidentity/identity-guidelines/colours/
NHS_COLOURS: dict[str, str] = {
    "NHS Blue": "#005EB8",
    "NHS Dark Blue": "#003087",
    "NHS Bright Blue": "#0072CE",
    "NHS Light Blue": "#41B6E6",
    "NHS Aqua Blue": "#00A9CE",
    "NHS Black": "#231F20",
    "NHS Dark Grey": "#425563",
    "NHS Mid Grey": "#768692",
    "NHS Pale Grey": "#E8EDEE",
    "NHS Dark Green": "#006747",
    "NHS Green": "#009639",
    "NHS Light Green": "#78BE20",
    "NHS Aqua Green": "#00A499",
    "NHS Purple": "#330072",
    "NHS Dark Pink": "#7C2855",
    "NHS Pink": "#AE2573",
    "NHS Dark Red": "#8A1538",
    "NHS Orange": "#ED8B00",
    "NHS Warm Yellow": "#FFB81C",
    "NHS Yellow": "#FAE100",
    "Emergency Services Red": "#DA291C",
}

#: Group colours, in order. Chosen greedily (starting from NHS Blue) among the
#: NHS colours with >= 3:1 contrast on white to maximise the smallest pairwise
#: CIE76 difference under simulated protanopia, deuteranopia and tritanopia.
#: NHS Orange and Warm Yellow are left out: they fail 3:1 on white.
CATEGORICAL: tuple[str, ...] = (
    NHS_COLOURS["NHS Blue"],
    NHS_COLOURS["Emergency Services Red"],
    NHS_COLOURS["NHS Dark Pink"],
    NHS_COLOURS["NHS Purple"],
    NHS_COLOURS["NHS Green"],
    NHS_COLOURS["NHS Mid Grey"],
)

#: Smallest CIE76 difference between any two :data:`CATEGORICAL` colours under
#: any simulated colour-vision deficiency (the measured value is about 20.6).
MIN_CVD_DELTA_E = 20.0

#: Pale tint of NHS Blue -> NHS Blue -> NHS Dark Blue (interpolated in CIELAB).
#: Lightness L* = 92, 77, 61, 40, 23. Labels on these fills: :data:`TEXT` on the
#: first three and white on the last two, every pair >= 4.5:1 (WCAG 1.4.3).
SEQUENTIAL: tuple[str, ...] = ("#DCEAF7", "#ABBDE5", "#7793D2", "#005EB8", "#003087")
#: Index of the first :data:`SEQUENTIAL` step that takes white labels.
SEQUENTIAL_DARK_FROM = 3

#: NHS Blue -> NHS Pale Grey tint -> Emergency Services Red, the inner steps
#: interpolated in CIELAB (L* = 40, 64, 80, 96, 80, 65, 48). End colours 6.4:1
#: and 4.9:1 against white (WCAG 1.4.11 needs 3:1); each step and its mirror
#: (e.g. the two ends) differ by CIE76 >= 29 under simulated protanopia,
#: deuteranopia and tritanopia, so the sign of a value never rests on hue alone
#: being seen. Blue for negative, red for positive, as in the RdBu family.
DIVERGING: tuple[str, ...] = ("#005EB8", "#8499D2", "#BDC7E5", "#F0F4F5", "#F7B6A7", "#EF7E66", "#DA291C")
#: Number of :data:`DIVERGING` steps at each end that take white labels (>= 4.5:1);
#: the inner steps take :data:`TEXT` (>= 4.5:1).
DIVERGING_DARK_ENDS = 1

#: Funnel plot positions: a unit significantly below, within or above the target.
FUNNEL: dict[str, str] = {
    "below": NHS_COLOURS["NHS Blue"],
    "within": NHS_COLOURS["NHS Mid Grey"],
    "above": NHS_COLOURS["Emergency Services Red"],
}

SUPPRESSED = "#D8DDE0"  # NHS Grey 4: fill for suppressed areas/cells (always outlined)
TEXT = "#212B32"  # NHS text colour, 14.9:1 on white
MUTED_TEXT = "#4C6272"  # NHS secondary text colour, 6.4:1 on white
REFERENCE = NHS_COLOURS["NHS Dark Grey"]  # reference lines
OUTLINE = NHS_COLOURS["NHS Dark Grey"]  # outlines of map shapes and pale marks
BACKGROUND = "#FFFFFF"

_CVD_MATRICES: dict[str, np.ndarray] = {
    # Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_D65 = np.array([0.95047, 1.0, 1.08883])

ERR_HEX = "Colour {value!r} is not a hex colour like '#005EB8'. Use six hexadecimal digits after '#'."
ERR_CVD = "Unknown colour-vision deficiency {kind!r}; use one of {allowed}."


def _linear_rgb(colour: str) -> np.ndarray:
    text = colour.strip()
    if len(text) != 7 or not text.startswith("#"):
        raise ValueError(ERR_HEX.format(value=colour))
    try:
        srgb = np.array([int(text[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    except ValueError:
        raise ValueError(ERR_HEX.format(value=colour)) from None
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of an sRGB hex colour.

    Parameters
    ----------
    colour : hex colour such as ``"#005EB8"``.

    Returns
    -------
    float
        Luminance between 0 (black) and 1 (white).

    References
    ----------
    .. [1] W3C, Web Content Accessibility Guidelines 2.2, definition of "relative
       luminance", https://www.w3.org/TR/WCAG22/#dfn-relative-luminance
    """
    return float(_linear_rgb(colour) @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(foreground: str, background: str = BACKGROUND) -> float:
    """WCAG contrast ratio ``(L1 + 0.05) / (L2 + 0.05)`` between two colours.

    Parameters
    ----------
    foreground, background : hex colours; the order does not matter.

    Returns
    -------
    float
        From 1 (no contrast) to 21 (black on white).

    References
    ----------
    .. [1] W3C, WCAG 2.2, definition of "contrast ratio" and SC 1.4.11 Non-text
       Contrast (3:1 for graphical objects), https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio
    """
    high, low = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def simulate_cvd(colour: str, kind: Literal["protanopia", "deuteranopia", "tritanopia"]) -> np.ndarray:
    """Simulate how a colour looks with a colour-vision deficiency.

    Parameters
    ----------
    colour : hex colour.
    kind : the deficiency (full severity).

    Returns
    -------
    numpy.ndarray
        The simulated colour in linear RGB (3 values clipped to 0..1).

    References
    ----------
    .. [1] Machado GM, Oliveira MM, Fernandes LAF. A physiologically-based model
       for simulation of color vision deficiency. IEEE TVCG 2009;15(6):1291-8.
    """
    if kind not in _CVD_MATRICES:
        raise ValueError(ERR_CVD.format(kind=kind, allowed=", ".join(_CVD_MATRICES)))
    return np.clip(_CVD_MATRICES[kind] @ _linear_rgb(colour), 0.0, 1.0)


def to_lab(linear_rgb: np.ndarray | str) -> np.ndarray:
    """Convert a hex colour or linear-RGB triple to CIELAB (D65 white).

    References
    ----------
    .. [1] CIE 15:2004 Colorimetry, 3rd edition, section 8.2.1 (CIELAB).
    """
    rgb = _linear_rgb(linear_rgb) if isinstance(linear_rgb, str) else np.asarray(linear_rgb, dtype=float)
    t = (_RGB_TO_XYZ @ rgb) / _D65
    delta = 6 / 29
    f = np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """CIE76 colour difference: the Euclidean distance in CIELAB.

    References
    ----------
    .. [1] CIE 15:2004 Colorimetry, section 8.2.1 (CIE 1976 colour difference).
    """
    return float(np.linalg.norm(np.asarray(lab1) - np.asarray(lab2)))


def min_cvd_delta_e(colours: Sequence[str]) -> float:
    """Smallest pairwise CIE76 difference over normal vision and three simulated deficiencies.

    Parameters
    ----------
    colours : hex colours, at least two.

    Returns
    -------
    float
        The worst case: a value of 20 or more means every pair stays clearly distinct.

    References
    ----------
    .. [1] Machado et al. 2009 (see :func:`simulate_cvd`); CIE 15:2004 (CIELAB).
    """
    views = [lambda c: to_lab(c)] + [(lambda c, k=k: to_lab(simulate_cvd(c, k))) for k in _CVD_MATRICES]
    return min(delta_e(view(a), view(b)) for view in views for a, b in combinations(colours, 2))
