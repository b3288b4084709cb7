// Package policies is stint's baseline of Conditional Access policies for
// contractors, in Graph's own conditionalAccessPolicy JSON (v1.0), one
// policy per file, built into the binaries. pkg/policy fills in the
// targets (every allow-listed group), the exclusions (the break-glass
// accounts), the allowed apps and the sign-in frequency from the
// configuration; see the README's "Conditional Access".
package policies

import "embed"

// Baseline holds the *.json files of this directory.
//
//go:embed *.json
var Baseline embed.FS
