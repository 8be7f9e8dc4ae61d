// Package cluster runs a real local Kubernetes control plane for tests and the
// sandbox: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok (a fake kubelet), built from Go modules by build.sh and started on free
// loopback ports. Controllers are real, so Deployments get ReplicaSets and
// Ready pods, EndpointSlices fill in and rollouts complete; there is no pod
// networking, so tests inspect API objects and never connect to pods.
package cluster

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Identities with static tokens. Admin and kwok are cluster admins; the
// controller-manager and scheduler users are bound by the default RBAC
// bootstrap policy; Users are plain identities with no rights until a test or
// the RBAC manifests bind them.
const (
	AdminUser = "admin"
)

// KubeContext is the context (and cluster) name of every kubeconfig the
// local control plane writes.
const KubeContext = "traderx-local"

// Options configure a cluster.
type Options struct {
	// Dir holds PKI, kubeconfigs, etcd data and logs; a temporary directory when empty.
	Dir string
	// Nodes is the number of fake nodes (default 3, so topology spread has room).
	Nodes int
	// Users get static tokens and kubeconfigs without any binding.
	Users []string
	// Groups lists the groups of some Users (RBAC subjects in tests).
	Groups map[string][]string
	// Logf receives progress lines; silent when nil.
	Logf func(format string, args ...any)
}

// Cluster is a running control plane.
type Cluster struct {
	Dir string
	// Kubeconfig is the admin kubeconfig file.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface

	paths   Paths
	ports   ports
	procs   []*process
	tempDir bool
	logf    func(string, ...any)
}

type ports struct {
	etcdClient, etcdPeer, apiserver, kcm, scheduler, kwok int
}

// Start builds (or finds) the binaries and starts a fresh cluster. On error
// everything started so far is stopped.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	paths, err := Build(ctx, logf)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: o.Dir, paths: paths, logf: logf}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "traderx-cluster-"); err != nil {
			return nil, err
		}
		c.tempDir = true
	}
	defer func() {
		if err != nil {
			logs := c.Logs(20)
			c.Stop()
			err = fmt.Errorf("%w\n%s", err, logs)
		}
	}()
	if c.ports, err = freePorts(); err != nil {
		return nil, err
	}
	users := append([]string{AdminUser, "kwok-controller", "system:kube-controller-manager", "system:kube-scheduler", "kcm-lean"}, o.Users...)
	if err := writePKI(c.Dir, c.ports.apiserver, users, o.Groups); err != nil {
		return nil, fmt.Errorf("write PKI: %w", err)
	}
	if err := c.writeStages(); err != nil {
		return nil, err
	}
	start := time.Now()
	for _, step := range []struct {
		name   string
		args   []string
		health string
	}{
		{"etcd", c.etcdArgs(), fmt.Sprintf("http://127.0.0.1:%d/health", c.ports.etcdClient)},
		{"kube-apiserver", c.apiserverArgs(), fmt.Sprintf("https://127.0.0.1:%d/readyz", c.ports.apiserver)},
		{"kube-controller-manager", c.kcmArgs(), fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.kcm)},
		{"kube-scheduler", c.schedulerArgs(), fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.scheduler)},
		{"kwok", c.kwokArgs(), fmt.Sprintf("http://127.0.0.1:%d/healthz", c.ports.kwok)},
	} {
		p, err := startProcess(filepath.Join(paths.Bin, step.name), step.args, filepath.Join(c.Dir, step.name+".log"))
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		if err := c.waitHealthy(ctx, p, step.health); err != nil {
			return nil, fmt.Errorf("%s did not become healthy: %w", step.name, err)
		}
		logf("%s healthy (%s)", step.name, time.Since(start).Round(10*time.Millisecond))
	}
	c.Kubeconfig = filepath.Join(c.Dir, AdminUser+".kubeconfig")
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	c.Config.QPS, c.Config.Burst = 200, 400
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	if err := c.createNodes(ctx, o.Nodes); err != nil {
		return nil, err
	}
	logf("control plane ready with %d nodes (%s)", o.Nodes, time.Since(start).Round(10*time.Millisecond))
	return c, nil
}

