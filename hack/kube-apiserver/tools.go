//go:build tools

// Package tools pins k8s.io/kubernetes/cmd/kube-apiserver in this module so
// `go build k8s.io/kubernetes/cmd/kube-apiserver` resolves from go.mod.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
