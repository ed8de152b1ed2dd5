# Sourced by ./run and ./test: makes sure Debian's Chromium (and, for ./test, supervisor, nats-server and promtool) is
# there, installing it when we may.

# ensure_debian_package PACKAGE PRESENT_TEST WHAT_FOR [APT_OPTION...]: runs PRESENT_TEST; when it fails, installs
# PACKAGE as root (with the apt-get options given), or says how to.
ensure_debian_package() {
  local package="$1" present="$2" what_for="$3"
  shift 3
  if eval "$present"; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "$package is missing: installing Debian's $package package..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" "$package" >&2 || return 1
    eval "$present" && return 0
  fi
  echo "$package is missing: install Debian's '$package' package (sudo apt-get install $package)$what_for." >&2
  return 1
}

ensure_chromium() {
  ensure_debian_package chromium "command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]" ", or pass --chromium PATH"
}

# The attach-mode tests run Chromium under a real supervisord, as operators do.
ensure_supervisor() {
  ensure_debian_package supervisor "command -v supervisord >/dev/null 2>&1" " for the attach-mode tests"
}

# The NATS sink's tests start Debian's nats-server themselves (JetStream on, a temporary store).
ensure_nats_server() {
  ensure_debian_package nats-server "command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]" " for the NATS sink's tests"
}

# The metrics tests check /metrics with promtool; the package's recommends (exporters run as services) are not needed.
ensure_promtool() {
  ensure_debian_package prometheus "command -v promtool >/dev/null 2>&1" " for the metrics tests (promtool)" --no-install-recommends
}

ensure_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "The .NET 10 SDK is missing: install it (package dotnet-sdk-10.0) and run this again." >&2
    return 1
  fi
}
