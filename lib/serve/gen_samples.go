//go:build ignore

// gen_samples writes web/static/samples: one test image of each class of the
// embedded Fashion-MNIST subset, as PNG, and samples.json listing them, for the
// page's "try one" row.
//
//	go run gen_samples.go
package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

type sample struct {
	File  string `json:"file"`
	Class string `json:"class"`
}

func main() {
	_, test := embedded.MustLoad()
	dir := filepath.Join("web", "static", "samples")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	var list []sample
	seen := map[int32]bool{}
	for i := range test.Len() {
		_, label := test.Image(i)
		if seen[label] {
			continue
		}
		seen[label] = true
		name := fmt.Sprintf("%d-%s.png", label, strings.ReplaceAll(formats.SafeName(test.Classes[label]), " ", "_"))
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			log.Fatal(err)
		}
		if err := png.Encode(f, test.ToImage(i)); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		list = append(list, sample{File: name, Class: test.Classes[label]})
	}
	slices.SortFunc(list, func(a, b sample) int { return strings.Compare(a.File, b.File) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "samples.json"), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}
