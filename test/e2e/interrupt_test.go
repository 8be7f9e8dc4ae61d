//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/hint/hinttest"
	"github.com/finos/traderx-plugins/test/cluster"
)

// TestCubInterruptResumes: Ctrl-C during an apply that waits (a unit the
// worker never finds ready) stops the waits at once, queues nothing more in
// ConfigHub, ends with exit 130 and one error line naming the command that
// resumes; that command parses, and once the cause is gone it completes the
// apply.
func TestCubInterruptResumes(t *testing.T) {
	cluster.Require(t, testCluster)
	const project = "intr"
	h := newHub(t, project)
	p := installCubPlugin(t)
	home := t.TempDir()
	p.env = []string{"CUB_PLUGIN=1", "CUB_CONTEXT=e2e", "CUB_CONFIG=" + filepath.Join(home, ".confighub"), "HOME=" + home,
		"XDG_STATE_HOME=" + filepath.Join(home, "state"), "KUBECONFIG=" + testCluster.Kubeconfig, "NO_COLOR=1",
		"CUB_SERVER=" + h.URL, "CUB_TOKEN=" + h.Token, "TRADERX_PROJECT=" + project}
	if r := p.run(t, "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	space := project + "-dev"
	h.workers[space].SetNeverReady(faultUnit, true)
	peopleApply := "/unit/" + unitIDIn(t, h, space, faultUnit).String() + "/apply"

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.dir, p.entrypoint), "apply", "dev", "--settle", "1s", "--timeout", "180s")
	cmd.Env = append(os.Environ(), p.env...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the apply of the never-ready unit is queued and waited for.
	for !queued(h.Requests(), peopleApply) {
		if ctx.Err() != nil {
			t.Fatalf("the apply of %s was never queued:\n%s", faultUnit, errOut.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	n, signalled := len(h.Requests()), time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(signalled)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != cli.ExitInterrupted {
		t.Fatalf("exit %d after SIGINT, want %d:\n%s", code, cli.ExitInterrupted, errOut.String())
	}
	if took > 5*time.Second {
		t.Errorf("the apply took %s to stop after SIGINT; its waits should stop at once", took)
	}
	for _, r := range h.Requests()[n:] {
		if r.Method != "GET" {
			t.Errorf("after SIGINT the apply still sent %s %s", r.Method, r.Path)
		}
	}
	var errLines []string
	for _, l := range strings.Split(errOut.String(), "\n") {
		if strings.HasPrefix(l, "error:") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "interrupted by SIGINT") {
		t.Fatalf("want one error line saying it was interrupted, got:\n%s", errOut.String())
	}
	t.Logf("after SIGINT: %s", errLines[0])
	_, resume, ok := strings.Cut(errLines[0], "resume with: ")
	if want := hint.Apply("dev").InProject(project).String(); !ok || resume != want {
		t.Fatalf("resume command %q, want %q:\n%s", resume, want, errLines[0])
	}
	if err := hinttest.Parse(resume); err != nil {
		t.Fatalf("the resume command %q does not parse: %v", resume, err)
	}

	// The cause fixed, the printed command completes the apply (tuned only
	// so the test does not wait out the default settle).
	h.workers[space].SetNeverReady(faultUnit, false)
	args := append(strings.Fields(strings.TrimPrefix(resume, hint.Cub+" ")), "--settle", "1s", "--timeout", "90s")
	if r := p.run(t, args...); r.code != 0 || !strings.Contains(r.stdout, "dev: applied") || !strings.Contains(r.stdout, "release 1 recorded") {
		t.Fatalf("%s: exit %d\n%s%s", resume, r.code, r.stdout, r.stderr)
	}
}

// queued reports whether an apply was posted to path (a unit's apply path).
func queued(reqs []confighubtest.Request, path string) bool {
	for _, r := range reqs {
		if r.Method == "POST" && strings.HasSuffix(r.Path, path) {
			return true
		}
	}
	return false
}
