// Command xla-install installs XLA's PJRT plugin for the CPU or for CUDA, so that
// gopherdl's "auto" backend picks XLA instead of the pure-Go backend. It downloads the
// plugin (it needs the internet); gopherdl itself never downloads at run time.
//
//	go run ./cmd/xla-install -plugin cpu     # into ~/.local/lib/go-xla
//	go run ./cmd/xla-install -plugin cuda    # the CUDA plugin and the NVIDIA libraries it needs
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/installer"
)

func main() {
	plugin := flag.String("plugin", "cpu", "cpu or cuda")
	path := flag.String("path", "", "install folder (default ~/.local/lib/go-xla)")
	flag.Parse()
	if err := run(*plugin, *path); err != nil {
		fmt.Fprintln(os.Stderr, "xla-install:", err)
		os.Exit(1)
	}
}

func run(plugin, path string) error {
	if path == "" {
		lib, err := installer.DefaultHomeLibPath()
		if err != nil {
			return err
		}
		path = filepath.Join(lib, "go-xla")
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	var err error
	switch plugin {
	case "cpu":
		err = installer.CPUAutoInstall(path, true, installer.Normal)
	case "cuda":
		err = installer.CudaAutoInstall(path, true, installer.Normal)
	default:
		return fmt.Errorf("-plugin %q: want cpu or cuda", plugin)
	}
	if err != nil {
		return fmt.Errorf("installing the %s plugin into %s: %w", plugin, path, err)
	}
	fmt.Printf("XLA %s plugin installed in %s\n", plugin, path)
	return nil
}
