#!/usr/bin/env bash
# Runs inside the debootstrapped root (chroot) to turn it into a host that
# behaves like a fresh ECS instance: a sudo-capable deploy user reached by SSH
# key only, unique SSH host keys per container, no getty noise.
set -euo pipefail

useradd --create-home --shell /bin/bash deploy
install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy
chmod 0440 /etc/sudoers.d/deploy

cat > /etc/ssh/sshd_config.d/testbed.conf <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
CONF

# Each container generates its own host keys at first start.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/hostkeys.conf <<'CONF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
CONF
systemctl enable ssh.service

# Units that make no sense in a container.
systemctl mask getty@tty1.service console-getty.service systemd-firstboot.service \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-modules-load.service sys-kernel-config.mount
: > /etc/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/*
# Like a fresh cloud image: package lists older than any cache_valid_time.
touch -d @0 /var/lib/apt/lists
