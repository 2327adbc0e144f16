"""The emulator: threaded HTTP servers (RPC products, OSS, OSS's S3 data plane) over one state.

RPC (ECS, VPC, RAM, PrivateZone, STS) answers on one port and dispatches on
the ``x-acs-version``/``x-acs-action`` headers (or the classic ``Version`` and
``Action`` parameters); OSS answers path-style requests on a second port; the
S3-compatible data plane (``s3.py``) answers virtual-hosted requests over HTTPS
(and, when configured, plain HTTP) on its own address.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import ipaddress
import json
import logging
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import containers, ecs, network, pvtz, ram, vpc
from .auth import Principal, parse_query, verify_acs3, verify_oss4, verify_rpc_v1
from .call import Call, CallRecord, Handler
from .oss import OssRequest, OssService, error_response
from .policy import RequestContext, UnsupportedCondition, evaluate
from .s3 import S3Service
from .state import AccessKey, Instance, State
from .tls import TlsFiles, ensure_tls_files
from .util import ApiError, Params, random_string, request_id, utcnow

LOG = logging.getLogger("alicloud_emulator")

DEFAULT_IMAGE_ID = "debian_12_x64_20G_alibase_20260101.vhd"
DEFAULT_DOCKER_IMAGE = "automq-testbed-host:current"
# The environment variable `python -m tests.alicloud_emulator` reads the account's
# AccessKey secret from (kept off its command line).
SECRET_ENV = "AUTOMQ_EMULATOR_ACCESS_KEY_SECRET"
DEFAULT_INSTANCE_TYPES = (
    "ecs.g7.large",
    "ecs.g7.xlarge",
    "ecs.g7.2xlarge",
    "ecs.g7.4xlarge",
    "ecs.g8i.large",
    "ecs.g8i.xlarge",
    "ecs.g8i.2xlarge",
    "ecs.g8i.4xlarge",
    "ecs.r7.large",
    "ecs.r7.xlarge",
    "ecs.r7.2xlarge",
    "ecs.c7.large",
    "ecs.c7.xlarge",
    "ecs.c7.2xlarge",
)

PRODUCTS: dict[str, tuple[str, dict[str, Handler]]] = {
    "2014-05-26": ("ecs", ecs.ACTIONS),
    "2016-04-28": ("vpc", vpc.ACTIONS),
    "2015-05-01": ("ram", ram.RAM_ACTIONS),
    "2018-01-01": ("pvtz", pvtz.ACTIONS),
    "2015-04-01": ("sts", ram.STS_ACTIONS),
}
READ_PREFIXES = ("Describe", "Get", "List")
# Top-level parameters the SDK request models mark "This parameter is required."
REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("ecs", "DescribeZones"): ("RegionId",),
    ("ecs", "CreateSecurityGroup"): ("RegionId",),
    ("ecs", "DescribeSecurityGroups"): ("RegionId",),
    ("ecs", "DescribeSecurityGroupAttribute"): ("RegionId", "SecurityGroupId"),
    ("ecs", "AuthorizeSecurityGroup"): ("RegionId", "SecurityGroupId"),
    ("ecs", "RevokeSecurityGroup"): ("RegionId", "SecurityGroupId"),
    ("ecs", "AuthorizeSecurityGroupEgress"): ("RegionId", "SecurityGroupId"),
    ("ecs", "RevokeSecurityGroupEgress"): ("RegionId", "SecurityGroupId"),
    ("ecs", "ModifySecurityGroupPolicy"): ("RegionId", "SecurityGroupId", "InnerAccessPolicy"),
    ("ecs", "JoinSecurityGroup"): ("SecurityGroupId",),
    ("ecs", "LeaveSecurityGroup"): ("SecurityGroupId",),
    ("ecs", "DeleteSecurityGroup"): ("RegionId", "SecurityGroupId"),
    ("ecs", "ImportKeyPair"): ("RegionId", "KeyPairName", "PublicKeyBody"),
    ("ecs", "DescribeKeyPairs"): ("RegionId",),
    ("ecs", "DeleteKeyPairs"): ("RegionId", "KeyPairNames"),
    ("ecs", "RunInstances"): ("RegionId",),
    ("ecs", "DescribeInstances"): ("RegionId",),
    ("ecs", "DeleteInstances"): ("RegionId", "InstanceId.1"),
    ("vpc", "CreateVpc"): ("RegionId",),
    ("vpc", "DescribeVpcs"): ("RegionId",),
    ("vpc", "AllocateEipAddress"): ("RegionId",),
    ("vpc", "DescribeEipAddresses"): ("RegionId",),
}


@dataclass
class EmulatorConfig:
    """Everything the emulator needs; the defaults suit unit tests."""

    account_id: str = "1234567890123456"
    access_key_id: str = "LTAI5tEmulatorAccountKey"
    access_key_secret: str = "emulator-account-secret-do-not-use"
    region_id: str = "cn-hangzhou"
    extra_regions: tuple[str, ...] = ()
    zones: dict[str, list[str]] = field(default_factory=dict)
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    images: dict[str, str] = field(default_factory=lambda: {DEFAULT_IMAGE_ID: DEFAULT_DOCKER_IMAGE})
    containers: bool = True  # RunInstances starts test-bed containers
    boot_timeout: float = 120.0  # seconds for a container's sshd to answer
    instant_boot_seconds: float = 1.0  # Pending time of an instance without containers
    settle_seconds: float = 0.0  # Pending time of new VPCs and vSwitches
    host: str = "127.0.0.1"
    rpc_port: int = 0  # 0: any free port
    oss_port: int = 0
    # OSS's S3-compatible data plane: HTTPS on s3_host:s3_port, plain HTTP on
    # s3_host:s3_http_port when that is not None (0: any free port)
    s3_host: str = "127.0.0.1"
    s3_port: int = 0
    s3_http_port: int | None = None
    # Where the data plane's CA and certificate are kept; None: a temporary directory
    # removed on stop()
    state_dir: str | None = None
    # Source VPCs of client addresses besides the Docker networks of the VPCs:
    # CIDR block -> VPC ID (lets tests make loopback requests "come from" a VPC)
    source_vpcs: dict[str, str] = field(default_factory=dict)
    state_file: str | None = None  # JSON dump of the state after every change
    keep_containers: bool = False  # leave containers and networks behind on stop()
    # The emulator's "Internet": EIPs are its addresses, this machine is its gateway (.1).
    internet_cidr: str = "10.213.240.0/24"
    # Where instances reach the OSS data plane (the OSS endpoint names resolve to it);
    # None: the VPC network's gateway, where a data plane bound to 0.0.0.0 answers.
    oss_private_address: str | None = None
    # A CA certificate (PEM) every instance trusts from its first boot.
    trusted_ca_file: str | None = None
    # Where the VPC resolver sends the names it does not answer itself (Alibaba's
    # recurses): None: this machine's resolvers (/etc/resolv.conf); (): nowhere (NXDOMAIN).
    dns_upstreams: tuple[str, ...] | None = None
    session: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def regions(self) -> list[str]:
        return [self.region_id, *self.extra_regions]

    def zones_of(self, region: str) -> list[str]:
        return self.zones.get(region) or [f"{region}-{z}" for z in ("h", "i", "j", "k")]


@dataclass
class Fault:
    code: str
    status: int
    message: str
    remaining: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator
    secure = False  # serves HTTPS

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up or fail the TLS handshake are their own business.
        if isinstance(sys.exc_info()[1], OSError):
            LOG.debug("connection from %s failed", client_address, exc_info=True)
        else:
            LOG.exception("connection from %s failed", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in separate writes
    server: _Server
    dispatch: Callable[[Emulator, _Handler], None]

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # in this connection's thread, not in the accepting one
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.address_string(), format % args)

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def context(self) -> RequestContext:
        """The condition keys of this request: its source address, VPC and transport."""
        address = self.client_address[0]
        return RequestContext(
            source_ip=address,
            source_vpc=self.server.emulator.source_vpc_of(address),
            secure_transport=self.server.secure,
        )

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.log_request(status)
        self.send_response_only(status)
        headers.setdefault("Date", formatdate(usegmt=True))
        length = headers.pop("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def handle_any(self) -> None:
        type(self).dispatch(self.server.emulator, self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


class _RpcHandler(_Handler):
    @staticmethod
    def dispatch(emulator: Emulator, handler: _Handler) -> None:
        emulator.handle_rpc(handler)


class _OssHandler(_Handler):
    @staticmethod
    def dispatch(emulator: Emulator, handler: _Handler) -> None:
        emulator.handle_oss(handler)


class _S3Handler(_Handler):
    # Idle keep-alive connections (and stuck handshakes) do not hold a thread forever;
    # longer than the AWS SDK's own idle limit (60 s), so the client closes first.
    timeout = 300

    @staticmethod
    def dispatch(emulator: Emulator, handler: _Handler) -> None:
        emulator.s3.handle(handler)


class Emulator:
    """The emulator, in-process::

    with Emulator(containers=False) as emu:
        config = open_api_models.Config(
            access_key_id=emu.access_key_id,
            access_key_secret=emu.access_key_secret,
            endpoint=emu.rpc_endpoint,
            protocol="http",
            region_id=emu.region_id,
        )
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or EmulatorConfig(), **overrides)
        self.lock = threading.RLock()
        self.state = State()
        self.state.policies.update(ram.system_policies())
        self.state.access_keys[self.config.access_key_id] = AccessKey(
            self.config.access_key_id, self.config.access_key_secret, None
        )
        self.resource_group_id = "rg-emu" + random_string(12).lower()
        self.docker = (
            containers.DockerBackend(self.config.session) if self.config.containers else None
        )
        self.net = network.Networking(self, self.docker) if self.docker is not None else None
        self.oss = OssService(self)
        self.s3 = S3Service(self)
        self.tls: TlsFiles | None = None
        self._tmp_state_dir: str | None = None
        blocks = [(ipaddress.ip_network(c), v) for c, v in self.config.source_vpcs.items()]
        # the most specific block first
        self._source_vpcs = sorted(blocks, key=lambda entry: -entry[0].prefixlen)
        self.calls: collections.deque[CallRecord] = collections.deque(maxlen=10000)
        self._faults: dict[tuple[str | None, str], list[Fault]] = {}
        self._nonces: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: dict[str, _Server] = {}

    # ----------------------------------------------------------------- lifecycle

    def _serve(
        self, name: str, host: str, port: int, handler: type[_Handler], tls: TlsFiles | None
    ) -> None:
        server = _Server((host, port), handler)
        server.emulator = self
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(tls.cert_file, tls.key_file)
            context.set_alpn_protocols(["http/1.1"])
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
            server.secure = True
        self._servers[name] = server
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{name}",
            daemon=True,
        )
        thread.start()

    def start(self) -> Emulator:
        config = self.config
        state_dir = config.state_dir
        if state_dir is None:
            self._tmp_state_dir = state_dir = tempfile.mkdtemp(prefix="alicloud-emulator-")
        self.tls = ensure_tls_files(Path(state_dir), config.regions)
        try:
            self._serve("rpc", config.host, config.rpc_port, _RpcHandler, None)
            self._serve("oss", config.host, config.oss_port, _OssHandler, None)
            self._serve("s3", config.s3_host, config.s3_port, _S3Handler, self.tls)
            if config.s3_http_port is not None:
                self._serve("s3-http", config.s3_host, config.s3_http_port, _S3Handler, None)
        except BaseException:
            self.stop()
            raise
        LOG.info(
            "RPC endpoint %s, OSS endpoint %s, OSS data plane %s:%s (HTTPS, CA %s)",
            self.rpc_endpoint,
            self.oss_endpoint,
            config.s3_host,
            self.s3_port,
            self.oss_data_ca_file,
        )
        return self

    def stop(self) -> None:
        self._stop.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.net is not None:
            self.net.stop(keep_files=self.config.keep_containers)
        if self._tmp_state_dir is not None:
            shutil.rmtree(self._tmp_state_dir, ignore_errors=True)
            self._tmp_state_dir = None
        if self.docker is not None and self.docker.used and not self.config.keep_containers:
            try:
                containers.cleanup(self.config.session)
            except containers.DockerError as error:
                LOG.warning("cleanup failed: %s", error)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- public helpers

    @property
    def rpc_port(self) -> int:
        return int(self._servers["rpc"].server_address[1])

    @property
    def oss_port(self) -> int:
        return int(self._servers["oss"].server_address[1])

    @property
    def s3_port(self) -> int:
        """The data plane's HTTPS port."""
        return int(self._servers["s3"].server_address[1])

    @property
    def s3_http_port(self) -> int | None:
        """The data plane's plain HTTP port, when ``s3_http_port`` is configured."""
        server = self._servers.get("s3-http")
        return None if server is None else int(server.server_address[1])

    @property
    def oss_data_ca_file(self) -> str:
        """The CA (PEM) that signed the data plane's certificate: trust it to reach it."""
        if self.tls is None:
            raise RuntimeError("the emulator is not started")
        return str(self.tls.ca_file)

    def oss_data_host(self, bucket: str, region: str | None = None, internal: bool = True) -> str:
        """``<bucket>.oss-<region>[-internal].aliyuncs.com``: the virtual host of a bucket."""
        suffix = "-internal" if internal else ""
        return f"{bucket}.oss-{region or self.region_id}{suffix}.aliyuncs.com"

    def source_vpc_of(self, address: str) -> str | None:
        """The emulated VPC a client address belongs to (``acs:SourceVpc``): the configured
        ``source_vpcs`` blocks, then the Docker network of each VPC (its gateway, this
        machine, excepted); None for every other address."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for block, vpc_id in self._source_vpcs:
            if ip in block:
                return vpc_id
        return self.docker.vpc_of_address(ip) if self.docker is not None else None

    @property
    def rpc_endpoint(self) -> str:
        """For ``Config(endpoint=..., protocol='http')`` of the RPC SDKs."""
        return f"{self.config.host}:{self.rpc_port}"

    @property
    def oss_endpoint(self) -> str:
        """For ``alibabacloud_oss_v2`` ``config.endpoint`` (path-style, since it is an IP)."""
        return f"http://{self.config.host}:{self.oss_port}"

    @property
    def trusted_ca_file(self) -> str | None:
        """The CA certificate instances trust: the configured one, else the OSS data plane's
        issuer (as ECS images trust the public CA behind the real OSS endpoints)."""
        if self.config.trusted_ca_file:
            return self.config.trusted_ca_file
        return self.oss_data_ca_file if self.tls is not None else None

    @property
    def internet_gateway(self) -> str:
        """This machine's address on the emulator's Internet: the source of what it sends
        to an EIP, so the admin CIDR that lets it in is ``<internet_gateway>/32``."""
        return str(ipaddress.IPv4Network(self.config.internet_cidr).network_address + 1)

    @property
    def account_id(self) -> str:
        return self.config.account_id

    @property
    def access_key_id(self) -> str:
        return self.config.access_key_id

    @property
    def access_key_secret(self) -> str:
        return self.config.access_key_secret

    @property
    def region_id(self) -> str:
        return self.config.region_id

    def fail_next(
        self,
        action: str,
        count: int = 1,
        code: str = "Throttling.User",
        status: int = 400,
        message: str = "Request was denied due to user flow control.",
        product: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``action`` fail (throttling by default).

        ``product`` (``ecs``, ``vpc``, ``ram``, ``pvtz``, ``sts``, ``oss``) narrows
        actions whose name two products share, such as DescribeZones."""
        with self.lock:
            self._faults.setdefault((product, action), []).append(
                Fault(code, status, message, count)
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return self.state.snapshot()

    def calls_of(self, action: str) -> list[CallRecord]:
        with self.lock:
            return [c for c in self.calls if c.action == action]

    def container_of(self, instance_id: str) -> str | None:
        with self.lock:
            instance = self.state.instances.get(instance_id)
            return instance.container if instance else None

    # ----------------------------------------------------------------- internals used by products

    def lookup_key(self, access_key_id: str) -> tuple[str, Principal] | None:
        with self.lock:
            key = self.state.access_keys.get(access_key_id)
            if key is None or key.status != "Active":
                return None
            if key.user_name is None:
                return key.secret, Principal("account", self.config.account_id, key.id)
            user = self.state.users.get(key.user_name)
            return key.secret, Principal(
                "user", self.config.account_id, key.id, key.user_name, user.id if user else None
            )

    def run_later(self, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def refresh_instance(self, instance: Instance) -> None:
        ecs.refresh(instance)

    def watch_boot(self, instance: Instance) -> None:
        self.run_later(lambda: ecs.watch_boot(self, instance, self._stop))

    def stop_container(self, instance: Instance) -> None:
        if self.docker is not None and instance.container:
            try:
                self.docker.stop(instance.container)
            except containers.DockerError as error:
                LOG.warning("docker stop %s failed: %s", instance.container, error)
            if self.net is not None:
                self.net.stopped(instance.container)
        with self.lock:
            if instance.status == "Stopping":
                instance.status = "Stopped"

    def start_container(self, instance: Instance) -> None:
        if self.docker is not None and instance.container:
            try:
                self.docker.start(instance.container)
                if self.net is not None:
                    self.net.started(instance)  # a new network namespace: filter it again
            except containers.DockerError as error:
                with self.lock:
                    instance.status, instance.boot_error = "Stopped", str(error)
                return
            ecs.watch_boot(self, instance, self._stop)
            return
        with self.lock:
            instance.status, instance.started = "Running", utcnow()

    def take_fault(self, product: str, action: str) -> Fault | None:
        with self.lock:
            for key in ((product, action), (None, action)):
                faults = self._faults.get(key)
                if faults:
                    fault = faults[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.pop(0)
                    return fault
        return None

    def record(self, record: CallRecord) -> None:
        with self.lock:
            self.calls.append(record)
            if self.config.state_file and not record.action.startswith(READ_PREFIXES):
                path = Path(self.config.state_file)
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".emulator-state-")
                with os.fdopen(fd, "w") as out:
                    json.dump(self.state.snapshot(), out, indent=2, sort_keys=True)
                os.replace(tmp, path)

    def _check_nonce(self, headers: Any) -> None:
        nonce = headers.get("x-acs-signature-nonce")
        if not nonce:
            return
        with self.lock:
            if nonce in self._nonces:
                raise ApiError(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces[nonce] = None
            while len(self._nonces) > 100000:
                self._nonces.popitem(last=False)

    # ----------------------------------------------------------------- RPC

    def handle_rpc(self, handler: _Handler) -> None:
        body = handler.read_body()
        split = urlsplit(handler.path)
        host = handler.headers.get("Host", "")
        if split.path.startswith("/_emulator/"):
            self._control(handler, split.path, body)
            return
        product, action, params = "", "", Params()
        try:
            pairs = parse_query(split.query)
            query_params = dict(pairs)
            form: dict[str, str] = {}
            if body and "x-www-form-urlencoded" in handler.headers.get("Content-Type", ""):
                form = dict(parse_query(body.decode()))
            params = Params({**query_params, **form})
            action = handler.headers.get("x-acs-action") or params.get("Action") or ""
            version = handler.headers.get("x-acs-version") or params.get("Version") or ""
            if version not in PRODUCTS:
                raise ApiError(
                    400, "InvalidVersion", f"Specified parameter Version {version!r} is not valid."
                )
            product, actions = PRODUCTS[version]
            function = actions.get(action)
            if function is None:
                raise ApiError(
                    404,
                    "InvalidAction.NotFound",
                    f"Specified api {action!r} is not found in {product} {version} "
                    "of this emulator.",
                )
            if handler.headers.get("Authorization", "").startswith("ACS3-"):
                principal = verify_acs3(
                    handler.command, split.path, pairs, handler.headers, body, self.lookup_key
                )
                self._check_nonce(handler.headers)
            elif params.get("Signature"):
                principal = verify_rpc_v1(handler.command, params.data, self.lookup_key)
            else:
                raise ApiError(
                    400,
                    "IncompleteSignature",
                    "The request signature does not conform to Alibaba Cloud standards.",
                )
            fault = self.take_fault(product, action)
            if fault is not None:
                raise ApiError(fault.status, fault.code, fault.message)
            self._authorize_rpc(principal, product, action, handler.context())
            for name in REQUIRED.get((product, action), ()):
                if params.get(name) is None:
                    raise ApiError(
                        400,
                        "MissingParameter",
                        f'The input parameter "{name.split(".")[0]}" that is mandatory for '
                        "processing this request is not supplied.",
                    )
            call = Call(product, action, params, principal, self)
            if getattr(function, "unlocked", False):
                answer = function(call)
            else:
                with self.lock:
                    answer = function(call)
            if self.net is not None and not action.startswith(READ_PREFIXES):
                # As on the cloud, a change applies before the call returns.
                self.net.sync()
            answer = {"RequestId": request_id(), **answer}
            status, code = 200, ""
        except ApiError as error:
            status, code = error.status, error.code
            answer = {
                "RequestId": request_id(),
                "HostId": host,
                "Code": error.code,
                "Message": error.message,
                **error.extra,
            }
        except Exception as error:
            LOG.exception("RPC %s %s failed", product, action)
            status, code = 500, "InternalError"
            answer = {
                "RequestId": request_id(),
                "HostId": host,
                "Code": "InternalError",
                "Message": f"The emulator failed: {error!r}",
            }
        LOG.info("RPC %s %s -> %s %s", product or "?", action or "?", status, code)
        self.record(
            CallRecord(product, action, dict(params.data), status, code, copy.deepcopy(answer))
        )
        payload = json.dumps(answer).encode()
        handler.send(
            status,
            payload,
            {
                "Content-Type": "application/json;charset=utf-8",
                "x-acs-request-id": answer["RequestId"],
            },
        )

    def _authorize_rpc(
        self, principal: Principal, product: str, action: str, context: RequestContext
    ) -> None:
        if principal.is_account or (product, action) == ("sts", "GetCallerIdentity"):
            return
        with self.lock:
            user = self.state.users.get(principal.user_name or "")
            documents = []
            for key in user.policies if user else ():
                policy = self.state.policies.get(key)
                if policy is not None:
                    documents.append(policy.document)
        try:
            if evaluate(documents, f"{product}:{action}", None, context):
                return
        except UnsupportedCondition as error:
            raise ApiError(
                403,
                "Forbidden.RAM",
                f"The emulator cannot evaluate a condition of the user's policies ({error}).",
            ) from None
        if product == "ram":
            raise ApiError(
                403,
                "NoPermission",
                "You are not authorized to do this action. You should be authorized by RAM.",
            )
        raise ApiError(
            403,
            "Forbidden.RAM",
            "User not authorized to operate on the specified resource, or this API doesn't "
            "support RAM.",
        )

    def _control(self, handler: _Handler, path: str, body: bytes) -> None:
        """Unsigned test hooks: ``GET /_emulator/state``, ``GET /_emulator/calls``,
        ``POST /_emulator/faults`` (JSON: action, count, code, status, message, product),
        ``DELETE /_emulator/faults``, ``GET /_emulator/health``."""
        status, answer = 200, {}
        try:
            if path == "/_emulator/health":
                answer = {
                    "status": "ok",
                    "rpc": self.rpc_endpoint,
                    "oss": self.oss_endpoint,
                    "s3_host": self.config.s3_host,
                    "s3_port": self.s3_port,
                    "s3_http_port": self.s3_http_port,
                    "oss_data_ca_file": self.oss_data_ca_file,
                }
            elif path == "/_emulator/state":
                answer = self.snapshot()
            elif path == "/_emulator/calls":
                with self.lock:
                    answer = {"calls": [dataclasses.asdict(c) for c in self.calls]}
            elif path == "/_emulator/faults" and handler.command == "POST":
                spec = json.loads(body or b"{}")
                self.fail_next(
                    spec["action"],
                    int(spec.get("count", 1)),
                    spec.get("code", "Throttling.User"),
                    int(spec.get("status", 400)),
                    spec.get("message", "Request was denied due to user flow control."),
                    spec.get("product"),
                )
                answer = {"status": "ok"}
            elif path == "/_emulator/faults" and handler.command == "DELETE":
                self.clear_faults()
                answer = {"status": "ok"}
            else:
                status, answer = 404, {"error": f"no control endpoint {handler.command} {path}"}
        except (KeyError, ValueError) as error:
            status, answer = 400, {"error": f"bad request: {error!r}"}
        handler.send(status, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    # ----------------------------------------------------------------- OSS

    def handle_oss(self, handler: _Handler) -> None:
        body = handler.read_body()
        split = urlsplit(handler.path)
        request_id_ = secrets.token_hex(12).upper()
        path = unquote(split.path)
        bucket: str | None = None
        key: str | None = None
        if path not in ("", "/"):
            bucket, _, rest = path.lstrip("/").partition("/")
            key = rest or None
        query = {
            unquote(k): unquote(v)
            for k, _, v in (p.partition("=") for p in split.query.split("&") if p)
        }
        op, code = "", ""
        headers = handler.headers
        host = headers.get("Host", "")
        try:
            principal: Principal | None = None
            if headers.get("Authorization"):
                principal = verify_oss4(
                    handler.command,
                    bucket,
                    key,
                    split.query,
                    headers,
                    self.lookup_key,
                    self.config.regions,
                )
            elif "x-oss-signature" in query or "OSSAccessKeyId" in query:
                raise ApiError(403, "AccessDenied", "The emulator does not accept presigned URLs.")
            request = OssRequest(
                handler.command, bucket, key, query, headers, body, principal, handler.context()
            )
            with self.lock:
                op, function = self.oss.operation(request)
                fault = self.take_fault("oss", op)
                if fault is not None:
                    raise ApiError(fault.status, fault.code, fault.message)
                self.oss.authorize(op, request)
                response = function(request)
        except ApiError as error:
            code = error.code
            response = error_response(error, handler.command, host, bucket, request_id_)
        except Exception as error:
            LOG.exception("OSS %s failed", op)
            code = "InternalError"
            response = error_response(
                ApiError(500, "InternalError", f"The emulator failed: {error!r}"),
                handler.command,
                host,
                bucket,
                request_id_,
            )
        LOG.info("OSS %s %s -> %s", op or handler.command, path, response.status)
        self.record(
            CallRecord(
                "oss",
                op or handler.command,
                dict(query, bucket=bucket or "", key=key or ""),
                response.status,
                code,
                None,
            )
        )
        handler.send(
            response.status,
            response.body,
            {
                "Server": "AliyunOSS",
                "Date": formatdate(usegmt=True),
                "x-oss-request-id": request_id_,
                **response.headers,
            },
        )
