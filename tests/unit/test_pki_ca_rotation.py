"""The cluster CA's rotation on the Ansible machine (role automq_pki, entry points ``ca``
and ``ca_rotation_done``), run by real Ansible on localhost against a temporary CA
directory: the phases in order, each refused out of order (nothing changed), the bundle of
trusted CAs (the same bytes before and after the switch), and every step safe to run again.
Entry point ``ca_check``: no new CA while hosts hold certificates from the current one.

What the hosts do with each phase (trust, re-issued leaves, rolling restarts, the old
CA trusted nowhere) is shown by the Molecule upgrade scenario under traffic.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playbook_runner import PlaybookRun, localhost_inventory, private_dir_in, run_playbook

REPO = Path(__file__).resolve().parents[2]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: automq_pki
        tasks_from: ca
    - ansible.builtin.copy:
        content: "{{ automq_pki_ca | to_json }}"
        dest: "{{ published }}"
        mode: "0600"
      changed_when: false  # the test's own record
    - ansible.builtin.include_role:
        name: automq_pki
        tasks_from: ca_rotation_done
      when: done | default(false) | bool
"""


def run_entry_point(
    tmp_path: Path, playbook_text: str, name: str, rotation: str, **variables: object
) -> PlaybookRun:
    """One run of ``playbook_text`` on localhost against the CA directory tmp_path/ca."""
    playbook = tmp_path / name
    playbook.write_text(playbook_text)
    extra = {
        "automq_pki_cluster_name": "rot",
        "automq_pki_ca_dir": str(tmp_path / "ca"),
        "automq_pki_ca_rotation": rotation,
        "ansible_python_interpreter": sys.executable,
        **variables,
    }
    return run_playbook(
        private_dir_in(tmp_path), playbook, inventory=localhost_inventory(tmp_path), extravars=extra
    )


def run(
    tmp_path: Path, rotation: str = "", done: bool = False, **variables: object
) -> tuple[int, str, dict]:
    """One run; rc, output and the published automq_pki_ca (empty when it failed)."""
    published = tmp_path / "published.json"
    published.unlink(missing_ok=True)
    done_run = run_entry_point(
        tmp_path, PLAYBOOK, "play.yml", rotation, published=str(published), done=done, **variables
    )
    facts = json.loads(published.read_text()) if published.exists() else {}
    return done_run.rc, done_run.transcript, facts


CHECK_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: automq_pki
        tasks_from: ca_check
