from policies.rules import missing_fleet_tags


def test_compliant_resource_has_no_violation():
    tags = {"fleet": "f", "environment": "dev", "owner": "o"}
    assert missing_fleet_tags("aws:ec2/vpc:Vpc", {"tags": tags}) == []


def test_violating_resource_names_each_missing_tag():
    assert missing_fleet_tags("gcp:compute/address:Address", {"labels": {"fleet": "f"}}) == [
        "gcp:compute/address:Address is missing the 'environment' tag",
        "gcp:compute/address:Address is missing the 'owner' tag",
    ]


def test_resource_without_tag_property_is_not_judged():
    assert missing_fleet_tags("kubernetes:core/v1:Namespace", {"metadata": {}}) == []
    assert missing_fleet_tags("aws:ec2/vpc:Vpc", {}) == []
