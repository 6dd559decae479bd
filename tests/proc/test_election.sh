#!/usr/bin/env bash
# A new 5-node cluster elects exactly one leader, and every node follows it.
. "$(dirname "$0")/lib.sh"

up_detached 21000
wait_until 10 "exactly one leader" has_one_leader
leader=$(leader_id)
all_follow() {
    [ "$(status_py "sum(1 for n in alive if n['leader'] == $leader)")" = 5 ]
}
wait_until 10 "all five nodes name leader $leader" all_follow
echo "ok: leader is node $leader"
