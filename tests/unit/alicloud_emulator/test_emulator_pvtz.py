"""PrivateZone 2018-01-01 through the official SDK."""

from __future__ import annotations

from alibabacloud_pvtz20180101 import models as pvtz_models
from test_emulator_vpc import REGION, create_vpc, error_of
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.sdk import Clients


def add_zone(clients: Clients, name: str = "automq.internal") -> str:
    return clients.pvtz.add_zone(
        pvtz_models.AddZoneRequest(zone_name=name, proxy_pattern="ZONE")
    ).body.zone_id


def add_record(clients: Clients, zone_id: str, rr: str, value: str, **kw) -> int:
    request = pvtz_models.AddZoneRecordRequest(
        zone_id=zone_id, rr=rr, type=kw.pop("type", "A"), value=value, ttl=kw.pop("ttl", 60), **kw
    )
    return clients.pvtz.add_zone_record(request).body.record_id


def test_zone_lifecycle(clients: Clients) -> None:
    zone_id = add_zone(clients)
    add_zone(clients, "other.example")
    exact = clients.pvtz.describe_zones(
        pvtz_models.DescribeZonesRequest(keyword="automq.internal", search_mode="EXACT")
    ).body
    assert [(z.zone_id, z.zone_name) for z in exact.zones.zone] == [(zone_id, "automq.internal")]
    assert exact.total_items == 1
    like = clients.pvtz.describe_zones(pvtz_models.DescribeZonesRequest(keyword="EXAMPLE")).body
    assert [z.zone_name for z in like.zones.zone] == ["other.example"]
    everything = clients.pvtz.describe_zones(pvtz_models.DescribeZonesRequest()).body
    assert (everything.total_items, everything.page_size) == (2, 20)

    vpc_id = create_vpc(clients)
    clients.pvtz.bind_zone_vpc(
        pvtz_models.BindZoneVpcRequest(
            zone_id=zone_id,
            vpcs=[pvtz_models.BindZoneVpcRequestVpcs(region_id=REGION, vpc_id=vpc_id)],
        )
    )
    info = clients.pvtz.describe_zone_info(
        pvtz_models.DescribeZoneInfoRequest(zone_id=zone_id)
    ).body
    assert (info.zone_name, info.proxy_pattern) == ("automq.internal", "ZONE")
    assert [(v.vpc_id, v.region_id) for v in info.bind_vpcs.vpc] == [(vpc_id, REGION)]
    by_vpc = clients.pvtz.describe_zones(pvtz_models.DescribeZonesRequest(query_vpc_id=vpc_id))
    assert [z.zone_id for z in by_vpc.body.zones.zone] == [zone_id]

    delete = pvtz_models.DeleteZoneRequest(zone_id=zone_id)
    error = error_of(lambda: clients.pvtz.delete_zone(delete))
    assert (error.status_code, error.code) == (400, "Zone.VpcExists")
    clients.pvtz.bind_zone_vpc(pvtz_models.BindZoneVpcRequest(zone_id=zone_id))  # unbind all
    clients.pvtz.delete_zone(delete)
    error = error_of(
        lambda: clients.pvtz.describe_zone_info(
            pvtz_models.DescribeZoneInfoRequest(zone_id=zone_id)
        )
    )
    assert error.code == "Zone.NotExists"
    error = error_of(
        lambda: clients.pvtz.describe_zone_info(
            pvtz_models.DescribeZoneInfoRequest(zone_id="bogus")
        )
    )
    assert error.code == "Zone.Invalid.Id"


def test_zone_validation(clients: Clients) -> None:
    assert error_of(lambda: add_zone(clients, "bad_zone..name")).code == "Zone.Invalid.Name"
    zone_id = add_zone(clients)
    bind = pvtz_models.BindZoneVpcRequest(
        zone_id=zone_id,
        vpcs=[pvtz_models.BindZoneVpcRequestVpcs(region_id=REGION, vpc_id="vpc-nope")],
    )
    assert error_of(lambda: clients.pvtz.bind_zone_vpc(bind)).code == "ZoneVpc.NotExists.VpcId"


