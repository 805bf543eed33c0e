// Package clusters owns the clusters a FluxWatch reads: the local one and,
// from kubeconfig Secrets, remote ones. This file turns a kubeconfig into a
// client configuration without trusting it: a kubeconfig stored in a Secret
// is user input, and a controller that runs exec plugins or reads files named
// by it hands its own pod to whoever can write that Secret.
package clusters

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ErrUnsafeKubeconfig is wrapped by every refusal of KubeconfigPolicy.
var ErrUnsafeKubeconfig = errors.New("unsafe kubeconfig")

// ErrInvalidKubeconfig is wrapped when the kubeconfig cannot be used at all.
var ErrInvalidKubeconfig = errors.New("invalid kubeconfig")

// KubeconfigPolicy says what a remote cluster's kubeconfig may use beyond
// inline server, CA, client certificate and key, bearer token and basic auth.
// The defaults refuse everything else, as Flux and Cluster API do.
type KubeconfigPolicy struct {
	// AllowExec permits exec plugins, auth-provider plugins and file paths
	// (--insecure-kubeconfig-exec).
	AllowExec bool
	// AllowInsecureTLS permits insecure-skip-tls-verify
	// (--insecure-kubeconfig-tls).
	AllowInsecureTLS bool
}

// RESTConfig builds a client configuration from the current context of a
// kubeconfig, refusing what p does not allow. The error says what was
// refused and which flag would allow it.
func RESTConfig(kubeconfig []byte, p KubeconfigPolicy) (*rest.Config, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKubeconfig, err)
	}
	ctxName := cfg.CurrentContext
	if ctxName == "" && len(cfg.Contexts) == 1 {
		for name := range cfg.Contexts {
			ctxName = name
		}
	}
	kctx, ok := cfg.Contexts[ctxName]
	if !ok {
		return nil, fmt.Errorf("%w: no current-context (or it names no context)", ErrInvalidKubeconfig)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok || cluster.Server == "" {
		return nil, fmt.Errorf("%w: context %q names no cluster with a server", ErrInvalidKubeconfig, ctxName)
	}
	auth := cfg.AuthInfos[kctx.AuthInfo]
	if auth == nil {
		auth = clientcmdapi.NewAuthInfo()
	}
	if err := check(cluster, auth, p); err != nil {
		return nil, err
	}
	if p.AllowExec {
		// Everything is allowed: let client-go interpret the kubeconfig in
		// full (plugins, files, proxies).
		rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, ctxName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidKubeconfig, err)
		}
		return rc, nil
	}
	// Only inline data: build the config by hand so that nothing client-go
	// would read from disk or run can sneak in.
	rc := &rest.Config{
		Host:        cluster.Server,
		BearerToken: auth.Token,
		Username:    auth.Username,
		Password:    auth.Password,
		TLSClientConfig: rest.TLSClientConfig{
			Insecure:   cluster.InsecureSkipTLSVerify,
			ServerName: cluster.TLSServerName,
			CAData:     cluster.CertificateAuthorityData,
			CertData:   auth.ClientCertificateData,
			KeyData:    auth.ClientKeyData,
		},
	}
	return rc, nil
}

// check lists, in a fixed order, the first thing p refuses.
func check(c *clientcmdapi.Cluster, a *clientcmdapi.AuthInfo, p KubeconfigPolicy) error {
	const execFlag = "--insecure-kubeconfig-exec"
	if !p.AllowExec {
		switch {
		case a.Exec != nil:
			return fmt.Errorf("%w: exec plugin %q is not allowed (the controller would run it); start the controller with %s to allow it", ErrUnsafeKubeconfig, a.Exec.Command, execFlag)
		case a.AuthProvider != nil:
			return fmt.Errorf("%w: auth-provider %q is not allowed; start the controller with %s to allow it", ErrUnsafeKubeconfig, a.AuthProvider.Name, execFlag)
		case c.CertificateAuthority != "":
			return fmt.Errorf("%w: certificate-authority file path %q is not allowed, use certificate-authority-data; or start the controller with %s", ErrUnsafeKubeconfig, c.CertificateAuthority, execFlag)
		case a.ClientCertificate != "":
			return fmt.Errorf("%w: client-certificate file path %q is not allowed, use client-certificate-data; or start the controller with %s", ErrUnsafeKubeconfig, a.ClientCertificate, execFlag)
		case a.ClientKey != "":
			return fmt.Errorf("%w: client-key file path %q is not allowed, use client-key-data; or start the controller with %s", ErrUnsafeKubeconfig, a.ClientKey, execFlag)
		case a.TokenFile != "":
			return fmt.Errorf("%w: tokenFile %q is not allowed, use token; or start the controller with %s", ErrUnsafeKubeconfig, a.TokenFile, execFlag)
		}
	}
	if c.InsecureSkipTLSVerify && !p.AllowInsecureTLS {
		return fmt.Errorf("%w: insecure-skip-tls-verify is not allowed; start the controller with --insecure-kubeconfig-tls to allow it", ErrUnsafeKubeconfig)
	}
	return nil
}
