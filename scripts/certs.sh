#!/usr/bin/env bash
# Issues every certificate deploy/kubernetes needs into DIR, under three
# trusts that never vouch for each other, and writes DIR/kustomization.yaml,
# which turns them into the Secrets the manifests mount:
#
#   scripts/certs.sh DIR [PUBLIC_HOST ...]
#   kubectl apply -k DIR
#
# 1. The platform CA (ca.pem, ca-key.pem) and, in the layout pkg/mtls reads,
#    <name>.pem with <name>-key.pem for each identity micro/<name>. Each is
#    what mtls.CA.Issue makes: ECDSA P-256, usable for server and client
#    authentication, with exactly one URI SAN, spiffe://m3o/ns/micro/svc/<name>,
#    which is the identity peers check. PUBLIC_HOST names (DNS names or IP
#    addresses) go into the proxy's certificate, which the CLI checks
#    against the address it dials. The platform CA has pathlen 1: below it,
#    runtime-ca.pem and runtime-ca-key.pem are the runtime's workload CA, as
#    mtls.CA.IssueIntermediate makes it, which signs leaves only (pathlen 0),
#    for platform identity URIs only (no DNS name or IP address), and with
#    which the runtime signs tenants' workloads. A platform CA from an older
#    run with pathlen 0 is re-signed with its own key, which keeps every
#    certificate it issued valid.
# 2. CockroachDB's CA, in cockroachdb/ with the names `cockroach start
#    --certs-dir` expects: node.crt for every node (CN=node, the names of
#    the StatefulSet's pods and Services), client.root.crt for the Job that
#    creates the database, and client.store.crt for the store service, the
#    only other SQL user.
# 3. etcd's CAs, in etcd/: ca.pem signs the members' serving certificate
#    (server.pem, server use only) and the one client certificate the
#    members accept, the registry's (registry.pem, client use only);
#    peer-ca.pem signs the certificate the members present to each other
#    (peer.pem), which their client port does not accept.
#
# CA keys (*ca-key.pem, ca.key) stay in DIR and out of every Secret: keep
# them offline. A CA already in DIR is reused, so running the script again
# renews every other certificate under the same CAs, and clients keep
# trusting them.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [PUBLIC_HOST ...]" >&2
  exit 2
fi
dir=$1
shift
public_hosts=("$@")

# The services that get a platform certificate. router is the proxy's
# second identity, for its own lookups: micro/proxy relays strangers' calls
# and vouches for nobody.
services=(store registry auth config runtime billing proxy router)
# The namespace deploy/kubernetes runs in, which the host names include.
ns=${M3O_NAMESPACE:-m3o}
ca_days=3650
cert_days=365

umask 077
mkdir -p "$dir/cockroachdb" "$dir/etcd"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# A random positive 128-bit serial, as mtls does.
serial() {
  echo "0x$(openssl rand -hex 16)"
}

# make_ca CERT KEY NAME [PATHLEN] creates a CA unless CERT and KEY already
# exist. A CA whose path length is shorter than PATHLEN (default 0) is
# re-signed with its own key.
make_ca() {
  local cert=$1 key=$2 name=$3 pathlen=${4:-0}
  if [[ -f "$cert" && -f "$key" ]]; then
    if [[ $pathlen == 0 ]] || ! openssl x509 -in "$cert" -noout -ext basicConstraints | grep -q 'pathlen:0'; then
      echo "reusing $cert" >&2
      return
    fi
    echo "re-signing $cert with pathlen $pathlen" >&2
  else
    new_key "$key"
  fi
  openssl req -x509 -new -key "$key" -sha256 -days "$ca_days" -set_serial "$(serial)" \
    -subj "/O=M3O/CN=$name" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:$pathlen" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$cert"
  chmod 0644 "$cert"
}

# sign CA_CERT CA_KEY CERT KEY SUBJECT EXT_KEY_USAGE SANS issues a leaf
# certificate with a new key.
sign() {
  local ca=$1 ca_key=$2 cert=$3 key=$4 subj=$5 eku=$6 sans=$7
  local base
  base="$work/$(basename "$cert")"
  new_key "$key"
  openssl req -new -key "$key" -subj "$subj" -out "$base.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    if [[ -n $sans ]]; then echo "subjectAltName=$sans"; fi
  } >"$base.ext"
  openssl x509 -req -in "$base.csr" -CA "$ca" -CAkey "$ca_key" \
    -set_serial "$(serial)" -days "$cert_days" -sha256 -extfile "$base.ext" \
    -out "$cert" 2>/dev/null
  chmod 0644 "$cert"
}

# dns_names NAME prints DNS SANs for NAME as a Service of the namespace.
dns_names() {
  local name=$1
  echo "DNS:$name,DNS:$name.$ns,DNS:$name.$ns.svc,DNS:$name.$ns.svc.cluster.local"
}

