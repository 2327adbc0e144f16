"""A local emulator of the Alibaba Cloud APIs the installer's modules call.

ECS, VPC, RAM, PrivateZone and STS (RPC, V3 ``ACS3-HMAC-SHA256`` signatures)
and OSS (REST, ``OSS4-HMAC-SHA256``), checked against the official SDKs.
RunInstances starts test-bed host containers reachable over SSH. See README.md.
"""

from .server import DEFAULT_DOCKER_IMAGE, DEFAULT_IMAGE_ID, SECRET_ENV, Emulator, EmulatorConfig

__all__ = [
    "DEFAULT_DOCKER_IMAGE",
    "DEFAULT_IMAGE_ID",
    "SECRET_ENV",
    "Emulator",
    "EmulatorConfig",
]
