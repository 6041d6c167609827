#!/usr/bin/env bash
# Builds the CPU image (XLA off: offline) and tests it: JupyterLab answers on 127.0.0.1
# with the token and refuses without it, the health check passes, and notebook 1 runs
# inside the container through its kernel. Prints the image size and the kernel's
# first-cell and warm-cell times.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${GOPHERDL_IMAGE_WORK:-/var/tmp/gopherdl-image}
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
else
  engine=podman
  export CONTAINERS_STORAGE_CONF=$work/storage.conf CONTAINERS_CONF=$work/containers.conf
fi
mkdir -p "$work"
tag=gopherdl:cpu-test
start=$(date +%s)
XLA=0 TAG=$tag "$repo/docker/build.sh" cpu
echo "image built in $(( $(date +%s) - start ))s"

port=8888
token=gopherdl-test-$RANDOM$RANDOM
if python3 -c "import socket; s=socket.socket(); s.settimeout(1); exit(0 if s.connect_ex(('127.0.0.1', $port)) == 0 else 1)"; then
  echo "docker/test.sh: port $port is busy on this machine" >&2; exit 1
fi
cid=$($engine run -d --rm --network host -e JUPYTER_TOKEN="$token" "$tag")
trap '$engine logs "$cid" > "$work/container.log" 2>&1 || true; $engine rm -f "$cid" >/dev/null 2>&1 || true' EXIT
fail() { echo "FAIL $*"; $engine logs "$cid" 2>&1 | tail -20; echo "$passed passed, 1 failed"; exit 1; }
passed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }

status() { python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
PY
}
for i in $(seq 1 60); do
  [ "$(status "http://127.0.0.1:$port/api")" = 200 ] && break
  sleep 1
done
[ "$(status "http://127.0.0.1:$port/api")" = 200 ] || fail "JupyterLab did not answer on 127.0.0.1:$port"
ok "JupyterLab answers on 127.0.0.1:$port"
code=$(status "http://127.0.0.1:$port/api/contents?token=$token")
[ "$code" = 200 ] || fail "with the token: HTTP $code, want 200"
ok "the token opens the notebooks (HTTP 200)"
code=$(status "http://127.0.0.1:$port/api/contents")
[ "$code" = 403 ] || fail "without the token: HTTP $code, want 403"
ok "without the token: HTTP 403"
code=$(status "http://127.0.0.1:$port/api/contents/index.ipynb?token=$token")
[ "$code" = 200 ] || fail "the tutorial index: HTTP $code"
ok "the tutorial index is served"
landing=$(python3 - "http://127.0.0.1:$port/?token=$token" <<'PY'
import sys, urllib.request
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
try:
    urllib.request.build_opener(NoRedirect).open(sys.argv[1], timeout=5)
    print("no redirect")
except urllib.error.HTTPError as e:
    print(e.headers.get("Location", ""))
PY
)
case "$landing" in *"/lab/tree/index.ipynb"*) ok "the root URL opens the tutorial index ($landing)";; *) fail "the root URL leads to '$landing', want /lab/tree/index.ipynb";; esac
# The image's HEALTHCHECK command, run where the engine would run it.
hc=$($engine image inspect "$tag" --format '{{json .Config.Healthcheck.Test}}')
case "$hc" in *"/api"*) ;; *) fail "the image has no HEALTHCHECK on /api: $hc" ;; esac
$engine exec "$cid" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=4)" \
  && ok "the health check passes" || fail "health check"

$engine exec "$cid" /usr/bin/python3 kernel/test_kernel.py && ok "kernel tests inside the container" || fail "kernel tests inside the container"
$engine exec "$cid" /usr/bin/python3 kernel/run_notebook.py --out /tmp/nb notebooks/01-data.ipynb && ok "notebook 1 runs inside the container" || fail "notebook 1 inside the container"
# Notebook 7: the export checked in ONNX Runtime inside the container (its PyTorch part
# skips: the image has no PyTorch).
$engine exec "$cid" /usr/bin/python3 kernel/run_notebook.py --out /tmp/nb notebooks/07-onnx.ipynb \
  && $engine exec "$cid" python3 -c "import json, sys; nb = json.load(open('/tmp/nb/07-onnx.ipynb')); sys.exit(not any('ONNX Runtime gives' in ''.join(o.get('text', '')) for c in nb['cells'] for o in c.get('outputs', [])))" \
  && ok "notebook 7 runs ONNX Runtime inside the container" || fail "notebook 7 inside the container"
# The model server: a small model trained inside the container, served by the
# pre-built gopherdl-serve; it answers /healthz and a prediction, and stops on SIGTERM.
serve_port=8090
if python3 -c "import socket; s=socket.socket(); s.settimeout(1); exit(0 if s.connect_ex(('127.0.0.1', $serve_port)) == 0 else 1)"; then
  fail "port $serve_port is busy on this machine"
fi
$engine exec "$cid" go run ./cmd/walkthrough -epochs 1 -limit 500 -out /tmp/serve-demo >/dev/null \
  && ok "a model trained inside the container for the server" || fail "training a model for the server"
$engine exec "$cid" sh -c "echo \$\$ > /tmp/serve.pid; exec gopherdl-serve -model /tmp/serve-demo -addr 127.0.0.1:$serve_port -log text -log-requests=false" \
  > "$work/serve.log" 2>&1 &
serve_pid=$!
for i in $(seq 1 30); do
  [ "$(status "http://127.0.0.1:$serve_port/healthz")" = 200 ] && break
  sleep 0.5
done
[ "$(status "http://127.0.0.1:$serve_port/healthz")" = 200 ] && ok "gopherdl-serve answers /healthz on 127.0.0.1:$serve_port" \
  || fail "gopherdl-serve did not answer /healthz on 127.0.0.1:$serve_port"
python3 - "http://127.0.0.1:$serve_port/v1/predict" "$repo/lib/serve/web/static/samples/7-Sneaker.png" <<'PY' && ok "gopherdl-serve predicts an image" || fail "gopherdl-serve did not predict an image"
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=open(sys.argv[2], "rb").read(), headers={"Content-Type": "image/png"})
body = json.load(urllib.request.urlopen(req, timeout=10))
assert body["predictions"][0]["class"], body
PY
$engine exec "$cid" sh -c 'kill -TERM "$(cat /tmp/serve.pid)"'
wait "$serve_pid" && ok "gopherdl-serve stops on SIGTERM with status 0" || { cat "$work/serve.log"; fail "gopherdl-serve after SIGTERM"; }
echo "image size: $($engine image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}')"
echo "docker/test.sh: checks done in $(( $(date +%s) - start ))s"
echo "$passed passed, 0 failed"
