package command

import (
	"fmt"
	"math/big"
	"strings"
)

// parseCPU reads CPU as millicores ("500m") or cores ("0.5", "2"), and
// returns millicores. Anything finer than a millicore is refused rather
// than rounded.
func parseCPU(s string) (uint32, error) {
	if milli, ok := strings.CutSuffix(s, "m"); ok {
		return whole(milli, 1, "--cpu", "millicores such as 500m or cores such as 0.5")
	}
	return whole(s, 1000, "--cpu", "millicores such as 500m or cores such as 0.5")
}

// parseMemory reads memory in MiB ("512Mi") or GiB ("1Gi"), and returns
// MiB. M and G are read as Mi and Gi, as people mean them; a bare number
// is refused, since its unit would be a guess.
func parseMemory(s string) (uint32, error) {
	units := []struct {
		suffix string
		mib    int64
	}{{"Mi", 1}, {"Gi", 1024}, {"M", 1}, {"G", 1024}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			return whole(n, u.mib, "--memory", "a size such as 512Mi or 1Gi")
		}
	}
	return 0, usageErrorf("--memory %q needs a unit: give a size such as 512Mi or 1Gi.", s)
}

// whole returns the decimal s times scale when that is a whole number
// greater than zero that fits in 32 bits.
func whole(s string, scale int64, flag, want string) (uint32, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "eE/") || r.Sign() <= 0 {
		return 0, usageErrorf("%s %q is not a positive amount: give %s.", flag, s, want)
	}
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() || r.Num().BitLen() > 32 {
		return 0, usageErrorf("%s %q is not a whole number of the smallest unit, or too large: give %s.", flag, s, want)
	}
	return uint32(r.Num().Uint64()), nil
}

// formatCPU shows millicores as people write them: 500m, or 2 for whole
// cores.
func formatCPU[N ~uint32 | ~uint64](milli N) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}

// formatMemory shows MiB as 512Mi, or 2Gi for whole GiB.
func formatMemory[N ~uint32 | ~uint64](mib N) string {
	if mib != 0 && mib%1024 == 0 {
		return fmt.Sprintf("%dGi", mib/1024)
	}
	return fmt.Sprintf("%dMi", mib)
}
