# Reproducible research compendium: IPA of clinicians' accounts of
# self-compassion (synthetic data). `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
# Independent notebooks run side by side on every core; each step's output is
# printed as one block when it finishes.
MAKEFLAGS += --no-builtin-rules --no-print-directory -j$(shell nproc) --output-sync=target
.DEFAULT_GOAL := all

# ---------------------------------------------------------------- settings
PYTHON_BOOT ?= python3.11
# The standard-library scripts that run before every build (source date, build lock) use the
# environment's interpreter once it exists: the same Python, without the start-up cost of a
# version manager's shim in front of python3.11 (pyenv's: about 0.13 s a call).
VENV  ?= .venv
BOOT_PY := $(or $(shell test -x "$(abspath $(VENV))/bin/python" && echo "$(abspath $(VENV))/bin/python"),$(PYTHON_BOOT))
# One timestamp makes DOCX, PDF, figures and zips byte-identical across builds: the
# date of the source commit (the last commit that changed a build input), or the one
# recorded in manifest-snapshot.json outside git (src/compendium/source.py).
# The build lock's sub-make in this folder takes the value its parent make just read (one lookup per build).
ifeq ($(COMPENDIUM_LOCKED),$(CURDIR))
SOURCE_NOW := $(COMPENDIUM_SOURCE_NOW)
endif
SOURCE_NOW := $(or $(SOURCE_NOW),$(shell "$(BOOT_PY)" "$(CURDIR)/src/compendium/source.py" stamp "$(CURDIR)"))
export SOURCE_DATE_EPOCH ?= $(word 1,$(SOURCE_NOW))
export COMPENDIUM_ROOT := $(CURDIR)
export PYTHONPATH := $(CURDIR)/src
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export LC_ALL := C.UTF-8
export TZ := UTC

# matplotlib's font cache lives with the environment (built once by `make setup`), not in build/.
export MPLCONFIGDIR := $(abspath $(VENV))/mpl-cache
# So does IPython's folder: no kernel runs the startup scripts or reads the configuration in your ~/.ipython.
export IPYTHONDIR := $(abspath $(VENV))/ipython
# This make run: its `python -m compendium` recipes share one warm build server (src/compendium/server.py),
# which stays warm for the next runs in this folder until it has been idle this many seconds (0: one run).
export COMPENDIUM_MAKE_PID := $(shell echo $$PPID)
export COMPENDIUM_SERVER_LINGER ?= 600
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN   := $(PY) -m compendium

