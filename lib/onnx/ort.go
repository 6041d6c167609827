package onnx

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

//go:embed ort.js
var ortScript []byte

// NPMDir returns the folder whose node_modules holds onnxruntime-node and
// onnxruntime-web: out/npm, where make npm installs them, in the repository that
// holds the working directory (found by its go.mod), else in the repository this
// package was built from (a notebook run from a folder outside it, as the image's
// test does), else "". A command may take another folder as a flag (cmd/web -npm).
func NPMDir() string {
	if dir, err := os.Getwd(); err == nil {
		if repo := repoAbove(dir); repo != "" {
			return filepath.Join(repo, "out", "npm")
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if repo := repoAbove(filepath.Dir(file)); repo != "" {
			return filepath.Join(repo, "out", "npm")
		}
	}
	return ""
}

// repoAbove returns the folder at or above dir whose go.mod is this module's, or "".
func repoAbove(dir string) string {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/gopherdl/gopherdl\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// ErrNoRuntime is returned (wrapped) by RunNode when node or onnxruntime-node is
// missing; its message says what to install.
var ErrNoRuntime = errors.New("ONNX Runtime for Node.js is not installed: apt-get install nodejs npm, then make npm in the repository (it installs into out/npm)")

// RunNode runs the ONNX file model on one input of the given dimensions with ONNX
// Runtime for Node.js (onnxruntime-node under NPMDir, on CPU) and returns its first
// output's values and dimensions: a reference runtime to check an export against.
func RunNode(model string, input []float32, dims []int) ([]float32, []int, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, nil, ErrNoRuntime
	}
	pkg := filepath.Join(NPMDir(), "node_modules", "onnxruntime-node")
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err != nil {
		return nil, nil, fmt.Errorf("%w (looked in %s)", ErrNoRuntime, pkg)
	}
	req, err := json.Marshal(map[string]any{"dims": dims, "data": input})
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(node, "-e", string(ortScript), pkg, model)
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("onnxruntime-node on %s: %w: %s", model, err, strings.TrimSpace(stderr.String()))
	}
	var res struct {
		Dims []int     `json:"dims"`
		Data []float32 `json:"data"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, nil, fmt.Errorf("onnxruntime-node on %s: reading its output: %w", model, err)
	}
	return res.Data, res.Dims, nil
}
