"""Tests for automq_helpers.alicloud.errors: reading SDK exceptions, explaining them."""

from __future__ import annotations

import pytest

from automq_helpers.alicloud.errors import ApiError, Operation, api_error_from, explain

CREATE_VPC = Operation("vpc", "CreateVpc", "create VPC 'automq-prod'")


class FakeTea(Exception):
    """Shaped like alibabacloud_tea_openapi's ClientException."""

    def __init__(self, code, message, status=400, request_id="REQ-1", detail=None):
        super().__init__(message)
        self.code = code
        self.message = f"code: {status}, {message} request id: {request_id}"
        self.data = {"Code": code, "Message": message, "RequestId": request_id}
        self.status_code = status
        self.request_id = request_id
        self.access_denied_detail = detail


class FakeUnretryable(Exception):
    def __init__(self, inner):
        super().__init__(repr(inner))
        self.inner_exception = inner
        self.message = repr(inner)


class FakeServiceError(Exception):
    """Shaped like alibabacloud_oss_v2.exceptions.ServiceError."""

    def __init__(self, code, message, status):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status
        self.request_id = "OSS-REQ"
        self.ec = "0003-00000001"


class FakeOperationError(Exception):
    def __init__(self, inner):
        super().__init__(str(inner))
        self._inner = inner

    def unwrap(self):
        return self._inner


class CredentialException(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def test_reads_a_tea_exception_without_the_sdk_decoration():
    error = api_error_from(FakeTea("InvalidVpcId.NotFound", "The VpcId does not exist."))
    assert error == ApiError(
        code="InvalidVpcId.NotFound",
        message="The VpcId does not exist.",
        kind="service",
        status=400,
        request_id="REQ-1",
    )


def test_reads_the_denied_action_of_a_ram_refusal():
    exc = FakeTea("Forbidden.RAM", "not authorized", 403, detail={"AuthAction": "vpc:CreateVpc"})
    assert api_error_from(exc).auth_action == "vpc:CreateVpc"


def test_unwraps_oss_operation_errors():
    error = api_error_from(FakeOperationError(FakeServiceError("NoSuchBucket", "gone", 404)))
    assert (error.code, error.status, error.request_id) == ("NoSuchBucket", 404, "OSS-REQ")


def test_network_errors_inside_wrappers():
    error = api_error_from(FakeUnretryable(ConnectionRefusedError(111, "Connection refused")))
    assert error.kind == "network"
    assert "Connection refused" in error.message


def test_credential_chain_failure():
    error = api_error_from(CredentialException("unable to load credentials from any provider"))
    assert error.kind == "credentials"


def test_real_sdk_exceptions_are_read():
    exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")
    exc = exceptions.ClientException(
        status_code=404,
        code="InvalidVSwitchId.NotFound",
        message="code: 404, Specified vswitch does not exist. request id: R-9",
        data={"Code": "InvalidVSwitchId.NotFound", "Message": "Specified vswitch does not exist."},
        request_id="R-9",
    )
    error = api_error_from(exc)
    assert error.code == "InvalidVSwitchId.NotFound"
    assert error.message == "Specified vswitch does not exist."
    assert error.status == 404
    assert error.request_id == "R-9"


def test_real_throttling_exception_carries_retry_after_in_seconds():
    exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")
    exc = exceptions.ThrottlingException(
        status_code=400, code="Throttling.User", message="slow down", retry_after=1500, data={}
    )
    assert api_error_from(exc).retry_after == 1.5


def test_real_oss_service_error_is_read():
    oss_exceptions = pytest.importorskip("alibabacloud_oss_v2.exceptions")
    inner = oss_exceptions.ServiceError(
        status_code=409,
        code="BucketNotEmpty",
        message="The bucket has objects.",
        request_id="X",
        ec="0015-00000301",
        timestamp="",
        request_target="",
    )
    wrapped = oss_exceptions.OperationError(name="DeleteBucket", error=inner)
    error = api_error_from(wrapped)
    assert (error.code, error.status) == ("BucketNotEmpty", 409)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "InvalidAccessKeyId.NotFound",
            "the AccessKey ID is not known to Alibaba Cloud: check ALIBABA_CLOUD_ACCESS_KEY_ID "
            "or your profile",
        ),
        ("SignatureDoesNotMatch", "the AccessKey secret does not match the AccessKey ID"),
        ("Forbidden.RAM", "this identity lacks the RAM permission vpc:CreateVpc"),
        ("InvalidSecurityToken.Expired", "the STS security token is expired or invalid"),
        ("Throttling.User", "kept throttling the requests"),
        ("QuotaExceeded.Vpc", "an account quota is exhausted"),
        ("DependencyViolation.VSwitch", "it is still in use"),
        ("InvalidRegionId.NotFound", "region cn-nowhere is not known to VPC"),
        ("InvalidCidrBlock.Malformed", "VPC rejected the request (bad): fix the module arguments"),
        ("OperationConflict", "busy with another operation"),
        ("InvalidAction.NotFound", "the VPC endpoint does not offer this API"),
        ("EntityNotExist.User", "a resource it refers to does not exist"),
        ("EntityAlreadyExists.User", "it already exists"),
        ("LimitExceeded.User.AccessKey", "at most 2 AccessKeys"),
        ("OperationDenied.NoStock", "choose another zone"),
        ("Account.Arrearage", "overdue payment"),
        ("InternalError", "internal error"),
    ],
)
def test_explanations(code, expected):
    error = ApiError(code=code, message="bad", status=400, request_id="R1")
    text = explain(error, CREATE_VPC, region="cn-nowhere")
    assert text.startswith("Could not create VPC 'automq-prod' (CreateVpc): ")
    assert expected in text
    assert text.endswith(f"[{code}, request ID R1].")


def test_denied_action_from_the_api_wins_over_the_guess():
    error = ApiError(code="Forbidden.RAM", message="no", auth_action="vpc:CreateVpc*")
    assert "RAM permission vpc:CreateVpc*" in explain(error, CREATE_VPC)


def test_network_explanation_names_the_endpoint_and_the_variable():
    error = ApiError(code="", message="Connection refused", kind="network")
    text = explain(error, CREATE_VPC, endpoint="http://127.0.0.1:18080")
    assert "cannot reach the VPC endpoint http://127.0.0.1:18080" in text
    assert "AUTOMQ_ALICLOUD_VPC_ENDPOINT" in text
    assert text.endswith("settings.")


def test_missing_credentials_explanation_lists_the_sources():
    error = ApiError(code="", message="nothing found", kind="credentials")
    text = explain(error, CREATE_VPC)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in text
    assert "RAM role" in text


def test_oss_specific_codes():
    bucket = Operation("oss", "DeleteBucket", "delete OSS bucket 'data'")
    text = explain(ApiError(code="BucketNotEmpty", message="x", status=409), bucket)
    assert "purge: true" in text
    taken = explain(ApiError(code="BucketAlreadyExists", message="x", status=409), bucket)
    assert "bucket names are global" in taken


def test_unknown_code_keeps_the_service_message():
    text = explain(ApiError(code="Weird.Thing", message="Something odd.", status=500), CREATE_VPC)
    assert "Something odd" in text
