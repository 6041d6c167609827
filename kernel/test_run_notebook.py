#!/usr/bin/python3
"""Tests of the notebook checks in kernel/run_notebook.py: each check rejects a
hand-made notebook with that one problem, and passes a clean one; the quick run's
values go into the parameters cell; --check names the notebook, the cell and the
problem (a broken claim among them), and sets the exit status. Needs no kernel
(kernel/test_kernel.py runs a notebook with a broken claim through the kernel).

    kernel/test_run_notebook.py
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_notebook  # noqa: E402

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def code(source, outputs=(), count=None):
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": list(outputs), "execution_count": count}


PARAMETERS = """// Parameters: the epochs and sizes of this notebook's runs.
var (
\tepochs      = 10   // the article's
\ttrainImages = 5400
)"""


def parameters(source=PARAMETERS, quick=None, count=None):
    cell = code(source, [], count)
    cell["metadata"] = {"tags": ["parameters"], "gopherdl": {"quick": {"epochs": "2", "trainImages": "1000"} if quick is None else quick}}
    return cell


def markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def stdout(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def stderr(text):
    return {"output_type": "stream", "name": "stderr", "text": text}


def html(text):
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": text}}


def figure():
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG, "text/plain": "figure"}}


def notebook(*cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def clean():
    """A notebook whose saved outputs pass every check."""
    return notebook(
        markdown("# Training\nThe data is in `/usr/share/datasets/fashion-mnist` (text may name paths)."),
        code("%goworkfix", [stdout("Replace rule to local directory \"/home/me/gopherdl\" already exists.\n")], 1),
        code('%%\nfmt.Println("train 5400, validation 600")', [stdout("train 5400, validation 600\n")], 2),
        code("%%\nplot.Must(plot.TrainingCurves(h)).MustDisplay()", [figure()], 3),
        code("%%\nm.Fit(ctx, tr, val, plot.LiveCurves())",
             [html('<pre style="margin:0">epoch 1/2  lr 0.01  train loss 2.2 acc 10.0%  validation loss 2.1 acc 20.0%  1,234 images/s\n'
                   'epoch 2/2  lr 0.01  train loss 1.2 acc 50.0%  validation loss 1.1 acc 60.0%  1,234 images/s</pre>'),
              figure(), stdout("checkpoints in checkpoints/03-training; 421,642 parameters; T-shirt/top 97%; 1257 images/s; see https://github.com/gomlx/gomlx\n")], 4),
        code("", [], None),  # an empty cell needs no run
        parameters(),  # added after the full run: no count, no output
    )


class Checks(unittest.TestCase):
    def problems(self, nb, quick_run=False):
        return run_notebook.check_notebook(nb, quick_run=quick_run)

    def assertRejects(self, nb, cell, words, quick_run=False):
        problems = self.problems(nb, quick_run)
        self.assertTrue(problems, "accepted a notebook that should fail (%s)" % words)
        found = [p for p in problems if p[0] == cell and words in p[2]]
        self.assertTrue(found, "no problem %r at cell %d; got %r" % (words, cell, problems))

    def test_clean_notebook_passes(self):
        self.assertEqual(self.problems(clean()), [])

    def test_a_drawing_cell_without_a_figure(self):
        nb = clean()
        nb["cells"][3]["outputs"] = []
        self.assertRejects(nb, 3, "draws a figure but saved none")
        nb = clean()
        nb["cells"][4]["outputs"] = nb["cells"][4]["outputs"][:1]  # live curves lost
        self.assertRejects(nb, 4, "draws a figure but saved none")

    def test_machine_paths(self):
        for text in ["resuming from /tmp/gopherdl/03-training after epoch 10\n",
                     "skipped: [/home/learner/data/Bag/notes.txt]\n",
                     "searched $PJRT_PLUGIN_LIBRARY_PATH, /usr/local/lib/go-xla, ~/.local/lib/go-xla\n",
                     "saved in C:\\Users\\me\\checkpoints\n"]:
            nb = clean()
            nb["cells"][2]["outputs"] = [stdout(text)]
            self.assertRejects(nb, 2, "names a path of the machine")

    def test_first_cell_may_hold_other_commands(self):
        nb = clean()  # %goworkfix reports the checkout's path: not kept, not checked
        nb["cells"][1]["source"] = "%goworkfix\n%noautoget\n"
        self.assertEqual(self.problems(nb), [])
        nb["cells"][1]["source"] = "%goworkfix\n%%\nfmt.Println(1)"  # code: checked as code
        self.assertRejects(nb, 1, "names a path of the machine")

    def test_api_routes_are_not_machine_paths(self):
        nb = clean()
        nb["cells"][2]["outputs"] = [stdout('gopherdl_http_requests_total{code="200",method="POST",route="/v1/predict"} 1011\n'
                                            "POST /v1/explain answered 200 for checkpoints/06-deploy/epoch-0015\n")]
        self.assertEqual(self.problems(nb), [])
        nb["cells"][2]["outputs"] = [stdout("log: /var/v1/serve.log\n")]
        self.assertRejects(nb, 2, "names a path of the machine")

    def test_too_many_lines(self):
        nb = clean()
        nb["cells"][2]["outputs"] = [stdout("".join("epoch %d loss 0.5\n" % i for i in range(60)))]
        self.assertRejects(nb, 2, "lines of output")
        nb = clean()  # lines split over outputs add up
        nb["cells"][2]["outputs"] = [html("<pre>%s</pre>" % "\n".join(["bar"] * 30)), stdout("x\n" * 30)]
        self.assertRejects(nb, 2, "lines of output")

    def test_unreadable_numbers(self):
        for text in ["loss 5824681609089893524125122115403776.0000\n", "loss 5,824,681,609,089,893\n"]:
            nb = clean()
            nb["cells"][2]["outputs"] = [html("<pre>epoch 1/1  30%% |███  | 192/640 images  %s</pre>" % text)]
            self.assertRejects(nb, 2, "digit number")

    def test_not_run_and_out_of_order(self):
        nb = clean()
        nb["cells"][3]["execution_count"] = None
        nb["cells"][3]["outputs"] = []
        self.assertRejects(nb, 3, "was not run")
        nb = clean()
        nb["cells"][2]["execution_count"], nb["cells"][3]["execution_count"] = 3, 2
        self.assertRejects(nb, 3, "out of order")

    def test_errors(self):
        nb = clean()
        nb["cells"][2]["outputs"] = [{"output_type": "error", "ename": "panic", "evalue": "index out of range", "traceback": []}]
        self.assertRejects(nb, 2, "saved an error")
        nb = clean()
        nb["cells"][2]["outputs"] = [html('<div><b style="color:#c00">Error:</b> loading a model: no checkpoint</div>')]
        self.assertRejects(nb, 2, "error box")
        nb = clean()
        nb["cells"][2]["outputs"] = [stderr("recovered: panic: boom\ngoroutine 1 [running]:\nmain.main()\n")]
        self.assertRejects(nb, 2, "panic or stack trace")
        nb = clean()  # a library's note on standard error is no problem
        nb["cells"][2]["outputs"] = [stderr("my-images/train: skipped 1 files that are not images, resized 0 images\n")]
        self.assertEqual(self.problems(nb), [])

    def test_training_block_cut_short(self):
        nb = clean()
        block = nb["cells"][4]["outputs"][0]["data"]["text/html"]
        nb["cells"][4]["outputs"][0]["data"]["text/html"] = block.split("\n")[0] + "</pre>"
        self.assertRejects(nb, 4, "ends at epoch 1 of 2")


    def test_a_notebook_that_trains_has_a_parameters_cell(self):
        nb = clean()
        del nb["cells"][6]
        self.assertRejects(nb, 4, "no parameters cell")
        nb["cells"][4]["source"] = "%%\nfmt.Println(m.Evaluate(testSet))"  # no training: none needed
        self.assertEqual(self.problems(nb), [])

    def test_parameters_cell_holds_quick_values_it_sets(self):
        nb = clean()
        nb["cells"][6]["metadata"]["gopherdl"] = {}
        self.assertRejects(nb, 6, "no quick values")
        nb = clean()
        nb["cells"][6]["metadata"]["gopherdl"]["quick"]["batchSize"] = "16"
        self.assertRejects(nb, 6, "sets no batchSize")
        nb = clean()
        nb["cells"].append(parameters())
        self.assertRejects(nb, 7, "second parameters cell")

    def test_quick_values_go_into_the_parameters_cell(self):
        nb = clean()
        run_notebook.use_quick_values(nb)
        src = nb["cells"][6]["source"]
        self.assertIn("\tepochs      = 2   // the article's\n", src)
        self.assertIn("\ttrainImages = 1000\n", src)
        self.assertTrue(nb["cells"][6]["metadata"]["gopherdl"]["quick_run"])
        self.assertEqual(self.problems(nb, quick_run=True), [], "the runner's own quick runs hold the quick values")
        # Committed: its outputs would come from a quick run.
        self.assertRejects(nb, 6, "holds the quick run's values")
        del nb["cells"][6]["metadata"]["gopherdl"]["quick_run"]
        self.assertRejects(nb, 6, "holds the quick run's values")
        for source, want in [("var epochs = 10\nvar trainImages int = 5400 // all", "var epochs = 2\nvar trainImages int = 1000 // all"),
                             ("var (\n\tepochs = train.DefaultConfig().Epochs\n\ttrainImages = 5400\n)", "var (\n\tepochs = 2\n\ttrainImages = 1000\n)")]:
            self.assertEqual(run_notebook.set_parameters(source, {"epochs": "2", "trainImages": "1000"}), want)
        with self.assertRaisesRegex(ValueError, "sets no epochs"):
            run_notebook.set_parameters("var maxEpochs = 10", {"epochs": "2"})

    def test_settings_from_the_environment(self):
        nb = clean()
        nb["cells"][2]["source"] = 'import "os"\n%%\nn := 6000\nif os.Getenv("SMALL") == "1" { n = 500 }'
        self.assertRejects(nb, 2, "reads an environment variable")

    def test_broken_claims(self):
        box = ('<div class="gopherdl-broken-claim" style="border-left:4px solid #c00"><b style="color:#c00">✗ broken claim:</b> '
               'momentum beats plain SGD: momentum 0.81, SGD 0.83</div>')
        nb = clean()
        nb["cells"][2]["outputs"].append(html(box))
        self.assertRejects(nb, 2, "broken claim: momentum beats plain SGD: momentum 0.81, SGD 0.83")
        nb = clean()  # outside a notebook nb.Claim writes to standard error
        nb["cells"][2]["outputs"].append(stderr("✗ broken claim: the loss falls: 2.303, 2.4\n"))
        self.assertRejects(nb, 2, "broken claim: the loss falls: 2.303, 2.4")
        nb = clean()  # a quick run's numbers are not the text's: a note, not a problem
        nb["cells"][2]["outputs"].append(html(box))
        notes = []
        self.assertEqual(run_notebook.check_notebook(nb, quick_run=True, notes=notes), [])
        self.assertEqual([n[2] for n in notes], ["broken claim: momentum beats plain SGD: momentum 0.81, SGD 0.83"])
        nb = clean()  # a claim that holds is a line of output like any other
        nb["cells"][2]["outputs"].append(stdout("✓ momentum beats plain SGD: momentum 0.83, SGD 0.81\n"))
        self.assertEqual(self.problems(nb), [])

    def test_long_code_cells(self):
        nb = clean()
        nb["cells"][2]["source"] = "%%\n" + "fmt.Println(1)\n" * (run_notebook.MAX_CODE_LINES - 1)
        self.assertEqual(self.problems(nb), [], "a cell of exactly the maximum")
        self.assertEqual(run_notebook.MAX_CODE_LINES, 40)
        nb["cells"][2]["source"] = "%%\n" + "fmt.Println(1)\n" * run_notebook.MAX_CODE_LINES
        self.assertRejects(nb, 2, "41 lines of code (at most 40)")

    def test_solutions_folded_before_next(self):
        def with_text(*texts):
            nb = clean()
            nb["cells"] += [markdown(t) for t in texts]
            return self.problems(nb)
        exercises = "## Exercises\n\n1. **Steps.** How many steps is an epoch?"
        folded = "<details><summary>Solution</summary>\n\n338 steps.\n\n</details>"
        self.assertEqual(with_text(exercises, folded, "Next: [4. Evaluation](04-evaluation.ipynb)."), [])
        self.assertEqual(with_text("## Exercises\n" + folded + "\n\nNext: [4](04.ipynb)."), [])
        problems = with_text(exercises, "Next: [4. Evaluation](04-evaluation.ipynb).\n\n## Solutions\n\n1. 338 steps.")
        self.assertTrue(any("in the open" in p[2] for p in problems), problems)
        self.assertTrue(any("no solution folded" in p[2] for p in problems), problems)
        problems = with_text(exercises, "Next: [4. Evaluation](04-evaluation.ipynb).", folded)
        self.assertTrue(any("after the \"Next\" link" in p[2] for p in problems), problems)
        # On in every check, --check included: no flag turns it on or off.
        nb = clean()
        nb["cells"] += [markdown(exercises), markdown("Next: [4](04.ipynb).\n\n## Solutions\n\n1. 338 steps.")]
        code, out = CheckCommand().run_check(nb)
        self.assertEqual(code, 1, out)
        self.assertIn("(markdown): its solutions are in the open ('## Solutions')", out)


class CheckCommand(unittest.TestCase):
    def run_check(self, nb, *flags):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "03-training.ipynb")
            with open(path, "w") as f:
                json.dump(nb, f)
            r = subprocess.run([sys.executable, os.path.join(HERE, "run_notebook.py"), "--check", *flags, path],
                               capture_output=True, text=True)
            return r.returncode, r.stdout.replace(path, "NB")

    def test_check_names_notebook_cell_and_problem(self):
        nb = clean()
        nb["cells"][3]["outputs"] = []
        code, out = self.run_check(nb)
        self.assertEqual(code, 1, out)
        self.assertIn("FAIL NB cell 3 (code cell 3): draws a figure but saved none", out)
        self.assertIn("0 passed, 1 failed", out)

    def test_check_names_a_broken_claim(self):
        nb = clean()
        nb["cells"][3]["outputs"].append(html('<div class="gopherdl-broken-claim"><b>✗ broken claim:</b> Fit is the loop above: 44.0, 47.5</div>'))
        code, out = self.run_check(nb)
        self.assertEqual(code, 1, out)
        self.assertIn("FAIL NB cell 3 (code cell 3): broken claim: Fit is the loop above: 44.0, 47.5", out)

    def test_inplace_runs_are_full_runs(self):
        r = subprocess.run([sys.executable, os.path.join(HERE, "run_notebook.py"), "--inplace", "nothing.ipynb"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("give --full too", r.stderr)

    def test_check_passes_a_clean_notebook(self):
        code, out = self.run_check(clean())
        self.assertEqual(code, 0, out)
        self.assertIn("ok   NB", out)


if __name__ == "__main__":
    unittest.main(verbosity=1)
