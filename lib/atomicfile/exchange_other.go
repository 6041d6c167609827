//go:build !linux

package atomicfile

import "errors"

// exchange reports that this system cannot swap two names in one step.
func exchange(a, b string) error { return errors.ErrUnsupported }
