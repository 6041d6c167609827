package train

import "os"

// QuickEnv is the environment variable that asks notebooks and examples for a quick
// run (fewer images and epochs), as the notebook tests do.
const QuickEnv = "GOPHERDL_QUICK"

// Quick reports whether GOPHERDL_QUICK=1 is set.
func Quick() bool { return os.Getenv(QuickEnv) == "1" }

// QuickOr returns quick in quick mode, else full: epochs := train.QuickOr(2, 10).
func QuickOr[T any](quick, full T) T {
	if Quick() {
		return quick
	}
	return full
}
