// Command fluxwatch-demo is `make demo`: FluxWatch watching a scripted Flux
// story on a local control plane, no cluster needed. Flags and wiring only;
// the demo is internal/demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fluxwatch/fluxwatch/internal/demo"
)

func main() {
	o := demo.Options{Out: os.Stdout}
	flag.Float64Var(&o.Speedup, "speedup", demo.DefaultSpeedup, "How many times faster than real Flux the story runs: 60 plays one Flux minute in one second. Every window of the sample FluxWatches is scaled the same way.")
	flag.BoolVar(&o.Keep, "keep", false, "Leave the control plane and the controller running after the story, and print the kubeconfig to look at them with kubectl, until Ctrl-C.")
	flag.StringVar(&o.SamplesDir, "samples", "config/samples", "Directory of the FluxWatch samples to apply (its kustomization.yaml lists them).")
	plain := flag.Bool("plain", false, "Print plain lines even on a terminal, instead of refreshing the view in place.")
	verbose := flag.Bool("v", false, "Show the controller's logs (on stderr); by default only its errors.")
	flag.Parse()

	// Only the controller's errors by default: its info logs would scroll
	// the view away. client-go logs through klog; send it the same way.
	level := zapcore.ErrorLevel
	if *verbose {
		level = zapcore.InfoLevel
	}
	logger := zap.New(zap.WriteTo(os.Stderr), zap.Level(level))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	fd := int(os.Stdout.Fd())
	if !*plain && term.IsTerminal(fd) {
		o.Live = true
		if w, _, err := term.GetSize(fd); err == nil {
			o.Width = w
		}
	}

	// Ctrl-C stops the controller, then the control plane; Run handles the
	// signals from the moment the control plane runs.
	o.HandleSignals = true
	err := demo.Run(context.Background(), o)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "fluxwatch-demo: interrupted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "fluxwatch-demo: %v\n", err)
		os.Exit(1)
	}
}
