"""The stack config of a fleet: typed, documented, migrated, validated.

A stack config lives in `stacks/Pulumi.<stack>.yaml` under the key
`meshfleet:fleet`. Fleet-wide defaults live once in `Pulumi.yaml` under the
project key `defaults`; `load_fleet` deep-merges the stack's value over them
(maps merge key by key, lists replace whole, scalars replace), migrates it to
the current `schemaVersion`, parses it into the frozen models and runs every
cross-field rule. Nothing is created before all of that passed.

One job per module:

- `models`: the pydantic models; every field documented once, in its `Field(description=...)`;
- `errors`: `Problem`, `ConfigError`, pydantic errors translated into them;
- `migrations`: deep merge and `MIGRATIONS` by `schemaVersion`;
- `rules/`: the cross-field rules, one module per concern;
- `loader`: `load_fleet` and `parse`, which run all of the above in order;
- `offline`: the offline plan's pinned clock and secret placeholders;
- `runtime`: reading the config inside `pulumi up` (the only module that imports pulumi;
  not imported here, so loading a config never imports pulumi or a cloud SDK).
"""

from components.config.errors import ConfigError, Problem
from components.config.loader import DEFAULTS_KEY, FLEET_KEY, load_fleet, parse
from components.config.migrations import CURRENT_SCHEMA_VERSION, MIGRATIONS, deep_merge, merge_layers, migrate
from components.config.models import (
    CLOUDS,
    SUPPORTED_MESHES,
    WEEKDAYS,
    Addons,
    ApiAccess,
    AwsCluster,
    AwsDeployer,
    AzureCluster,
    AzureDeployer,
    AzureNetwork,
    ChartPin,
    Cidr,
    Cluster,
    ClusterBase,
    ConsulMeshSpec,
    ConsulSecurity,
    ConsulVault,
    Deployers,
    DnsLabel,
    EksAddons,
    EksMinorPins,
    ExistingCluster,
    FleetMeta,
    FleetSpec,
    GcpCluster,
    GcpDeployer,
    GcpNetwork,
    IstioMeshSpec,
    LinkerdCharts,
    LinkerdClusterSpec,
    LinkerdExportMode,
    LinkerdMeshSpec,
    MaintenanceWindow,
    MeshBase,
    MeshSpec,
    Model,
    Network,
    NodePool,
    PinnedVersion,
    Policies,
    PolicySpec,
    RootCa,
    TrustSpec,
    ca_pem_of,
)
from components.config.rules import RULES, validate
from components.config.rules.mesh import INSTALLABLE_MESHES, RETIRED_MESHES

__all__ = [
    "CLOUDS",
    "CURRENT_SCHEMA_VERSION",
    "DEFAULTS_KEY",
    "FLEET_KEY",
    "INSTALLABLE_MESHES",
    "MIGRATIONS",
    "RETIRED_MESHES",
    "RULES",
    "SUPPORTED_MESHES",
    "WEEKDAYS",
    "Addons",
    "ApiAccess",
    "AwsCluster",
    "AwsDeployer",
    "AzureCluster",
    "AzureDeployer",
    "AzureNetwork",
    "ChartPin",
    "Cidr",
    "Cluster",
    "ClusterBase",
    "ConfigError",
    "ConsulMeshSpec",
    "ConsulSecurity",
    "ConsulVault",
    "Deployers",
    "DnsLabel",
    "EksAddons",
    "EksMinorPins",
    "ExistingCluster",
    "FleetMeta",
    "FleetSpec",
    "GcpCluster",
    "GcpDeployer",
    "GcpNetwork",
    "IstioMeshSpec",
    "LinkerdCharts",
    "LinkerdClusterSpec",
    "LinkerdExportMode",
    "LinkerdMeshSpec",
    "MaintenanceWindow",
    "MeshBase",
    "MeshSpec",
    "Model",
    "Network",
    "NodePool",
    "PinnedVersion",
    "Policies",
    "PolicySpec",
    "Problem",
    "RootCa",
    "TrustSpec",
    "ca_pem_of",
    "deep_merge",
    "load_fleet",
    "merge_layers",
    "migrate",
    "parse",
    "validate",
]
