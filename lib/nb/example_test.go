package nb_test

import (
	"github.com/gopherdl/gopherdl/lib/nb"
)

// A cell asserts what the notebook's text says about the numbers it printed; the
// notebook runner fails the run when a claim breaks.
func ExampleClaim() {
	accSGD, accMomentum := 0.7712, 0.8345
	nb.Claim("momentum beats plain SGD", accMomentum > accSGD, "momentum", accMomentum, "SGD", accSGD)
	// Output:
	// ✓ momentum beats plain SGD: momentum 0.8345, SGD 0.7712
}
