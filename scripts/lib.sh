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
    ensure_packages libzstd-dev pkg-config
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
# when missing. Sets `trap stop_ceph_rgw EXIT` (replacing an EXIT trap of the caller), so the daemons end with the
# script however it ends. Fails if the gateway does not come up.
start_ceph_rgw() {
    ensure_packages radosgw ceph-mon ceph-osd || return 1
    CEPH_RGW_DIR=$(mktemp -d /tmp/haul-rgw.XXXXXX)
    trap stop_ceph_rgw EXIT
    "$(dirname "${BASH_SOURCE[0]}")/ceph-rgw" start "$CEPH_RGW_DIR" || return 1
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
