"""meshfleet: load the validated stack config and build the fleet. Nothing else."""

import pulumi

from components.config.runtime import load_from_runtime
from components.fleet import Fleet

spec = load_from_runtime()
fleet = Fleet(spec.fleet.name, spec)

for name, cluster in sorted(fleet.clusters.items()):
    pulumi.export(
        name,
        {
            "cloud": cluster.cloud,
            "region": cluster.region,
            "apiEndpoint": cluster.api_endpoint,
            "meshNetwork": cluster.names.mesh_network,
            "egressCidrs": cluster.egress_cidrs,
        },
    )
    if cluster.kubeconfig is not None:
        pulumi.export(f"{name}-kubeconfig", pulumi.Output.secret(cluster.kubeconfig))

# The roots every workload trusts (public certificates): what a client
# outside the mesh needs to verify it.
pulumi.export("trustBundle", fleet.trust.bundle_pem)
