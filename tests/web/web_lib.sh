# Helpers for the web scripts (sourced after tests/proc/lib.sh): start
# `raftctl web` in the background and wait for the URL it prints. The
# cleanup stops the web servers this script started, then the cluster.
WEB_PIDS=""
trap 'kill $WEB_PIDS 2>/dev/null; proc_cleanup' EXIT

# web_start PORT [more raftctl web options]: sets WEB_URL and WEB_TOKEN.
web_start() {
    local port=$1 out="$DIR/web-$1.out"
    shift
    "$RAFTCTL" -d "$DIR" web --port "$port" "$@" >"$out" 2>&1 &
    WEB_PIDS="$WEB_PIDS $!"
    web_has_url() { grep -q 'token=[0-9a-f]\{32\}' "$out"; }
    wait_until 10 "raftctl web's URL" web_has_url
    WEB_URL=$(grep -o 'http://127.0.0.1:[0-9]*/?token=[0-9a-f]\{32\}' "$out")
    WEB_TOKEN=${WEB_URL##*token=}
}
