"""compendium: the tested package behind the notebooks of this research compendium.

Modules, one concern each: ``paths`` (where files live), ``data`` (loading),
``validate`` (data checks), ``anonymise`` (identifier gate), ``corpus``,
``cases``, ``themes``, ``descriptives`` (the analysis), ``plots``, ``files``
(atomic writing), ``notebooks`` (running them), ``manuscript``, ``provenance``,
``reproduce`` (manifest, verify, diff), ``generate`` (synthetic corpora),
``refiqda`` (QDA software exchange), and for restricted data ``study`` (the
data folder's kind, marking), ``consent``, ``guard`` (pre-commit hook),
``share`` (de-identified package) and ``twin`` (``generate --like``).
"""
__version__ = "0.1.0"
