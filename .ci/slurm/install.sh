#!/usr/bin/env bash
# Install the system services of the Slurm cluster test (Debian 12: Slurm 22.05, munge, MariaDB
# for slurmdbd accounting). Idempotent; the test suite starts and stops the daemons itself
# (tests/slurm_cluster.py), so nothing is started here.
set -euo pipefail
need=()
for bin in slurmctld slurmd slurmdbd munged mariadbd; do
    command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
if [ ${#need[@]} -eq 0 ]; then
    echo "slurm: already installed"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages' own init scripts from starting daemons during install
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends slurm-wlm slurmdbd munge mariadb-server mariadb-client >/dev/null
rm -f /usr/sbin/policy-rc.d
echo "slurm: installed $(slurmctld -V)"
