package cluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Main starts one cluster for a whole test package, stores it in *dst, runs
// the tests and stops the cluster, also when a test panics. With -short no
// cluster starts and Require skips the tests that need it. When tests fail,
// the components' logs are printed.
func Main(m *testing.M, dst **Cluster, opts Options) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "[cluster] "+format+"\n", args...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	c, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start local control plane: %v\n", err)
		return 1
	}
	*dst = c
	code := 1
	defer func() {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "tests failed; control plane logs:\n%s", c.Logs(40))
		}
		c.Stop()
	}()
	code = m.Run()
	return code
}

// Require skips t when no cluster runs (-short).
func Require(t testing.TB, c *Cluster) *Cluster {
	t.Helper()
	if c == nil {
		t.Skip("needs the local control plane (not started with -short)")
	}
	return c
}

// NamespaceName returns a valid namespace name unique to the test and deletes
// that namespace when the test ends; the caller creates it (e.g. by applying a
// rendered namespace unit).
func (c *Cluster) NamespaceName(t testing.TB) string {
	t.Helper()
	base := strings.Trim(invalidName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 45 {
		base = strings.Trim(base[len(base)-45:], "-")
	}
	name := fmt.Sprintf("%s-%d", base, nameCounter.Add(1)+time.Now().UnixNano()%100000)
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

var (
	invalidName = regexp.MustCompile(`[^a-z0-9-]+`)
	nameCounter atomic.Int64
)

// Namespace creates a namespace unique to the test and deletes it afterwards.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := c.NamespaceName(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// Exit ends a test binary with the code Main returned.
func Exit(code int) { os.Exit(code) }
