# The README's commands. Everything runs from a fresh machine as root:
# `make demo` and `make test` set up what they need (virtualenv, Docker
# engine, host image, fixture broker packages) and reuse it afterwards.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PYTHON := $(BIN)/python

LOCAL_SUBNET := 172.30.10.0/24

.PHONY: help venv testbed demo demo-down demo-local demo-local-down lint unit unit-oldest unit-testbed integration molecule molecule-cluster molecule-default molecule-scale molecule-upgrade test bench collections sanity sanity-oldest clean

help:
	@echo "make demo       provision (emulated Alibaba Cloud) and deploy a 3-node cluster and its console with site.yml; print the console URL and bootstrap.servers"
	@echo "make demo-down  destroy the demo's cloud resources and stop the emulator"
	@echo "make demo-local the same deploy on four existing local test-bed hosts (inventories/local)"
	@echo "make test       the whole suite in two lanes side by side: lint, unit and integration tests, Molecule scenarios"
	@echo "make bench      time a fresh 3-node deploy, a no-op re-run and a rolling upgrade under traffic, secure and plaintext, and a 9-node no-op"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-controller.txt requirements.lock
	python3 -m venv $(VENV) || { apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -c requirements.lock
	touch $@

testbed: venv
	tests/testbed/prepare.sh

# The whole site.yml against the Alibaba Cloud emulator (tests/alicloud_emulator,
# left running in the background): it provisions the VPC, buckets, RAM user,
# PrivateZone and four hosts (three AutoMQ nodes and the console), then deploys.
demo: testbed
	$(BIN)/python tests/testbed/demo.py up

demo-down: venv
	$(BIN)/python tests/testbed/demo.py down

# The same deploy on hosts that already exist: four test-bed hosts listed in
# inventories/local (no provisioning), as for servers you run yourself.
demo-local: testbed
	$(BIN)/python tests/testbed/hosts.py up --env local --count 4 --subnet $(LOCAL_SUBNET)
	$(BIN)/ansible-playbook -i inventories/local site.yml
	$(BIN)/python tests/testbed/console_url.py -i inventories/local
	$(BIN)/python tests/testbed/bootstrap_servers.py -i inventories/local

demo-local-down: venv
	$(BIN)/python tests/testbed/hosts.py down --env local
	rm -rf inventories/local/automq_state

lint: venv
	$(BIN)/ruff check python_helpers tests collections molecule
	$(BIN)/ruff format --check python_helpers tests collections molecule
	$(BIN)/mypy
	cd collections && $(BIN)/mypy --config-file mypy.ini
	$(BIN)/ansible-lint

# Tests marked "testbed" need Docker and the host image: `make unit-testbed`,
# after `make testbed`.
unit: venv
	$(BIN)/pytest tests/unit -m "not testbed" -n 2 --durations=10

# The plugins' unit tests again on the oldest ansible-core the collections
# declare (requires_ansible >=2.16.0), in a virtualenv of its own.
VENV_OLDEST := .venv-oldest
# The longest first: xdist hands tests out in this order. The alicloud modules'
# whole-cluster test (about 3 minutes on 2.16, the lane's largest cost) runs on the
# newest ansible-core only: it chains the modules that the other tests of its file run
# one by one on 2.16 too, and what it adds (their order, a whole cluster's second run)
# does not depend on ansible-core's version.
PLUGIN_TESTS := tests/unit/alicloud/test_alicloud_modules.py tests/unit/alicloud/test_alicloud_docs.py \
  tests/unit/test_ansible_plugins.py tests/unit/test_node_state.py \
  tests/unit/test_node_files.py tests/unit/test_operation_lock.py \
  tests/unit/test_certificate_expiry.py tests/unit/test_kafka_admin_plugins.py \
  tests/unit/test_decommission_plugins.py tests/unit/test_oss_readiness_module.py \
  tests/unit/test_platform_docs.py tests/unit/test_collection_artifacts.py

$(VENV_OLDEST)/.installed: requirements-oldest.txt requirements-oldest.lock requirements-controller.txt
	python3 -m venv $(VENV_OLDEST) || { apt-get install -y -qq python3-venv && python3 -m venv $(VENV_OLDEST); }
	$(VENV_OLDEST)/bin/pip install -q --upgrade pip
	$(VENV_OLDEST)/bin/pip install -q -r requirements-oldest.txt -c requirements-oldest.lock
	touch $@

unit-oldest: venv $(VENV_OLDEST)/.installed
	AUTOMQ_EXPECT_ANSIBLE_CORE=2.16 $(VENV_OLDEST)/bin/pytest $(PLUGIN_TESTS) -m "not testbed" \
	  --deselect tests/unit/alicloud/test_alicloud_modules.py::test_a_whole_cluster_is_provisioned_then_left_alone \
	  -n 2 --durations=5

integration: testbed
	$(BIN)/pytest tests/integration --durations=0

# The unit tests that need the test bed (the emulator's instances as containers).
unit-testbed: testbed
	$(BIN)/pytest tests/unit -m testbed --durations=10

# One scenario: make molecule-cluster, molecule-default, molecule-scale, molecule-upgrade;
# make molecule runs them all, one after another. The cluster scenario drives the
# console in Debian's chromium (installed when missing). Molecule wraps its
# commands' output at the terminal's width (80 in CI): COLUMNS keeps a failed
# task's message on one line, whole in a failed lane's digest.
MOLECULE_SCENARIOS := cluster default scale upgrade
$(addprefix molecule-,$(MOLECULE_SCENARIOS)): molecule-%: testbed
	tests/testbed/ensure_browser.sh
	COLUMNS=250 $(BIN)/molecule --base-config .config/molecule/config.yml test -s $*

molecule: $(addprefix molecule-,$(MOLECULE_SCENARIOS))

# The whole suite in two lanes side by side (tests/run_lanes.sh), after the test
# bed and the browser are ready (so that no two lanes install packages at once):
# their Docker networks (integration: 10.213.x, 172.30.30.0/24; Molecule:
# 172.30.20-23.0/24), container names and ports are disjoint. The two scenarios
# that roll every node under traffic (cluster: the migration; upgrade) never run
# side by side: on two cores each slowed the other's rolls 2-7 times (the
# migration's phases 57-89 s alone, 337-444 s beside the upgrade's CA rolls), so
# the cluster scenario runs first while the other lane runs lint, unit-oldest
# and both sanity runs, and the upgrade scenario runs last beside the integration
# tests and the default scenario.
test: testbed
	tests/testbed/ensure_browser.sh
	MAKE='$(MAKE)' tests/run_lanes.sh "molecule-cluster unit integration molecule-default" \
	  "lint unit-oldest sanity sanity-oldest unit-testbed molecule-scale molecule-upgrade"

# The collection artifacts (build/collections): module_utils, and in automq.platform
# the roles and playbooks, as ansible-galaxy collection install wants them.
collections: venv
	$(BIN)/python collections/build.py

# ansible-test sanity on both collections as users install them (tests/sanity.py): the
# artifacts built and installed into a temporary ansible_collections/ tree, every test on
# the controller's Python, automq.platform's compile and import again on the hosts'
# oldest Python, 3.8 (skipped, and said so, where no python3.8 is found). Offline but
# for PyPI; ansible-test's virtualenvs are cached in build/sanity/home.
sanity: venv
	$(BIN)/python tests/sanity.py

# The same on the oldest ansible-core the collections declare (2.16): its ansible-test
# reads the artifacts' ignore-2.16.txt and asks more of them (empty module_utils
# __init__.py, pycodestyle 2.11). In the same lane as sanity: both use build/sanity.
sanity-oldest: venv $(VENV_OLDEST)/.installed
	$(VENV_OLDEST)/bin/python tests/sanity.py

bench: testbed
	$(BIN)/python tests/bench/bench.py

clean: demo-down demo-local-down
	tests/testbed/package_server.sh stop
