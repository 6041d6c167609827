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

Quick runs (the default; --full turns them off) follow papermill's convention: a
notebook that trains has one code cell tagged "parameters", plain Go that sets its
epochs and dataset sizes (`var (epochs = 10 ...)`), and its metadata holds the quick
run's values ({"gopherdl": {"quick": {"epochs": "2", ...}}}). The runner puts those
values into that cell's source before the run; it replaces the cell rather than
adding one after it so that the executed copy's cells are the notebook's, numbered
alike. The library itself has no quick mode.

Every executed notebook is then checked (see check_notebook), and --check runs the
same checks on the outputs saved in the notebooks, without a kernel: a notebook's
saved outputs are what a reader sees. A claim of the text that a cell asserts with
nb.Claim and that does not hold fails a full run and --check, naming the claim; a
quick run, whose numbers are not those the text speaks of, prints it as a note. After each run, a
process that a cell started in the folder the notebook ran in (a server in the
background) and that still runs once the kernel has stopped fails the run, passed or
not, and is stopped with SIGTERM (Linux). Problems are reported as

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

# At most this many lines in one code cell, in every notebook: a cell reads like the
# article's code, a few library calls; plumbing belongs in lib.
MAX_CODE_LINES = 40

# The parameters cell's tag (papermill's) and where its quick values live.
PARAMETERS_TAG = "parameters"

# A parameter's assignment in the parameters cell: `name = value`, in a var block or
# a var line, with an optional type and a trailing comment.
def parameter_line(name):
    return re.compile(r"^(\s*(?:var\s+)?%s(?:\s+[\w.\[\]*]+)?\s*=\s*)(.*?)(\s*//.*)?$" % re.escape(name), re.MULTILINE)

# Code that trains: its sizes belong in a parameters cell.
TRAINS = re.compile(r"\.(?:Fit|FitMore|Step)\(")

# A setting read from the environment, which the reader of the cell cannot see.
READS_ENV = re.compile(r"\bos\.(?:Getenv|LookupEnv)\(")

# nb.Claim's box for a claim that does not hold (lib/nb's BrokenClaimClass), and its
# text outside a notebook.
BROKEN_CLAIM_CLASS = "gopherdl-broken-claim"
BROKEN_CLAIM_TEXT = "✗ broken claim: "

# Markdown: the exercises' heading, a solutions heading, the link to the next notebook.
EXERCISES = re.compile(r"^#+\s*Exercises\b", re.MULTILINE)
SOLUTIONS_HEADING = re.compile(r"^#+\s*Solutions?\b.*$", re.MULTILINE)
NEXT_LINK = re.compile(r"^Next: \[", re.MULTILINE)
DETAILS = re.compile(r"<(/?)details\b[^>]*>", re.IGNORECASE)

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
    """A notebook's first cell: %goworkfix, alone or with other GoNB commands (%noautoget)."""
    if cell.get("cell_type") != "code":
        return False
    lines = [line.strip() for line in _text(cell.get("source")).splitlines() if line.strip()]
    return bool(lines) and lines[0] == "%goworkfix" and all(line.startswith("%") for line in lines)


def code_without_comments(src):
    return "\n".join(re.sub(r"//.*$", "", line) for line in src.splitlines())


def parameters_cells(nb):
    """The indices of the code cells tagged "parameters"."""
    return [i for i, c in enumerate(nb.get("cells", []))
            if c.get("cell_type") == "code" and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]


def quick_values(cell):
    """The quick run's values of a parameters cell: {name: Go expression}."""
    values = cell.get("metadata", {}).get("gopherdl", {}).get("quick")
    return values if isinstance(values, dict) else {}


def set_parameters(src, values):
    """src with each parameter's value replaced by values[name]. Raises ValueError
    naming a parameter that src does not set."""
    for name, value in values.items():
        line = parameter_line(name)
        if not line.search(src):
            raise ValueError("sets no %s (want a line `%s = ...`)" % (name, name))
        src = line.sub(lambda m: m.group(1) + str(value) + (m.group(3) or ""), src, count=1)
    return src


