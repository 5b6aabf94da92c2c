"""Code that maintains or measures the compendium but never changes a result.

Nothing the pipeline runs imports from here, and the Makefile does not count
these modules as build inputs: editing them re-runs no step.

* ``reproduce``: the reviewer's reproduction checks (``make manifest``,
  ``make verify``, ``make diff``).
* ``bench``: ``make bench``, the timings in ``benchmarks/results.md``.
* ``generate`` (with ``names``): seeded larger synthetic studies
  (``compendium generate 80 OUT``); ``twin``: a synthetic twin of a restricted
  study (``compendium generate --like STUDY OUT``).
* ``guard``: the git pre-commit hook ``make setup`` installs (standard library
  only; it carries the fingerprint rules of :mod:`compendium.restricted`).
* ``share``: ``make share``, a de-identified package written from a restricted
  study.
"""
