import pytest

from automq_helpers.properties import parse_properties

META_PROPERTIES = """#
#Thu Nov 26 13:26:21 UTC 2026
node.id=1000
directory.id=J8aAPBD2RYfmYfz-pUtHzQ
version=1
cluster.id=MkU3OEVBNTcwNTJENDM2Qk
"""


def test_reads_kafka_meta_properties():
    assert parse_properties(META_PROPERTIES) == {
        "node.id": "1000",
        "directory.id": "J8aAPBD2RYfmYfz-pUtHzQ",
        "version": "1",
        "cluster.id": "MkU3OEVBNTcwNTJENDM2Qk",
    }


def test_value_keeps_later_separators():
    parsed = parse_properties(
        "s3.data.buckets=0@s3://b?region=oss-cn-hangzhou&endpoint=https://x\n"
    )
    assert parsed == {"s3.data.buckets": "0@s3://b?region=oss-cn-hangzhou&endpoint=https://x"}


def test_colon_separator_and_whitespace():
    assert parse_properties("  a : b \n! comment\n\n") == {"a": "b"}


@pytest.mark.parametrize("text", ["novalue\n", "=value\n", "a=b\\\n c\n"])
def test_rejects_what_it_cannot_read(text):
    with pytest.raises(ValueError, match="line 1"):
        parse_properties(text)
