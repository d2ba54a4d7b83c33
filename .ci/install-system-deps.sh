#!/usr/bin/env bash
# System packages the test suite uses for real components: headless Chromium + chromedriver
# (dashboard tests) and PostgreSQL (storage suite). Installed with apt when missing; tests that
# need them skip with a reason only where apt cannot install them.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null \
      || echo "warning: apt-get could not install ${need[*]}; the tests that need them will skip"
  else
    echo "warning: missing ${need[*]} and not root with apt-get; the tests that need them will skip"
  fi
fi
exit 0
