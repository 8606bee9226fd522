"""The mesh-neutral policy model: rules, and the cluster a set is compiled for.

Pure pydantic, importing nothing of components.config (the config's
`PolicySpec` *is* `PolicyRule`, so config validation checks every rule
before any resource exists, with field paths). Keys are camelCase, unknown
keys are refused, like the rest of the stack config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components.naming import is_dns_label

#: Separates a validator's message from its fix (components.config.errors splits on it).
FIX = " || fix: "


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a DNS label{FIX}use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


Label = Annotated[str, AfterValidator(_dns_label)]


class PolicyModel(BaseModel):
    """Base of every policy model: frozen, strict, unknown keys rejected (as the config's Model)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True)


class MtlsRule(PolicyModel):
    """Mutual TLS between workloads: strict (the default) or, for onboarding namespaces, permissive."""

    kind: Literal["mtls"] = Field(description="Policy kind.")
    mode: Literal["strict", "permissive"] = Field(
        default="strict", description="`strict`: plaintext is refused. `permissive`: plaintext accepted too."
    )
    namespaces: list[Label] = Field(
        default_factory=list, description="Namespaces it applies to; empty means mesh-wide (strict only)."
    )
    reason: str | None = Field(default=None, description="Why a namespace is permissive (required with it).")

    @model_validator(mode="after")
    def _permissive_is_explained(self) -> MtlsRule:
        if self.mode == "permissive" and not (self.reason and self.reason.strip()):
            raise ValueError(
                f"mode permissive needs a reason{FIX}add `reason:` (e.g. the onboarding ticket), or use mode strict"
            )
        if self.mode == "permissive" and not self.namespaces:
            raise ValueError(
                "a mesh-wide permissive rule would accept plaintext everywhere"
                f"{FIX}list the namespaces being onboarded in `namespaces:`"
            )
        return self


Duration = Annotated[str, Field(pattern=r"^[1-9][0-9]*(ms|s|m|h)$", description="A duration: 250ms, 5s, 1m.")]
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(duration: str) -> float:
    """A Duration (`250ms`, `5s`, `1m`, `2h`) in seconds."""
    unit = "ms" if duration.endswith("ms") else duration[-1]
    return int(duration[: -len(unit)]) * _UNIT_SECONDS[unit]


Port = Annotated[int, Field(ge=1, le=65535)]
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: An exact path (`/healthz`) or a prefix of whole segments ending in `/*` (`/api/*`, `/*`):
#: Istio and Consul match a prefix as a string (`/api*` would match `/apix`), Linkerd's
#: PathPrefix by segments; a prefix that ends a segment means the same on all three.
Path = Annotated[
    str,
    Field(pattern=r"^/\*?$|^/[A-Za-z0-9._~!$&'()+,;=:@%-][A-Za-z0-9._~!$&'()+,;=:@%/-]*?(?:/\*)?$"),
]


class Identity(PolicyModel):
    """A workload identity: a Kubernetes service account in a namespace, in any cluster of the fleet."""

    namespace: Label = Field(description="Namespace of the calling workload.")
    service_account: Label = Field(description="Service account of the calling workload.")


class ServiceRef(PolicyModel):
    """A Kubernetes Service; its pods carry the label `app: <name>` (README, 'What app teams set')."""

    namespace: Label = Field(description="Namespace of the Service.")
    name: Label = Field(description="Name of the Service (and the `app` label of its pods).")

    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


class DefaultDenyRule(PolicyModel):
    """Nothing reaches a workload in these namespaces unless an authorization rule allows it."""

    kind: Literal["default-deny"] = Field(description="Policy kind.")
    namespaces: list[Label] = Field(min_length=1, description="Namespaces that deny by default.")


class Allow(PolicyModel):
    """Who may call, on which ports, methods and paths (empty: any)."""

    from_: list[Identity] = Field(alias="from", min_length=1, description="Calling workload identities.")
    ports: list[Port] = Field(
        default_factory=list,
        description="Ports on the workload (container ports, which Istio and Linkerd match; not Service ports); "
        "empty means every port.",
    )
    methods: list[Method] = Field(default_factory=list, description="HTTP methods (L7); empty means any.")
    paths: list[Path] = Field(
        default_factory=list,
        description="HTTP paths (L7), exact (`/charge`) or a segment prefix (`/cart/*`); empty: any.",
    )

    @property
    def l7(self) -> bool:
        return bool(self.methods or self.paths)


class AuthorizationRule(PolicyModel):
    """Allow rules to one service; with default-deny on its namespace, everything else is refused."""

    kind: Literal["authorization"] = Field(description="Policy kind.")
    service: ServiceRef
    allow: list[Allow] = Field(min_length=1, description="Allowed callers; a request matching any entry is allowed.")
    remote_callers: Literal["identity", "gateway"] = Field(
        default="identity",
        description="How callers in other clusters are recognized. `identity`: by their own identity (Istio, "
        "Consul, Linkerd pod-to-pod). `gateway`: Linkerd gateway mode, where remote callers carry the multicluster "
        "gateway's identity: authorizes that identity too, i.e. every remote caller through the gateway.",
    )


RetryOn = Literal["5xx", "gateway-error"]


class Retries(PolicyModel):
    attempts: int = Field(ge=1, le=10, description="Retries after the first attempt.")
    per_try_timeout: Duration | None = Field(default=None, description="Timeout of each attempt.")
    retry_on: list[RetryOn] = Field(
        default_factory=lambda: list[RetryOn](["5xx"]),
        min_length=1,
        description="Response conditions that are retried.",
    )


class CircuitBreaker(PolicyModel):
    """Outlier detection (eject an endpoint after consecutive errors) and connection limits."""

    consecutive_errors: int | None = Field(
        default=None, ge=1, description="Consecutive 5xx errors that eject an endpoint (outlier detection)."
    )
    interval: Duration = Field(default="10s", description="How often endpoints are evaluated.")
    base_ejection_time: Duration = Field(default="30s", description="Minimum time an endpoint stays ejected.")
    max_connections: int | None = Field(default=None, ge=1, description="Connection limit per caller proxy.")
    max_pending_requests: int | None = Field(default=None, ge=1, description="Queued request limit per caller.")

    @model_validator(mode="after")
    def _something(self) -> CircuitBreaker:
        if self.consecutive_errors is None and self.max_connections is None and self.max_pending_requests is None:
            raise ValueError(
                f"sets no limit{FIX}set consecutiveErrors, maxConnections or maxPendingRequests, or remove it"
            )
        return self


class TrafficRule(PolicyModel):
    """Timeouts, retries, circuit breaking and cross-cluster locality failover for calls to one service."""

    kind: Literal["traffic"] = Field(description="Policy kind.")
    service: ServiceRef
    timeout: Duration | None = Field(default=None, description="Whole-request timeout.")
    retries: Retries | None = None
    circuit_breaker: CircuitBreaker | None = None
    locality_failover: bool = Field(
        default=False,
        description="Prefer endpoints in the caller's own locality and fail over to other clusters when they "
        "are ejected (needs circuitBreaker.consecutiveErrors: without outlier detection nothing ever fails over).",
    )
    callers: list[Identity] = Field(
        default_factory=list,
        description="Consul only: the callers whose upstream settings carry the circuit breaker.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrafficRule:
        if not (self.timeout or self.retries or self.circuit_breaker or self.locality_failover):
            raise ValueError(f"sets nothing{FIX}set timeout, retries, circuitBreaker or localityFailover")
        if self.locality_failover and (self.circuit_breaker is None or self.circuit_breaker.consecutive_errors is None):
            raise ValueError(
                "localityFailover needs outlier detection: without it an unhealthy endpoint is never ejected, so "
                f"traffic never fails over{FIX}set circuitBreaker.consecutiveErrors (e.g. 5)"
            )
        return self


class VisibilityRule(PolicyModel):
    """Whether a service is reachable from the other clusters (global / exported) or kept local."""

    kind: Literal["visibility"] = Field(description="Policy kind.")
    service: ServiceRef
    scope: Literal["global", "local"] = Field(
        description="`global`: callers in every cluster reach it (exported); `local`: only its own cluster's."
    )


#: A shared policy rule, by `kind`.
PolicyRule = Annotated[
    MtlsRule | DefaultDenyRule | AuthorizationRule | TrafficRule | VisibilityRule, Field(discriminator="kind")
]


class PolicySet(PolicyModel):
    """A shared, versioned policy set: `policies/mesh/<set>/v<version>.yaml`."""

    set: Label = Field(description="The set's name (its directory).")
    version: int = Field(ge=1, description="The set's version (its file name, v<version>.yaml).")
    description: str = Field(min_length=1, description="What the set is for.")
    rules: dict[Label, PolicyRule] = Field(min_length=1, description="The set's rules, keyed by name.")


#: Every rule kind (the error translation drops the union tag from paths).
RULE_KINDS: tuple[str, ...] = ("mtls", "default-deny", "authorization", "traffic", "visibility")


#: Compile targets: a mesh, and for Istio its data-plane mode.
TargetName = Literal["istio-sidecar", "istio-ambient", "linkerd", "consul"]
TARGETS: tuple[TargetName, ...] = ("istio-sidecar", "istio-ambient", "linkerd", "consul")


@dataclass(frozen=True)
class Target:
    """What a compiler knows of the cluster it compiles for."""

    #: istio-sidecar, istio-ambient, linkerd or consul.
    name: TargetName
    #: The cluster (its name in the stack config).
    cluster: str
    #: The other clusters of the fleet, in config order (Consul peers, failover targets).
    peers: tuple[str, ...]
    #: SPIFFE trust domain of the mesh (workload identities).
    trust_domain: str = "cluster.local"
    #: Linkerd only: remote callers arrive through the peer's multicluster gateway
    #: and carry the gateway's identity, not their own.
    linkerd_gateway: bool = True
    #: Linkerd only: how this cluster exports its services (`mesh.exportModes`);
    #: a global service carries the label its peers' Links select for them.
    linkerd_export_modes: tuple[str, ...] = ("gateway",)

    @property
    def mesh(self) -> str:
        return self.name.split("-")[0]
