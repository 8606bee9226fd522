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


#: A shared policy rule, by `kind`.
PolicyRule = Annotated[MtlsRule, Field(discriminator="kind")]

#: Every rule kind (the error translation drops the union tag from paths).
RULE_KINDS: tuple[str, ...] = ("mtls",)

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

    @property
    def mesh(self) -> str:
        return self.name.split("-")[0]