def test_records(clients: Clients) -> None:
    zone_id = add_zone(clients)
    first = add_record(clients, zone_id, "broker-1", "10.20.1.3")
    second = add_record(clients, zone_id, "broker-2", "10.20.1.4", ttl=30)
    add_record(clients, zone_id, "bootstrap", "10.20.1.3")
    add_record(clients, zone_id, "bootstrap", "10.20.1.4")  # several A values for one name
    error = error_of(lambda: add_record(clients, zone_id, "broker-1", "10.20.1.3"))
    assert (error.status_code, error.code) == (400, "Record.Invalid.Conflict")
    error = error_of(lambda: add_record(clients, zone_id, "broker-1", "b.example", type="CNAME"))
    assert error.code == "Record.Invalid.Conflict"
    assert (
        error_of(lambda: add_record(clients, zone_id, "x", "not-an-ip")).code
        == "Record.Invalid.Value"
    )
    assert error_of(lambda: add_record(clients, zone_id, "x", "1.2.3.4", type="NS")).code == (
        "Record.Invalid.Type"
    )

    records = clients.pvtz.describe_zone_records(
        pvtz_models.DescribeZoneRecordsRequest(zone_id=zone_id, keyword="broker")
    ).body
    assert [(r.record_id, r.rr, r.value, r.ttl) for r in records.records.record] == [
        (first, "broker-1", "10.20.1.3", 60),
        (second, "broker-2", "10.20.1.4", 30),
    ]
    assert records.records.record[0].status == "ENABLE"
    info = clients.pvtz.describe_zone_info(
        pvtz_models.DescribeZoneInfoRequest(zone_id=zone_id)
    ).body
    assert info.record_count == 4

    clients.pvtz.update_zone_record(
        pvtz_models.UpdateZoneRecordRequest(
            record_id=first, rr="broker-1", type="A", value="10.20.1.9", ttl=120
        )
    )
    exact = clients.pvtz.describe_zone_records(
        pvtz_models.DescribeZoneRecordsRequest(
            zone_id=zone_id, keyword="broker-1", search_mode="EXACT"
        )
    ).body.records.record
    assert [(r.value, r.ttl) for r in exact] == [("10.20.1.9", 120)]
    clients.pvtz.delete_zone_record(pvtz_models.DeleteZoneRecordRequest(record_id=first))
    error = error_of(
        lambda: clients.pvtz.delete_zone_record(
            pvtz_models.DeleteZoneRecordRequest(record_id=first)
        )
    )
    assert error.code == "Record.Invalid.Id"
    paged = clients.pvtz.describe_zone_records(
        pvtz_models.DescribeZoneRecordsRequest(zone_id=zone_id, page_size=2, page_number=2)
    ).body
    assert (paged.total_items, paged.total_pages, len(paged.records.record)) == (3, 2, 1)


def test_zone_remark_and_tags(clients: Clients) -> None:
    zone_id = add_zone(clients, "tagged.example")
    clients.pvtz.update_zone_remark(
        pvtz_models.UpdateZoneRemarkRequest(zone_id=zone_id, remark="AutoMQ cluster x")
    )
    info = clients.pvtz.describe_zone_info(pvtz_models.DescribeZoneInfoRequest(zone_id=zone_id))
    assert info.body.remark == "AutoMQ cluster x"

    def tags() -> dict[str, str]:
        zones = clients.pvtz.describe_zones(
            pvtz_models.DescribeZonesRequest(keyword="tagged.example", search_mode="EXACT")
        ).body.zones.zone
        return {t.key: t.value for t in zones[0].resource_tags.resource_tag}

    tag = pvtz_models.TagResourcesRequestTag
    clients.pvtz.tag_resources(
        pvtz_models.TagResourcesRequest(
            resource_type="ZONE",
            resource_id=[zone_id],
            tag=[tag(key="automq:cluster", value="x"), tag(key="team", value="a")],
        )
    )
    assert tags() == {"automq:cluster": "x", "team": "a"}
    change = pvtz_models.TagResourcesRequest(
        resource_type="ZONE", resource_id=[zone_id], tag=[tag(key="team", value="b")]
    )
    error = error_of(lambda: clients.pvtz.tag_resources(change))
    assert (error.status_code, error.code) == (400, "Tag.Exists")
    change.over_write = True
    clients.pvtz.tag_resources(change)
    assert tags() == {"automq:cluster": "x", "team": "b"}
    clients.pvtz.untag_resources(
        pvtz_models.UntagResourcesRequest(
            resource_type="ZONE", resource_id=[zone_id], tag_key=["team"]
        )
    )
    assert tags() == {"automq:cluster": "x"}
    clients.pvtz.untag_resources(
        pvtz_models.UntagResourcesRequest(resource_type="ZONE", resource_id=[zone_id], all=True)
    )
    assert tags() == {}


def test_snapshot_with_records(emulator: Emulator, clients: Clients) -> None:
    """Records are keyed by their numeric ID; the JSON view (and the state file) shows them."""
    zone_id = add_zone(clients, "snap.example")
    record_id = add_record(clients, zone_id, "node-1", "10.0.1.3")
    records = emulator.snapshot()["zones"][zone_id]["records"]
    assert records[str(record_id)]["value"] == "10.0.1.3"
