#!/usr/bin/env bash
# Regenerates the throwaway certificates the TLS tests use (tests/fixtures/tls): a CA, a
# server certificate for localhost / 127.0.0.1, a client certificate signed by the CA, and
# a client certificate from an unrelated CA (which a mutual-TLS server must refuse).
# They protect nothing: the keys are public, in the repository, and valid for 100 years.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/tls"
mkdir -p "$out"
cd "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
days=36500

ca() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.pem" -days "$days" -subj "/CN=$2" 2>/dev/null
}
leaf() { # name ca subject extensions
  openssl req -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$tmp/$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "$4" > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial -CAserial "$tmp/$2.srl" \
    -out "$1.pem" -days "$days" -extfile "$tmp/$1.ext" 2>/dev/null
}

ca ca 'ringrpc test CA'
ca other-ca 'some other CA'
leaf server ca localhost 'subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth'
leaf client ca 'ringrpc test client' 'extendedKeyUsage=clientAuth'
leaf stranger other-ca 'stranger' 'extendedKeyUsage=clientAuth'
rm -f other-ca-key.pem ca-key.pem
echo "certificates written to $out"
