#!/usr/bin/env bash
# `cmake --install BUILD --prefix P` into a fresh temporary P: raftnode and
# raftctl run from P/bin, the template unit P/lib/systemd/system/
# raftnode@.service names P/bin/raftnode and has what docs/HOSTS.md
# promises (instance = id, restart on failure, a dynamic unprivileged
# user, state under /var/lib/raft, /etc/raft's cluster.conf and keys), and
# `systemd-analyze verify` accepts an instance of it without one warning
# (checked only where systemd-analyze exists). Enables nothing.
set -u
BUILD=${1:?usage: install.sh BUILD_DIR}
P=$(mktemp -d /tmp/raft-install.XXXXXX)
trap 'rm -rf "$P"' EXIT
fail() {
    echo "FAIL (install): $*" >&2
    exit 1
}

cmake --install "$BUILD" --prefix "$P" >"$P.log" 2>&1 || { cat "$P.log" >&2; rm -f "$P.log"; fail "cmake --install"; }
rm -f "$P.log"
for b in raftnode raftctl; do
    [ -x "$P/bin/$b" ] || fail "$P/bin/$b missing or not executable"
    "$P/bin/$b" --help >/dev/null || fail "$b --help"
done
[ -f "$P/share/doc/raft/HOSTS.md" ] || fail "HOSTS.md not installed"
unit="$P/lib/systemd/system/raftnode@.service"
[ -f "$unit" ] || fail "raftnode@.service not installed"
want=(
    "ExecStart=$P/bin/raftnode --id %i --config /etc/raft/cluster.conf --db /var/lib/raft/node%i.db --key-dir %d \$RAFTNODE_OPTS"
    "DynamicUser=yes"
    "StateDirectory=raft"
    "Restart=on-failure"
    "LoadCredential=cluster.key:/etc/raft/cluster.key"
    "LoadCredential=client.key:/etc/raft/client.key"
    "EnvironmentFile=-/etc/raft/raftnode-%i.env"
)
for line in "${want[@]}"; do
    grep -qxF -- "$line" "$unit" || fail "the unit lacks the line: $line"
done
grep -q '@RAFT_' "$unit" && fail "the unit has an unfilled @RAFT_...@"

if command -v systemd-analyze >/dev/null; then
    # An instance, as systemctl would load raftnode@1.service.
    units="$P/units"
    mkdir "$units" && cp "$unit" "$units/" && ln -s "raftnode@.service" "$units/raftnode@1.service" ||
        fail "copy the unit"
    out=$(cd "$units" && SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify raftnode@1.service 2>&1)
    rc=$?
    [ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (exit $rc): $out"
    echo "install: systemd-analyze verify raftnode@1.service: clean"
else
    echo "install: no systemd-analyze here: the unit's lines checked only"
fi
echo "ok"
