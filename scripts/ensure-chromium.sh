# Sourced by ./run and ./test: makes sure Debian's Chromium is there, installing it when we may.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Chromium is missing: installing Debian's chromium package..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    return 0
  fi
  echo "Chromium is missing: install Debian's 'chromium' package (sudo apt-get install chromium), or pass --chromium PATH." >&2
  return 1
}

# The attach-mode tests run Chromium under a real supervisord, as operators do.
ensure_supervisor() {
  if command -v supervisord >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "supervisor is missing: installing Debian's supervisor package..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq supervisor >&2
    return 0
  fi
  echo "supervisord is missing: install Debian's 'supervisor' package (sudo apt-get install supervisor) for the attach-mode tests." >&2
  return 1
}

ensure_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "The .NET 10 SDK is missing: install it (package dotnet-sdk-10.0) and run this again." >&2
    return 1
  fi
}
