"""AutoMQ operations console (flavor ``builtin``).

A small, server-rendered web console: cluster overview (nodes, quorum leader and
voter lag), topics, consumer groups with lag, and the object storage settings in
use.  It reads the cluster through the Kafka admin API (confluent-kafka) and the
KRaft quorum through :mod:`automq_helpers.kafka_probe`; it never changes anything.

Modules:

* :mod:`.config`    typed settings from the JSON file Ansible writes (no secrets);
* :mod:`.passwords` scrypt password hashes (and the ``hash``/``verify`` CLI);
* :mod:`.data`      the data layer; the Kafka client sits behind ``AdminApi``;
* :mod:`.security`  sessions, CSRF tokens and the login lock-out;
* :mod:`.app`       the FastAPI application (``create_app``);
* ``python -m automq_console`` serves it with uvicorn.
"""

__version__ = "0.1.0"
