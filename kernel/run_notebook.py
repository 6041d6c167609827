#!/usr/bin/python3
"""Runs notebooks headlessly through the installed "Go (gopherdl)" kernel.

    kernel/run_notebook.py [--timeout SECONDS] [--out DIR | --inplace] [--full] NOTEBOOK...

Each cell gets at most --timeout seconds. A cell that errors stops the run with the
notebook, the cell number and the error text, and exit status 1. Executed copies go
to --out (default out/notebooks), or back into the notebooks with --inplace (written
atomically). GOPHERDL_QUICK=1 is set for the kernel (fewer images and epochs) unless
--full is given.
"""
import argparse
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def cell_error_text(cell):
    """The error a cell produced: its error outputs, else its stderr."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            parts.append("%s: %s\n%s" % (out.get("ename", ""), out.get("evalue", ""), "\n".join(out.get("traceback", []))))
    if not parts:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                parts.append(out.get("text", ""))
    return "\n".join(parts).strip()


def run(path, args):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=args.timeout, kernel_name=args.kernel,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    start = time.time()
    failed = None
    log_path = os.path.join(args.out, os.path.basename(path) + ".kernel.log")
    os.makedirs(args.out, exist_ok=True)
    try:
        with open(log_path, "w") as log:  # the kernel's own log, out of the way
            client.execute(stderr=log)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        failed = e
    elapsed = time.time() - start
    if args.inplace:
        target = path
        # %goworkfix only reports this machine's checkout path: keep it out of the
        # committed notebooks.
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.strip() == "%goworkfix":
                cell.outputs = []
    else:
        os.makedirs(args.out, exist_ok=True)
        target = os.path.join(args.out, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), suffix=".ipynb.tmp")
    with os.fdopen(fd, "w") as f:
        nbformat.write(nb, f)
    os.replace(tmp, target)
    if failed is not None:
        # The failing cell is the last code cell that has an execution count or an error.
        bad = None
        for n, i in enumerate(code_cells, 1):
            cell = nb.cells[i]
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                bad = (n, cell)
                break
        if bad is None:
            for n, i in enumerate(code_cells, 1):
                if nb.cells[i].get("execution_count") is not None:
                    bad = (n, nb.cells[i])
        n, cell = bad if bad else (0, {"outputs": []})
        kind = "timed out after %ds" % args.timeout if isinstance(failed, CellTimeoutError) else "failed"
        text = cell_error_text(cell) or str(failed).strip()
        print("FAIL %s: code cell %d %s (executed copy: %s, kernel log: %s)\n%s" % (path, n, kind, target, log_path, text[-4000:]))
        return False
    print("ok   %s: %d code cells in %.1fs (executed copy: %s)" % (path, len(code_cells), elapsed, target))
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.add_argument("--kernel", default="gopherdl")
    p.add_argument("--out", default="out/notebooks")
    p.add_argument("--inplace", action="store_true", help="write outputs back into the notebooks")
    p.add_argument("--full", action="store_true", help="full runs: do not set GOPHERDL_QUICK=1")
    args = p.parse_args()
    if not args.full:
        os.environ["GOPHERDL_QUICK"] = "1"
    results = [run(nb, args) for nb in args.notebooks]
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
