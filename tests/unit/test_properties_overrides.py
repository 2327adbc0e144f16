"""automq_helpers.properties.override_problems: the preflight check of
automq_server_properties_overrides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.properties import INSTALLER_KEYS, override_problems, parse_properties


def test_ordinary_overrides_pass():
    assert override_problems({}) == []
    assert override_problems({"num.io.threads": 16, "elasticstream.enable": False,
                              "s3.network.baseline.bandwidth": "245366784"}) == []  # fmt: skip


@pytest.mark.parametrize(
    ("key", "variable"),
    [("node.id", "automq_node_id"), ("process.roles", "automq_controller"),
     ("log.dirs", "automq_data_dir"), ("s3.data.buckets", "automq_oss_data_bucket"),
     ("listeners", "automq_listen_address")],
)  # fmt: skip
def test_a_key_the_installer_writes_names_its_variable(key, variable):
    (problem,) = override_problems({key: "x"})
    assert problem.startswith(f"automq_server_properties_overrides[{key!r}]: the installer")
    assert variable in problem


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"a.b": "1\nnode.id=7"}, "line break or a trailing backslash"),
        ({"a.b": "1\\"}, "line break or a trailing backslash"),
        ({"a b": "1"}, "no spaces"),
        ({"a=b": "1"}, "no spaces"),
        ({"#a.b": "1"}, "a comment"),
        ({"": "1"}, "non-empty text"),
        ({1: "1"}, "non-empty text"),
        ({"a.b": None}, "not nothing"),
        ({"a.b": ["x"]}, "not list"),
        (["a.b"], "must be a mapping"),
    ],
)
def test_values_that_would_break_the_file_are_refused(overrides, expected):
    (problem,) = override_problems(overrides)
    assert expected in problem, problem


@given(st.dictionaries(
    st.text(min_size=1).filter(lambda k: k not in INSTALLER_KEYS),
    st.one_of(st.text(), st.integers(), st.booleans()),
))  # fmt: skip
def test_whatever_passes_renders_to_exactly_those_properties(overrides):
    """Accepted overrides, written as the template writes them, read back as given."""
    if override_problems(overrides):
        return
    text = "".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}\n" for k, v in overrides.items()
    )
    try:
        parsed = parse_properties(text)
    except ValueError:
        pytest.fail(f"accepted overrides make an unreadable file: {text!r}")
    assert set(parsed) <= set(overrides)
