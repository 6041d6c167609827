#!/usr/bin/python3
"""Runs notebooks headlessly through the installed "Go (gopherdl)" kernel, and checks
that their outputs can be trusted.

    kernel/run_notebook.py [--timeout SECONDS] [--out DIR | --inplace] [--full] NOTEBOOK...
    kernel/run_notebook.py --check NOTEBOOK...

Each cell gets at most --timeout seconds. A cell that errors stops the run with the
notebook, the cell number and the error text, and exit status 1. Executed copies go
to --out (default out/notebooks), and the notebooks run there too: what their cells
write (checkpoints, image folders, the server's files) lands in --out, never beside
the notebooks, where a learner's own checkpoints are. Keep --out inside the
repository for 06-deploy, which builds cmd/serve from the folder it runs in (the
default is). With --inplace the notebooks
run in their own folder and their outputs are written back into them (atomically).
GOPHERDL_QUICK=1 is set for the kernel (fewer images and epochs) unless --full is
given.

Every executed notebook is then checked (see check_notebook), and --check runs the
same checks on the outputs saved in the notebooks, without a kernel: a notebook's
saved outputs are what a reader sees. After each run, a process that a cell started
in the folder the notebook ran in (a server in the background) and that still runs once the
kernel has stopped fails the run, passed or not, and is stopped with SIGTERM (Linux). Problems are reported as

    FAIL notebooks/01-data.ipynb cell 10 (code cell 5): draws a figure but saved none

where "cell 10" counts every cell from 0, as nbformat does, and "code cell 5" counts
code cells from 1, as the execution counts of a clean run do.
"""
import argparse
import html
import json
import os
import re
import signal
import sys
import tempfile
import time

# At most this many lines of text in one cell's outputs: one line per epoch, a table,
# a report; not logs.
MAX_OUTPUT_LINES = 50

# A run of this many digits is a number nobody can read (a diverged loss printed in
# full); thousands separators do not make it readable.
LONG_NUMBER = re.compile(r"\d(?:[,_]?\d){11,}")

# Paths of the machine that ran the notebook: absolute paths of two or more parts, a
# home folder. A notebook's outputs should name folders relative to it. The routes of
# a versioned HTTP API ("/v1/predict", as a server's metrics label them) are not
# paths of the machine.
MACHINE_PATH = re.compile(r"(?:(?<![\w.~/-])(?!/v\d+/)(?:/[\w.+@-]+){2,}/?|(?<![\w])~/[\w.-]+|\$HOME/|[A-Za-z]:\\\\?[\w.-]+\\)")

# Code that draws: a figure shown, curves redrawn while training, GoNB's display calls
# for images.
DRAWS = re.compile(r"\.(?:Must)?Display\(\)|\bplot\.LiveCurves\(|\bgonbui\.Display(?:PNG|SVG|Image)\(")

# The CI's quick mode is the library's business: learners should not read about it.
QUICK_KNOB = re.compile(r"GOPHERDL_QUICK|QuickOr|QuickEnv|quick mode", re.IGNORECASE)
QUICK_OUTPUT = "quick mode ($GOPHERDL_QUICK=1)"

# A Go panic or stack trace in a cell that did not fail.
PANIC = re.compile(r"^panic: .*|^goroutine \d+ \[\w+.*\]:|\bexit status [1-9]\d*", re.MULTILINE)

# nb.Check's error box.
NB_ERROR_BOX = '<b style="color:#c00">Error:</b>'

# An epoch's summary line in a training block: "epoch 3/10  lr 0.01 ...".
EPOCH_LINE = re.compile(r"^epoch\s+(\d+)/(\d+)\s+lr\b")

FIGURE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")


def _text(value):
    return "".join(value) if isinstance(value, list) else (value or "")


def html_to_text(s):
    s = re.sub(r"(?i)<br\s*/?>|</(?:p|div|tr|li|h\d)>", "\n", s)
    return html.unescape(re.sub(r"<[^>]+>", "", s))


def output_texts(out):
    """The text a reader sees in one output: (kind, text) pairs. Images are not text."""
    kind = out.get("output_type")
    if kind == "stream":
        return [(out.get("name", "stream"), _text(out.get("text")))]
    if kind == "error":
        return [("error", "%s: %s\n%s" % (out.get("ename", ""), out.get("evalue", ""), "\n".join(out.get("traceback", []))))]
    if kind in ("display_data", "execute_result", "update_display_data"):
        data = out.get("data", {})
        if "text/html" in data:
            return [("html", html_to_text(_text(data["text/html"])))]
        if "text/markdown" in data:
            return [("markdown", _text(data["text/markdown"]))]
        if "text/plain" in data and not any(t in data for t in FIGURE_TYPES):
            return [("plain", _text(data["text/plain"]))]
    return []


