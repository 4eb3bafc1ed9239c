# Sourced by the bench scripts.

# Wait until something listens on 127.0.0.1:PORT (up to 10 s).
wait_port() {
  for _ in $(seq 100); do
    if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}
