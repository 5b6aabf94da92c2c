"""compendium: the tested package behind the notebooks of this research compendium.

The top level holds what the pipeline runs, one concern per module: ``paths``
(where files live), ``data`` (loading), ``validate`` (data checks),
``anonymise`` (identifier gate), ``corpus``, ``cases``, ``themes``,
``descriptives`` (the analysis), ``plots``, ``files`` (atomic writing),
``notebooks`` (running them), ``manuscript``, ``provenance``, and for
restricted data ``study`` (the data folder's kind, marking), ``consent`` and
``restricted`` (the mark and fingerprints). Below it: ``refiqda`` (QDA
software exchange), ``teaching`` (the tutorials) and ``maintenance``
(reproduction checks, benchmark, generator, pre-commit guard, share package),
which the pipeline never imports.
"""

__version__ = "0.1.0"