def is_goworkfix(cell):
    return cell.get("cell_type") == "code" and _text(cell.get("source")).strip() == "%goworkfix"


def code_without_comments(src):
    return "\n".join(re.sub(r"//.*$", "", line) for line in src.splitlines())


def check_notebook(nb, quick_run=False):
    """Returns the problems of a notebook's outputs: (cell index, code cell number,
    problem) triples. quick_run says the outputs come from a quick run (the runner's
    own executed copies), where the library's quick-mode line is expected; in a
    committed notebook it means the outputs are not a full run's."""
    problems = []
    code_no = 0
    last_count = 0
    for i, cell in enumerate(nb.get("cells", [])):
        src = _text(cell.get("source"))
        if cell.get("cell_type") == "markdown":
            m = QUICK_KNOB.search(src)
            if m:
                problems.append((i, None, "its text mentions the CI's quick mode (%r): keep that knob out of what learners read" % m.group(0)))
            continue
        if cell.get("cell_type") != "code":
            continue
        code_no += 1
        if not src.strip():
            continue
        where = (i, code_no)

        def problem(msg):
            problems.append(where + (msg,))

        m = QUICK_KNOB.search(src)  # comments too: learners read them
        if m:
            problem("its code mentions the CI's quick mode (%r): keep that knob out of what learners read" % m.group(0))
        count = cell.get("execution_count")
        if count is None:
            problem("was not run: no saved execution (run the notebook top to bottom, e.g. kernel/run_notebook.py --full --inplace)")
        else:
            if count <= last_count:
                problem("was run out of order (In [%d] after In [%d]): run the notebook top to bottom in one session" % (count, last_count))
            last_count = count
        if is_goworkfix(cell):
            continue
        outputs = cell.get("outputs", [])
        if DRAWS.search(code_without_comments(src)) and count is not None:
            if not any(t in o.get("data", {}) for o in outputs for t in FIGURE_TYPES):
                problem("draws a figure but saved none")
        lines = 0
        for out in outputs:
            for kind, text in output_texts(out):
                if kind == "error":
                    problem("saved an error: %s" % text.strip().splitlines()[0][:300] if text.strip() else "saved an error")
                    continue
                if kind == "html" and is_error_output(out):
                    problem("saved an error box: %s" % " ".join(text.split())[:300])
                t = PANIC.search(text)
                if t:
                    problem("shows a Go panic or stack trace: %r" % t.group(0))
                lines += len(text.rstrip("\n").splitlines())
                p = MACHINE_PATH.search(text)
                if p:
                    problem("names a path of the machine that ran it: %r (name folders relative to the notebook)" % p.group(0))
                n = LONG_NUMBER.search(text)
                if n:
                    digits = re.sub(r"[,_]", "", n.group(0))
                    problem("prints a %d-digit number (%s...): format numbers for people (e.g. 3.4e+34)" % (len(digits), digits[:12]))
                if QUICK_OUTPUT in text and not quick_run:
                    problem("its outputs come from a quick run (%r): commit the outputs of a full run (--full --inplace)" % QUICK_OUTPUT)
                if kind == "html":
                    block = [l.strip() for l in text.strip().splitlines() if l.strip()]
                    e = EPOCH_LINE.match(block[-1]) if block else None
                    if e and int(e.group(1)) < int(e.group(2)):
                        problem("its training block ends at epoch %s of %s with no reason given (a lost line?)" % (e.group(1), e.group(2)))
        if lines > MAX_OUTPUT_LINES:
            problem("saved %d lines of output (at most %d: one line per epoch, no logs)" % (lines, MAX_OUTPUT_LINES))
    return problems


def format_problems(path, problems):
    out = []
    for i, code_no, msg in problems:
        if code_no is None:
            out.append("FAIL %s cell %d (markdown): %s" % (path, i, msg))
        else:
            out.append("FAIL %s cell %d (code cell %d): %s" % (path, i, code_no, msg))
    return out


def check_file(path):
    """--check: the saved outputs of a notebook file. Returns True when they pass."""
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL %s: cannot be read: %s" % (path, e))
        return False
    problems = check_notebook(nb)
    for line in format_problems(path, problems):
        print(line)
    if not problems:
        code = sum(1 for c in nb.get("cells", []) if c.get("cell_type") == "code")
        print("ok   %s: %d code cells, saved outputs pass the checks" % (path, code))
    return not problems


