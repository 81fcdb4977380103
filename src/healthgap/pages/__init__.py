"""The book's pages: everything a chapter computes, words and assembles.

One module per chapter (and one for the welcome page). A chapter (``.qmd``) is
narrative text plus calls into its page module: no function definitions, no
loops, no private imports. Each module exposes a page class built from the
chapter runtime (:class:`healthgap.book.Book`)::

    ```{python}
    #| label: setup
    from healthgap.pages.recorded_disease import RecordedDiseasePage
    page = RecordedDiseasePage.setup()
    ```

    `{python} page.ratio_sentence("imd_quintile", "chd")`

Everything a page publishes goes through one publication step
(:meth:`healthgap.book.Book.publish`, i.e. :func:`healthgap.disclosure.publish`):
the analyses (:mod:`healthgap.descriptive`, :mod:`healthgap.models`,
:mod:`healthgap.fairness`, :mod:`healthgap.explain`) return exact aggregates, the
page publishes each frame once, and its figure, table, download and sentences
all read that :class:`~healthgap.disclosure.Published` frame.

Shared pieces:

- :mod:`healthgap.pages.capabilities` -- what the dataset supports (truth, the
  mapped area column, the dimensions present), decided once for every page.
- :mod:`healthgap.pages.base` -- :class:`~healthgap.pages.base.Page`, the base class
  (setup, skip notes, table column labels).
- :mod:`healthgap.text` -- numbers and wording.

Page modules are tested without rendering, on small frames
(``tests/pages/``): see ``docs/DEVELOPING.md``.
"""
