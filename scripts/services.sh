#!/usr/bin/env bash
# Installs (if missing) and starts the real servers the test suite talks to,
# all on loopback, all throwaway:
#   - PostgreSQL (Debian's postgresql) on 127.0.0.1:${PROOFSHEET_PG_PORT:-55432}
#   - an S3-compatible server (PyPI's moto[server]) on 127.0.0.1:${PROOFSHEET_S3_PORT:-5055}
#   - an SMTP server (PyPI's aiosmtpd) on 127.0.0.1:${PROOFSHEET_SMTP_PORT:-8025}, delivering
#     into a Maildir the tests read
# Then prints the environment the tests read; use it as
#   eval "$(scripts/services.sh)"
# Idempotent: servers already running are reused.
set -euo pipefail
state="${PROOFSHEET_SERVICES_DIR:-/var/tmp/proofsheet-services}"
pg_port="${PROOFSHEET_PG_PORT:-55432}"
s3_port="${PROOFSHEET_S3_PORT:-5055}"
smtp_port="${PROOFSHEET_SMTP_PORT:-8025}"
mkdir -p "$state"
log() { echo "services: $*" >&2; }

apt_updated=0
need_apt() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# --- PostgreSQL -------------------------------------------------------------
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    log "installing postgresql"
    need_apt postgresql
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_data="$state/pg"
if ! su postgres -c "$pg_bin/pg_ctl -D $pg_data status" >/dev/null 2>&1; then
    if [ ! -f "$pg_data/PG_VERSION" ]; then
        rm -rf "$pg_data"
        install -d -o postgres "$pg_data"
        su postgres -c "$pg_bin/initdb -D $pg_data -U postgres --auth=trust" >/dev/null
    fi
    log "starting postgresql on 127.0.0.1:$pg_port"
    su postgres -c "$pg_bin/pg_ctl -D $pg_data -l $pg_data/server.log -o '-c listen_addresses=127.0.0.1 -p $pg_port -k /tmp -c max_connections=300 -c fsync=off -c synchronous_commit=off' -w start" >/dev/null
fi

# Each test run makes fresh databases (proofsheet_<uuid>); those of earlier
# runs are dropped here, so the data folder does not grow run after run
# (about 8 MB each). One still in use (a run going on) refuses and stays.
stale=$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -Atc \
    "SELECT datname FROM pg_database WHERE datname ~ '^proofsheet_[0-9a-f]{32}$'" 2>/dev/null || true)
if [ -n "$stale" ]; then
    log "dropping $(echo "$stale" | wc -l) test databases of earlier runs"
    for db in $stale; do
        psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
    done
fi

# --- S3 (moto) --------------------------------------------------------------
venv="$state/venv"
if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto[server] into $venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        need_apt python3-venv
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q 'moto[server]==5.1.*' >&2
fi
if [ ! -x "$venv/bin/aiosmtpd" ]; then
    log "installing aiosmtpd into $venv"
    "$venv/bin/pip" install -q 'aiosmtpd==1.4.*' >&2
fi
if ! "$venv/bin/python" -c 'import stripe' 2>/dev/null; then
    # Stripe's official library checks (and makes) webhook signatures in tests.
    log "installing stripe into $venv"
    "$venv/bin/pip" install -q 'stripe==13.2.1' >&2
fi
if ! "$venv/bin/python" -c 'import tusclient' 2>/dev/null; then
    # tuspy, a real tus 1.0 client, drives the resumable-upload tests.
    log "installing tuspy into $venv"
    "$venv/bin/pip" install -q 'tuspy==1.1.0' >&2
fi
if ! "$venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
    # The official Standard Webhooks library verifies every delivery the
    # webhook tests receive.
    log "installing standardwebhooks into $venv"
    "$venv/bin/pip" install -q 'standardwebhooks==1.1.0' >&2
fi
if ! curl -s -o /dev/null "http://127.0.0.1:$s3_port/"; then
    log "starting moto_server on 127.0.0.1:$s3_port"
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$state/moto.log" 2>&1 &
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break
        sleep 0.2
    done
fi
curl -s -o /dev/null "http://127.0.0.1:$s3_port/" || { log "moto_server did not start"; exit 1; }
# One bucket; each test works under its own random key prefix.
curl -s -o /dev/null -X PUT "http://127.0.0.1:$s3_port/proofsheet-test"

# --- SMTP (aiosmtpd) ----------------------------------------------------------
maildir="$state/maildir"
mkdir -p "$maildir/cur" "$maildir/new" "$maildir/tmp"
if ! (exec 3<>"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null; then
    log "starting aiosmtpd on 127.0.0.1:$smtp_port"
    nohup "$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$maildir" \
        >"$state/smtp.log" 2>&1 &
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null && break
        sleep 0.2
    done
fi
(exec 3<>"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null || { log "aiosmtpd did not start"; exit 1; }

echo "export PROOFSHEET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "export PROOFSHEET_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port"
echo "export PROOFSHEET_TEST_S3_BUCKET=proofsheet-test"
echo "export PROOFSHEET_TEST_PYTHON=$venv/bin/python"
echo "export PROOFSHEET_TEST_SMTP_URL=smtp://127.0.0.1:$smtp_port"
echo "export PROOFSHEET_TEST_MAILDIR=$maildir"
