# Sourced by the bench scripts.

# Print the run orders for N (3 or 4) things, one row a line, as indices: a Williams
# design. Over its rows each thing runs in each place, and right after each other thing,
# equally often (for 3: the cyclic square and its mirror), so neither a place nor what
# ran just before (a queue still draining, a warm cache) favours one of them.
williams_orders() {
  case $1 in
    4) printf '%s\n' "0 1 3 2" "1 2 0 3" "2 3 1 0" "3 0 2 1" ;;
    3) printf '%s\n' "0 1 2" "1 2 0" "2 0 1" "2 1 0" "0 2 1" "1 0 2" ;;
    *) echo "williams_orders: 3 or 4 things, not $1" >&2; return 1 ;;
  esac
}
