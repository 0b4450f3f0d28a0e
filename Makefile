VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help run test bench chaos clean
.DEFAULT_GOAL := help

help:
	@echo "make run     start the bot on embedded defaults (simulator mode without LINE credentials)"
	@echo "make test    install what the tests need and run them"
	@echo "make bench   benchmarks (SCENARIO=, USERS=, BENCH_ARGS=); make chaos: kill-and-restart run"
	@echo "make clean   remove .venv and test caches (.data/, the local Redis and chats, stays)"

$(STAMP): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	HOST=$${HOST:-127.0.0.1} $(PY) web.py

PYTEST := $(PY) -m gevent.monkey --module pytest -q -rs -p no:cacheprovider
SLOW_TESTS := tests/test_browser.py tests/test_process.py tests/test_startup.py

# The suite runs as three pytest processes at once, each with its own Redis and LINE
# stand-in on free ports: the real browser, the real processes, and the rest. The first two
# mostly wait on real time, so together they take little longer than the longest alone.
# With PYTEST_ARGS (make test PYTEST_ARGS="tests/test_store.py -x"): one run of just that.
test: $(STAMP)
ifdef PYTEST_ARGS
	$(PYTEST) $(PYTEST_ARGS)
else
	@$(MAKE) --no-print-directory -j3 -O test-browser test-processes test-core
endif

.PHONY: test-browser test-processes test-core
test-browser:
	$(PYTEST) tests/test_browser.py

test-processes:
	$(PYTEST) tests/test_process.py tests/test_startup.py

test-core:
	$(PYTEST) $(addprefix --ignore=,$(SLOW_TESTS)) tests

# make screenshots                            retake docs/*.png (the browser test, SCREENSHOTS=1)
.PHONY: screenshots
screenshots: $(STAMP)
	SCREENSHOTS=1 $(PY) -m gevent.monkey --module pytest -q -rs tests/test_browser.py

# make bench                                  quick run of every scenario (a few minutes)
# make bench SCENARIO=burst USERS=10000        one scenario: burst|reasks|idle|webhooks|overload|day
# make bench SCENARIO=reasks BENCH_ARGS="--spread 60 --profile"   (python -m bench --help)
bench: $(STAMP)
	$(PY) -m bench $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(USERS),--users $(USERS)) $(BENCH_ARGS)

# make chaos                                  1,000 users, half answering, 20 SIGKILLs:
#                                             asks, alerts, answers lost / shown twice
chaos: $(STAMP)
	$(PY) -m bench.chaos $(CHAOS_ARGS)
# (rolling restarts with webhooks flowing: python -m bench.rolling --help)

# make richmenu                               install the rich menu as the channel's default
#                                             (CHANNEL_ACCESS_TOKEN, LINE_API_BASE_URL)
# make richmenu-image                         redraw outbox/richmenu.png (needs a Japanese font)
.PHONY: richmenu richmenu-image
richmenu: $(STAMP)
	$(PY) -m outbox.richmenu

richmenu-image: $(STAMP)
	$(PY) -m outbox.richmenu_image

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