// RestartAPIServer stops kube-apiserver and starts it again on the same port
// with the same flags, as a control-plane upgrade or crash would; clients see
// connection errors until it is ready again. It returns once /readyz is OK.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	for i, p := range c.procs {
		if filepath.Base(p.bin) != "kube-apiserver" {
			continue
		}
		p.stop(10 * time.Second)
		np, err := startProcess(p.bin, p.args, p.logPath)
		if err != nil {
			return err
		}
		c.procs[i] = np
		return c.waitHealthy(ctx, np, fmt.Sprintf("https://127.0.0.1:%d/readyz", c.ports.apiserver))
	}
	return fmt.Errorf("kube-apiserver is not running")
}

// KubeconfigFor returns the kubeconfig file of a user passed in Options.Users.
func (c *Cluster) KubeconfigFor(user string) string {
	return filepath.Join(c.Dir, kubeconfigName(user))
}

// Stop stops every process by PID (SIGTERM, then SIGKILL after 5 s) and
// removes a temporary directory. It is safe to call twice.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(5 * time.Second)
	}
	c.procs = nil
	if c.tempDir && c.Dir != "" {
		_ = os.RemoveAll(c.Dir)
		c.Dir = ""
	}
}

// PIDs returns the process IDs of the running components.
func (c *Cluster) PIDs() []int {
	var out []int
	for _, p := range c.procs {
		out = append(out, p.cmd.Process.Pid)
	}
	return out
}

// Logs returns the last lines of every component's log, for failing tests.
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "==== %s (pid %d) last %d lines ====\n%s\n", filepath.Base(p.cmd.Path), p.cmd.Process.Pid, lines, tail(p.logPath, lines))
	}
	return b.String()
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

func freePorts() (ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var nums []int
	for range 6 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("find a free loopback port: %w", err)
		}
		ls = append(ls, l)
		nums = append(nums, l.Addr().(*net.TCPAddr).Port)
	}
	return ports{nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]}, nil
}

func (c *Cluster) file(name string) string { return filepath.Join(c.Dir, name) }

func (c *Cluster) etcdArgs() []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", c.ports.etcdClient)
	peer := fmt.Sprintf("http://127.0.0.1:%d", c.ports.etcdPeer)
	return []string{
		"--name=traderx", "--data-dir=" + c.file("etcd-data"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=traderx=" + peer,
		// Test data only: durability is not worth the fsync cost here.
		"--unsafe-no-fsync=true", "--quota-backend-bytes=2147483648", "--log-level=warn",
	}
}

func (c *Cluster) apiserverArgs() []string {
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", c.ports.etcdClient),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", c.ports.apiserver),
		"--tls-cert-file=" + c.file("apiserver.crt"), "--tls-private-key-file=" + c.file("apiserver.key"),
		"--client-ca-file=" + c.file("ca.crt"), "--token-auth-file=" + c.file("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.file("sa.pub"), "--service-account-signing-key-file=" + c.file("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// Required with a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true", "--profiling=false",
		"--requestheader-client-ca-file=" + c.file("ca.crt"), "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
	}
}

// kcmControllers is the lean controller set: what Deployments, Services,
// namespaces and disruption budgets need, started with one admin identity so a
// namespace's default ServiceAccount appears in ~0.1 s instead of ~5 s.
var kcmControllers = []string{
	"deployment", "replicaset", "endpoints", "endpointslice", "endpointslice-mirroring",
	"serviceaccount", "serviceaccount-token", "namespace", "garbage-collector", "node-lifecycle",
	"pod-garbage-collector", "root-ca-certificate-publisher", "statefulset", "daemonset", "job",
	"cronjob", "disruption", "ttl-after-finished", "clusterrole-aggregation",
}

