#!/usr/bin/env bash
# System packages the test suite uses for real components: headless Chromium + chromedriver
# (dashboard tests), PostgreSQL (storage contract suite, two processes on one study) and TeX
# with booktabs and siunitx (the LaTeX export is compiled). Installed with apt when missing.
#
# Under CI (CI=true, as GitHub Actions and GitLab set it) a component that is still missing
# afterwards is an error: the script exits 1, and the tests that need it fail instead of
# skipping (tests/components.py). Elsewhere it warns, and those tests skip with a warning and
# a line in pytest's summary.
set -u
missing() {
  local out=()
  [ -x /usr/bin/chromium ] || out+=(chromium chromium-driver)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || out+=(postgresql)
  if ! { command -v pdflatex && kpsewhich siunitx.sty && kpsewhich booktabs.sty; } >/dev/null 2>&1; then
    out+=(texlive-latex-base texlive-latex-recommended texlive-science)
  fi
  echo "${out[@]}"
}
is_ci() { case "${CI:-}" in true|TRUE|True|1|yes) return 0 ;; *) return 1 ;; esac; }

need=($(missing))
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null \
      || echo "warning: apt-get could not install ${need[*]}"
  else
    echo "warning: missing ${need[*]} and not root with apt-get"
  fi
fi
still=($(missing))
if [ ${#still[@]} -gt 0 ]; then
  if is_ci; then
    echo "error: CI needs ${still[*]}; the tests that use them would not run" >&2
    exit 1
  fi
  echo "warning: still missing ${still[*]}; the tests that need them will skip (with a warning)"
fi
exit 0
