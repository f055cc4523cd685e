# topupd — the two commands a newcomer needs:
#   make demo   install what is missing, build, run the daemon on the embedded sandbox
#   make demo-gateways   the same against the stand-alone sandbox over HTTP
#   make demo-observe    demo-gateways with a Prometheus scraping it on 127.0.0.1:9090
#   make test   install what is missing, build with ASan+UBSan, run every test
#
# Other targets: make build (release build only), make deb (the .deb, lintian-checked),
# make fuzz (long fuzzing runs, FUZZ_SECONDS each), make setup, make clean.

JOBS        ?= $(shell nproc)
BUILD_DIR   ?= build/release
TEST_DIR    ?= build/asan
FUZZ_DIR    ?= build/fuzz
FUZZ_SECONDS ?= 600
DEMO_CONFIG ?= etc/topupd/demo.yaml
CMAKE_FLAGS ?=

.PHONY: demo demo-gateways demo-observe test build setup clean fuzz fuzz-build crash-test ha-test soak deb

setup:
	@scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOPUPD_TESTS=OFF $(CMAKE_FLAGS)

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: setup build
	@echo "topupd demo: watching the sandbox's payout balance; Ctrl-C stops it."
	@echo "Metrics: http://127.0.0.1:9464/metrics   sandbox ledger: http://127.0.0.1:9464/sandbox/ledger"
	@echo "Open tickets (a QRIS code drawn): $(BUILD_DIR)/topupctl --socket /tmp/topupd-demo.sock tickets"
	@echo "Console: http://127.0.0.1:9480 (users ana and budi, both approvers, password demo-password)"
	@( for i in $$(seq 100); do $(BUILD_DIR)/topupctl --socket /tmp/topupd-demo.sock status >/dev/null 2>&1 && break; \
	   sleep 0.2; done; \
	   for user in ana budi; do echo demo-password | $(BUILD_DIR)/topupctl --socket /tmp/topupd-demo.sock \
	     user add $$user --role approver >/dev/null; done ) &
	$(BUILD_DIR)/topupd --config $(DEMO_CONFIG)

# The same daemon against the stand-alone sandbox, which speaks each gateway's wire
# format over HTTP on 127.0.0.1:12111; both stop on Ctrl-C.
demo-gateways: setup build build/demo-keys/client.key
	@echo "topupd demo: the stand-alone sandbox on 127.0.0.1:12111 and the daemon polling it; Ctrl-C stops both."
	@echo "Metrics: http://127.0.0.1:9464/metrics   sandbox ledger: http://127.0.0.1:12111/_sandbox/ledger"
	@$(BUILD_DIR)/topupd sandbox --listen 127.0.0.1:12111 --config etc/topupd/demo-sandbox.yaml \
	  --webhooks http://127.0.0.1:9465/webhooks & sandbox=$$!; \
	  trap 'kill $$sandbox 2>/dev/null' EXIT INT TERM; \
	  sleep 0.5; CREDENTIALS_DIRECTORY=$(CURDIR)/build/demo-keys $(BUILD_DIR)/topupd --config etc/topupd/demo-gateways.yaml

# demo-gateways and a real Prometheus scraping it every 5 s on 127.0.0.1:9090: every
# panel of dashboards/topupd-overview.json has data within two minutes.
demo-observe: setup build build/demo-keys/client.key
	@echo "topupd demo with Prometheus on http://127.0.0.1:9090 scraping http://127.0.0.1:9464/metrics; Ctrl-C stops all."
	@dir=$$(mktemp -d); \
	  printf 'global: {scrape_interval: 5s, evaluation_interval: 5s}\nscrape_configs:\n  - job_name: topupd\n    static_configs: [{targets: ["127.0.0.1:9464"]}]\n' > $$dir/prometheus.yml; \
	  prometheus --config.file=$$dir/prometheus.yml --storage.tsdb.path=$$dir/data \
	    --web.listen-address=127.0.0.1:9090 > $$dir/prometheus.log 2>&1 & prometheus=$$!; \
	  $(BUILD_DIR)/topupd sandbox --listen 127.0.0.1:12111 --config etc/topupd/demo-sandbox.yaml \
	    --webhooks http://127.0.0.1:9465/webhooks & sandbox=$$!; \
	  trap 'kill $$sandbox $$prometheus 2>/dev/null; rm -rf $$dir' EXIT INT TERM; \
	  sleep 0.5; CREDENTIALS_DIRECTORY=$(CURDIR)/build/demo-keys $(BUILD_DIR)/topupd --config etc/topupd/demo-gateways.yaml

# The SNAP keys of the demos' sandbox bank: topupd signs with client.key, the sandbox
# with sandbox.key. Made once; throw-away.
# topupd reads its two as credentials (snap-private-key, snap-bank-public-key).
build/demo-keys/client.key:
	@mkdir -p build/demo-keys
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out build/demo-keys/client.key 2>/dev/null
	openssl pkey -in build/demo-keys/client.key -pubout -out build/demo-keys/client.pub
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out build/demo-keys/sandbox.key 2>/dev/null
	openssl pkey -in build/demo-keys/sandbox.key -pubout -out build/demo-keys/sandbox.pub
	cp build/demo-keys/client.key build/demo-keys/snap-private-key
	cp build/demo-keys/sandbox.pub build/demo-keys/snap-bank-public-key

# The Debian package of the release build, checked by lintian: build/release/topupd_*.deb
deb: setup build
	cd $(BUILD_DIR) && cpack -G DEB
	lintian --fail-on error $(BUILD_DIR)/topupd_*.deb

# The long crash-injection run (make test runs a short one): CRASH_RUNS runs per
# crash point, each SIGKILLing topupd mid top-up, then the ledger is checked.
HA_RUNS ?= 70
CRASH_RUNS ?= 25
crash-test: setup $(TEST_DIR)/build.ninja
	cmake --build $(TEST_DIR) -j $(JOBS) --target topupd_crash_tests topupd
	CRASH_RUNS=$(CRASH_RUNS) $(TEST_DIR)/tests/topupd_crash_tests

# Several instances on PostgreSQL: the failover campaign (kills, partitions, SIGTERM,
# PostgreSQL restarts, deaths at crash points) that `make test` runs five rounds of,
# HA_RUNS rounds long.
ha-test: setup $(TEST_DIR)/build.ninja
	cmake --build $(TEST_DIR) -j $(JOBS) --target topupd_integration_tests topupd topupctl
	HA_RUNS=$(HA_RUNS) $(TEST_DIR)/tests/topupd_integration_tests --gtest_filter='InstancesTest.*'

# The soak (make test runs 150 s of it): SOAK_MINUTES of every fault at once against
# the ASan build, then the ledger, webhooks, /healthz, metrics and resources are
# checked; the table goes to SOAK.md. Each run draws its faults from a new SOAK_SEED
# (the table names it; give it again to draw the same faults); make test's run keeps one.
SOAK_MINUTES ?= 30
SOAK_SEED ?= $(shell date +%s)
soak: setup $(TEST_DIR)/build.ninja
	cmake --build $(TEST_DIR) -j $(JOBS) --target topupd_soak_tests topupd
	SOAK_MINUTES=$(SOAK_MINUTES) SOAK_SEED=$(SOAK_SEED) SOAK_REPORT=$(CURDIR)/SOAK.md $(TEST_DIR)/tests/topupd_soak_tests

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
