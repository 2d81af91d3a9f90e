#!/usr/bin/env bash
# Enforces the package borders of docs/DESIGN.md: only swiftclient imports
# ncw/swift and gophercloud (clouds.yaml), only fs imports go-fuse, only
# registrysync imports go-sqlite3, only metrics imports the Prometheus
# libraries, cache never imports fs, nothing imports cmd/.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # package-pattern forbidden-import allowed-regex
  local dep=$1 allowed=$2
  while read -r pkg imports; do
    if [[ " $imports " == *" $dep"* ]] && ! [[ $pkg =~ $allowed ]]; then
      echo "check-imports: $pkg must not import $dep" >&2
      fail=1
    fi
  done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
}
check github.com/ncw/swift/v2 '/swiftclient($|/)'
check github.com/gophercloud/gophercloud/v2 '/swiftclient$'
check github.com/hanwen/go-fuse/v2 '/fs$'
check github.com/mattn/go-sqlite3 '/registrysync$'
check github.com/prometheus/ '/metrics$'
check github.com/swiftfs/swiftfs/fs '/(cmd/swiftfs|importer)$'
check github.com/swiftfs/swiftfs/cmd 'NOTHING'
exit $fail
