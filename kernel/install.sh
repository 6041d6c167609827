#!/usr/bin/env bash
# Installs the "Go (gopherdl)" Jupyter kernel: GoNB, goimports and gopls at the versions
# pinned in kernel/tools/go.mod, Jupyter itself when it is missing on Debian, and a
# kernelspec whose cells build against this checkout's lib (go.work), offline from the
# module cache when they can, with GOEXPERIMENT=simd. It then compiles a cell that
# imports lib, so a tutorial's first cell does not wait for a cold build.
#
#   kernel/install.sh            install (idempotent)
#   kernel/install.sh uninstall  remove the kernelspec and the tools
#
# Honours JUPYTER_DATA_DIR (where kernelspecs go) and GOPHERDL_HOME (where the tools
# go; default ~/.local/share/gopherdl).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
home=${GOPHERDL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/gopherdl}
bin=$home/bin
name=gopherdl

say() { printf '%s\n' "$*"; }
die() { printf 'kernel install: %s\n' "$*" >&2; exit 1; }

# Jupyter's data directory, where kernelspecs live.
jupyter_data_dir() {
  if [ -n "${JUPYTER_DATA_DIR:-}" ]; then echo "$JUPYTER_DATA_DIR"; return; fi
  if command -v jupyter >/dev/null; then jupyter --data-dir; return; fi
  if python3 -c 'import jupyter_core' 2>/dev/null; then python3 -W ignore -c 'import jupyter_core.paths as p; print(p.jupyter_data_dir())'; return; fi
  echo "${XDG_DATA_HOME:-$HOME/.local/share}/jupyter"
}
spec_dir="$(jupyter_data_dir)/kernels/$name"

if [ "${1:-}" = uninstall ]; then
  rm -rf "$spec_dir" "$bin"
  say "removed $spec_dir and $bin"
  exit 0
fi

# Go: any go command of 1.21 or newer runs the project's Go 1.27.3, which it fetches
# through the Go module proxy the first time (GOTOOLCHAIN).
command -v go >/dev/null || die "Go is missing: install Go 1.21 or newer (https://go.dev/dl), which fetches Go 1.27.3 itself, then run this again"
export GOTOOLCHAIN=go1.27.3
gov=$(go env GOVERSION 2>/dev/null) || die "the go command could not get Go 1.27.3 (GOTOOLCHAIN=go1.27.3): it needs the Go module proxy once, or Go 1.27.3 installed (https://go.dev/dl)"
gov=${gov#go}
IFS=. read -r major minor patch <<<"$gov"
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 27 ]; }; then
  die "Go $gov is too old and does not switch toolchains: install Go 1.21 or newer (https://go.dev/dl), which fetches Go 1.27.3 itself"
fi

# Jupyter (and nbclient for headless runs).
has_jupyter() {
  { command -v jupyter || command -v jupyter-lab || command -v jupyter-notebook; } >/dev/null 2>&1 \
    && { python3 -c 'import nbclient' 2>/dev/null || /usr/bin/python3 -c 'import nbclient' 2>/dev/null; }
}
if ! has_jupyter; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing Jupyter from Debian's packages (jupyter-notebook, python3-nbconvert)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jupyter-notebook python3-nbconvert >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jupyter-notebook python3-nbconvert >/dev/null; }
  else
    die "Jupyter is missing: on Debian/Ubuntu run 'sudo apt-get install jupyter-notebook python3-nbconvert'; elsewhere 'pip install notebook nbconvert' (or JupyterLab)"
  fi
fi

# GoNB, goimports and gopls at pinned versions.
say "installing GoNB, goimports and gopls (kernel/tools/go.mod) into $bin"
mkdir -p "$bin"
# GoNB reports the Go version it was built with to Jupyter: build it as the cells
# are built (GOEXPERIMENT=simd), so every notebook records the same one.
(cd "$repo/kernel/tools" && GOBIN="$bin" GOFLAGS=-mod=mod GOEXPERIMENT=simd go install tool)

