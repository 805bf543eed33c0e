package testenv

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// live holds the started Envs of this process, for the signal handler.
var live struct {
	sync.Mutex
	envs    map[*Env]struct{}
	handler sync.Once
}

func track(e *Env) {
	live.handler.Do(handleSignals)
	live.Lock()
	defer live.Unlock()
	if live.envs == nil {
		live.envs = map[*Env]struct{}{}
	}
	live.envs[e] = struct{}{}
}

func untrack(e *Env) {
	live.Lock()
	defer live.Unlock()
	delete(live.envs, e)
}

// handleSignals stops every live Env on SIGINT or SIGTERM and then exits, as
// the signal would have. Without it the test binary dies and its etcd and
// kube-apiserver run on, orphaned, holding a few hundred MB each.
func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		live.Lock()
		envs := make([]*Env, 0, len(live.envs))
		for e := range live.envs {
			envs = append(envs, e)
		}
		live.Unlock()
		for _, e := range envs {
			if err := e.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
			}
		}
		fmt.Fprintf(os.Stderr, "testenv: %v: stopped %d local control plane(s)\n", sig, len(envs))
		os.Exit(1)
	}()
}
