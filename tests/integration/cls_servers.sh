# tests/integration/cls_servers.sh - the local servers the classification
# tests talk to, each started in $T on loopback and stopped at exit
# (on_exit from tests/lib.sh).  Sourced by test_classify.sh and
# test_ndpi_accuracy.sh.
#
#   cls_nginx HTTP_PORT [HTTPS_PORT]  nginx serving $T/www (index.html =
#                                     $CLS_PAGE); HTTPS with $T/cert.pem
#   cls_cert                          self-signed $T/cert.pem, $T/key.pem
#   cls_dnsmasq ADDR PORT             example.test -> 192.0.2.1
#   cls_s_server PORT NACCEPT         openssl s_server with $T/cert.pem
#   cls_sshd PORT                     sshd refusing every login

cls_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=example.test -days 1 \
        -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || fail "openssl req"
}

cls_nginx() {
    local tls=
    mkdir -p "$T/www" "$T/ngx"
    echo "$CLS_PAGE" >"$T/www/index.html"
    chmod 755 "$T" "$T/www"
    chmod 644 "$T/www/index.html"
    [ -n "${2:-}" ] && tls="server {
        listen 127.0.0.1:$2 ssl; root $T/www;
        ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
    }"
    cat >"$T/nginx.conf" <<EOF
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $T/ngx; proxy_temp_path $T/ngx;
    fastcgi_temp_path $T/ngx; uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
    server { listen 127.0.0.1:$1; root $T/www; error_page 405 =200 /index.html; }
    $tls
}
EOF
    nginx -c "$T/nginx.conf" -p "$T" 2>"$T/nginx.start" || skip "nginx: $(cat "$T/nginx.start")"
    on_exit "kill \$(cat '$T/nginx.pid' 2>/dev/null) 2>/dev/null"
}

cls_dnsmasq() {
    dnsmasq --keep-in-foreground --port="$2" --listen-address="$1" \
        --bind-interfaces --no-resolv --no-hosts --address=/example.test/192.0.2.1 \
        --pid-file="$T/dnsmasq.pid" --user=root 2>"$T/dnsmasq.err" &
    on_exit "kill $! 2>/dev/null"
}

cls_s_server() {
    openssl s_server -accept "127.0.0.1:$1" -cert "$T/cert.pem" -key "$T/key.pem" \
        -naccept "$2" -quiet </dev/null >"$T/s_server.out" 2>&1 &
    on_exit "kill $! 2>/dev/null"
}

cls_sshd() {
    mkdir -p /run/sshd 2>/dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" || fail "ssh-keygen"
    cat >"$T/sshd_config" <<EOF
Port $1
ListenAddress 127.0.0.1
HostKey $T/hostkey
PidFile $T/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100
EOF
    "$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.err" &
    on_exit "kill $! 2>/dev/null"
}
