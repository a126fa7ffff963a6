# Two commands do all the set-up on a fresh machine with python3 and git:
#   make run    the main job (creates .venv on first use)
#   make test   the whole suite: ruff, mypy, import-linter, pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers pytest bench clean dist package package-test install-desktop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[gui,test]'
	touch $(STAMP)

# The demo opens a window; without a display it renders the dashboard offscreen instead.
run: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/studio demo; \
	else \
		echo "No display: rendering the demo offscreen into build/demo.png"; \
		QT_QPA_PLATFORM=offscreen $(BIN)/studio demo --screenshot build/demo.png \
			&& echo "Wrote build/demo.png"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check studio tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck layers pytest

# What users install (docs/packaging.md). `make test` already runs the packaging tests;
# package-test runs only them (1.5-2.5 min: two fresh venvs and a PyInstaller build).
dist: $(STAMP)
	$(BIN)/python -m build --outdir dist .

package: $(STAMP)
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller \
		packaging/studio.spec
	@echo "Built dist/studio/ ($$(du -sh dist/studio | cut -f1)); run dist/studio/studio"

package-test: $(STAMP)
	$(BIN)/python -m pytest tests/test_packaging.py tests/test_packaging_wheel.py \
		tests/test_packaging_bundle.py tests/ui/test_packaging_about.py

# Menu entry, icon and the .realm file type for the current user (after `make package`).
install-desktop: package
	packaging/linux/install.sh dist/studio

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) build dist *.egg-info