# platform_sans prints the subjectAltName of a service: its identity, then
# host names that reach it.
platform_sans() {
  local name=$1 san="URI:spiffe://m3o/ns/micro/svc/$1"
  san+=",$(dns_names "$name"),DNS:localhost,IP:127.0.0.1,IP:::1"
  if [[ $name == proxy ]]; then
    local h
    for h in "${public_hosts[@]}"; do
      if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+=",IP:$h"; else san+=",DNS:$h"; fi
    done
  fi
  echo "$san"
}

platform() {
  make_ca "$dir/ca.pem" "$dir/ca-key.pem" "M3O platform CA" 1
  local s
  for s in "${services[@]}"; do
    sign "$dir/ca.pem" "$dir/ca-key.pem" "$dir/$s.pem" "$dir/$s-key.pem" \
      "/OU=micro/CN=$s" serverAuth,clientAuth "$(platform_sans "$s")"
  done
  make_workload_ca
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

# cockroachdb issues the node and client certificates. A client
# certificate's CN is the SQL user it logs in as.
cockroachdb() {
  local d="$dir/cockroachdb" user
  make_ca "$d/ca.crt" "$d/ca.key" "M3O CockroachDB CA"
  local sans="$(dns_names cockroachdb-public),$(dns_names '*.cockroachdb'),DNS:localhost,IP:127.0.0.1,IP:::1"
  sign "$d/ca.crt" "$d/ca.key" "$d/node.crt" "$d/node.key" "/O=Cockroach/CN=node" serverAuth,clientAuth "$sans"
  for user in root store; do
    sign "$d/ca.crt" "$d/ca.key" "$d/client.$user.crt" "$d/client.$user.key" "/O=Cockroach/CN=$user" clientAuth ""
  done
}

etcd() {
  local d="$dir/etcd"
  local sans="$(dns_names etcd),$(dns_names '*.etcd'),DNS:localhost,IP:127.0.0.1,IP:::1"
  make_ca "$d/ca.pem" "$d/ca-key.pem" "M3O etcd CA"
  make_ca "$d/peer-ca.pem" "$d/peer-ca-key.pem" "M3O etcd peer CA"
  sign "$d/ca.pem" "$d/ca-key.pem" "$d/server.pem" "$d/server-key.pem" "/O=M3O/CN=etcd" serverAuth "$sans"
  sign "$d/ca.pem" "$d/ca-key.pem" "$d/registry.pem" "$d/registry-key.pem" "/O=M3O/CN=registry" clientAuth ""
  sign "$d/peer-ca.pem" "$d/peer-ca-key.pem" "$d/peer.pem" "$d/peer-key.pem" "/O=M3O/CN=etcd-peer" serverAuth,clientAuth "$sans"
}

# secret NAME FILE... prints one secretGenerator entry.
secret() {
  local name=$1 f
  shift
  echo "  - name: $name"
  echo "    files:"
  for f in "$@"; do echo "      - $f"; done
}

# kustomization writes DIR/kustomization.yaml: one Secret per workload,
# named as deploy/kubernetes mounts them, with no CA key in any.
kustomization() {
  local s
  {
    echo "# Written by scripts/certs.sh: the Secrets deploy/kubernetes mounts."
    echo "# Apply with 'kubectl apply -k $(basename "$dir")'; no CA key is in any of them."
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "namespace: $ns"
    echo "generatorOptions:"
    echo "  disableNameSuffixHash: true"
    echo "secretGenerator:"
    for s in store registry auth config billing; do
      secret "m3o-$s-tls" ca.pem "$s.pem" "$s-key.pem"
    done
    secret m3o-proxy-tls ca.pem proxy.pem proxy-key.pem router.pem router-key.pem
    secret m3o-store-cockroachdb-tls cockroachdb/ca.crt cockroachdb/client.store.crt cockroachdb/client.store.key
    secret m3o-registry-etcd-tls etcd/ca.pem etcd/registry.pem etcd/registry-key.pem
    secret cockroachdb-node-tls cockroachdb/ca.crt cockroachdb/node.crt cockroachdb/node.key
    secret cockroachdb-root-tls cockroachdb/ca.crt cockroachdb/client.root.crt cockroachdb/client.root.key
    secret etcd-tls etcd/ca.pem etcd/server.pem etcd/server-key.pem etcd/peer-ca.pem etcd/peer.pem etcd/peer-key.pem
  } >"$dir/kustomization.yaml"
  chmod 0644 "$dir/kustomization.yaml"
}

platform
cockroachdb
etcd
kustomization
echo "wrote the platform, CockroachDB and etcd certificates and kustomization.yaml to $dir" >&2
