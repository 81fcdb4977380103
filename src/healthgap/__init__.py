"""healthgap: health inequalities in cardiovascular disease, re-runnable on any dataset."""

__version__ = "0.1.0"
__all__ = ["__version__"]
