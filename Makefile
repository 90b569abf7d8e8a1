# Everyday commands. `make serve` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup setup-gpu system-deps serve test test-fast lint format bench bench-queue bench-vision bench-speech bench-transcode bench-decode bench-scale bench-batching bench-mixed bench-capacity bench-api bench-workflow clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4  # its opencv-python would clash
	touch $(STAMP)

setup-gpu: setup  ## GPU nodes (deploy/Dockerfile.cuda): ONNX Runtime with CUDA instead of the CPU build
	$(BIN)/pip uninstall --quiet --yes onnxruntime
	$(BIN)/pip install --quiet 'onnxruntime-gpu>=1.17'

serve: setup  ## API + embedded Ray workers, SQLite and local storage in ./.strobe
	$(BIN)/strobe serve

system-deps:  ## Debian packages the tests use (PostgreSQL server, fonts, ffmpeg for baselines)
	bash .ci/system-deps

test: setup system-deps  ## the whole suite: unit, contract, integration, e2e
	$(BIN)/pytest -q

test-fast: setup system-deps  ## everything but the end-to-end tests
	$(BIN)/pytest -q -m "not e2e"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipeline operators

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench-queue: setup system-deps  ## tasks leased + completed per second: Strobe's stores vs bare psycopg
	$(BIN)/python -m benchmarks.queue_throughput

bench-vision: setup system-deps  ## detection kinds on CPU: Strobe's operators vs the bare library calls
	$(BIN)/python -m benchmarks.vision

bench-speech: setup system-deps  ## speech RTF vs bare whisper.transcribe; chapters fps vs a per-frame loop
	$(BIN)/python -m benchmarks.speech

bench-transcode: setup system-deps  ## video transcodes (operator and end to end) vs the ffmpeg CLI
	$(BIN)/python -m benchmarks.transcode

bench-decode: setup  ## frame decoding: MediaFile.frames() vs bare PyAV, CPU and (on a GPU node) NVDEC
	$(BIN)/python -m benchmarks.decode

bench-batching: setup system-deps  ## detection kinds: 8 tasks at once on one operator (shared model calls) vs one at a time
	$(BIN)/python -m benchmarks.batching

bench-scale: setup system-deps  ## tasks/s on 1 vs 2 local Ray nodes; scheduling overhead at 1,000 queued tasks
	$(BIN)/python -m benchmarks.scale

bench-mixed: setup system-deps  ## every kind at once through strobe serve on 2 CPUs: tasks/min vs the sum of each task alone
	$(BIN)/python -m benchmarks.mixed

bench-capacity: setup  ## the cluster for 40,000 h of media a day from the measured rates, and the first limit it hits
	$(BIN)/python -m benchmarks.capacity

bench-api: setup  ## API requests/s vs a bare FastAPI app (GET/POST /tasks), lists at depth, p99 under load; needs wrk (apt-get install -y wrk)
	$(BIN)/python -m benchmarks.api_throughput

bench-workflow: setup  ## a 4-step, 2-branch workflow run vs the same steps submitted one after another by a client
	$(BIN)/python -m benchmarks.workflow

clean:
	rm -rf $(VENV) .strobe .pytest_cache .mypy_cache .ruff_cache