# ---------------------------------------------------------------- one build at a time
# The first make in this folder takes a lock on the folder and runs the real build
# as a sub-make (tools/build_lock.py); a second make waits for it with a message.
# A failed build removes build/all.done and lists its stale outputs in build/STALE.txt.
UNLOCKED_GOALS := help lab lab-pipeline bib lock environment.yml
# make -n/-q/-t only ask or print (no lock needed; the answer must come from the real rules).
MAKE_QUESTION := $(strip $(foreach f,n q t,$(findstring $(f),$(filter-out -%,$(firstword $(MAKEFLAGS))))))
ifneq ($(COMPENDIUM_LOCKED),$(CURDIR))
ifneq ($(filter-out $(UNLOCKED_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(MAKE_QUESTION),)
LOCKED_RUN := 1
endif
endif
endif
ifdef LOCKED_RUN
.PHONY: $(or $(MAKECMDGOALS),all) locked-run
$(or $(MAKECMDGOALS),all): locked-run ; @:
locked-run:
	+@COMPENDIUM_SOURCE_NOW="$(SOURCE_NOW)" "$(BOOT_PY)" tools/build_lock.py -- $(MAKE) $(MAKECMDGOALS)
else

# The study folder and the output root: `make all DATA=/path/to/study OUT=/path/out`.
# Only the repository's own synthetic data build into the repository; any other data
# folder builds into OUT (default: <study>-outputs beside it), and a restricted study
# is refused inside a git work tree (src/compendium/paths.py decides, in one place).
# Paths may not contain spaces (a limit of make itself).
DATA      := data/synthetic
OUT       :=
ifeq ($(DATA)$(OUT),data/synthetic)
O         :=
else
$(if $(filter-out 1,$(words $(DATA))),$(error DATA="$(DATA)": make cannot handle paths with spaces; link the folder to a path without spaces))
$(if $(filter-out 0 1,$(words $(OUT))),$(error OUT="$(OUT)": make cannot handle paths with spaces; choose a path without spaces))
ROOT_OUT  := $(shell COMPENDIUM_ROOT="$(CURDIR)" COMPENDIUM_DATA="$(DATA)" COMPENDIUM_OUT="$(OUT)" PYTHONPATH="$(CURDIR)/src" $(PYTHON_BOOT) -m compendium.paths)
$(if $(ROOT_OUT),,$(error DATA=$(DATA) OUT=$(OUT): refused, see the message above))
O         := $(ROOT_OUT)/
export COMPENDIUM_DATA := $(abspath $(DATA))
export COMPENDIUM_OUT  := $(ROOT_OUT)
endif
NB        := notebooks
BUILD     := $(O)build
EXEC      := $(BUILD)/notebooks
TABLES    := $(O)manuscript/tables
FIGURES   := $(O)figures
VALUES    := $(O)manuscript/values
MSOUT     := $(O)manuscript/output
SUPP      := $(O)manuscript/supplement
# The date and commit the manuscript and the exports embed, rewritten only when they
# change: committing a build input re-dates exactly the artefacts that carry them.
SOURCE_STAMP := $(BUILD)/source.txt
$(shell mkdir -p "$(BUILD)" && { [ "$$(cat "$(SOURCE_STAMP)" 2>/dev/null)" = "$(SOURCE_NOW)" ] || echo "$(SOURCE_NOW)" > "$(SOURCE_STAMP)"; })

PIDS        := $(sort $(basename $(notdir $(wildcard $(DATA)/transcripts/P*.txt))))
TRANSCRIPTS := $(wildcard $(DATA)/transcripts/*.txt)
TABLE_DATA  := $(DATA)/participants.csv $(DATA)/coding.csv $(DATA)/memos.csv $(DATA)/codebook.yaml $(DATA)/datapackage.json
# The package shows the layers (src/compendium/): the top level is what the pipeline runs, so
# every module there is a build input of every step; refiqda/ is the QDA exchange, a build input
# of the supplement and compare steps only (REFIQDA_SRC below); teaching/ is the tutorials and
# maintenance/ the reproduction checks, benchmark, generator, pre-commit guard and share package:
# neither is a build input (tests/test_layers.py checks that no pipeline module imports them).
SRC         := $(wildcard src/compendium/*.py) $(wildcard src/compendium/templates/*)
VALID       := $(BUILD)/validated.json
# Per-step input digests written by validation, rewritten only when what that step reads changed
# (src/compendium/digests.py): a duration in participants.csv re-runs the descriptives, not the cases.
DIGEST      := $(BUILD)/inputs
DIGESTS     := $(foreach s,corpus cross descriptives supplement manuscript $(addprefix case_,$(PIDS)),$(DIGEST)/$(s).sha256)
CASE_TABLES := $(foreach p,$(PIDS),$(TABLES)/cases/case_$(p).csv)

.PHONY: all help setup bib validate audit analysis manuscript supplement share test test-fast lint lab clean compare \
        notebooks-canonical accept lock bench verify manifest diff lab-pipeline class-report

all: $(BUILD)/all.done ## Build everything: validate data, run notebooks, write tables, figures, manuscript, QDA exports


help: ## List the targets with one line each
	@grep -hE '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-20s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- setup
setup: $(STAMP) ## Create .venv, install the locked packages and the compendium package, link pandoc, install the pre-commit guard
	@$(PYTHON_BOOT) src/compendium/maintenance/guard.py --install "$(CURDIR)"

$(PY):
	@echo "setup: creating $(VENV) with $(PYTHON_BOOT)"
	$(PYTHON_BOOT) -m venv $(VENV)

# uv installs the lock in seconds; it is bootstrapped with pip at the version the lock pins.
# Both write the packages' bytecode at install time (uv only when asked: --compile-bytecode, about
# 13 s here), as pip always does: without it every Python process of the build, the kernels and
# the tests compiles pandas, matplotlib and Jupyter from source again (about 3.5 CPU-s each) when
# PYTHONDONTWRITEBYTECODE is set, as it is on this project's CI machines.
UV_PIN := $(shell grep -m1 -E '^uv==' requirements.lock)
# A build in a copy that uses another folder's environment through a link (the tests, `make verify`,
# `make bench`) passes COMPENDIUM_ENV_READY=1: the environment is then never (re)installed from the
# copy, whatever the copy's requirements.lock and pyproject.toml dates say (an install from the copy
# would point the shared environment's package at a folder about to be deleted). `make -o` would not
# do: make does not pass -o on to the sub-make that the build lock starts.
STAMP_INPUTS := $(if $(COMPENDIUM_ENV_READY),,requirements.lock pyproject.toml)
$(STAMP): $(STAMP_INPUTS) | $(PY)
	@if [ -n "$(COMPENDIUM_ENV_READY)" ]; then echo "setup: COMPENDIUM_ENV_READY is set, but $(VENV) is not set up; fix: run make setup where that environment belongs"; exit 2; fi
	@if $(PY) -m pip install --quiet "$(UV_PIN)" 2>/dev/null && $(VENV)/bin/uv --version >/dev/null 2>&1; then \
	  echo "setup: installing the pinned environment with $(UV_PIN) (about 30 s the first time)"; \
	  $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) --no-deps -r requirements.lock; \
	else \
	  echo "setup: uv is unavailable ($(UV_PIN) could not be installed); installing with pip instead (about 90 s)"; \
	  $(PY) -m pip install --quiet --no-deps -r requirements.lock 2>&1 | { grep -v 'is ignored: it is neither' || true; }; \
	fi
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	ln -sf "$$($(PY) -c 'import pypandoc; print(pypandoc.get_pandoc_path())')" $(VENV)/bin/pandoc
	$(PY) -m pip check
	@# matplotlib's font cache, built once here (MPLCONFIGDIR is in the environment, not in build/)
	$(PY) -c 'import matplotlib.font_manager'
	@touch $@

bib: ## Maintainers: refresh the committed manuscript/references.bib from ../shared/study/references.bib
	@test -f ../shared/study/references.bib || { echo "bib: ../shared/study/references.bib not found; this maintainer command needs the study folder beside the repository (the build itself only uses the committed manuscript/references.bib)"; exit 2; }
	@{ echo "% Generated by \`make bib\` from ../shared/study/references.bib and manuscript/extra.bib; do not edit."; \
	  cat ../shared/study/references.bib; echo; cat manuscript/extra.bib; } > manuscript/references.bib.tmp \
	  && mv manuscript/references.bib.tmp manuscript/references.bib
	@echo "bib: refreshed manuscript/references.bib (commit it; the build reads only this committed copy)"

lock: ## Refresh requirements.lock from requirements.in (needs the package registry), then environment.yml
	tools/lock.sh
	$(PYTHON_BOOT) tools/environment.py

environment.yml: requirements.lock tools/environment.py ## Regenerate the conda/Binder environment from the lock
	$(PYTHON_BOOT) tools/environment.py

# ---------------------------------------------------------------- data checks
validate: $(VALID) ## Validate data/synthetic (types, keys, spans, encoding) and run the anonymisation gate

# Validation writes the step digests, but only its report is the rule's target: a digest whose value
# did not change keeps its date, and as a target of the same rule it would look out of date to every
# later make, which would then validate again each time. While validation is due, each digest's empty
# recipe makes make look at its date again once validation has run, so a step whose digest kept its
# date does not run; once the report is newer than every input, the digests stand on their own, so
# that `make -n` and `make -q` (which cannot look again) name only what would really run. A digest
# deleted by hand makes validation run, which writes it again.
VALID_INPUTS    := $(TABLE_DATA) $(TRANSCRIPTS) $(DATA)/anonymisation_allowlist.yaml $(SRC)
DIGESTS_MISSING := $(filter-out $(wildcard $(DIGESTS)),$(DIGESTS))
VALID_DUE       := $(or $(DIGESTS_MISSING),$(if $(wildcard $(VALID)),,missing),$(shell \
                     find $(foreach f,$(VALID_INPUTS),"$(f)") -newer "$(VALID)" -print -quit 2>/dev/null))
$(VALID): $(VALID_INPUTS) $(if $(DIGESTS_MISSING),digests-missing) | $(STAMP)
	$(RUN) validate --report $(VALID)
$(DIGESTS): $(if $(VALID_DUE),$(VALID)) ;
.PHONY: digests-missing
digests-missing: ;

audit: $(STAMP) ## Scan data and generated outputs for direct identifiers
	$(RUN) audit --outputs

# ---------------------------------------------------------------- analysis
analysis: $(BUILD)/analysis.done ## Run the analysis notebooks (overview, 8 cases, cross-case, descriptives)

# In this order: make starts the runnable notebooks in the order listed, and the cross-case step waits
# for every case, so the cases come first and the corpus overview and descriptives fill the other core.
$(BUILD)/analysis.done: $(foreach p,$(PIDS),$(EXEC)/02_analyse_case_$(p).ipynb) $(EXEC)/03_analyse_across_cases.ipynb \
                        $(EXEC)/01_read_corpus.ipynb $(EXEC)/04_describe_sample.ipynb
	@mkdir -p $(@D) && touch $@

# Each notebook step is handed its rule's prerequisites: when make re-runs it only because of a newer
# date (a case table rewritten with the same bytes by a transcript edit that moved no segment), the
# step finds every prerequisite with the bytes of its last run and keeps its outputs instead of
# starting a kernel (src/compendium/memo.py). Set on every target of those rules (make runs a
# grouped rule for whichever of its targets it needs first); a prerequisite's recipe sees its own `$^`.
$(EXEC)/%.ipynb $(TABLES)/% $(FIGURES)/% $(VALUES)/%: export COMPENDIUM_STEP_INPUTS = $^

$(EXEC)/01_read_corpus.ipynb $(TABLES)/corpus_overview.csv $(TABLES)/corpus_overview.md &: \
		$(NB)/01_read_corpus.ipynb $(DIGEST)/corpus.sha256 $(SRC) | $(VALID)
	$(RUN) run 01_read_corpus

$(EXEC)/02_analyse_case_%.ipynb $(TABLES)/cases/case_%.csv $(TABLES)/cases/case_%.md: \
		$(NB)/02_analyse_case.ipynb $(DIGEST)/case_%.sha256 $(SRC) | $(VALID)
	$(RUN) run 02_analyse_case --participant $*

CROSS_OUT := $(TABLES)/table2_themes.csv $(TABLES)/table2_themes.md \
             $(TABLES)/theme_recurrence.csv $(TABLES)/theme_recurrence.md \
             $(TABLES)/quote_bank.csv $(TABLES)/quote_bank.md $(TABLES)/convergence.csv $(TABLES)/convergence.md \
             $(FIGURES)/recurrence_heatmap.svg $(FIGURES)/recurrence_heatmap.png \
             $(VALUES)/cross_case.json
$(EXEC)/03_analyse_across_cases.ipynb $(CROSS_OUT) &: \
		$(NB)/03_analyse_across_cases.ipynb $(CASE_TABLES) $(DIGEST)/cross.sha256 $(SRC) | $(VALID)
	$(RUN) run 03_analyse_across_cases

DESC_OUT := $(TABLES)/table1_sample.csv $(TABLES)/table1_sample.md \
            $(TABLES)/sample_aggregates.csv $(TABLES)/sample_aggregates.md \
            $(FIGURES)/interview_durations.svg $(FIGURES)/interview_durations.png \
            $(VALUES)/descriptives.json
$(EXEC)/04_describe_sample.ipynb $(DESC_OUT) &: \
		$(NB)/04_describe_sample.ipynb $(DIGEST)/descriptives.sha256 $(SRC) | $(VALID)
	$(RUN) run 04_describe_sample

# ---------------------------------------------------------------- manuscript
# Each executed notebook as a standalone web page (pandoc reads .ipynb; nothing is
# fetched from the network); the HTML manuscript links its provenance table to them.
# All the pages due are rendered by one pandoc process (manuscript/notebook_pages.lua): a
# process per page cost about 0.07 CPU-s each, nearly all of it pandoc starting. A page's
# own rule only notes that it is due (make's file function, no process); $(PAGES) renders
# what was noted, so a page's date moves only when it has really been written, and a page
# that is missing, older than its notebook or deleted by the gate is noted again next time.
# $(PAGES) also depends on the notebooks themselves: a noted page keeps its old date.
EXEC_NBS := $(EXEC)/01_read_corpus.ipynb $(foreach p,$(PIDS),$(EXEC)/02_analyse_case_$(p).ipynb) \
            $(EXEC)/03_analyse_across_cases.ipynb $(EXEC)/04_describe_sample.ipynb
NB_HTML  := $(patsubst $(EXEC)/%.ipynb,$(MSOUT)/notebooks/%.html,$(EXEC_NBS))
PAGES_LUA := manuscript/notebook_pages.lua
PAGES_DUE := $(BUILD)/pages.due
PAGES     := $(BUILD)/pages.done

$(MSOUT)/notebooks/%.html: $(EXEC)/%.ipynb $(PAGES_LUA)
	$(if $(MAKE_QUESTION),,$(file >>$(PAGES_DUE),$<))

$(PAGES): $(NB_HTML) $(EXEC_NBS) $(PAGES_LUA) | $(STAMP)
	@mkdir -p $(MSOUT)/notebooks
	@due="$$(sort -u $(PAGES_DUE) 2>/dev/null | while read -r nb; do [ -f "$$nb" ] && echo "$$nb"; done)"; \
	if [ -n "$$due" ]; then \
	  echo "pages: $$(echo "$$due" | wc -l) notebook page(s) in $(MSOUT)/notebooks ($(PAGES_LUA))"; \
	  echo "$$due" | $(VENV)/bin/pandoc lua $(PAGES_LUA) $(MSOUT)/notebooks || exit 1; \
	fi
	@rm -f $(PAGES_DUE)
	@touch $@

# The manuscript links to the pages (it knows their names from the executed notebooks); they are
# rendered while it is written, and the gate and the finished build wait for both.
MS_IN := manuscript/template.md manuscript/references.bib $(filter-out $(PAGES_LUA),$(wildcard manuscript/*.lua)) CITATION.cff \
         $(BUILD)/analysis.done $(CROSS_OUT) $(DESC_OUT)
MS_OUT := $(MSOUT)/manuscript.docx $(MSOUT)/manuscript.pdf $(MSOUT)/manuscript.html $(MSOUT)/manuscript.jats.xml \
          $(MSOUT)/coreq_checklist.md $(MSOUT)/provenance.csv

manuscript: $(MS_OUT) $(PAGES) ## Write the manuscript draft (DOCX, PDF, HTML, JATS XML), COREQ checklist and provenance table

$(MS_OUT) &: $(MS_IN) $(SRC) $(DIGEST)/manuscript.sha256 $(SOURCE_STAMP) | $(VALID)
	$(RUN) manuscript

# ---------------------------------------------------------------- QDA exchange
SUPP_OUT := $(SUPP)/codebook.qdc $(SUPP)/project.qdpx

supplement: $(SUPP_OUT) ## Write the REFI-QDA exports for QDA software (codebook.qdc, project.qdpx)

REFIQDA_SRC := $(wildcard src/compendium/refiqda/*.py) $(wildcard src/compendium/schemas/*.xsd)
$(SUPP_OUT) &: $(DIGEST)/supplement.sha256 $(REFIQDA_SRC) $(SRC) $(SOURCE_STAMP) | $(VALID)
	$(RUN) qdpx export

# A second coder's project compared with ours (default: a planted second coder built
# from our export by tests/fixtures/qdpx/second_coder.py); `make compare OTHER=their.qdpx`.
OTHER ?= $(BUILD)/second_coder.qdpx
COMPARE_OUT := $(BUILD)/compare/comparison.csv $(BUILD)/compare/comparison.md $(BUILD)/compare/comparison.html

compare: $(COMPARE_OUT) ## Compare a second coder's .qdpx (OTHER=...) with coding.csv: build/compare/*.{csv,md,html}

$(BUILD)/second_coder.qdpx: $(TABLE_DATA) $(TRANSCRIPTS) $(REFIQDA_SRC) $(SRC) tests/fixtures/qdpx/second_coder.py | $(STAMP)
	$(PY) tests/fixtures/qdpx/second_coder.py $@

$(COMPARE_OUT) &: $(OTHER) $(DATA)/coding.csv $(DATA)/codebook.yaml $(REFIQDA_SRC) $(SRC) | $(STAMP)
	$(RUN) qdpx compare $(OTHER) --out $(BUILD)/compare

# ---------------------------------------------------------------- sharing a restricted study
SHARE := $(O)share

share: $(VALID) ## From a restricted DATA: de-identified data, log and manuscript in OUT/share, gated before writing
	$(RUN) share "$(SHARE)"
	$(MAKE) all DATA="$(abspath $(SHARE))/data" OUT="$(abspath $(SHARE))-build"
	$(RUN) share "$(SHARE)" --check

# ---------------------------------------------------------------- anonymisation gate over the outputs
# Every input and every generated output scanned again (tables, values, manuscript in all
# formats, notebook pages, QDA exports); a hit deletes the offending output. The log says
# what was checked, by which rules, and what the allow-list let through and why.
ANON_LOG := $(BUILD)/anonymisation_log.json

$(ANON_LOG): $(MS_OUT) $(SUPP_OUT) $(PAGES) $(DATA)/anonymisation_allowlist.yaml $(SRC) | $(VALID)
	$(RUN) audit --outputs --remove --log $@

# When nothing changed, make itself says "Nothing to be done for 'all'".
$(BUILD)/all.done: $(MS_OUT) $(PAGES) $(SUPP_OUT) $(ANON_LOG)
	@touch $@
	@echo "compendium: build complete (outputs in $(TABLES)/, $(FIGURES)/, $(MSOUT)/, $(SUPP)/)"

# ---------------------------------------------------------------- quality
# nbval re-runs the tutorials; the pipeline notebooks' key results are compared with the copies the
# build executed (tests/test_executed_outputs.py), not run a second time.
# The tests run in one worker process per core (pytest-xdist; TEST_WORKERS=0 runs them all in pytest's own
# process). --dist loadfile gives each file's tests to one worker: a tutorial's cells run in order in one
# kernel (nbval), and a file's module fixtures are made once; the files go out in the order tests/conftest.py
# gives them (the slowest first), not largest first. The workers share one clean build of a copy.
TEST_WORKERS ?= auto
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: all ## Build, then run the whole test suite (lint, unit, end-to-end, browser; key results of every notebook)
	@$(LINT)
	$(RUN) canonical
	@chromium="$$(tools/chromium.sh $(PY))" && export COMPENDIUM_CHROMIUM="$$chromium" && \
	  echo "test: browser test uses $$chromium" && \
	  pdftoppm="$$(tools/pdftoppm.sh)" && export COMPENDIUM_PDFTOPPM="$$pdftoppm" && \
	  $(PY) -m pytest tests $(NB)/tutorial src/compendium --doctest-modules $(XDIST) \
	    --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg $(PYTEST_ARGS)

# ruff's lint rules and its formatting, and mypy's types on src/ (configured in pyproject.toml). mypy keeps
# its cache in .mypy_cache (git-ignored, not removed by `make clean`): about 1 s warm, 40-70 s the first time.
LINT = $(PY) -m ruff check src tests tools && $(PY) -m ruff format --check src tests tools && $(PY) -m mypy
lint: $(STAMP) ## Check the code: ruff (lint and format) and mypy (configuration in pyproject.toml)
	@$(LINT)

test-fast: $(STAMP) ## Unit tests and docstring examples that start no processes of their own (no build, no notebooks)
	@$(LINT)
	$(PY) -m pytest tests src/compendium --doctest-modules -m "not slow and not browser and not heavy" $(XDIST) $(PYTEST_ARGS)

notebooks-canonical: $(STAMP) ## Rewrite source notebooks in canonical form (no counts, no volatile metadata)
	$(RUN) canonical --fix

accept: all ## Accept current results: store the key cells' outputs in the source notebooks
	$(RUN) accept

lab: $(STAMP) ## Open JupyterLab on your own working copies of the tutorials (student_work/notebooks/; REFRESH=T2 takes a new version)
	@$(RUN) lab-copies $(if $(REFRESH),--replace "$(REFRESH)")
	@echo "lab: starting JupyterLab on student_work/notebooks; open the http://127.0.0.1:... address printed below (Ctrl-C twice to stop)"
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=student_work/notebooks --no-browser \
	  --LabApp.default_url=/lab/tree/T1_read_transcript.ipynb $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

class-report: $(STAMP) ## Teachers: gather student_work/ (or CLASS=folder of submissions) into build/class-report/index.html
	$(RUN) class-report $(if $(CLASS),--from "$(CLASS)")

lab-pipeline: $(STAMP) ## Open JupyterLab on the pipeline notebooks (01-04)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(NB) --no-browser $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# ---------------------------------------------------------------- reproducibility
manifest: all ## Accept the current artefacts: record their SHA-256 in manifest.sha256 (commit it)
	$(RUN) manifest

verify: $(STAMP) ## Rebuild from clean in a temporary folder and compare every artefact with the manifest
	$(RUN) verify

diff: all ## Show what changed since the manifest: files, table cells, segments, quotes
	$(RUN) diff

bench: $(STAMP) ## Time cold, no-op and one-change builds, the naive baseline and 8/80/800-participant studies
	$(RUN) bench $(BENCH_ARGS)

# ---------------------------------------------------------------- clean
clean: ## Remove generated files only (never data/ or source notebooks); stop this folder's build server and the zygote
	@if [ -x "$(PY)" ]; then "$(PY)" -m compendium.server stop; fi
	rm -rf "$(BUILD)" "$(TABLES)" "$(VALUES)" "$(MSOUT)" "$(SUPP)"
	rm -f "$(FIGURES)"/*.svg "$(FIGURES)"/*.png

endif  # LOCKED_RUN (one build at a time, above)
