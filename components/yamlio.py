"""libyaml's safe loader and dumper where PyYAML was built with it (the pure-Python ones otherwise).

A leaf module (it imports only yaml), so the config package reads its data
files with the same loader the cluster components use, without depending
on them.
"""

from __future__ import annotations

import yaml

#: About 12x faster than the pure-Python dumper, and a fleet writes one
#: kubeconfig per ordered pair of clusters (2,450 at 50 clusters). The same
#: text for a kubeconfig's values (names, URLs, base64, tokens); the two fold
#: long double-quoted scalars (non-ASCII, quotes) differently, so Helm values
#: built from user text keep yaml.safe_dump (switching would change deployed
#: values' text).
SAFE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
#: The loader likewise: the kubeconfigs a cloud returns (one per AKS cluster) and
#: the cloud facts (the pure-Python loader took 25 ms per file, a tenth of a
#: small fleet's plan).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