def is_error_output(out):
    """An output that reports an error: a kernel error, or nb.Check's error box."""
    return out.get("output_type") == "error" or NB_ERROR_BOX in _text(out.get("data", {}).get("text/html"))


def cell_error_text(cell):
    """The error a cell produced: its error outputs, else its stderr."""
    parts = [text for out in cell.get("outputs", []) if is_error_output(out) for _, text in output_texts(out)]
    if not parts:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                parts.append(out.get("text", ""))
    return "\n".join(parts).strip()


def processes_in(folder):
    """The processes whose working directory is folder or below it: {pid: command
    line}. Linux only (/proc); elsewhere none are found. Other users' processes,
    which cannot be read, are left out."""
    found = {}
    if not os.path.isdir("/proc"):
        return found
    folder = os.path.realpath(folder)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % name)
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd and (cwd == folder or cwd.startswith(folder + os.sep)):
            found[int(name)] = cmd
    return found


def leftover_processes(folder, before, grace=15.0):
    """The processes started in folder during a notebook's run (not in before) that
    still run after its kernel has stopped, once they have had grace seconds to end
    by themselves (a server that stops when the kernel goes away needs a moment)."""
    deadline = time.time() + grace
    while True:
        left = {pid: cmd for pid, cmd in processes_in(folder).items() if pid not in before}
        if not left or time.time() >= deadline:
            return left
        time.sleep(0.5)


def run_folder(path, args):
    """The folder a notebook runs in: its own with --inplace (a full run whose
    outputs are committed), else --out, so that a test run never writes over what a
    learner's runs left beside the notebooks (their checkpoints)."""
    if args.inplace:
        return os.path.dirname(os.path.abspath(path))
    return os.path.abspath(args.out)


def run(path, args):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    os.makedirs(args.out, exist_ok=True)
    folder = run_folder(path, args)
    client = NotebookClient(nb, timeout=args.timeout, kernel_name=args.kernel,
                            resources={"metadata": {"path": folder}})
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    start = time.time()
    failed = None
    log_path = os.path.join(args.out, os.path.basename(path) + ".kernel.log")
    already = processes_in(folder)
    try:
        with open(log_path, "w") as log:  # the kernel's own log, out of the way
            client.execute(stderr=log)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        failed = e
    elapsed = time.time() - start
    # A process a cell started in the background (a server) must not outlive the
    # notebook's kernel, whether the run passed or failed: report it, then stop it.
    left = leftover_processes(folder, already)
    for pid, cmd in sorted(left.items()):
        print("FAIL %s: process %d, started by a cell, still ran after the kernel stopped (stopped now with SIGTERM): %s" % (path, pid, cmd[:200]))
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    # %goworkfix only reports this machine's checkout path: keep it out of the saved
    # notebooks and the executed copies.
    for cell in nb.cells:
        if is_goworkfix(cell):
            cell.outputs = []
    if args.inplace:
        target = path
    else:
        target = os.path.join(args.out, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), suffix=".ipynb.tmp")
    with os.fdopen(fd, "w") as f:
        nbformat.write(nb, f)
    os.replace(tmp, target)
    if failed is not None:
        # The failing cell is the first with an error, else the last one that ran.
        bad = None
        for n, i in enumerate(code_cells, 1):
            cell = nb.cells[i]
            if any(is_error_output(o) for o in cell.get("outputs", [])):
                bad = (n, i, cell)
                break
        if bad is None:
            for n, i in enumerate(code_cells, 1):
                if nb.cells[i].get("execution_count") is not None:
                    bad = (n, i, nb.cells[i])
        n, i, cell = bad if bad else (0, 0, {"outputs": []})
        kind = "timed out after %ds" % args.timeout if isinstance(failed, CellTimeoutError) else "failed"
        text = cell_error_text(cell) or str(failed).strip()
        print("FAIL %s cell %d (code cell %d) %s (executed copy: %s, kernel log: %s)\n%s" % (path, i, n, kind, target, log_path, text[-4000:]))
        return False
    problems = check_notebook(nb, quick_run=not args.full)
    if problems or left:
        for line in format_problems(path, problems):
            print(line)
        print("     (executed copy: %s)" % target)
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
    p.add_argument("--check", action="store_true", help="check the outputs saved in the notebooks; run nothing")
    args = p.parse_args()
    if args.check:
        results = [check_file(nb) for nb in args.notebooks]
    else:
        if not args.full:
            os.environ["GOPHERDL_QUICK"] = "1"
        results = [run(nb, args) for nb in args.notebooks]
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
