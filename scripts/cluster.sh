# Throwaway PostgreSQL clusters for tests and the demo.  Source this file.
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` OS user; the cluster lives in a temp dir that user owns.

PG_CONFIG=${PG_CONFIG:-pg_config}
PGBIN=$("$PG_CONFIG" --bindir)

# Runs a command as the server's OS user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Prints a TCP port nobody listens on.
free_port() {
  perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die "no port: $!";
    print $s->sockport, "\n";'
}

# cluster_start [dir] [extra postgres -c settings...]: initdb and start; sets
# CLUSTER_DIR, PGHOST (socket dir), PGPORT, PGUSER for clients.
cluster_start() {
  CLUSTER_DIR=${1:-$(mktemp -d /tmp/pg_ivf_cluster.XXXXXX)}
  shift || true
  mkdir -p "$CLUSTER_DIR"
  chmod 755 "$CLUSTER_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER_DIR"
  as_pg "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 \
    || { cat "$CLUSTER_DIR/initdb.log"; return 1; }
  PGPORT=$(free_port)
  local opts="-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$CLUSTER_DIR -c fsync=off"
  local s
  for s in "$@"; do opts="$opts -c $s"; done
  as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -o "$opts" -w -t 60 start >/dev/null \
    || { cat "$CLUSTER_DIR/server.log"; return 1; }
  export PGHOST=$CLUSTER_DIR PGPORT PGUSER=postgres
}

# Stops the cluster and removes its directory.
cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=
}
