// Command web writes a static web site of a trained model: a page, the model as ONNX
// (model.onnx), its classes and input shape (model.json), and ONNX Runtime Web's files.
// The page runs the model in the visitor's browser (WebAssembly, one thread): any
// static file server can serve the folder, with no server of ours.
//
//	go run ./cmd/web -model out/demo -out out/web   # what make web does
//	python3 -m http.server -d out/web 8000           # or any static file server
package main

import (
	"embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/onnx"
	"github.com/gopherdl/gopherdl/lib/train"
)

//go:embed site
var site embed.FS

// ortFiles are the files of onnxruntime-web's WebAssembly build the page loads.
var ortFiles = []string{"ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	modelDir := fs.String("model", "out/demo", "a checkpoint folder, or a cmd/walkthrough -out folder (its checkpoints/)")
	npm := fs.String("npm", onnx.NPMDir(), "the folder whose node_modules holds onnxruntime-web (make npm)")
	out := fs.String("out", "out/web", "folder to write the site to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	dist := filepath.Join(*npm, "node_modules", "onnxruntime-web", "dist")
	if _, err := os.Stat(filepath.Join(dist, ortFiles[0])); err != nil {
		return fmt.Errorf("no onnxruntime-web in %s: run make npm (npm install onnxruntime-web@1.30.0)", *npm)
	}
	dir := *modelDir
	if train.LatestCheckpoint(dir) == "" && train.LatestCheckpoint(filepath.Join(dir, "checkpoints")) != "" {
		dir = filepath.Join(dir, "checkpoints")
	}
	m, err := train.Load(dir)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := m.ExportONNX(filepath.Join(*out, "model.onnx")); err != nil {
		return err
	}
	info, err := json.MarshalIndent(map[string]any{"classes": m.Classes, "channels": m.Shape.Channels,
		"height": m.Shape.Height, "width": m.Shape.Width, "checkpoint": filepath.Base(m.LoadedFrom())}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(*out, "model.json"), info); err != nil {
		return err
	}
	page, err := site.ReadFile("site/index.html")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(*out, "index.html"), page); err != nil {
		return err
	}
	for _, f := range ortFiles {
		if err := copyFile(filepath.Join(dist, f), filepath.Join(*out, f)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote the site of %s to %s: serve it with any static file server\n", m.LoadedFrom(), *out)
	return nil
}

// copyFile copies src to dst atomically.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
