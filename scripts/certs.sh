#!/usr/bin/env bash
# Writes the platform CA and a certificate for every core service into DIR,
# in the layout pkg/mtls reads: ca.pem, ca-key.pem, and <name>.pem with
# <name>-key.pem for each identity micro/<name>.
#
#   scripts/certs.sh DIR [PUBLIC_HOST ...]
#
# PUBLIC_HOST names (DNS names or IP addresses) go into the proxy's
# certificate, which the CLI checks against the address it dials. A CA
# already in DIR is reused, so running the script again renews every
# service certificate under the same CA; clients keep trusting ca.pem.
#
# Each certificate is what mtls.CA.Issue makes: ECDSA P-256, usable for
# server and client authentication, with exactly one URI SAN,
# spiffe://m3o/ns/micro/svc/<name>, which is the identity peers check.
#
# It also writes the runtime's workload CA, runtime-ca.pem and
# runtime-ca-key.pem, as mtls.CA.IssueIntermediate makes it: a CA below the
# platform CA that signs leaves only (pathlen 0), for platform identity URIs
# only (no DNS name or IP address), with which the runtime signs tenants'
# workloads. The platform CA therefore has pathlen 1; a CA from an older run
# with pathlen 0 is re-signed with its own key, which keeps every
# certificate it issued valid.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [PUBLIC_HOST ...]" >&2
  exit 2
fi
dir=$1
shift
public_hosts=("$@")

# The services that get a certificate. router is the proxy's second
# identity, for its own lookups: micro/proxy relays strangers' calls and
# vouches for nobody.
services=(store registry auth config runtime proxy router)
# The namespace the manifests in deploy/kubernetes run in; it only names
# the DNS SANs, which nothing checks today but which make the certificates
# usable by tools that verify host names.
k8s_namespace=${M3O_NAMESPACE:-m3o}
ca_days=3650
cert_days=365

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# A random positive 128-bit serial, as mtls does.
serial() {
  echo "0x$(openssl rand -hex 16)"
}

make_ca() {
  if [[ -f "$dir/ca.pem" && -f "$dir/ca-key.pem" ]]; then
    if ! openssl x509 -in "$dir/ca.pem" -noout -ext basicConstraints | grep -q 'pathlen:0'; then
      echo "reusing the CA in $dir" >&2
      return
    fi
    echo "re-signing the CA in $dir with pathlen 1, for the runtime's workload CA" >&2
  else
    new_key "$dir/ca-key.pem"
  fi
  openssl req -x509 -new -key "$dir/ca-key.pem" -sha256 -days "$ca_days" -set_serial "$(serial)" \
    -subj "/O=M3O/CN=M3O platform CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:1" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$dir/ca.pem"
  chmod 0644 "$dir/ca.pem"
}

# make_workload_ca writes the runtime's workload CA: leaves only, platform
# identity URIs only ("invalid" is a reserved domain, so the DNS constraint
# permits no reachable name; every IP address is excluded).
make_workload_ca() {
  new_key "$dir/runtime-ca-key.pem"
  openssl req -new -key "$dir/runtime-ca-key.pem" -subj "/O=M3O/CN=M3O workload CA" -out "$work/runtime-ca.csr"
  cat >"$work/runtime-ca.ext" <<EOF
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
nameConstraints=critical,permitted;URI:m3o,permitted;DNS:invalid,excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::
EOF
  openssl x509 -req -in "$work/runtime-ca.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -set_serial "$(serial)" -days "$cert_days" -sha256 -extfile "$work/runtime-ca.ext" \
    -out "$dir/runtime-ca.pem" 2>/dev/null
  chmod 0644 "$dir/runtime-ca.pem"
}

# sans prints the subjectAltName of a service: its identity, then host
# names that reach it.
sans() {
  local name=$1 san="URI:spiffe://m3o/ns/micro/svc/$name"
  san+=",DNS:$name,DNS:$name.$k8s_namespace,DNS:$name.$k8s_namespace.svc,DNS:$name.$k8s_namespace.svc.cluster.local"
  san+=",DNS:localhost,IP:127.0.0.1,IP:::1"
  if [[ $name == proxy ]]; then
    local h
    for h in "${public_hosts[@]}"; do
      if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+=",IP:$h"; else san+=",DNS:$h"; fi
    done
  fi
  echo "$san"
}

issue() {
  local name=$1
  new_key "$dir/$name-key.pem"
  openssl req -new -key "$dir/$name-key.pem" -subj "/OU=micro/CN=$name" -out "$work/$name.csr"
  cat >"$work/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$(sans "$name")
EOF
  openssl x509 -req -in "$work/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -set_serial "$(serial)" -days "$cert_days" -sha256 -extfile "$work/$name.ext" \
    -out "$dir/$name.pem" 2>/dev/null
  chmod 0644 "$dir/$name.pem"
}

make_ca
for s in "${services[@]}"; do
  issue "$s"
done
make_workload_ca
echo "wrote the CA, the certificates of ${services[*]} and the runtime's workload CA to $dir" >&2