# The kernelspec: GoNB's own install, then renamed and given this project's environment.
tmpdata=$(mktemp -d)
trap 'rm -rf "$tmpdata"' EXIT
PATH="$bin:$PATH" JUPYTER_DATA_DIR="$tmpdata" "$bin/gonb" --install --raw_error --force_copy -go_work="$repo" >/dev/null 2>&1 \
  || die "gonb --install failed; run '$bin/gonb --install -go_work=$repo' to see why"
mkdir -p "$(dirname "$spec_dir")"
rm -rf "$spec_dir"
mv "$tmpdata/kernels/gonb" "$spec_dir"
gomodcache=$(go env GOMODCACHE)
goproxy="file://$gomodcache/cache/download,$(go env GOPROXY)"
/usr/bin/env python3 - "$spec_dir/kernel.json" "$bin" "$goproxy" "$(go env GOROOT)/bin" <<'PY'
import json, sys
path, bindir, goproxy, godir = sys.argv[1:]
spec = json.load(open(path))
spec["display_name"] = "Go (gopherdl)"
import os
spec["argv"][0] = os.path.join(os.path.dirname(path), "gonb")  # GoNB's binary, copied into the kernelspec folder
env = spec.setdefault("env", {})
env.update({
    # Cells see the pinned goimports/gopls and Go 1.27.3 (GOTOOLCHAIN keeps any
    # other go command on PATH switching to it).
    "PATH": bindir + ":" + godir + ":/usr/local/bin:/usr/bin:/bin",
    "GOTOOLCHAIN": "go1.27.3",
    # GoNB runs `go get` before each build: the module cache first keeps it offline.
    "GOPROXY": goproxy,
    # GoMLX's pure-Go backend has its SIMD matrix kernels only with this.
    "GOEXPERIMENT": "simd",
    # Each cell is linked into a program, and the link is most of a cell's wait.
    # Without DWARF and the symbol table (-s -w) it takes about 40 % less time; with
    # Go's own linker instead of gcc (-linkmode=internal: go-xla's cgo would otherwise
    # call the external linker) about 40 % less again. Panics still print their stack
    # traces, and XLA's plugins still load (kernel/test_kernel.py loads one).
    "GOFLAGS": "-buildvcs=false '-ldflags=-s -w -linkmode=internal'",
})
json.dump(spec, open(path + ".tmp", "w"), indent=2)
os.replace(path + ".tmp", path)
PY

# Warm the build cache: compile a program that imports lib, with the kernel's environment.
say "pre-compiling lib for the first cell (GOEXPERIMENT=simd)"
warm=$(mktemp -d)
cat > "$warm/main.go" <<'GO'
package main

import (
	_ "github.com/gopherdl/gopherdl/lib/backend"
	_ "github.com/gopherdl/gopherdl/lib/data"
	_ "github.com/gopherdl/gopherdl/lib/data/embedded"
	_ "github.com/gopherdl/gopherdl/lib/metrics"
	_ "github.com/gopherdl/gopherdl/lib/nb"
	_ "github.com/gopherdl/gopherdl/lib/nn"
	_ "github.com/gopherdl/gopherdl/lib/plot"
	_ "github.com/gopherdl/gopherdl/lib/train"
	_ "github.com/janpfeifer/gonb/gonbui"
)

func main() {}
GO
(cd "$repo" && GOEXPERIMENT=simd go build -o /dev/null "$warm/main.go")
# Notebook 6 builds the model server: warm its build too.
(cd "$repo" && GOEXPERIMENT=simd go build -o /dev/null ./cmd/serve)
rm -rf "$warm"

say "kernel \"Go (gopherdl)\" installed:"
say "  kernelspec: $spec_dir"
say "  tools:      $bin (gonb, goimports, gopls)"
say "  lib:        $repo (go.work)"
say "open the notebooks with: make notebook"