"""


def check(tmp_path: Path, holders: list[str], rotation: str = "") -> tuple[int, str]:
    """One run of the entry point ca_check; rc and output."""
    done_run = run_entry_point(
        tmp_path, CHECK_PLAYBOOK, "check.yml", rotation, automq_pki_ca_holders=holders
    )
    return done_run.rc, done_run.transcript


def refused(tmp_path: Path, rotation: str, message: str) -> None:
    """The run with this phase fails, saying ``message``."""
    rc, output, _ = run(tmp_path, rotation)
    assert rc != 0
    assert message in output


def subjects(pem: str) -> list[str]:
    return [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(pem.encode())]


def files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "ca").iterdir())


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    rc, output, facts = run(tmp_path)
    assert rc == 0, output
    assert files(tmp_path) == ["ca.crt", "ca.key", "trust.crt"]
    assert facts["trust"] == str(tmp_path / "ca" / "trust.crt")
    assert facts["trust_pem"] == (tmp_path / "ca" / "ca.crt").read_text()
    return tmp_path


def test_the_three_phases_in_order(ca: Path) -> None:
    old = (ca / "ca" / "ca.crt").read_text()
    old_key = (ca / "ca" / "ca.key").read_bytes()
    before = {p.name: p.read_bytes() for p in (ca / "ca").iterdir()}
    # The role's argument spec refuses it, naming the variable and the choices.
    refused(
        ca, "rotate", "automq_pki_ca_rotation must be one of: , start, switch, finish, got: rotate"
    )
    refused(ca, "switch", "run start first")
    assert {p.name: p.read_bytes() for p in (ca / "ca").iterdir()} == before, "refused: untouched"

    rc, output, facts = run(ca, "start")
    assert rc == 0, output
    new = (ca / "ca" / "ca-next.crt").read_text()
    assert subjects(new) != subjects(old), "the next CA has a name of its own"
    assert facts["trust_pem"] == old + new == (ca / "ca" / "trust.crt").read_text()
    assert (ca / "ca" / "ca.crt").read_text() == old, "the old CA still signs"
    # Again: the next CA is kept, nothing else changes.
    rc, output, again = run(ca, "start")
    assert (rc, again["trust_pem"]) == (0, old + new), output
    assert "changed=0" in output
    # Not yet: start has not been completed on every host.
    refused(ca, "switch", "run start first, or run it again until it completes on every host")
    rc, output, _ = run(ca, "start", done=True)
    assert rc == 0, output
    assert (ca / "ca" / "ca-rotation.state").read_text() == "start\n"

    rc, output, facts = run(ca, "switch")
    assert rc == 0, output
    assert (ca / "ca" / "ca.crt").read_text() == new, "the new CA signs"
    assert (ca / "ca" / "ca-previous.crt").read_text() == old
    assert (ca / "ca" / "ca-previous.key").read_bytes() == old_key
    assert facts["trust_pem"] == old + new, "the bundle keeps its bytes: no change on the hosts"
    assert files(ca) == ["ca-previous.crt", "ca-previous.key", "ca.crt", "ca.key", "trust.crt"]
    rc, output, _ = run(ca, "switch")  # an interrupted run resumes: nothing left to move
    assert rc == 0, output
    assert "changed=0" in output
    refused(ca, "finish", "run switch first, or run it again until it completes on every host")
    refused(ca, "start", "run switch, then finish, first")
    assert run(ca, "switch", done=True)[0] == 0

    rc, output, facts = run(ca, "finish")
    assert rc == 0, output
    assert facts["trust_pem"] == new == (ca / "ca" / "trust.crt").read_text()
    assert files(ca) == ["ca.crt", "ca.key", "trust.crt"], "the old CA's files are gone"
    rc, output, _ = run(ca, "finish")
    assert rc == 0, output
    assert "changed=0" in output
    # A later rotation starts from here.
    rc, output, facts = run(ca, "start")
    assert rc == 0, output
    assert subjects(facts["trust_pem"])[0] == subjects(new)[0]


def test_a_switch_interrupted_between_its_moves_resumes(ca: Path) -> None:
    old = (ca / "ca" / "ca.crt").read_text()
    assert run(ca, "start", done=True)[0] == 0
    new = (ca / "ca" / "ca-next.crt").read_text()
    # The run died after moving the current pair away and the next key into place.
    (ca / "ca" / "ca.key").rename(ca / "ca" / "ca-previous.key")
    (ca / "ca" / "ca.crt").rename(ca / "ca" / "ca-previous.crt")
    (ca / "ca" / "ca-next.key").rename(ca / "ca" / "ca.key")
    # A site.yml now (no rotation step) would create a new CA: refused, naming the resume.
    rc, output = check(ca, ["node-1"])
    assert rc != 0
    assert "The switch of a CA rotation was interrupted" in " ".join(output.split())
    assert "Restore the CA" not in output
    assert check(ca, ["node-1"], "switch")[0] == 0
    rc, output, facts = run(ca, "switch")
    assert rc == 0, output
    assert (ca / "ca" / "ca.crt").read_text() == new
    assert (ca / "ca" / "ca-previous.crt").read_text() == old
    assert facts["trust_pem"] == old + new


def test_no_new_ca_while_hosts_hold_certificates_from_the_current_one(tmp_path: Path) -> None:
    """Run from another Ansible machine (or an AWX job's fresh container) the CA is not
    there: the check refuses while hosts run TLS, names them, the path and the fix, and
    creates nothing; without such hosts (a first deploy, a migration's first phase) it
    passes, and with the CA's files restored it passes."""
    rc, output = check(tmp_path, ["node-1", "node-2"])
    message = " ".join(output.split())
    assert rc != 0
    assert "node-1, node-2 already run TLS with certificates from the cluster CA" in message
    assert f"automq_pki_ca_cert ({tmp_path / 'ca' / 'ca.crt'}) does not exist" in message
    assert "so nothing was changed" in message
    assert "Restore the CA's files (ca.crt and ca.key" in message
    assert "rotation was interrupted" not in message
    assert not (tmp_path / "ca").exists()
    assert check(tmp_path, [])[0] == 0
    assert not (tmp_path / "ca").exists()
    rc, output, _ = run(tmp_path)
    assert rc == 0, output
    assert check(tmp_path, ["node-1", "node-2"])[0] == 0


def own_ca(directory: Path, passphrase: str, is_ca: bool = True) -> tuple[Path, Path]:
    """A self-signed certificate and its key, encrypted with ``passphrase``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "own CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "own.crt", directory / "own.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    return cert_path, key_path


def test_an_own_ca_is_checked_on_the_ansible_machine(tmp_path: Path) -> None:
    """The user's CA (automq_pki_ca_create false): accepted with its passphrase; refused,
    naming the variables and without the passphrase, with a wrong one, with another CA's
    key, or when the certificate is no CA."""
    cert, key = own_ca(tmp_path / "own", "right horse battery")
    mine = {"automq_pki_ca_create": False, "automq_pki_ca_cert": str(cert)}
    rc, output, facts = run(
        tmp_path, automq_pki_ca_key=str(key), automq_pki_ca_key_passphrase="right horse battery",
        **mine,
    )  # fmt: skip
    assert rc == 0, output
    assert facts["subject"] == {"commonName": "own CA"}
    rc, output, _ = run(
        tmp_path, automq_pki_ca_key=str(key), automq_pki_ca_key_passphrase="wrong staple", **mine
    )
    assert rc != 0
    assert "The cluster CA is not usable: automq_pki_ca_cert (" in output
    assert "could not be read" in output
    assert "wrong staple" not in output
    _, other_key = own_ca(tmp_path / "other", "right horse battery")
    rc, output, _ = run(
        tmp_path, automq_pki_ca_key=str(other_key),
        automq_pki_ca_key_passphrase="right horse battery", **mine,
    )  # fmt: skip
    assert rc != 0
    assert "its private key, readable with automq_pki_ca_key_passphrase" in output
    leaf, leaf_key = own_ca(tmp_path / "leaf", "right horse battery", is_ca=False)
    rc, output, _ = run(
        tmp_path, automq_pki_ca_key=str(leaf_key),
        automq_pki_ca_key_passphrase="right horse battery",
        automq_pki_ca_create=False, automq_pki_ca_cert=str(leaf),
    )  # fmt: skip
    assert rc != 0
    assert "must be a CA certificate (basicConstraints CA:TRUE)" in output
    assert "right horse battery" not in output
