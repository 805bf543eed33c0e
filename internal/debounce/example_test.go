package debounce_test

import (
	"fmt"
	"time"

	"github.com/fluxwatch/fluxwatch/internal/debounce"
)

// A Kustomization whose health check times out on every retry: Ready
// alternates between Unknown (a minute of checks) and False. The retries are
// one incident, and it fires once the failure has gone on for PendingFor.
func ExampleEngine() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	apps := debounce.Key{Cluster: "prod", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
	checking := debounce.Observation{State: debounce.InProgress, Reason: "Progressing", Attempt: "main@sha1:1f3c9e2"}
	failed := debounce.Observation{State: debounce.Failing, Reason: "HealthCheckFailed", Attempt: "main@sha1:1f3c9e2"}

	e := debounce.New(debounce.Policy{PendingFor: 5 * time.Minute})
	show := func(trs []debounce.Transition) {
		for _, tr := range trs {
			fmt.Printf("%v %s %s down=%v\n", tr.At.Sub(start), tr.Type, tr.Incident.Reason, tr.Down)
		}
	}
	for at := time.Duration(0); at < 5*time.Minute; at += 2 * time.Minute {
		show(e.Observe(start.Add(at), apps, checking))
		show(e.Observe(start.Add(at+time.Minute), apps, failed))
	}
	next, _ := e.NextDeadline()
	fmt.Println("next deadline", next.Sub(start))
	show(e.Advance(next))
	// Output:
	// 1m0s Opened HealthCheckFailed down=0s
	// next deadline 6m0s
	// 6m0s Fired HealthCheckFailed down=5m0s
}
