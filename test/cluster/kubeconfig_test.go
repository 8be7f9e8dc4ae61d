package cluster

import (
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestWriteKubeconfig(t *testing.T) {
	dir := t.TempDir()
	byContext := map[string]*Cluster{}
	for name, port := range map[string]string{"nonprod": "6443", "prod": "7443"} {
		c := &Cluster{Kubeconfig: filepath.Join(dir, name+".kubeconfig")}
		if err := writeKubeconfig(c.Kubeconfig, "https://127.0.0.1:"+port, "/ca-"+name, AdminUser, "token-"+name); err != nil {
			t.Fatal(err)
		}
		byContext[name] = c
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(path, "nonprod", byContext); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "nonprod" || len(cfg.Contexts) != 2 {
		t.Fatalf("current %q, contexts %v", cfg.CurrentContext, cfg.Contexts)
	}
	for name, want := range map[string]string{"nonprod": "https://127.0.0.1:6443", "prod": "https://127.0.0.1:7443"} {
		ctx := cfg.Contexts[name]
		if ctx == nil || cfg.Clusters[ctx.Cluster].Server != want || cfg.AuthInfos[ctx.AuthInfo].Token != "token-"+name {
			t.Errorf("context %s: %+v, want server %s with its own token", name, ctx, want)
		}
	}
	if err := WriteKubeconfig(path, "qa", byContext); err == nil {
		t.Error("an unknown current context was accepted")
	}
}
