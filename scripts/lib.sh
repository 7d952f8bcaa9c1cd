# Shared by scripts/test and scripts/demo. Source it; it defines functions only.

# Prints a section header.
section() {
    printf '\n\033[1m==> %s\033[0m\n' "$*"
}

# Installs the Debian packages that are not installed yet. Runs `apt-get update` once, and only when something
# is missing.
ensure_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg -s "$pkg" >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "packages present: $*"
        return 0
    fi
    echo "installing: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

# The build dependencies of Haul itself.
ensure_build_dependencies() {
    command -v swift >/dev/null || { echo "error: swift is not on PATH (expected /opt/swift/usr/bin)" >&2; return 1; }
    ensure_packages libzstd-dev libsqlite3-dev pkg-config
}

# swift-format ships with the toolchain as `swift format`.
ensure_swift_format() {
    if ! swift format --version >/dev/null 2>&1; then
        echo "error: 'swift format' does not work; it ships with Swift 6 toolchains" >&2
        return 1
    fi
    echo "swift format $(swift format --version)"
}

# Starts a single-node Ceph cluster with a RADOS Gateway on 127.0.0.1 (scripts/ceph-rgw: a monitor, one memstore OSD,
# radosgw with the beast frontend on a free port, a test user) and exports HAUL_TEST_S3_ENDPOINT,
# HAUL_TEST_S3_ACCESS_KEY and HAUL_TEST_S3_SECRET_KEY for the S3 tests. Installs radosgw, ceph-mon and ceph-osd
# when missing. Registers stop_ceph_rgw with `on_exit`, so the daemons end with the
# script however it ends. Fails if the gateway does not come up.
start_ceph_rgw() {
    ensure_packages radosgw ceph-mon ceph-osd || return 1
    on_exit stop_ceph_rgw
    # A fresh single-node cluster now and then loses the race between the OSD's first boot and the monitor (the
    # OSD's commands carry a zero fsid and are refused): start a second fresh cluster before giving up.
    local attempt
    for attempt in 1 2; do
        CEPH_RGW_DIR=$(mktemp -d /tmp/haul-rgw.XXXXXX)
        if "$(dirname "${BASH_SOURCE[0]}")/ceph-rgw" start "$CEPH_RGW_DIR"; then
            break
        fi
        stop_ceph_rgw
        ((attempt == 2)) && return 1
        echo "Ceph RGW did not start; trying once more with a fresh cluster"
    done
    # shellcheck source=/dev/null
    source "$CEPH_RGW_DIR/env"
    echo "HAUL_TEST_S3_ENDPOINT=$HAUL_TEST_S3_ENDPOINT"
}

# Stops the cluster of start_ceph_rgw and removes its directory; does nothing if none runs.
stop_ceph_rgw() {
    if [[ -n ${CEPH_RGW_DIR:-} ]]; then
        "$(dirname "${BASH_SOURCE[0]}")/ceph-rgw" stop "$CEPH_RGW_DIR" || true
        CEPH_RGW_DIR=
    fi
}

# Cleanup on exit: functions here push commands with `on_exit`; one EXIT trap runs them, newest first, so several
# helpers (and the calling script) compose instead of overwriting each other's trap.
HAUL_EXIT_COMMANDS=()
on_exit() {
    HAUL_EXIT_COMMANDS+=("$*")
    trap run_exit_commands EXIT
}
run_exit_commands() {
    local status=$?
    local i
    for ((i = ${#HAUL_EXIT_COMMANDS[@]} - 1; i >= 0; i--)); do
        eval "${HAUL_EXIT_COMMANDS[i]}" || true
    done
    HAUL_EXIT_COMMANDS=()
    return "$status"
}

# Starts a throwaway PostgreSQL 15 cluster for the metadata tests: Debian's server binaries run as user postgres
# (initdb refuses root), trust auth on a free loopback port, fsync off, socket and data in a temp dir. Creates the
# database haul_test, exports HAUL_TEST_POSTGRES_URL, and stops the server and removes the dir on exit.
start_postgres() {
    local bin=/usr/lib/postgresql/15/bin
    if [[ ! -x $bin/initdb ]]; then
        ensure_packages postgresql-15
    fi
    local run=()
    if [[ $(id -un) != postgres ]]; then
        [[ $(id -u) -eq 0 ]] || { echo "error: start_postgres needs root (to run as user postgres)" >&2; return 1; }
        run=(runuser -u postgres --)
    fi
    local dir port
    dir=$(mktemp -d /tmp/haul-postgres.XXXXXX)
    chown postgres: "$dir" 2>/dev/null || true
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" ||
        { cat "$dir/initdb.log" >&2; return 1; }
    on_exit "rm -rf '$dir'"
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
    on_exit "${run[*]} '$bin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null"
    "${run[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -c "CREATE DATABASE haul_test" >/dev/null
    export HAUL_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/haul_test"
    echo "PostgreSQL 15 on 127.0.0.1:$port ($dir): HAUL_TEST_POSTGRES_URL=$HAUL_TEST_POSTGRES_URL"
}
