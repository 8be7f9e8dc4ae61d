// Package rulecheck holds tests that run promtool on the TraderX alert rules,
// including ones that prove a broken rule makes the checks fail.
package rulecheck
