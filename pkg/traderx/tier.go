package traderx

import (
	"slices"
	"sort"
)

// Tier is a step of the ordered apply: everything in a tier may be applied at
// once, and the next tier starts only when this one is healthy.
type Tier struct {
	Number   int
	Services []string
}

// NamespaceTier holds the namespace; the ingress comes after the last service tier.
const NamespaceTier = 0

// TierOf returns the apply tier of a service: 1 for services without
// dependencies, one more than the deepest dependency otherwise, and front ends
// after every backend. Unknown names get -1.
func TierOf(name string) int {
	s, ok := serviceByName(name)
	if !ok {
		return -1
	}
	if s.Frontend {
		return maxBackendTier() + 1
	}
	t := 1
	for _, d := range s.Dependencies() {
		t = max(t, TierOf(d)+1)
	}
	return t
}

// IngressTier is the tier of the ingress: after every service.
func IngressTier() int {
	t := 0
	for _, s := range services {
		t = max(t, TierOf(s.Name))
	}
	return t + 1
}

func maxBackendTier() int {
	t := 0
	for _, s := range services {
		if !s.Frontend {
			t = max(t, TierOf(s.Name))
		}
	}
	return t
}

func serviceByName(name string) (Service, bool) {
	i := slices.IndexFunc(services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return services[i], true
}

// Tiers returns the service tiers in apply order; each tier's services keep the
// upstream documentation order.
func Tiers() []Tier {
	byNum := map[int][]string{}
	for _, s := range services {
		byNum[TierOf(s.Name)] = append(byNum[TierOf(s.Name)], s.Name)
	}
	var nums []int
	for n := range byNum {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	var out []Tier
	for _, n := range nums {
		out = append(out, Tier{Number: n, Services: byNum[n]})
	}
	return out
}

// ReverseTiers returns Tiers in reverse order, for rollbacks and teardown.
func ReverseTiers() []Tier {
	t := Tiers()
	slices.Reverse(t)
	return t
}
