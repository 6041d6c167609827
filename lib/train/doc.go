// Package train trains, evaluates and uses a model the way the walkthrough does: SGD
// (with optional momentum and weight decay) on cross-entropy, a learning-rate
// schedule stepped once per epoch (StepLR by default), training loss and accuracy
// and evaluation loss and accuracy printed each epoch (one line), a progress bar with
// rate and ETA, checkpoints written durably each epoch that keep the run's settings
// and are resumed from, early stopping, a stop with a clear message when the loss
// diverges, evaluation with every metric, prediction of images and files, saliency
// maps, and the inside of a model: its layers' outputs for an image (Activations),
// its variables (Variable) and the loss of every step (Config.OnStep). A trained or
// loaded model answers predictions from many goroutines at once, and Close releases
// it.
//
// It is built on GoMLX: its Trainer runs the steps, its checkpoint package saves the
// variables; lib/backend chooses the pure-Go or XLA backend.
package train
