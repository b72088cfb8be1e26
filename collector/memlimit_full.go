//go:build !agent

package collector

// memoryLimit is the full binary's soft memory limit for `collect`.
const memoryLimit = 16 << 20