def parameters_problems(nb, quick_run):
    """The problems of a notebook's parameters cell: (cell index, code cell number,
    problem). A notebook that trains has one; its metadata holds the quick values of
    the parameters its source sets. In a committed notebook (not quick_run) the cell
    holds its own values, not the quick run's."""
    cells = nb.get("cells", [])
    code_no = {i: n for n, i in enumerate((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), 1)}
    tagged = parameters_cells(nb)
    trains = next((i for i in code_no if TRAINS.search(code_without_comments(_text(cells[i].get("source"))))), None)
    if not tagged:
        if trains is None:
            return []
        return [(trains, code_no[trains], "trains, but the notebook has no parameters cell (a code cell tagged %r that sets its epochs and sizes, with quick values in its metadata)" % PARAMETERS_TAG)]
    problems = [(i, code_no[i], "is a second parameters cell: a notebook has one") for i in tagged[1:]]
    i = tagged[0]
    cell, where = cells[i], (i, code_no[i])
    values = quick_values(cell)
    src = _text(cell.get("source"))
    if not values:
        return problems + [where + ("is the parameters cell but its metadata has no quick values ({\"gopherdl\": {\"quick\": {\"epochs\": \"2\"}}})",)]
    try:
        quick_src = set_parameters(src, values)
    except ValueError as e:
        return problems + [where + ("is the parameters cell but %s" % e,)]
    if not quick_run and (cell.get("metadata", {}).get("gopherdl", {}).get("quick_run") or quick_src == src):
        problems.append(where + ("holds the quick run's values: its outputs come from a quick run; commit the outputs of a full run (--full --inplace)",))
    return problems


def solution_problems(nb):
    """The problems of the exercises' solutions: each folded in <details>, and all of
    them before the "Next" link. (cell index, None, problem) triples."""
    cells = [(i, _text(c.get("source"))) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "markdown"]
    if not any(EXERCISES.search(text) for _, text in cells):
        return []
    problems, depth, folded, after_next = [], 0, False, False
    for i, text in cells:
        pos = 0
        for m in DETAILS.finditer(text + "<details-end>"):
            chunk = text[pos:m.start()]
            if depth == 0:
                for h in SOLUTIONS_HEADING.finditer(chunk):
                    problems.append((i, None, "its solutions are in the open (%r): fold each in <details><summary>Solution</summary>...</details>" % h.group(0)))
                after_next = after_next or bool(NEXT_LINK.search(chunk))
            if m.group(0) == "<details-end>":
                break
            if not m.group(1):
                folded = True
                if after_next:
                    problems.append((i, None, "has a solution after the \"Next\" link: put the solutions before it"))
            depth = max(0, depth + (1 if not m.group(1) else -1))
            pos = m.end()
    if not folded:
        problems.append((cells[-1][0], None, "has exercises but no solution folded in <details>"))
    return problems


def output_problems(outputs):
    """The problems of one code cell's saved outputs, as messages."""
    problems, lines = [], 0
    for out in outputs:
        for kind, text in output_texts(out):
            if kind == "error":
                problems.append("saved an error: %s" % text.strip().splitlines()[0][:300] if text.strip() else "saved an error")
                continue
            if kind == "html" and is_error_output(out):
                problems.append("saved an error box: %s" % " ".join(text.split())[:300])
            if BROKEN_CLAIM_TEXT in text or BROKEN_CLAIM_CLASS in _text(out.get("data", {}).get("text/html")):
                claim = text[text.find(BROKEN_CLAIM_TEXT):].strip().splitlines()
                problems.append("broken claim: %s" % (claim[0][len(BROKEN_CLAIM_TEXT):] if claim else text.strip()))
            t = PANIC.search(text)
            if t:
                problems.append("shows a Go panic or stack trace: %r" % t.group(0))
            lines += len(text.rstrip("\n").splitlines())
            p = MACHINE_PATH.search(text)
            if p:
                problems.append("names a path of the machine that ran it: %r (name folders relative to the notebook)" % p.group(0))
            n = LONG_NUMBER.search(text)
            if n:
                digits = re.sub(r"[,_]", "", n.group(0))
                problems.append("prints a %d-digit number (%s...): format numbers for people (e.g. 3.4e+34)" % (len(digits), digits[:12]))
            if kind == "html":
                block = [l.strip() for l in text.strip().splitlines() if l.strip()]
                e = EPOCH_LINE.match(block[-1]) if block else None
                if e and int(e.group(1)) < int(e.group(2)):
                    problems.append("its training block ends at epoch %s of %s with no reason given (a lost line?)" % (e.group(1), e.group(2)))
    if lines > MAX_OUTPUT_LINES:
        problems.append("saved %d lines of output (at most %d: one line per epoch, no logs)" % (lines, MAX_OUTPUT_LINES))
    return problems


