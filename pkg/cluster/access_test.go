package cluster

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Writes are refused before they leave the process; reads go through.
func TestReadOnlyTransport(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x"}}`))
	}))
	defer srv.Close()
	c := kubernetes.NewForConfigOrDie(ReadOnly(&rest.Config{Host: srv.URL}))
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Get(ctx, "x", metav1.GetOptions{}); err != nil {
		t.Fatalf("read refused: %v", err)
	}
	writes := map[string]func() error{
		"create": func() error {
			_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "y"}}, metav1.CreateOptions{})
			return err
		},
		"delete": func() error { return c.CoreV1().Namespaces().Delete(ctx, "x", metav1.DeleteOptions{}) },
		"patch": func() error {
			_, err := c.CoreV1().Namespaces().Patch(ctx, "x", "application/merge-patch+json", []byte(`{}`), metav1.PatchOptions{})
			return err
		},
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, ErrWriteRefused) {
			t.Errorf("%s: %v, want ErrWriteRefused", name, err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("the server saw %d requests, want only the read", hits.Load())
	}
}

func TestExplain(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"forbidden", apierrors.NewForbidden(gr, "", errors.New("no")), "forbidden: needs list on pods in namespace traderx-dev (grant the traderx-viewer role)"},
		{"unauthorized", apierrors.NewUnauthorized("expired"), "unauthorized: the cluster rejected the credentials"},
		{"unreachable", errors.New(`Get "https://10.0.0.1:6443/api": dial tcp: connection refused`), "cannot reach the cluster"},
		{"other", errors.New("boom"), "list pods in namespace traderx-dev: boom"},
	}
	for _, tt := range tests {
		if got := Explain(tt.err, "list", "pods", "traderx-dev").Error(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want it to contain %q", tt.name, got, tt.want)
		}
	}
}
