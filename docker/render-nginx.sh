#!/bin/sh
# docker/render-nginx.sh — writes the nginx configuration for acredita to standard output,
# from docker/nginx.conf.template. docker-compose (the proxy image) and the end-to-end drills
# (tests/e2e) both use it, so the drills test the configuration that is deployed.
#
#   ACREDITA_UPSTREAMS  the instances, "host:port host:port ..."      (required)
#   NGINX_LISTEN        port, or address:port, to listen on           (8080)
#   NGINX_RATE          sustained requests per client address         (20r/s)
#   NGINX_BURST         requests allowed above the rate, at once      (40)
#   NGINX_MAX_FAILS     failures within NGINX_FAIL_TIMEOUT that take  (3)
#   NGINX_FAIL_TIMEOUT  an instance out, and for how long             (5s)
#   NGINX_PREFIX        writable directory for temporary files        (/tmp/nginx)
#   NGINX_PID           pid file                                      ($NGINX_PREFIX/nginx.pid)
#   NGINX_ERROR_LOG     error log (a path, or stderr)                 (stderr)
#   NGINX_ACCESS_LOG    access log (a path)                           (/dev/stdout)
#   NGINX_EXAMPLES_ROOT development only (script/server, tests/browser): also serve this
#                       directory, the built examples/directory, at /examples/directory/
# Needs envsubst (Debian: gettext-base).
set -eu

template=${NGINX_TEMPLATE:-$(dirname "$0")/nginx.conf.template}
: "${ACREDITA_UPSTREAMS:?render-nginx.sh: set ACREDITA_UPSTREAMS to the instances (host:port ...)}"

NGINX_LISTEN=${NGINX_LISTEN:-8080}
NGINX_RATE=${NGINX_RATE:-20r/s}
NGINX_BURST=${NGINX_BURST:-40}
NGINX_PREFIX=${NGINX_PREFIX:-/tmp/nginx}
NGINX_PID=${NGINX_PID:-$NGINX_PREFIX/nginx.pid}
NGINX_ERROR_LOG=${NGINX_ERROR_LOG:-stderr}
NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-/dev/stdout}
max_fails=${NGINX_MAX_FAILS:-3}
fail_timeout=${NGINX_FAIL_TIMEOUT:-5s}

NGINX_UPSTREAM_SERVERS=""
for upstream in $ACREDITA_UPSTREAMS; do
  NGINX_UPSTREAM_SERVERS="${NGINX_UPSTREAM_SERVERS}    server $upstream max_fails=$max_fails fail_timeout=$fail_timeout;
"
done

# The directory example: a static front end with its own policy (its scripts and styles are
# files of its own; it may call an API on another loopback origin, through CORS).
NGINX_EXAMPLES_LOCATION=""
if [ -n "${NGINX_EXAMPLES_ROOT:-}" ]; then
  NGINX_EXAMPLES_LOCATION="    # Development only (NGINX_EXAMPLES_ROOT): the directory example.
    location = /examples/directory {
      return 301 /examples/directory/;
    }
    location /examples/directory/ {
      alias ${NGINX_EXAMPLES_ROOT%/}/;
      index index.html;
      types {
        text/html html;
        text/css css;
        text/javascript js;
        application/json map;
      }
      charset utf-8;
      charset_types text/css text/javascript application/json;
      add_header Cache-Control no-cache always;
      add_header X-Content-Type-Options nosniff always;
      add_header X-Frame-Options DENY always;
      add_header Referrer-Policy no-referrer always;
      add_header Content-Security-Policy \"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' http://127.0.0.1:* http://localhost:*; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\" always;
    }
"
fi

export NGINX_LISTEN NGINX_RATE NGINX_BURST NGINX_PREFIX NGINX_PID NGINX_ERROR_LOG \
  NGINX_ACCESS_LOG NGINX_UPSTREAM_SERVERS NGINX_EXAMPLES_LOCATION
# Only these names: nginx's own $variables must pass through untouched.
# shellcheck disable=SC2016
envsubst '${NGINX_LISTEN} ${NGINX_RATE} ${NGINX_BURST} ${NGINX_PREFIX} ${NGINX_PID}
${NGINX_ERROR_LOG} ${NGINX_ACCESS_LOG} ${NGINX_UPSTREAM_SERVERS} ${NGINX_EXAMPLES_LOCATION}' <"$template"
