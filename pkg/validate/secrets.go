package validate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// credentialName matches variables that carry a credential; their value must
// come from a Secret, never a literal in unit data (which ConfigHub stores and
// shows to everyone who can read the unit).
var credentialName = regexp.MustCompile(`(?i)(PASS|PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|API_KEY|CREDENTIALS?)$`)

// secretsSuite checks that credentials are Secret references: the model's
// Secret exists (live; metadata only, values are never read), every service
// that needs it references the right keys, and no container carries a
// credential as a literal value.
func secretsSuite(v *view) []check.Check {
	const suite = SuiteSecrets
	var out []check.Check
	for _, name := range traderx.RequiredSecrets() {
		target := "secret/" + name
		hint := fmt.Sprintf("create it (it is never a ConfigHub unit): kubectl -n %s create secret generic %s --from-literal=username=<user> --from-literal=password=<password>", v.Namespace, name)
		switch {
		case !v.live:
			out = append(out, skip(suite, "secret-exists", target, v.offline+": Secrets are not ConfigHub units; checked live only"))
		case v.secrets == nil:
			out = append(out, skip(suite, "secret-exists", target, "Secret metadata was not read"))
		case v.secrets[name]:
			out = append(out, pass(suite, "secret-exists", target, "Secret %s exists (metadata only; values not read)", name))
		default:
			out = append(out, fail(suite, "secret-exists", target, hint, "Secret %s not found in namespace %s: the pods that reference it cannot start", name, v.Namespace))
		}
	}
	for _, m := range v.deploymentsInOrder() {
		target := "deployment/" + m.d.Name
		if m.svc != nil && len(m.svc.SecretEnv) > 0 {
			out = append(out, secretRefs(suite, target, v.env.Name, m))
		}
		var literal []string
		for _, c := range allContainers(m.d) {
			for _, e := range c.Env {
				if credentialName.MatchString(e.Name) && e.ValueFrom == nil {
					literal = append(literal, strings.TrimSpace(containerField(m.d, c, e.Name)))
				}
			}
		}
		if len(literal) > 0 {
			out = append(out, fail(suite, "no-literal-credentials", target,
				"reference a Secret key (valueFrom.secretKeyRef) instead: unit data is stored and shown by ConfigHub",
				"credential read from a literal env value: %s", strings.Join(literal, ", ")))
		} else {
			out = append(out, pass(suite, "no-literal-credentials", target, "no credential in a literal env value"))
		}
	}
	return out
}

func secretRefs(suite, target, env string, m modelled) check.Check {
	refs := map[string]struct{ secret, key, literal string }{}
	for _, c := range m.d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				refs[e.Name] = struct{ secret, key, literal string }{e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, ""}
			case e.ValueFrom == nil:
				refs[e.Name] = struct{ secret, key, literal string }{literal: e.Value}
			}
		}
	}
	var problems []string
	for _, want := range m.svc.SecretEnv {
		got, ok := refs[want.Name]
		switch {
		case !ok:
			problems = append(problems, want.Name+" missing")
		case got.secret == "":
			problems = append(problems, want.Name+" is a literal value, not a Secret reference")
		case got.secret != want.Secret || got.key != want.Key:
			problems = append(problems, fmt.Sprintf("%s reads %s/%s, want %s/%s", want.Name, got.secret, got.key, want.Secret, want.Key))
		}
	}
	if len(problems) > 0 {
		return fail(suite, "secret-references", target,
			fmt.Sprintf("restore the secretKeyRef entries the model renders (%s)", hint.Manifests(env)),

			"%s", strings.Join(problems, "; "))
	}
	var names []string
	for _, e := range m.svc.SecretEnv {
		names = append(names, e.Name)
	}
	return pass(suite, "secret-references", target, "%s read from Secret %s", strings.Join(names, ", "), m.svc.SecretEnv[0].Secret)
}
