# The two README commands: `make run` and `make test`. Everything else is a helper.
BUILD ?= build
CMAKE_FLAGS ?=
DATA ?= ./data

.PHONY: all setup build run test docs test-sanitize test-fuzz clean

all: build

setup:
	@scripts/setup

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

run: build
	@mkdir -p $(DATA)
	exec $(BUILD)/bin/mqbroker --data-dir $(DATA) --listen 127.0.0.1:9092 --admin-listen 127.0.0.1:9642

docs: build
	@cmake --build $(BUILD) --target docs

# Sanitizer pass, fuzzers, then the full release suite last so its ctest
# summary is the final thing printed.
test: build docs
	@scripts/test-sanitize
	@scripts/test-fuzz
	cd $(BUILD) && ctest --output-on-failure -j2 --timeout 300

test-sanitize: setup
	@scripts/test-sanitize

test-fuzz: setup
	@scripts/test-fuzz

clean:
	rm -rf $(BUILD) build-asan build-fuzz
