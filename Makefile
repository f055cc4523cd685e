# topupd — the two commands a newcomer needs:
#   make demo   install what is missing, build, run the daemon on the embedded sandbox
#   make test   install what is missing, build with ASan+UBSan, run every test
#
# Other targets: make build (release build only), make fuzz (long fuzzing runs,
# FUZZ_SECONDS each), make setup, make clean.

JOBS        ?= $(shell nproc)
BUILD_DIR   ?= build/release
TEST_DIR    ?= build/asan
FUZZ_DIR    ?= build/fuzz
FUZZ_SECONDS ?= 600
DEMO_CONFIG ?= etc/topupd/demo.yaml
CMAKE_FLAGS ?=

.PHONY: demo test build setup clean fuzz fuzz-build

setup:
	@scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOPUPD_TESTS=OFF $(CMAKE_FLAGS)

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: setup build
	@echo "topupd demo: watching the sandbox's payout balance; Ctrl-C stops it."
	@echo "Metrics: http://127.0.0.1:9464/metrics   sandbox ledger: http://127.0.0.1:9464/sandbox/ledger"
	$(BUILD_DIR)/topupd --config $(DEMO_CONFIG)

$(TEST_DIR)/build.ninja:
	cmake -S . -B $(TEST_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTOPUPD_SANITIZE=ON $(CMAKE_FLAGS)

# The fuzz targets are built with clang and libFuzzer; `make test` fuzzes each for
# 20 s from the checked-in corpus, then runs the whole suite under ASan+UBSan.
$(FUZZ_DIR)/build.ninja:
	CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOPUPD_FUZZ=ON $(CMAKE_FLAGS)

fuzz-build: $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS)

fuzz: setup fuzz-build
	cd $(FUZZ_DIR) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -j $(JOBS)

test: setup $(TEST_DIR)/build.ninja fuzz-build
	cd $(FUZZ_DIR) && FUZZ_SECONDS=20 FUZZ_SEED=1 ctest --output-on-failure -j $(JOBS)
	cmake --build $(TEST_DIR) -j $(JOBS)
	cd $(TEST_DIR) && ctest --output-on-failure --timeout 300 -j $(JOBS)

clean:
	rm -rf build
