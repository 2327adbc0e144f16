import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.properties import parse_properties, uploading_appenders

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


# Lines in the form of an AutoMQ release's config/log4j.properties (1.7: com.automq.log,
# 1.6.0 and before: com.automq.shell.log), and of Kafka's (no uploading appender).
RELEASE_LOG4J = """
log4j.rootLogger=INFO, stdout, kafkaAppender
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.logger.com.automq.log.S3RollingFileAppender=INFO, stdout
log4j.appender.kafkaAppender=com.automq.log.S3RollingFileAppender
log4j.appender.kafkaAppender.MaxFileSize=100MB
log4j.appender.requestAppender = com.automq.log.S3RollingFileAppender
log4j.appender.oldAppender=com.automq.shell.log.S3RollingFileAppender
log4j.appender.cleanerAppender=org.apache.log4j.RollingFileAppender
log4j.appender.brokenLine=com.automq.log.\\
  S3RollingFileAppender
"""


def test_uploading_appenders_of_a_release():
    assert uploading_appenders(RELEASE_LOG4J) == {
        "kafkaAppender": "com.automq.log.S3RollingFileAppender",
        "requestAppender": "com.automq.log.S3RollingFileAppender",
        "oldAppender": "com.automq.shell.log.S3RollingFileAppender",
    }


def test_kafkas_log4j_has_no_uploading_appender():
    kafka = "log4j.appender.kafkaAppender=org.apache.log4j.DailyRollingFileAppender\n"
    assert uploading_appenders(kafka) == {}
    assert uploading_appenders("") == {}


@given(st.text())
def test_uploading_appenders_never_fail_on_a_file(text):
    found = uploading_appenders(text)
    assert all(value.endswith(".S3RollingFileAppender") for value in found.values())
