// Package train trains and evaluates a model the way the walkthrough does: SGD
// (with optional momentum and weight decay) on cross-entropy, a learning-rate
// schedule stepped once per epoch (StepLR by default), mean train loss, test loss and
// accuracy printed each epoch, a progress bar with rate and ETA, checkpoints written
// atomically each epoch and resumed from, and a stop with a clear message when the
// loss diverges.
//
// It is built on GoMLX: its Trainer runs the steps, its checkpoint package saves the
// variables, and NewBackend picks the pure-Go or XLA backend.
package train
