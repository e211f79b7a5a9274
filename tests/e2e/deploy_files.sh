#!/usr/bin/env bash
# deploy/ parses and is consistent (a YAML-level check, no Docker or
# Kubernetes needed): the compose file, the Kubernetes manifests, the
# Prometheus and Grafana provisioning files and the Dockerfile reference only
# ports, paths and files that exist and agree with the daemon configs; the
# Dockerfile's build stage runs the scripts CI runs; the PrometheusRule is
# the rules files. See tests/e2e/deploy_check.py.
# usage: deploy_files.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
SRC=$2
if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then echo "SKIP: python3-yaml is not installed"; exit 0; fi
/usr/bin/python3 "$SRC/tests/e2e/deploy_check.py" files "$SRC"
