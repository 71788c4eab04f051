#!/bin/sh
# Container entry point. Under HaRP (HP_SHARED_KEY set) the app listens on a unix socket and an
# FRP client tunnels HaRP's traffic to it; otherwise the app listens on APP_HOST:APP_PORT.
set -eu

if [ -n "${HP_SHARED_KEY:-}" ] && [ ! -f /tmp/frpc.toml ]; then
    {
        printf 'serverAddr = "%s"\n' "${HP_FRP_ADDRESS%%:*}"
        printf 'serverPort = %s\n' "${HP_FRP_PORT:-8782}"
        printf 'metadatas.token = "%s"\n' "$HP_SHARED_KEY"
        if [ -d /certs/frp ]; then
            printf 'transport.tls.certFile = "/certs/frp/client.crt"\n'
            printf 'transport.tls.keyFile = "/certs/frp/client.key"\n'
            printf 'transport.tls.trustedCaFile = "/certs/frp/ca.crt"\n'
            printf 'transport.tls.serverName = "harp.nc"\n'
        fi
        printf '\n[[proxies]]\nname = "%s"\ntype = "tcp"\nremotePort = %s\n' "$APP_ID" "$APP_PORT"
        printf '[proxies.plugin]\ntype = "unix_domain_socket"\nunixPath = "/tmp/exapp.sock"\n'
    } > /tmp/frpc.toml
fi
if [ -n "${HP_SHARED_KEY:-}" ]; then
    frpc -c /tmp/frpc.toml &
fi

exec /usr/local/bin/openconnector "$@"
