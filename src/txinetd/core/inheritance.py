# -*- test-case-name: tests.core.test_inheritance -*-
"""
From parsed entries to validated, frozen configuration records.

L{buildConfig} takes the entries of a configuration file and everything it
includes (read by L{txinetd.daemon.conffiles}), applies the defaults
section with xinetd's inheritance rules, drops what C{disable}, C{disabled}
and C{enabled} say, has each service filled in and checked
(L{txinetd.core.checks}), and drops the duplicates.  Every problem is
recorded with its file and line; a bad service is dropped and the others
are kept.  What it needs to know of the machine it asks the injected
L{txinetd.core.attributes.SystemInfo}.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from txinetd.core.attributes import ATTRIBUTES, Arity, AttributeSpec, Where
from txinetd.core.checks import EntryState, ServiceBuilder, requiresOnlyFrom
from txinetd.core.config import Config, Defaults, Origins, ServiceConfig
from txinetd.core.diagnostics import (
    Diagnostics,
    Location,
    didYouMean,
)
from txinetd.core.grammar import AttributeLine, Entry, EntryKind, Operator
from txinetd.core.values import BadValue, SystemInfo

#: Attributes a service inherits from the defaults as they stand when the
#: service entry starts (section 2.7).
SNAPSHOT_ATTRIBUTES = ("only_from", "no_access", "banner", "banner_success", "banner_fail")
#: List attributes taken from the final defaults unless the service names them.
LATE_LIST_ATTRIBUTES = ("log_on_success", "log_on_failure", "passenv")
#: Single-valued attributes taken from the final defaults when not set.
LATE_ATTRIBUTES = (
    "instances",
    "per_source",
    "cps",
    "groups",
    "umask",
    "max_load",
    "bind",
    "v6only",
    "log_type",
)


class _Context:
    """
    A L{txinetd.core.attributes.ConvertContext} that records warnings at one
    line.
    """

    def __init__(self, system: SystemInfo, diagnostics: Diagnostics, location: Location) -> None:
        self.system = system
        self.diagnostics = diagnostics
        self.location = location

    def warn(self, message: str) -> None:
        self.diagnostics.warning(message, self.location)


def _entryId(entry: Entry) -> str:
    """
    The id an entry gives its service (its C{id} line, wherever it is in
    the entry, else its name), as the disabled services are listed.
    """
    for line in entry.lines:
        if line.name == "id" and line.values:
            return str(line.values[0])
    return entry.name


def _applyList(
    current: tuple[Any, ...] | None, op: Operator, items: Sequence[Any]
) -> tuple[Any, ...]:
    if op is Operator.SET:
        return tuple(items)
    base = current or ()
    if op is Operator.ADD:
        return tuple(dict.fromkeys(base + tuple(items)))
    removed = set(items)
    return tuple(item for item in base if item not in removed)


class _Loader:
    """
    Turns entries into a L{Config}.
    """

    def __init__(
        self,
        system: SystemInfo,
        diagnostics: Diagnostics,
        internalServices: Callable[[str, str], bool],
        euid: int,
        groups: frozenset[int],
        strict: bool = False,
        reloading: bool = False,
    ) -> None:
        self.system = system
        self.reloading = reloading
        self.diagnostics = diagnostics
        self.internalServices = internalServices
        self.euid = euid
        self.groups = groups
        self.strict = strict
        self.defaults = EntryState("defaults", Location("", 0), {})
        self.defaultsFiles: set[str] = set()
        self.services: list[EntryState] = []
        self.bannerProblems: dict[str, str | None] = {}
        #: The ids of the services that are disabled, in file order.
        self.disabled: list[str] = []

    def bannerProblem(self, path: str) -> str | None:
        """
        Why C{path} cannot be a banner (see L{SystemInfo.bannerProblem}),
        looked at once per load.
        """
        if path not in self.bannerProblems:
            self.bannerProblems[path] = self.system.bannerProblem(path)
        return self.bannerProblems[path]

    def load(self, entries: Sequence[Entry]) -> tuple[Defaults, list[ServiceConfig]]:
        for entry in entries:
            if entry.kind is EntryKind.DEFAULTS:
                self.readDefaults(entry)
            else:
                self.readService(entry)
        defaults = self.finalDefaults()
        configs = []
        for state in self.selectServices(defaults):
            config = self.finish(state, defaults)
            if config is not None:
                configs.append(config)
        return defaults, self.unique(configs)

    # --- reading -----------------------------------------------------------

    def readDefaults(self, entry: Entry) -> None:
        if entry.location.path in self.defaultsFiles:
            self.diagnostics.error(
                "only 1 defaults entry is allowed. This entry will be ignored", entry.location
            )
            return
        self.defaultsFiles.add(entry.location.path)
        for line in entry.lines:
            spec = ATTRIBUTES.get(line.name)
            if spec is None:
                accepted = self.unknownAttribute(
                    f"attribute: {line.name} should not be in default section", line, Where.DEFAULTS
                )
            elif Where.DEFAULTS not in spec.where:
                self.diagnostics.warning(
                    f"attribute: {line.name} should not be in default section", line.location
                )
                continue
            else:
                accepted = self.applyDefault(spec, line)
            if not accepted:
                # At a reconfiguration the daemon goes on with the running
                # configuration, and says so in the next line.
                outcome = (
                    "The reconfiguration is refused." if self.reloading else "txinetd will exit."
                )
                self.diagnostics.fatal(
                    "A fatal error was encountered while parsing the default section. " + outcome,
                    line.location,
                )

    def unknownAttribute(self, message: str, line: AttributeLine, where: Where) -> bool:
        """
        Report an attribute name that is not one of C{where}'s, with the
        closest one that is: an error, since a misspelt C{only_from} opens
        a service to everyone.  The line is ignored, as in xinetd, unless
        the load is strict.

        @return: whether the entry may still be used.
        """
        known = [name for name, spec in ATTRIBUTES.items() if where in spec.where]
        self.diagnostics.error(message + didYouMean(line.name, known), line.location)
        return not self.strict

    def applyDefault(self, spec: AttributeSpec, line: AttributeLine) -> bool:
        """
        Apply one line of a defaults section: list attributes take C{=} as
        C{+=}, and C{log_type} may be given once in all the defaults
        sections together, with any operator.

        @return: False if the value was rejected.
        """
        if spec.name == "log_type":
            if "log_type" in self.defaults.specified:
                self.diagnostics.error("Cannot set more than one log_type attribute", line.location)
                return False
            return self.apply(self.defaults, spec, line, Operator.SET)
        op = Operator.ADD if spec.arity is Arity.LIST and line.op is Operator.SET else line.op
        return self.apply(self.defaults, spec, line, op)

    def readService(self, entry: Entry) -> None:
        snapshot = {
            name: self.defaults.values[name]
            for name in SNAPSHOT_ATTRIBUTES + LATE_LIST_ATTRIBUTES
            if name in self.defaults.values
        }
        state = EntryState(entry.name, entry.location, snapshot, entry.lines)
        for name in snapshot:
            self.inheritOrigin(state, name)
        for line in entry.lines:
            spec = ATTRIBUTES.get(line.name)
            if spec is None or Where.SERVICE not in spec.where:
                accepted = self.unknownAttribute(
                    f"bad service attribute: {line.name}", line, Where.SERVICE
                )
            else:
                accepted = self.apply(state, spec, line, line.op)
            if not accepted:
                self.diagnostics.error(
                    f"Error parsing attribute {line.name} - DISABLING SERVICE", line.location
                )
                state.broken = True
            elif line.name == "disable" and state.values.get("disable"):
                self.disabled.append(_entryId(entry))
                return
        self.services.append(state)

    def inheritOrigin(self, state: EntryState, name: str) -> None:
        """
        Where an attribute a service takes from the defaults is written.
        """
        defaults = self.defaults
        if name in defaults.origins:
            state.origins[name] = defaults.origins[name]
        if name in defaults.itemOrigins:
            state.itemOrigins[name] = defaults.itemOrigins[name]

    def apply(
        self, state: EntryState, spec: AttributeSpec, line: AttributeLine, op: Operator
    ) -> bool:
        """
        Apply one line to an entry.

        @return: False if the value was rejected.
        """
        name = spec.name
        if spec.arity is not Arity.LIST:
            if name in state.specified:
                self.diagnostics.warning(
                    f"Service {state.name}: attribute already set: {line.name}", line.location
                )
                return True
            if op is not Operator.SET:
                self.diagnostics.warning(
                    f"Service {state.name}: operator '{op.value}' cannot be used for "
                    f"attribute '{line.name}'",
                    line.location,
                )
                return True
        elif op is Operator.REMOVE and not spec.removable:
            self.diagnostics.error(
                f"operator '-=' not supported for {line.name} attribute", line.location
            )
            return False
        if spec.arity is Arity.FIXED and len(line.values) != spec.count:
            self.diagnostics.warning(
                f"attribute {line.name} expects {spec.count} values and {len(line.values)} values "
                "were specified",
                line.location,
            )
            return True
        try:
            value = spec.convert(
                line.values, _Context(self.system, self.diagnostics, line.location)
            )
        except BadValue as e:
            for message in e.messages:
                self.diagnostics.error(message, line.location)
            return False
        if spec.arity is Arity.LIST:
            self.noteItems(state, name, op, value, line.location)
            value = _applyList(state.values.get(name), op, value)
        state.values[name] = value
        state.specified.add(name)
        state.origins[name] = line.location
        return True

    @staticmethod
    def noteItems(
        state: EntryState, name: str, op: Operator, items: Sequence[Any], location: Location
    ) -> None:
        """
        Note the line that adds items to a list attribute (the first line
        that added an item, as the list keeps its first place).
        """
        if op is Operator.REMOVE:
            return
        origins = {} if op is Operator.SET else dict(state.itemOrigins.get(name, {}))
        for item in items:
            origins.setdefault(item, location)
        state.itemOrigins[name] = origins

    # --- combining -------------------------------------------------------------

    def finalDefaults(self) -> Defaults:
        values = self.defaults.values
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name in ("log_on_success", "log_on_failure"):
                value = frozenset(value)
            kwargs[name] = value
        return Defaults(**kwargs)

    def selectServices(self, defaults: Defaults) -> list[EntryState]:
        """
        The services that parsed and that C{enabled} and C{disabled} (which
        name ids, in any case) let through.
        """
        enabled = None if defaults.enabled is None else {i.lower() for i in defaults.enabled}
        disabled = {i.lower() for i in defaults.disabled}
        selected = []
        for state in self.services:
            serviceId = state.values.get("id", state.name).lower()
            if state.broken:
                continue
            if serviceId not in disabled and (enabled is None or serviceId in enabled):
                selected.append(state)
            else:
                self.disabled.append(state.values.get("id", state.name))
        return selected

    def inherit(self, state: EntryState, defaults: Defaults) -> dict[str, Any]:
        values = dict(state.values)
        for name in LATE_LIST_ATTRIBUTES + LATE_ATTRIBUTES:
            if name not in state.specified:
                values.pop(name, None)
                default = getattr(defaults, name)
                if default is not None:
                    values[name] = default
        for name in ("type", "flags", "log_on_success", "log_on_failure"):
            values[name] = frozenset(values.get(name, ()))
        return values

    # --- fill and check (section 2.9) ---------------------------------------------

    def finish(self, state: EntryState, defaults: Defaults) -> ServiceConfig | None:
        values = self.inherit(state, defaults)
        problems: list[str] = []
        warnings: list[str] = []
        built = ServiceBuilder(
            state,
            values,
            self.system,
            self.internalServices,
            self.euid,
            self.groups,
            self.bannerProblem,
        )
        built.fill(problems, warnings)
        if not problems:
            built.check(problems, warnings)
        for message in warnings:
            self.diagnostics.warning(message, state.location)
        for message in problems:
            self.diagnostics.error(message, state.location)
        if problems:
            return None
        config = built.record(self.originsOf(state))
        problem = requiresOnlyFrom(config)
        if problem is not None:
            self.diagnostics.error(problem, state.location)
            return None
        return config

    def originsOf(self, state: EntryState) -> Origins:
        """
        Where a service's settings are written: its own lines, and the
        defaults' for what it takes from the final defaults.
        """
        for name in LATE_LIST_ATTRIBUTES + LATE_ATTRIBUTES:
            if name not in state.specified:
                state.origins.pop(name, None)
                state.itemOrigins.pop(name, None)
                self.inheritOrigin(state, name)
        return Origins(state.origins, state.itemOrigins)

    def unique(self, configs: list[ServiceConfig]) -> list[ServiceConfig]:
        seen: dict[tuple[Any, ...], ServiceConfig] = {}
        kept = []
        for config in configs:
            if not config.listens or config.port is None or config.port == 0:
                kept.append(config)
                continue
            key = (config.port, config.protocol, config.family, config.bindAddress)
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = config
                kept.append(config)
            elif earlier.id.lower() == config.id.lower():
                self.diagnostics.error(
                    f"service: {config.name} id: {config.id} not unique or is a duplicate "
                    "- DISABLING",
                    config.location,
                )
            else:
                self.diagnostics.error(
                    f"service: {config.name} id: {config.id} is unique but its identical to "
                    f"service: {earlier.name} id: {earlier.id} - DISABLING",
                    config.location,
                )
        return kept


def buildConfig(
    path: str,
    entries: Sequence[Entry],
    diagnostics: Diagnostics,
    system: SystemInfo,
    internalServices: Callable[[str, str], bool],
    euid: int,
    groups: Collection[int] = (),
    strict: bool = False,
    internals: Any = None,
    reloading: bool = False,
) -> Config:
    """
    Combine and validate the entries of a configuration.

    @param path: the main configuration file.
    @param entries: its entries, includes expanded (see
        L{txinetd.daemon.conffiles}).
    @param diagnostics: where the problems met reading them are, and where
        every other problem goes.
    @param system: the look-ups.
    @param internalServices: tells whether an internal service of a name and
        socket type exists.
    @param euid: the daemon's effective uid.
    @param groups: the daemon's effective and supplementary gids (a daemon
        that is not root can only run servers with one of them).
    @param strict: whether an unknown attribute disables its service (is
        fatal in a defaults section) instead of being ignored.
    @param internals: the installed internal services the configuration was
        checked against (see L{Config.internals}).
    @param reloading: whether the configuration is read for a
        reconfiguration (which a fatal error refuses) rather than a start
        (which it stops).
    @return: the L{Config}; check L{Config.isFatal}.
    """
    loader = _Loader(
        system, diagnostics, internalServices, euid, frozenset(groups), strict, reloading
    )
    defaults, services = loader.load(entries)
    return Config(
        path,
        defaults,
        tuple(services),
        diagnostics.inFileOrder(),
        internals,
        tuple(loader.disabled),
    )
