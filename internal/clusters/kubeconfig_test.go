package clusters

import (
	"errors"
	"strings"
	"testing"
)

const caData = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==" // not a real CA: only carried, never parsed here

// kubeconfig renders a one-context kubeconfig with the given cluster and
// user fields.
func kubeconfig(clusterFields, userFields string) []byte {
	return []byte(`apiVersion: v1
kind: Config
current-context: remote
contexts:
- name: remote
  context: {cluster: prod-eu, user: fluxwatch}
clusters:
- name: prod-eu
  cluster:
    server: https://prod-eu.example.com:6443
` + clusterFields + `
users:
- name: fluxwatch
  user:
` + userFields + "\n")
}

func TestRESTConfigPolicy(t *testing.T) {
	inlineCA := "    certificate-authority-data: " + caData
	cases := map[string]struct {
		kubeconfig []byte
		policy     KubeconfigPolicy
		// wantErr is a part of the message a user reads in the condition;
		// empty means accepted.
		wantErr string
		unsafe  bool
	}{
		"inline token":           {kubeconfig: kubeconfig(inlineCA, "    token: abc"), wantErr: ""},
		"inline client cert/key": {kubeconfig: kubeconfig(inlineCA, "    client-certificate-data: "+caData+"\n    client-key-data: "+caData), wantErr: ""},
		"basic auth":             {kubeconfig: kubeconfig(inlineCA, "    username: admin\n    password: secret"), wantErr: ""},
		"exec plugin refused": {kubeconfig: kubeconfig(inlineCA, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n      args: [eks, get-token]\n      interactiveMode: Never"),
			wantErr: `exec plugin "aws" is not allowed (the controller would run it); start the controller with --insecure-kubeconfig-exec`, unsafe: true},
		"exec plugin allowed with the flag": {kubeconfig: kubeconfig(inlineCA, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n      interactiveMode: Never"),
			policy: KubeconfigPolicy{AllowExec: true}},
		"auth provider refused": {kubeconfig: kubeconfig(inlineCA, "    auth-provider:\n      name: oidc\n      config: {idp-issuer-url: https://issuer}"),
			wantErr: `auth-provider "oidc" is not allowed`, unsafe: true},
		"CA file path refused": {kubeconfig: kubeconfig("    certificate-authority: /etc/ssl/ca.pem", "    token: abc"),
			wantErr: `certificate-authority file path "/etc/ssl/ca.pem" is not allowed, use certificate-authority-data`, unsafe: true},
		"client certificate file refused": {kubeconfig: kubeconfig(inlineCA, "    client-certificate: /var/run/secrets/tls.crt\n    client-key-data: "+caData),
			wantErr: `client-certificate file path "/var/run/secrets/tls.crt" is not allowed`, unsafe: true},
		"client key file refused": {kubeconfig: kubeconfig(inlineCA, "    client-certificate-data: "+caData+"\n    client-key: /var/run/secrets/tls.key"),
			wantErr: `client-key file path "/var/run/secrets/tls.key" is not allowed`, unsafe: true},
		"token file refused": {kubeconfig: kubeconfig(inlineCA, "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"),
			wantErr: `tokenFile "/var/run/secrets/kubernetes.io/serviceaccount/token" is not allowed, use token`, unsafe: true},
		"insecure TLS refused": {kubeconfig: kubeconfig("    insecure-skip-tls-verify: true", "    token: abc"),
			wantErr: "insecure-skip-tls-verify is not allowed; start the controller with --insecure-kubeconfig-tls", unsafe: true},
		"insecure TLS refused even when exec is allowed": {kubeconfig: kubeconfig("    insecure-skip-tls-verify: true", "    token: abc"), policy: KubeconfigPolicy{AllowExec: true},
			wantErr: "insecure-skip-tls-verify is not allowed", unsafe: true},
		"insecure TLS allowed with the flag": {kubeconfig: kubeconfig("    insecure-skip-tls-verify: true", "    token: abc"), policy: KubeconfigPolicy{AllowInsecureTLS: true}},
		"not a kubeconfig":                   {kubeconfig: []byte("{{{"), wantErr: "invalid kubeconfig"},
		"no current context":                 {kubeconfig: []byte("apiVersion: v1\nkind: Config\nclusters: []\n"), wantErr: "no current-context"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rc, err := RESTConfig(tc.kubeconfig, tc.policy)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if rc.Host != "https://prod-eu.example.com:6443" {
					t.Errorf("host = %q", rc.Host)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v; want it to say %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrUnsafeKubeconfig) != tc.unsafe {
				t.Errorf("errors.Is(err, ErrUnsafeKubeconfig) = %v, want %v", !tc.unsafe, tc.unsafe)
			}
		})
	}
}

// TestRESTConfigUsesOnlyInlineData: what the default policy builds carries the
// inline credentials and nothing that would make client-go read a file or
// run a program.
func TestRESTConfigUsesOnlyInlineData(t *testing.T) {
	rc, err := RESTConfig(kubeconfig("    certificate-authority-data: "+caData, "    token: abc"), KubeconfigPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.BearerToken != "abc" || len(rc.CAData) == 0 || rc.ExecProvider != nil || rc.AuthProvider != nil ||
		rc.BearerTokenFile != "" || rc.CAFile != "" || rc.CertFile != "" || rc.KeyFile != "" || rc.Insecure {
		t.Errorf("config = %+v", rc)
	}
}