func (c *Cluster) kcmArgs() []string {
	kc := c.file(kubeconfigName("kcm-lean"))
	var ctrls []string
	for _, n := range kcmControllers {
		ctrls = append(ctrls, n+"-controller")
	}
	return []string{
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", c.ports.kcm),
		"--leader-elect=false", "--use-service-account-credentials=false",
		"--controllers=" + strings.Join(ctrls, ","),
		"--service-account-private-key-file=" + c.file("sa.key"), "--root-ca-file=" + c.file("ca.crt"),
		"--service-cluster-ip-range=10.96.0.0/16", "--profiling=false",
		// The default 20 QPS makes creating thousands of pods (benchmarks) crawl.
		"--kube-api-qps=200", "--kube-api-burst=400",
	}
}

func (c *Cluster) schedulerArgs() []string {
	kc := c.file(kubeconfigName("system:kube-scheduler"))
	return []string{
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", c.ports.scheduler),
		"--leader-elect=false", "--profiling=false",
		"--kube-api-qps=200", "--kube-api-burst=400",
	}
}

func (c *Cluster) kwokArgs() []string {
	return []string{
		"--kubeconfig=" + c.file(kubeconfigName("kwok-controller")),
		"--config=" + c.file("kwok-stages.yaml"),
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", "--node-name=kwok-controller",
		fmt.Sprintf("--node-port=%d", c.ports.kwok),
		fmt.Sprintf("--server-address=127.0.0.1:%d", c.ports.kwok),
		"--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40",
		// INFO logs every pod patch; failing tests print only what matters.
		"--v=WARN",
	}
}

// writeStages concatenates kwok's own stages with ours into one --config file;
// without it kwok exits ("no stages found") or reads ~/.kwok/kwok.yaml.
func (c *Cluster) writeStages() error {
	var buf bytes.Buffer
	files, err := filepath.Glob(filepath.Join(c.paths.Stages, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read kwok stage: %w", err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
		buf.WriteString("\n")
	}
	buf.WriteString("---\n")
	buf.Write(simulationStages)
	return os.WriteFile(c.file("kwok-stages.yaml"), buf.Bytes(), 0o644)
}

func (c *Cluster) waitHealthy(ctx context.Context, p *process, url string) error {
	client := healthClient(c.file("ca.crt"))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("process exited: %s\n%s", p.exitErr(), tail(p.logPath, 30))
		}
		req, err := newRequest(ctx, url)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
}

func (c *Cluster) createNodes(ctx context.Context, n int) error {
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				"kwok.x-k8s.io/node":           "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": runtime.GOARCH, "type": "kwok",
			},
		}}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == n, nil
	})
}

//go:embed stages/traderx-simulations.yaml
var simulationStages []byte

// sourceDir is the directory of this package's source, where build.sh and the
// wrapper modules live, so tests run from any package directory. Binaries
// built with -trimpath have no such path: they must get TRADERX_CLUSTER_DIR.
func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Paths locate the built binaries and kwok's stage files.
type Paths struct {
	Bin, Stages string
}

// DirEnv names a directory produced by build.sh; when set, Build trusts it and
// runs nothing (the Makefile builds once and exports it).
const DirEnv = "TRADERX_CLUSTER_DIR"

// Build runs build.sh (a no-op when the cache is warm) and returns the paths.
func Build(ctx context.Context, logf func(string, ...any)) (Paths, error) {
	dir := os.Getenv(DirEnv)
	if dir == "" {
		logf("building the local control plane (first time ~13 min on 2 cores; cached afterwards)")
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(sourceDir(), "build.sh"))
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return Paths{}, fmt.Errorf("build the control plane (test/cluster/build.sh): %w", err)
		}
		dir = strings.TrimSpace(stdout.String())
	}
	p := Paths{Bin: filepath.Join(dir, "bin"), Stages: filepath.Join(dir, "stages")}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(p.Bin, b)); err != nil {
			return Paths{}, fmt.Errorf("control plane binary missing (%w); run test/cluster/build.sh", err)
		}
	}
	return p, nil
}
