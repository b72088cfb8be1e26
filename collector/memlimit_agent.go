//go:build agent

package collector

// memoryLimit is the agent build's soft memory limit: without the
// loghost's package-level data (the web statistics' crawler patterns
// alone keep 1 MB) it needs less room, and with a thousand files followed
// 12 MiB keeps its RSS under 15 MB (bench/collect-rotate.sh memory;
// 10 MiB left the collector collecting garbage most of the time).
const memoryLimit = 12 << 20
