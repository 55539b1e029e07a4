#!/usr/bin/env bash
# Installs (Debian packages) and starts the local services the integration tests talk to, when missing.
set -euo pipefail
command -v moto_server >/dev/null || { echo "moto_server not found: it must be on the machine's Python" >&2; exit 1; }
command -v cfn-lint >/dev/null || { echo "cfn-lint not found: it must be on the machine's Python" >&2; exit 1; }
# terraform init -backend=false checks every synthesized cdktf stack (test/infra/terraform.test.ts).
command -v terraform >/dev/null || [ -x /usr/local/bin/terraform ] || { echo "terraform not found: it must be in the machine image (/usr/local/bin/terraform)" >&2; exit 1; }

# --- PostgreSQL and MySQL/MariaDB for the ingestion database sources ------------------------------
# Each server gets a private data dir under /var/tmp and a fixed loopback port. Tests read
# MLSTACK_PG_URL / MLSTACK_MYSQL_URL and default to exactly these values; nothing is exported here.
PG_PORT=55432
PG_DIR=/var/tmp/mlstack-pg
MYSQL_PORT=53306
MYSQL_DIR=/var/tmp/mlstack-mysql
PG_BIN=/usr/lib/postgresql/15/bin

# Runs a command as `user` when we are root (postgres and mariadbd refuse to run as root).
as_user() {
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_postgres() {
  if port_open "$PG_PORT"; then echo "postgres: already listening on $PG_PORT"; return; fi
  if [ ! -x "$PG_BIN/initdb" ]; then
    echo "postgres: installing postgresql-15 (Debian package)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  fi
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 server binaries not found under $PG_BIN (apt-get install postgresql-15)" >&2; exit 1; }
  local owner; owner=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    rm -rf "$PG_DIR"; mkdir -p "$PG_DIR"; chown "$owner" "$PG_DIR"
    as_user "$owner" "$PG_BIN/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  as_user "$owner" "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
  local psql=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='mlstack'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE ROLE mlstack LOGIN PASSWORD 'mlstack'"
  "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='mlstack_test'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE DATABASE mlstack_test OWNER mlstack"
  echo "postgres: postgres://mlstack:mlstack@127.0.0.1:$PG_PORT/mlstack_test"
}

start_mysql() {
  if port_open "$MYSQL_PORT"; then echo "mysql: already listening on $MYSQL_PORT"; return; fi
  if ! command -v mariadbd >/dev/null && ! command -v mysqld >/dev/null; then
    echo "mysql: installing mariadb-server (Debian package)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  local server install_db owner
  server=$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mariadbd)
  install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
  owner=$([ "$(id -u)" = 0 ] && echo mysql || id -un)
  if [ ! -d "$MYSQL_DIR/data/mysql" ]; then
    rm -rf "$MYSQL_DIR"; mkdir -p "$MYSQL_DIR/data"; chown -R "$owner" "$MYSQL_DIR"
    as_user "$owner" "$install_db" --no-defaults --datadir="$MYSQL_DIR/data" --auth-root-authentication-method=normal \
      --skip-test-db >"$MYSQL_DIR/install.log" 2>&1
  fi
  as_user "$owner" "$server" --no-defaults --datadir="$MYSQL_DIR/data" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
    --socket="$MYSQL_DIR/mysqld.sock" --pid-file="$MYSQL_DIR/mysqld.pid" --skip-log-bin \
    >"$MYSQL_DIR/server.log" 2>&1 &
  for _ in $(seq 1 120); do port_open "$MYSQL_PORT" && break; sleep 0.5; done
  port_open "$MYSQL_PORT" || { echo "mysql: did not start; see $MYSQL_DIR/server.log" >&2; tail -20 "$MYSQL_DIR/server.log" >&2; exit 1; }
  local client; client=$(command -v mariadb || command -v mysql)
  "$client" --no-defaults -uroot --socket="$MYSQL_DIR/mysqld.sock" -e "
    CREATE DATABASE IF NOT EXISTS mlstack_test;
    CREATE USER IF NOT EXISTS 'mlstack'@'%' IDENTIFIED BY 'mlstack';
    CREATE USER IF NOT EXISTS 'mlstack'@'localhost' IDENTIFIED BY 'mlstack';
    GRANT ALL ON mlstack_test.* TO 'mlstack'@'%';
    GRANT ALL ON mlstack_test.* TO 'mlstack'@'localhost';
    FLUSH PRIVILEGES;"
  echo "mysql: mysql://mlstack:mlstack@127.0.0.1:$MYSQL_PORT/mlstack_test"
}

# Headless Chromium for the `mlstack ui` browser tests (test/ui/browser.test.ts drives it with playwright-core).
install_chromium() {
  if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; return; fi
  echo "chromium: installing chromium and chromium-driver (Debian packages)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  [ -x /usr/bin/chromium ] || { echo "chromium: /usr/bin/chromium still missing after apt-get install chromium" >&2; exit 1; }
}

start_postgres
start_mysql
install_chromium