def check_notebook(nb, quick_run=False, notes=None):
    """Returns the problems of a notebook: (cell index, code cell number or None for
    markdown, problem) triples. quick_run says the outputs come from the runner's own
    quick run (its executed copies); in a committed notebook a quick run's parameters
    mean the outputs are not a full run's. A notebook with exercises must fold each
    solution in <details>, before the "Next" link.

    A quick run trains less (here, and in the notebooks upstream whose checkpoints
    it reads), so the claims of the text, about a full run's numbers, need not hold:
    in a quick run a broken claim is not a problem but a note, appended to notes
    when given. A full run and the saved outputs (--check) fail on it."""
    problems = parameters_problems(nb, quick_run) + solution_problems(nb)
    code_no = 0
    last_count = 0
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        code_no += 1
        src = _text(cell.get("source"))
        if not src.strip():
            continue
        where = (i, code_no)

        def problem(msg):
            problems.append(where + (msg,))

        if len(src.splitlines()) > MAX_CODE_LINES:
            problem("has %d lines of code (at most %d): move what is not the lesson into lib" % (len(src.splitlines()), MAX_CODE_LINES))
        env = READS_ENV.search(code_without_comments(src))
        if env:
            problem("reads an environment variable (%s...): a setting the reader cannot see; set it in the parameters cell" % env.group(0))
        count = cell.get("execution_count")
        # A parameters cell prints nothing; one added to a notebook after its full run,
        # with the values that run used, has no count until the next full run.
        unrun_parameters = i in parameters_cells(nb) and not cell.get("outputs")
        if count is None:
            if not unrun_parameters:
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
        for msg in output_problems(outputs):
            if quick_run and msg.startswith("broken claim: "):
                if notes is not None:
                    notes.append(where + (msg,))
                continue
            problem(msg)
    return sorted(problems, key=lambda p: p[0])


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


def use_quick_values(nb):
    """Puts the quick values into the notebook's parameters cell, and marks the cell
    as a quick run's. Raises ValueError for a parameter the cell does not set."""
    for i in parameters_cells(nb)[:1]:
        cell = nb["cells"][i]
        values = quick_values(cell)
        if not values:
            continue  # check_notebook reports it
        try:
            cell["source"] = set_parameters(_text(cell.get("source")), values)
        except ValueError as e:
            raise ValueError("cell %d (the parameters cell) %s" % (i, e))
        cell.setdefault("metadata", {}).setdefault("gopherdl", {})["quick_run"] = True


def run(path, args):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    if not args.full:
        try:
            use_quick_values(nb)
        except ValueError as e:
            print("FAIL %s %s" % (path, e))
            return False
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
    notes = []
    problems = check_notebook(nb, quick_run=not args.full, notes=notes)
    for i, code_no, msg in notes:
        print("note %s cell %d (code cell %d), quick run: %s (checked on the full run's outputs)" % (path, i, code_no, msg))
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
    p.add_argument("--full", action="store_true", help="full runs: keep the parameters cells as written")
    p.add_argument("--check", action="store_true", help="check the outputs saved in the notebooks; run nothing")
    args = p.parse_args()
    if args.inplace and not args.full:
        p.error("--inplace writes the outputs into the notebooks: give --full too (a quick run's outputs are not committed)")
    if args.check:
        results = [check_file(nb) for nb in args.notebooks]
    else:
        results = [run(nb, args) for nb in args.notebooks]
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
