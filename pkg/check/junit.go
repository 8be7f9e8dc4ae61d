package check

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The JUnit types follow the de-facto schema that Jenkins, GitLab and GitHub
// test reporters read; only the attributes they use are written.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	TestCases  []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func renderJUnit(w io.Writer, r Report, o RenderOptions) error {
	doc := junitSuites{Name: strings.TrimSpace("traderx " + r.Kind + " " + r.Environment)}
	// Which cluster was judged rides on every suite: properties belong to a
	// testsuite in the schema CI reporters read.
	var props *junitProperties
	if c := r.Cluster; c != nil {
		props = &junitProperties{[]junitProperty{{"cluster.context", c.Context}, {"cluster.server", c.Server}, {"cluster.source", c.Source}}}
	}
	for _, g := range groups(r.Checks, func(c Check) string { return c.Suite }) {
		s := junitSuite{Name: g.key, Properties: props}
		for _, c := range g.checks {
			tc := junitCase{
				ClassName: "traderx." + r.Kind + "." + g.key,
				Name:      junitName(c),
			}
			switch c.Status {
			case StatusPass:
			case StatusSkip:
				tc.Skipped = &junitSkipped{Message: c.Message}
				s.Skipped++
			case StatusWarn:
				tc.SystemOut = "WARN: " + c.Message
				if o.FailOn == FailOnWarn {
					tc.Failure = &junitFailure{Message: c.Message, Type: string(c.Status), Body: c.Hint}
					s.Failures++
				}
			default:
				tc.Failure = &junitFailure{Message: c.Message, Type: string(StatusFail), Body: c.Hint}
				s.Failures++
			}
			s.Tests++
			s.TestCases = append(s.TestCases, tc)
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}

	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report as JUnit XML: %w", err)
	}
	return write(w, append(append([]byte(xml.Header), b...), '\n'))
}

// junitName names a test case "<name> <target>": CI views already list test
// cases under their suite, so the check leads.
func junitName(c Check) string {
	return strings.TrimSpace(c.Name + " " + c.Target)
}
