#!/usr/bin/env bash
# Two machines on one: trains one model across two network namespaces over Open MPI's TCP transport,
# and checks its loss curve against one process doing the same optimization.
#
#   host-a (netns s2s-host-a, 10.77.0.1) ──veth── host-b (netns s2s-host-b, 10.77.0.2)
#
# mpirun starts in host-a and reaches host-b through a plm_rsh_agent that runs the command with
# `ip netns exec` instead of ssh; each namespace gets a host name of its own (unshare --uts), so the
# ranks really are on two "hosts" that talk only over the veth pair (btl tcp, no shared memory).
# Both "hosts" share this machine's cores, so ranks are not bound to cores (each host would bind
# its rank to its core 0: the same core).
# Needs root, iproute2 and Open MPI (bash .ci/setup). Removes everything it made, on any exit.
#
#   bash scripts/mpi-two-namespaces.sh [--bench] [path/to/seq2seq]
#
# --bench also times MPI_Allreduce of the small and base presets' gradients across the two hosts
# (`seq2seq bench allreduce`) and the `small` preset's training with and without overlapping the
# reduction with the backward pass, when DATA names a prepared Multi30k corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=0
if [ "${1:-}" = "--bench" ]; then BENCH=1; shift; fi
BIN=$(realpath "${1:-.build/release/seq2seq}")
[ -x "$BIN" ] || { echo "no seq2seq binary at $BIN: build it with swift build -c release" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun not found: run bash .ci/setup" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "network namespaces need root" >&2; exit 1; }

A=s2s-host-a B=s2s-host-b NET=10.77.0
WORK=$(mktemp -d /tmp/s2s-two-hosts.XXXXXX)
cleanup() {
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cleanup; WORK=$(mktemp -d /tmp/s2s-two-hosts.XXXXXX)

ip netns add "$A"; ip netns add "$B"
ip link add s2s-veth-a type veth peer name s2s-veth-b
ip link set s2s-veth-a netns "$A"; ip link set s2s-veth-b netns "$B"
ip -n "$A" addr add "$NET.1/24" dev s2s-veth-a; ip -n "$B" addr add "$NET.2/24" dev s2s-veth-b
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set s2s-veth-a up; ip -n "$B" link set s2s-veth-b up

# mpirun's launcher: called as `agent [ssh options] HOST COMMAND...`; runs COMMAND in HOST's namespace.
cat > "$WORK/netns-agent" <<AGENT
#!/usr/bin/env bash
while [[ "\$1" == -* ]]; do shift; done
host=\$1; shift
case "\$host" in
    $NET.1) ns=$A name=host-a ;;
    $NET.2) ns=$B name=host-b ;;
    *) echo "netns-agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$name; \$*"
AGENT
chmod +x "$WORK/netns-agent"
printf '%s slots=1\n%s slots=1\n' "$NET.1" "$NET.2" > "$WORK/hosts"

S=corpora/sample
TRAIN=(train --src $S/train.de --tgt $S/train.en --valid-src $S/valid.de --valid-tgt $S/valid.en
       --d-model 64 --d-ff 256 --layers 2 --heads 4 --vocab-size 1000 --dropout 0 --batch-tokens 800
       --warmup-steps 10 --max-steps 30 --log-every 10 --threads 1)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

echo "== one process, --update-freq 2"
"$BIN" "${TRAIN[@]}" --model "$WORK/one" --update-freq 2 2>&1 | grep -E "^(model|stopped)"

echo "== two hosts ($NET.1 in $A, $NET.2 in $B) over TCP, --update-freq 1"
ip netns exec "$A" unshare --uts sh -c "hostname host-a; exec mpirun -np 2 --bind-to none --hostfile $WORK/hosts \
    --mca plm_rsh_agent $WORK/netns-agent --mca plm_rsh_no_tree_spawn 1 \
    --mca btl tcp,self --mca btl_tcp_if_include $NET.0/24 --mca oob_tcp_if_include $NET.0/24 \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
    $BIN ${TRAIN[*]} --model $WORK/two" 2>&1 | grep -E "^(rank|model|epoch|stopped)"

MPIRUN="mpirun -np 2 --bind-to none --hostfile $WORK/hosts --mca plm_rsh_agent $WORK/netns-agent --mca plm_rsh_no_tree_spawn 1 \
    --mca btl tcp,self --mca btl_tcp_if_include $NET.0/24 --mca oob_tcp_if_include $NET.0/24 \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"
if [ "$BENCH" = 1 ]; then
    echo "== MPI_Allreduce across the two hosts"
    ip netns exec "$A" unshare --uts sh -c "hostname host-a; exec $MPIRUN $BIN bench allreduce --repeats 5" 2>&1 | grep -E "allreduce median"
    if [ -n "${DATA:-}" ]; then
        for o in --overlap-reduction --no-overlap-reduction; do
            echo "== small preset on $DATA, 2 hosts x 1 thread, $o"
            ip netns exec "$A" unshare --uts sh -c "hostname host-a; exec $MPIRUN $BIN train --data $(realpath "$DATA") \
                --model $WORK/bench$o --max-steps 30 --log-every 10 --threads 1 $o" 2>&1 | grep -E "step (10|20|30) "
        done
    fi
fi

# The two loss curves, step by step.
losses() { grep -o '"loss":[^,]*,.*"step":[0-9]*' "$1/metrics.jsonl" | sed -E 's/"loss":([^,]*),.*"step":([0-9]+)/\2 \1/'; }
losses "$WORK/one" > "$WORK/one.txt"; losses "$WORK/two" > "$WORK/two.txt"
join "$WORK/one.txt" "$WORK/two.txt" | awk '
    { d = ($2 > $3 ? $2 - $3 : $3 - $2) / $2; if (d > worst) worst = d; n++ }
    END {
        printf "%d steps compared; largest relative loss difference %.2e\n", n, worst
        if (n < 30 || worst > 1e-4) { print "FAIL: the two-host run differs from one process"; exit 1 }
        print "OK: the two-host run is the one-process optimization"
    }'
