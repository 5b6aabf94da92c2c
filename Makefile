# Reproducible research compendium: IPA of clinicians' accounts of
# self-compassion (synthetic data). `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory
.DEFAULT_GOAL := all

# ---------------------------------------------------------------- settings
# A fixed timestamp makes DOCX, PDF and figures byte-identical across builds
# (2022-06-01, the study's year of publication).
export SOURCE_DATE_EPOCH ?= 1654041600
export COMPENDIUM_ROOT := $(CURDIR)
export PYTHONPATH := $(CURDIR)/src
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
export MPLCONFIGDIR := $(CURDIR)/build/.mpl
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export LC_ALL := C.UTF-8
export TZ := UTC

PYTHON_BOOT ?= python3.11
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN   := $(PY) -m compendium

DATA      := data/synthetic
NB        := notebooks
BUILD     := build
EXEC      := $(BUILD)/notebooks
TABLES    := manuscript/tables
FIGURES   := figures
VALUES    := manuscript/values
OUT       := manuscript/output
SUPP      := manuscript/supplement

PIDS        := $(sort $(basename $(notdir $(wildcard $(DATA)/transcripts/P*.txt))))
TRANSCRIPTS := $(wildcard $(DATA)/transcripts/*.txt)
TABLE_DATA  := $(DATA)/participants.csv $(DATA)/coding.csv $(DATA)/memos.csv $(DATA)/codebook.yaml $(DATA)/datapackage.json
SRC         := $(wildcard src/compendium/*.py) $(wildcard src/compendium/templates/*)
VALID       := $(BUILD)/validated.json
CASE_TABLES := $(foreach p,$(PIDS),$(TABLES)/cases/case_$(p).csv)

.PHONY: all help setup validate audit analysis manuscript test test-fast lab clean \
        notebooks-canonical accept lock bench verify manifest diff

all: manuscript ## Build everything: validate data, run notebooks, write tables, figures and manuscript
	@echo "compendium: build complete (outputs in $(TABLES)/, $(FIGURES)/, $(OUT)/)"

help: ## List the targets with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-20s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- setup
setup: $(STAMP) ## Create .venv, install the locked packages and the compendium package, link pandoc

$(PY):
	@echo "setup: creating $(VENV) with $(PYTHON_BOOT)"
	$(PYTHON_BOOT) -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(PY)
	@echo "setup: installing the pinned environment (about 90 s the first time)"
	$(PY) -m pip install --quiet --no-deps -r requirements.lock 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	ln -sf "$$($(PY) -c 'import pypandoc; print(pypandoc.get_pandoc_path())')" $(VENV)/bin/pandoc
	$(PY) -m pip check
	@touch $@

lock: ## Refresh requirements.lock from requirements.in (needs the package registry)
	tools/lock.sh

# ---------------------------------------------------------------- data checks
validate: $(VALID) ## Validate data/synthetic (types, keys, spans, encoding) and run the anonymisation gate

$(VALID): $(TABLE_DATA) $(TRANSCRIPTS) $(DATA)/anonymisation_allowlist.yaml $(SRC) | $(STAMP)
	$(RUN) validate --report $@

audit: $(STAMP) ## Scan data and generated outputs for direct identifiers
	$(RUN) audit --outputs

# ---------------------------------------------------------------- analysis
analysis: $(BUILD)/analysis.done ## Run the analysis notebooks (overview, 8 cases, cross-case, descriptives)

$(BUILD)/analysis.done: $(EXEC)/01_read_corpus.ipynb $(foreach p,$(PIDS),$(EXEC)/02_analyse_case_$(p).ipynb) \
                        $(EXEC)/03_analyse_across_cases.ipynb $(EXEC)/04_describe_sample.ipynb
	@mkdir -p $(@D) && touch $@

$(EXEC)/01_read_corpus.ipynb $(TABLES)/corpus_overview.csv $(TABLES)/corpus_overview.md &: \
		$(NB)/01_read_corpus.ipynb $(TABLE_DATA) $(TRANSCRIPTS) $(SRC) | $(VALID)
	$(RUN) run 01_read_corpus

$(EXEC)/02_analyse_case_%.ipynb $(TABLES)/cases/case_%.csv $(TABLES)/cases/case_%.md: \
		$(NB)/02_analyse_case.ipynb $(DATA)/transcripts/%.txt $(TABLE_DATA) $(SRC) | $(VALID)
	$(RUN) run 02_analyse_case --participant $*

CROSS_OUT := $(TABLES)/table2_themes.csv $(TABLES)/table2_themes.md \
             $(TABLES)/theme_recurrence.csv $(TABLES)/theme_recurrence.md \
             $(TABLES)/quote_bank.csv $(TABLES)/quote_bank.md $(TABLES)/convergence.csv $(TABLES)/convergence.md \
             $(FIGURES)/recurrence_heatmap.svg $(FIGURES)/recurrence_heatmap.png \
             $(VALUES)/cross_case.json
$(EXEC)/03_analyse_across_cases.ipynb $(CROSS_OUT) &: \
		$(NB)/03_analyse_across_cases.ipynb $(CASE_TABLES) $(TABLE_DATA) $(TRANSCRIPTS) $(SRC) | $(VALID)
	$(RUN) run 03_analyse_across_cases

DESC_OUT := $(TABLES)/table1_sample.csv $(TABLES)/table1_sample.md \
            $(TABLES)/sample_aggregates.csv $(TABLES)/sample_aggregates.md \
            $(FIGURES)/interview_durations.svg $(FIGURES)/interview_durations.png \
            $(VALUES)/descriptives.json
$(EXEC)/04_describe_sample.ipynb $(DESC_OUT) &: \
		$(NB)/04_describe_sample.ipynb $(TABLE_DATA) $(SRC) | $(VALID)
	$(RUN) run 04_describe_sample

# ---------------------------------------------------------------- manuscript
MS_IN := manuscript/template.md manuscript/references.bib $(BUILD)/analysis.done $(CROSS_OUT) $(DESC_OUT)
MS_OUT := $(OUT)/manuscript.docx $(OUT)/manuscript.pdf $(OUT)/manuscript.html $(OUT)/coreq_checklist.md $(OUT)/provenance.csv

manuscript: $(MS_OUT) ## Write the manuscript draft (DOCX, PDF, HTML), COREQ checklist and provenance table

$(MS_OUT) &: $(MS_IN) $(SRC) $(TRANSCRIPTS) | $(VALID)
	$(RUN) manuscript

# ---------------------------------------------------------------- quality
test: all ## Build, then run the whole test suite (unit tests, nbval over every notebook)
	$(RUN) nbval-prepare
	$(PY) -m pytest tests $(NB) --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:randomly $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit tests only (no build, no notebooks)
	$(PY) -m pytest tests -m "not slow and not browser" $(PYTEST_ARGS)

notebooks-canonical: $(STAMP) ## Rewrite source notebooks in canonical form (no counts, no volatile metadata)
	$(RUN) canonical --fix

accept: all ## Accept current results: store the key cells' outputs in the source notebooks
	$(RUN) accept

lab: $(STAMP) ## Open JupyterLab on the notebooks (adds --allow-root when run as root)
	$(VENV)/bin/jupyter lab --notebook-dir=$(NB) --no-browser $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# ---------------------------------------------------------------- clean
clean: ## Remove generated files only (never data/ or source notebooks)
	rm -rf $(BUILD) $(TABLES) $(VALUES) $(OUT) $(SUPP)
	rm -f $(FIGURES)/*.svg $(FIGURES)/*.png
