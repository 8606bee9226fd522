"""A cluster meshfleet does not create: on-prem or kind."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import ExistingCluster, FleetSpec, ca_pem_of
from components.handle import ClusterHandle, cluster_provider
from components.naming import cluster_names


@dataclass(frozen=True)
class ExistingClusterArgs:
    spec: FleetSpec
    cluster: ExistingCluster


class ExistingClusterConnection(pulumi.ComponentResource):
    """Connects to an existing cluster: its Kubernetes provider and handle, from config."""

    handle: ClusterHandle

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Existing", name, None, opts)
        c = args.cluster
        names = cluster_names(args.spec.fleet.name, c.name)

        kubeconfig: pulumi.Output[str] | None = None
        if c.kubeconfig is not None:
            kubeconfig = pulumi.Output.secret(c.kubeconfig.get_secret_value())
        provider = cluster_provider(names, self, kubeconfig=kubeconfig, context=c.context)
        ca_pem = ca_pem_of(c.ca_data)
        self.handle = ClusterHandle.of(
            args.spec,
            c,
            provider=provider,
            api_endpoint=pulumi.Output.from_input(c.api_endpoint),
            ca_pem=pulumi.Output.from_input(ca_pem),
            kubeconfig=kubeconfig,
            egress_cidrs=pulumi.Output.from_input(list(c.egress_cidrs)),
            platform=c.platform,
            load_balancer_annotations=dict(c.load_balancer_annotations),
            storage_class=c.storage_class,
        )
        self.register_outputs({"apiEndpoint": c.api_endpoint})
