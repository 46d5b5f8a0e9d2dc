#!/usr/bin/env bash
# Installs the live binaries the tests and benchmarks run on, at the exact versions of
# .ci/tools.lock, from Debian's newer suite: each .deb is downloaded with a private apt
# configuration and extracted (dpkg-deb -x, no dpkg install, nothing else on the system
# changes) into $SHANNON_TOOLS/<package>_<version>/, with the binaries linked from
# $SHANNON_TOOLS/bin/.
#
# Debian's Alertmanager reads its notification templates from /usr/share/prometheus/alertmanager/
# (a path compiled into the binary): the templates of the same package version are installed
# there, or Slack and PagerDuty messages lose their default fields.
#
# Needs root (or sudo) for that one directory. Safe to run twice: a package already extracted at
# its pinned version is not downloaded again.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/tools.lock"
tools="${SHANNON_TOOLS:-/opt/shannon-observability/tools}"
templates=/usr/share/prometheus/alertmanager
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

$SUDO mkdir -p "$tools/bin"
$SUDO chown "$(id -u):$(id -g)" "$tools" "$tools/bin"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
apt_ready=""
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root"
          -o "Acquire::Retries=3")

download() {  # download <package> <version>: the .deb into $work, from sid or forky (the same build)
  if [ -z "$apt_ready" ]; then
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    printf 'deb http://deb.debian.org/debian sid main\ndeb http://deb.debian.org/debian forky main\n' > "$work/sources.list"
    apt-get "${apt_opts[@]}" update -qq
    apt_ready=1
  fi
  (cd "$work" && apt-get "${apt_opts[@]}" download "$1=$2" >/dev/null) || {
    echo "install-tools: $1=$2 is no longer in Debian sid or forky; pick a version that is" \
         "(apt-cache policy $1 against those suites) and update .ci/tools.lock" >&2
    exit 1
  }
}

while read -r package version _suite binaries; do
  case "$package" in ''|'#'*) continue ;; esac
  dest="$tools/${package}_${version}"
  if [ ! -f "$dest/.complete" ]; then
    download "$package" "$version"
    rm -rf "$dest.partial" && mkdir -p "$dest.partial"
    dpkg-deb -x "$work/${package}_${version//:/%3a}_"*.deb "$dest.partial"
    touch "$dest.partial/.complete"
    rm -rf "$dest" && mv "$dest.partial" "$dest"
  fi
  for binary in ${binaries//,/ }; do
    ln -sfn "$dest/usr/bin/$binary" "$tools/bin/$binary"
  done
  if [ "$package" = prometheus-alertmanager ]; then
    $SUDO mkdir -p "$templates"
    $SUDO install -m 0644 "$dest$templates"/*.tmpl "$templates/"
  fi
done < "$lock"

# The operator's CRDs (.ci/crds.lock): a module zip from the Go module proxy, checked by its SHA-256.
crds="$(dirname "$tools")/crds"
proxy="${GOPROXY:-https://proxy.golang.org}"; proxy="${proxy%%,*}"
[ "$proxy" = direct ] || [ "$proxy" = off ] && proxy=https://proxy.golang.org
$SUDO mkdir -p "$crds" && $SUDO chown "$(id -u):$(id -g)" "$crds"
while read -r module version sha; do
  case "$module" in ''|'#'*) continue ;; esac
  dest="$crds/$(basename "$module")_$version"
  [ -f "$dest/.complete" ] && continue
  curl -fsSL --retry 3 -o "$work/crds.zip" "$proxy/$module/@v/$version.zip" || {
    echo "install-tools: cannot download $module@$version from $proxy" >&2; exit 1; }
  echo "$sha  $work/crds.zip" | sha256sum -c --quiet - || {
    echo "install-tools: $module@$version does not match the SHA-256 in .ci/crds.lock" >&2; exit 1; }
  rm -rf "$dest.partial" && mkdir -p "$dest.partial"
  unzip -q -j -o "$work/crds.zip" "$module@$version/example/prometheus-operator-crd/*.yaml" -d "$dest.partial"
  touch "$dest.partial/.complete"
  rm -rf "$dest" && mv "$dest.partial" "$dest"
  echo "installed: CRDs of $module@$version ($dest)"
done < "$here/crds.lock"


# The OpenTelemetry Collector of the live trace test: .ci/otelcol holds go.mod, go.sum (every module pinned by
# hash) and the glue that lists the components; the ordinary go command builds it from the module proxy.
# Rebuilt only when one of those files changes (cold: about 2 minutes and 0.5 GB of modules; warm: none).
otel="$(dirname "$tools")/otelcol"
stamp="$(cat "$here/otelcol/go.mod" "$here/otelcol/go.sum" "$here/otelcol/"*.go | sha256sum | cut -c1-16)"
if [ ! -x "$otel/$stamp/otelcol-shannon" ]; then
  command -v go >/dev/null || { echo "install-tools: no go command: install Go 1.26 (the collector is built" \
                                     "from the Go module proxy)" >&2; exit 1; }
  $SUDO mkdir -p "$otel" && $SUDO chown "$(id -u):$(id -g)" "$otel"
  rm -rf "$otel/$stamp.partial"
  (cd "$here/otelcol" && GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath \
     -o "$otel/$stamp.partial/otelcol-shannon" .)
  mv "$otel/$stamp.partial" "$otel/$stamp"
fi
ln -sfn "$otel/$stamp/otelcol-shannon" "$tools/bin/otelcol-shannon"

# A Kubernetes API server without nodes, for tests/e2e/test_apiserver.py: kube-apiserver and kube-controller-manager
# of k8s.io/kubernetes (its staging modules replaced by their releases, .ci/kube/go.mod) and etcd, the version the
# same go.mod pins. The version stamps are mandatory: clients read the server's version from them.
# Rebuilt only when .ci/kube changes (cold: about 7 minutes on 2 cores; warm: none).
kube="$(dirname "$tools")/kube"
stamp="$(cat "$here/kube/go.mod" "$here/kube/go.sum" "$here/kube/"*.go "$here/kube/"*/main.go | sha256sum | cut -c1-16)"
if [ ! -x "$kube/$stamp/etcd" ]; then
  command -v go >/dev/null || { echo "install-tools: no go command: install Go 1.26 (the API server is built" \
                                     "from the Go module proxy)" >&2; exit 1; }
  k8s="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$here/kube/go.mod")"
  minor="$(echo "$k8s" | cut -d. -f2)"
  stamps=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamps="$stamps -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  $SUDO mkdir -p "$kube" && $SUDO chown "$(id -u):$(id -g)" "$kube"
  rm -rf "$kube/$stamp.partial"
  (cd "$here/kube" && export GOFLAGS="-buildvcs=false -mod=readonly" &&
     go build -trimpath -ldflags "$stamps" -o "$kube/$stamp.partial/kube-apiserver" ./apiserver &&
     go build -trimpath -ldflags "$stamps" -o "$kube/$stamp.partial/kube-controller-manager" ./controller &&
     go build -trimpath -o "$kube/$stamp.partial/etcd" go.etcd.io/etcd/server/v3)
  mv "$kube/$stamp.partial" "$kube/$stamp"
fi
for binary in kube-apiserver kube-controller-manager etcd; do
  ln -sfn "$kube/$stamp/$binary" "$tools/bin/$binary"
done

for binary in "$tools"/bin/*; do
  echo "installed: $("$binary" --version 2>&1 | grep -m1 -iE 'version|exporter|kubernetes') ($binary)"
done
