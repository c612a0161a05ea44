# -*- test-case-name: tests.test_plugins -*-
"""
Tests for txinetd's Twisted plugin files (C{src/twisted/plugins}): what
they make available, and what a plugin scan loads of txinetd.

Every program that scans Twisted's plugins (twistd, trial, any
C{getPlugins} caller) imports every plugin module: the built-ins' module
must load the built-ins alone, not the configuration machinery.
"""

from __future__ import annotations

import json
import subprocess
import sys

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase

import twisted.plugins
from txinetd.interfaces import IInternalService

#: What loading a module of C{twisted.plugins} makes the process import of
#: txinetd, as JSON.
LOADED = (
    "import importlib, json, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'txinetd')))\n"
)


def loadedBy(module: str) -> set[str]:
    """
    The txinetd modules that importing C{module} loads, in a fresh
    interpreter.
    """
    output = subprocess.run(
        [sys.executable, "-c", LOADED, module], check=True, capture_output=True, text=True
    ).stdout
    loaded: list[str] = json.loads(output)
    return set(loaded)


class PluginScanTests(SynchronousTestCase):
    """
    A plugin scan loads little of txinetd.
    """

    def test_builtins(self) -> None:
        """
        The built-ins' plugin module loads the built-ins, the plugin
        interface and the server table they show, and nothing of the
        configuration, access rules, attributes or the rest of the daemon.
        """
        self.assertEqual(
            loadedBy("twisted.plugins.txinetd_internal"),
            {
                "txinetd",
                "txinetd.interfaces",
                "txinetd.builtins",
                "txinetd.builtins.simple",
                "txinetd.builtins.introspect",
                "txinetd.core",
                "txinetd.core.addresses",
                "txinetd.core.servertable",
            },
        )

    def test_serviceMaker(self) -> None:
        """
        The C{xinetd} plugin's module names txinetd.tap without loading
        anything of txinetd.
        """
        self.assertEqual(loadedBy("twisted.plugins.txinetd_plugin"), set())

    def test_plugins(self) -> None:
        """
        The scan finds the C{xinetd} service maker and the built-ins.
        """
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker, twisted.plugins)}
        self.assertEqual(getattr(makers["xinetd"], "module", None), "txinetd.tap")
        names = {(service.name, service.socketType) for service in getPlugins(IInternalService)}
        self.assertTrue(
            {
                (name, socketType)
                for name in ("echo", "discard", "chargen", "daytime", "time")
                for socketType in ("stream", "dgram")
            }
            | {("servers", "stream"), ("services", "stream"), ("xadmin", "stream")}
            <= names,
            names,
        )
