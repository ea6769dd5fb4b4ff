"""Lets Debian's azure-cli 2.45 load its network commands.

Debian packages az 2.45 with a newer azure-mgmt-network that no longer
ships the 2022-01-01 models, which az's "latest" profile names. Every
`az network ...` command then fails while loading its arguments
('NoneType' object has no attribute 'standard_medium'), before it sends
anything. The commands themselves (vnet, subnet, private-endpoint) are
AAZ commands that carry their own api-version (2022-01-01) and do not use
these models to build requests; only the argument loader reads enums from
them. This module makes `azure.mgmt.network.v2022_01_01` an alias of the
nearest packaged version, so the loader finds its enums and the requests
az sends are unchanged.

Python imports one sitecustomize only, so this one then runs the next
sitecustomize on the path (the network audit hook) in its place.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

_MISSING = "azure.mgmt.network.v2022_01_01"
_PACKAGED = "azure.mgmt.network.v2022_07_01"


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: asked only when no installed module matches."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == _MISSING or fullname.startswith(_MISSING + "."):
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return importlib.import_module(_PACKAGED + spec.name[len(_MISSING):])

    def exec_module(self, module):
        pass


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    for d in sys.path:
        if not d or os.path.abspath(d) == here:
            continue
        p = os.path.join(d, "sitecustomize.py")
        if os.path.isfile(p):
            spec = importlib.util.spec_from_file_location("_acremu_next_sitecustomize", p)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
            return


_chain()
sys.meta_path.append(_Alias())
