# Sourced by the live-capture tests: a network namespace with one end of a veth pair, the other
# end on the host, each with an address; torn down (and the test's background jobs stopped) on
# exit. Usage: veth_pair NAME_TAG HOST_ADDR PEER_ADDR  (a /24; sets ns, host_if, peer_if, tmp).
# Exits 77 (skipped) where namespaces or veth pairs cannot be made.
veth_pair() {
  ns="vigil-$1$$"
  host_if="vg$1$$a"
  peer_if="vg$1$$b"
  tmp=$(mktemp -d)
  trap veth_cleanup EXIT
  ip netns add "$ns" || { echo "skipped: cannot create a network namespace"; exit 77; }
  ip link add "$host_if" type veth peer name "$peer_if" || { echo "skipped: cannot create a veth pair"; exit 77; }
  ip link set "$peer_if" netns "$ns"
  ip addr add "$2/24" dev "$host_if"
  ip link set "$host_if" up
  ip netns exec "$ns" ip addr add "$3/24" dev "$peer_if"
  ip netns exec "$ns" ip link set "$peer_if" up
  ip netns exec "$ns" ip link set lo up
}

veth_cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$tmp"
}
