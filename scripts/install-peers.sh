#!/usr/bin/env bash
# install-peers.sh installs the real Debian programs the tests talk to (see
# ../shared/PEERS.md). Tests skip a missing peer on a laptop and fail under
# CI=true, so CI runs this first as root. Idempotent: a second run only asks
# dpkg and takes about a second. It never starts a service: tests run every peer
# in the foreground on a loopback port and stop it themselves.
set -euo pipefail

packages=(
	# syslog senders and the journal; log rotation for the collector's tests
	rsyslog bsdutils systemd systemd-journal-remote logrotate
	# cgo for go-sqlite3, and an independent reader of our database; make
	# builds logsurfer 1.8 (internal/peers/logsurfer), the rule engine's oracle
	gcc libc6-dev make sqlite3
	# DNS probes: authoritative, resolver, client
	nsd unbound ldnsutils
	# SMTP probes and mail alerts
	postfix swaks python3-aiosmtpd
	# SMTP round trip read back over IMAP and POP3
	dovecot-imapd dovecot-pop3d
	# metrics: munin compatibility, consolidation oracle, plugins, side-by-side peers
	munin-node munin-plugins-core rrdtool monitoring-plugins-basic
	victoria-metrics prometheus-node-exporter
	# web statistics oracles, rule engine oracle, access-log source
	goaccess awstats sec nginx
	# load and timing
	wrk hyperfine hey
	# dashboard tests
	chromium fonts-dejavu-core
	# ping checks in network namespaces: veth, addresses, a deterministic drop
	iproute2 nftables
)

start=$SECONDS

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
	# One dpkg-query for all packages: unknown names only print to stderr, so
	# anything not reported as installed is missing.
	declare -A installed=()
	while IFS=$'\t' read -r pkg status; do
		[[ $status == "install ok installed" ]] && installed[$pkg]=1
	done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${packages[@]}" 2>/dev/null || true)
	for p in "${packages[@]}"; do
		[[ -n ${installed[$p]:-} ]] || missing+=("$p")
	done
else
	missing=("${packages[@]}")
fi

if ((${#missing[@]} == 0)); then
	echo "install-peers: all ${#packages[@]} peer packages present ($((SECONDS - start)) s)"
	exit 0
fi

if [[ ! -f /etc/debian_version || $(id -u) -ne 0 ]]; then
	echo "install-peers: not root on Debian; not installing. Missing peer packages:" >&2
	echo "  ${missing[*]}" >&2
	echo "install-peers: tests needing them will skip (or fail under CI=true)." >&2
	exit 0
fi

echo "install-peers: installing ${missing[*]}"

# Debian's maintainer scripts start services through invoke-rc.d unless a
# policy-rc.d forbids it (exit 101). Install one for the duration only, and
# leave an existing one alone.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

# postfix asks interactive questions at install time; answer them first.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
	debconf-set-selections <<'DEBCONF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string localhost
DEBCONF
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

echo "install-peers: done in $((SECONDS - start)) s"
