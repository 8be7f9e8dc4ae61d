package hint_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cmd/cub"
	"github.com/finos/traderx-plugins/pkg/cmd/kubectl"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/hint/hinttest"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// every returns each builder's commands for every environment and service
// (and the options they take), keyed by the builder's name.
func every() map[string][]hint.Command {
	envs := traderx.EnvironmentNames()
	out := map[string][]hint.Command{}
	add := func(name string, c ...hint.Command) { out[name] = append(out[name], c...) }
	add("Install", hint.Install(), hint.Install("dev"), hint.Install(envs...))
	add("Promote", hint.Promote("dev", "staging"), hint.Promote("staging", "prod"))
	add("ConfigView", hint.ConfigView())
	add("AuditVerify", hint.AuditVerify())
	for _, e := range envs {
		add("Apply", hint.Apply(e), hint.Apply(e, traderx.ServiceNames()...))
		add("Status", hint.Status(e))
		add("StatusRefresh", hint.StatusRefresh(e))
		add("History", hint.History(e))
		add("Rollback", hint.Rollback(e, 0), hint.Rollback(e, 4, "trade-service"))
		add("Health", hint.Health(e))
		add("Validate", hint.Validate(e))
		add("Manifests", hint.Manifests(e))
		add("SetContext", hint.SetContext(e, hint.Context), hint.SetContext(e, "kind-prod"))
		add("InProject", hint.Apply(e).InProject("acme"), hint.Rollback(e, 2).InProject(traderx.DefaultProject),
			hint.Health(e).InProject("acme"))
		for _, s := range traderx.Services() {
			add("SetImage", hint.SetImage(e, s.Name, hint.Tag, s.BlueGreen), hint.SetImage(e, s.Name, "1.2.0", false))
			if s.BlueGreen {
				add("BlueGreen", hint.BlueGreen(s.Name, hint.Version, e))
				add("BlueGreenAbort", hint.BlueGreenAbort(s.Name, e))
				add("Canary", hint.Canary(s.Name, hint.Version, e))
				add("CanaryPromote", hint.CanaryPromote(s.Name, e))
				add("CanaryAbort", hint.CanaryAbort(s.Name, e))
			}
		}
	}
	return out
}

// TestEveryHintParses: every command the builders make parses through the
// plugins' real command trees.
func TestEveryHintParses(t *testing.T) {
	for name, cmds := range every() {
		for _, c := range cmds {
			if err := hinttest.Parse(c.String()); err != nil {
				t.Errorf("%s: `%s` does not parse: %v", name, c, err)
			}
		}
	}
}

// TestEveryBuilderIsCovered: an exported builder without commands in every()
// would go untested, so each one the package declares must have some.
func TestEveryBuilderIsCovered(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	covered := every()
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || !fn.Name.IsExported() || fn.Name.Name == "String" {
					continue
				}
				if len(covered[fn.Name.Name]) == 0 {
					t.Errorf("hint.%s builds commands nobody parses: add them to every()", fn.Name.Name)
				}
			}
		}
	}
}

// TestParseCatchesWrongCommands: the parse above fails for what a drifted
// hint would say, so the tests that lean on it can fail.
func TestParseCatchesWrongCommands(t *testing.T) {
	for _, line := range []string{
		"cub traderx blue-green dev trade-service <version>", // the order of set-image's old hint
		"cub traderx apply dev --service trade-service",      // no such flag
		"cub traderx apply dev --services trade",             // no such service
		"cub traderx rollback trade-service dev",             // service where the environment goes
		"cub traderx status",                                 // missing argument
		"cub traderx deploy dev",                             // no such command
		"kubectl traderx health dev --refresh",               // a cub flag on kubectl
		"cub traderx set-image trade-service dev 1.2.0",      // swapped
		"cub auth login",                                     // not ours
	} {
		if err := hinttest.Parse(line); err == nil {
			t.Errorf("`%s` parsed; want an error", line)
		}
	}
}

// TestExamplesParse: the commands in every Example are commands too.
func TestExamplesParse(t *testing.T) {
	roots := []*cobra.Command{
		cub.NewRootCommand(genericiooptions.NewTestIOStreamsDiscard()),
		kubectl.NewRootCommand(genericiooptions.NewTestIOStreamsDiscard()),
	}
	n := 0
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, l := range strings.Split(c.Example, "\n") {
			for _, seg := range strings.Split(l, "|") { // each command of a pipeline, without its redirection
				seg, _, _ = strings.Cut(strings.TrimSpace(seg), " >")
				if strings.HasPrefix(seg, hint.Cub+" ") || strings.HasPrefix(seg, hint.Kubectl+" ") {
					n++
					if err := hinttest.Parse(unquote(seg)); err != nil {
						t.Errorf("example of %s: `%s` does not parse: %v", c.CommandPath(), seg, err)
					}
				}
			}
		}

		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	if n < 20 {
		t.Errorf("found %d example commands; the walk is broken", n)
	}
}

// unquote joins a quoted flag value into one word: strings.Fields would
// split `--change-desc "fix pricing"`.
var quoted = regexp.MustCompile(`"[^"]*"`)

func unquote(l string) string {
	return quoted.ReplaceAllStringFunc(l, func(q string) string {
		s, _ := strconv.Unquote(q)
		return strings.ReplaceAll(s, " ", "_")
	})
}

// suggestion is a command of either plugin in Go source, written by hand:
// "cub traderx " or "kubectl traderx " followed by a subcommand.
var suggestion = regexp.MustCompile(`(cub|kubectl) traderx [a-z]`)

// TestHintsComeFromHere: no string outside this package spells a command of
// the plugins itself, except the help texts of the commands (Long, Example),
// which the gendocs and Example tests cover.
func TestHintsComeFromHere(t *testing.T) {
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && filepath.Base(path) == "hint" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		help := map[ast.Node]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && (k.Name == "Long" || k.Name == "Example") {
					markLits(n.Value, help)
				}
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if strings.HasSuffix(name.Name, "Example") && i < len(n.Values) {
						markLits(n.Values[i], help)
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if ok && lit.Kind == token.STRING && !help[lit] && suggestion.MatchString(lit.Value) {
				t.Errorf("%s: %s spells a command by hand; build it with pkg/hint", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func markLits(n ast.Node, into map[ast.Node]bool) {
	ast.Inspect(n, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok {
			into[lit] = true
		}
		return true
	})
}
