"""Facts about each cloud that a stack config is checked against, read from data files.

One YAML file per cloud (components/config/data/<cloud>.yaml) holds its
regions and their zones, its managed Kubernetes support calendar and the
shape of its machine type names, each list with the date it was checked
(`as_of`) and where it comes from (`source`). README, "Refreshing cloud
facts", says how to refresh them.

`support_verdict(cloud, version, today)` is the one function that says
where a Kubernetes version stands on a given day; the config rules and the
guardrail policies both call it, so they cannot disagree. Pure: no pulumi,
no network, no clock (the caller passes `today`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from components.yamlio import SAFE_LOADER

DATA_DIR = Path(__file__).resolve().parent / "data"
MANAGED_CLOUDS = ("aws", "azure", "gcp")

Status = Literal["standard", "extended", "end-of-life", "not-yet-available", "unknown"]


@dataclass(frozen=True)
class Window:
    """One minor version's support window on one managed service (end dates: first day without)."""

    minor: str
    available: date
    standard_end: date
    extended_end: date | None


@dataclass(frozen=True)
class SupportVerdict:
    """Where a Kubernetes version stands on `today` on a managed service."""

    cloud: str
    version: str
    #: `major.minor` of `version` ("" when the version has no major.minor).
    minor: str
    status: Status
    #: The minor's window, None when the calendar does not list it.
    window: Window | None
    #: What the service's extended support is, and whether every meshfleet cluster can use it
    #: (EKS: yes; AKS LTS: no, Premium tier; GKE: only clusters on the Extended channel).
    extended: str
    extended_usable: bool
    as_of: date
    source: str

    @property
    def supported(self) -> bool:
        """In standard support, or in extended support that meshfleet clusters can use."""
        return self.status == "standard" or (self.status == "extended" and self.extended_usable)


@dataclass(frozen=True)
class CloudFacts:
    cloud: str
    label: str
    zones: dict[str, tuple[str, ...]]
    regions_as_of: date
    regions_source: str
    windows: dict[str, Window]
    extended: str
    extended_usable: bool
    kubernetes_as_of: date
    kubernetes_source: str
    machine_shape: re.Pattern[str]
    machine_description: str
    machine_example: str
    #: Node boot disk type per machine series (GKE only; empty elsewhere).
    boot_disks: dict[str, str]

    def boot_disk(self, machine_type: str) -> str | None:
        """The boot disk type a machine type's series takes; None if the facts do not know the series."""
        return self.boot_disks.get(machine_series(machine_type))

    def zone_names(self, region: str) -> tuple[str, ...]:
        """Full zone names of a region ("us-east-1a", "europe-west1-b", "1")."""
        suffixes = self.zones.get(region, ())
        if self.cloud == "aws":
            return tuple(region + s for s in suffixes)
        if self.cloud == "gcp":
            return tuple(f"{region}-{s}" for s in suffixes)
        return suffixes


@cache
def facts(cloud: str) -> CloudFacts:
    """The facts of one managed cloud (aws, azure, gcp), read once from its data file."""
    doc: dict[str, Any] = yaml.load((DATA_DIR / f"{cloud}.yaml").read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    regions, kube, machines = doc["regions"], doc["kubernetes"], doc["machine_types"]
    return CloudFacts(
        cloud=cloud,
        label=doc["label"],
        zones={r: tuple(str(z) for z in zs) for r, zs in regions["zones"].items()},
        regions_as_of=regions["as_of"],
        regions_source=regions["source"],
        windows={
            minor: Window(minor, w["available"], w["standard_end"], w.get("extended_end"))
            for minor, w in kube["versions"].items()
        },
        extended=kube["extended"],
        extended_usable=bool(kube["extended_usable"]),
        kubernetes_as_of=kube["as_of"],
        kubernetes_source=kube["source"],
        machine_shape=re.compile(machines["shape"]),
        machine_description=machines["description"],
        machine_example=machines["example"],
        boot_disks={
            series: disk
            for disk, series_list in doc.get("boot_disks", {}).items()
            if disk not in ("as_of", "source")
            for series in series_list
        },
    )


def machine_series(machine_type: str) -> str:
    """A Compute Engine machine type's series: its part before the first dash (`n4-standard-4` -> `n4`)."""
    return machine_type.partition("-")[0]


def minor_of(version: str) -> str:
    """`major.minor` of a Kubernetes version (1.33, 1.33.2, 1.33.4-gke.1200); "" if it has none."""
    found = re.match(r"(\d+)\.(\d+)(?![\d])", version)
    return f"{int(found[1])}.{int(found[2])}" if found else ""


def _key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def support_verdict(cloud: str, version: str, today: date) -> SupportVerdict:
    """Where `version` stands on `today` on cloud's managed Kubernetes (aws: EKS, azure: AKS, gcp: GKE).

    `standard`: in standard support; `extended`: past it but inside the service's
    extended support (EKS extended support, AKS LTS, the GKE Extended channel;
    `SupportVerdict.extended` says whether meshfleet clusters can use it);
    `end-of-life`: past every support; `not-yet-available`: listed but not yet
    released; `unknown`: newer than the calendar knows (refresh the data file).
    """
    f = facts(cloud)
    minor = minor_of(version)
    window = f.windows.get(minor)
    status: Status
    if window is None:
        known = sorted(f.windows, key=_key)
        status = "end-of-life" if minor and known and _key(minor) < _key(known[0]) else "unknown"
    elif today < window.available:
        status = "not-yet-available"
    elif today < window.standard_end:
        status = "standard"
    elif window.extended_end is not None and today < window.extended_end:
        status = "extended"
    else:
        status = "end-of-life"
    return SupportVerdict(
        cloud, version, minor, status, window, f.extended, f.extended_usable, f.kubernetes_as_of, f.kubernetes_source
    )


def supported_minors(cloud: str, today: date, *, extended: bool = False) -> list[str]:
    """The minors a new cluster can use on `today` (standard support; with `extended`, extended too)."""
    out = []
    for minor in sorted(facts(cloud).windows, key=_key):
        verdict = support_verdict(cloud, minor, today)
        if verdict.status == "standard" or (extended and verdict.status == "extended"):
            out.append(minor)
    return out


def cloud_of_region(region: str) -> str | None:
    """The managed cloud whose region list holds `region`, if any."""
    return next((c for c in MANAGED_CLOUDS if region in facts(c).zones), None)


def cloud_of_machine_type(machine_type: str) -> str | None:
    """The managed cloud whose machine type naming `machine_type` follows, if exactly one."""
    matches = [c for c in MANAGED_CLOUDS if facts(c).machine_shape.fullmatch(machine_type)]
    return matches[0] if len(matches) == 1 else None
