# Shell helpers for running Vigil's programs on loopback (sourced by packaging/demo.sh and the
# integration tests).

# A TCP port of 127.0.0.1 that nothing listens on, chosen below the kernel's ephemeral range: a
# port from that range can be taken as the source port of any outgoing connection between the
# choice and the listener's bind (EADDRINUSE).
free_port() {
  local p low=32768 high
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$low" -gt 11000 ] 2>/dev/null || low=32768 # an unusual range: the usual bound, checked below
  for p in $(shuf -i 10000-$((low - 1)) -n 50); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port on 127.0.0.1" >&2
  return 1
}

# wait_for SECONDS REGEX COMMAND...: runs COMMAND every 0.2 s until its output matches REGEX;
# on timeout prints the last output to stderr and returns 1.
wait_for() {
  local secs=$1 want=$2 out=""
  shift 2
  for _ in $(seq 1 $((secs * 5))); do
    out=$("$@" 2>/dev/null || true)
    if [[ "$out" =~ $want ]]; then return 0; fi
    sleep 0.2
  done
  echo "last output of '$*': $out" >&2
  return 1
}
