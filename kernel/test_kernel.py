#!/usr/bin/python3
"""Tests of the installed "Go (gopherdl)" kernel, through Jupyter's own client.

    kernel/test_kernel.py

- a cell that panics shows the panic, and the kernel runs the next cell;
- an interrupted training cell stops at the next step, keeps its last checkpoint,
  and says so;
- nb.Cache hands a value from one cell to the next;
- a notebook whose nb.Claim breaks fails kernel/run_notebook.py's run, which names the
  notebook, the cell and the claim, while the cells after it still run;
- a program linked with the kernel's flags still loads an XLA plugin;
- timings: the first cell that imports lib, then a warm cell (printed; goals 5 s / 3 s).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

failures = []
passed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if ok:
        passed.append(what)
    else:
        failures.append(what)


def run_cell(kc, code, timeout=300):
    """Executes code; returns (status, text of all stream/error outputs, seconds)."""
    start = time.time()
    msg_id = kc.execute(code)
    text = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t, c = msg["msg_type"], msg["content"]
        if t == "stream":
            text.append(c["text"])
        elif t == "error":
            text.append(c["ename"] + ": " + c["evalue"])
        elif t in ("display_data", "update_display_data"):
            text.append(str(c.get("data", {}).get("text/html", ""))[:200])
        elif t == "status" and c["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=timeout)
    return reply["content"]["status"], "".join(text), time.time() - start


def installer_messages():
    """kernel/install.sh names the problem when Go is missing or too old."""
    install = os.path.join(os.path.dirname(os.path.abspath(__file__)), "install.sh")
    stub = tempfile.mkdtemp(prefix="gopherdl-stub-")
    try:
        env = dict(os.environ, PATH=stub + ":/usr/bin:/bin", JUPYTER_DATA_DIR=stub + "/jupyter", GOPHERDL_HOME=stub + "/home")
        r = subprocess.run(["bash", install], env=env, capture_output=True, text=True)
        check(r.returncode != 0 and "Go is missing: install Go 1.21 or newer" in r.stderr, "install.sh without Go says so: %r" % r.stderr.strip())
        with open(os.path.join(stub, "go"), "w") as f:
            f.write("#!/bin/sh\n[ \"$1 $2\" = \"env GOVERSION\" ] && echo go1.20.5\n")
        os.chmod(os.path.join(stub, "go"), 0o755)
        r = subprocess.run(["bash", install], env=env, capture_output=True, text=True)
        check(r.returncode != 0 and "Go 1.20.5 is too old" in r.stderr, "install.sh with Go 1.20 says it is too old: %r" % r.stderr.strip())
    finally:
        shutil.rmtree(stub, ignore_errors=True)


def broken_claim_fails_the_run():
    """kernel/run_notebook.py runs a notebook whose second code cell asserts a claim
    that does not hold: the full run fails, naming the notebook, the cell and the
    claim (a quick run only notes it: its numbers are not the text's)."""
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="gopherdl-claim-test-")
    try:
        cells = [
            {"cell_type": "code", "id": "workfix", "metadata": {}, "execution_count": None, "outputs": [], "source": "%goworkfix"},
            {"cell_type": "code", "id": "claims", "metadata": {}, "execution_count": None, "outputs": [],
             "source": 'import "github.com/gopherdl/gopherdl/lib/nb"\n\n%%\n'
                       'nb.Claim("the loss falls", true, "before", 2.3026, "after", 1.9)\n'
                       'nb.Claim("momentum beats plain SGD", 0.81 > 0.83, "momentum", 0.81, "SGD", 0.83)'},
            {"cell_type": "code", "id": "after", "metadata": {}, "execution_count": None, "outputs": [], "source": '%%\nfmt.Println("the next cell ran")'},
        ]
        path = os.path.join(work, "claims.ipynb")
        with open(path, "w") as f:
            json.dump({"nbformat": 4, "nbformat_minor": 5, "cells": cells,
                       "metadata": {"kernelspec": {"name": "gopherdl", "display_name": "Go (gopherdl)", "language": "go"}}}, f)
        out = os.path.join(work, "out")
        r = subprocess.run([sys.executable, os.path.join(here, "run_notebook.py"), "--full", "--timeout", "300", "--out", out, path],
                           capture_output=True, text=True, cwd=os.path.dirname(here))
        want = "FAIL %s cell 1 (code cell 2): broken claim: momentum beats plain SGD: momentum 0.81, SGD 0.83" % path
        check(r.returncode == 1 and want in r.stdout and "the loss falls" not in r.stdout,
              "a broken nb.Claim fails the run, naming the notebook, the cell and the claim: %r" % (r.stdout.strip()[-400:] + r.stderr.strip()[-400:]))
        with open(os.path.join(out, "claims.ipynb")) as f:
            ran = json.load(f)["cells"]
        texts = json.dumps(ran[1]["outputs"], ensure_ascii=False) + json.dumps(ran[2]["outputs"], ensure_ascii=False)
        check("✓ the loss falls: before 2.303, after 1.9" in texts and "the next cell ran" in texts,
              "a claim that holds prints its numbers, and the cells after a broken claim run")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def plugin_loads_with_kernel_link_flags():
    """Cells are linked the way the kernelspec says (GOFLAGS: Go's internal linker):
    a program built so still dlopens an XLA PJRT plugin and calls into it. The plugin
    here is a stand-in compiled from C whose GetPjrtApi leaves a mark and returns no
    API, so lib/backend falls back to the Go backend (no real plugin can be had here)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kenv = KernelSpecManager().get_kernel_spec("gopherdl").env  # wherever Jupyter finds it
    work = tempfile.mkdtemp(prefix="gopherdl-link-test-")
    try:
        plugins, mark = os.path.join(work, "plugins"), os.path.join(work, "called")
        os.mkdir(plugins)
        with open(os.path.join(work, "plugin.c"), "w") as f:
            f.write('#include <stdio.h>\n#include <stdlib.h>\n'
                    'void *GetPjrtApi(void) {\n'
                    '  FILE *f = fopen(getenv("GOPHERDL_TEST_MARK"), "w");\n'
                    '  if (f) { fputs("GetPjrtApi called", f); fclose(f); }\n'
                    '  return NULL;\n}\n')
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", os.path.join(plugins, "pjrt_c_api_cpu_plugin.so"),
                        os.path.join(work, "plugin.c")], check=True)
        with open(os.path.join(work, "main.go"), "w") as f:
            f.write('package main\n\nimport (\n\t"fmt"\n\n\t"github.com/gopherdl/gopherdl/lib/backend"\n)\n\n'
                    'func main() {\n\tb, err := backend.New("auto")\n\tfmt.Println(b.ID, b.Note, err)\n}\n')
        env = dict(os.environ, **{k: v for k, v in kenv.items() if k != "PATH"})
        start = time.time()
        r = subprocess.run(["go", "build", "-o", os.path.join(work, "prog"), os.path.join(work, "main.go")],
                           env=env, cwd=repo, capture_output=True, text=True)
        secs = time.time() - start
        check(r.returncode == 0 and "-linkmode=internal" in kenv.get("GOFLAGS", ""),
              "a program builds with the kernel's GOFLAGS %r (%.1fs): %r" % (kenv.get("GOFLAGS"), secs, r.stderr.strip()[-300:]))
        r = subprocess.run([os.path.join(work, "prog")], capture_output=True, text=True,
                           env=dict(os.environ, PJRT_PLUGIN_LIBRARY_PATH=plugins, GOPHERDL_TEST_MARK=mark))
        called = os.path.exists(mark) and open(mark).read() == "GetPjrtApi called"
        check(r.returncode == 0 and called and r.stdout.startswith("go "),
              "linked so, it dlopens a PJRT plugin, calls its GetPjrtApi and falls back when that fails: %r" % (r.stdout.strip() + r.stderr.strip()[-300:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    installer_messages()
    plugin_loads_with_kernel_link_flags()
    broken_claim_fails_the_run()
    km, kc = start_new_kernel(kernel_name="gopherdl", stderr=open(os.devnull, "w"))
    ckpt = tempfile.mkdtemp(prefix="gopherdl-kernel-test-")
    try:
        status, out, _ = run_cell(kc, "%goworkfix")
        check(status == "ok", "%goworkfix runs")

        status, out, first = run_cell(kc, 'import (\n\t"fmt"\n\n\t"github.com/gopherdl/gopherdl/lib/data/embedded"\n)\n\n%%\n'
                                          'train, _ := embedded.MustLoad()\nfmt.Println("images:", train.Len())')
        check(status == "ok" and "images: 6000" in out, "a cell importing lib runs (%.1fs): %r" % (first, out.strip()[-80:]))
        status, out, warm = run_cell(kc, '%%\nfmt.Println("warm")')
        check(status == "ok" and "warm" in out, "a warm cell runs (%.1fs)" % warm)
        print("timing: first lib cell %.1fs (goal 5s), warm cell %.1fs (goal 3s)" % (first, warm))

        # nb.Cache: a value computed in one cell is read back in the next (each cell is
        # a new program).
        cached = 'import (\n\t"time"\n\n\t"github.com/gopherdl/gopherdl/lib/nb"\n)\n\n%%\n' \
                 'fmt.Println("cached:", nb.Cache("kernel-test", func() int64 { return time.Now().UnixNano() }))'
        status1, out1, _ = run_cell(kc, cached)
        status2, out2, _ = run_cell(kc, cached)
        check(status1 == status2 == "ok" and "cached:" in out1 and out1 == out2,
              "nb.Cache gives a later cell the value an earlier cell computed: %r, %r" % (out1.strip(), out2.strip()))

        status, out, _ = run_cell(kc, '%%\nvar xs []int\nfmt.Println(xs[3])')
        check(status == "error" and "index out of range" in out, "a panicking cell reports the panic")
        status, out, _ = run_cell(kc, '%%\nfmt.Println("still alive")')
        check(status == "ok" and "still alive" in out, "the kernel runs the next cell after a panic")

        # Interrupt a long training run after its first epoch has been checkpointed.
        code = '''import (
	"fmt"

	"github.com/gopherdl/gopherdl/lib/nb"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

%%
tr, te := embedded.MustLoad()
cfg := train.DefaultConfig()
cfg.Epochs = 1000
cfg.CheckpointDir = "''' + ckpt + '''"
m := train.New(nn.Net(10), cfg)
_, err := m.Fit(nb.Context(), tr.Head(640), te.Head(200))
fmt.Println("fit returned:", err)
'''
        def interrupt_after_checkpoint():
            deadline = time.time() + 240
            while time.time() < deadline:
                if any(n.startswith("epoch-") for n in os.listdir(ckpt)):
                    time.sleep(0.5)
                    km.interrupt_kernel()
                    return
                time.sleep(0.2)
        threading.Thread(target=interrupt_after_checkpoint, daemon=True).start()
        status, out, secs = run_cell(kc, code, timeout=300)
        check("training interrupted" in out and "checkpoint of epoch" in out,
              "an interrupted training cell stops at the next step and names its checkpoint (%.1fs): %r" % (secs, out.strip()[-200:]))
        check(any(n.startswith("epoch-") for n in os.listdir(ckpt)), "the last checkpoint is kept")
        status, out, _ = run_cell(kc, '%%\nfmt.Println("alive after interrupt")')
        check(status == "ok" and "alive after interrupt" in out, "the kernel runs the next cell after an interrupt")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        shutil.rmtree(ckpt, ignore_errors=True)
    print("%d passed, %d failed" % (len(passed), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
