#!/bin/sh
# Offline checks of the deployment files, run by ctest (or by hand):
#   deploy/validate/run-tests.sh [k8s|docker|redis-ha]...   (default: k8s docker)
# k8s:    every overlay renders with `kubectl kustomize`, validates against
#         the Kubernetes schemas and keeps the documented policies; broken
#         copies must fail.
# docker: the Dockerfiles pass the linter and the project rules, and their
#         build commands build the services and lay out runtime trees that
#         hold exactly what ldd lists and run on their own.
# redis-ha: the redis-ha component's start-up script with real Redis and
#         Sentinel processes (redis-ha-live; needs root, else exit 77).
# Installs the pinned npm packages (package-lock.json) on first use.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "run-tests.sh: $tool not found" >&2; exit 1; }
done

# One npm ci at a time (ctest may start both tests at once), and only when
# node_modules is missing or older than the lock file.
install_deps() {
    if [ ! -f node_modules/.package-lock.json ] ||
        [ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
        npm ci --no-audit --no-fund --loglevel=error
    fi
}
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/cartpair-deploy-npm.lock"
    flock -w 300 9
    install_deps
    flock -u 9
else
    install_deps
fi

[ $# -gt 0 ] || set -- k8s docker
files=""
for what in "$@"; do
    case "$what" in
        k8s)
            command -v kubectl >/dev/null 2>&1 || { echo "run-tests.sh: kubectl not found" >&2; exit 1; }
            files="$files validate.test.mjs" ;;
        docker)
            files="$files dockerfiles.test.mjs" ;;
        redis-ha)
            [ $# -eq 1 ] || { echo "run-tests.sh: redis-ha runs alone" >&2; exit 2; }
            exec ./redis-ha-live ;;
        *)
            echo "usage: run-tests.sh [k8s|docker|redis-ha]..." >&2; exit 2 ;;
    esac
done
# shellcheck disable=SC2086 # word splitting of the file list is wanted
exec node --test --test-reporter=spec $files
